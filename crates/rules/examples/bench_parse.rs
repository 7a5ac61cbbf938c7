//! Times `parse_restore` on a generated restore file of N rules (default 100 000)
//! spread over 100 user chains jumped to from INPUT, with the usual mix of matches.
//! Prints the best of a few runs; issue 4 budgets 0.2 s for parsing and compiling
//! 100k rules.
//!
//!     cargo run --release -p palisade-rules --example bench_parse -- [N] [--write FILE]

use palisade_model::Family;
use palisade_rules::parse_restore;
use std::fmt::Write;
use std::time::{Duration, Instant};

fn generate(n: usize) -> String {
    let mut s = String::with_capacity(n * 120);
    s.push_str("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    let chains = 100;
    for c in 0..chains {
        let _ = writeln!(s, ":chain-{c} - [0:0]");
    }
    s.push_str(
        "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -i lo -j ACCEPT\n",
    );
    for c in 0..chains {
        let _ = writeln!(s, "-A INPUT -s 10.{c}.0.0/16 -j chain-{c}");
    }
    for i in 0..n.saturating_sub(chains + 2) {
        let c = i % chains;
        let (a, b) = ((i / 256) % 256, i % 256);
        let _ = match i % 6 {
            0 => writeln!(s, "-A chain-{c} -s 10.{c}.{a}.{b}/32 -p tcp -m tcp --dport {} -j ACCEPT", 1 + i % 65000),
            1 => writeln!(s, "-A chain-{c} -s 10.{c}.{a}.0/24 -d 192.168.{b}.1/32 -i eth0 -p udp -m udp --sport 1024:65535 --dport 53 -m comment --comment \"dns {i}\" -j ACCEPT"),
            2 => writeln!(s, "-A chain-{c} -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m conntrack --ctstate NEW -m limit --limit 10/sec --limit-burst 20 -j LOG --log-prefix \"syn {i}: \""),
            3 => writeln!(s, "-A chain-{c} -p tcp -m multiport --dports 80,443,{} -m state --state NEW -j ACCEPT", 1000 + i % 60000),
            4 => writeln!(s, "-A chain-{c} -s 10.{c}.{a}.{b}/32 -p icmp -m icmp --icmp-type 8 -j REJECT --reject-with icmp-host-prohibited"),
            _ => writeln!(s, "-A chain-{c} -m mark --mark 0x{i:x}/0xffff -j RETURN"),
        };
    }
    s.push_str("COMMIT\n");
    s
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let src = generate(n);
    if let Some(i) = args.iter().position(|a| a == "--write") {
        if let Some(f) = args.get(i + 1) {
            if let Err(e) = std::fs::write(f, &src) {
                eprintln!("{f}: {e}");
            }
        }
    }
    let mut best = Duration::MAX;
    let mut best_cpu = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let c = cpu_time();
        let r = parse_restore(&src, "bench.rules", Family::V4);
        best = best.min(t.elapsed());
        if let (Some(a), Some(b)) = (c, cpu_time()) {
            best_cpu = best_cpu.min(b.saturating_sub(a));
        }
        if let Err(d) = r {
            eprintln!("refused: {}", d[0]);
            std::process::exit(1);
        }
    }
    println!(
        "parse_restore: {n} rules ({} bytes): best of 5 {best:?} wall, {best_cpu:?} on CPU",
        src.len()
    );
}

/// This thread's CPU time (Linux), so a loaded machine does not skew the figure.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

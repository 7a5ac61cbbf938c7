//! Kernel oracle for the rate-limiting matches: the same UDP bursts go
//! through the kernel's xt_hashlimit (in a throw-away namespace pair) and
//! through the engine, fed the packets tcpdump captured with the capture's
//! own timestamps; the per-rule packet counters must agree.
//!
//! The kernel's jiffy counter has an unknown phase relative to the capture
//! clock, so the engine is run at the four millisecond phases of a 4 ms
//! jiffy (HZ=250); the kernel's count must be one of the engine's. The
//! kernel stamps a packet when it is queued and rates it a little later, a
//! lag that grows under load, so the rates are chosen to leave the burst's
//! ~0.5 s at least 60 ms away from the next credit. Root-only (prints SKIP
//! otherwise); about three seconds.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use palisade_engine::{Engine, EngineConfig, Host, Interface, Outcome};
use palisade_model::{Family, Ruleset, TableId};
use palisade_testkit::{require_root_with, Netns};

const RULES: &str = "*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp -m udp --dport 9 -m hashlimit --hashlimit-upto 3/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name klp -j ACCEPT
-A INPUT -p udp -m udp --dport 9 -j DROP
-A INPUT -p udp -m udp --dport 10 -m hashlimit --hashlimit-upto 2500b/s --hashlimit-mode srcip --hashlimit-name klb -j ACCEPT
-A INPUT -p udp -m udp --dport 10 -j DROP
-A INPUT -p udp -m udp --dport 11 -m hashlimit --hashlimit-upto 30/sec --hashlimit-burst 3 --hashlimit-mode srcip,dstport --hashlimit-name klr --hashlimit-rate-match -j ACCEPT
-A INPUT -p udp -m udp --dport 11 -j DROP
-A INPUT -p udp -m udp --dport 12 -m hashlimit --hashlimit-above 7/sec --hashlimit-burst 2 --hashlimit-mode dstport --hashlimit-name kla -j DROP
COMMIT
";

/// 100 rounds, 5 ms apart: one 28-byte datagram to ports 9, 11 and 12 and a
/// 500-byte one to port 10 per round.
const SENDER: &str = r#"
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
big = b"x" * 472
t = time.perf_counter()
for i in range(100):
    s.sendto(b"", ("10.99.0.2", 9))
    s.sendto(big, ("10.99.0.2", 10))
    s.sendto(b"", ("10.99.0.2", 11))
    s.sendto(b"", ("10.99.0.2", 12))
    t += 0.005
    while time.perf_counter() < t:
        pass
"#;

const MARKER: &str = "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b\"\", (\"10.99.0.2\", 7))'";

/// Packet counters of the INPUT rules in `iptables-save -c` output.
fn kernel_counters(save: &str) -> Vec<u64> {
    save.lines()
        .filter(|l| l.contains("-A INPUT"))
        .filter_map(|l| {
            let inner = l.strip_prefix('[')?.split(']').next()?;
            inner.split(':').next()?.parse().ok()
        })
        .collect()
}

/// (timestamp ns, IP datagram) of each IPv4 frame in a nanosecond pcap.
fn read_pcap(bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    if bytes.len() < 24 || bytes[0..4] != [0x4d, 0x3c, 0xb2, 0xa1] {
        return out;
    }
    let u32le = |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let (sec, nsec, incl) = (u32le(off), u32le(off + 4), u32le(off + 8) as usize);
        let start = off + 16;
        let Some(frame) = bytes.get(start..start + incl) else {
            break;
        };
        off = start + incl;
        if frame.len() > 14 && frame[12..14] == [0x08, 0x00] {
            out.push((
                u64::from(sec) * 1_000_000_000 + u64::from(nsec),
                frame[14..].to_vec(),
            ));
        }
    }
    out
}

/// Captured datagrams other than the markers.
fn burst_len(pkts: &[(u64, Vec<u8>)]) -> usize {
    pkts.iter()
        .filter(|(_, d)| d.get(22..24) != Some(&[0, 7][..]))
        .count()
}

fn engine_counters(v4: &Ruleset, pkts: &[(u64, Vec<u8>)], shift_ns: u64) -> Vec<u64> {
    let host = Host {
        interfaces: vec![Interface::up(
            "vb",
            2,
            &[("10.99.0.2".parse().unwrap(), 24)],
        )],
        routes: vec![],
        forwarding_v4: false,
        forwarding_v6: false,
    };
    let mut e =
        Engine::new(v4, Ruleset::new(Family::V6), host, EngineConfig::default()).expect("compiles");
    let mut out = Outcome::new();
    for (t, d) in pkts {
        e.receive(t + shift_ns, "vb", d, &mut out);
    }
    let (s4, _) = e.save_counters();
    s4.table(TableId::Filter)
        .and_then(|t| t.chain("INPUT"))
        .map(|c| c.rules.iter().map(|r| r.counters.packets).collect())
        .unwrap_or_default()
}

#[test]
fn hashlimit_counters_match_the_kernel() {
    require_root_with!(
        "ip",
        "iptables-restore",
        "iptables-save",
        "tcpdump",
        "python3"
    );
    let (Ok(a), Ok(b)) = (Netns::new("kla"), Netns::new("klb")) else {
        println!("SKIP: cannot create network namespaces");
        return;
    };
    let setup = format!(
        "ip link add va type veth peer name vb netns {b} && ip addr add 10.99.0.1/24 dev va && ip link set va up",
        b = b.name()
    );
    if let Err(e) = a.sh(&setup) {
        println!("SKIP: veth setup failed: {e}");
        return;
    }
    b.sh("ip addr add 10.99.0.2/24 dev vb && ip link set vb up")
        .expect("addr");
    let load = b.sh_output("iptables-restore", Some(RULES)).expect("runs");
    if !load.status.success() {
        println!(
            "SKIP: the kernel refused the ruleset: {}",
            String::from_utf8_lossy(&load.stderr)
        );
        return;
    }
    // Resolve the neighbour first so the burst is not queued behind ARP.
    let _ = a.sh("ping -c 1 -W 1 10.99.0.2 >/dev/null 2>&1");
    let dir = std::env::temp_dir().join(format!("pal-kl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let pcap = dir.join("b.pcap");
    let mut dump = b
        .cmd("tcpdump")
        .args([
            "-i",
            "vb",
            "-n",
            "-U",
            "-B",
            "16384",
            "--time-stamp-precision=nano",
            "-w",
        ])
        .arg(&pcap)
        .arg("udp")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump");
    // Wait for "listening on", then until a marker datagram (port 7, which
    // no rule names) shows up in the file, so the burst is captured whole.
    let mut err = dump.stderr.take().expect("stderr");
    let mut buf = [0u8; 256];
    let _ = err.read(&mut buf);
    for _ in 0..40 {
        let _ = a.sh(MARKER);
        std::thread::sleep(Duration::from_millis(50));
        if std::fs::metadata(&pcap)
            .map(|m| m.len() > 24)
            .unwrap_or(false)
        {
            break;
        }
    }
    let sent = a.run("python3", &["-c", SENDER], None).expect("sender");
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    // tcpdump may lag behind under load: let it drain before stopping it.
    for _ in 0..80 {
        let n = std::fs::read(&pcap)
            .map(|b| burst_len(&read_pcap(&b)))
            .unwrap_or(0);
        if n >= 400 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-INT", &dump.id().to_string()])
        .status();
    let _ = dump.wait();
    let save = b.sh("iptables-save -c").expect("save");
    let kernel = kernel_counters(&save);
    let bytes = std::fs::read(&pcap).expect("pcap");
    let _ = std::fs::remove_dir_all(&dir);
    let pkts = read_pcap(&bytes);
    assert_eq!(
        burst_len(&pkts),
        400,
        "captured every datagram of the burst"
    );

    let v4 = palisade_rules::parse_restore(RULES, "kl.rules", Family::V4).expect("parses");
    let phases: Vec<Vec<u64>> = (0..4)
        .map(|k| engine_counters(&v4, &pkts, k * 1_000_000))
        .collect();
    println!("kernel {kernel:?}; engine by phase {phases:?}");
    assert_eq!(kernel.len(), 7, "{save}");
    for (i, k) in kernel.iter().enumerate() {
        assert!(
            phases.iter().any(|p| p.get(i) == Some(k)),
            "rule {i}: kernel {k}, engine {:?}",
            phases.iter().map(|p| p.get(i)).collect::<Vec<_>>()
        );
    }
}

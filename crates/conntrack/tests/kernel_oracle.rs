//! Kernel: net/netfilter/nf_conntrack_core.c and nf_conntrack_proto_*.c, as
//! run by this machine's kernel — the oracle.
//!
//! Two throw-away namespaces joined by a veth: `s` (sender, 10.99.0.1,
//! fd99::1, IPv6 and its own stack silenced) and `r` (receiver, 10.99.0.2,
//! fd99::2). scapy in `s` crafts each sequence's packets — both directions of
//! a flow, the reply direction spoofed from `r`'s address — and sends them as
//! raw frames to `r`'s MAC, printing their bytes. In `r`, rules without target
//! count each ctstate right after conntrack (`mangle PREROUTING`) and again in
//! `filter INPUT`; the same bytes go through `Conntrack::packet_in` as if at
//! PREROUTING, then are confirmed when addressed to `r` (INPUT) or discarded
//! (the kernel routes reply-direction packets away before any confirm), and
//! the per-state counts must agree.
//!
//! Keeping both sides equal: `r` never answers — `raw OUTPUT -j NOTRACK`
//! keeps its own replies (TCP RSTs, ICMP errors, echo replies, ND) out of
//! conntrack, and `filter OUTPUT` drops them, so the kernel's table sees
//! exactly the crafted packets the model sees. `s` has IPv6 disabled and
//! sends nothing of its own (scapy writes raw frames, no ARP/ND needed).
//! The table is flushed and counters zeroed before every sequence.
//!
//! Counting at PREROUTING as well as INPUT: reply-direction packets (SYN-ACK,
//! UDP/ICMP replies) are addressed to `s`, so they never reach `r`'s INPUT;
//! PREROUTING sees every packet with the state conntrack just gave it.

use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::process::{Command, Stdio};

use palisade_conntrack::{Conntrack, CtConfig, CtInfo, Nanos};
use palisade_testkit::Netns;
use palisade_wire::PacketMeta;

const STATES: [&str; 5] = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"];

/// (sequence, nf_conntrack_tcp_loose).
const SEQUENCES: &[(&str, bool)] = &[
    ("handshake_close", true),
    ("midstream", true),
    ("midstream", false),
    ("bad_flags", true),
    ("synack_without_syn", true),
    ("out_of_window", true),
    ("rst_windows", true),
    ("udp", true),
    ("icmp_echo", true),
    ("icmp_error_known", true),
    ("icmp_error_unknown", true),
    ("icmpv6", true),
    ("gre", true),
];

const SCAPY: &str = r#"
import sys
from scapy.all import Ether, IP, IPv6, TCP, UDP, ICMP, GRE, Raw, sendp, conf
from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6EchoReply, ICMPv6ND_NS
conf.verb = 0
IFACE, DMAC = sys.argv[1], sys.argv[2]
A, B, R = '10.99.0.1', '10.99.0.2', '10.99.0.254'
A6, B6 = 'fd99::1', 'fd99::2'

def tcp(src, dst, sp, dp, flags, seq, ack=0, data=b''):
    p = IP(src=src, dst=dst) / TCP(sport=sp, dport=dp, flags=flags, seq=seq, ack=ack, window=8192)
    return p / Raw(data) if data else p

def flow(sp):
    c = lambda f, s, a=0, d=b'': tcp(A, B, sp, 80, f, s, a, d)
    r = lambda f, s, a=0, d=b'': tcp(B, A, 80, sp, f, s, a, d)
    return c, r, [c('S', 100), r('SA', 500, 101), c('A', 101, 501)]

def udp(src, dst, sp, dp):
    return IP(src=src, dst=dst) / UDP(sport=sp, dport=dp) / Raw(b'q')

def seq(name):
    if name == 'handshake_close':
        c, r, h = flow(40001)
        return h + [c('PA', 101, 501, b'x' * 10), r('A', 501, 111), c('FA', 111, 501),
                    r('A', 501, 112), r('FA', 501, 112), c('A', 112, 502)]
    if name == 'midstream':
        c, r, _ = flow(40002)
        return [c('A', 1000, 2000), c('PA', 1000, 2000, b'y' * 10), r('A', 2000, 1010),
                c('A', 1010, 2000)]
    if name == 'bad_flags':
        c, _, _ = flow(40003)
        return [c('', 1), c('FPU', 1), c('SF', 1), c('F', 1)]
    if name == 'synack_without_syn':
        c, r, _ = flow(40004)
        return [c('SA', 1, 1), r('SA', 1, 1)]
    if name == 'out_of_window':
        c, r, h = flow(40005)
        return h + [c('PA', 101 + 1000000, 501, b'z'), c('PA', 101, 501, b'z' * 5),
                    r('A', 501 + 1000000, 106), r('A', 501, 106)]
    if name == 'rst_windows':
        c, r, h = flow(40006)
        return h + [c('R', 101 + 1000000), c('R', 101), c('A', 101, 501)]
    if name == 'udp':
        return [udp(A, B, 5000, 53), udp(A, B, 5000, 53), udp(B, A, 53, 5000), udp(A, B, 5000, 53)]
    if name == 'icmp_echo':
        return [IP(src=A, dst=B) / ICMP(type=8, id=7, seq=1), IP(src=B, dst=A) / ICMP(type=0, id=7, seq=1),
                IP(src=A, dst=B) / ICMP(type=8, id=7, seq=2), IP(src=B, dst=A) / ICMP(type=0, id=8, seq=1)]
    if name == 'icmp_error_known':
        q = udp(A, B, 5001, 53)
        return [q, IP(src=R, dst=A) / ICMP(type=3, code=3) / q,
                IP(src=B, dst=A) / ICMP(type=3, code=3) / q]
    if name == 'icmp_error_unknown':
        return [IP(src=R, dst=A) / ICMP(type=3, code=3) / udp(A, B, 5999, 53),
                IP(src=A, dst=B) / ICMP(type=3, code=3) / udp(B, A, 53, 5998)]
    if name == 'icmpv6':
        return [IPv6(src=A6, dst=B6, hlim=255) / ICMPv6ND_NS(tgt=B6),
                IPv6(src=A6, dst=B6) / ICMPv6EchoRequest(id=9, seq=1),
                IPv6(src=B6, dst=A6) / ICMPv6EchoReply(id=9, seq=1),
                IPv6(src=A6, dst=B6) / ICMPv6EchoRequest(id=9, seq=2)]
    if name == 'gre':
        inner = IP(src='192.0.2.1', dst='192.0.2.2') / ICMP()
        return [IP(src=A, dst=B) / GRE() / inner, IP(src=A, dst=B) / GRE() / inner,
                IP(src=B, dst=A) / GRE() / inner, IP(src=A, dst=B) / GRE() / inner]
    raise SystemExit('unknown sequence ' + name)

for line in sys.stdin:
    for p in seq(line.strip()):
        raw = bytes(p)
        print('P', raw.hex(), flush=True)
        sendp(Ether(dst=DMAC, type=0x86dd if raw[0] >> 4 == 6 else 0x0800) / Raw(raw), iface=IFACE)
    print('END', flush=True)
"#;

fn rules() -> String {
    let mut s = String::from(
        "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j NOTRACK\nCOMMIT\n\
         *mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n\
         :OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n",
    );
    for st in STATES {
        s += &format!("-A PREROUTING -i vb -m conntrack --ctstate {st}\n");
    }
    s += "COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n";
    for st in STATES {
        s += &format!("-A INPUT -i vb -m conntrack --ctstate {st}\n");
    }
    s + "COMMIT\n"
}

/// Per-state packet counts of `chain` ([pre, input] both families summed).
fn kernel_counts(r: &Netns) -> [[u64; 5]; 2] {
    let mut out = [[0u64; 5]; 2];
    for cmd in ["iptables-save -c", "ip6tables-save -c"] {
        let text = r.sh(cmd).expect("iptables-save");
        for line in text.lines() {
            let Some(rest) = line.strip_prefix('[') else {
                continue;
            };
            let Some((ctr, rule)) = rest.split_once("] ") else {
                continue;
            };
            let pkts: u64 = ctr
                .split(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let which = if rule.starts_with("-A PREROUTING") {
                0
            } else if rule.starts_with("-A INPUT") {
                1
            } else {
                continue;
            };
            if let Some(i) = STATES
                .iter()
                .position(|s| rule.ends_with(&format!("--ctstate {s}")))
            {
                out[which][i] += pkts;
            }
        }
    }
    out
}

fn state_index(i: CtInfo) -> usize {
    match i {
        CtInfo::New => 0,
        CtInfo::Established | CtInfo::EstablishedReply => 1,
        CtInfo::Related | CtInfo::RelatedReply => 2,
        CtInfo::Invalid => 3,
        CtInfo::Untracked => 4,
    }
}

/// The model's counts and per-packet states for one sequence.
fn model_counts(packets: &[Vec<u8>], loose: bool) -> ([[u64; 5]; 2], Vec<&'static str>) {
    let cfg = CtConfig {
        tcp_loose: loose,
        ..CtConfig::default()
    };
    let mut ct = Conntrack::new(cfg);
    let local: [IpAddr; 2] = ["10.99.0.2".parse().unwrap(), "fd99::2".parse().unwrap()];
    let mut out = [[0u64; 5]; 2];
    let mut trail = Vec::new();
    for (k, p) in packets.iter().enumerate() {
        let now: Nanos = 1_000_000_000 + k as Nanos * 1_000_000;
        let meta = PacketMeta::parse(p).expect("scapy packet parses");
        let r = ct.packet_in(now, p, &meta, false, None);
        let i = state_index(r.info);
        trail.push(STATES[i]);
        out[0][i] += 1;
        if local.contains(&meta.dst) {
            out[1][i] += 1;
            ct.confirm_packet(&r, now);
        } else if let Some(h) = r.handle {
            ct.discard(h);
        }
    }
    (out, trail)
}

fn python_with_scapy() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import scapy.all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

#[test]
fn conntrack_states_match_the_kernel() {
    palisade_testkit::require_root_with!(
        "ip",
        "iptables-restore",
        "ip6tables-restore",
        "conntrack"
    );
    let Some(py) = python_with_scapy() else {
        println!("SKIP: python3 with scapy not found");
        return;
    };
    let s = Netns::new("cts").expect("netns");
    let r = Netns::new("ctr").expect("netns");
    s.sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        .expect("sysctl");
    let st = Command::new("ip")
        .args([
            "link",
            "add",
            "va",
            "netns",
            s.name(),
            "type",
            "veth",
            "peer",
            "name",
            "vb",
        ])
        .args(["netns", r.name()])
        .status()
        .expect("ip link");
    assert!(st.success());
    s.sh("ip addr add 10.99.0.1/24 dev va && ip link set va up")
        .expect("s up");
    r.sh(
        "sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 && \
         ip addr add 10.99.0.2/24 dev vb && ip -6 addr add fd99::2/64 dev vb nodad && \
         ip link set vb up",
    )
    .expect("r up");
    let rs = rules();
    for cmd in ["iptables-restore", "ip6tables-restore"] {
        let o = r.run(cmd, &[], Some(&rs)).expect(cmd);
        assert!(
            o.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let mac = r.sh("cat /sys/class/net/vb/address").expect("mac");
    let mut py = s
        .cmd(py)
        .args(["-u", "-c", SCAPY, "va", mac.trim()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("scapy");
    let mut to_py = py.stdin.take().expect("stdin");
    let mut from_py = BufReader::new(py.stdout.take().expect("stdout"));
    let mut failures = Vec::new();
    for &(name, loose) in SEQUENCES {
        r.sh(&format!(
            "conntrack -F -f ipv4 2>/dev/null; conntrack -F -f ipv6 2>/dev/null; \
             for t in iptables ip6tables; do $t -t mangle -Z && $t -t filter -Z; done; \
             sysctl -qw net.netfilter.nf_conntrack_tcp_loose={}",
            u8::from(loose)
        ))
        .expect("reset");
        writeln!(to_py, "{name}").expect("to scapy");
        let mut packets = Vec::new();
        loop {
            let mut line = String::new();
            if from_py.read_line(&mut line).expect("from scapy") == 0 {
                panic!("scapy exited during {name}");
            }
            let line = line.trim();
            if line == "END" {
                break;
            }
            if let Some(hex) = line.strip_prefix("P ") {
                packets.push(decode_hex(hex));
            }
        }
        // Wait for the receiver to have counted every packet (each gets
        // exactly one state at PREROUTING).
        let mut kernel = kernel_counts(&r);
        for _ in 0..200 {
            if kernel[0].iter().sum::<u64>() >= packets.len() as u64 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            kernel = kernel_counts(&r);
        }
        let (model, trail) = model_counts(&packets, loose);
        let label = format!("{name} (tcp_loose={})", u8::from(loose));
        println!(
            "{label:<36} kernel {:?} / {:?}  model {:?} / {:?}  {trail:?}",
            kernel[0], kernel[1], model[0], model[1]
        );
        if kernel != model {
            failures.push(format!(
                "{label}: kernel PREROUTING {:?} INPUT {:?}, model {:?} {:?} (model per packet: {trail:?}; order {STATES:?})",
                kernel[0], kernel[1], model[0], model[1]
            ));
        }
    }
    drop(to_py);
    let _ = py.wait();
    assert!(failures.is_empty(), "divergences:\n{}", failures.join("\n"));
}

fn decode_hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

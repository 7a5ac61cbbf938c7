//! Shared by the engine benches: generated rulesets, the host, packets.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};

use etherparse::PacketBuilder;
use palisade_engine::{Engine, EngineConfig, Host, Interface};
use palisade_model::{Family, Ruleset};
use palisade_wire::checksum;

/// The firewall host: `eth0` 10.0.0.2/24 and `lo`.
pub fn host() -> Host {
    let lo = Interface::up("lo", 1, &[(IpAddr::V4(Ipv4Addr::LOCALHOST), 8)]);
    let eth = Interface::up("eth0", 2, &[(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 24)]);
    Host {
        interfaces: vec![lo, eth],
        routes: Vec::new(),
        forwarding_v4: false,
        forwarding_v6: false,
    }
}

/// xorshift64: deterministic "random" rules without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// An iptables-restore text: `n - 1` random rules that never match the
/// bench traffic (sources in 198.18.0.0/15, TCP ports 1000–1999, or UDP),
/// then a final ACCEPT for TCP to port 80. `established_first` puts the
/// usual `--ctstate ESTABLISHED,RELATED -j ACCEPT` rule at the top.
pub fn ruleset_text(n: usize, established_first: bool) -> String {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut s = String::with_capacity(n * 64 + 256);
    s.push_str("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    if established_first {
        s.push_str("-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n");
    }
    for _ in 1..n {
        let r = rng.next();
        let src = format!(
            "198.{}.{}.{}",
            18 + (r & 1),
            (r >> 8) & 0xff,
            (r >> 16) & 0xff
        );
        let port = 1000 + (r >> 24) % 1000;
        let rule = match (r >> 40) % 4 {
            0 => format!("-A INPUT -s {src}/32 -p tcp -m tcp --dport {port} -j DROP\n"),
            1 => format!("-A INPUT -s {src}/32 -j DROP\n"),
            2 => format!("-A INPUT -p tcp -m tcp --dport {port} -j DROP\n"),
            _ => format!("-A INPUT -p udp -m udp --dport {port} -j ACCEPT\n"),
        };
        s.push_str(&rule);
    }
    s.push_str("-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\nCOMMIT\n");
    s
}

pub fn parse(text: &str) -> Ruleset {
    match palisade_rules::parse_restore(text, "bench.rules", Family::V4) {
        Ok(r) => r,
        Err(d) => panic!("generated ruleset does not parse: {:?}", d.first()),
    }
}

/// An engine for `n` rules; conntrack checksums off (the bench patches
/// packets in place) and an unbounded table.
pub fn engine(n: usize, established_first: bool) -> Engine {
    let v4 = parse(&ruleset_text(n, established_first));
    let v6 = Ruleset::new(Family::V6);
    let mut cfg = EngineConfig::default();
    cfg.ct.max = 0;
    cfg.ct.checksum = false;
    match Engine::new(v4, v6, host(), cfg) {
        Ok(e) => e,
        Err(e) => panic!("compile: {e:?}"),
    }
}

/// A TCP segment between the client 10.0.0.1:40000 and the host's port 80.
pub fn tcp(to_host: bool, syn: bool, seq: u32, ack: Option<u32>, payload: &[u8]) -> Vec<u8> {
    let (c, h) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let (s, d, sp, dp) = if to_host {
        (c, h, 40000, 80)
    } else {
        (h, c, 80, 40000)
    };
    let mut b = PacketBuilder::ipv4(s, d, 64).tcp(sp, dp, seq, 64000);
    if syn {
        b = b.syn();
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("build");
    out
}

/// Makes the `i`-th distinct client (address 10.0.x.y, port) the source of
/// a TCP/IPv4 datagram with a 20-byte header sent `to_host`, else its
/// destination, keeping both checksums valid.
pub fn set_peer(p: &mut [u8], i: u32, to_host: bool) {
    let (ip, port) = if to_host { (12, 20) } else { (16, 22) };
    let host = i / 60000;
    let old_ip = u32::from_be_bytes([p[ip], p[ip + 1], p[ip + 2], p[ip + 3]]);
    let new_ip = if host == 0 {
        u32::from(Ipv4Addr::new(10, 0, 0, 1))
    } else {
        (10 << 24) | (1 + (host >> 16)) << 16 | (host & 0xffff)
    };
    p[ip..ip + 4].copy_from_slice(&new_ip.to_be_bytes());
    let ipc = u16::from_be_bytes([p[10], p[11]]);
    p[10..12].copy_from_slice(&checksum::update32(ipc, old_ip, new_ip).to_be_bytes());
    let old_port = u16::from_be_bytes([p[port], p[port + 1]]);
    let new_port = 1024 + (i % 60000) as u16;
    p[port..port + 2].copy_from_slice(&new_port.to_be_bytes());
    let c = u16::from_be_bytes([p[36], p[37]]);
    let c = checksum::update32(c, old_ip, new_ip);
    let c = checksum::update16(c, old_port, new_port);
    p[36..38].copy_from_slice(&c.to_be_bytes());
}

/// Sets the 32-bit TCP field at `off` (seq 24, ack 28), fixing the checksum.
pub fn set32(p: &mut [u8], off: usize, new: u32) {
    let cur = u32::from_be_bytes([p[off], p[off + 1], p[off + 2], p[off + 3]]);
    p[off..off + 4].copy_from_slice(&new.to_be_bytes());
    let c = u16::from_be_bytes([p[36], p[37]]);
    p[36..38].copy_from_slice(&checksum::update32(c, cur, new).to_be_bytes());
}

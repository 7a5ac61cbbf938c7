//! NAT through the whole engine: rulesets as iptables-save text, packets
//! built with etherparse, checks on the bytes that leave (addresses, ports,
//! every checksum valid), reply un-NAT, clashes, ICMP errors, IPv6.

use std::net::IpAddr;

use etherparse::PacketBuilder;
use palisade_engine::{Engine, EngineConfig, Host, Interface, Outcome, Route, Verdict};
use palisade_model::{Family, Ruleset};
use palisade_wire::{checksum, PacketMeta};

fn iface(name: &str, index: u32, addrs: &[(&str, u8)]) -> Interface {
    let addrs: Vec<_> = addrs
        .iter()
        .map(|(a, p)| (a.parse().unwrap(), *p))
        .collect();
    Interface::up(name, index, &addrs)
}

/// lan (10.0.0.1/24, fd00::1/64) — gateway — wan (203.0.113.1/24, 2001:db8::1/64),
/// default route via 203.0.113.254 / 2001:db8::fe.
fn gateway() -> Host {
    Host {
        interfaces: vec![
            iface("lo", 1, &[("127.0.0.1", 8), ("::1", 128)]),
            iface("lan", 2, &[("10.0.0.1", 24), ("fd00::1", 64)]),
            iface("wan", 3, &[("203.0.113.1", 24), ("2001:db8::1", 64)]),
        ],
        routes: vec![
            Route::default_via("203.0.113.254".parse().unwrap(), "wan"),
            Route::default_via("2001:db8::fe".parse().unwrap(), "wan"),
        ],
        forwarding_v4: true,
        forwarding_v6: true,
    }
}

fn engine(v4: &str, v6: &str) -> Engine {
    let r4 = if v4.is_empty() {
        Ruleset::new(Family::V4)
    } else {
        palisade_rules::parse_restore(v4, "v4", Family::V4).expect("v4 parses")
    };
    let r6 = if v6.is_empty() {
        Ruleset::new(Family::V6)
    } else {
        palisade_rules::parse_restore(v6, "v6", Family::V6).expect("v6 parses")
    };
    Engine::new(&r4, &r6, gateway(), EngineConfig::default()).expect("compiles")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn v4(a: &str) -> [u8; 4] {
    match ip(a) {
        IpAddr::V4(v) => v.octets(),
        _ => panic!("v4"),
    }
}

fn v6(a: &str) -> [u8; 16] {
    match ip(a) {
        IpAddr::V6(v) => v.octets(),
        _ => panic!("v6"),
    }
}

/// A TCP segment: both ends start their sequence at 1000, so a SYN-ACK
/// acknowledges 1001 and the third segment has sequence 1001.
fn tcp(src: &str, sp: u16, dst: &str, dp: u16, syn: bool, ack: bool) -> Vec<u8> {
    let seq = if syn { 1000 } else { 1001 };
    let mut b = PacketBuilder::ipv4(v4(src), v4(dst), 64).tcp(sp, dp, seq, 64240);
    if syn {
        b = b.syn();
    }
    if ack {
        b = b.ack(1001);
    }
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

fn udp(src: &str, sp: u16, dst: &str, dp: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(v4(src), v4(dst), 64)
        .udp(sp, dp)
        .write(&mut v, b"hello")
        .unwrap();
    v
}

fn udp6(src: &str, sp: u16, dst: &str, dp: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(v6(src), v6(dst), 64)
        .udp(sp, dp)
        .write(&mut v, b"hello")
        .unwrap();
    v
}

fn ping(src: &str, dst: &str, id: u16, reply: bool) -> Vec<u8> {
    let mut v = Vec::new();
    let b = PacketBuilder::ipv4(v4(src), v4(dst), 64);
    if reply {
        b.icmpv4_echo_reply(id, 1).write(&mut v, b"abcd").unwrap();
    } else {
        b.icmpv4_echo_request(id, 1).write(&mut v, b"abcd").unwrap();
    }
    v
}

/// Checks every checksum of a datagram the engine sent.
fn valid(p: &[u8]) -> PacketMeta {
    let m = PacketMeta::parse(p).expect("parses");
    if m.family == Family::V4 {
        assert!(checksum::ipv4_header_ok(p), "IPv4 header checksum");
    }
    assert!(checksum::verify_l4(p, &m), "layer-4 checksum");
    m
}

fn recv(e: &mut Engine, t: u64, iif: &str, p: &[u8]) -> Outcome {
    let mut o = Outcome::new();
    e.receive(t, iif, p, &mut o);
    o
}

const MASQ: &str = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i wan -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.5:80
-A POSTROUTING -o wan -j MASQUERADE
COMMIT
";

#[test]
fn masquerade_rewrites_and_unnats_replies() {
    let mut e = engine(MASQ, "");
    let o = recv(
        &mut e,
        1,
        "lan",
        &tcp("10.0.0.2", 40000, "198.51.100.7", 443, true, false),
    );
    assert_eq!(o.verdict, Verdict::Accept);
    assert_eq!(o.out_iface, "wan");
    let m = valid(&o.packet);
    assert_eq!((m.src, m.ports()), (ip("203.0.113.1"), Some((40000, 443))));
    // The reply comes back to the public address and is un-NATed.
    let o = recv(
        &mut e,
        2,
        "wan",
        &tcp("198.51.100.7", 443, "203.0.113.1", 40000, true, true),
    );
    assert_eq!(o.verdict, Verdict::Accept);
    assert_eq!(o.out_iface, "lan");
    let m = valid(&o.packet);
    assert_eq!((m.dst, m.ports()), (ip("10.0.0.2"), Some((443, 40000))));
    // Established packets keep the binding without the nat table.
    let o = recv(
        &mut e,
        3,
        "lan",
        &tcp("10.0.0.2", 40000, "198.51.100.7", 443, false, true),
    );
    let m = valid(&o.packet);
    assert_eq!(m.src, ip("203.0.113.1"));
    let (r4, _) = e.save_counters();
    let nat = r4
        .tables
        .iter()
        .find(|t| t.id == palisade_model::TableId::Nat)
        .unwrap();
    let post = nat.chains.iter().find(|c| c.name == "POSTROUTING").unwrap();
    assert_eq!(
        post.rules[0].counters.packets, 1,
        "nat chains see first packets only"
    );
}

#[test]
fn dnat_port_forward_to_lan_server() {
    let mut e = engine(MASQ, "");
    let o = recv(
        &mut e,
        1,
        "wan",
        &tcp("198.51.100.7", 5555, "203.0.113.1", 8080, true, false),
    );
    assert_eq!(o.verdict, Verdict::Accept);
    assert_eq!(o.out_iface, "lan");
    let m = valid(&o.packet);
    assert_eq!((m.dst, m.ports()), (ip("10.0.0.5"), Some((5555, 80))));
    let c = e.conntrack().iter(1).next().unwrap();
    assert_eq!(c.reply().src_ip(), ip("10.0.0.5"));
    assert_eq!(c.reply().sport, 80);
    // Server's answer leaves by wan looking like it came from the gateway.
    let o = recv(
        &mut e,
        2,
        "lan",
        &tcp("10.0.0.5", 80, "198.51.100.7", 5555, true, true),
    );
    assert_eq!(o.out_iface, "wan");
    let m = valid(&o.packet);
    assert_eq!((m.src, m.ports()), (ip("203.0.113.1"), Some((8080, 5555))));
}

#[test]
fn two_lan_hosts_same_source_port_clash() {
    let rules = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o wan -j SNAT --to-source 203.0.113.1
COMMIT
";
    let mut e = engine(rules, "");
    let a = recv(&mut e, 1, "lan", &udp("10.0.0.2", 5353, "198.51.100.7", 53));
    let b = recv(&mut e, 2, "lan", &udp("10.0.0.3", 5353, "198.51.100.7", 53));
    let ma = valid(&a.packet);
    let mb = valid(&b.packet);
    assert_eq!(ma.ports(), Some((5353, 53)), "first keeps its port");
    let (sb, _) = mb.ports().unwrap();
    assert_ne!(sb, 5353, "second is remapped");
    assert!((1024..=65535).contains(&sb), "stays in its port class");
    assert_eq!(mb.src, ip("203.0.113.1"));
    // Each reply finds its own host.
    let o = recv(
        &mut e,
        3,
        "wan",
        &udp("198.51.100.7", 53, "203.0.113.1", sb),
    );
    assert_eq!(valid(&o.packet).dst, ip("10.0.0.3"));
    let o = recv(
        &mut e,
        4,
        "wan",
        &udp("198.51.100.7", 53, "203.0.113.1", 5353),
    );
    assert_eq!(valid(&o.packet).dst, ip("10.0.0.2"));
    // Low ports stay low.
    let a = recv(&mut e, 5, "lan", &udp("10.0.0.2", 123, "198.51.100.8", 123));
    let b = recv(&mut e, 6, "lan", &udp("10.0.0.3", 123, "198.51.100.8", 123));
    assert_eq!(valid(&a.packet).ports(), Some((123, 123)));
    let (p, _) = valid(&b.packet).ports().unwrap();
    assert!((1..=511).contains(&p) && p != 123);
}

#[test]
fn null_binding_remaps_clash_without_rules() {
    // Empty nat table: forwarded flows still get null bindings.
    let rules = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
";
    let mut e = engine(rules, "");
    let o = recv(&mut e, 1, "lan", &udp("10.0.0.2", 7000, "198.51.100.7", 53));
    assert_eq!(valid(&o.packet).ports(), Some((7000, 53)));
    let c = e.conntrack().iter(1).next().unwrap();
    assert!(c.status.has(palisade_conntrack::Status::SRC_NAT_DONE));
    assert!(!c.status.has(palisade_conntrack::Status::SRC_NAT));
}

#[test]
fn icmp_echo_id_remapped_on_clash() {
    let rules = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o wan -j MASQUERADE
COMMIT
";
    let mut e = engine(rules, "");
    let a = recv(
        &mut e,
        1,
        "lan",
        &ping("10.0.0.2", "198.51.100.7", 77, false),
    );
    let b = recv(
        &mut e,
        2,
        "lan",
        &ping("10.0.0.3", "198.51.100.7", 77, false),
    );
    let ida = match valid(&a.packet).l4 {
        palisade_wire::L4Meta::Icmp(i) => i.id,
        _ => panic!(),
    };
    let idb = match valid(&b.packet).l4 {
        palisade_wire::L4Meta::Icmp(i) => i.id,
        _ => panic!(),
    };
    assert_eq!(ida, 77);
    assert_ne!(idb, 77);
    let o = recv(
        &mut e,
        3,
        "wan",
        &ping("198.51.100.7", "203.0.113.1", idb, true),
    );
    let m = valid(&o.packet);
    assert_eq!(m.dst, ip("10.0.0.3"));
    assert!(matches!(m.l4, palisade_wire::L4Meta::Icmp(i) if i.id == 77));
}

/// ICMP port unreachable from the LAN server for a DNATed UDP flow: outer
/// and quoted headers are translated back, checksums valid.
#[test]
fn icmp_error_for_dnat_flow_is_translated() {
    let rules = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i wan -p udp --dport 5000 -j DNAT --to-destination 10.0.0.5:6000
COMMIT
";
    let mut e = engine(rules, "");
    let q = udp("198.51.100.7", 4444, "203.0.113.1", 5000);
    let o = recv(&mut e, 1, "wan", &q);
    let fwd = o.packet.clone();
    assert_eq!(valid(&fwd).dst, ip("10.0.0.5"));
    // The server's port unreachable quoting what it got.
    let mut err = Vec::new();
    PacketBuilder::ipv4(v4("10.0.0.5"), v4("198.51.100.7"), 64)
        .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ))
        .write(&mut err, &{
            let mut f = fwd.clone();
            f[8] = 63; // as received by the server
            let c = checksum::checksum(&{
                let mut h = f[..20].to_vec();
                h[10] = 0;
                h[11] = 0;
                h
            });
            f[10..12].copy_from_slice(&c.to_be_bytes());
            f
        })
        .unwrap();
    let o = recv(&mut e, 2, "lan", &err);
    assert_eq!(o.verdict, Verdict::Accept, "RELATED error forwarded");
    assert_eq!(o.out_iface, "wan");
    let m = PacketMeta::parse(&o.packet).unwrap();
    assert!(checksum::ipv4_header_ok(&o.packet));
    assert_eq!(m.src, ip("203.0.113.1"), "outer source un-DNATed");
    assert_eq!(checksum::checksum(&o.packet[20..]), 0, "ICMP checksum");
    let inner = &o.packet[28..];
    assert!(checksum::ipv4_header_ok(inner), "quoted IP checksum");
    assert_eq!(
        &inner[16..20],
        &v4("203.0.113.1"),
        "quoted destination un-DNATed"
    );
    assert_eq!(
        u16::from_be_bytes([inner[22], inner[23]]),
        5000,
        "quoted port"
    );
    // The quoted UDP checksum is consistent with the quoted addresses.
    let qm = PacketMeta::parse(inner).unwrap();
    assert!(checksum::verify_l4(inner, &qm));
}

#[test]
fn redirect_to_local_port() {
    let rules = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i lan -p tcp --dport 80 -j REDIRECT --to-ports 3128
COMMIT
";
    let mut e = engine(rules, "");
    let o = recv(
        &mut e,
        1,
        "lan",
        &tcp("10.0.0.2", 40000, "198.51.100.7", 80, true, false),
    );
    assert!(o.delivered_local, "redirected to the host");
    let m = valid(&o.packet);
    assert_eq!((m.dst, m.ports()), (ip("10.0.0.1"), Some((40000, 3128))));
    // The proxy's reply leaves rewritten back to the original server.
    let mut out = Outcome::new();
    e.send_local(
        2,
        &tcp("10.0.0.1", 3128, "10.0.0.2", 40000, true, true),
        &mut out,
    );
    assert_eq!(out.verdict, Verdict::Accept);
    let m = valid(&out.packet);
    assert_eq!((m.src, m.ports()), (ip("198.51.100.7"), Some((80, 40000))));
}

#[test]
fn snat_range_and_netmap() {
    let rules = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i wan -d 203.0.113.128/25 -j NETMAP --to 10.0.0.128/25
-A POSTROUTING -o wan -p udp -j SNAT --to-source 203.0.113.10-203.0.113.20:20000-20010
COMMIT
";
    let mut e = engine(rules, "");
    let o = recv(&mut e, 1, "lan", &udp("10.0.0.2", 5353, "198.51.100.7", 53));
    let m = valid(&o.packet);
    let s = match m.src {
        IpAddr::V4(a) => a.octets()[3],
        _ => panic!(),
    };
    assert!((10..=20).contains(&s));
    let (sp, _) = m.ports().unwrap();
    assert!((20000..=20010).contains(&sp));
    // Same client, other server port: same public address (jhash of src and dst).
    let o2 = recv(&mut e, 2, "lan", &udp("10.0.0.2", 5354, "198.51.100.7", 53));
    assert_eq!(valid(&o2.packet).src, m.src);
    let o = recv(
        &mut e,
        3,
        "wan",
        &tcp("198.51.100.7", 1, "203.0.113.200", 22, true, false),
    );
    assert_eq!(valid(&o.packet).dst, ip("10.0.0.200"));
}

#[test]
fn ipv6_masquerade_and_dnat() {
    let rules6 = "*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i wan -p udp --dport 53 -j DNAT --to-destination [fd00::53]:5353
-A POSTROUTING -o wan -j MASQUERADE
COMMIT
";
    let mut e = engine("", rules6);
    let o = recv(
        &mut e,
        1,
        "lan",
        &udp6("fd00::2", 6000, "2001:db8:1::7", 123),
    );
    assert_eq!(o.out_iface, "wan");
    let m = valid(&o.packet);
    assert_eq!((m.src, m.ports()), (ip("2001:db8::1"), Some((6000, 123))));
    let o = recv(
        &mut e,
        2,
        "wan",
        &udp6("2001:db8:1::7", 123, "2001:db8::1", 6000),
    );
    assert_eq!(valid(&o.packet).dst, ip("fd00::2"));
    let o = recv(
        &mut e,
        3,
        "wan",
        &udp6("2001:db8:1::9", 999, "2001:db8::1", 53),
    );
    assert_eq!(o.out_iface, "lan");
    let m = valid(&o.packet);
    assert_eq!((m.dst, m.ports()), (ip("fd00::53"), Some((999, 5353))));
}

//! Integration tests: small rulesets built in code, hand-made packets, checks
//! on verdicts, counters, emitted replies.

use etherparse::PacketBuilder;
use palisade_engine::{DropReason, Engine, EngineConfig, Host, Interface, Outcome, Route, Verdict};
use palisade_model::matches::{
    ct_state, tcp_flags as f, PortRange, StateMatch, TcpMatch, UdpMatch,
};
use palisade_model::targets::RejectWith;
use palisade_model::{
    AddrMask, Chain, Counters, Family, Hook, Iface, IpFilter, Match, Policy, Rule, Ruleset,
    TableId, Target,
};

const SEC: u64 = 1_000_000_000;

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

fn host(forward: bool) -> Host {
    Host {
        interfaces: vec![
            Interface::up("lo", 1, &[(ip("127.0.0.1"), 8), (ip("::1"), 128)]),
            Interface::up("eth0", 2, &[(ip("192.168.1.10"), 24), (ip("fd00::10"), 64)]),
            Interface::up("eth1", 3, &[(ip("10.9.0.1"), 24)]),
        ],
        routes: vec![Route::default_via(ip("192.168.1.1"), "eth0")],
        forwarding_v4: forward,
        forwarding_v6: false,
    }
}

fn rule(ip: IpFilter, matches: Vec<Match>, target: Target) -> Rule {
    Rule::new(ip, matches, target)
}

fn tcp_ip() -> IpFilter {
    IpFilter {
        proto: 6,
        ..Default::default()
    }
}

fn dport(p: u16) -> Match {
    Match::Tcp(TcpMatch {
        dport: PortRange::single(p),
        ..Default::default()
    })
}

fn state(mask: u16) -> Match {
    Match::State(StateMatch {
        mask,
        invert: false,
    })
}

fn filter(
    input_policy: Policy,
    input: Vec<Rule>,
    output: Vec<Rule>,
    user: Vec<(&str, Vec<Rule>)>,
) -> Ruleset {
    let mut rs = Ruleset::new(Family::V4);
    let t = rs.table_mut(TableId::Filter);
    t.chain_mut("INPUT").unwrap().policy = Some(input_policy);
    t.chain_mut("INPUT").unwrap().rules = input;
    t.chain_mut("OUTPUT").unwrap().rules = output;
    for (n, rules) in user {
        t.chains.push(Chain {
            name: n.into(),
            policy: None,
            counters: Counters::default(),
            rules,
        });
    }
    rs
}

fn tcp(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    flags: u8,
    ack: u32,
) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, seq, 64240);
    if flags & f::SYN != 0 {
        b = b.syn();
    }
    if flags & f::ACK != 0 {
        b = b.ack(ack);
    }
    if flags & f::RST != 0 {
        b = b.rst();
    }
    if flags & f::FIN != 0 {
        b = b.fin();
    }
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn counters(e: &Engine, table: TableId, chain: &str) -> (Vec<(u64, u64)>, (u64, u64)) {
    let (v4, _) = e.save_counters();
    let c = v4.table(table).unwrap().chain(chain).unwrap();
    (
        c.rules
            .iter()
            .map(|r| (r.counters.packets, r.counters.bytes))
            .collect(),
        (c.counters.packets, c.counters.bytes),
    )
}

const CLIENT: [u8; 4] = [192, 168, 1, 50];
const ME: [u8; 4] = [192, 168, 1, 10];

fn stateful_host() -> Engine {
    let input = vec![
        rule(
            IpFilter {
                in_iface: Some(Iface {
                    name: "lo".into(),
                    wildcard: false,
                }),
                ..Default::default()
            },
            vec![],
            Target::Accept,
        ),
        rule(
            IpFilter::default(),
            vec![state(ct_state::ESTABLISHED | ct_state::RELATED)],
            Target::Accept,
        ),
        rule(tcp_ip(), vec![dport(22)], Target::Accept),
        rule(
            tcp_ip(),
            vec![dport(23)],
            Target::Reject(RejectWith::TcpReset),
        ),
        rule(
            IpFilter {
                proto: 17,
                ..Default::default()
            },
            vec![],
            Target::Reject(RejectWith::IcmpPortUnreachable),
        ),
    ];
    let output = vec![
        rule(
            IpFilter::default(),
            vec![state(ct_state::RELATED)],
            Target::None,
        ),
        rule(
            IpFilter::default(),
            vec![state(ct_state::NEW)],
            Target::None,
        ),
    ];
    let v4 = filter(Policy::Drop, input, output, vec![]);
    Engine::new(
        &v4,
        Ruleset::new(Family::V6),
        host(false),
        EngineConfig::default(),
    )
    .unwrap()
}

#[test]
fn stateful_input_and_counters() {
    let mut e = stateful_host();
    let mut out = Outcome::new();
    let syn = tcp(CLIENT, ME, 40000, 22, 100, f::SYN, 0);
    e.receive(SEC, "eth0", &syn, &mut out);
    assert_eq!(out.verdict, Verdict::Accept);
    assert!(out.delivered_local);
    // Our SYN-ACK goes out; the client's ACK is ESTABLISHED.
    let synack = tcp(ME, CLIENT, 22, 40000, 5000, f::SYN | f::ACK, 101);
    e.send_local(SEC, &synack, &mut out);
    assert_eq!(out.verdict, Verdict::Accept);
    assert_eq!(out.out_iface, "eth0");
    let ack = tcp(CLIENT, ME, 40000, 22, 101, f::ACK, 5001);
    e.receive(SEC, "eth0", &ack, &mut out);
    assert_eq!(out.verdict, Verdict::Accept);
    // Something unsolicited hits the policy.
    let other = tcp(CLIENT, ME, 40001, 80, 7, f::SYN, 0);
    e.receive(2 * SEC, "eth0", &other, &mut out);
    assert_eq!(
        out.verdict,
        Verdict::Drop(DropReason::Policy {
            hook: Hook::Input,
            table: TableId::Filter
        })
    );
    let (rules, policy) = counters(&e, TableId::Filter, "INPUT");
    assert_eq!(rules, vec![(0, 0), (1, 40), (1, 40), (0, 0), (0, 0)]);
    assert_eq!(policy, (1, 40));
}

#[test]
fn reject_tcp_reset_bytes_and_output_path() {
    let mut e = stateful_host();
    let mut out = Outcome::new();
    let syn = tcp(CLIENT, ME, 40000, 23, 0x01020304, f::SYN, 0);
    e.receive(SEC, "eth0", &syn, &mut out);
    assert_eq!(
        out.verdict,
        Verdict::Drop(DropReason::Rule {
            hook: Hook::Input,
            table: TableId::Filter
        })
    );
    assert_eq!(out.emitted.len(), 1);
    let em = &out.emitted[0];
    assert_eq!(em.out_iface, "eth0");
    // Hand-computed: IP id 0, DF, TTL 64, TOS 0; RST|ACK, seq 0,
    // ack = 0x01020304 + 1 (SYN), window 0, header only.
    let mut want = Vec::new();
    let mut ip =
        etherparse::Ipv4Header::new(20, 64, etherparse::IpNumber::TCP, ME, CLIENT).unwrap();
    ip.dont_fragment = true;
    ip.identification = 0;
    let mut th = etherparse::TcpHeader::new(23, 40000, 0, 0);
    th.rst = true;
    th.ack = true;
    th.acknowledgment_number = 0x01020305;
    th.checksum = th.calc_checksum_ipv4(&ip, &[]).unwrap();
    ip.header_checksum = ip.calc_header_checksum();
    ip.write(&mut want).unwrap();
    th.write(&mut want).unwrap();
    assert_eq!(em.packet, want);
    // The RST went through OUTPUT as RELATED (attached to the flow).
    let (rules, _) = counters(&e, TableId::Filter, "OUTPUT");
    assert_eq!(rules, vec![(1, 40), (0, 0)]);
    // An RST is never answered with an RST.
    let rst = tcp(CLIENT, ME, 40000, 23, 5, f::RST, 0);
    e.receive(2 * SEC, "eth0", &rst, &mut out);
    assert!(out.verdict.is_drop());
    assert!(out.emitted.is_empty());
}

#[test]
fn icmp_unreachable_is_rate_limited_but_counted() {
    let mut e = stateful_host();
    let mut out = Outcome::new();
    let mut sent = 0;
    for i in 0..10u16 {
        let p = udp(CLIENT, ME, 5000 + i, 161, b"probe");
        e.receive(10 * SEC, "eth0", &p, &mut out);
        assert!(out.verdict.is_drop());
        sent += out.emitted.len();
        if let Some(em) = out.emitted.first() {
            // 20 IP + 8 ICMP + the whole 33-byte original.
            assert_eq!(em.packet.len(), 20 + 8 + 33);
            assert_eq!(&em.packet[20..22], &[3, 3]);
            assert_eq!(em.packet[1], 0xc0);
            assert_eq!(&em.packet[28..], &p[..]);
        }
    }
    assert_eq!(sent, 6, "burst of 6 per destination");
    let (rules, _) = counters(&e, TableId::Filter, "INPUT");
    assert_eq!(rules[4].0, 10);
    // One second later one more token.
    let p = udp(CLIENT, ME, 6000, 161, b"probe");
    e.receive(11 * SEC, "eth0", &p, &mut out);
    assert_eq!(out.emitted.len(), 1);
}

#[test]
fn jumps_returns_goto_and_policy_counters() {
    // INPUT: -j A ; A: -p tcp --dport 1 -j RETURN ; -g B ; B: (empty). Falling
    // off B returns to the chain that *jumped* to A (goto does not push).
    let input = vec![
        rule(IpFilter::default(), vec![], Target::Jump("A".into())),
        rule(IpFilter::default(), vec![], Target::None),
    ];
    let a = vec![
        rule(tcp_ip(), vec![dport(1)], Target::Return),
        rule(IpFilter::default(), vec![], Target::Goto("B".into())),
    ];
    let v4 = filter(Policy::Accept, input, vec![], vec![("A", a), ("B", vec![])]);
    let mut e = Engine::new(
        &v4,
        Ruleset::new(Family::V6),
        host(false),
        EngineConfig::default(),
    )
    .unwrap();
    let mut out = Outcome::new();
    e.receive(SEC, "eth0", &tcp(CLIENT, ME, 9, 1, 0, f::SYN, 0), &mut out);
    assert_eq!(out.verdict, Verdict::Accept);
    e.receive(SEC, "eth0", &tcp(CLIENT, ME, 9, 2, 0, f::SYN, 0), &mut out);
    assert_eq!(out.verdict, Verdict::Accept);
    let (input, policy) = counters(&e, TableId::Filter, "INPUT");
    // Both come back to INPUT rule 2: packet 1 by RETURN, packet 2 off the end of B.
    assert_eq!(input, vec![(2, 80), (2, 80)]);
    assert_eq!(policy, (2, 80));
    let (a, _) = counters(&e, TableId::Filter, "A");
    assert_eq!(a, vec![(1, 40), (1, 40)]);
}

#[test]
fn goto_from_builtin_falls_to_policy() {
    let input = vec![
        rule(IpFilter::default(), vec![], Target::Goto("B".into())),
        rule(IpFilter::default(), vec![], Target::None),
    ];
    let v4 = filter(
        Policy::Drop,
        input,
        vec![],
        vec![("B", vec![rule(IpFilter::default(), vec![], Target::Return)])],
    );
    let mut e = Engine::new(
        &v4,
        Ruleset::new(Family::V6),
        host(false),
        EngineConfig::default(),
    )
    .unwrap();
    let mut out = Outcome::new();
    e.receive(SEC, "eth0", &tcp(CLIENT, ME, 9, 2, 0, f::SYN, 0), &mut out);
    assert_eq!(
        out.verdict,
        Verdict::Drop(DropReason::Policy {
            hook: Hook::Input,
            table: TableId::Filter
        })
    );
    let (input, policy) = counters(&e, TableId::Filter, "INPUT");
    assert_eq!(input, vec![(1, 40), (0, 0)]);
    assert_eq!(policy, (1, 40));
}

#[test]
fn truncated_tcp_is_hotdropped() {
    let v4 = filter(
        Policy::Accept,
        vec![rule(tcp_ip(), vec![dport(22)], Target::Accept)],
        vec![],
        vec![],
    );
    let mut e = Engine::new(
        &v4,
        Ruleset::new(Family::V6),
        host(false),
        EngineConfig::default(),
    )
    .unwrap();
    let mut out = Outcome::new();
    let mut p = tcp(CLIENT, ME, 1, 22, 0, f::SYN, 0);
    p.truncate(20 + 10);
    p[2..4].copy_from_slice(&30u16.to_be_bytes());
    p[10] = 0;
    p[11] = 0;
    let c = etherparse::Ipv4HeaderSlice::from_slice(&p)
        .unwrap()
        .to_header()
        .calc_header_checksum();
    p[10..12].copy_from_slice(&c.to_be_bytes());
    e.receive(SEC, "eth0", &p, &mut out);
    assert_eq!(
        out.verdict,
        Verdict::Drop(DropReason::Hotdrop {
            hook: Hook::Input,
            table: TableId::Filter
        })
    );
}

fn forward_rules() -> Ruleset {
    let mut rs = Ruleset::new(Family::V4);
    let t = rs.table_mut(TableId::Filter);
    t.chain_mut("FORWARD").unwrap().rules = vec![rule(IpFilter::default(), vec![], Target::None)];
    rs
}

#[test]
fn forwarding_disabled_skips_forward_chain() {
    let rs = forward_rules();
    let mut e = Engine::new(
        &rs,
        Ruleset::new(Family::V6),
        host(false),
        EngineConfig::default(),
    )
    .unwrap();
    let mut out = Outcome::new();
    e.receive(
        SEC,
        "eth1",
        &udp([10, 9, 0, 5], [8, 8, 8, 8], 1, 53, b""),
        &mut out,
    );
    assert_eq!(out.verdict, Verdict::Drop(DropReason::NotForwarding));
    let (rules, _) = counters(&e, TableId::Filter, "FORWARD");
    assert_eq!(rules, vec![(0, 0)]);
}

#[test]
fn forwarding_decrements_ttl_before_forward() {
    let mut rs = forward_rules();
    rs.table_mut(TableId::Filter)
        .chain_mut("FORWARD")
        .unwrap()
        .rules
        .push(rule(
            IpFilter::default(),
            vec![Match::Ttl(palisade_model::matches::TtlMatch {
                op: palisade_model::matches::TtlOp::Eq,
                value: 63,
            })],
            Target::Accept,
        ));
    let mut e = Engine::new(
        &rs,
        Ruleset::new(Family::V6),
        host(true),
        EngineConfig::default(),
    )
    .unwrap();
    let mut out = Outcome::new();
    let p = udp([10, 9, 0, 5], [8, 8, 8, 8], 1, 53, b"q");
    e.receive(SEC, "eth1", &p, &mut out);
    assert_eq!(out.verdict, Verdict::Accept);
    assert!(out.forwarded);
    assert_eq!(out.out_iface, "eth0");
    assert_eq!(out.packet[8], 63);
    let h = etherparse::Ipv4HeaderSlice::from_slice(&out.packet).unwrap();
    assert_eq!(h.header_checksum(), h.to_header().calc_header_checksum());
    let (rules, _) = counters(&e, TableId::Filter, "FORWARD");
    assert_eq!(rules, vec![(1, 29), (1, 29)]);
}

#[test]
fn loopback_goes_through_output_and_input() {
    let mut e = stateful_host();
    let mut out = Outcome::new();
    let p = udp([127, 0, 0, 1], [127, 0, 0, 1], 5000, 53, b"x");
    e.send_local(SEC, &p, &mut out);
    assert_eq!(out.verdict, Verdict::Accept);
    assert!(out.delivered_local);
    let (input, _) = counters(&e, TableId::Filter, "INPUT");
    assert_eq!(input[0], (1, 29));
    let (output, _) = counters(&e, TableId::Filter, "OUTPUT");
    assert_eq!(output[1], (1, 29));
}

#[test]
fn nat_chains_see_only_first_packets() {
    let mut rs = filter(Policy::Accept, vec![], vec![], vec![]);
    let nat = rs.table_mut(TableId::Nat);
    nat.chain_mut("PREROUTING").unwrap().rules =
        vec![rule(IpFilter::default(), vec![], Target::None)];
    nat.chain_mut("INPUT").unwrap().rules = vec![rule(IpFilter::default(), vec![], Target::None)];
    let mut e = Engine::new(
        &rs,
        Ruleset::new(Family::V6),
        host(false),
        EngineConfig::default(),
    )
    .unwrap();
    let mut out = Outcome::new();
    for i in 0..3 {
        e.receive(SEC + i, "eth0", &udp(CLIENT, ME, 5000, 53, b"x"), &mut out);
        assert_eq!(out.verdict, Verdict::Accept);
    }
    let (pre, _) = counters(&e, TableId::Nat, "PREROUTING");
    let (inp, _) = counters(&e, TableId::Nat, "INPUT");
    assert_eq!(pre, vec![(1, 29)]);
    assert_eq!(inp, vec![(1, 29)]);
}

#[test]
fn refuses_reject_outside_filter() {
    let mut rs = Ruleset::new(Family::V4);
    rs.table_mut(TableId::Mangle)
        .chain_mut("INPUT")
        .unwrap()
        .rules = vec![rule(
        IpFilter::default(),
        vec![],
        Target::Reject(RejectWith::IcmpPortUnreachable),
    )];
    let err = Engine::new(
        &rs,
        Ruleset::new(Family::V6),
        host(false),
        EngineConfig::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.kind,
        palisade_engine::CompileErrorKind::TargetTable("REJECT", "filter")
    );
    // tcp-reset needs -p tcp.
    let mut rs = Ruleset::new(Family::V4);
    rs.table_mut(TableId::Filter)
        .chain_mut("INPUT")
        .unwrap()
        .rules = vec![rule(
        IpFilter::default(),
        vec![],
        Target::Reject(RejectWith::TcpReset),
    )];
    assert!(Engine::new(
        &rs,
        Ruleset::new(Family::V6),
        host(false),
        EngineConfig::default()
    )
    .is_err());
}

#[test]
fn replace_rules_keeps_conntrack() {
    let mut e = stateful_host();
    let mut out = Outcome::new();
    e.send_local(SEC, &udp(ME, CLIENT, 5000, 53, b"q"), &mut out);
    let only_est = filter(
        Policy::Drop,
        vec![rule(
            IpFilter::default(),
            vec![state(ct_state::ESTABLISHED)],
            Target::Accept,
        )],
        vec![],
        vec![],
    );
    e.replace_rules(&only_est, Ruleset::new(Family::V6))
        .unwrap();
    e.receive(2 * SEC, "eth0", &udp(CLIENT, ME, 53, 5000, b"a"), &mut out);
    assert_eq!(out.verdict, Verdict::Accept);
    assert_eq!(out.ct, palisade_engine::CtState::EstablishedReply);
}

#[test]
fn udp_match_and_source_filter() {
    let r = rule(
        IpFilter {
            proto: 17,
            src: Some(AddrMask::from_prefix("192.168.1.0".parse().unwrap(), 24)),
            ..Default::default()
        },
        vec![Match::Udp(UdpMatch {
            dport: PortRange::single(53),
            ..Default::default()
        })],
        Target::Drop,
    );
    let v4 = filter(Policy::Accept, vec![r], vec![], vec![]);
    let mut e = Engine::new(
        &v4,
        Ruleset::new(Family::V6),
        host(false),
        EngineConfig::default(),
    )
    .unwrap();
    let mut out = Outcome::new();
    e.receive(SEC, "eth0", &udp(CLIENT, ME, 1, 53, b""), &mut out);
    assert!(out.verdict.is_drop());
    e.receive(SEC, "eth0", &udp([10, 0, 0, 1], ME, 1, 53, b""), &mut out);
    assert!(out.verdict.is_accept());
}

#[test]
fn ttl_expiry_sends_time_exceeded_through_output() {
    let mut rs = forward_rules();
    rs.table_mut(TableId::Filter)
        .chain_mut("OUTPUT")
        .unwrap()
        .rules = vec![rule(
        IpFilter::default(),
        vec![state(ct_state::RELATED)],
        Target::None,
    )];
    let mut e = Engine::new(
        &rs,
        Ruleset::new(Family::V6),
        host(true),
        EngineConfig::default(),
    )
    .unwrap();
    let mut out = Outcome::new();
    let mut p = udp([10, 9, 0, 5], [8, 8, 8, 8], 1, 53, b"q");
    p[8] = 1;
    p[10] = 0;
    p[11] = 0;
    let c = etherparse::Ipv4HeaderSlice::from_slice(&p)
        .unwrap()
        .to_header()
        .calc_header_checksum();
    p[10..12].copy_from_slice(&c.to_be_bytes());
    e.receive(SEC, "eth1", &p, &mut out);
    assert_eq!(out.verdict, Verdict::Drop(DropReason::TtlExpired));
    assert_eq!(out.emitted.len(), 1);
    let em = &out.emitted[0];
    assert_eq!(em.out_iface, "eth1");
    assert_eq!(&em.packet[12..16], &[10, 9, 0, 1]);
    assert_eq!(&em.packet[20..22], &[11, 0]);
    // FORWARD never saw it; OUTPUT saw the error as RELATED.
    assert_eq!(counters(&e, TableId::Filter, "FORWARD").0, vec![(0, 0)]);
    assert_eq!(
        counters(&e, TableId::Filter, "OUTPUT").0,
        vec![(1, 20 + 8 + 29)]
    );
}

#[test]
fn martians_are_dropped_after_prerouting() {
    let mut rs = Ruleset::new(Family::V4);
    rs.table_mut(TableId::Raw)
        .chain_mut("PREROUTING")
        .unwrap()
        .rules = vec![rule(IpFilter::default(), vec![], Target::None)];
    let mut e = Engine::new(
        &rs,
        Ruleset::new(Family::V6),
        host(false),
        EngineConfig::default(),
    )
    .unwrap();
    let mut out = Outcome::new();
    e.receive(SEC, "eth0", &udp([127, 0, 0, 1], ME, 1, 2, b""), &mut out);
    assert_eq!(out.verdict, Verdict::Drop(DropReason::Martian));
    // DHCP-style broadcast from 0.0.0.0 is fine.
    e.receive(
        SEC,
        "eth0",
        &udp([0, 0, 0, 0], [255, 255, 255, 255], 68, 67, b""),
        &mut out,
    );
    assert_eq!(out.verdict, Verdict::Accept);
    assert!(out.delivered_local);
    let (raw, _) = counters(&e, TableId::Raw, "PREROUTING");
    assert_eq!(raw[0].0, 2);
}

/// ip_forward's MTU check: a DF datagram over the out MTU is refused before
/// FORWARD with frag-needed, unless it is a GRO/GSO aggregate (NFQUEUE hands
/// those over whole), which the kernel checks per segment.
#[test]
fn forward_mtu_check_spares_gso_aggregates() {
    let rs = forward_rules();
    let mut e = Engine::new(
        &rs,
        Ruleset::new(Family::V6),
        host(true),
        EngineConfig::default(),
    )
    .unwrap();
    let mut big = udp([10, 9, 0, 5], [8, 8, 8, 8], 1000, 53, &[0u8; 3000]);
    big[6] |= 0x40; // DF
    let h = etherparse::Ipv4HeaderSlice::from_slice(&big).unwrap();
    let sum = h.to_header().calc_header_checksum().to_be_bytes();
    big[10..12].copy_from_slice(&sum);
    let mut out = Outcome::new();
    e.receive(SEC, "eth1", &big, &mut out);
    assert_eq!(out.verdict, Verdict::Drop(DropReason::TooBig));
    let (rules, _) = counters(&e, TableId::Filter, "FORWARD");
    assert_eq!(rules, vec![(0, 0)]);

    let rx = palisade_engine::RxInfo {
        l2: None,
        gso: true,
    };
    e.receive_with(2 * SEC, "eth1", rx, &big, &mut out);
    assert_eq!(out.verdict, Verdict::Accept);
    assert!(out.forwarded);
    let (rules, _) = counters(&e, TableId::Filter, "FORWARD");
    assert_eq!(rules, vec![(1, 3028)]);
}

//! `cargo bench -p palisade-engine --bench eval`: packets per second through
//! the whole pipeline (conntrack + tables) for established flows, and new
//! connections per second against 10, 1k, 10k and 100k rules. Plain std
//! timing (no harness dependency); numbers are indicative on a shared box.

use std::hint::black_box;
use std::time::Instant;

use etherparse::PacketBuilder;
use palisade_engine::{Engine, EngineConfig, Host, Interface, Outcome};
use palisade_model::matches::{PortRange, StateMatch, TcpMatch};
use palisade_model::{AddrMask, Family, IpFilter, Match, Policy, Rule, Ruleset, TableId, Target};

fn host() -> Host {
    Host {
        interfaces: vec![Interface::up(
            "eth0",
            2,
            &[("10.0.0.1".parse().unwrap(), 8)],
        )],
        routes: vec![],
        forwarding_v4: false,
        forwarding_v6: false,
    }
}

fn ruleset(n: usize) -> Ruleset {
    let mut rs = Ruleset::new(Family::V4);
    let t = rs.table_mut(TableId::Filter);
    let input = t.chain_mut("INPUT").unwrap();
    input.policy = Some(Policy::Drop);
    input.rules.push(Rule::new(
        IpFilter::default(),
        vec![Match::State(StateMatch {
            mask: palisade_model::matches::ct_state::ESTABLISHED,
            invert: false,
        })],
        Target::Accept,
    ));
    for i in 0..n {
        let src = std::net::Ipv4Addr::from(0xc0a8_0000u32 + i as u32);
        input.rules.push(Rule::new(
            IpFilter {
                proto: 6,
                src: Some(AddrMask::from_prefix(src.into(), 32)),
                ..Default::default()
            },
            vec![Match::Tcp(TcpMatch {
                dport: PortRange::single(1000 + (i % 5000) as u16),
                ..Default::default()
            })],
            Target::Accept,
        ));
    }
    input.rules.push(Rule::new(
        IpFilter {
            proto: 6,
            ..Default::default()
        },
        vec![Match::Tcp(TcpMatch {
            dport: PortRange::single(80),
            ..Default::default()
        })],
        Target::Accept,
    ));
    rs
}

fn tcp(src: [u8; 4], sport: u16, syn: bool) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(src, [10, 0, 0, 1], 64).tcp(sport, 80, 1, 64240);
    b = if syn { b.syn() } else { b.ack(1) };
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

fn engine(rules: usize) -> Engine {
    let mut cfg = EngineConfig::default();
    cfg.set_sysctl("net.netfilter.nf_conntrack_max", "4000000")
        .unwrap();
    cfg.set_sysctl("net.netfilter.nf_conntrack_tcp_be_liberal", "1")
        .unwrap();
    Engine::new(ruleset(rules), Ruleset::new(Family::V6), host(), cfg).unwrap()
}

fn established() {
    let mut e = engine(10);
    let mut out = Outcome::new();
    e.receive(1, "eth0", &tcp([10, 1, 1, 1], 40000, true), &mut out);
    assert!(out.verdict.is_accept());
    let mut synack = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 1, 1, 1], 64)
        .tcp(80, 40000, 7, 64240)
        .syn()
        .ack(2)
        .write(&mut synack, &[])
        .unwrap();
    e.send_local(2, &synack, &mut out);
    let ack = tcp([10, 1, 1, 1], 40000, false);
    let n = 1_000_000u64;
    let t0 = Instant::now();
    for i in 0..n {
        e.receive(1000 + i, "eth0", black_box(&ack), &mut out);
    }
    let dt = t0.elapsed();
    assert!(out.verdict.is_accept());
    println!(
        "established: {:.1} ns/packet ({:.2} Mpps)",
        dt.as_nanos() as f64 / n as f64,
        n as f64 / dt.as_secs_f64() / 1e6
    );
}

fn new_conns(rules: usize) -> f64 {
    let mut e = engine(rules);
    let mut out = Outcome::new();
    let n = 200_000u32;
    let pkts: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            tcp(
                [10, 2, (i >> 16) as u8, (i >> 8) as u8],
                1024 + (i & 0xff) as u16 * 200 + (i >> 24) as u16,
                true,
            )
        })
        .collect();
    let t0 = Instant::now();
    for (i, p) in pkts.iter().enumerate() {
        e.receive(1000 + i as u64, "eth0", p, &mut out);
    }
    let dt = t0.elapsed();
    assert!(out.verdict.is_accept());
    let rate = f64::from(n) / dt.as_secs_f64();
    println!("new connections, {rules:>6} rules: {:.0} conn/s", rate);
    rate
}

fn main() {
    established();
    if std::env::var_os("PALISADE_BENCH_ESTABLISHED_ONLY").is_some() {
        return;
    }
    let base = new_conns(10);
    for r in [1_000, 10_000, 100_000] {
        let rate = new_conns(r);
        println!("    {:.0}% of the 10-rule rate", 100.0 * rate / base);
    }
}

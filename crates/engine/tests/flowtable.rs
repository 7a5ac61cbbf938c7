//! The flowtable must be invisible: the same traffic through an engine with
//! it and one without gives the same outcome for every packet (verdict,
//! ctstate, bytes out, replies, log lines) and the same counters, while the
//! flowtable does serve packets. Rulesets mix flow-invariant rules with
//! every kind that must keep established packets on the full walk (length,
//! TCP flags, TTL, limit, recent, LOG, MARK, CONNMARK, REJECT, ctexpire).

use etherparse::PacketBuilder;
use palisade_engine::{Engine, EngineConfig, Host, Interface, Outcome, Route, RxInfo, TxInfo};
use palisade_model::{Family, Ruleset};

const MS: u64 = 1_000_000;

fn host() -> Host {
    let ip = |s: &str| s.parse().unwrap();
    Host {
        interfaces: vec![
            Interface::up("lo", 1, &[(ip("127.0.0.1"), 8)]),
            Interface::up("eth0", 2, &[(ip("10.0.0.2"), 24)]),
            Interface::up("eth1", 3, &[(ip("192.168.1.1"), 24)]),
        ],
        routes: vec![Route::default_via(ip("10.0.0.254"), "eth0")],
        forwarding_v4: true,
        forwarding_v6: false,
    }
}

const RULESETS: &[&str] = &[
    // The workstation shape: established first, then per-port rules.
    "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
     -A INPUT -s 10.0.0.10/32 -j LOG --log-prefix \"ten: \"\n\
     -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
     -A INPUT -i lo -j ACCEPT\n\
     -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n\
     -A INPUT -p udp -m udp --dport 53 -j ACCEPT\n\
     -A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT\n\
     -A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT\n\
     -A FORWARD -i eth1 -o eth0 -j ACCEPT\n\
     COMMIT\n",
    // User chains; per-packet matches (each for a few clients only, so the
    // others' paths are remembered) before the established rule; a REJECT
    // some established packets reach; ctstatus, ctexpire.
    "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT DROP [0:0]\n:TCP - [0:0]\n:UDP - [0:0]\n:LOGDROP - [0:0]\n\
     -A INPUT -s 10.0.0.3/32 -p tcp -m tcp --tcp-flags PSH PSH\n\
     -A INPUT -s 10.0.0.4/32 -m ttl --ttl-lt 20\n\
     -A INPUT -s 10.0.0.5/32 -m limit --limit 20/sec --limit-burst 2\n\
     -A INPUT -s 10.0.0.8/31 -p tcp -m recent --name hot --rcheck --seconds 1\n\
     -A INPUT -s 10.0.0.6/31 -m length --length 1000:65535 -j LOGDROP\n\
     -A INPUT -m conntrack --ctstate ESTABLISHED --ctstatus ASSURED -j ACCEPT\n\
     -A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n\
     -A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j TCP\n\
     -A INPUT -p udp -j UDP\n\
     -A INPUT -p tcp -j REJECT --reject-with tcp-reset\n\
     -A TCP -p tcp -m tcp --dport 22 -j ACCEPT\n\
     -A TCP -p tcp -m tcp --dport 80 -j ACCEPT\n\
     -A UDP -p udp -m udp --dport 53 -j ACCEPT\n\
     -A UDP -m state --state ESTABLISHED -j RETURN\n\
     -A LOGDROP -m limit --limit 5/sec -j LOG --log-prefix \"big: \"\n\
     -A LOGDROP -j DROP\n\
     -A FORWARD -s 192.168.1.10/32 -m ttl --ttl-lt 10 -j DROP\n\
     -A FORWARD -p tcp -m tcp --sport 80 -m conntrack --ctexpire 0:100 -j ACCEPT\n\
     -A OUTPUT -d 10.0.0.5/32 -m length --length 0:60\n\
     -A OUTPUT -m length --length 1000:65535 -m recent --name hot --rdest --set\n\
     -A OUTPUT -m state --state NEW,ESTABLISHED -j ACCEPT\n\
     -A OUTPUT -p udp -m udp --sport 53 -j ACCEPT\n\
     COMMIT\n",
    // mangle marks, connmark, recent, goto, and a DROP for one client.
    "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
     -A PREROUTING -p tcp -m tcp --dport 22 -j CONNMARK --set-mark 0x7\n\
     -A PREROUTING -s 10.0.0.9/32 -j MARK --set-mark 0x1\n\
     -A OUTPUT -p udp -j MARK --set-mark 0x2\n\
     -A OUTPUT -m length --length 1000:65535 -j CONNMARK --set-mark 0x9\n\
     -A POSTROUTING -o eth0\n\
     COMMIT\n\
     *filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:WEB - [0:0]\n\
     -A INPUT -s 10.0.0.7/32 -j DROP\n\
     -A INPUT -m connmark --mark 0x9\n\
     -A INPUT -m connmark --mark 0x7 -j ACCEPT\n\
     -A INPUT -m mark --mark 0x1 -j ACCEPT\n\
     -A INPUT -p tcp -m tcp --dport 80 -g WEB\n\
     -A INPUT -p udp -m recent --name dns --set\n\
     -A WEB -m recent --name web --rcheck --seconds 1 -j DROP\n\
     -A WEB -j ACCEPT\n\
     -A FORWARD -i eth1 -j ACCEPT\n\
     -A FORWARD -i eth0 -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j ACCEPT\n\
     -A OUTPUT -m mark --mark 0x2 -j ACCEPT\n\
     -A OUTPUT -o eth0 -p tcp -m multiport --sports 22,80\n\
     COMMIT\n",
];

/// xorshift64: reproducible traffic without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy)]
enum Kind {
    /// A client on eth0 talking to the host.
    Local,
    /// A client behind eth1 talking to a server beyond eth0.
    Forward,
    /// The host talking to a server beyond eth0.
    Outbound,
}

struct Flow {
    kind: Kind,
    proto: u8,
    client: [u8; 4],
    server: [u8; 4],
    cport: u16,
    sport: u16,
    cseq: u32,
    sseq: u32,
    step: u32,
    /// Send a RST next, then open the same tuple again (a SYN on the closed
    /// entry: conntrack kills it and tracks a new one).
    reset: bool,
}

enum Op {
    Receive(&'static str, Vec<u8>),
    Send(Vec<u8>, u32),
}

fn build(
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    f: &Flow,
    to_server: bool,
    flags: u8,
    len: usize,
) -> Vec<u8> {
    let (sp, dp) = if to_server {
        (f.cport, f.sport)
    } else {
        (f.sport, f.cport)
    };
    let payload = vec![0x61; len];
    let mut v = Vec::new();
    let b = PacketBuilder::ipv4(src, dst, ttl);
    match f.proto {
        6 => {
            let (seq, ack) = if to_server {
                (f.cseq, f.sseq)
            } else {
                (f.sseq, f.cseq)
            };
            let mut t = b.tcp(sp, dp, seq, 64000);
            if flags & 2 != 0 {
                t = t.syn();
            }
            if flags & 0x10 != 0 {
                t = t.ack(ack);
            }
            if flags & 1 != 0 {
                t = t.fin();
            }
            if flags & 4 != 0 {
                t = t.rst();
            }
            if flags & 8 != 0 {
                t = t.psh();
            }
            t.write(&mut v, &payload).unwrap();
        }
        17 => b.udp(sp, dp).write(&mut v, &payload).unwrap(),
        _ => {
            let t = if to_server {
                b.icmpv4_echo_request(f.cport, f.step as u16)
            } else {
                b.icmpv4_echo_reply(f.cport, f.step as u16)
            };
            t.write(&mut v, &payload).unwrap()
        }
    }
    v
}

impl Flow {
    /// The next packet of the flow, advancing its sequence numbers.
    fn next_op(&mut self, rng: &mut Rng) -> Op {
        if self.reset && self.proto == 6 && self.step > 1 {
            self.reset = false;
            let rst = build(self.client, self.server, 64, self, true, 4, 0);
            self.step = 0;
            self.cseq = rng.next() as u32;
            self.sseq = rng.next() as u32;
            return match self.kind {
                Kind::Local => Op::Receive("eth0", rst),
                Kind::Forward => Op::Receive("eth1", rst),
                Kind::Outbound => Op::Send(rst, 0),
            };
        }
        let to_server = self.step == 0 || rng.below(2) == 0;
        let first = self.step == 0;
        let second = self.step == 1;
        self.step += 1;
        let (flags, len) = match (self.proto, first, second) {
            (6, true, _) => (2, 0),
            (6, _, true) => (0x12, 0),
            (6, _, _) => {
                let len = match rng.below(10) {
                    0 => 1400,
                    1 => 0,
                    _ => 1 + rng.below(200) as usize,
                };
                (if rng.below(3) == 0 { 0x18 } else { 0x10 }, len)
            }
            _ => (
                0,
                match rng.below(8) {
                    0 => 1200,
                    _ => rng.below(100) as usize,
                },
            ),
        };
        let to_server = if self.proto == 6 && second {
            false
        } else {
            to_server
        };
        let ttl = if rng.below(25) == 0 {
            1 + rng.below(12) as u8
        } else {
            64
        };
        let (src, dst) = if to_server {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let mut pkt = build(src, dst, ttl, self, to_server, flags, len);
        if rng.below(30) == 0 {
            // Don't-fragment off on a big forwarded packet: fragmented, not refused.
            pkt[6] &= !0x40;
            let c = etherparse::Ipv4HeaderSlice::from_slice(&pkt)
                .unwrap()
                .to_header();
            let c = c.calc_header_checksum();
            pkt[10..12].copy_from_slice(&c.to_be_bytes());
        }
        let adv = (len + usize::from(flags & 3 != 0)) as u32;
        if self.proto == 6 {
            if to_server {
                self.cseq = self.cseq.wrapping_add(adv);
            } else {
                self.sseq = self.sseq.wrapping_add(adv);
            }
        }
        let mark = if rng.below(10) == 0 { 3 } else { 0 };
        match (self.kind, to_server) {
            (Kind::Local, true) => Op::Receive("eth0", pkt),
            (Kind::Local, false) => Op::Send(pkt, mark),
            (Kind::Forward, true) => Op::Receive("eth1", pkt),
            (Kind::Forward, false) => Op::Receive("eth0", pkt),
            (Kind::Outbound, true) => Op::Send(pkt, mark),
            (Kind::Outbound, false) => Op::Receive("eth0", pkt),
        }
    }
}

fn new_flow(rng: &mut Rng, i: u32) -> Flow {
    let kind = match rng.below(3) {
        0 => Kind::Local,
        1 => Kind::Forward,
        _ => Kind::Outbound,
    };
    let proto = [6, 6, 6, 17, 1][rng.below(5) as usize];
    let (client, server) = match kind {
        Kind::Local => ([10, 0, 0, 3 + rng.below(8) as u8], [10, 0, 0, 2]),
        Kind::Forward => ([192, 168, 1, 10 + rng.below(4) as u8], [198, 51, 100, 1]),
        Kind::Outbound => ([10, 0, 0, 2], [198, 51, 100, 2 + rng.below(3) as u8]),
    };
    let sport = [22, 80, 53, 443, 8080][rng.below(5) as usize];
    Flow {
        kind,
        proto,
        client,
        server,
        cport: 20000 + (i % 40000) as u16,
        sport,
        cseq: rng.next() as u32,
        sseq: rng.next() as u32,
        step: 0,
        reset: false,
    }
}

fn engine(text: &str, flowtable: bool) -> Engine {
    let v4 = palisade_rules::parse_restore(text, "t.rules", Family::V4).expect("ruleset");
    let cfg = EngineConfig {
        flowtable,
        ..Default::default()
    };
    Engine::new(v4, Ruleset::new(Family::V6), host(), cfg).expect("compile")
}

fn same(a: &Outcome, b: &Outcome, what: &str) {
    assert_eq!(a.verdict, b.verdict, "{what}: verdict");
    assert_eq!(a.ct, b.ct, "{what}: ctstate");
    assert_eq!(a.delivered_local, b.delivered_local, "{what}: delivered");
    assert_eq!(a.forwarded, b.forwarded, "{what}: forwarded");
    assert_eq!(a.out_iface, b.out_iface, "{what}: oif");
    assert_eq!(a.packet, b.packet, "{what}: packet");
    assert_eq!(a.emitted, b.emitted, "{what}: emitted");
    assert_eq!(a.logs, b.logs, "{what}: logs");
}

#[test]
fn flowtable_changes_no_outcome_and_no_counter() {
    for (n, text) in RULESETS.iter().enumerate() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ n as u64);
        let (mut fast, mut slow) = (engine(text, true), engine(text, false));
        let (mut a, mut b) = (Outcome::new(), Outcome::new());
        let mut flows: Vec<Flow> = (0..40).map(|i| new_flow(&mut rng, i)).collect();
        let mut now = 1_000 * MS;
        for k in 0..20_000u32 {
            now += rng.below(3 * MS);
            let i = rng.below(flows.len() as u64) as usize;
            if rng.below(200) == 0 {
                flows[i] = new_flow(&mut rng, 40 + k);
            } else if rng.below(150) == 0 {
                flows[i].reset = true;
            }
            if rng.below(4000) == 0 {
                // Long enough for UDP, ICMP and closing TCP entries to
                // expire: the same tuples then open new entries.
                now += 200_000 * MS;
            }
            let what = format!("ruleset {n}, packet {k}");
            match flows[i].next_op(&mut rng) {
                Op::Receive(iif, p) => {
                    fast.receive_with(now, iif, RxInfo::default(), &p, &mut a);
                    slow.receive_with(now, iif, RxInfo::default(), &p, &mut b);
                }
                Op::Send(p, mark) => {
                    let tx = TxInfo {
                        mark,
                        ..Default::default()
                    };
                    fast.send_local_with(now, tx, &p, &mut a);
                    slow.send_local_with(now, tx, &p, &mut b);
                }
            }
            same(&a, &b, &what);
            if k == 10_000 && n == 0 {
                // New rules forget every remembered path.
                let rs = palisade_rules::parse_restore(RULESETS[1], "t.rules", Family::V4).unwrap();
                fast.replace_rules(&rs, Ruleset::new(Family::V6)).unwrap();
                slow.replace_rules(&rs, Ruleset::new(Family::V6)).unwrap();
            }
        }
        let (fa, sa) = (fast.save_counters(), slow.save_counters());
        let opts = palisade_rules::SaveOptions {
            counters: true,
            header: None,
        };
        let text = palisade_rules::save(&fa.0, &opts);
        assert_eq!(
            text,
            palisade_rules::save(&sa.0, &opts),
            "ruleset {n}: counters"
        );
        // The traffic exercised the rules (not a run where all was dropped).
        let st = fast.flowtable_stats();
        assert!(st.hits > 1_000, "ruleset {n}: the flowtable served {st:?}");
        assert_eq!(slow.flowtable_stats().hits, 0);
    }
}

/// A TCP segment between the client 10.0.0.9:40000 and the host's port 22.
fn ssh(to_host: bool, syn: bool, seq: u32, ack: Option<u32>) -> Vec<u8> {
    let (src, dst, sp, dp) = if to_host {
        ([10, 0, 0, 9], [10, 0, 0, 2], 40000, 22)
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 9], 22, 40000)
    };
    let mut t = PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, seq, 64000);
    if syn {
        t = t.syn();
    }
    if let Some(a) = ack {
        t = t.ack(a);
    }
    let mut v = Vec::new();
    t.write(&mut v, b"").unwrap();
    v
}

struct Steps(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl palisade_engine::Observer for Steps {
    fn step(&mut self, _: &palisade_engine::TraceEvent<'_>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Tracing or an observer wants every step: turning either on after paths
/// were remembered sends established packets back to the full walk, and
/// turning it off lets the flowtable serve them again.
#[test]
fn tracing_and_observers_bypass_the_flowtable() {
    let mut e = engine(RULESETS[0], true);
    let mut o = Outcome::new();
    let mut now = 1_000 * MS;
    e.receive(now, "eth0", &ssh(true, true, 100, None), &mut o);
    e.send_local(now, &ssh(false, true, 500, Some(101)), &mut o);
    let mut established = |e: &mut Engine, o: &mut Outcome| {
        now += MS;
        e.receive(now, "eth0", &ssh(true, false, 101, Some(501)), o);
        assert_eq!(o.verdict, palisade_engine::Verdict::Accept);
        e.flowtable_stats().hits
    };
    established(&mut e, &mut o);
    let served = established(&mut e, &mut o);
    assert!(served > 0, "the flowtable serves the flow");

    e.set_trace(true);
    assert_eq!(established(&mut e, &mut o), served, "traced: full walk");
    assert!(!o.trace.is_empty(), "the walk was traced");
    e.set_trace(false);
    assert_eq!(established(&mut e, &mut o), served + 1);

    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    e.set_observer(Some(Box::new(Steps(seen.clone()))));
    assert_eq!(
        established(&mut e, &mut o),
        served + 1,
        "observed: full walk"
    );
    assert!(seen.load(std::sync::atomic::Ordering::Relaxed) > 0);
    e.set_observer(None);
    assert_eq!(established(&mut e, &mut o), served + 2);
}

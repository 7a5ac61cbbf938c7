//! Transition-family tests for the tracker, with packets built by etherparse.
#![allow(clippy::field_reassign_with_default)]

use etherparse::PacketBuilder;
use palisade_wire::PacketMeta;

use super::*;

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];
const MS: Nanos = 1_000_000;

/// A TCP segment A:40000 → B:80 (or back when `rev`) with flags "SAFRPU".
fn tcp(rev: bool, flags: &str, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    let (s, d, sp, dp) = if rev {
        (B, A, 80, 40000)
    } else {
        (A, B, 40000, 80)
    };
    let mut b = PacketBuilder::ipv4(s, d, 64).tcp(sp, dp, seq, 64000);
    for f in flags.chars() {
        b = match f {
            'S' => b.syn(),
            'A' => b.ack(ack),
            'F' => b.fin(),
            'R' => b.rst(),
            'P' => b.psh(),
            'U' => b.urg(0),
            _ => b,
        };
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

fn udp(rev: bool) -> Vec<u8> {
    let (s, d, sp, dp) = if rev {
        (B, A, 53, 5000)
    } else {
        (A, B, 5000, 53)
    };
    let mut out = Vec::new();
    PacketBuilder::ipv4(s, d, 64)
        .udp(sp, dp)
        .write(&mut out, b"q")
        .unwrap();
    out
}

struct T {
    ct: Conntrack,
}

impl T {
    fn new() -> T {
        T::with(CtConfig::default())
    }
    fn with(cfg: CtConfig) -> T {
        T {
            ct: Conntrack::new(cfg),
        }
    }
    /// Runs one packet through PREROUTING → confirm, as a forwarded packet.
    fn send(&mut self, now: Nanos, p: &[u8]) -> CtResult {
        let m = PacketMeta::parse(p).unwrap();
        let r = self.ct.packet_in(now, p, &m, false, None);
        if !r.drop {
            assert!(self.ct.confirm_packet(&r, now));
        }
        r
    }
    fn info(&mut self, now: Nanos, p: &[u8]) -> CtInfo {
        self.send(now, p).info
    }
    fn conn(&self, r: &CtResult) -> Conn {
        self.ct.get(r.handle.unwrap()).unwrap()
    }
}

fn handshake(t: &mut T) -> CtResult {
    assert_eq!(t.info(0, &tcp(false, "S", 100, 0, b"")), CtInfo::New);
    assert_eq!(
        t.info(MS, &tcp(true, "SA", 500, 101, b"")),
        CtInfo::EstablishedReply
    );
    t.send(2 * MS, &tcp(false, "A", 101, 501, b""))
}

#[test]
fn three_way_handshake_established_assured() {
    let mut t = T::new();
    let r = handshake(&mut t);
    assert_eq!(r.info, CtInfo::Established);
    let c = t.conn(&r);
    assert_eq!(c.tcp_state(), Some(TcpState::Established));
    assert!(c
        .status
        .has(Status::ASSURED | Status::SEEN_REPLY | Status::CONFIRMED));
    assert_eq!(c.expires, 2 * MS + 432_000 * SEC);
    // Data both ways stays ESTABLISHED; unacked data caps at 300 s.
    let r = t.send(3 * MS, &tcp(false, "PA", 101, 501, b"GET /"));
    assert_eq!(r.info, CtInfo::Established);
    assert_eq!(t.conn(&r).expires, 3 * MS + 300 * SEC);
    let r = t.send(4 * MS, &tcp(true, "A", 501, 106, b""));
    assert_eq!(r.info, CtInfo::EstablishedReply);
    assert_eq!(t.conn(&r).expires, 4 * MS + 432_000 * SEC);
    assert_eq!(t.ct.len(), 1);
}

#[test]
fn syn_retransmit_does_not_refresh() {
    let mut t = T::new();
    let r = t.send(0, &tcp(false, "S", 100, 0, b""));
    assert_eq!(t.conn(&r).expires, 120 * SEC);
    let r = t.send(SEC, &tcp(false, "S", 100, 0, b""));
    assert_eq!(r.info, CtInfo::New);
    assert_eq!(t.conn(&r).expires, 120 * SEC);
}

#[test]
fn loose_pickup() {
    let mut t = T::new();
    let r = t.send(0, &tcp(false, "A", 1000, 2000, b"xx"));
    assert_eq!(r.info, CtInfo::New);
    let c = t.conn(&r);
    assert_eq!(c.tcp_state(), Some(TcpState::Established));
    assert_eq!(c.expires, 300 * SEC);
    // The reply makes it ESTABLISHED and ASSURED.
    let r = t.send(MS, &tcp(true, "A", 2000, 1002, b""));
    assert_eq!(r.info, CtInfo::EstablishedReply);
    let r = t.send(2 * MS, &tcp(false, "A", 1002, 2000, b""));
    assert_eq!(r.info, CtInfo::Established);
    assert!(t.conn(&r).status.has(Status::ASSURED));

    let mut cfg = CtConfig::default();
    cfg.set_sysctl("net.netfilter.nf_conntrack_tcp_loose", "0")
        .unwrap();
    let mut t = T::with(cfg);
    assert_eq!(
        t.info(0, &tcp(false, "A", 1000, 2000, b"")),
        CtInfo::Invalid
    );
    assert_eq!(t.ct.len(), 0);
}

#[test]
fn bad_flags_invalid() {
    let mut t = T::new();
    for f in ["", "FPU", "SF", "F", "SR"] {
        assert_eq!(
            t.info(0, &tcp(false, f, 1, 0, b"")),
            CtInfo::Invalid,
            "flags {f:?}"
        );
    }
    // SYN-ACK, FIN-ACK, RST without an entry.
    for f in ["SA", "FA", "R", "RA"] {
        assert_eq!(
            t.info(0, &tcp(false, f, 1, 1, b"")),
            CtInfo::Invalid,
            "flags {f:?}"
        );
    }
    assert_eq!(t.ct.len(), 0);
    assert_eq!(t.ct.stats().invalid, 9);
}

#[test]
fn bad_checksum_only_at_prerouting() {
    let mut t = T::new();
    let mut p = tcp(false, "S", 1, 0, b"");
    p[36] ^= 0x55;
    let m = PacketMeta::parse(&p).unwrap();
    assert_eq!(t.ct.packet_in(0, &p, &m, false, None).info, CtInfo::Invalid);
    assert_eq!(t.ct.packet_in(0, &p, &m, true, None).info, CtInfo::New);
}

#[test]
fn out_of_window_invalid() {
    let mut t = T::new();
    handshake(&mut t);
    // Far beyond the receiver's window.
    assert_eq!(
        t.info(3 * MS, &tcp(false, "A", 101 + 10_000_000, 501, b"x")),
        CtInfo::Invalid
    );
    // ACK of data never sent.
    assert_eq!(
        t.info(3 * MS, &tcp(false, "A", 101, 501 + 1_000_000, b"")),
        CtInfo::Invalid
    );
    // An in-window segment is still fine.
    assert_eq!(
        t.info(4 * MS, &tcp(false, "A", 101, 501, b"")),
        CtInfo::Established
    );
    // be_liberal accepts it.
    let mut cfg = CtConfig::default();
    cfg.tcp_be_liberal = true;
    let mut t = T::with(cfg);
    handshake(&mut t);
    assert_eq!(
        t.info(3 * MS, &tcp(false, "A", 101 + 10_000_000, 501, b"x")),
        CtInfo::Established
    );
}

#[test]
fn ack_in_syn_sent_invalid_and_reply_syn_simultaneous() {
    let mut t = T::new();
    t.send(0, &tcp(false, "S", 100, 0, b""));
    assert_eq!(t.info(MS, &tcp(false, "A", 101, 5, b"")), CtInfo::Invalid);
    let r = t.send(MS, &tcp(true, "S", 700, 0, b""));
    assert_eq!(r.info, CtInfo::EstablishedReply);
    assert_eq!(t.conn(&r).tcp_state(), Some(TcpState::SynSent2));
}

#[test]
fn rst_closes() {
    let mut t = T::new();
    handshake(&mut t);
    let r = t.send(3 * MS, &tcp(true, "R", 501, 0, b""));
    assert_eq!(r.info, CtInfo::EstablishedReply);
    let c = t.conn(&r);
    assert_eq!(c.tcp_state(), Some(TcpState::Close));
    assert_eq!(c.expires, 3 * MS + 10 * SEC);
    // Expired after 10 s: a new ACK is a fresh pickup.
    assert_eq!(
        t.info(3 * MS + 11 * SEC, &tcp(false, "A", 101, 501, b"")),
        CtInfo::New
    );
}

#[test]
fn rst_before_reply_kills() {
    let mut t = T::new();
    t.send(0, &tcp(false, "S", 100, 0, b""));
    assert_eq!(t.ct.len(), 1);
    let r = t.send(MS, &tcp(true, "RA", 0, 101, b""));
    assert_eq!(r.info, CtInfo::EstablishedReply);
    assert_eq!(t.ct.len(), 0);
}

#[test]
fn fin_close_and_time_wait_reopen() {
    let mut t = T::new();
    handshake(&mut t);
    let r = t.send(3 * MS, &tcp(false, "FA", 101, 501, b""));
    assert_eq!(t.conn(&r).tcp_state(), Some(TcpState::FinWait));
    let r = t.send(4 * MS, &tcp(true, "FA", 501, 102, b""));
    assert_eq!(t.conn(&r).tcp_state(), Some(TcpState::LastAck));
    let r = t.send(5 * MS, &tcp(false, "A", 102, 502, b""));
    let c = t.conn(&r);
    assert_eq!(c.tcp_state(), Some(TcpState::TimeWait));
    assert_eq!(c.expires, 5 * MS + 120 * SEC);
    // A new SYN on the same ports reopens: old entry killed, fresh NEW.
    let r = t.send(6 * MS, &tcp(false, "S", 90_000, 0, b""));
    assert_eq!(r.info, CtInfo::New);
    let c = t.conn(&r);
    assert_eq!(c.tcp_state(), Some(TcpState::SynSent));
    assert!(!c.status.has(Status::SEEN_REPLY));
    assert_eq!(t.ct.len(), 1);
}

#[test]
fn syn_in_established_ignored() {
    let mut t = T::new();
    handshake(&mut t);
    let r = t.send(3 * MS, &tcp(false, "S", 77, 0, b""));
    assert_eq!(r.info, CtInfo::Established);
    assert_eq!(t.conn(&r).tcp_state(), Some(TcpState::Established));
    assert_eq!(t.ct.stats().ignore, 1);
}

#[test]
fn udp_timeouts_and_assured() {
    let mut t = T::new();
    let r = t.send(0, &udp(false));
    assert_eq!(r.info, CtInfo::New);
    assert_eq!(t.conn(&r).expires, 30 * SEC);
    let r = t.send(SEC, &udp(true));
    assert_eq!(r.info, CtInfo::EstablishedReply);
    let c = t.conn(&r);
    assert!(c.status.has(Status::SEEN_REPLY));
    assert!(!c.status.has(Status::ASSURED));
    assert_eq!(c.expires, 31 * SEC);
    // Within 2 s: still 30 s, not assured.
    let r = t.send(SEC + 500 * MS, &udp(false));
    assert_eq!(r.info, CtInfo::Established);
    assert!(!t.conn(&r).status.has(Status::ASSURED));
    // After 2 s: stream, 120 s, ASSURED.
    let r = t.send(3 * SEC, &udp(false));
    let c = t.conn(&r);
    assert!(c.status.has(Status::ASSURED));
    assert_eq!(c.expires, 123 * SEC);
    // Unreplied flow expires after 30 s.
    let mut t = T::new();
    t.send(0, &udp(false));
    assert_eq!(t.ct.iter(31 * SEC).count(), 0);
    assert_eq!(t.info(31 * SEC, &udp(true)), CtInfo::New);
}

#[test]
fn udp_bad_length_invalid() {
    let mut t = T::new();
    let mut p = udp(false);
    p[24..26].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(t.info(0, &p), CtInfo::Invalid);
}

fn icmp_echo(rev: bool, reply: bool) -> Vec<u8> {
    let (s, d) = if rev { (B, A) } else { (A, B) };
    let b = PacketBuilder::ipv4(s, d, 64);
    let b = if reply {
        b.icmpv4_echo_reply(9, 1)
    } else {
        b.icmpv4_echo_request(9, 1)
    };
    let mut out = Vec::new();
    b.write(&mut out, &[0; 8]).unwrap();
    out
}

#[test]
fn icmp_echo_reply() {
    let mut t = T::new();
    let r = t.send(0, &icmp_echo(false, false));
    assert_eq!(r.info, CtInfo::New);
    assert_eq!(t.conn(&r).expires, 30 * SEC);
    assert_eq!(t.info(MS, &icmp_echo(true, true)), CtInfo::EstablishedReply);
    // A reply without a request is INVALID.
    let mut t = T::new();
    assert_eq!(t.info(0, &icmp_echo(true, true)), CtInfo::Invalid);
}

fn icmp_error_about(quoted: &[u8], from: [u8; 4], to: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(from, to, 64)
        .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ))
        .write(&mut out, quoted)
        .unwrap();
    out
}

#[test]
fn icmp_error_related() {
    let mut t = T::new();
    let q = udp(false);
    t.send(0, &q);
    // B answers A's datagram with port unreachable: RELATED, reply direction.
    let e = icmp_error_about(&q[..28], B, A);
    let r = t.send(MS, &e);
    assert_eq!(r.info, CtInfo::RelatedReply);
    assert!(r.handle.is_some());
    // Wrong outer destination: INVALID.
    assert_eq!(
        t.info(MS, &icmp_error_about(&q[..28], B, [10, 0, 0, 9])),
        CtInfo::Invalid
    );
    // About an unknown flow: INVALID, never NEW.
    assert_eq!(
        t.info(MS, &icmp_error_about(&udp(true)[..20], B, A)),
        CtInfo::Invalid
    );
    // Attached REJECT reply.
    let orig = t.send(2 * MS, &q);
    assert_eq!(t.ct.attach_related(&orig).info, CtInfo::RelatedReply);
}

#[test]
fn icmpv6_nd_untracked() {
    let s = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let d = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2];
    let mut p = Vec::new();
    PacketBuilder::ipv6(s, d, 255)
        .icmpv6(etherparse::Icmpv6Type::Unknown {
            type_u8: 135,
            code_u8: 0,
            bytes5to8: [0; 4],
        })
        .write(&mut p, &[0; 16])
        .unwrap();
    let mut t = T::new();
    assert_eq!(t.info(0, &p), CtInfo::Untracked);
    // Echo request/reply tracked.
    let mut p = Vec::new();
    PacketBuilder::ipv6(s, d, 64)
        .icmpv6_echo_request(1, 2)
        .write(&mut p, &[])
        .unwrap();
    assert_eq!(t.info(0, &p), CtInfo::New);
}

#[test]
fn notrack_template() {
    let mut t = T::new();
    let p = udp(false);
    let m = PacketMeta::parse(&p).unwrap();
    let tmpl = CtTemplate {
        notrack: true,
        ..CtTemplate::default()
    };
    assert_eq!(
        t.ct.packet_in(0, &p, &m, false, Some(&tmpl)).info,
        CtInfo::Untracked
    );
}

#[test]
fn table_full_early_drop_and_drop() {
    let mut cfg = CtConfig::default();
    cfg.max = 4;
    cfg.buckets = 1;
    let mut t = T::with(cfg);
    for port in 0..4u16 {
        let mut p = Vec::new();
        PacketBuilder::ipv4(A, B, 64)
            .udp(1000 + port, 53)
            .write(&mut p, &[])
            .unwrap();
        assert_eq!(t.info(0, &p), CtInfo::New);
    }
    assert_eq!(t.ct.len(), 4);
    // One bucket: all four are in range, none ASSURED → all evicted.
    let mut p = Vec::new();
    PacketBuilder::ipv4(A, B, 64)
        .udp(2000, 53)
        .write(&mut p, &[])
        .unwrap();
    assert_eq!(t.info(0, &p), CtInfo::New);
    assert_eq!(t.ct.stats().early_drop, 4);
    assert_eq!(t.ct.len(), 1);

    // All ASSURED: nothing to evict → drop.
    let mut cfg = CtConfig::default();
    cfg.max = 1;
    cfg.buckets = 1;
    let mut t = T::with(cfg);
    handshake(&mut t);
    let r = t.send(3 * MS, &udp(false));
    assert!(r.drop);
    assert_eq!(t.ct.stats().drop, 1);
    assert_eq!(t.ct.len(), 1);
}

#[test]
fn never_exceeds_max() {
    let mut cfg = CtConfig::default();
    cfg.max = 50;
    let mut t = T::with(cfg);
    for port in 0..500u16 {
        let mut p = Vec::new();
        PacketBuilder::ipv4(A, B, 64)
            .udp(port, 53)
            .write(&mut p, &[])
            .unwrap();
        t.send(0, &p);
        assert!(t.ct.len() <= 50);
    }
}

#[test]
fn gc_reaps_expired() {
    let mut t = T::new();
    t.send(0, &udp(false));
    t.send(0, &icmp_echo(false, false));
    handshake(&mut t);
    assert_eq!(t.ct.len(), 3);
    t.ct.gc(31 * SEC, 100);
    assert_eq!(t.ct.len(), 1);
    assert_eq!(t.ct.stats().expired, 2);
}

/// The per-packet sweep is paced by time (a whole pass per second), not by
/// packets: with a packet every millisecond, the 1000 entries that expire
/// together are reaped over the following second, a tenth of them in its
/// first tenth, all of them by its end.
#[test]
fn gc_step_paced_by_time() {
    let mut t = T::new();
    for port in 0..1000u16 {
        let mut p = Vec::new();
        PacketBuilder::ipv4(A, B, 64)
            .udp(10_000 + port, 53)
            .write(&mut p, b"q")
            .unwrap();
        t.send(0, &p);
    }
    assert_eq!(t.ct.len(), 1000);
    let expired_at = |t: &mut T, until: Nanos, from: Nanos| {
        let mut now = from;
        while now <= until {
            t.ct.gc_step(now, 16);
            now += MS;
        }
        t.ct.stats().expired
    };
    // UDP unreplied: 30 s. Nothing is due before.
    assert_eq!(expired_at(&mut t, 30 * SEC - MS, MS), 0);
    let tenth = expired_at(&mut t, 30 * SEC + 100 * MS, 30 * SEC);
    assert!((50..=200).contains(&tenth), "{tenth} reaped in 100 ms");
    let all = expired_at(&mut t, 31 * SEC + 100 * MS, 30 * SEC + 101 * MS);
    assert_eq!(all, 1000);
    assert_eq!(t.ct.len(), 0);
}

#[test]
fn unconfirmed_discard_and_set_closing() {
    let mut t = T::new();
    let p = tcp(false, "S", 1, 0, b"");
    let m = PacketMeta::parse(&p).unwrap();
    let r = t.ct.packet_in(0, &p, &m, false, None);
    t.ct.discard(r.handle.unwrap());
    assert_eq!(t.ct.len(), 0);
    assert!(t.ct.get(r.handle.unwrap()).is_none());
    let r = handshake(&mut t);
    t.ct.set_closing(r.handle.unwrap(), 5 * MS);
    let c = t.conn(&r);
    assert_eq!(c.tcp_state(), Some(TcpState::Close));
    assert_eq!(c.expires, 5 * MS + 10 * SEC);
}

#[test]
fn connlimit_count() {
    let mut t = T::new();
    handshake(&mut t);
    t.send(0, &udp(false));
    let a: std::net::IpAddr = "10.0.0.1".parse().unwrap();
    assert_eq!(t.ct.count_matching(0, |c| c.orig().src_ip() == a), 2);
    assert_eq!(t.ct.count_matching(0, |c| c.orig().proto == 6), 1);
}

#[test]
fn ipv6_tcp_and_icmp6_error_related() {
    let s = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let d = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let seg = |rev: bool, syn: bool, ackn: Option<u32>, seq: u32| {
        let (a, b, sp, dp) = if rev {
            (d, s, 443, 50000)
        } else {
            (s, d, 50000, 443)
        };
        let mut bld = PacketBuilder::ipv6(a, b, 64).tcp(sp, dp, seq, 1000);
        if syn {
            bld = bld.syn();
        }
        if let Some(x) = ackn {
            bld = bld.ack(x);
        }
        let mut out = Vec::new();
        bld.write(&mut out, &[]).unwrap();
        out
    };
    let mut t = T::new();
    let syn = seg(false, true, None, 10);
    assert_eq!(t.info(0, &syn), CtInfo::New);
    assert_eq!(
        t.info(MS, &seg(true, true, Some(11), 99)),
        CtInfo::EstablishedReply
    );
    let r = t.send(2 * MS, &seg(false, false, Some(100), 11));
    assert_eq!(r.info, CtInfo::Established);
    assert!(t.conn(&r).status.has(Status::ASSURED));
    // Destination unreachable from the server side quoting the SYN.
    let mut e = Vec::new();
    PacketBuilder::ipv6(d, s, 64)
        .icmpv6(etherparse::Icmpv6Type::DestinationUnreachable(
            etherparse::icmpv6::DestUnreachableCode::Port,
        ))
        .write(&mut e, &syn)
        .unwrap();
    assert_eq!(t.info(3 * MS, &e), CtInfo::RelatedReply);
}

#[test]
fn icmp_error_quoting_tcp_from_original_side() {
    let mut t = T::new();
    handshake(&mut t);
    // A sends an error about B's segment towards B: RELATED, original dir.
    let q = tcp(true, "A", 501, 101, b"");
    let e = icmp_error_about(&q[..28], A, B);
    assert_eq!(t.info(3 * MS, &e), CtInfo::Related);
}

#[test]
fn stale_handle_resolves_to_nothing() {
    let mut t = T::new();
    let old = t.send(0, &udp(false)).handle.unwrap();
    assert!(t.ct.get(old).is_some());
    // Unreplied UDP lives 30 s; the sweep frees the slot, a new flow reuses it.
    t.ct.gc(31 * SEC, 100);
    assert!(t.ct.is_empty());
    let new = t.send(32 * SEC, &udp(false)).handle.unwrap();
    assert_eq!(new.slot(), old.slot());
    assert!(t.ct.get(old).is_none());
    assert!(t.ct.get_mut(old).is_none());
    t.ct.discard(old);
    assert!(t.ct.get(new).is_some());
}

#[test]
fn ipv6_entry_keeps_full_addresses() {
    let a: IpAddr = "2001:db8::1".parse().unwrap();
    let b: IpAddr = "2001:db8::2".parse().unwrap();
    let o = Tuple::from_parts(palisade_model::Family::V6, a, b, 17, &[0, 1, 0, 2], 3).unwrap();
    let r = o.invert().unwrap();
    let mut e = Entry::new(&o, &r, 7, None);
    assert_eq!((e.orig(), e.reply()), (o, r));
    assert!(e.tuple_eq(0, &o) && e.tuple_eq(1, &r) && !e.tuple_eq(0, &r));
    // The table rehashes from entries: their words must be the tuples'.
    assert_eq!((e.words(0), e.words(1)), (o.words(), r.words()));
    let o4 = Tuple::from_parts(
        palisade_model::Family::V4,
        A.into(),
        B.into(),
        6,
        &[0, 1, 0, 2],
        9,
    );
    let o4 = o4.unwrap();
    let e4 = Entry::new(&o4, &o4.invert().unwrap(), 0, None);
    assert_eq!(
        (e4.words(0), e4.words(1)),
        (o4.words(), o4.invert().unwrap().words())
    );
    let mut nat = r;
    nat.dport = 999;
    assert!(e.set_reply(&nat));
    assert_eq!(e.reply(), nat);
    let v4 = Tuple::from_parts(
        palisade_model::Family::V4,
        A.into(),
        B.into(),
        17,
        &[0, 1, 0, 2],
        3,
    );
    assert!(!e.set_reply(&v4.unwrap()));
}

#[test]
fn snapshot_times_are_absolute_after_confirm() {
    let mut t = T::new();
    let r = t.send(5 * SEC + 250 * MS, &udp(false));
    let c = t.conn(&r);
    assert_eq!(c.expires, 35 * SEC + 250 * MS);
    assert_eq!(
        c.l4,
        L4State::Udp {
            stream_ts: 7 * SEC + 250 * MS
        }
    );
    let e = t.ct.entry(r.handle.unwrap()).unwrap();
    assert_eq!(e.expires_in(6 * SEC), 29 * SEC + 250 * MS);
}

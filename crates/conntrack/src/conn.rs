//! Kernel: include/net/netfilter/nf_conntrack.h (`struct nf_conn`),
//! include/uapi/linux/netfilter/nf_conntrack_common.h (`ip_conntrack_info`,
//! `ip_conntrack_status`).

use std::net::IpAddr;

use palisade_model::Family;

use crate::tcp::{Seen, TcpConn, TcpState};
use crate::tuple::{hash_words, rest_word, Tuple};
use crate::Nanos;

/// `enum ip_conntrack_info` as the ruleset sees it, plus the two "no entry"
/// cases. `-m state`/`--ctstate` map these: `*Reply` variants count as their
/// base state (ESTABLISHED, RELATED).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CtInfo {
    /// `IP_CT_ESTABLISHED`: original direction, reply already seen.
    Established,
    /// `IP_CT_RELATED`: related to an existing entry (ICMP error, expectation).
    Related,
    /// `IP_CT_NEW`: original direction, no reply seen yet (also retransmits).
    New,
    /// `IP_CT_ESTABLISHED_REPLY`: reply direction.
    EstablishedReply,
    /// `IP_CT_RELATED_REPLY`: related, reply direction.
    RelatedReply,
    /// No conntrack attached: the packet is INVALID for `--ctstate`.
    Invalid,
    /// `IP_CT_UNTRACKED`: NOTRACK / `CT --notrack` / ICMPv6 ND and MLD.
    Untracked,
}

impl CtInfo {
    /// Whether the packet travels in the reply direction (`CTINFO2DIR`).
    pub fn is_reply(self) -> bool {
        matches!(self, CtInfo::EstablishedReply | CtInfo::RelatedReply)
    }
    /// Whether an entry is attached (not INVALID/UNTRACKED).
    pub fn has_ct(self) -> bool {
        !matches!(self, CtInfo::Invalid | CtInfo::Untracked)
    }
}

/// `IPS_*` status bits (same bit positions as the kernel).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Status(pub u16);

impl Status {
    /// `IPS_EXPECTED`: created from an expectation (ctinfo RELATED).
    pub const EXPECTED: u16 = 1 << 0;
    /// `IPS_SEEN_REPLY`: a packet was seen in the reply direction.
    pub const SEEN_REPLY: u16 = 1 << 1;
    /// `IPS_ASSURED`: never early-dropped.
    pub const ASSURED: u16 = 1 << 2;
    /// `IPS_CONFIRMED`: in the table.
    pub const CONFIRMED: u16 = 1 << 3;
    /// `IPS_SRC_NAT`.
    pub const SRC_NAT: u16 = 1 << 4;
    /// `IPS_DST_NAT`.
    pub const DST_NAT: u16 = 1 << 5;
    /// `IPS_SEQ_ADJUST`.
    pub const SEQ_ADJUST: u16 = 1 << 6;
    /// `IPS_SRC_NAT_DONE`.
    pub const SRC_NAT_DONE: u16 = 1 << 7;
    /// `IPS_DST_NAT_DONE`.
    pub const DST_NAT_DONE: u16 = 1 << 8;
    /// `IPS_DYING`: killed, no longer in the table.
    pub const DYING: u16 = 1 << 9;
    /// `IPS_FIXED_TIMEOUT`.
    pub const FIXED_TIMEOUT: u16 = 1 << 10;
    /// `IPS_NAT_CLASH`.
    pub const NAT_CLASH: u16 = 1 << 14;

    /// Whether every bit of `bits` is set.
    pub fn has(self, bits: u16) -> bool {
        self.0 & bits == bits
    }
    /// Sets bits.
    pub fn set(&mut self, bits: u16) {
        self.0 |= bits;
    }
    /// Clears bits.
    pub fn clear(&mut self, bits: u16) {
        self.0 &= !bits;
    }
}

/// A connection helper attached from a raw-table template (`CT --helper`).
/// Extension point for issue FTP/TFTP helpers: the id indexes the engine's
/// helper registry; conntrack only stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HelperId(pub u8);

/// Per-protocol state of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4State {
    /// TCP window tracking and state machine.
    Tcp(TcpConn),
    /// UDP: the time before which a reply does not make the flow a stream
    /// (`stream_ts` = creation + 2 s).
    Udp {
        /// Absolute time (after confirmation) of the 2 s mark.
        stream_ts: Nanos,
    },
    /// ICMP / ICMPv6 query, or any other protocol: only the timer.
    Plain,
}

/// A snapshot of one tracked connection (`struct nf_conn`, minus what the
/// kernel needs for RCU and netlink), as [`crate::Conntrack::get`] and
/// [`crate::Conntrack::iter`] return it. The table itself stores the compact
/// [`Entry`]; this full form (two 40-byte tuples, nanosecond times) is built
/// on demand and is `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conn {
    /// `tuplehash[IP_CT_DIR_ORIGINAL]` and `[IP_CT_DIR_REPLY]`.
    pub tuples: [crate::tuple::Tuple; 2],
    /// Expiry: relative timeout while unconfirmed, absolute time once
    /// confirmed (as the kernel's `ct->timeout`), at millisecond resolution.
    pub expires: Nanos,
    /// `ctmark` (`-j CONNMARK`, `-m connmark`).
    pub mark: u32,
    /// `IPS_*` bits.
    pub status: Status,
    /// Helper from the template.
    pub helper: Option<HelperId>,
    /// Protocol state.
    pub l4: L4State,
}

/// One millisecond: the resolution of stored expiry times (the kernel's is a
/// jiffy, 1–10 ms).
pub const TICK: Nanos = 1_000_000;

/// Longest relative timeout an entry can hold: expiry ticks are 32-bit and
/// compared with wrap-around (as the kernel compares jiffies), so a deadline
/// must stay within 2^31 ms (24.8 days) of the present.
pub const MAX_TIMEOUT: Nanos = (i32::MAX as Nanos) * TICK;

/// The tick `now` falls in.
#[inline]
pub(crate) fn tick(now: Nanos) -> u32 {
    (now / TICK) as u32
}

/// A relative duration in ticks, rounded up and capped at [`MAX_TIMEOUT`].
#[inline]
pub(crate) fn ticks_of(d: Nanos) -> u32 {
    d.min(MAX_TIMEOUT).div_ceil(TICK) as u32
}

/// The first tick at or after `now + d`: an entry refreshed with `d` lives at
/// least `d` (at most one tick more).
#[inline]
pub(crate) fn deadline(now: Nanos, d: Nanos) -> u32 {
    (now.div_ceil(TICK) as u32).wrapping_add(ticks_of(d))
}

/// Whether the tick deadline `t` has been reached at `now` (wrap-aware).
#[inline]
pub(crate) fn reached(now: Nanos, t: u32) -> bool {
    (tick(now).wrapping_sub(t) as i32) >= 0
}

/// The absolute time of deadline `t`, given a reference time within 2^31
/// ticks of it.
#[inline]
pub(crate) fn abs_time(t: u32, reference: Nanos) -> Nanos {
    let delta = i64::from(t.wrapping_sub(tick(reference)) as i32);
    let ms = (reference / TICK) as i64 + delta;
    (ms.max(0) as Nanos).saturating_mul(TICK)
}

/// Addresses and the fields both directions share. The variant is the
/// family: IPv4 entries hold their four addresses inline; IPv6 ones keep
/// them in one 64-byte box, so the common IPv4 entry is not sized for IPv6.
/// The small fields sit in the padding the tag leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    V4 {
        proto: u8,
        zone: u16,
        gen: u32,
        /// orig src, orig dst, reply src, reply dst.
        a: [[u8; 4]; 4],
    },
    V6 {
        proto: u8,
        zone: u16,
        gen: u32,
        a: Box<[[u8; 16]; 4]>,
    },
}

/// `struct ip_ct_tcp` stored without padding: [`TcpConn`] keeps each side's
/// scale and flags next to its window (4 bytes of padding); here they are
/// grouped, which saves 4 bytes per entry. Converted on every TCP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PackedTcp {
    /// td_end, td_maxend, td_maxwin, td_maxack per side.
    pub(crate) win: [[u32; 4]; 2],
    pub(crate) last_ack: u32,
    pub(crate) last_end: u32,
    pub(crate) scale: [u8; 2],
    pub(crate) flags: [u8; 2],
    pub(crate) state: TcpState,
    pub(crate) last_dir: u8,
    pub(crate) last_index: u8,
    pub(crate) retrans: u8,
    pub(crate) last_wscale: u8,
    pub(crate) last_flags: u8,
    pub(crate) last_win: u16,
}

impl From<&TcpConn> for PackedTcp {
    fn from(t: &TcpConn) -> Self {
        let w = |s: &Seen| [s.td_end, s.td_maxend, s.td_maxwin, s.td_maxack];
        PackedTcp {
            win: [w(&t.seen[0]), w(&t.seen[1])],
            last_ack: t.last_ack,
            last_end: t.last_end,
            scale: [t.seen[0].td_scale, t.seen[1].td_scale],
            flags: [t.seen[0].flags, t.seen[1].flags],
            state: t.state,
            last_dir: t.last_dir,
            last_index: t.last_index,
            retrans: t.retrans,
            last_wscale: t.last_wscale,
            last_flags: t.last_flags,
            last_win: t.last_win,
        }
    }
}

impl From<&PackedTcp> for TcpConn {
    fn from(p: &PackedTcp) -> Self {
        let s = |d: usize| Seen {
            td_end: p.win[d][0],
            td_maxend: p.win[d][1],
            td_maxwin: p.win[d][2],
            td_maxack: p.win[d][3],
            td_scale: p.scale[d],
            flags: p.flags[d],
        };
        TcpConn {
            seen: [s(0), s(1)],
            state: p.state,
            last_dir: p.last_dir,
            last_index: p.last_index,
            retrans: p.retrans,
            last_wscale: p.last_wscale,
            last_flags: p.last_flags,
            last_win: p.last_win,
            last_ack: p.last_ack,
            last_end: p.last_end,
        }
    }
}

/// Stored protocol state (see [`L4State`] for the meaning).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum L4 {
    Tcp(PackedTcp),
    /// UDP: tick of the 2 s stream mark (relative until confirmation).
    Udp(u32),
    Plain,
}

/// One tracked connection as the table stores it: 96 bytes (compile-time
/// checked) for IPv4 and IPv6 alike, IPv6 entries adding a 64-byte box.
/// Handed out mutably by [`crate::Conntrack::get_mut`] for the fields rules
/// may change (mark, status, helper) and NAT's reply-tuple rewrite.
///
/// Layout: family, protocol, zone, generation and four IPv4 addresses (or a
/// box) 24, ports 8, expiry tick 4, mark 4, status 2, helper 2, TCP state 52.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    key: Key,
    /// orig sport, orig dport, reply sport, reply dport.
    ports: [u16; 4],
    /// Tick deadline once confirmed; relative ticks before.
    pub(crate) expires: u32,
    /// `ctmark` (`-j CONNMARK`, `-m connmark`).
    pub mark: u32,
    /// `IPS_*` bits.
    pub status: Status,
    /// Helper from the template.
    pub helper: Option<HelperId>,
    pub(crate) l4: L4,
}

const _: () = assert!(std::mem::size_of::<Option<Entry>>() <= 96);

fn v4(a: &[u8; 16]) -> [u8; 4] {
    [a[0], a[1], a[2], a[3]]
}

fn v4_16(a: [u8; 4]) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&a);
    b
}

impl Entry {
    /// A fresh, unconfirmed entry (relative expiry 0) for `orig`/`reply`,
    /// which must share family, protocol and zone.
    pub(crate) fn new(orig: &Tuple, reply: &Tuple, gen: u32, helper: Option<HelperId>) -> Entry {
        let (proto, zone) = (orig.proto, orig.zone);
        let key = match orig.family {
            Family::V4 => Key::V4 {
                proto,
                zone,
                gen,
                a: [v4(&orig.src), v4(&orig.dst), v4(&reply.src), v4(&reply.dst)],
            },
            Family::V6 => Key::V6 {
                proto,
                zone,
                gen,
                a: Box::new([orig.src, orig.dst, reply.src, reply.dst]),
            },
        };
        let l4 = match proto {
            6 => L4::Tcp(PackedTcp::from(&TcpConn::default())),
            17 => L4::Udp(0),
            _ => L4::Plain,
        };
        Entry {
            key,
            ports: [orig.sport, orig.dport, reply.sport, reply.dport],
            expires: 0,
            mark: 0,
            status: Status(0),
            helper,
            l4,
        }
    }

    pub(crate) fn gen(&self) -> u32 {
        match self.key {
            Key::V4 { gen, .. } | Key::V6 { gen, .. } => gen,
        }
    }

    /// Address family.
    pub fn family(&self) -> Family {
        match self.key {
            Key::V4 { .. } => Family::V4,
            Key::V6 { .. } => Family::V6,
        }
    }

    /// Layer-4 protocol.
    pub fn proto(&self) -> u8 {
        match self.key {
            Key::V4 { proto, .. } | Key::V6 { proto, .. } => proto,
        }
    }

    /// Conntrack zone.
    pub fn zone(&self) -> u16 {
        match self.key {
            Key::V4 { zone, .. } | Key::V6 { zone, .. } => zone,
        }
    }

    /// The tuple of direction `dir` (0 = original, 1 = reply).
    pub fn tuple(&self, dir: usize) -> Tuple {
        let d = dir & 1;
        let (src, dst, family, proto, zone) = match &self.key {
            Key::V4 { proto, zone, a, .. } => (
                v4_16(a[2 * d]),
                v4_16(a[2 * d + 1]),
                Family::V4,
                *proto,
                *zone,
            ),
            Key::V6 { proto, zone, a, .. } => (a[2 * d], a[2 * d + 1], Family::V6, *proto, *zone),
        };
        Tuple {
            src,
            dst,
            sport: self.ports[2 * d],
            dport: self.ports[2 * d + 1],
            proto,
            family,
            zone,
        }
    }

    /// Direction `dir`'s source and destination addresses and ports, read
    /// in place: what a per-packet connection view needs, without building
    /// a whole [`Tuple`].
    #[inline]
    pub fn endpoints(&self, dir: usize) -> (IpAddr, IpAddr, u16, u16) {
        let d = dir & 1;
        let (src, dst) = match &self.key {
            Key::V4 { a, .. } => (IpAddr::from(a[2 * d]), IpAddr::from(a[2 * d + 1])),
            Key::V6 { a, .. } => (IpAddr::from(a[2 * d]), IpAddr::from(a[2 * d + 1])),
        };
        (src, dst, self.ports[2 * d], self.ports[2 * d + 1])
    }

    /// The hash words of direction `dir`'s tuple (as [`Tuple`] makes them).
    #[inline]
    pub(crate) fn words(&self, dir: usize) -> [u64; 5] {
        let d = dir & 1;
        let (sport, dport) = (self.ports[2 * d], self.ports[2 * d + 1]);
        match &self.key {
            Key::V4 { proto, zone, a, .. } => hash_words(
                &v4_16(a[2 * d]),
                &v4_16(a[2 * d + 1]),
                rest_word(sport, dport, *proto, Family::V4, *zone),
            ),
            Key::V6 { proto, zone, a, .. } => hash_words(
                &a[2 * d],
                &a[2 * d + 1],
                rest_word(sport, dport, *proto, Family::V6, *zone),
            ),
        }
    }

    /// Whether direction `dir`'s tuple equals `t` (without building it).
    #[inline]
    pub fn tuple_eq(&self, dir: usize, t: &Tuple) -> bool {
        let d = dir & 1;
        if self.ports[2 * d] != t.sport || self.ports[2 * d + 1] != t.dport {
            return false;
        }
        match &self.key {
            Key::V4 { proto, zone, a, .. } => {
                t.family == Family::V4
                    && *proto == t.proto
                    && *zone == t.zone
                    && a[2 * d] == v4(&t.src)
                    && a[2 * d + 1] == v4(&t.dst)
                    && t.src[4..] == [0; 12]
                    && t.dst[4..] == [0; 12]
            }
            Key::V6 { proto, zone, a, .. } => {
                t.family == Family::V6
                    && *proto == t.proto
                    && *zone == t.zone
                    && a[2 * d] == t.src
                    && a[2 * d + 1] == t.dst
            }
        }
    }

    /// The original-direction tuple.
    pub fn orig(&self) -> Tuple {
        self.tuple(0)
    }

    /// The reply-direction tuple.
    pub fn reply(&self) -> Tuple {
        self.tuple(1)
    }

    /// Rewrites the reply tuple (NAT, before confirmation). Refused (`false`)
    /// when `t` differs from the entry in family, protocol or zone, or when
    /// the entry is already confirmed (its index would go stale).
    pub fn set_reply(&mut self, t: &Tuple) -> bool {
        if self.is_confirmed()
            || t.family != self.family()
            || t.proto != self.proto()
            || t.zone != self.zone()
        {
            return false;
        }
        match &mut self.key {
            Key::V4 { a, .. } => {
                a[2] = v4(&t.src);
                a[3] = v4(&t.dst);
            }
            Key::V6 { a, .. } => {
                a[2] = t.src;
                a[3] = t.dst;
            }
        }
        self.ports[2] = t.sport;
        self.ports[3] = t.dport;
        true
    }

    /// ICMP type of the original tuple.
    pub(crate) fn icmp_type(&self) -> u8 {
        (self.ports[1] >> 8) as u8
    }

    /// Whether confirmed (in the table).
    pub fn is_confirmed(&self) -> bool {
        self.status.has(Status::CONFIRMED)
    }

    /// The TCP state, for TCP entries.
    pub fn tcp_state(&self) -> Option<TcpState> {
        match &self.l4 {
            L4::Tcp(t) => Some(t.state),
            _ => None,
        }
    }

    /// The TCP tracking state, for TCP entries.
    pub fn tcp(&self) -> Option<TcpConn> {
        match &self.l4 {
            L4::Tcp(t) => Some(TcpConn::from(t)),
            _ => None,
        }
    }

    pub(crate) fn set_tcp(&mut self, t: &TcpConn) {
        if let L4::Tcp(p) = &mut self.l4 {
            *p = PackedTcp::from(t);
        }
    }

    /// Whether expired at `now` (confirmed entries only).
    pub fn is_expired(&self, now: Nanos) -> bool {
        self.is_confirmed() && reached(now, self.expires)
    }

    /// Time left before expiry at `now` (the timeout itself while
    /// unconfirmed).
    pub fn expires_in(&self, now: Nanos) -> Nanos {
        if self.is_confirmed() {
            abs_time(self.expires, now).saturating_sub(now)
        } else {
            Nanos::from(self.expires) * TICK
        }
    }

    /// The full snapshot; `reference` is a time near the present (absolute
    /// deadlines are stored modulo 2^32 ticks).
    pub fn snapshot(&self, reference: Nanos) -> Conn {
        let confirmed = self.is_confirmed();
        let rel = |t: u32| {
            if confirmed {
                abs_time(t, reference)
            } else {
                Nanos::from(t) * TICK
            }
        };
        Conn {
            tuples: [self.tuple(0), self.tuple(1)],
            expires: rel(self.expires),
            mark: self.mark,
            status: self.status,
            helper: self.helper,
            l4: match &self.l4 {
                L4::Tcp(t) => L4State::Tcp(TcpConn::from(t)),
                L4::Udp(s) => L4State::Udp { stream_ts: rel(*s) },
                L4::Plain => L4State::Plain,
            },
        }
    }
}

impl Conn {
    /// The original-direction tuple.
    pub fn orig(&self) -> &Tuple {
        &self.tuples[0]
    }
    /// The reply-direction tuple.
    pub fn reply(&self) -> &Tuple {
        &self.tuples[1]
    }
    /// Whether confirmed (in the table).
    pub fn is_confirmed(&self) -> bool {
        self.status.has(Status::CONFIRMED)
    }
    /// The TCP state, for TCP entries.
    pub fn tcp_state(&self) -> Option<crate::tcp::TcpState> {
        match &self.l4 {
            L4State::Tcp(t) => Some(t.state),
            _ => None,
        }
    }
    /// Whether expired at `now` (confirmed entries only).
    pub fn is_expired(&self, now: Nanos) -> bool {
        self.is_confirmed() && self.expires <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_compact() {
        assert_eq!(std::mem::size_of::<Option<Entry>>(), 96);
        assert_eq!(std::mem::size_of::<PackedTcp>(), 52);
    }

    #[test]
    fn packed_tcp_round_trips() {
        let mut t = TcpConn::default();
        t.seen[0] = Seen {
            td_end: 1,
            td_maxend: 2,
            td_maxwin: 3,
            td_maxack: 4,
            td_scale: 7,
            flags: 0x21,
        };
        t.seen[1].td_scale = 14;
        t.seen[1].flags = 0x0a;
        t.state = TcpState::LastAck;
        (t.last_dir, t.last_index, t.retrans) = (1, 4, 2);
        (t.last_wscale, t.last_flags, t.last_win) = (3, 0x80, 65000);
        (t.last_ack, t.last_end) = (99, 1234);
        assert_eq!(TcpConn::from(&PackedTcp::from(&t)), t);
    }

    #[test]
    fn ticks_wrap_and_round_up() {
        // A deadline is never early, at most one tick late.
        assert_eq!(deadline(1_000_500, 30 * TICK), 32);
        assert!(!reached(31 * TICK + 999_999, 32));
        assert!(reached(32 * TICK, 32));
        // Across the 2^32-tick wrap.
        let near = (u64::from(u32::MAX) - 5) * TICK;
        let d = deadline(near, 10 * TICK);
        assert!(!reached(near, d));
        assert!(reached(near + 10 * TICK, d));
        assert_eq!(abs_time(d, near), near + 10 * TICK);
        assert_eq!(ticks_of(u64::MAX), i32::MAX as u32);
    }
}

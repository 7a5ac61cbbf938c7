//! Kernel: net/ipv4/icmp.c (`icmpv4_xrlim_allow`, `icmpv4_global_allow`,
//! `icmp_global_allow`, `icmp_global_consume`), net/ipv4/inetpeer.c
//! (`inet_peer_xrlim_allow`), net/ipv6/icmp.c (`icmpv6_xrlim_allow`),
//! include/net/netfilter/nf_reject.h (`nf_reject_verify_csum`),
//! net/netfilter/utils.c (`nf_ip_checksum`, `nf_ip6_checksum`).
//!
//! How many of the ICMP errors REJECT asks for actually leave:
//! - only types in `icmp_ratemask` are limited (v6: every error type);
//!   nothing towards a loopback device;
//! - a per-namespace bucket of `icmp_msgs_per_sec` (v4 and v6 share it): while
//!   it holds credit every message passes; once it is empty it is refilled
//!   (elapsed jiffies × rate, at most one second's worth, capped at
//!   `icmp_msgs_burst`) only if at least HZ/50 jiffies passed since the last
//!   refill, otherwise the message is refused;
//! - a per-destination bucket (the inet_peer): tokens are jiffies, capped at
//!   6 × timeout (`XRLIM_BURST_FACTOR`), each message costs `timeout`; a new
//!   peer starts as if last used 60 s ago, so it gets the full burst. (IPv6
//!   used to shrink the timeout with the route's prefix; kernels whose
//!   `net.ipv6.icmp.ratelimit` defaults to 100 ms dropped that scaling, and
//!   so do we.)
//!
//! Each message sent costs the kernel's global bucket a random 0, 1 or 2
//! credits (`icmp_global_consume`, against side channels); we charge the
//! mean, 1. Only traffic that drains the bucket (50 errors in a burst by
//! default) can tell the difference, so oracle cases avoid that.
//!
//! Before any of this, REJECT itself stays silent about a packet whose
//! checksum is wrong ([`reject_csum_ok`]).

use std::net::IpAddr;

use palisade_model::Family;
use palisade_wire::PacketMeta;

use crate::state::{jiffies, HZ};

const XRLIM_BURST_FACTOR: u64 = 6;

#[derive(Clone, Debug, Default)]
pub(crate) struct IcmpRate {
    peers: hashbrown::HashMap<IpAddr, (u64, u64), foldhash::fast::FixedState>,
    global_credit: Option<i64>,
    global_stamp: u64,
}

impl IcmpRate {
    /// `inet_peer_xrlim_allow` for `dst` with `timeout_ms`.
    fn peer_allow(&mut self, dst: IpAddr, timeout_ms: u32, shift: u32, now: u64) -> bool {
        let j = jiffies(now);
        let timeout = (u64::from(timeout_ms) * HZ / 1000) >> shift;
        let e = self
            .peers
            .entry(dst)
            .or_insert((0, j.saturating_sub(60 * HZ)));
        let mut token = e.0 + j.saturating_sub(e.1);
        e.1 = j;
        if token > XRLIM_BURST_FACTOR * timeout {
            token = XRLIM_BURST_FACTOR * timeout;
        }
        let ok = token >= timeout;
        if ok {
            token -= timeout;
        }
        e.0 = token;
        // Bound memory: the kernel's inetpeer cache is garbage-collected too.
        if self.peers.len() > 65536 {
            self.peers.clear();
        }
        ok
    }

    /// `icmp_global_allow`: passes while credit is left; an empty bucket is
    /// refilled, at most once per HZ/50 jiffies.
    fn global_check(&mut self, per_sec: u32, burst: u32, now: u64) -> bool {
        let j = jiffies(now);
        // A fresh namespace has no credit and a zero stamp: its first
        // message refills the bucket to the burst.
        let credit = *self.global_credit.get_or_insert(0);
        if credit > 0 {
            return true;
        }
        let delta = j.saturating_sub(self.global_stamp).min(HZ);
        if delta < HZ / 50 {
            return false;
        }
        let incr = u64::from(per_sec) * delta / HZ;
        if incr == 0 {
            return false;
        }
        self.global_stamp = j;
        let incr = i64::try_from(incr).unwrap_or(i64::MAX);
        self.global_credit = Some(credit.saturating_add(incr).min(i64::from(burst)));
        true
    }

    fn global_consume(&mut self) {
        if let Some(c) = self.global_credit.as_mut() {
            *c -= 1;
        }
    }

    /// Whether an ICMPv4 error of `icmp_type`/`code` to `dst` may be sent.
    pub(crate) fn allow_v4(
        &mut self,
        cfg: &crate::EngineConfig,
        icmp_type: u8,
        code: u8,
        dst: IpAddr,
        out_loopback: bool,
        now: u64,
    ) -> bool {
        let limited = icmp_type <= 18 && cfg.icmp_ratemask & (1 << icmp_type) != 0;
        if !limited || (icmp_type == 3 && code == 4) {
            return true;
        }
        if !self.global_check(cfg.icmp_msgs_per_sec, cfg.icmp_msgs_burst, now) {
            return false;
        }
        let ok = out_loopback || self.peer_allow(dst, cfg.icmp_ratelimit_ms, 0, now);
        if ok {
            self.global_consume();
        }
        ok
    }

    /// Whether an ICMPv6 error to `dst` may be sent.
    pub(crate) fn allow_v6(
        &mut self,
        cfg: &crate::EngineConfig,
        dst: IpAddr,
        out_loopback: bool,
        now: u64,
    ) -> bool {
        if !self.global_check(cfg.icmp_msgs_per_sec, cfg.icmp_msgs_burst, now) {
            return false;
        }
        let ok = out_loopback || self.peer_allow(dst, cfg.icmpv6_ratelimit_ms, 0, now);
        if ok {
            self.global_consume();
        }
        ok
    }
}

/// Whether REJECT answers `datagram` at all: `nf_send_unreach` /
/// `nf_send_unreach6` stay silent when the payload's checksum is wrong.
/// Protocols with optional, partial or no 16-bit checksum (a zero UDP
/// checksum, GRE, AH, ESP, SCTP, UDP-Lite) are not checked. Every other
/// protocol is summed as if it had one: IPv4 over the payload alone (with the
/// TCP/UDP pseudo-header for those two), IPv6 always with the pseudo-header
/// of the packet's protocol — so an experimental protocol's payload almost
/// never passes, and a truncated TCP header neither. IPv6 also refuses an
/// empty payload.
pub(crate) fn reject_csum_ok(datagram: &[u8], meta: &PacketMeta) -> bool {
    use palisade_wire::checksum::{fold, pseudo, sum};
    let start = usize::from(meta.l4_off);
    let end = usize::from(meta.len).min(datagram.len());
    let v6 = meta.family == Family::V6;
    if start > end || (v6 && start == end) {
        return false;
    }
    let seg = &datagram[start..end];
    let proto = meta.proto;
    match proto {
        17 if seg.len() >= 8 && seg[6] == 0 && seg[7] == 0 => return true,
        47 | 50 | 51 | 132 | 136 => return true,
        _ => {}
    }
    let len = seg.len() as u32;
    let init = if v6 || proto == 6 || proto == 17 {
        pseudo(meta.src, meta.dst, proto, len)
    } else {
        0
    };
    fold(sum(seg, init)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_of_six_then_one_per_second() {
        let cfg = crate::EngineConfig::default();
        let mut r = IcmpRate::default();
        let d: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = 100_000_000_000u64;
        let sent = (0..10)
            .filter(|_| r.allow_v4(&cfg, 3, 3, d, false, t0))
            .count();
        assert_eq!(sent, 6);
        assert!(r.allow_v4(&cfg, 3, 3, d, false, t0 + 1_000_000_000));
        assert!(!r.allow_v4(&cfg, 3, 3, d, false, t0 + 1_000_000_000));
        // Loopback and echo replies are never limited.
        assert!(r.allow_v4(&cfg, 3, 3, d, true, t0));
        assert!(r.allow_v4(&cfg, 0, 0, d, false, t0));
    }

    fn v4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        v.extend_from_slice(payload);
        let len = v.len() as u16;
        v[2..4].copy_from_slice(&len.to_be_bytes());
        let c = palisade_wire::checksum::checksum(&v[..20]);
        v[10..12].copy_from_slice(&c.to_be_bytes());
        v
    }

    fn v6(proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x60, 0, 0, 0];
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        v.extend_from_slice(&[proto, 64]);
        v.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        v.extend_from_slice(payload);
        v
    }

    fn ok(d: &[u8]) -> bool {
        reject_csum_ok(d, &PacketMeta::parse(d).expect("test packet"))
    }

    #[test]
    fn reject_checks_checksums_as_the_kernel() {
        // An experimental protocol's payload is summed like a checksummed one.
        assert!(!ok(&v4(253, b"experimental")));
        assert!(!ok(&v6(253, b"experimental")));
        // A payload summing to zero passes: v4 without, v6 with the pseudo-header.
        assert!(ok(&v4(253, &[0xff, 0xff])));
        // GRE/ESP/AH/SCTP are never checked; a zero UDP checksum means none.
        assert!(ok(&v4(47, b"x")));
        assert!(ok(&v6(50, b"x")));
        assert!(ok(&v4(17, &[0, 1, 0, 2, 0, 8, 0, 0])));
        // A truncated TCP header fails its sum; IPv6 refuses an empty payload.
        assert!(!ok(&v4(6, &[0x80, 0x00, 0x00, 0x50, 0, 0, 0, 1, 0, 0])));
        assert!(!ok(&v6(59, b"")));
        let good = crate::eval::tests::udp_v4(1000, 53, b"q");
        assert!(ok(&good));
    }

    #[test]
    fn global_bucket_refills_only_when_empty() {
        let cfg = crate::EngineConfig {
            icmp_msgs_burst: 3,
            icmp_ratelimit_ms: 0,
            ..Default::default()
        };
        let mut r = IcmpRate::default();
        let d: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = 100_000_000_000u64;
        let sent = (0..5)
            .filter(|_| r.allow_v4(&cfg, 3, 3, d, false, t0))
            .count();
        // The burst; the empty bucket is refilled only once HZ/50 passed
        // since the last refill.
        assert_eq!(sent, 3);
        assert!(!r.allow_v4(&cfg, 3, 3, d, false, t0 + 10_000_000));
        assert!(r.allow_v4(&cfg, 3, 3, d, false, t0 + 30_000_000));
    }
}

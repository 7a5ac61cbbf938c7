//! Kernel: net/ipv4/icmp.c (`icmpv4_xrlim_allow`, `icmpv4_global_allow`,
//! `icmp_global_allow`), net/ipv4/inetpeer.c (`inet_peer_xrlim_allow`),
//! net/ipv6/icmp.c (`icmpv6_xrlim_allow`).
//!
//! How many of the ICMP errors REJECT asks for actually leave:
//! - only types in `icmp_ratemask` are limited (v6: every error type);
//!   nothing towards a loopback device;
//! - a host-global bucket of `icmp_msgs_per_sec` refilled per jiffy (only
//!   after at least HZ/50 jiffies), capped at `icmp_msgs_burst` (v4 only here);
//! - a per-destination bucket (the inet_peer): tokens are jiffies, capped at
//!   6 × timeout (`XRLIM_BURST_FACTOR`), each message costs `timeout`; a new
//!   peer starts as if last used 60 s ago, so it gets the full burst. (IPv6
//!   used to shrink the timeout with the route's prefix; kernels whose
//!   `net.ipv6.icmp.ratelimit` defaults to 100 ms dropped that scaling, and
//!   so do we.)
//!
//! The kernel's global bucket has a small random cost component in recent
//! versions; we use the deterministic cost 1.

use std::net::IpAddr;

use crate::state::{jiffies, HZ};

const XRLIM_BURST_FACTOR: u64 = 6;

#[derive(Clone, Debug, Default)]
pub(crate) struct IcmpRate {
    peers: hashbrown::HashMap<IpAddr, (u64, u64), foldhash::fast::FixedState>,
    global_credit: Option<u64>,
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

    /// `icmp_global_allow`: refill, then whether any credit is left (the
    /// credit is consumed only once the message is really sent).
    fn global_check(&mut self, per_sec: u32, burst: u32, now: u64) -> bool {
        let j = jiffies(now);
        let credit = self.global_credit.get_or_insert(u64::from(burst));
        let delta = j.saturating_sub(self.global_stamp).min(HZ);
        if delta >= HZ / 50 {
            let incr = u64::from(per_sec) * delta / HZ;
            if incr > 0 {
                *credit = (*credit + incr).min(u64::from(burst));
                self.global_stamp = j;
            }
        }
        *credit > 0
    }

    fn global_consume(&mut self) {
        if let Some(c) = self.global_credit.as_mut() {
            *c = c.saturating_sub(1);
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
}

//! Kernel: net/ipv4/netfilter/ipt_rpfilter.c (`rpfilter_mt`,
//! `rpfilter_lookup_reverse`); net/ipv6/netfilter/ip6t_rpfilter.c.
//!
//! Looks the *source* up as if it were a destination: it must resolve to a
//! unicast route (or a local one with `--accept-local`) leaving through the
//! interface the packet came in on, unless `--loose`. Loopback packets always
//! pass; `0.0.0.0` towards broadcast/link-local multicast passes (DHCP).
//! Marks do not take part in our routing (no policy rules), so `--validmark`
//! has no effect. Full semantics with policy routing: issue 5.

use std::net::IpAddr;

use palisade_model::matches::RpfilterMatch;

use crate::eval::Pkt;
use crate::host::{Fib, RtType};

pub(crate) fn mt(info: &RpfilterMatch, pkt: &Pkt, fib: &Fib, iif_loopback: bool) -> bool {
    if iif_loopback {
        return !info.invert;
    }
    if let (IpAddr::V4(s), IpAddr::V4(d)) = (pkt.meta.src, pkt.meta.dst) {
        if s.is_unspecified() && (d.is_broadcast() || (d.octets()[..3] == [224, 0, 0])) {
            return !info.invert;
        }
    }
    if let IpAddr::V6(s) = pkt.meta.src {
        // ip6t_rpfilter: an unspecified source is not routable (the forward
        // path drops it); a link-local source is looked up on the input
        // interface only, where its fe80::/64 route lives.
        if s.is_unspecified() || crate::host::is_v6_link_local(pkt.meta.src) {
            return !info.invert;
        }
    }
    let ok = match fib.lookup(pkt.meta.src) {
        None => false,
        Some(r) => {
            let type_ok =
                r.kind == RtType::Unicast || (r.kind == RtType::Local && info.accept_local);
            type_ok && (r.dev == pkt.iif || info.loose)
        }
    };
    ok ^ info.invert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, test_fib, udp_v4};

    #[test]
    fn strict_and_loose() {
        let mut d = udp_v4(1, 2, b"");
        let mut p = pkt_of(&mut d);
        let fib = test_fib();
        p.iif = "eth0";
        assert!(mt(&RpfilterMatch::default(), &p, &fib, false));
        p.iif = "eth1";
        assert!(!mt(&RpfilterMatch::default(), &p, &fib, false));
        assert!(mt(
            &RpfilterMatch {
                loose: true,
                ..Default::default()
            },
            &p,
            &fib,
            false
        ));
    }
}

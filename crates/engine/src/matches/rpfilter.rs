//! Kernel: net/ipv4/netfilter/ipt_rpfilter.c (`rpfilter_mt`,
//! `rpfilter_lookup_reverse`); net/ipv6/netfilter/ip6t_rpfilter.c
//! (`rpfilter_lookup_reverse6`).
//!
//! Looks the *source* up as if it were a destination (a lookup "from
//! loopback", so the input interface plays no part in the route chosen):
//!
//! - IPv4: the result must be a unicast route — or a local one with
//!   `--accept-local` — whose next hop uses the interface the packet came in
//!   on, unless `--loose`. A local route's device is the interface owning
//!   the address, so even with `--accept-local` strict mode only passes the
//!   addresses of the input interface itself. `0.0.0.0` towards broadcast
//!   or 224.0.0.0/24 passes (DHCP).
//! - IPv6: a reject/unreachable result fails; a local result passes exactly
//!   when `--accept-local` (no interface check); otherwise the route's
//!   device must be the input interface unless `--loose`. An unspecified
//!   source passes (the forward path drops it); a link-local source is
//!   looked up on the input interface only, where its fe80::/64 lives.
//! - Packets received on a loopback interface always pass.
//! - `--validmark` puts the packet mark into the lookup; it only changes
//!   the result under policy routing (`ip rule fwmark`), which the host
//!   model does not have, so it has no effect here.
//! - `--invert` inverts the result, including the early passes above.
//!
//! The kernel's own reverse-path check (sysctl `rp_filter`, IPv4 only) is a
//! different thing: it runs in the routing decision after PREROUTING
//! (pipeline.rs), so PREROUTING's counters see the packet and INPUT's or
//! FORWARD's do not.

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
            if r.kind == RtType::Local && pkt.meta.src.is_ipv6() {
                // ip6t_rpfilter: RTF_LOCAL decides alone.
                info.accept_local
            } else {
                let type_ok =
                    r.kind == RtType::Unicast || (r.kind == RtType::Local && info.accept_local);
                type_ok && (r.dev == pkt.iif || info.loose)
            }
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

    fn host2() -> crate::host::Host {
        use crate::host::{Host, Interface};
        let ifc = |name: &str, index, addrs: Vec<(&str, u8)>| {
            let addrs: Vec<_> = addrs
                .iter()
                .map(|(a, p)| (a.parse().unwrap(), *p))
                .collect();
            Interface::up(name, index, &addrs)
        };
        Host {
            interfaces: vec![
                ifc("eth0", 2, vec![("10.0.1.1", 24), ("fd00:1::1", 64)]),
                ifc("eth1", 3, vec![("10.0.2.1", 24), ("fd00:2::1", 64)]),
            ],
            routes: vec![],
            forwarding_v4: true,
            forwarding_v6: true,
        }
    }

    fn icmp(src: &str, dst: &str) -> Vec<u8> {
        let mut v = Vec::new();
        match (src.parse().unwrap(), dst.parse().unwrap()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64)
                    .icmpv4_echo_request(1, 1)
                    .write(&mut v, b"")
                    .unwrap()
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                etherparse::PacketBuilder::ipv6(s.octets(), d.octets(), 64)
                    .icmpv6_echo_request(1, 1)
                    .write(&mut v, b"")
                    .unwrap()
            }
            _ => unreachable!(),
        }
        v
    }

    fn check(src: &str, info: &RpfilterMatch) -> bool {
        let fib = Fib::new(&host2());
        let dst = if src.contains(':') {
            "fd00:2::2"
        } else {
            "10.0.2.2"
        };
        let mut d = icmp(src, dst);
        let mut p = pkt_of(&mut d);
        p.iif = "eth0";
        mt(info, &p, &fib, false)
    }

    #[test]
    fn local_sources_and_invert() {
        let al = RpfilterMatch {
            accept_local: true,
            ..Default::default()
        };
        let al_loose = RpfilterMatch {
            accept_local: true,
            loose: true,
            ..Default::default()
        };
        let inv = RpfilterMatch {
            invert: true,
            ..Default::default()
        };
        // IPv4: a local route's device is the owning interface.
        assert!(check("10.0.1.1", &al));
        assert!(!check("10.0.2.1", &al));
        assert!(check("10.0.2.1", &al_loose));
        assert!(!check("10.0.1.1", &RpfilterMatch::default()));
        // IPv6: local passes on --accept-local alone.
        assert!(check("fd00:2::1", &al));
        assert!(!check("fd00:2::1", &RpfilterMatch::default()));
        // Wrong interface, unrouted, inverted.
        assert!(!check("10.0.2.77", &RpfilterMatch::default()));
        assert!(check("10.0.2.77", &inv));
        assert!(check("198.51.100.7", &inv));
        assert!(!check("fd00:2::77", &RpfilterMatch::default()));
        assert!(check("fd00:1::99", &RpfilterMatch::default()));
        assert!(!check("2001:db8::7", &al_loose));
    }
}

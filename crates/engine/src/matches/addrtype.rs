//! Kernel: net/netfilter/xt_addrtype.c (`addrtype_mt_v1`, `match_type`,
//! `addrtype_mt6`, `match_type6`, `match_lookup_rt6`), net/ipv6/addrconf_core.c
//! (`__ipv6_addr_type`).
//!
//! IPv4 classifies each address as the routing tables would
//! (`inet_dev_addr_type`) and matches when that one type is among the
//! requested ones; `--limit-iface-in/out` restrict local-table hits to that
//! device.
//!
//! IPv6 works differently: the requested types are conditions.
//! MULTICAST, UNICAST and UNSPEC are checked on the address alone and *all*
//! of those requested must hold (UNICAST is false for multicast, `::`,
//! IPv4-mapped and reserved addresses). Then, when LOCAL, ANYCAST or
//! UNREACHABLE is requested, a route lookup must yield one of them: no route
//! is UNREACHABLE; a local route is LOCAL (with an interface limit, LOCAL
//! instead means the address is configured on that interface); a route
//! without gateway whose prefix address is the address itself (the
//! subnet-router anycast) is ANYCAST. The host model has no reject routes,
//! so UNREACHABLE only ever means "no route".

use std::net::{IpAddr, Ipv6Addr};

use palisade_model::matches::{addr_type as at, AddrtypeMatch};

use crate::eval::Pkt;
use crate::host::{bits, Fib, RtType};

pub(crate) fn mt(info: &AddrtypeMatch, pkt: &Pkt, fib: &Fib) -> bool {
    let dev = if info.limit_iface_in {
        Some(pkt.iif)
    } else if info.limit_iface_out {
        Some(pkt.oif)
    } else {
        None
    };
    let test = |ip: IpAddr, mask: u16| match ip {
        IpAddr::V6(a) => match_type6(fib, dev, a, mask),
        IpAddr::V4(_) => mask & fib.addr_type(ip, dev).bit() != 0,
    };
    if info.src != 0 && test(pkt.meta.src, info.src) == info.inv_src {
        return false;
    }
    if info.dst != 0 && test(pkt.meta.dst, info.dst) == info.inv_dst {
        return false;
    }
    true
}

/// `__ipv6_addr_type`'s UNICAST flag.
fn v6_unicast(a: Ipv6Addr) -> bool {
    let o = a.octets();
    let top3 = o[0] & 0xe0;
    if top3 != 0 && top3 != 0xe0 {
        return true;
    }
    if o[0] == 0xff {
        return false;
    }
    let w0 = u16::from_be_bytes([o[0], o[1]]);
    if w0 & 0xffc0 == 0xfe80 || w0 & 0xffc0 == 0xfec0 || o[0] & 0xfe == 0xfc {
        return true;
    }
    let s = a.segments();
    if s[..4] == [0, 0, 0, 0] {
        if s[4..6] == [0, 0] {
            // `::` is ANY; `::1` and the IPv4-compatible range are unicast.
            return a != Ipv6Addr::UNSPECIFIED;
        }
        if s[4..6] == [0, 0xffff] {
            return false;
        }
    }
    false
}

/// `match_lookup_rt6`: the route-derived type bits.
fn lookup_rt6(fib: &Fib, dev: Option<&str>, a: Ipv6Addr, mask: u16) -> u16 {
    let ip = IpAddr::V6(a);
    let mut ret = 0;
    if let Some(d) = dev {
        if mask & at::LOCAL != 0 && fib.addr_type(ip, Some(d)) == RtType::Local {
            ret = at::LOCAL;
        }
    }
    if a.is_multicast() {
        // ff00::/8 is routed on every IPv6 device; never local, never anycast.
        return ret;
    }
    let Some(r) = fib.lookup(ip) else {
        return at::UNREACHABLE;
    };
    if dev.is_none() && r.kind == RtType::Local {
        ret |= at::LOCAL;
    }
    let host_bits = if r.prefix >= 128 {
        0
    } else {
        !0u128 >> r.prefix
    };
    if r.kind == RtType::Unicast
        && r.gateway.is_none()
        && r.prefix < 127
        && bits(ip) & host_bits == 0
    {
        ret |= at::ANYCAST;
    }
    ret
}

/// `match_type6`.
fn match_type6(fib: &Fib, dev: Option<&str>, a: Ipv6Addr, mask: u16) -> bool {
    if mask & at::MULTICAST != 0 && !a.is_multicast() {
        return false;
    }
    if mask & at::UNICAST != 0 && !v6_unicast(a) {
        return false;
    }
    if mask & at::UNSPEC != 0 && a != Ipv6Addr::UNSPECIFIED {
        return false;
    }
    if mask & (at::LOCAL | at::ANYCAST | at::UNREACHABLE) != 0 {
        return mask & lookup_rt6(fib, dev, a, mask) != 0;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, test_fib, test_host, udp_v4};
    use crate::host::{Interface, Route};

    #[test]
    fn local_destination() {
        let mut d = udp_v4(1, 2, b"");
        let p = pkt_of(&mut d);
        let fib = test_fib();
        let m = AddrtypeMatch {
            dst: at::LOCAL,
            ..Default::default()
        };
        assert!(mt(&m, &p, &fib));
        let m = AddrtypeMatch {
            src: at::LOCAL,
            ..Default::default()
        };
        assert!(!mt(&m, &p, &fib));
        let m = AddrtypeMatch {
            src: at::UNICAST,
            ..Default::default()
        };
        assert!(mt(&m, &p, &fib));
    }

    fn v6_fib() -> Fib {
        let mut h = test_host();
        h.interfaces[0]
            .addrs
            .push(("2001:db8:1::10".parse().expect("addr"), 64));
        h.interfaces.push(Interface::up(
            "lo",
            1,
            &[("::1".parse().expect("addr"), 128)],
        ));
        h.routes.push(Route {
            dst: "2001:db8:99::".parse().expect("addr"),
            prefix: 48,
            gateway: Some("2001:db8:1::1".parse().expect("addr")),
            dev: "eth0".into(),
            prefsrc: None,
        });
        Fib::new(&h)
    }

    fn t6(fib: &Fib, a: &str, mask: u16, dev: Option<&str>) -> bool {
        match_type6(fib, dev, a.parse().expect("addr"), mask)
    }

    #[test]
    fn ipv6_conditions() {
        let f = v6_fib();
        // Address-only classes.
        assert!(t6(&f, "ff02::1", at::MULTICAST, None));
        assert!(!t6(&f, "ff02::1", at::UNICAST, None));
        assert!(t6(&f, "fe80::1", at::UNICAST, None));
        assert!(t6(&f, "::1", at::UNICAST, None));
        assert!(!t6(&f, "::ffff:10.0.0.1", at::UNICAST, None));
        assert!(!t6(&f, "::", at::UNICAST, None));
        assert!(t6(&f, "::", at::UNSPEC, None));
        assert!(!t6(&f, "0100::1", at::UNICAST, None), "reserved");
        // Several requested conditions must all hold.
        assert!(!t6(&f, "ff02::1", at::MULTICAST | at::UNICAST, None));
        // Route-derived classes: any of them.
        assert!(t6(&f, "2001:db8:1::10", at::LOCAL, None));
        assert!(t6(&f, "::1", at::LOCAL, None));
        assert!(!t6(&f, "2001:db8:1::11", at::LOCAL, None));
        assert!(t6(&f, "2001:db8:1::", at::ANYCAST, None));
        assert!(!t6(&f, "2001:db8:99::", at::ANYCAST, None), "via gateway");
        assert!(t6(&f, "2001:db8:2::1", at::UNREACHABLE, None));
        assert!(!t6(&f, "2001:db8:99::1", at::UNREACHABLE, None));
        assert!(t6(&f, "2001:db8:2::1", at::LOCAL | at::UNREACHABLE, None));
        assert!(t6(&f, "2001:db8:1::10", at::UNICAST | at::LOCAL, None));
        // With an interface limit LOCAL means "configured on that device".
        assert!(t6(&f, "2001:db8:1::10", at::LOCAL, Some("eth0")));
        assert!(!t6(&f, "2001:db8:1::10", at::LOCAL, Some("lo")));
    }
}

//! Kernel: net/netfilter/nf_nat_masquerade.c (`nf_nat_masquerade_ipv4`,
//! `nf_nat_masquerade_ipv6`), net/ipv4/devinet.c (`inet_select_addr`),
//! net/netfilter/nf_nat_redirect.c, xt_NETMAP.c, xt_nat.c.
//!
//! Turning a NAT target into the range `nf_nat_setup_info` gets:
//! * SNAT/DNAT: the rule's addresses and ports as given;
//! * MASQUERADE: the address the host would use as source on the outgoing
//!   interface towards the next hop (`inet_select_addr`: the first primary
//!   address whose subnet holds the next hop, else the first primary one);
//!   a connection from 0.0.0.0 is left alone; no address → DROP. IPv6 picks
//!   among the interface's global addresses the one sharing the longest
//!   prefix with the destination (RFC 6724 rule 8; the other rules of
//!   `ipv6_dev_get_saddr` rarely matter on a router);
//! * REDIRECT: 127.0.0.1 / ::1 for locally generated packets, else the first
//!   (primary) address of the incoming interface; none → DROP;
//! * NETMAP: the packet's destination (PREROUTING/OUTPUT) or source
//!   (POSTROUTING/INPUT) with its network bits replaced by the prefix's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use palisade_model::Hook;

use crate::host::{Fib, Host};
use crate::targets::nat::{NatKind, NatTarget};

use super::{manip_of, Manip, Range};

/// What a NAT target asks for, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// Set up this binding.
    Setup(Range, Manip),
    /// Accept without a binding (a null binding follows).
    Skip,
    /// NF_DROP.
    Drop,
}

fn u(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn ip_like(v: u128, like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(v as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

fn mask(v6: bool, prefix: u8) -> u128 {
    let bits = if v6 { 128 } else { 32 };
    let p = u32::from(prefix.min(bits as u8));
    if p == 0 {
        0
    } else {
        let m = u128::MAX << (128 - p);
        if v6 {
            m
        } else {
            m >> 96
        }
    }
}

/// Primary addresses of `dev` of the family of `like`: an address covered
/// by an earlier one's subnet on the same device is a secondary.
fn primaries(host: &Host, dev: &str, like: IpAddr) -> Vec<(IpAddr, u8)> {
    let Some(i) = host.interfaces.iter().find(|i| i.name == dev) else {
        return Vec::new();
    };
    let fam: Vec<&(IpAddr, u8)> = i
        .addrs
        .iter()
        .filter(|(a, _)| a.is_ipv6() == like.is_ipv6())
        .collect();
    let mut out = Vec::new();
    for (k, (a, p)) in fam.iter().enumerate() {
        let secondary = fam[..k].iter().any(|(b, q)| {
            q == p && (u(*a) & mask(a.is_ipv6(), *p)) == (u(*b) & mask(b.is_ipv6(), *q))
        });
        if !secondary {
            out.push((*a, *p));
        }
    }
    out
}

fn is_v6_global(a: IpAddr) -> bool {
    match a {
        IpAddr::V6(v) => {
            let s = v.segments()[0];
            !(v.is_loopback() || v.is_unspecified() || s & 0xffc0 == 0xfe80 || v.is_multicast())
        }
        IpAddr::V4(_) => true,
    }
}

/// `inet_select_addr(out, nexthop, RT_SCOPE_UNIVERSE)` / the IPv6 source
/// choice for MASQUERADE.
pub(crate) fn masq_source(host: &Host, fib: &Fib, oif: &str, dst: IpAddr) -> Option<IpAddr> {
    let addrs = primaries(host, oif, dst);
    if dst.is_ipv4() {
        let nh = fib.lookup(dst).and_then(|r| r.gateway).unwrap_or(dst);
        let usable = |a: &IpAddr| !matches!(a, IpAddr::V4(v) if v.is_loopback());
        addrs
            .iter()
            .filter(|(a, _)| usable(a))
            .find(|(a, p)| u(*a) & mask(false, *p) == u(nh) & mask(false, *p))
            .or_else(|| addrs.iter().find(|(a, _)| usable(a)))
            .map(|(a, _)| *a)
    } else {
        let common = |a: IpAddr| (u(a) ^ u(dst)).leading_zeros();
        let mut best: Option<IpAddr> = None;
        for (a, _) in addrs.iter().filter(|(a, _)| is_v6_global(*a)) {
            if best.is_none_or(|b| common(*a) > common(b)) {
                best = Some(*a);
            }
        }
        best
    }
}

/// REDIRECT's destination on `iif` (`nf_nat_redirect_ipv{4,6}`).
fn redirect_dst(host: &Host, iif: &str, like: IpAddr) -> Option<IpAddr> {
    let i = host.interfaces.iter().find(|i| i.name == iif)?;
    let fam = || {
        i.addrs
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| a.is_ipv6() == like.is_ipv6())
    };
    if like.is_ipv6() {
        // The kernel's per-device list is sorted by scope: global first.
        fam().find(|a| is_v6_global(*a)).or_else(|| fam().next())
    } else {
        fam().next()
    }
}

/// Packet facts a NAT target needs.
pub(crate) struct Facts<'a> {
    pub hook: Hook,
    pub iif: &'a str,
    pub oif: &'a str,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Source of the connection's original tuple.
    pub orig_src: IpAddr,
}

/// Resolves `t` for this packet.
pub(crate) fn resolve(t: &NatTarget, host: &Host, fib: &Fib, f: &Facts) -> Resolved {
    let ports = |r: &mut Range| {
        if let Some((a, b)) = t.ports {
            r.proto_specified = true;
            r.min_port = a;
            r.max_port = b;
        }
    };
    let mut r = Range {
        random_all: t.random_all,
        persistent: t.persistent,
        ..Range::none(f.dst)
    };
    let single = |r: &mut Range, a: IpAddr| {
        r.map_ips = true;
        r.min_addr = a;
        r.max_addr = a;
    };
    match t.kind {
        NatKind::Snat | NatKind::Dnat => {
            if let Some((a, b)) = t.addr {
                if a.is_ipv6() != f.dst.is_ipv6() {
                    return Resolved::Drop;
                }
                r.map_ips = true;
                r.min_addr = a;
                r.max_addr = b;
            }
            ports(&mut r);
            let m = if t.kind == NatKind::Snat {
                Manip::Src
            } else {
                Manip::Dst
            };
            Resolved::Setup(r, m)
        }
        NatKind::Masquerade => {
            if f.orig_src.is_ipv4() && f.orig_src.is_unspecified() {
                return Resolved::Skip;
            }
            let Some(a) = masq_source(host, fib, f.oif, f.dst) else {
                return Resolved::Drop;
            };
            single(&mut r, a);
            ports(&mut r);
            Resolved::Setup(r, Manip::Src)
        }
        NatKind::Redirect => {
            let a = if f.hook == Hook::Output {
                if f.dst.is_ipv6() {
                    IpAddr::V6(Ipv6Addr::LOCALHOST)
                } else {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                }
            } else {
                match redirect_dst(host, f.iif, f.dst) {
                    Some(a) => a,
                    None => return Resolved::Drop,
                }
            };
            single(&mut r, a);
            ports(&mut r);
            Resolved::Setup(r, Manip::Dst)
        }
        NatKind::Netmap => {
            let Some((lo, hi)) = t.addr else {
                return Resolved::Skip;
            };
            if lo.is_ipv6() != f.dst.is_ipv6() {
                return Resolved::Drop;
            }
            let m = manip_of(f.hook);
            let netmask = !(u(lo) ^ u(hi));
            let cur = if m == Manip::Dst { f.dst } else { f.src };
            let v = (u(cur) & !netmask) | (u(lo) & netmask);
            let v = if lo.is_ipv4() { v & 0xffff_ffff } else { v };
            single(&mut r, ip_like(v, lo));
            Resolved::Setup(r, m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Interface, Route};

    fn host() -> Host {
        let ip = |s: &str| s.parse().unwrap();
        let addrs = [
            (ip("203.0.113.5"), 24),
            (ip("203.0.113.6"), 24),
            (ip("198.51.100.9"), 24),
            (ip("2001:db8::5"), 64),
            (ip("fe80::5"), 64),
        ];
        Host {
            interfaces: vec![Interface::up("wan", 2, &addrs)],
            routes: vec![Route::default_via(ip("198.51.100.1"), "wan")],
            forwarding_v4: true,
            forwarding_v6: true,
        }
    }

    #[test]
    fn masquerade_picks_the_next_hops_subnet() {
        let h = host();
        let fib = Fib::new(&h);
        // Default route via 198.51.100.1: that subnet's address.
        assert_eq!(
            masq_source(&h, &fib, "wan", "192.0.2.1".parse().unwrap()),
            Some("198.51.100.9".parse().unwrap())
        );
        // On-link destination: its subnet's primary, not the secondary.
        assert_eq!(
            masq_source(&h, &fib, "wan", "203.0.113.77".parse().unwrap()),
            Some("203.0.113.5".parse().unwrap())
        );
        assert_eq!(
            masq_source(&h, &fib, "wan", "2001:db8::99".parse().unwrap()),
            Some("2001:db8::5".parse().unwrap())
        );
        assert_eq!(
            masq_source(&h, &fib, "nope", "192.0.2.1".parse().unwrap()),
            None
        );
    }

    #[test]
    fn netmap_and_redirect() {
        let h = host();
        let fib = Fib::new(&h);
        let t = NatTarget {
            kind: NatKind::Netmap,
            addr: Some(("10.1.0.0".parse().unwrap(), "10.1.255.255".parse().unwrap())),
            ports: None,
            random_all: false,
            persistent: false,
        };
        let f = Facts {
            hook: Hook::PreRouting,
            iif: "wan",
            oif: "",
            src: "192.0.2.1".parse().unwrap(),
            dst: "172.16.3.4".parse().unwrap(),
            orig_src: "192.0.2.1".parse().unwrap(),
        };
        let Resolved::Setup(r, Manip::Dst) = resolve(&t, &h, &fib, &f) else {
            panic!("netmap")
        };
        assert_eq!(r.min_addr, "10.1.3.4".parse::<IpAddr>().unwrap());
        let t = NatTarget {
            kind: NatKind::Redirect,
            addr: None,
            ports: Some((8080, 8080)),
            ..t
        };
        let Resolved::Setup(r, Manip::Dst) = resolve(&t, &h, &fib, &f) else {
            panic!("redirect")
        };
        assert_eq!(r.min_addr, "203.0.113.5".parse::<IpAddr>().unwrap());
        assert!(r.proto_specified && r.min_port == 8080);
        let out = Facts {
            hook: Hook::Output,
            ..f
        };
        let Resolved::Setup(r, _) = resolve(&t, &h, &fib, &out) else {
            panic!("redirect out")
        };
        assert_eq!(r.min_addr, "127.0.0.1".parse::<IpAddr>().unwrap());
    }
}

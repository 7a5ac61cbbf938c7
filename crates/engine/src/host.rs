//! Kernel: net/ipv4/fib_frontend.c (`fib_add_ifaddr`: local, broadcast and
//! connected routes derived from each address), net/ipv4/fib_trie.c (longest
//! prefix match, local table before main), net/ipv6/addrconf.c.
//!
//! The host the engine pretends to be: its interfaces, addresses and routes.
//! Routing here is a small FIB mirror: the `local` table (our addresses,
//! subnet broadcasts, 127/8 on loopback) is consulted before the `main` table
//! (connected prefixes plus the routes given), longest prefix first, as
//! `fib_lookup` does with the default rules.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use palisade_model::matches::addr_type;

/// One network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Name (`eth0`).
    pub name: String,
    /// ifindex.
    pub index: u32,
    /// Addresses with their prefix length.
    pub addrs: Vec<(IpAddr, u8)>,
    /// MTU.
    pub mtu: u32,
    /// Administratively up.
    pub up: bool,
    /// Loopback device.
    pub loopback: bool,
    /// IPv4 broadcast address (derived from the first v4 address when `None`).
    pub broadcast: Option<IpAddr>,
}

/// One route of the main table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix.
    pub dst: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Next hop.
    pub gateway: Option<IpAddr>,
    /// Egress device.
    pub dev: String,
    /// Preferred source.
    pub prefsrc: Option<IpAddr>,
}

impl Interface {
    /// An interface that is up with `addrs` (address, prefix length): MTU
    /// 1500, or a loopback device with MTU 65536 when named `lo`.
    pub fn up(name: &str, index: u32, addrs: &[(IpAddr, u8)]) -> Interface {
        let loopback = name == "lo";
        Interface {
            name: name.to_string(),
            index,
            addrs: addrs.to_vec(),
            mtu: if loopback { 65536 } else { 1500 },
            up: true,
            loopback,
            broadcast: None,
        }
    }
}

impl Route {
    /// The default route (`0.0.0.0/0` or `::/0`, the gateway's family) via
    /// `gateway` on `dev`.
    pub fn default_via(gateway: IpAddr, dev: &str) -> Route {
        Route {
            dst: match gateway {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            },
            prefix: 0,
            gateway: Some(gateway),
            dev: dev.to_string(),
            prefsrc: None,
        }
    }
}

/// The host: interfaces, extra routes, forwarding switches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host {
    /// Interfaces.
    pub interfaces: Vec<Interface>,
    /// Routes beyond the connected ones (default routes and the like).
    pub routes: Vec<Route>,
    /// `net.ipv4.ip_forward`.
    pub forwarding_v4: bool,
    /// `net.ipv6.conf.all.forwarding`.
    pub forwarding_v6: bool,
}

/// Route type, as `RTN_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtType {
    /// RTN_UNICAST
    Unicast,
    /// RTN_LOCAL
    Local,
    /// RTN_BROADCAST
    Broadcast,
    /// RTN_MULTICAST
    Multicast,
    /// RTN_UNREACHABLE (no route at all)
    Unreachable,
}

impl RtType {
    /// The `addrtype` bit of this type.
    pub fn bit(self) -> u16 {
        match self {
            RtType::Unicast => addr_type::UNICAST,
            RtType::Local => addr_type::LOCAL,
            RtType::Broadcast => addr_type::BROADCAST,
            RtType::Multicast => addr_type::MULTICAST,
            RtType::Unreachable => addr_type::UNREACHABLE,
        }
    }
}

#[derive(Clone, Debug)]
struct FibEntry {
    v6: bool,
    net: u128,
    mask: u128,
    prefix: u8,
    kind: RtType,
    dev: usize,
    gateway: Option<IpAddr>,
    prefsrc: Option<IpAddr>,
}

/// Result of a route lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteResult<'a> {
    /// Type.
    pub kind: RtType,
    /// Device name.
    pub dev: &'a str,
    /// Next hop.
    pub gateway: Option<IpAddr>,
    /// Preferred source.
    pub prefsrc: Option<IpAddr>,
    /// Prefix length of the route that matched.
    pub prefix: u8,
}

/// The compiled FIB of a [`Host`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Fib {
    local: Vec<FibEntry>,
    main: Vec<FibEntry>,
    names: Vec<String>,
}

pub(crate) fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u32::from(v) as u128,
        IpAddr::V6(v) => u128::from(v),
    }
}

fn mask_of(v6: bool, prefix: u8) -> u128 {
    let width = if v6 { 128 } else { 32 };
    let p = u32::from(prefix.min(width));
    if p == 0 {
        0
    } else if v6 {
        !0u128 << (128 - p)
    } else {
        ((!0u32) << (32 - p)) as u128
    }
}

impl Fib {
    pub(crate) fn new(host: &Host) -> Fib {
        let mut fib = Fib::default();
        for (di, iface) in host.interfaces.iter().enumerate() {
            fib.names.push(iface.name.clone());
            if !iface.up {
                continue;
            }
            for &(addr, prefix) in &iface.addrs {
                let v6 = addr.is_ipv6();
                let a = bits(addr);
                fib.local.push(FibEntry {
                    v6,
                    net: a,
                    mask: mask_of(v6, if v6 { 128 } else { 32 }),
                    prefix: if v6 { 128 } else { 32 },
                    kind: RtType::Local,
                    dev: di,
                    gateway: None,
                    prefsrc: Some(addr),
                });
                let m = mask_of(v6, prefix);
                if iface.loopback {
                    // fib_add_ifaddr: a loopback prefix is a *local* route
                    // (127.0.0.0/8 answers on every address).
                    fib.local.push(FibEntry {
                        v6,
                        net: a & m,
                        mask: m,
                        prefix,
                        kind: RtType::Local,
                        dev: di,
                        gateway: None,
                        prefsrc: Some(addr),
                    });
                    continue;
                }
                fib.main.push(FibEntry {
                    v6,
                    net: a & m,
                    mask: m,
                    prefix,
                    kind: RtType::Unicast,
                    dev: di,
                    gateway: None,
                    prefsrc: Some(addr),
                });
                if !v6 && prefix < 31 {
                    let bcast = iface
                        .broadcast
                        .filter(|b| b.is_ipv4())
                        .map(bits)
                        .unwrap_or((a & m) | (!m & 0xffff_ffff));
                    fib.local.push(FibEntry {
                        v6,
                        net: bcast,
                        mask: 0xffff_ffff,
                        prefix: 32,
                        kind: RtType::Broadcast,
                        dev: di,
                        gateway: None,
                        prefsrc: Some(addr),
                    });
                }
            }
        }
        for r in &host.routes {
            let Some(di) = host.interfaces.iter().position(|i| i.name == r.dev) else {
                continue;
            };
            let v6 = r.dst.is_ipv6();
            let m = mask_of(v6, r.prefix);
            fib.main.push(FibEntry {
                v6,
                net: bits(r.dst) & m,
                mask: m,
                prefix: r.prefix,
                kind: RtType::Unicast,
                dev: di,
                gateway: r.gateway,
                prefsrc: r.prefsrc,
            });
        }
        // Longest prefix first; stable, so earlier routes win ties.
        fib.local.sort_by_key(|e| std::cmp::Reverse(e.prefix));
        fib.main.sort_by_key(|e| std::cmp::Reverse(e.prefix));
        fib
    }

    fn find(list: &[FibEntry], ip: IpAddr) -> Option<&FibEntry> {
        let v6 = ip.is_ipv6();
        let a = bits(ip);
        list.iter().find(|e| e.v6 == v6 && a & e.mask == e.net)
    }

    /// Full lookup: local table, then special addresses, then main.
    pub(crate) fn lookup(&self, ip: IpAddr) -> Option<RouteResult<'_>> {
        if let Some(e) = Fib::find(&self.local, ip) {
            return Some(self.result(e));
        }
        Fib::find(&self.main, ip).map(|e| self.result(e))
    }

    fn result<'a>(&'a self, e: &FibEntry) -> RouteResult<'a> {
        RouteResult {
            kind: e.kind,
            dev: self.names.get(e.dev).map(String::as_str).unwrap_or(""),
            gateway: e.gateway,
            prefsrc: e.prefsrc,
            prefix: e.prefix,
        }
    }

    /// `inet_addr_type` / the address classification `-m addrtype` uses.
    /// With `dev`, the local table lookup is restricted to that device
    /// (`--limit-iface-*`, `inet_dev_addr_type`).
    pub(crate) fn addr_type(&self, ip: IpAddr, dev: Option<&str>) -> RtType {
        match ip {
            IpAddr::V4(v) => {
                if v == Ipv4Addr::BROADCAST {
                    return RtType::Broadcast;
                }
                if v.is_multicast() {
                    return RtType::Multicast;
                }
                if v.is_unspecified() {
                    // RTN_BROADCAST for 0.0.0.0 (ipv4_is_zeronet → RTN_BROADCAST)
                    return RtType::Broadcast;
                }
            }
            IpAddr::V6(v) => {
                if v.is_multicast() {
                    return RtType::Multicast;
                }
                if v == Ipv6Addr::UNSPECIFIED {
                    return RtType::Unicast;
                }
            }
        }
        let a = bits(ip);
        let v6 = ip.is_ipv6();
        for e in &self.local {
            if e.v6 == v6 && a & e.mask == e.net {
                if let Some(d) = dev {
                    if self.names.get(e.dev).map(String::as_str) != Some(d) {
                        continue;
                    }
                }
                return e.kind;
            }
        }
        if Fib::find(&self.main, ip).is_some() {
            RtType::Unicast
        } else if v6 {
            // IPv6 addrtype of an unrouted unicast address is RTN_UNICAST
            // with an error route; treat it as unreachable like fib lookups do.
            RtType::Unreachable
        } else {
            RtType::Unicast
        }
    }

    /// The first address of `dev` in the family of `like` (source for replies).
    pub(crate) fn dev_addr(host: &Host, dev: &str, like: IpAddr) -> Option<IpAddr> {
        host.interfaces
            .iter()
            .find(|i| i.name == dev)
            .and_then(|i| {
                i.addrs
                    .iter()
                    .find(|(a, _)| a.is_ipv6() == like.is_ipv6() && !is_v6_link_local(*a))
                    .or_else(|| i.addrs.iter().find(|(a, _)| a.is_ipv6() == like.is_ipv6()))
            })
            .map(|(a, _)| *a)
    }
}

pub(crate) fn is_v6_link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v) if v.segments()[0] & 0xffc0 == 0xfe80)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn host() -> Host {
        Host {
            interfaces: vec![
                Interface::up("lo", 1, &[(ip("127.0.0.1"), 8), (ip("::1"), 128)]),
                Interface::up("eth0", 2, &[(ip("192.168.1.10"), 24)]),
            ],
            routes: vec![Route::default_via(ip("192.168.1.1"), "eth0")],
            forwarding_v4: false,
            forwarding_v6: false,
        }
    }

    #[test]
    fn classify_and_route() {
        let f = Fib::new(&host());
        let t = |s: &str| f.addr_type(s.parse().unwrap(), None);
        assert_eq!(t("192.168.1.10"), RtType::Local);
        assert_eq!(t("127.3.4.5"), RtType::Local);
        assert_eq!(t("192.168.1.255"), RtType::Broadcast);
        assert_eq!(t("255.255.255.255"), RtType::Broadcast);
        assert_eq!(t("224.0.0.1"), RtType::Multicast);
        assert_eq!(t("8.8.8.8"), RtType::Unicast);
        assert_eq!(f.lookup("8.8.8.8".parse().unwrap()).unwrap().dev, "eth0");
        assert_eq!(
            f.lookup("192.168.1.7".parse().unwrap()).unwrap().gateway,
            None
        );
        assert_eq!(
            f.addr_type("192.168.1.10".parse().unwrap(), Some("lo")),
            RtType::Unicast
        );
    }
}

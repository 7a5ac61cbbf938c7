//! The firewall host as iproute2 prints it: `ip -j addr show` (interfaces,
//! indexes, flags, MTU, addresses) and optionally `ip -j route show` /
//! `ip -6 -j route show` (one JSON array, or both arrays concatenated into one,
//! as the replay recorder writes `routes.json`).
//!
//! Only the fields replay needs are read; unknown fields are ignored so newer
//! iproute2 output keeps working. An IPv4 address without `broadcast` has no
//! subnet broadcast address, exactly as in the kernel (`ip addr add` without
//! `brd`).

use std::net::IpAddr;

use serde::Deserialize;

/// Errors reading host descriptions.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Malformed JSON or unexpected shape.
    #[error("{what}: {err}")]
    Json {
        /// Which input.
        what: &'static str,
        /// The parser's message.
        err: serde_json::Error,
    },
    /// A value that does not parse (address, prefix).
    #[error("{0}")]
    Value(String),
}

/// One address of an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrSpec {
    /// The address (`local`).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefixlen: u8,
    /// IPv4 broadcast address, when configured.
    pub broadcast: Option<IpAddr>,
    /// Point-to-point peer (`address` in iproute2's JSON), when configured.
    pub peer: Option<IpAddr>,
    /// `host`, `link`, `global`, ...
    pub scope: String,
}

/// One interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfaceSpec {
    /// ifindex.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Link flags as printed (`UP`, `LOOPBACK`, `BROADCAST`, ...).
    pub flags: Vec<String>,
    /// MTU.
    pub mtu: u32,
    /// MAC address, when the link has a 6-byte one.
    pub mac: Option<[u8; 6]>,
    /// Addresses in the order listed.
    pub addrs: Vec<AddrSpec>,
}

impl IfaceSpec {
    /// Administratively up.
    pub fn up(&self) -> bool {
        self.flags.iter().any(|f| f == "UP")
    }
    /// Loopback device.
    pub fn loopback(&self) -> bool {
        self.flags.iter().any(|f| f == "LOOPBACK")
    }
}

/// One route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// Destination network; `default` becomes 0.0.0.0/0 or ::/0.
    pub dst: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Next hop.
    pub gateway: Option<IpAddr>,
    /// Device.
    pub dev: Option<String>,
    /// Preferred source.
    pub prefsrc: Option<IpAddr>,
    /// Route type when not unicast (`unreachable`, `blackhole`, `local`, ...).
    pub kind: Option<String>,
    /// Metric.
    pub metric: Option<u32>,
}

/// The host: interfaces and routes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostSpec {
    /// Interfaces, in `ip addr` order.
    pub interfaces: Vec<IfaceSpec>,
    /// Routes from `--routes` (connected routes derive from the addresses).
    pub routes: Vec<RouteSpec>,
}

impl HostSpec {
    /// Parses `ip -j addr show` output.
    pub fn from_addr_json(text: &str) -> Result<HostSpec, HostError> {
        let links: Vec<RawLink> = serde_json::from_str(text).map_err(|err| HostError::Json {
            what: "host JSON (ip -j addr show)",
            err,
        })?;
        let mut interfaces = Vec::with_capacity(links.len());
        for l in links {
            let mut addrs = Vec::new();
            for a in l.addr_info {
                // `ip -j addr` emits empty objects for addresses of other
                // families when filtered; skip anything without `local`.
                let (Some(local), Some(prefixlen)) = (a.local, a.prefixlen) else {
                    continue;
                };
                addrs.push(AddrSpec {
                    addr: parse_ip(&local)?,
                    prefixlen,
                    broadcast: a.broadcast.as_deref().map(parse_ip).transpose()?,
                    peer: a.address.as_deref().map(parse_ip).transpose()?,
                    scope: a.scope.unwrap_or_default(),
                });
            }
            interfaces.push(IfaceSpec {
                index: l.ifindex,
                name: l.ifname,
                flags: l.flags,
                mtu: l.mtu.unwrap_or(1500),
                mac: l.address.as_deref().and_then(parse_mac),
                addrs,
            });
        }
        Ok(HostSpec {
            interfaces,
            routes: Vec::new(),
        })
    }

    /// Adds the routes of `ip -j route show` / `ip -6 -j route show` output.
    pub fn add_routes_json(&mut self, text: &str) -> Result<(), HostError> {
        let routes: Vec<RawRoute> = serde_json::from_str(text).map_err(|err| HostError::Json {
            what: "routes JSON (ip -j route show)",
            err,
        })?;
        for r in routes {
            let gateway = r.gateway.as_deref().map(parse_ip).transpose()?;
            let (dst, prefix) = if r.dst == "default" {
                // A default route's family follows its gateway; without one
                // (e.g. `default dev ppp0`) assume IPv4 unless `::` hints.
                let v6 = gateway.is_some_and(|g| g.is_ipv6())
                    || r.prefsrc.as_deref().is_some_and(|s| s.contains(':'));
                if v6 {
                    (IpAddr::from([0u16; 8]), 0)
                } else {
                    (IpAddr::from([0u8; 4]), 0)
                }
            } else {
                parse_prefix(&r.dst)?
            };
            self.routes.push(RouteSpec {
                dst,
                prefix,
                gateway,
                dev: r.dev,
                prefsrc: r.prefsrc.as_deref().map(parse_ip).transpose()?,
                kind: r.kind,
                metric: r.metric,
            });
        }
        Ok(())
    }

    /// The interface with this index.
    pub fn by_index(&self, index: u32) -> Option<&IfaceSpec> {
        self.interfaces.iter().find(|i| i.index == index)
    }

    /// The interface with this name.
    pub fn by_name(&self, name: &str) -> Option<&IfaceSpec> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    /// MACs of all interfaces (for Ethernet captures' direction).
    pub fn macs(&self) -> Vec<[u8; 6]> {
        self.interfaces
            .iter()
            .filter_map(|i| i.mac)
            .filter(|m| *m != [0; 6])
            .collect()
    }

    /// The engine's view of this host. Connected routes are not listed: the
    /// engine derives them from the addresses; `kind`ed routes other than
    /// unicast are dropped (the engine has no field for them yet).
    pub fn to_engine_host(
        &self,
        forwarding_v4: bool,
        forwarding_v6: bool,
    ) -> palisade_engine::host::Host {
        use palisade_engine::host::{Host, Interface, Route};
        Host {
            interfaces: self
                .interfaces
                .iter()
                .map(|i| Interface {
                    name: i.name.clone(),
                    index: i.index,
                    addrs: i.addrs.iter().map(|a| (a.addr, a.prefixlen)).collect(),
                    mtu: i.mtu,
                    up: i.up(),
                    loopback: i.loopback(),
                    broadcast: i.addrs.iter().find_map(|a| a.broadcast),
                })
                .collect(),
            routes: self
                .routes
                .iter()
                .filter(|r| r.kind.as_deref().is_none_or(|k| k == "unicast"))
                .filter_map(|r| {
                    Some(Route {
                        dst: r.dst,
                        prefix: r.prefix,
                        gateway: r.gateway,
                        dev: r.dev.clone()?,
                        prefsrc: r.prefsrc,
                    })
                })
                .collect(),
            forwarding_v4,
            forwarding_v6,
        }
    }
}

#[derive(Deserialize)]
struct RawLink {
    ifindex: u32,
    ifname: String,
    #[serde(default)]
    flags: Vec<String>,
    mtu: Option<u32>,
    address: Option<String>,
    #[serde(default)]
    addr_info: Vec<RawAddr>,
}

#[derive(Deserialize)]
struct RawAddr {
    local: Option<String>,
    prefixlen: Option<u8>,
    broadcast: Option<String>,
    address: Option<String>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct RawRoute {
    dst: String,
    gateway: Option<String>,
    dev: Option<String>,
    prefsrc: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    metric: Option<u32>,
}

fn parse_ip(s: &str) -> Result<IpAddr, HostError> {
    s.parse()
        .map_err(|_| HostError::Value(format!("bad address {s:?}")))
}

fn parse_prefix(s: &str) -> Result<(IpAddr, u8), HostError> {
    match s.split_once('/') {
        Some((a, p)) => {
            let addr = parse_ip(a)?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let p: u8 = p
                .parse()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| HostError::Value(format!("bad prefix {s:?}")))?;
            Ok((addr, p))
        }
        None => {
            let addr = parse_ip(s)?;
            Ok((addr, if addr.is_ipv4() { 32 } else { 128 }))
        }
    }
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut m {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ip -j addr show` in a namespace with a veth (trimmed life times).
    const ADDR: &str = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":2,"link_index":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:00:00:00:01:01","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":1,"addr_info":[{"family":"inet","local":"10.0.1.1","prefixlen":24,"broadcast":"10.0.1.255","scope":"global","label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fd00:1::1","prefixlen":64,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::ff:fe00:101","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":4,"ifname":"ppp0","flags":["POINTOPOINT","NOARP"],"mtu":1492,"addr_info":[{"family":"inet","local":"192.0.2.7","address":"192.0.2.1","prefixlen":32,"scope":"global"},{}]}]"#;

    const ROUTES: &str = r#"[{"dst":"default","gateway":"10.0.1.254","dev":"eth0","flags":[]},{"dst":"10.0.1.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.0.1.1","flags":[]},{"type":"unreachable","dst":"10.9.0.0/16","flags":[]},{"dst":"fd00:1::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"dst":"default","gateway":"fd00:1::fe","dev":"eth0","metric":1024,"flags":[],"pref":"medium"}]"#;

    #[test]
    fn parses_ip_addr_json() {
        let h = HostSpec::from_addr_json(ADDR).unwrap();
        assert_eq!(h.interfaces.len(), 3);
        let lo = h.by_index(1).unwrap();
        assert!(lo.loopback() && lo.up());
        assert_eq!(lo.mtu, 65536);
        let eth0 = h.by_name("eth0").unwrap();
        assert_eq!(eth0.index, 2);
        assert_eq!(eth0.mac, Some([2, 0, 0, 0, 1, 1]));
        assert_eq!(eth0.addrs.len(), 3);
        assert_eq!(eth0.addrs[0].broadcast, Some("10.0.1.255".parse().unwrap()));
        assert_eq!(eth0.addrs[1].addr, "fd00:1::1".parse::<IpAddr>().unwrap());
        assert_eq!(eth0.addrs[2].scope, "link");
        let ppp = h.by_index(4).unwrap();
        assert!(!ppp.up());
        assert_eq!(ppp.addrs.len(), 1, "empty addr_info object skipped");
        assert_eq!(ppp.addrs[0].peer, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(h.macs(), vec![[2, 0, 0, 0, 1, 1]]);
    }

    #[test]
    fn parses_routes() {
        let mut h = HostSpec::from_addr_json(ADDR).unwrap();
        h.add_routes_json(ROUTES).unwrap();
        assert_eq!(h.routes.len(), 5);
    }

    #[test]
    fn parses_routes_and_converts() {
        let mut h = HostSpec::from_addr_json(ADDR).unwrap();
        h.add_routes_json(ROUTES).unwrap();
        assert_eq!(h.routes.len(), 5);
        assert_eq!(h.routes[0].dst, "0.0.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(h.routes[0].prefix, 0);
        assert_eq!(h.routes[2].kind.as_deref(), Some("unreachable"));
        assert_eq!(h.routes[4].dst, "::".parse::<IpAddr>().unwrap());
        assert_eq!(h.routes[3].prefix, 64);
        let e = h.to_engine_host(true, false);
        assert_eq!(e.interfaces.len(), 3);
        assert_eq!(e.routes.len(), 4, "unreachable route dropped");
        assert!(e.forwarding_v4 && !e.forwarding_v6);
        assert_eq!(
            e.interfaces[1].broadcast,
            Some("10.0.1.255".parse().unwrap())
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(HostSpec::from_addr_json("{").is_err());
        assert!(HostSpec::from_addr_json(
            r#"[{"ifindex":1,"ifname":"x","addr_info":[{"local":"nope","prefixlen":8}]}]"#
        )
        .is_err());
        let mut h = HostSpec::default();
        assert!(h.add_routes_json(r#"[{"dst":"10.0.0.0/99"}]"#).is_err());
    }

    #[test]
    fn committed_host_files_parse() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/replay");
        let Ok(rd) = std::fs::read_dir(root) else {
            return;
        };
        for case in rd.flatten() {
            let (Ok(a), Ok(r)) = (
                std::fs::read_to_string(case.path().join("host.json")),
                std::fs::read_to_string(case.path().join("routes.json")),
            ) else {
                continue;
            };
            let mut h = HostSpec::from_addr_json(&a).unwrap();
            h.add_routes_json(&r).unwrap();
            assert_eq!(h.by_index(2).map(|i| i.name.as_str()), Some("eth0"));
            assert_eq!(h.by_index(3).map(|i| i.name.as_str()), Some("eth1"));
        }
    }
}

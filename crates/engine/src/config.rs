//! The kernel tunables the engine honours, set by their sysctl names
//! (`--sysctl NAME=VALUE`). Unset ones keep the kernel's defaults; an
//! unknown name is an error, so a typo never silently changes nothing.

use palisade_conntrack::CtConfig;

/// Engine API error (small and `Copy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not a tunable the engine knows.
    #[error("unknown sysctl")]
    UnknownSysctl,
    /// The value does not parse or is out of range.
    #[error("invalid sysctl value")]
    BadValue,
}

/// Engine configuration: conntrack, ICMP rate limits, routing knobs.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Conntrack tunables (`net.netfilter.nf_conntrack_*`).
    pub ct: CtConfig,
    /// `net.ipv4.icmp_ratelimit` in ms (1000).
    pub icmp_ratelimit_ms: u32,
    /// `net.ipv4.icmp_ratemask` (6168: dest-unreach, source-quench,
    /// time-exceeded, parameter-problem).
    pub icmp_ratemask: u32,
    /// `net.ipv4.icmp_msgs_per_sec` (1000).
    pub icmp_msgs_per_sec: u32,
    /// `net.ipv4.icmp_msgs_burst` (50).
    pub icmp_msgs_burst: u32,
    /// `net.ipv6.icmp.ratelimit` in ms (100 on current kernels).
    pub icmpv6_ratelimit_ms: u32,
    /// `net.ipv4.conf.{all,IFACE}.rp_filter`: 0 off, 1 strict, 2 loose (the
    /// kernel uses the maximum of `all` and the interface's value).
    pub rp_filter: u8,
    /// Per-interface `rp_filter` values.
    pub rp_filter_iface: Vec<(String, u8)>,
    /// `net.ipv4.ip_forward` override (else [`crate::Host::forwarding_v4`]).
    pub forwarding_v4: Option<bool>,
    /// `net.ipv6.conf.all.forwarding` override.
    pub forwarding_v6: Option<bool>,
    /// `net.ipv4.ip_default_ttl` (64), TTL of REJECT replies.
    pub default_ttl: u8,
    /// Replays the remembered rule path of established flows instead of
    /// walking the tables (same verdicts and counters, see the engine's
    /// `flowtable` module). On by default; off for comparisons.
    pub flowtable: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ct: CtConfig::default(),
            icmp_ratelimit_ms: 1000,
            icmp_ratemask: 6168,
            icmp_msgs_per_sec: 1000,
            icmp_msgs_burst: 50,
            icmpv6_ratelimit_ms: 100,
            rp_filter: 0,
            rp_filter_iface: Vec::new(),
            forwarding_v4: None,
            forwarding_v6: None,
            default_ttl: 64,
            flowtable: true,
        }
    }
}

fn num<T: std::str::FromStr>(v: &str) -> Result<T, Error> {
    v.trim().parse().map_err(|_| Error::BadValue)
}

fn boolean(v: &str) -> Result<bool, Error> {
    Ok(num::<u32>(v)? != 0)
}

impl EngineConfig {
    /// Sets one tunable by its kernel name (`net.ipv4.icmp_ratelimit`, with
    /// dots or slashes).
    pub fn set_sysctl(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let name = name.trim().replace('/', ".");
        if name == "net.netfilter.nf_log_all_netns" {
            // Accepted, no effect on the model: logging visibility only.
            return num::<u8>(value).map(|_| ());
        }
        if name.starts_with("net.netfilter.") || name.starts_with("net.nf_conntrack_max") {
            return self.ct.set_sysctl(&name, value).map_err(|e| match e {
                palisade_conntrack::SysctlError::Unknown(_) => Error::UnknownSysctl,
                _ => Error::BadValue,
            });
        }
        match name.as_str() {
            "net.ipv4.icmp_ratelimit" => self.icmp_ratelimit_ms = num(value)?,
            "net.ipv4.icmp_ratemask" => self.icmp_ratemask = num(value)?,
            "net.ipv4.icmp_msgs_per_sec" => self.icmp_msgs_per_sec = num(value)?,
            "net.ipv4.icmp_msgs_burst" => self.icmp_msgs_burst = num(value)?,
            "net.ipv6.icmp.ratelimit" => self.icmpv6_ratelimit_ms = num(value)?,
            "net.ipv4.ip_forward" | "net.ipv4.conf.all.forwarding" => {
                self.forwarding_v4 = Some(boolean(value)?)
            }
            "net.ipv6.conf.all.forwarding" => self.forwarding_v6 = Some(boolean(value)?),
            "net.ipv4.ip_default_ttl" => {
                let t: u8 = num(value)?;
                if t == 0 {
                    return Err(Error::BadValue);
                }
                self.default_ttl = t;
            }
            "net.ipv4.conf.all.rp_filter" => {
                let v: u8 = num(value)?;
                if v > 2 {
                    return Err(Error::BadValue);
                }
                self.rp_filter = v;
            }
            n if n.starts_with("net.ipv4.conf.") && n.ends_with(".rp_filter") => {
                let v: u8 = num(value)?;
                if v > 2 {
                    return Err(Error::BadValue);
                }
                let iface = &n["net.ipv4.conf.".len()..n.len() - ".rp_filter".len()];
                self.rp_filter_iface.retain(|(i, _)| i != iface);
                self.rp_filter_iface.push((iface.to_string(), v));
            }
            _ => return Err(Error::UnknownSysctl),
        }
        Ok(())
    }

    /// Effective `rp_filter` of an interface: max(all, iface).
    pub(crate) fn rp_filter_of(&self, iface: &str) -> u8 {
        let own = self
            .rp_filter_iface
            .iter()
            .find(|(i, _)| i == iface)
            .map(|(_, v)| *v)
            .unwrap_or(0);
        own.max(self.rp_filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let mut c = EngineConfig::default();
        c.set_sysctl("net.ipv4.icmp_ratelimit", "0").unwrap();
        assert_eq!(c.icmp_ratelimit_ms, 0);
        c.set_sysctl("net/ipv4/conf/eth0/rp_filter", "1").unwrap();
        assert_eq!(c.rp_filter_of("eth0"), 1);
        assert_eq!(c.rp_filter_of("eth1"), 0);
        assert_eq!(
            c.set_sysctl("net.ipv4.nope", "1"),
            Err(Error::UnknownSysctl)
        );
        assert_eq!(
            c.set_sysctl("net.ipv4.icmp_ratelimit", "x"),
            Err(Error::BadValue)
        );
    }
}

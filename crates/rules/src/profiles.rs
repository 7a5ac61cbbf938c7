//! Built-in rulesets, available by name wherever a ruleset file is expected. Each is
//! canonical iptables-save text (so printing it again gives the same bytes), with an
//! IPv6 twin.
//!
//! - `workstation`: seed 000 — accept ESTABLISHED/RELATED, ICMP, loopback; REJECT the
//!   rest (IPv6: ICMPv6 instead of ICMP).
//! - `server`: seed 002's single-machine firewall — TCP/UDP chains, port 22 open,
//!   INPUT/FORWARD policy DROP (IPv6: link-local ICMPv6, echo-request, raw rpfilter).
//! - `nat-gateway`: seed 002's NAT gateway — LAN 192.168.0.0/24 on eth0 and
//!   10.3.0.0/16 on eth1, WAN ppp0 masqueraded, port 22 forwarded to 192.168.0.5 and
//!   port 8000 to 192.168.0.6:80.

/// Names of the built-in rulesets.
pub const NAMES: &[&str] = &["workstation", "server", "nat-gateway"];

/// The (IPv4, IPv6) restore texts of a built-in ruleset.
pub fn get(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "workstation" => Some((
            include_str!("profiles/workstation.v4.rules"),
            include_str!("profiles/workstation.v6.rules"),
        )),
        "server" => Some((
            include_str!("profiles/server.v4.rules"),
            include_str!("profiles/server.v6.rules"),
        )),
        "nat-gateway" => Some((
            include_str!("profiles/nat-gateway.v4.rules"),
            include_str!("profiles/nat-gateway.v6.rules"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_restore, save, SaveOptions};
    use palisade_model::Family;

    #[test]
    fn profiles_are_canonical() {
        for n in NAMES {
            let (a, b) = get(n).unwrap();
            for (txt, fam) in [(a, Family::V4), (b, Family::V6)] {
                let rs = parse_restore(txt, n, fam).unwrap_or_else(|e| panic!("{n}: {e:?}"));
                assert_eq!(save(&rs, &SaveOptions::default()), txt, "{n} {fam:?}");
            }
        }
        assert!(get("nope").is_none());
    }
}

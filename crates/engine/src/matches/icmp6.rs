//! Kernel: net/ipv6/netfilter/ip6_tables.c (`icmp6_match`).
//!
//! Same shape as the IPv4 `icmp` match (type 0xFF = any, code range,
//! inversion) over the ICMPv6 header found after the extension headers.

use palisade_model::matches::IcmpMatch;
use palisade_wire::L4Meta;

use super::icmp::type_code_match;
use crate::eval::Pkt;

pub(crate) fn mt(info: &IcmpMatch, pkt: &Pkt, hotdrop: &mut bool) -> bool {
    if pkt.meta.frag_off != 0 {
        return false;
    }
    match pkt.meta.l4 {
        L4Meta::Icmp6(ic) => type_code_match(info, ic.icmp_type, ic.code),
        _ => {
            *hotdrop = true;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{icmp6_echo, pkt_of};

    #[test]
    fn echo_request() {
        let mut d = icmp6_echo();
        let p = pkt_of(&mut d);
        let mut hd = false;
        let m = IcmpMatch {
            icmp_type: 128,
            code_min: 0,
            code_max: 255,
            invert: false,
        };
        assert!(mt(&m, &p, &mut hd));
        let m = IcmpMatch {
            icmp_type: 129,
            code_min: 0,
            code_max: 255,
            invert: false,
        };
        assert!(!mt(&m, &p, &mut hd));
    }
}

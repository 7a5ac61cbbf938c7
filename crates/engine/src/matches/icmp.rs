//! Kernel: net/ipv4/netfilter/ip_tables.c (`icmp_match`, `icmp_type_code_match`).
//!
//! Type 0xFF means "any type"; otherwise type must equal and the code lie in
//! the inclusive range, then the whole result is inverted. Non-first
//! fragments never match; a truncated ICMP header is hot-dropped.

use palisade_model::matches::IcmpMatch;
use palisade_wire::L4Meta;

use crate::eval::Pkt;

pub(crate) fn type_code_match(info: &IcmpMatch, t: u8, code: u8) -> bool {
    (info.icmp_type == 0xFF
        || (t == info.icmp_type && code >= info.code_min && code <= info.code_max))
        ^ info.invert
}

pub(crate) fn mt(info: &IcmpMatch, pkt: &Pkt, hotdrop: &mut bool) -> bool {
    if pkt.meta.frag_off != 0 {
        return false;
    }
    match pkt.meta.l4 {
        L4Meta::Icmp(ic) => type_code_match(info, ic.icmp_type, ic.code),
        _ => {
            *hotdrop = true;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_and_ranges() {
        let any = IcmpMatch {
            icmp_type: 0xFF,
            code_min: 0,
            code_max: 255,
            invert: false,
        };
        assert!(type_code_match(&any, 3, 3));
        let unreach = IcmpMatch {
            icmp_type: 3,
            code_min: 0,
            code_max: 255,
            invert: false,
        };
        assert!(type_code_match(&unreach, 3, 9));
        assert!(!type_code_match(&unreach, 8, 0));
        let port = IcmpMatch {
            icmp_type: 3,
            code_min: 3,
            code_max: 3,
            invert: true,
        };
        assert!(!type_code_match(&port, 3, 3));
        assert!(type_code_match(&port, 3, 1));
    }
}

//! Kernel: net/netfilter/xt_dscp.c (`tos_mt`, `dscp_mt`): `-m tos` compares
//! `(tos & mask) == value`; `-m dscp` compares the upper six bits.

use palisade_model::matches::{DscpMatch, TosMatch};

pub(crate) fn tos_mt(info: &TosMatch, tos: u8) -> bool {
    ((tos & info.mask) == info.value) ^ info.invert
}

pub(crate) fn dscp_mt(info: &DscpMatch, tos: u8) -> bool {
    ((tos >> 2) == info.dscp) ^ info.invert
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tos_and_dscp() {
        assert!(tos_mt(
            &TosMatch {
                value: 0x10,
                mask: 0x3f,
                invert: false
            },
            0xd0
        ));
        assert!(dscp_mt(
            &DscpMatch {
                dscp: 46,
                invert: false
            },
            0xb8
        ));
    }
}

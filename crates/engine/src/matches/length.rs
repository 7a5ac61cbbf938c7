//! Kernel: net/netfilter/xt_length.c: IPv4 total length, or IPv6 payload
//! length + 40, within an inclusive range, inverted.

use palisade_model::matches::LengthMatch;

use crate::eval::Pkt;

pub(crate) fn mt(info: &LengthMatch, pkt: &Pkt) -> bool {
    (pkt.meta.len >= info.min && pkt.meta.len <= info.max) ^ info.invert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, udp_v4};

    #[test]
    fn ranges() {
        let mut d = udp_v4(1, 2, b"abcd");
        let p = pkt_of(&mut d);
        assert!(mt(
            &LengthMatch {
                min: 32,
                max: 32,
                invert: false
            },
            &p
        ));
        assert!(!mt(
            &LengthMatch {
                min: 0,
                max: 31,
                invert: false
            },
            &p
        ));
    }
}

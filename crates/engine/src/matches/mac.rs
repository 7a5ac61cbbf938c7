//! Kernel: net/netfilter/xt_mac.c (`mac_mt`).
//!
//! Compares the Ethernet source address. Without an Ethernet header (locally
//! generated packets, non-Ethernet devices) the match is false whatever the
//! inversion, as the kernel returns before applying `invert`.

use palisade_model::matches::MacMatch;

use crate::eval::Pkt;

pub(crate) fn mt(info: &MacMatch, pkt: &Pkt) -> bool {
    match &pkt.l2 {
        None => false,
        Some(l2) => (l2.src == info.addr) ^ info.invert,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, udp_v4};
    use crate::eval::L2;

    #[test]
    fn source_mac() {
        let mut d = udp_v4(1, 2, b"");
        let mut p = pkt_of(&mut d);
        let m = MacMatch {
            addr: [2, 0, 0, 0, 0, 1],
            invert: true,
        };
        assert!(!mt(&m, &p));
        p.l2 = Some(L2 {
            src: [2, 0, 0, 0, 0, 1],
            dst: [0; 6],
            ethertype: 0x800,
        });
        assert!(!mt(&m, &p));
        assert!(mt(&MacMatch { invert: false, ..m }, &p));
    }
}

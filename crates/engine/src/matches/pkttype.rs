//! Kernel: net/netfilter/xt_pkttype.c (`pkttype_mt`).
//!
//! The link-layer class of the packet: from the Ethernet destination when the
//! frame was received, else from the IP destination (the kernel's loopback
//! case: multicast destination → multicast, otherwise broadcast; ordinary
//! unicast stays `host`).

use palisade_model::matches::PkttypeMatch;

use crate::eval::Pkt;

pub(crate) fn mt(info: &PkttypeMatch, pkt: &Pkt) -> bool {
    (pkt.pkttype == info.pkt_type) ^ info.invert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, udp_v4};
    use palisade_model::matches::PktType;

    #[test]
    fn unicast_default() {
        let mut d = udp_v4(1, 2, b"");
        let p = pkt_of(&mut d);
        assert!(mt(
            &PkttypeMatch {
                pkt_type: PktType::Unicast,
                invert: false
            },
            &p
        ));
        assert!(!mt(
            &PkttypeMatch {
                pkt_type: PktType::Broadcast,
                invert: false
            },
            &p
        ));
    }
}

//! Kernel: net/netfilter/xt_tcpudp.c (`udp_mt`).
//!
//! Source and destination port ranges, each invertible. Non-first fragments
//! never match; a truncated UDP header is hot-dropped.

use palisade_model::matches::UdpMatch;
use palisade_wire::L4Meta;

use super::tcp::{later_fragment, port_match};
use crate::eval::Pkt;

pub(crate) fn mt(info: &UdpMatch, pkt: &Pkt, hotdrop: &mut bool) -> bool {
    if later_fragment(pkt, false, hotdrop) {
        return false;
    }
    let L4Meta::Udp(uh) = pkt.meta.l4 else {
        *hotdrop = true;
        return false;
    };
    port_match(info.sport.min, info.sport.max, uh.sport, info.inv_sport)
        && port_match(info.dport.min, info.dport.max, uh.dport, info.inv_dport)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, udp_v4};
    use palisade_model::matches::PortRange;

    #[test]
    fn udp_ports() {
        let mut d = udp_v4(5353, 53, b"x");
        let p = pkt_of(&mut d);
        let mut hd = false;
        let m = UdpMatch {
            dport: PortRange::single(53),
            ..Default::default()
        };
        assert!(mt(&m, &p, &mut hd));
        let m = UdpMatch {
            dport: PortRange::single(53),
            inv_dport: true,
            ..Default::default()
        };
        assert!(!mt(&m, &p, &mut hd));
        assert!(!hd);
    }
}

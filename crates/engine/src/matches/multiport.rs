//! Kernel: net/netfilter/xt_multiport.c (`ports_match_v1`, `multiport_mt`).
//!
//! Walks the list in order; the first single port or range that contains the
//! chosen port(s) decides `true ^ invert`; nothing found gives `invert`.
//! Reads only the first four bytes of the layer-4 header; a shorter header is
//! hot-dropped, a non-first fragment never matches.

use palisade_model::matches::{MultiportKind, MultiportMatch};

use crate::eval::Pkt;

pub(crate) fn mt(info: &MultiportMatch, pkt: &Pkt, hotdrop: &mut bool) -> bool {
    if pkt.meta.frag_off != 0 {
        return false;
    }
    let off = usize::from(pkt.meta.l4_off);
    let end = usize::from(pkt.meta.len).min(pkt.data.len());
    let Some(b) = pkt.data.get(off..end).and_then(|b| b.get(..4)) else {
        *hotdrop = true;
        return false;
    };
    let src = u16::from_be_bytes([b[0], b[1]]);
    let dst = u16::from_be_bytes([b[2], b[3]]);
    for r in &info.ports {
        let hit = match info.kind {
            MultiportKind::Source => r.contains(src),
            MultiportKind::Destination => r.contains(dst),
            MultiportKind::Either => r.contains(src) || r.contains(dst),
        };
        if hit {
            return !info.invert;
        }
    }
    info.invert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, udp_v4};
    use palisade_model::matches::PortRange;

    #[test]
    fn lists() {
        let mut d = udp_v4(40000, 443, b"");
        let p = pkt_of(&mut d);
        let mut hd = false;
        let m = MultiportMatch {
            kind: MultiportKind::Destination,
            ports: vec![PortRange::single(80), PortRange { min: 440, max: 450 }],
            invert: false,
        };
        assert!(mt(&m, &p, &mut hd));
        let m = MultiportMatch {
            kind: MultiportKind::Source,
            ..m
        };
        assert!(!mt(&m, &p, &mut hd));
        let m = MultiportMatch { invert: true, ..m };
        assert!(mt(&m, &p, &mut hd));
    }
}

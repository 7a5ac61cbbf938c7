//! Kernel: net/netfilter/xt_connmark.c (`connmark_mt`): like `mark` on the
//! conntrack mark; no entry never matches, even inverted.

use palisade_model::matches::MarkMatch;

use crate::eval::Pkt;

pub(crate) fn mt(info: &MarkMatch, pkt: &Pkt) -> bool {
    match pkt.ct.conn.filter(|_| pkt.ct.state.has_entry()) {
        None => false,
        Some(c) => super::mark::mt(info, c.mark),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, udp_v4};

    #[test]
    fn no_ct_never_matches() {
        let mut d = udp_v4(1, 2, b"");
        let p = pkt_of(&mut d);
        assert!(!mt(
            &MarkMatch {
                mark: 0,
                mask: 0,
                invert: true
            },
            &p
        ));
    }
}

//! Kernel: net/netfilter/xt_mark.c (`mark_mt`): `(nfmark & mask) == mark`, inverted.

use palisade_model::matches::MarkMatch;

pub(crate) fn mt(info: &MarkMatch, mark: u32) -> bool {
    ((mark & info.mask) == info.mark) ^ info.invert
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked() {
        let m = MarkMatch {
            mark: 1,
            mask: 0xff,
            invert: false,
        };
        assert!(mt(&m, 0x301));
        assert!(!mt(&m, 0x302));
    }
}

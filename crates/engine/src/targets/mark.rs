//! Kernel: net/netfilter/xt_mark.c (`mark_tg`): `nfmark = (nfmark & ~mask) ^ value`.

use palisade_model::targets::XMark;

use super::TgResult;
use crate::eval::Pkt;

pub(crate) fn apply(x: &XMark, old: u32) -> u32 {
    (old & !x.mask) ^ x.value
}

pub(crate) fn tg(x: &XMark, pkt: &mut Pkt) -> TgResult {
    pkt.mark = apply(x, pkt.mark);
    TgResult::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xmark() {
        // --set-mark 5 is --set-xmark 5/0xffffffff; --or-mark 4 is 4/4.
        assert_eq!(apply(&XMark { value: 5, mask: !0 }, 0xff), 5);
        assert_eq!(apply(&XMark { value: 4, mask: 4 }, 1), 5);
    }
}

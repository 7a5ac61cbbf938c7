//! Kernel: net/netfilter/xt_state.c (`state_mt`).
//!
//! One bit per ctinfo: no entry is INVALID, the untracked template is
//! UNTRACKED, otherwise `XT_STATE_BIT(ctinfo)` where the reply flavours fold
//! onto ESTABLISHED/RELATED.

use palisade_model::matches::StateMatch;

use crate::eval::Pkt;

pub(crate) fn mt(info: &StateMatch, pkt: &Pkt) -> bool {
    (info.mask & pkt.ct.state.state_bit() != 0) ^ info.invert
}

#[cfg(test)]
mod tests {
    use crate::ctview::CtState;
    use palisade_model::matches::ct_state as s;

    #[test]
    fn bits() {
        assert_eq!(CtState::EstablishedReply.state_bit(), s::ESTABLISHED);
        assert_eq!(CtState::RelatedReply.state_bit(), s::RELATED);
        assert_eq!(CtState::Invalid.state_bit(), s::INVALID);
        assert_eq!(CtState::Untracked.state_bit(), s::UNTRACKED);
        assert_eq!(CtState::New.state_bit(), s::NEW);
    }
}

//! Kernel: net/netfilter/xt_CT.c (`xt_ct_target`, `notrack_tg`).
//!
//! In the raw table, before conntrack runs: attach a template to the packet.
//! `--notrack` makes the packet UNTRACKED; `--helper` names the helper the new
//! connection gets (helpers are only assigned from templates since Linux 6.0).
//! A packet that already has conntrack state (looped back) is left alone.

use palisade_model::targets::CtTarget;

use super::TgResult;
use crate::eval::Pkt;

pub(crate) fn tg(t: &CtTarget, helper: Option<u16>, pkt: &mut Pkt) -> TgResult {
    if pkt.ct.state.has_entry() {
        return TgResult::Continue;
    }
    if t.notrack {
        pkt.template.notrack = true;
    } else {
        pkt.template.helper = helper;
        pkt.template.zone = t.zone;
    }
    TgResult::Continue
}

pub(crate) fn notrack(pkt: &mut Pkt) -> TgResult {
    if !pkt.ct.state.has_entry() {
        pkt.template.notrack = true;
    }
    TgResult::Continue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, udp_v4};

    #[test]
    fn sets_template() {
        let mut d = udp_v4(1, 2, b"");
        let mut p = pkt_of(&mut d);
        notrack(&mut p);
        assert!(p.template.notrack);
    }
}

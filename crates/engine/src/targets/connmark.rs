//! Kernel: net/netfilter/xt_connmark.c (`connmark_tg_shift`, revision 2 without
//! shifts). Needs a conntrack entry; without one it does nothing.

use palisade_model::targets::ConnmarkTarget;

use super::TgResult;
use crate::eval::Pkt;

pub(crate) fn tg(t: &ConnmarkTarget, pkt: &mut Pkt) -> TgResult {
    if !pkt.ct.state.has_entry() {
        return TgResult::Continue;
    }
    let Some(c) = pkt.ct.conn.as_mut() else {
        return TgResult::Continue;
    };
    match t {
        ConnmarkTarget::Set(x) => {
            let new = (c.mark & !x.mask) ^ x.value;
            if new != c.mark {
                c.mark = new;
                pkt.ct.mark_dirty = true;
            }
        }
        ConnmarkTarget::Save { nfmask, ctmask } => {
            let new = (c.mark & !ctmask) ^ (pkt.mark & nfmask);
            if new != c.mark {
                c.mark = new;
                pkt.ct.mark_dirty = true;
            }
        }
        ConnmarkTarget::Restore { nfmask, ctmask } => {
            pkt.mark = (pkt.mark & !nfmask) ^ (c.mark & ctmask);
        }
    }
    TgResult::Continue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctview::{ConnView, CtState, TupleView};
    use crate::eval::tests::{pkt_of, udp_v4};

    #[test]
    fn save_restore() {
        let mut d = udp_v4(1, 2, b"");
        let mut p = pkt_of(&mut d);
        let t = TupleView {
            src: p.meta.src,
            dst: p.meta.dst,
            sport: 1,
            dport: 2,
        };
        p.ct.state = CtState::New;
        p.ct.conn = Some(ConnView {
            orig: t,
            repl: t,
            proto: 17,
            status: 0,
            snat: false,
            dnat: false,
            expire_secs: 30,
            mark: 0,
            confirmed: false,
            src_nat_done: false,
            dst_nat_done: false,
        });
        p.mark = 7;
        tg(
            &ConnmarkTarget::Save {
                nfmask: !0,
                ctmask: !0,
            },
            &mut p,
        );
        assert_eq!(p.ct.conn.unwrap().mark, 7);
        assert!(p.ct.mark_dirty);
        p.mark = 0;
        tg(
            &ConnmarkTarget::Restore {
                nfmask: !0,
                ctmask: !0,
            },
            &mut p,
        );
        assert_eq!(p.mark, 7);
    }
}

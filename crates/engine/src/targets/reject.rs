//! Kernel: net/ipv4/netfilter/ipt_REJECT.c (`reject_tg`),
//! net/ipv6/netfilter/ip6t_REJECT.c (`reject_tg6`).
//!
//! The target itself only decides: the original packet is dropped and the
//! reply to send is remembered; the pipeline builds it once the traversal is
//! over (see `crate::reject`) and sends it through OUTPUT and POSTROUTING.

use palisade_model::targets::RejectWith;

use super::TgResult;
use crate::eval::Pkt;

pub(crate) fn tg(with: RejectWith, pkt: &mut Pkt) -> TgResult {
    pkt.reject = Some(with);
    TgResult::Drop
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, udp_v4};

    #[test]
    fn drops_and_records() {
        let mut d = udp_v4(1, 2, b"");
        let mut p = pkt_of(&mut d);
        assert_eq!(tg(RejectWith::IcmpPortUnreachable, &mut p), TgResult::Drop);
        assert_eq!(p.reject, Some(RejectWith::IcmpPortUnreachable));
    }
}

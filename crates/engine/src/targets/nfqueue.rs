//! Kernel: net/netfilter/xt_NFQUEUE.c (`nfqueue_tg_v3`).
//!
//! The engine has no queue reader: the verdict is `Queue` and the caller (the
//! daemon) owns the packet from there, as userspace does in the kernel. With
//! `--queue-balance` the queue is chosen by a flow hash; we pick the first
//! queue of the range plus a symmetric address hash, so both directions of a
//! flow land on the same queue.

use palisade_model::targets::NfqueueTarget;

use super::TgResult;
use crate::eval::Pkt;
use crate::host::bits;

pub(crate) fn tg(q: &NfqueueTarget, pkt: &mut Pkt) -> TgResult {
    let mut num = q.num;
    if q.total > 1 {
        let h = (bits(pkt.meta.src) ^ bits(pkt.meta.dst)) as u64;
        let h = (h ^ (h >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
        num = q.num.wrapping_add((h % u64::from(q.total)) as u16);
    }
    TgResult::Queue {
        num,
        bypass: q.bypass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, udp_v4};

    #[test]
    fn in_range() {
        let mut d = udp_v4(1, 2, b"");
        let mut p = pkt_of(&mut d);
        let q = NfqueueTarget {
            num: 4,
            total: 4,
            bypass: true,
            cpu_fanout: false,
        };
        match tg(&q, &mut p) {
            TgResult::Queue { num, bypass } => assert!((4..8).contains(&num) && bypass),
            _ => panic!(),
        }
    }
}

//! Kernel: net/netfilter/nf_conntrack_seqadj.c (`nf_ct_seqadj_set`,
//! `nf_ct_seq_offset`), nf_conntrack_proto_tcp.c (`tcp_in_window`: the
//! receiver's offset taken off ACK and SACK).
//!
//! When NAT rewrites a helped connection's payload to a different length
//! (an FTP `PORT` naming the masquerading address), the sender's sequence
//! space and the one its peer sees drift apart by the length difference.
//! Each direction keeps one correction: segments starting after
//! `correction_pos` move by `offset_after`, those at or before it by
//! `offset_before` (a retransmission of the rewritten segment keeps the old
//! offset). Only the latest change is remembered; a second change in the
//! same direction before the first was passed replaces nothing (the kernel
//! keeps the first one until a segment after it is rewritten).
//!
//! The tracker reads the offsets too: an ACK from the peer is in the
//! rewritten space and is moved back before the window check, else the
//! peer acknowledging the longer stream would look like acknowledging data
//! never sent.

use crate::{Conntrack, CtHandle};

/// `struct nf_ct_seqadj`: one direction's correction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqAdj {
    /// Sequence number of the rewritten segment (sender's space).
    pub correction_pos: u32,
    /// Offset of segments up to and including `correction_pos`.
    pub offset_before: i32,
    /// Offset of segments after it.
    pub offset_after: i32,
}

/// `after(a, b)` in sequence space.
pub(crate) fn after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

impl SeqAdj {
    /// `nf_ct_seq_offset` for one direction.
    pub fn offset(&self, seq: u32) -> i32 {
        if after(seq, self.correction_pos) {
            self.offset_after
        } else {
            self.offset_before
        }
    }

    /// `nf_ct_seqadj_set` for one direction: the segment at `seq` grew by
    /// `off` bytes.
    pub fn set(&mut self, seq: u32, off: i32) {
        if off == 0 {
            return;
        }
        if self.offset_before == self.offset_after || after(seq, self.correction_pos) {
            self.correction_pos = seq;
            self.offset_before = self.offset_after;
            self.offset_after = self.offset_after.wrapping_add(off);
        }
    }
}

impl Conntrack {
    /// Both directions' corrections of a connection (`None`: none were
    /// ever made, `IPS_SEQ_ADJUST` is clear).
    pub fn seqadj(&self, h: CtHandle) -> Option<[SeqAdj; 2]> {
        let e = self.entry(h)?;
        if !e.status.has(crate::Status::SEQ_ADJUST) {
            return None;
        }
        self.helpers
            .seqadj
            .get(&h.slot)
            .filter(|s| s.0 == h.gen)
            .map(|s| s.1)
    }

    /// `nf_ct_seqadj_set`: the segment of direction `dir` (0 original, 1
    /// reply) at `seq` was rewritten `off` bytes longer (negative: shorter).
    /// Sets `IPS_SEQ_ADJUST`.
    pub fn seqadj_set(&mut self, h: CtHandle, dir: usize, seq: u32, off: i32) {
        if off == 0 || dir > 1 {
            return;
        }
        let Some(e) = self.get_mut(h) else { return };
        e.status.set(crate::Status::SEQ_ADJUST);
        let slot = self.helpers.seqadj.entry(h.slot).or_default();
        if slot.0 != h.gen {
            *slot = (h.gen, [SeqAdj::default(); 2]);
        }
        slot.1[dir].set(seq, off);
    }
}

impl super::Helpers {
    /// `nf_ct_seq_offset` for the tracker: the offset of direction `dir`
    /// at `seq` for the entry in slab slot `slot` of generation `gen`.
    pub(crate) fn seq_offset(&self, slot: u32, gen: u32, dir: usize, seq: u32) -> i32 {
        self.seqadj
            .get(&slot)
            .filter(|s| s.0 == gen)
            .and_then(|s| s.1.get(dir))
            .map_or(0, |a| a.offset(seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_offset() {
        let mut a = SeqAdj::default();
        a.set(1000, 3);
        assert_eq!((a.offset(1000), a.offset(1001)), (0, 3));
        // A second change before a later segment: ignored (same position).
        a.set(1000, 5);
        assert_eq!(a.offset(1001), 3);
        a.set(2000, -2);
        assert_eq!((a.offset(1500), a.offset(2001)), (3, 1));
        // Sequence wrap.
        let mut w = SeqAdj::default();
        w.set(u32::MAX - 1, 4);
        assert_eq!((w.offset(u32::MAX - 1), w.offset(2)), (0, 4));
    }
}

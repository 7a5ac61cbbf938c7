//! Kernel: net/netfilter/nf_conncount.c (`find_or_evict`, `already_closed`).
//!
//! The liveness test `-m connlimit` applies to each connection it remembers:
//! the tuple must still name a confirmed entry (in either direction, as the
//! kernel's hash lookup finds both), and a TCP entry in TIME_WAIT or CLOSE
//! no longer counts. A hash lookup, so remembering many connections costs
//! nothing per packet beyond the ones actually checked.

use crate::conn::Status;
use crate::{Conntrack, Lookup, Nanos, TcpState, Tuple};

impl Conntrack {
    /// Whether `t` still counts for `nf_conncount`.
    pub fn conncount_alive(&self, t: &Tuple, now: Nanos) -> bool {
        let Lookup::Found(i, _) = self.find(t) else {
            return false;
        };
        self.slab
            .get(i as usize)
            .and_then(|c| c.as_ref())
            .is_some_and(|c| {
                c.is_confirmed()
                    && !c.status.has(Status::DYING)
                    && !c.is_expired(now)
                    && !matches!(c.tcp_state(), Some(TcpState::TimeWait | TcpState::Close))
            })
    }
}

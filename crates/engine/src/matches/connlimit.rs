//! Kernel: net/netfilter/xt_connlimit.c (`connlimit_mt`),
//! net/netfilter/nf_conncount.c (`count_tree`, `__nf_conncount_add`,
//! `find_or_evict`, `nf_conncount_gc_list`).
//!
//! Each rule remembers, per masked source (or destination) address, the
//! original tuples of the connections that went through it. A packet finds
//! its key's list by hash and pays only for that list, and only lazily:
//! - a packet of a confirmed connection that is assured or plainly
//!   ESTABLISHED adds nothing (the connection was counted when it started);
//! - a first packet arriving in the same jiffy as the list's last check,
//!   with fewer than 64 additions since, is appended unchecked;
//! - otherwise the list is walked in insertion order, dropping tuples whose
//!   connection is gone or closed (TCP TIME_WAIT/CLOSE), stopping after
//!   more than 64 drops, and stopping early when the packet's own tuple is
//!   found (already counted); the tuple is appended if not found.
//!
//! The count is the list's length, stale tail included, as in the kernel.
//! Lists of keys that stop seeing packets are swept by an amortised pass
//! (the kernel's gc worker), so memory follows the live connections.
//! The match is `count > limit`, inverted for `--connlimit-upto`.

use palisade_model::matches::ConnlimitMatch;

use crate::ctview::{CtState, TupleView};
use crate::eval::Pkt;
use crate::host::bits;
use crate::state::jiffies;

/// `CONNCOUNT_GC_MAX_COLLECT`.
const GC_MAX_COLLECT: usize = 64;
/// `IPS_ASSURED` in the [`crate::ctview::ConnView::status`] layout.
const ASSURED: u32 = palisade_model::matches::ct_status::ASSURED;

/// What connlimit needs from the tracker.
pub(crate) trait ConnLookup {
    /// Whether a confirmed connection with this original tuple exists and is
    /// not closed. Expected O(1) (a hash lookup).
    fn alive(&self, proto: u8, orig: &TupleView) -> bool;
}

type Conn = (u8, TupleView);

#[derive(Clone, Debug, Default)]
struct List {
    conns: Vec<Conn>,
    /// Jiffy of the last walk (`last_gc`).
    last_gc: u64,
    /// Length after the last walk (`last_gc_count`).
    last_gc_count: usize,
}

impl List {
    /// Drops dead tuples in order until more than [`GC_MAX_COLLECT`] went or
    /// `stop` is found; true when `stop` was found alive.
    fn walk(&mut self, ct: &dyn ConnLookup, stop: Option<&Conn>) -> bool {
        let mut collect = 0;
        let mut i = 0;
        let mut found = false;
        while i < self.conns.len() {
            if collect > GC_MAX_COLLECT {
                break;
            }
            let c = self.conns[i];
            if !ct.alive(c.0, &c.1) {
                self.conns.remove(i);
                collect += 1;
                continue;
            }
            if stop == Some(&c) {
                found = true;
                break;
            }
            i += 1;
        }
        found
    }
}

/// Per-rule state.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnlimitState {
    lists: hashbrown::HashMap<u128, List, foldhash::fast::FixedState>,
    /// Tuples held over all lists.
    total: usize,
    /// Packets since the last full sweep.
    since_sweep: usize,
}

impl ConnlimitState {
    /// The gc worker's job, amortised: once as many packets went by as
    /// tuples are held, every list is pruned and empty ones are freed.
    fn maybe_sweep(&mut self, ct: &dyn ConnLookup) {
        self.since_sweep += 1;
        if self.since_sweep < self.total.max(64) {
            return;
        }
        self.since_sweep = 0;
        self.lists.retain(|_, l| {
            l.conns.retain(|c| ct.alive(c.0, &c.1));
            l.last_gc_count = l.conns.len();
            !l.conns.is_empty()
        });
        self.total = self.lists.values().map(|l| l.conns.len()).sum();
    }
}

fn mask_bits(v6: bool, len: u8) -> u128 {
    let w = if v6 { 128u32 } else { 32 };
    let l = u32::from(len).min(w);
    if l == 0 {
        0
    } else if v6 {
        !0u128 << (128 - l)
    } else {
        u128::from(!0u32 << (32 - l))
    }
}

pub(crate) fn mt(
    info: &ConnlimitMatch,
    st: &mut ConnlimitState,
    pkt: &Pkt,
    ct: &dyn ConnLookup,
    _hotdrop: &mut bool,
) -> bool {
    let conn = pkt.ct.conn.filter(|_| pkt.ct.state.has_entry());
    let me: Conn = match conn {
        Some(c) => (c.proto, c.orig),
        None => {
            let (sport, dport) = pkt.meta.ports().unwrap_or((0, 0));
            (
                pkt.meta.proto,
                TupleView {
                    src: pkt.meta.src,
                    dst: pkt.meta.dst,
                    sport,
                    dport,
                },
            )
        }
    };
    let addr = if info.daddr {
        pkt.meta.dst
    } else {
        pkt.meta.src
    };
    let key = bits(addr) & mask_bits(addr.is_ipv6(), info.mask);
    let now = jiffies(pkt.now);
    st.maybe_sweep(ct);
    let before = st.lists.get(&key).map_or(0, |l| l.conns.len());
    let list = st.lists.entry(key).or_insert_with(|| List {
        conns: Vec::new(),
        last_gc: now,
        last_gc_count: 0,
    });
    let counted_already = conn.is_some_and(|c| {
        c.confirmed && (c.status & ASSURED != 0 || pkt.ct.state == CtState::Established)
    });
    if counted_already {
        if now != list.last_gc {
            list.walk(ct, None);
            list.last_gc = now;
            list.last_gc_count = list.conns.len();
        }
    } else if list.conns.is_empty()
        || (now == list.last_gc
            && list.conns.len().saturating_sub(list.last_gc_count) < GC_MAX_COLLECT
            && !conn.is_some_and(|c| c.confirmed))
    {
        list.conns.push(me);
    } else if !list.walk(ct, Some(&me)) {
        list.conns.push(me);
        list.last_gc = now;
        list.last_gc_count = list.conns.len();
    }
    let count = list.conns.len();
    st.total = st.total.saturating_sub(before) + count;
    if count == 0 {
        // A confirmed connection meeting an empty list: the kernel counts
        // zero, which never exceeds the limit.
        st.lists.remove(&key);
    }
    (count > info.limit as usize) ^ info.upto
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, tcp_v4};
    use palisade_model::matches::tcp_flags as f;
    use std::cell::RefCell;
    use std::collections::HashSet;

    struct AllAlive;
    impl ConnLookup for AllAlive {
        fn alive(&self, _: u8, _: &TupleView) -> bool {
            true
        }
    }

    /// Alive unless the source port is in `dead`; counts lookups.
    struct Some_ {
        dead: HashSet<u16>,
        calls: RefCell<usize>,
    }
    impl ConnLookup for Some_ {
        fn alive(&self, _: u8, t: &TupleView) -> bool {
            *self.calls.borrow_mut() += 1;
            !self.dead.contains(&t.sport)
        }
    }

    fn info(limit: u32) -> ConnlimitMatch {
        ConnlimitMatch {
            limit,
            upto: false,
            mask: 32,
            daddr: false,
        }
    }

    fn step(
        st: &mut ConnlimitState,
        ct: &dyn ConnLookup,
        sport: u16,
        now: u64,
        limit: u32,
    ) -> bool {
        let mut hd = false;
        let mut d = tcp_v4(sport, 22, f::SYN, &[]);
        let mut p = pkt_of(&mut d);
        p.now = now;
        mt(&info(limit), st, &p, ct, &mut hd)
    }

    #[test]
    fn counts_distinct_connections() {
        let mut st = ConnlimitState::default();
        let s = 4_000_000_000;
        for (n, (i, expect)) in [(1u16, false), (2, false), (3, true), (3, true)]
            .into_iter()
            .enumerate()
        {
            // Distinct jiffies: every packet walks the list and dedups.
            assert_eq!(
                step(&mut st, &AllAlive, 1000 + i, s + n as u64 * 8_000_000, 2),
                expect,
                "conn {i}"
            );
        }
        assert_eq!(st.lists.values().next().map(|l| l.conns.len()), Some(3));
    }

    #[test]
    fn dead_connections_are_pruned_on_the_keys_walk() {
        let mut st = ConnlimitState::default();
        let ct = Some_ {
            dead: HashSet::new(),
            calls: RefCell::new(0),
        };
        let s = 4_000_000_000;
        for i in 0..5u16 {
            step(&mut st, &ct, 100 + i, s + u64::from(i) * 8_000_000, 100);
        }
        let ct = Some_ {
            dead: [100, 101, 102].into_iter().collect(),
            calls: RefCell::new(0),
        };
        // 2 alive + the new one = 3 > 2.
        assert!(step(&mut st, &ct, 200, s + 100_000_000, 2));
        assert_eq!(st.lists.values().next().map(|l| l.conns.len()), Some(3));
        // Only this key's 5 tuples were checked.
        assert_eq!(*ct.calls.borrow(), 5);
    }

    #[test]
    fn same_jiffy_first_packets_append_unchecked() {
        let mut st = ConnlimitState::default();
        let ct = Some_ {
            dead: HashSet::new(),
            calls: RefCell::new(0),
        };
        let s = 4_000_000_000;
        for i in 0..10u16 {
            step(&mut st, &ct, 100 + i, s, 100);
        }
        assert_eq!(*ct.calls.borrow(), 0);
        assert_eq!(st.total, 10);
    }

    #[test]
    fn sweep_frees_lists_of_idle_keys() {
        let mut st = ConnlimitState::default();
        let s = 4_000_000_000u64;
        let ct = Some_ {
            dead: HashSet::new(),
            calls: RefCell::new(0),
        };
        for i in 0..3u16 {
            step(&mut st, &ct, 100 + i, s + u64::from(i) * 8_000_000, 100);
        }
        let dead = Some_ {
            dead: (0..u16::MAX).collect(),
            calls: RefCell::new(0),
        };
        for i in 0..70u64 {
            let mut hd = false;
            let mut d = tcp_v4(5, 22, f::SYN, &[]);
            let mut p = pkt_of(&mut d);
            p.meta.src = "10.9.9.9".parse().expect("addr");
            p.now = s + 1_000_000_000 + i * 8_000_000;
            mt(&info(100), &mut st, &p, &dead, &mut hd);
        }
        assert!(st.lists.len() <= 1, "idle key swept");
    }
}

//! Kernel: net/netfilter/xt_recent.c (`recent_mt`, `recent_entry_*`,
//! `ip_list_tot`, `ip_pkt_list_tot`).
//!
//! Named lists shared by every rule that names them. As in the kernel, one
//! list name serves both families (entries remember theirs), and the rule
//! that creates a list fixes its `--mask` for every rule and family using it
//! (an IPv4 mask leaves the other three words of the address mask all ones).
//! A list holds at most `ip_list_tot` (100) addresses; adding one more evicts
//! the least recently *updated* entry. Each entry keeps a ring of timestamps
//! of a power-of-two size: `--hitcount` rounded up, 32 without one (the
//! `ip_pkt_list_tot` module parameter is unset on current kernels); a later
//! rule needing a bigger ring flushes the list and grows it.

use std::net::IpAddr;

use palisade_model::matches::RecentMatch;
use palisade_model::Family;

/// `ip_list_tot` default.
pub(crate) const IP_LIST_TOT: usize = 100;
/// `ip_pkt_list_tot` default: timestamps kept per entry.
pub(crate) const IP_PKT_LIST_TOT: usize = 32;

/// The list mask in `union nf_inet_addr` layout, as a 128-bit word.
fn inet_mask(m: IpAddr) -> u128 {
    match m {
        IpAddr::V4(v) => (u128::from(u32::from(v)) << 96) | (u128::MAX >> 32),
        IpAddr::V6(v) => u128::from(v),
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub family: Family,
    pub addr: u128,
    pub ttl: u8,
    /// Next write slot (`e->index`), 1-based after the first stamp.
    pub index: usize,
    /// Stamps in use (`e->nstamps`).
    pub nstamps: usize,
    /// Jiffies.
    pub stamps: Vec<u64>,
    /// LRU order key: larger is more recent.
    pub lru: u64,
}

/// One named list.
#[derive(Clone, Debug)]
pub(crate) struct List {
    pub name: String,
    /// `t->mask` ([`inet_mask`] layout).
    pub mask: u128,
    pub nstamps_max: usize,
    pub entries: Vec<Entry>,
    lru_clock: u64,
}

impl List {
    fn new(name: &str, mask: u128, nstamps_max: usize) -> List {
        List {
            name: name.to_string(),
            mask,
            nstamps_max,
            entries: Vec::new(),
            lru_clock: 0,
        }
    }

    /// The address under the list's mask (`nf_inet_addr_mask`); an IPv4
    /// address sits in the first word.
    pub(crate) fn masked(&self, addr: IpAddr) -> u128 {
        match addr {
            IpAddr::V4(v) => u128::from(u32::from(v)) & (self.mask >> 96),
            IpAddr::V6(v) => u128::from(v) & self.mask,
        }
    }

    /// `recent_entry_lookup`: a TTL of 0 on either side matches any.
    pub(crate) fn lookup(&self, family: Family, addr: u128, ttl: u8) -> Option<usize> {
        self.entries.iter().position(|e| {
            e.family == family && e.addr == addr && (ttl == e.ttl || ttl == 0 || e.ttl == 0)
        })
    }

    fn tick(&mut self) -> u64 {
        self.lru_clock += 1;
        self.lru_clock
    }

    /// `recent_entry_init`: evicts the LRU head when full.
    pub(crate) fn init(&mut self, family: Family, addr: u128, ttl: u8, now: u64) -> usize {
        if self.entries.len() >= IP_LIST_TOT {
            if let Some(oldest) = self.oldest() {
                self.entries.swap_remove(oldest);
            }
        }
        let lru = self.tick();
        let mut stamps = vec![0; self.nstamps_max];
        stamps[0] = now;
        self.entries.push(Entry {
            family,
            addr,
            ttl,
            index: 1,
            nstamps: 1,
            stamps,
            lru,
        });
        self.entries.len() - 1
    }

    pub(crate) fn oldest(&self) -> Option<usize> {
        self.entries
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| e.lru)
            .map(|(i, _)| i)
    }

    /// `recent_entry_update`: write a stamp, move to the LRU tail.
    pub(crate) fn update(&mut self, i: usize, now: u64) {
        let mask = self.nstamps_max - 1;
        let lru = self.tick();
        let e = &mut self.entries[i];
        e.index &= mask;
        e.stamps[e.index] = now;
        e.index += 1;
        if e.index > e.nstamps {
            e.nstamps = e.index;
        }
        e.lru = lru;
    }

    pub(crate) fn remove(&mut self, i: usize) {
        self.entries.swap_remove(i);
    }
}

/// All lists, by name.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecentTables {
    pub lists: Vec<List>,
}

impl RecentTables {
    /// Registers a rule's list at load time (`recent_mt_check`); returns its
    /// id. The first rule naming a list sets its mask; a rule needing a
    /// bigger stamp ring flushes the list.
    pub(crate) fn register(&mut self, info: &RecentMatch) -> usize {
        let need = if info.hitcount > 0 {
            (info.hitcount as usize).next_power_of_two()
        } else {
            IP_PKT_LIST_TOT
        };
        if let Some(i) = self.lists.iter().position(|l| l.name == info.name) {
            let l = &mut self.lists[i];
            if l.nstamps_max < need {
                *l = List::new(&info.name, l.mask, need);
            }
            return i;
        }
        self.lists
            .push(List::new(&info.name, inet_mask(info.mask), need));
        self.lists.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, hitcount: u32, mask: &str) -> RecentMatch {
        RecentMatch {
            cmd: palisade_model::matches::RecentCmd::Set,
            name: name.into(),
            seconds: 0,
            reap: false,
            hitcount,
            rttl: false,
            rdest: false,
            mask: mask.parse().expect("mask"),
            invert: false,
        }
    }

    #[test]
    fn lru_eviction_and_ring() {
        let mut t = RecentTables::default();
        let id = t.register(&rule("x", 0, "255.255.255.255"));
        let l = &mut t.lists[id];
        for a in 0..(IP_LIST_TOT as u128 + 1) {
            l.init(Family::V4, a, 0, a as u64);
        }
        assert_eq!(l.entries.len(), IP_LIST_TOT);
        assert!(l.lookup(Family::V4, 0, 0).is_none());
        let i = l.lookup(Family::V4, 5, 0).expect("entry");
        for k in 0..40 {
            l.update(i, 1000 + k);
        }
        assert_eq!(l.entries[i].nstamps, 32);
        // A smaller need keeps the ring; a larger one grows and flushes.
        assert_eq!(t.register(&rule("x", 4, "0.0.0.0")), id);
        assert_eq!(t.lists[id].nstamps_max, 32);
        assert_eq!(t.register(&rule("x", 40, "0.0.0.0")), id);
        assert_eq!(t.lists[id].nstamps_max, 64);
        assert!(t.lists[id].entries.is_empty());
        // A list created by a --hitcount rule gets just that ring.
        let h = t.register(&rule("h", 3, "255.255.255.255"));
        assert_eq!(t.lists[h].nstamps_max, 4);
        let one = t.register(&rule("one", 1, "255.255.255.255"));
        assert_eq!(t.lists[one].nstamps_max, 1);
    }

    #[test]
    fn creator_mask_and_ttl_wildcards() {
        let mut t = RecentTables::default();
        let id = t.register(&rule("m", 0, "255.255.255.0"));
        // A later rule's mask is ignored.
        t.register(&rule("m", 0, "255.255.255.255"));
        let l = &mut t.lists[id];
        let a: IpAddr = "10.1.2.3".parse().expect("addr");
        assert_eq!(l.masked(a), 0x0a01_0200);
        // IPv6 addresses only lose what the first word of the mask clears.
        let b: IpAddr = "2001:db8::1".parse().expect("addr");
        assert_eq!(l.masked(b), 0x2001_0d00_u128 << 96 | 1);
        l.init(Family::V4, 7, 0, 1);
        assert!(
            l.lookup(Family::V4, 7, 64).is_some(),
            "stored TTL 0 matches any"
        );
        assert!(l.lookup(Family::V6, 7, 0).is_none());
    }
}

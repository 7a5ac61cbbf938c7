//! Kernel: net/netfilter/xt_recent.c (`recent_mt`, `recent_entry_*`,
//! `ip_list_tot`, `ip_pkt_list_tot`).
//!
//! Named lists shared by every rule that names them. As in the kernel, one
//! list name serves both families (entries remember theirs). A list holds at
//! most `ip_list_tot` (100) addresses; adding one more evicts the least
//! recently *updated* entry. Each entry keeps a ring of timestamps sized to a
//! power of two (32 by default, more when a rule's `--hitcount` needs it; a
//! list whose ring grows is flushed, as the kernel re-creates it).

use palisade_model::Family;

/// `ip_list_tot` default.
pub(crate) const IP_LIST_TOT: usize = 100;
/// `ip_pkt_list_tot` default: timestamps kept per entry.
pub(crate) const IP_PKT_LIST_TOT: usize = 32;

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
    pub nstamps_max: usize,
    pub entries: Vec<Entry>,
    lru_clock: u64,
}

impl List {
    fn new(name: &str, nstamps_max: usize) -> List {
        List {
            name: name.to_string(),
            nstamps_max,
            entries: Vec::new(),
            lru_clock: 0,
        }
    }

    pub(crate) fn lookup(&self, family: Family, addr: u128, ttl: u8) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.family == family && e.addr == addr && (ttl == 0 || e.ttl == ttl))
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
    /// Registers a rule's list at load time; returns its id. Growing the
    /// stamp ring flushes the list.
    pub(crate) fn register(&mut self, name: &str, hitcount: u32) -> usize {
        let need = (hitcount as usize).max(IP_PKT_LIST_TOT).next_power_of_two();
        if let Some(i) = self.lists.iter().position(|l| l.name == name) {
            if self.lists[i].nstamps_max < need {
                self.lists[i] = List::new(name, need);
            }
            return i;
        }
        self.lists.push(List::new(name, need));
        self.lists.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_eviction_and_ring() {
        let mut t = RecentTables::default();
        let id = t.register("x", 0);
        let l = &mut t.lists[id];
        for a in 0..(IP_LIST_TOT as u128 + 1) {
            l.init(Family::V4, a, 0, a as u64);
        }
        assert_eq!(l.entries.len(), IP_LIST_TOT);
        assert!(l.lookup(Family::V4, 0, 0).is_none());
        let i = l.lookup(Family::V4, 5, 0).unwrap();
        for k in 0..40 {
            l.update(i, 1000 + k);
        }
        assert_eq!(l.entries[i].nstamps, 32);
        assert_eq!(t.register("x", 40), id);
        assert_eq!(t.lists[id].nstamps_max, 64);
        assert!(t.lists[id].entries.is_empty());
    }
}

//! Kernel: net/netfilter/xt_hashlimit.c (`htable_create`, `htable_find_get`,
//! `dsthash_alloc_init`, `htable_selective_cleanup`, `htable_gc`).
//!
//! Named hash tables shared by every rule that names them, per family (the
//! kernel looks them up by name and family). The rule that creates a table
//! fixes its configuration: key mode, masks, rate, burst, expiry and gc
//! interval all come from that first rule, and later rules naming the same
//! table only bring their own `--hashlimit-above` inversion. A table survives
//! a ruleset replacement that names it again, configuration included.
//!
//! Entries are never dropped on lookup: an entry whose expiry passed is reused
//! (its bucket simply refills) until the garbage collector runs. The collector
//! is a timer every `--hashlimit-htable-gcinterval` ms; it frees entries whose
//! expiry is due. A table holding `--hashlimit-htable-max` entries takes no new
//! key and the packet is hot-dropped.

use palisade_model::matches::HashlimitMatch;
use palisade_model::Family;

use crate::state::{jiffies, HZ};

/// Kernel cap on `size` and `max` (`HASHLIMIT_MAX_SIZE`).
const MAX_SIZE: u32 = 1_048_576;

/// The table's key (`struct dsthash_dst`): masked addresses and ports, zero
/// where the mode leaves them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub src: u128,
    pub dst: u128,
    pub sport: u16,
    pub dport: u16,
}

/// Per-key state (`struct dsthash_ent` `rateinfo`): a token bucket, or for
/// `--hashlimit-rate-match` a per-interval counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rate {
    /// Packet or byte token bucket. In byte mode `cap` counts the refills left
    /// (the `--hashlimit-burst` allowance), not a credit ceiling.
    Bucket { credit: u64, cap: u64, cost: u64 },
    /// Rate-match window.
    Window {
        interval: u32,
        prev_window: bool,
        current_rate: u64,
        rate: u64,
        burst: u64,
    },
}

/// One entry.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Jiffies of the last refill.
    pub prev: u64,
    /// Expiry in jiffies.
    pub expires: u64,
    pub rate: Rate,
}

/// One named table.
#[derive(Clone, Debug)]
pub(crate) struct HTable {
    pub name: String,
    pub family: Family,
    /// The creating rule's configuration (`hinfo->cfg`).
    pub cfg: HashlimitMatch,
    pub max: usize,
    /// `msecs_to_jiffies(expire)`.
    pub expire_j: u64,
    /// `msecs_to_jiffies(gc_interval)`.
    pub gc_j: u64,
    /// Next gc run in jiffies; the timer's phase starts at the first packet
    /// since the engine has no clock at load time.
    pub next_gc: Option<u64>,
    pub map: hashbrown::HashMap<Key, Entry, foldhash::fast::FixedState>,
}

/// `msecs_to_jiffies`: rounds up.
pub(crate) fn ms_to_jiffies(ms: u32) -> u64 {
    let per = 1000 / HZ;
    u64::from(ms).div_ceil(per)
}

impl HTable {
    /// Runs the gc timer ticks that fell due by `now_ns`. Only the latest tick
    /// matters: no packet touched the table between ticks, and it frees a
    /// superset of what the earlier ones would have.
    pub(crate) fn gc(&mut self, now_ns: u64) {
        let j = jiffies(now_ns);
        let gc = self.gc_j.max(1);
        let next = *self.next_gc.get_or_insert(j + gc);
        if j < next {
            return;
        }
        let tick = next + (j - next) / gc * gc;
        self.next_gc = Some(tick + gc);
        self.map.retain(|_, e| tick < e.expires);
    }
}

/// All tables.
#[derive(Clone, Debug, Default)]
pub(crate) struct HashlimitTables {
    pub tables: Vec<HTable>,
}

impl HashlimitTables {
    /// Finds the table of this name and family or creates it from `cfg`
    /// (`htable_find_get`, else `htable_create`).
    pub(crate) fn register(&mut self, cfg: &HashlimitMatch, family: Family) -> usize {
        if let Some(i) = self
            .tables
            .iter()
            .position(|t| t.name == cfg.name && t.family == family)
        {
            return i;
        }
        // hashlimit_mt_check_common truncates, htable_create then sizes: size 0
        // is derived from RAM (8192 on any host above 1 GiB), max 0 is 8·size,
        // and a max below size is raised to size.
        let size = match cfg.size.min(MAX_SIZE) {
            0 => 8192,
            s => s,
        };
        let max = match cfg.max.min(MAX_SIZE) {
            0 => 8 * size,
            m => m.max(size),
        };
        self.tables.push(HTable {
            name: cfg.name.clone(),
            family,
            cfg: cfg.clone(),
            max: max as usize,
            expire_j: ms_to_jiffies(if cfg.expire == 0 { 10_000 } else { cfg.expire }),
            gc_j: ms_to_jiffies(if cfg.gc_interval == 0 {
                1000
            } else {
                cfg.gc_interval
            }),
            next_gc: None,
            map: hashbrown::HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x5eed)),
        });
        self.tables.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(name: &str) -> HashlimitMatch {
        HashlimitMatch {
            name: name.into(),
            mode: 0,
            avg: 1_000_000,
            burst: 5,
            size: 16,
            max: 3,
            gc_interval: 1000,
            expire: 2000,
            srcmask: 32,
            dstmask: 32,
            interval: 1,
        }
    }

    #[test]
    fn shared_by_name_and_family_first_config_wins() {
        let mut t = HashlimitTables::default();
        let a = t.register(&cfg("x"), Family::V4);
        let mut other = cfg("x");
        other.burst = 9;
        assert_eq!(t.register(&other, Family::V4), a);
        assert_eq!(t.tables[a].cfg.burst, 5);
        assert_ne!(t.register(&cfg("x"), Family::V6), a);
        // max below size is raised to size.
        assert_eq!(t.tables[a].max, 16);
        assert_eq!(t.tables[a].expire_j, 500);
        assert_eq!(ms_to_jiffies(1), 1);
        assert_eq!(ms_to_jiffies(5), 2);
    }

    #[test]
    fn gc_frees_due_entries_on_its_own_schedule() {
        let mut t = HashlimitTables::default();
        let id = t.register(&cfg("g"), Family::V4);
        let h = &mut t.tables[id];
        let e = |exp| Entry {
            prev: 0,
            expires: exp,
            rate: Rate::Bucket {
                credit: 0,
                cap: 0,
                cost: 0,
            },
        };
        let k = |n| Key {
            src: n,
            dst: 0,
            sport: 0,
            dport: 0,
        };
        // First packet at jiffy 1000 starts the timer: ticks at 1250, 1500…
        h.gc(4_000_000_000);
        h.map.insert(k(1), e(1400));
        h.map.insert(k(2), e(1600));
        h.gc(5_996_000_000); // jiffy 1499: no tick yet
        assert_eq!(h.map.len(), 2);
        h.gc(6_000_000_000); // tick 1500 frees expiry ≤ 1500
        assert_eq!(h.map.len(), 1);
        h.gc(100_000_000_000);
        assert!(h.map.is_empty());
    }
}

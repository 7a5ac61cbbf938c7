//! Kernel: net/netfilter/xt_hashlimit.c (`htable_create`, `dsthash_*`,
//! `htable_gc`).
//!
//! Named hash tables shared by the rules that name them (per family, as the
//! kernel keys them by name and family). Each holds per-key token buckets;
//! entries expire `--hashlimit-htable-expire` ms after their last packet and
//! are collected lazily; a full table (`--hashlimit-htable-max`, default 8 ×
//! size) cannot take new keys and the packet is hot-dropped.

use palisade_model::Family;

use crate::state::jiffies;

/// A bucket (`struct dsthash_ent` rate part).
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    pub prev: u64,
    pub credit: u64,
    pub cap: u64,
    pub cost: u64,
    /// Expiry in jiffies.
    pub expires: u64,
}

/// One named table.
#[derive(Clone, Debug)]
pub(crate) struct HTable {
    pub name: String,
    pub family: Family,
    pub max: usize,
    pub expire_ms: u32,
    pub gc_interval_ms: u32,
    pub next_gc: u64,
    pub map: hashbrown::HashMap<[u8; 37], Bucket, foldhash::fast::FixedState>,
}

impl HTable {
    /// Drops expired entries when the gc interval elapsed (`htable_gc`).
    pub(crate) fn gc(&mut self, now_ns: u64) {
        let j = jiffies(now_ns);
        if j < self.next_gc {
            return;
        }
        self.next_gc = j + u64::from(self.gc_interval_ms) * crate::state::HZ / 1000;
        self.map.retain(|_, b| b.expires > j);
    }
}

/// All tables.
#[derive(Clone, Debug, Default)]
pub(crate) struct HashlimitTables {
    pub tables: Vec<HTable>,
}

impl HashlimitTables {
    /// Registers (or reuses) a table at load time.
    pub(crate) fn register(
        &mut self,
        name: &str,
        family: Family,
        size: u32,
        max: u32,
        expire_ms: u32,
        gc_interval_ms: u32,
    ) -> usize {
        if let Some(i) = self
            .tables
            .iter()
            .position(|t| t.name == name && t.family == family)
        {
            return i;
        }
        // htable_create: size 0 means "from RAM" (8192 above 1 GiB).
        let size = if size == 0 { 8192 } else { size };
        let max = if max == 0 { 8 * size } else { max };
        self.tables.push(HTable {
            name: name.to_string(),
            family,
            max: max as usize,
            expire_ms: if expire_ms == 0 { 10_000 } else { expire_ms },
            gc_interval_ms: if gc_interval_ms == 0 {
                1000
            } else {
                gc_interval_ms
            },
            next_gc: 0,
            map: hashbrown::HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x5eed)),
        });
        self.tables.len() - 1
    }
}

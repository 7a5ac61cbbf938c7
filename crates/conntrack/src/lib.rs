//! Kernel: net/netfilter/nf_conntrack_core.c (`nf_conntrack_in`,
//! `resolve_normal_ct`, `init_conntrack`, `__nf_conntrack_confirm`,
//! `early_drop`, `gc_worker`), nf_conntrack_proto_{udp,icmp,icmpv6,generic}.c.
//!
//! A sans-IO connection tracker: time is always an argument ([`Nanos`]), the
//! wall clock is never read. Usage by the engine, per packet:
//!
//! 1. [`Conntrack::packet_in`] at PREROUTING (or OUTPUT for local packets),
//!    after the raw table (whose CT target gives the [`CtTemplate`]). Packets
//!    that already carry a conntrack from [`Conntrack::attach_related`] (REJECT
//!    replies) must **not** be passed again — the kernel skips them too.
//! 2. If the result has `drop`, the packet is dropped (table full).
//! 3. At the confirm point (INPUT / POSTROUTING, after every table), call
//!    [`Conntrack::confirm_packet`]; when the packet is dropped earlier call
//!    [`Conntrack::discard`] with its handle. Both are no-ops for confirmed
//!    entries, so they can be called for every packet with a handle.
//! 4. Call [`Conntrack::gc`] now and then (e.g. a small budget per packet).
//!
//! Entries expire lazily: an expired entry is never returned by a lookup and
//! is removed when met. The table never holds more than `nf_conntrack_max`
//! entries (confirmed + unconfirmed), with the kernel's early-drop policy.
//!
//! Handles are slab indices with a generation: valid for one packet's
//! traversal; an entry killed during that traversal stays readable (status
//! DYING) until `confirm`/`discard`/`gc` frees it. A stale handle (its slot
//! freed or reused) resolves to nothing.
//!
//! Memory: the table stores compact [`Entry`]s (96 bytes; IPv6 addresses in
//! a side box, expiry as a 32-bit millisecond tick) plus a 4-byte index slot
//! per direction; [`Conntrack::get`] returns a full [`Conn`] snapshot built
//! on demand. Timeouts are capped at [`conn::MAX_TIMEOUT`] (24.8 days).
//!
//! API notes for the engine (refinements of the issue-4 sketch):
//! * `set_closing(h, now)` takes the time (the CLOSE timer starts then).
//! * `attach_related(&orig_result)` takes the original packet's whole
//!   [`CtResult`]: the reply's ctinfo depends on the original's direction.
//! * `iter(now)` and `count_matching(now, pred)` skip expired entries.
//! * `confirm_packet(&result, now)` is the kernel's confirm rule (only
//!   original-direction packets confirm); `confirm(h, now)` is the raw form.
//!   A `false` return means the packet must be dropped (clash).
//! * Helpers ([`helper`]) and expectations ([`expect`]): a new entry
//!   matching an expectation is RELATED (`IPS_EXPECTED`); run
//!   [`Conntrack::help`] before `confirm_packet` at INPUT/POSTROUTING.
//! * Not yet: NAT tuple
//!   rewriting (issue 5: `get_mut(h)?.set_reply(&t)` before confirm),
//!   SCTP/DCCP/GRE trackers (they use the generic timeout, with ports in
//!   the tuple for SCTP/DCCP/UDP-Lite), IPv4 defragmentation (non-first
//!   fragments are INVALID here).

#![warn(missing_docs)]

pub mod config;
pub mod conn;
mod conncount;
pub mod expect;
pub mod helper;
mod nat;
pub mod tcp;
pub mod tuple;

#[cfg(test)]
mod tests;

use std::hash::BuildHasher;
use std::net::IpAddr;

use foldhash::quality::FixedState;
use hashbrown::HashTable;
use palisade_wire::parse::{icmp6_is_error, icmp_is_error, parse_quoted};
use palisade_wire::{checksum, L4Meta, PacketMeta};

use conn::L4;
use tcp::TcpConn;

pub use config::{CtConfig, SysctlError, TcpTimeouts, SEC};
pub use conn::{Conn, CtInfo, Entry, HelperId, L4State, Status};
pub use expect::{ExpectError, ExpectNat, Expectation};
pub use helper::seqadj::SeqAdj;
pub use helper::{helper_by_name, helper_name, HelpVerdict, HelperConfig, Mangle};
pub use tcp::TcpState;
pub use tuple::Tuple;

/// Time in nanoseconds on the caller's clock (pcap timestamps in replay, a
/// monotonic clock in the daemon). Only differences matter.
pub type Nanos = u64;

/// Raw-table CT target settings (`-j CT --notrack / --zone / --helper`,
/// `-j NOTRACK`) for one packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtTemplate {
    /// `--notrack`: the packet is UNTRACKED.
    pub notrack: bool,
    /// `--zone`.
    pub zone: u16,
    /// `--helper`.
    pub helper: Option<HelperId>,
}

/// Handle of an entry. Carries the entry's generation, so a handle kept
/// past its entry's life resolves to nothing rather than to whatever reuses
/// the slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CtHandle {
    slot: u32,
    gen: u32,
}

impl CtHandle {
    /// The slab slot (stable while the entry lives; for diagnostics).
    pub fn slot(self) -> u32 {
        self.slot
    }
}

/// What conntrack decided for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtResult {
    /// ctinfo (state as the ruleset sees it).
    pub info: CtInfo,
    /// The entry, when one is attached.
    pub handle: Option<CtHandle>,
    /// Table full and nothing could be early-dropped: the kernel drops the
    /// packet (`NF_DROP`) before mangle/filter.
    pub drop: bool,
}

impl CtResult {
    fn bare(info: CtInfo) -> CtResult {
        CtResult {
            info,
            handle: None,
            drop: false,
        }
    }
}

/// Counters like `conntrack -S`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtStats {
    /// Lookups that found an entry.
    pub found: u64,
    /// Packets left without conntrack (INVALID).
    pub invalid: u64,
    /// Entries confirmed into the table.
    pub insert: u64,
    /// Confirmations that failed (clash).
    pub insert_failed: u64,
    /// Packets dropped because the table was full.
    pub drop: u64,
    /// Entries evicted by early drop (allocation or GC).
    pub early_drop: u64,
    /// Packets accepted without state change (TCP IGNORE).
    pub ignore: u64,
    /// Entries allocated (unconfirmed included).
    pub new: u64,
    /// Entries removed on expiry.
    pub expired: u64,
}

/// The connection table.
pub struct Conntrack {
    cfg: CtConfig,
    slab: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Both directions of every confirmed entry: `slab index << 1 | dir`.
    index: HashTable<u32>,
    hasher: FixedState,
    confirmed: usize,
    allocated: usize,
    gc_cursor: usize,
    /// Packets since the last sweep ([`Conntrack::gc_step`]).
    gc_calls: u32,
    /// When the paced sweep last ran ([`Conntrack::gc_step`]).
    gc_last: Nanos,
    gc_early_drop: bool,
    stats: CtStats,
    /// Generation of the next allocated entry.
    next_gen: u32,
    /// Latest time seen by any call: the reference that turns stored ticks
    /// back into absolute times.
    last_now: Nanos,
    /// Expectations and helper state (helper/mod.rs).
    helpers: helper::Helpers,
}

/// `NF_CT_EVICTION_RANGE`: buckets early_drop looks at.
const EVICTION_RANGE: u64 = 8;
/// Up to this many entries early_drop decides exactly (by our buckets);
/// beyond, it samples a slab window of the same expected size.
const EXACT_EARLY_DROP: usize = 4096;

enum Lookup {
    Found(u32, usize),
    Missing,
}

impl Conntrack {
    /// A tracker with a fixed hash seed (replays are deterministic).
    pub fn new(cfg: CtConfig) -> Self {
        Self::with_seed(cfg, 0x5eed_c0ff_ee00_0001)
    }

    /// A tracker with a chosen hash seed; the daemon should pass a random
    /// one (attacker-chosen tuples against a known seed can collide).
    pub fn with_seed(cfg: CtConfig, seed: u64) -> Self {
        Conntrack {
            cfg,
            slab: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: FixedState::with_seed(seed),
            confirmed: 0,
            allocated: 0,
            gc_cursor: 0,
            gc_calls: 0,
            gc_last: 0,
            gc_early_drop: false,
            stats: CtStats::default(),
            next_gen: 0,
            last_now: 0,
            helpers: helper::Helpers::default(),
        }
    }

    /// Configuration in force.
    pub fn config(&self) -> &CtConfig {
        &self.cfg
    }

    /// Changes tunables at run time (timeouts apply at the next refresh).
    pub fn config_mut(&mut self) -> &mut CtConfig {
        &mut self.cfg
    }

    /// Confirmed entries (including expired ones not yet reaped).
    pub fn len(&self) -> usize {
        self.confirmed
    }

    /// Whether no entry is confirmed.
    pub fn is_empty(&self) -> bool {
        self.confirmed == 0
    }

    /// Counters.
    pub fn stats(&self) -> &CtStats {
        &self.stats
    }

    /// A snapshot of the entry behind a handle (absolute times relative to
    /// the latest `now` the tracker saw). `None` for a stale handle.
    pub fn get(&self, h: CtHandle) -> Option<Conn> {
        self.entry(h).map(|e| e.snapshot(self.last_now))
    }

    /// The stored entry behind a handle.
    pub fn entry(&self, h: CtHandle) -> Option<&Entry> {
        self.slab
            .get(h.slot as usize)?
            .as_ref()
            .filter(|e| e.gen() == h.gen)
    }

    /// The entry behind a handle, mutable (ctmark, status bits, NAT reply
    /// tuple rewrite before confirmation with [`Entry::set_reply`]).
    pub fn get_mut(&mut self, h: CtHandle) -> Option<&mut Entry> {
        self.slab
            .get_mut(h.slot as usize)?
            .as_mut()
            .filter(|e| e.gen() == h.gen)
    }

    fn handle(&self, i: u32) -> CtHandle {
        let gen = self.slab[i as usize].as_ref().map_or(0, Entry::gen);
        CtHandle { slot: i, gen }
    }

    fn live_entries(&self, now: Nanos) -> impl Iterator<Item = &Entry> {
        self.slab
            .iter()
            .flatten()
            .filter(move |c| c.is_confirmed() && !c.status.has(Status::DYING) && !c.is_expired(now))
    }

    /// Snapshots of the confirmed, live entries at `now` (expired ones are
    /// skipped).
    pub fn iter(&self, now: Nanos) -> impl Iterator<Item = Conn> + '_ {
        self.live_entries(now).map(move |e| e.snapshot(now))
    }

    /// Number of live confirmed entries for which `pred` holds, skipping TCP
    /// entries in TIME_WAIT or CLOSE as `nf_conncount` does (for
    /// `-m connlimit`). Walks the table: O(entries).
    pub fn count_matching(&self, now: Nanos, mut pred: impl FnMut(&Conn) -> bool) -> usize {
        self.live_entries(now)
            .filter(|c| !matches!(c.tcp_state(), Some(TcpState::TimeWait | TcpState::Close)))
            .filter(|c| pred(&c.snapshot(now)))
            .count()
    }

    /// As [`Conntrack::count_matching`], with the predicate on the stored
    /// entries (no snapshot per entry).
    pub fn count_entries(&self, now: Nanos, mut pred: impl FnMut(&Entry) -> bool) -> usize {
        self.live_entries(now)
            .filter(|c| !matches!(c.tcp_state(), Some(TcpState::TimeWait | TcpState::Close)))
            .filter(|c| pred(c))
            .count()
    }

    fn hash(&self, t: &Tuple) -> u64 {
        hash_words(&self.hasher, t.words())
    }

    fn find(&self, t: &Tuple) -> Lookup {
        let h = self.hash(t);
        let slab = &self.slab;
        match self.index.find(h, |&v| {
            let (i, d) = ((v >> 1) as usize, (v & 1) as usize);
            slab.get(i)
                .and_then(|c| c.as_ref())
                .is_some_and(|c| c.tuple_eq(d, t))
        }) {
            Some(&v) => Lookup::Found(v >> 1, (v & 1) as usize),
            None => Lookup::Missing,
        }
    }

    /// Lookup that treats an expired entry as absent and reaps it.
    fn find_live(&mut self, t: &Tuple, now: Nanos) -> Lookup {
        match self.find(t) {
            Lookup::Found(i, d) => {
                if self.slab[i as usize]
                    .as_ref()
                    .is_some_and(|c| c.is_expired(now))
                {
                    self.stats.expired += 1;
                    self.kill(i, true);
                    Lookup::Missing
                } else {
                    Lookup::Found(i, d)
                }
            }
            Lookup::Missing => Lookup::Missing,
        }
    }

    fn unindex(&mut self, i: u32) {
        let Some(c) = self.slab[i as usize].as_ref() else {
            return;
        };
        let tuples = [c.tuple(0), c.tuple(1)];
        for (d, t) in tuples.iter().enumerate() {
            let h = self.hash(t);
            let key = i << 1 | d as u32;
            if let Ok(e) = self.index.find_entry(h, |&v| v == key) {
                e.remove();
            }
        }
    }

    /// Removes a confirmed entry from the table; `free` also releases the
    /// slot (otherwise it stays readable as DYING).
    fn kill(&mut self, i: u32, free: bool) {
        let Some(c) = self.slab[i as usize].as_ref() else {
            return;
        };
        let (confirmed, dying) = (c.is_confirmed(), c.status.has(Status::DYING));
        if confirmed && !dying {
            self.unindex(i);
            self.confirmed -= 1;
        }
        if let Some(c) = self.slab[i as usize].as_mut() {
            c.status.set(Status::DYING);
        }
        if free {
            self.release(i);
        }
    }

    fn release(&mut self, i: u32) {
        if self.slab[i as usize].take().is_some() {
            self.allocated -= 1;
            self.free.push(i);
        }
    }

    fn alloc(&mut self, c: Entry) -> u32 {
        self.allocated += 1;
        self.stats.new += 1;
        if let Some(i) = self.free.pop() {
            self.slab[i as usize] = Some(c);
            i
        } else {
            self.slab.push(Some(c));
            (self.slab.len() - 1) as u32
        }
    }

    fn bucket(&self, t: &Tuple) -> u64 {
        let b = u64::from(self.cfg.buckets.max(1));
        ((self.hash(t) >> 32) * b) >> 32
    }

    /// `early_drop`: evict the non-ASSURED entries of the first bucket, among
    /// the 8 starting at the new tuple's, that has any. Returns whether
    /// something was evicted.
    fn early_drop(&mut self, t: &Tuple, now: Nanos) -> bool {
        let buckets = u64::from(self.cfg.buckets.max(1));
        let start = self.bucket(t);
        let mut victims: Vec<u32> = Vec::new();
        if self.confirmed <= EXACT_EARLY_DROP {
            let mut best = EVICTION_RANGE;
            for i in 0..self.slab.len() {
                let Some(c) = self.slab[i].as_ref() else {
                    continue;
                };
                if !c.is_confirmed() || c.status.has(Status::DYING) {
                    continue;
                }
                let off = [c.tuple(0), c.tuple(1)]
                    .iter()
                    .map(|x| (self.bucket(x) + buckets - start) % buckets)
                    .min()
                    .unwrap_or(u64::MAX);
                if off >= EVICTION_RANGE {
                    continue;
                }
                if c.is_expired(now) {
                    victims.push(i as u32 | 1 << 31);
                    continue;
                }
                if c.status.has(Status::ASSURED) || off > best {
                    continue;
                }
                if off < best {
                    best = off;
                    victims.retain(|v| v & 1 << 31 != 0);
                }
                victims.push(i as u32);
            }
        } else {
            // Sample as many slots as 8 buckets hold on average (2 nodes per
            // entry), starting at a position the tuple's hash picks.
            let n = self.slab.len();
            let per_bucket = (2 * self.confirmed as u64).div_ceil(buckets).max(1);
            let window = (EVICTION_RANGE * per_bucket) as usize;
            let first = (self.hash(t) % n as u64) as usize;
            for k in 0..window.min(n) {
                let i = (first + k) % n;
                let Some(c) = self.slab[i].as_ref() else {
                    continue;
                };
                if !c.is_confirmed() || c.status.has(Status::DYING) {
                    continue;
                }
                if c.is_expired(now) {
                    victims.push(i as u32 | 1 << 31);
                } else if !c.status.has(Status::ASSURED) {
                    victims.push(i as u32);
                    if k as u64 % per_bucket == per_bucket - 1 {
                        break;
                    }
                }
            }
        }
        let mut drops = 0;
        for v in victims {
            let i = v & !(1 << 31);
            if v & 1 << 31 != 0 {
                self.stats.expired += 1;
            } else {
                drops += 1;
            }
            self.kill(i, true);
        }
        self.stats.early_drop += drops;
        drops > 0
    }

    /// `nf_conntrack_in`: classify a packet and create, look up or update its
    /// entry. Allocation-free on the established path.
    pub fn packet_in(
        &mut self,
        now: Nanos,
        datagram: &[u8],
        meta: &PacketMeta,
        from_local: bool,
        template: Option<&CtTemplate>,
    ) -> CtResult {
        self.last_now = self.last_now.max(now);
        let tmpl = template.copied().unwrap_or_default();
        if tmpl.notrack {
            return CtResult::bare(CtInfo::Untracked);
        }
        let check_csum = !from_local && self.cfg.checksum;
        if meta.frag_off != 0 {
            return self.invalid();
        }
        match meta.l4 {
            L4Meta::Truncated => return self.invalid(),
            L4Meta::Icmp(i) => {
                if check_csum && !checksum::verify_l4(datagram, meta) {
                    return self.invalid();
                }
                if i.icmp_type > 18 {
                    return self.invalid();
                }
                if icmp_is_error(i.icmp_type) {
                    return self.related(now, datagram, meta, i.inner_off, tmpl.zone);
                }
            }
            L4Meta::Icmp6(i) => {
                if check_csum && !checksum::verify_l4(datagram, meta) {
                    return self.invalid();
                }
                if i.icmp_type == 137 {
                    // ndisc_redirect_is_valid: hop limit 255, link-local source.
                    let ll =
                        matches!(meta.src, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80);
                    return if meta.ttl == 255 && ll {
                        CtResult::bare(CtInfo::Untracked)
                    } else {
                        self.invalid()
                    };
                }
                // noct_valid_new: MLD, RS, RA, NS, NA, MLDv2, MRD are never tracked.
                if matches!(i.icmp_type, 130..=136 | 143 | 151 | 152) {
                    return CtResult::bare(CtInfo::Untracked);
                }
                if icmp6_is_error(i.icmp_type) {
                    return self.related(now, datagram, meta, i.inner_off, tmpl.zone);
                }
            }
            _ => {}
        }
        // At most one repeat: a SYN reopening a closed entry kills it first.
        for _ in 0..2 {
            let l4 = meta.l4_bytes(datagram);
            let Some(tuple) =
                Tuple::from_parts(meta.family, meta.src, meta.dst, meta.proto, l4, tmpl.zone)
            else {
                return self.invalid();
            };
            let (idx, dir, info) = match self.find_live(&tuple, now) {
                Lookup::Found(i, d) => {
                    self.stats.found += 1;
                    let st = self.slab[i as usize]
                        .as_ref()
                        .map_or(Status(0), |c| c.status);
                    (i, d, info_of(d, st))
                }
                Lookup::Missing => {
                    let Some(reply) = tuple.invert() else {
                        return self.invalid();
                    };
                    if self.cfg.max != 0
                        && self.allocated >= self.cfg.max as usize
                        && !self.early_drop(&tuple, now)
                    {
                        // "nf_conntrack: table full, dropping packet"
                        self.gc_early_drop = true;
                        self.stats.drop += 1;
                        return CtResult {
                            info: CtInfo::Invalid,
                            handle: None,
                            drop: true,
                        };
                    }
                    let gen = self.next_gen;
                    self.next_gen = gen.wrapping_add(1);
                    // init_conntrack: an expected connection is RELATED and
                    // never gets the template's helper.
                    let exp = self.take_expectation(&tuple, now);
                    let helper = if exp.is_some() { None } else { tmpl.helper };
                    let i = self.alloc(Entry::new(&tuple, &reply, gen, helper));
                    match exp {
                        Some(e) => {
                            self.apply_expectation(i, &e);
                            (i, 0, CtInfo::Related)
                        }
                        None => (i, 0, CtInfo::New),
                    }
                }
            };
            if let Some(r) = self.track_entry(now, idx, dir, info, datagram, meta, check_csum) {
                return r;
            }
        }
        self.invalid()
    }

    /// The per-packet work on the entry a packet belongs to, once found (or
    /// created): protocol tracking, then SEEN_REPLY on an accepted reply, an
    /// unconfirmed entry released on INVALID. `None`: a SYN reopened a
    /// closed entry, which is now killed; the packet must be tracked again.
    // Always inlined: returned through memory, its result was written with
    // narrow stores and read back whole, a store-forwarding stall on every
    // established packet.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn track_entry(
        &mut self,
        now: Nanos,
        idx: u32,
        dir: usize,
        info: CtInfo,
        datagram: &[u8],
        meta: &PacketMeta,
        check_csum: bool,
    ) -> Option<CtResult> {
        match self.handle_packet(now, idx, dir, datagram, meta, check_csum) {
            Handled::Accept => {
                if let Some(c) = self.slab[idx as usize].as_mut() {
                    if dir == 1 {
                        c.status.set(Status::SEEN_REPLY);
                    }
                }
                Some(CtResult {
                    info,
                    handle: Some(self.handle(idx)),
                    drop: false,
                })
            }
            Handled::Invalid => {
                if self.slab[idx as usize]
                    .as_ref()
                    .is_some_and(|c| !c.is_confirmed())
                {
                    self.release(idx);
                }
                Some(self.invalid())
            }
            Handled::Repeat => {
                self.kill(idx, true);
                None
            }
        }
    }

    /// [`Conntrack::packet_in`] for a packet whose entry and direction the
    /// caller already knows (a flow cache keyed on the packet's own header
    /// fields, as nf_flow_table's lookup is): the tuple is neither built nor
    /// hashed. `Known::Stale` (nothing changed) when `h` no longer names a
    /// live confirmed entry — the caller then takes [`Conntrack::packet_in`],
    /// which finds, reaps or creates as usual; `Known::Reopen` when a SYN
    /// killed the closed entry it hit (packet_in's second round: call
    /// packet_in again to open the new one).
    ///
    /// The caller guarantees what packet_in would have checked before its
    /// lookup: no NOTRACK template, zone 0, not a fragment, a TCP or UDP
    /// header present, and that the packet's tuple is `h`'s tuple in
    /// direction `dir`.
    // Always inlined (its general path is out of line): returned through
    // memory, `Known` is written field by field and read back whole, which
    // stalls on store forwarding.
    #[inline(always)]
    pub fn packet_known(
        &mut self,
        now: Nanos,
        h: CtHandle,
        dir: usize,
        datagram: &[u8],
        meta: &PacketMeta,
        from_local: bool,
    ) -> Known {
        let Some(c) = self
            .slab
            .get_mut(h.slot as usize)
            .and_then(Option::as_mut)
            .filter(|e| e.gen() == h.gen)
        else {
            return Known::Stale;
        };
        if !c.is_confirmed() || c.status.has(Status::DYING) || c.is_expired(now) {
            return Known::Stale;
        }
        let st = c.status;
        self.last_now = self.last_now.max(now);
        self.stats.found += 1;
        let info = info_of(dir, st);
        let check_csum = !from_local && self.cfg.checksum;
        // The commonest packet of all, an in-window ACK on a settled TCP
        // connection, straight to the tracker's fast path: what
        // handle_packet and track_entry would do for it, without their
        // generality (nothing else changes: SEEN_REPLY is already set).
        let settled = Status::SEEN_REPLY | Status::ASSURED;
        let odd = Status::SEQ_ADJUST | Status::FIXED_TIMEOUT;
        if st.0 & (settled | odd) == settled {
            if let (L4::Tcp(p), L4Meta::Tcp(th)) = (&mut c.l4, &meta.l4) {
                let seg = tcp_segment(datagram, meta, th, check_csum);
                if let Some(t) = seg.and_then(|s| tcp::established_ack(p, dir, &s, &self.cfg)) {
                    c.expires = conn::deadline(now, t);
                    return Known::Done(info);
                }
            }
        }
        self.known_general(now, h, dir, info, datagram, meta, check_csum)
    }

    /// [`Conntrack::packet_known`] past its fast path: out of line, so the
    /// fast path stays small enough to inline into the caller's loop.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn known_general(
        &mut self,
        now: Nanos,
        h: CtHandle,
        dir: usize,
        info: CtInfo,
        datagram: &[u8],
        meta: &PacketMeta,
        check_csum: bool,
    ) -> Known {
        match self.track_entry(now, h.slot, dir, info, datagram, meta, check_csum) {
            Some(r) => Known::Done(r.info),
            None => Known::Reopen,
        }
    }

    fn invalid(&mut self) -> CtResult {
        self.stats.invalid += 1;
        CtResult::bare(CtInfo::Invalid)
    }

    /// `nf_conntrack_inet_error`: an ICMP error is RELATED to the entry of the
    /// datagram it quotes (inner tuple inverted), if the outer destination is
    /// that direction's destination; else INVALID.
    fn related(
        &mut self,
        now: Nanos,
        datagram: &[u8],
        meta: &PacketMeta,
        inner_off: Option<u16>,
        zone: u16,
    ) -> CtResult {
        let end = usize::from(meta.len).min(datagram.len());
        let Some(inner) = inner_off.and_then(|o| datagram.get(usize::from(o)..end)) else {
            return self.invalid();
        };
        let Some(q) = parse_quoted(inner, meta.family) else {
            return self.invalid();
        };
        if q.later_fragment {
            return self.invalid();
        }
        let Some(orig) = Tuple::from_parts(meta.family, q.src, q.dst, q.proto, q.l4, zone) else {
            return self.invalid();
        };
        let Some(inv) = orig.invert() else {
            return self.invalid();
        };
        let Lookup::Found(i, d) = self.find_live(&inv, now) else {
            return self.invalid();
        };
        let ok = self.slab[i as usize]
            .as_ref()
            .is_some_and(|c| c.tuple(d).dst_ip() == meta.dst);
        if !ok {
            return self.invalid();
        }
        self.stats.found += 1;
        CtResult {
            info: if d == 1 {
                CtInfo::RelatedReply
            } else {
                CtInfo::Related
            },
            handle: Some(self.handle(i)),
            drop: false,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_packet(
        &mut self,
        now: Nanos,
        idx: u32,
        dir: usize,
        datagram: &[u8],
        meta: &PacketMeta,
        check_csum: bool,
    ) -> Handled {
        let cfg = &self.cfg;
        let helpers = &self.helpers;
        let Some(c) = self.slab[idx as usize].as_mut() else {
            return Handled::Invalid;
        };
        let confirmed = c.is_confirmed();
        let fixed = c.status.has(Status::FIXED_TIMEOUT);
        let (status, gen) = (c.status, c.gen());
        // A macro, not a closure: the closure was not inlined, and every
        // tracked packet refreshes its timer.
        macro_rules! refresh {
            ($c:expr, $t:expr) => {
                if !fixed {
                    $c.expires = if confirmed {
                        conn::deadline(now, $t)
                    } else {
                        conn::ticks_of($t)
                    };
                }
            };
        }
        let mut kill_after = false;
        let mut ignored = false;
        let res = match (&mut c.l4, meta.l4) {
            (L4::Tcp(packed), L4Meta::Tcp(th)) => {
                let Some(mut seg) = tcp_segment(datagram, meta, &th, check_csum) else {
                    return Handled::Invalid;
                };
                if status.has(Status::SEQ_ADJUST) {
                    seg.receiver_offset =
                        helpers.seq_offset(idx, gen, 1 - dir, th.ack.wrapping_sub(1));
                }
                let settled = Status::SEEN_REPLY | Status::ASSURED;
                if confirmed && status.0 & settled == settled {
                    if let Some(t) = tcp::established_ack(packed, dir, &seg, cfg) {
                        refresh!(c, t);
                        return Handled::Accept;
                    }
                }
                let mut tc = TcpConn::from(&*packed);
                if !confirmed {
                    match tcp::TcpConn::new_from(&seg, cfg.tcp_loose) {
                        Some(n) => tc = n,
                        None => return Handled::Invalid,
                    }
                }
                let cx = tcp::PacketCtx {
                    dir,
                    seen_reply: c.status.has(Status::SEEN_REPLY),
                    assured: c.status.has(Status::ASSURED),
                    remaining: c.expires_in(now),
                };
                let mut cut = None;
                let v = tcp::packet(&mut tc, &seg, cx, cfg, &mut cut);
                c.set_tcp(&tc);
                match v {
                    tcp::TcpVerdict::Accept {
                        timeout,
                        assured,
                        kill,
                    } => {
                        if assured {
                            c.status.set(Status::ASSURED);
                        }
                        if let Some(t) = timeout {
                            refresh!(c, t);
                        }
                        // nf_ct_kill_acct: the packet keeps its ctinfo.
                        kill_after = kill;
                        Handled::Accept
                    }
                    tcp::TcpVerdict::Ignore => {
                        ignored = true;
                        Handled::Accept
                    }
                    tcp::TcpVerdict::Invalid => {
                        if let Some(t) = cut {
                            if confirmed && !fixed {
                                c.expires = conn::deadline(now, t);
                            }
                        }
                        Handled::Invalid
                    }
                    tcp::TcpVerdict::Repeat => Handled::Repeat,
                }
            }
            (L4::Udp(stream_ts), L4Meta::Udp(u)) => {
                // udp_error
                let seg_len = usize::from(meta.len).saturating_sub(usize::from(meta.l4_off));
                if usize::from(u.len) > seg_len || u.len < 8 {
                    return Handled::Invalid;
                }
                if check_csum && !checksum::verify_l4(datagram, meta) {
                    return Handled::Invalid;
                }
                if !confirmed {
                    // Relative until confirmation, like the timeout.
                    *stream_ts = conn::ticks_of(2 * SEC);
                }
                let st = *stream_ts;
                if c.status.has(Status::SEEN_REPLY) {
                    // "now > stream_ts": past the 2 s mark.
                    let (t, stream) = if confirmed && conn::reached(now, st.wrapping_add(1)) {
                        (cfg.udp_stream, !c.status.has(Status::ASSURED))
                    } else {
                        (cfg.udp, false)
                    };
                    refresh!(c, t);
                    if stream && !c.status.has(Status::NAT_CLASH) {
                        c.status.set(Status::ASSURED);
                    }
                } else {
                    refresh!(c, cfg.udp);
                }
                Handled::Accept
            }
            (L4::Plain, L4Meta::Icmp(_)) => {
                // Only echo, timestamp, info and address-mask requests open
                // an entry.
                if !matches!(c.icmp_type(), 8 | 13 | 15 | 17) {
                    return Handled::Invalid;
                }
                refresh!(c, cfg.icmp);
                Handled::Accept
            }
            (L4::Plain, L4Meta::Icmp6(_)) => {
                if !confirmed && !matches!(c.icmp_type(), 128 | 139) {
                    return Handled::Invalid;
                }
                refresh!(c, cfg.icmpv6);
                Handled::Accept
            }
            (L4::Plain, L4Meta::Other) if meta.proto == 47 => {
                // nf_conntrack_proto_gre.c gre_packet: a replied GRE flow is a
                // "stream" (longer timeout, ASSURED); keys only matter for PPTP.
                if c.status.has(Status::SEEN_REPLY) {
                    refresh!(c, cfg.gre_stream);
                    c.status.set(Status::ASSURED);
                } else {
                    refresh!(c, cfg.gre);
                }
                Handled::Accept
            }
            (L4::Plain, L4Meta::Other) => {
                refresh!(c, cfg.generic);
                Handled::Accept
            }
            _ => Handled::Invalid,
        };
        if kill_after {
            self.kill(idx, false);
        }
        if ignored {
            self.stats.ignore += 1;
        }
        res
    }

    /// `__nf_conntrack_confirm` for the packet `r` describes: confirms its
    /// entry when the packet travels in the original direction and the entry
    /// is new. Returns `false` when the packet must be dropped (the entry
    /// died meanwhile or a clashing entry was confirmed first).
    pub fn confirm_packet(&mut self, r: &CtResult, now: Nanos) -> bool {
        match (r.handle, r.info) {
            (Some(h), info) if info.has_ct() && !info.is_reply() => self.confirm(h, now),
            _ => true,
        }
    }

    /// Inserts an unconfirmed entry into the table (no-op for a confirmed
    /// one; frees a DYING one). See [`Conntrack::confirm_packet`].
    pub fn confirm(&mut self, h: CtHandle, now: Nanos) -> bool {
        self.last_now = self.last_now.max(now);
        let i = h.slot;
        let Some(c) = self.entry(h) else {
            return true;
        };
        if c.status.has(Status::DYING) {
            self.release(i);
            return true;
        }
        if c.is_confirmed() {
            return true;
        }
        let tuples = [c.tuple(0), c.tuple(1)];
        if tuples
            .iter()
            .any(|t| matches!(self.find_live(t, now), Lookup::Found(..)))
        {
            self.stats.insert_failed += 1;
            self.release(i);
            return false;
        }
        if let Some(c) = self.slab[i as usize].as_mut() {
            let base = now.div_ceil(conn::TICK) as u32;
            c.expires = base.wrapping_add(c.expires);
            if let L4::Udp(stream_ts) = &mut c.l4 {
                *stream_ts = base.wrapping_add(*stream_ts);
            }
            c.status.set(Status::CONFIRMED);
        }
        for (d, t) in tuples.iter().enumerate() {
            let hsh = self.hash(t);
            let key = i << 1 | d as u32;
            let slab = &self.slab;
            let hasher = &self.hasher;
            self.index.insert_unique(hsh, key, |&v| {
                let (j, dd) = ((v >> 1) as usize, (v & 1) as usize);
                slab[j]
                    .as_ref()
                    .map_or(0, |c| hash_words(hasher, c.words(dd)))
            });
        }
        self.confirmed += 1;
        self.stats.insert += 1;
        true
    }

    /// The packet carrying `h` was dropped: forget an unconfirmed (or dying)
    /// entry; no-op for confirmed ones.
    pub fn discard(&mut self, h: CtHandle) {
        let i = h.slot;
        let Some(c) = self.entry(h) else {
            return;
        };
        if !c.is_confirmed() || c.status.has(Status::DYING) {
            self.release(i);
        }
    }

    /// `nf_ct_set_closing` (REJECT tcp-reset): a confirmed TCP entry moves to
    /// CLOSE with the CLOSE timeout.
    pub fn set_closing(&mut self, h: CtHandle, now: Nanos) {
        self.last_now = self.last_now.max(now);
        let Some(i) = self.entry(h).map(|_| h.slot as usize) else {
            return;
        };
        let cfg = &self.cfg;
        let Some(c) = self.slab[i].as_mut() else {
            return;
        };
        if !c.is_confirmed() {
            return;
        }
        let fixed = c.status.has(Status::FIXED_TIMEOUT);
        if let Some(mut t) = c.tcp() {
            let to = t.set_closing(cfg);
            c.set_tcp(&t);
            if let (Some(to), false) = (to, fixed) {
                c.expires = conn::deadline(now, to);
            }
        }
    }

    /// `nf_ct_attach` for a packet the firewall emits about a packet that got
    /// `orig` (REJECT reply, ICMP error): RELATED_REPLY when the original
    /// travelled in the original direction, RELATED otherwise. Without an
    /// entry the reply gets none (and must go through `packet_in`).
    pub fn attach_related(&self, orig: &CtResult) -> CtResult {
        match orig.handle {
            Some(h) if orig.info.has_ct() && self.entry(h).is_some() => CtResult {
                info: if orig.info.is_reply() {
                    CtInfo::Related
                } else {
                    CtInfo::RelatedReply
                },
                handle: Some(h),
                drop: false,
            },
            _ => CtResult::bare(orig.info),
        }
    }

    /// The per-packet share of the sweep, paced by time as the kernel's
    /// gc_worker is (a whole pass at most every `GC_SCAN_INTERVAL_MIN`, one
    /// second): every [`GC_EVERY`]th call visits the share of the table the
    /// time since the last sweep is due, so the work per packet does not
    /// grow with the number of flows (a fixed number of slots per packet had
    /// every packet of a busy table read entries nobody else touched). After
    /// a table-full drop (early-drop mode, where the kernel rescans at once)
    /// it also visits `budget` slots per call. Lookups and early drop treat
    /// expired entries as gone, so the pace changes only when their memory
    /// is reclaimed.
    #[inline]
    pub fn gc_step(&mut self, now: Nanos, budget: usize) {
        self.gc_calls += 1;
        if self.gc_calls < GC_EVERY {
            return;
        }
        self.gc_calls = 0;
        let n = self.slab.len() as u64;
        // At most a second: n ≤ 2^32 slots, so the product fits in 64 bits.
        let dt = now.saturating_sub(self.gc_last).min(GC_PASS);
        let mut due = (n * dt / GC_PASS) as usize;
        if self.gc_early_drop {
            due = due.max(budget * GC_EVERY as usize);
        }
        if due > 0 {
            self.gc_last = now;
            self.gc(now, due);
        }
    }

    /// Budgeted sweep (`gc_worker`): visits up to `budget` slots, reaps
    /// expired entries and frees dying ones; after a table-full drop, while
    /// the table is above 95 % of `nf_conntrack_max`, also evicts
    /// non-ASSURED entries and closing TCP ones until a full pass completes.
    pub fn gc(&mut self, now: Nanos, budget: usize) {
        self.last_now = self.last_now.max(now);
        let n = self.slab.len();
        if n == 0 {
            self.gc_early_drop = false;
            return;
        }
        let max95 = (self.cfg.max as usize / 100) * 95;
        for _ in 0..budget.min(n) {
            if self.gc_cursor >= n {
                self.gc_cursor = 0;
                self.gc_early_drop = false;
            }
            let i = self.gc_cursor as u32;
            self.gc_cursor += 1;
            let Some(c) = self.slab[i as usize].as_ref() else {
                continue;
            };
            if c.status.has(Status::DYING) {
                self.release(i);
                continue;
            }
            if !c.is_confirmed() {
                continue;
            }
            if c.is_expired(now) {
                self.stats.expired += 1;
                self.kill(i, true);
                continue;
            }
            if self.gc_early_drop && self.cfg.max != 0 && self.allocated >= max95 {
                let can =
                    !c.status.has(Status::ASSURED) || c.tcp().is_some_and(|t| t.can_early_drop());
                if can {
                    self.stats.early_drop += 1;
                    self.kill(i, true);
                }
            }
        }
    }
}

/// Packets per batched sweep ([`Conntrack::gc_step`]).
pub const GC_EVERY: u32 = 16;

/// The paced sweep visits the whole table once per this much time
/// (nf_conntrack_core.c `GC_SCAN_INTERVAL_MIN`, 1 s).
const GC_PASS: Nanos = SEC;

/// Five `write_u64`s: cheaper than hashing the words as a byte slice.
#[inline]
fn hash_words(state: &FixedState, w: [u64; 5]) -> u64 {
    use std::hash::Hasher;
    let mut h = state.build_hasher();
    for x in w {
        h.write_u64(x);
    }
    h.finish()
}

/// `tcp_error` (header length, checksum, flags) and, if the segment passes,
/// what the TCP tracker reads of it (no NAT sequence offset).
#[inline(always)]
fn tcp_segment<'a>(
    datagram: &'a [u8],
    meta: &PacketMeta,
    th: &palisade_wire::TcpMeta,
    check_csum: bool,
) -> Option<tcp::Seg<'a>> {
    let seg_len = usize::from(meta.len).saturating_sub(usize::from(meta.l4_off));
    if th.hdr_len < 20 || seg_len < usize::from(th.hdr_len) {
        return None;
    }
    if check_csum && !checksum::verify_l4(datagram, meta) {
        return None;
    }
    if !tcp::flags_valid(th.flags) {
        return None;
    }
    let opt_start = usize::from(meta.l4_off) + 20;
    let opt_end = usize::from(meta.l4_off) + usize::from(th.hdr_len);
    Some(tcp::Seg {
        seq: th.seq,
        ack: th.ack,
        flags: th.flags,
        window: th.window,
        payload_len: th.payload_len,
        options: datagram.get(opt_start..opt_end).unwrap_or(&[]),
        receiver_offset: 0,
    })
}

/// The ctinfo of a packet travelling in direction `dir` of an entry with
/// status `st`, as `resolve_normal_ct` assigns it.
#[inline]
fn info_of(dir: usize, st: Status) -> CtInfo {
    if dir == 1 {
        CtInfo::EstablishedReply
    } else if st.has(Status::SEEN_REPLY) {
        CtInfo::Established
    } else if st.has(Status::EXPECTED) {
        CtInfo::Related
    } else {
        CtInfo::New
    }
}

/// What [`Conntrack::packet_known`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// Tracked: the packet's ctinfo. The packet carries the handle's entry
    /// unless INVALID (then none), so the ctinfo says it all ([`Known::result`]):
    /// a `CtResult` returned here was written field by field and copied
    /// whole, a store-forwarding stall on every established packet.
    Done(CtInfo),
    /// The handle is stale; nothing was done.
    Stale,
    /// A SYN closed the entry; track the packet again to open a new one.
    Reopen,
}

impl Known {
    /// The [`CtResult`] of a packet [`Conntrack::packet_known`] tracked on
    /// `h`; `None` unless [`Known::Done`].
    #[inline]
    pub fn result(self, h: CtHandle) -> Option<CtResult> {
        match self {
            Known::Done(info) => Some(CtResult {
                info,
                handle: (info != CtInfo::Invalid).then_some(h),
                drop: false,
            }),
            Known::Stale | Known::Reopen => None,
        }
    }
}

enum Handled {
    Accept,
    Invalid,
    Repeat,
}

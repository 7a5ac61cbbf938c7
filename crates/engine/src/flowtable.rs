//! Kernel counterpart: net/netfilter/nf_flow_table_core.c (the flowtable:
//! packets of an established flow skip the hooks). Ours differs where
//! iptables users would notice: the kernel's flowtable bypasses the rules
//! (their counters stop), this one replays the rule path it remembered, so
//! every rule and policy counter is exactly what the full walk would count.
//!
//! A path is remembered only when it is a pure function of the flow: the
//! packet was ESTABLISHED (either direction) on a confirmed entry without a
//! helper, sequence adjustment or NAT binding (so no hook rewrites it and
//! confirming is a no-op), no raw table exists (raw runs before conntrack,
//! where the flow is not known yet), tracing is off, and every rule whose
//! matches the walk evaluated reads only what the flow fixes — addresses,
//! ports, protocol, ICMP type/code (part of the conntrack tuple),
//! interfaces, the packet mark the path started with, ctstate, ctstatus and
//! ctmark (all in the key) — and every rule that matched only counted,
//! jumped, returned, accepted or dropped. Header fields the skip steps and
//! the rule index test are flow fields too. Anything else (length, TTL, TCP
//! flags, limit, recent, LOG, MARK, REJECT, …) marks the path uncacheable
//! and the flow keeps taking the full walk.
//!
//! The cache is direct-mapped by conntrack slot and direction: fixed
//! memory whatever the number of flows, no allocation on a hit; a collision
//! only costs a walk.

use palisade_conntrack::{CtHandle, CtInfo, Entry as CtEntry, Status};
use palisade_model::{Hook, TableId};

use crate::verdict::DropReason;

/// Counters one remembered path increments (rules and policies).
pub(crate) const MAX_HITS: usize = 6;

/// Records the rule path of one packet while the tables walk it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PathRec {
    /// Recording this packet.
    pub on: bool,
    /// Nothing seen so far depends on more than the flow.
    pub ok: bool,
    n: u8,
    hits: [(u8, u32); MAX_HITS],
}

impl PathRec {
    pub(crate) fn start(&mut self) {
        self.on = true;
        self.ok = true;
        self.n = 0;
    }

    /// The entry `entry` of `table` counted the packet.
    pub(crate) fn hit(&mut self, table: TableId, entry: usize) {
        match self.hits.get_mut(usize::from(self.n)) {
            Some(h) => {
                *h = (table as u8, entry as u32);
                self.n += 1;
            }
            None => self.ok = false,
        }
    }
}

/// How a remembered path ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlowEnd {
    /// Delivered to a local socket.
    Local,
    /// Leaves by the interface at this position of the host's list;
    /// `forward`: a received packet being forwarded (TTL and MTU are checked
    /// per packet before the path is replayed).
    Out { dev: u16, forward: bool },
    /// Dropped by a rule or policy of the hook before any routing-dependent
    /// step.
    Drop(DropReason),
}

/// What identifies a remembered path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlowKey {
    pub handle: CtHandle,
    pub reply: bool,
    /// Locally generated (OUTPUT) rather than received.
    pub local: bool,
    /// Input interface (received) or output interface (local), as its
    /// position in the host's list.
    pub dev: u16,
    /// The packet mark the path starts with (the socket's for local packets).
    pub mark: u32,
    pub ct_mark: u32,
    pub ct_status: u16,
}

impl FlowKey {
    /// The key of an ESTABLISHED packet whose path may be remembered, or
    /// `None` (see the module comment).
    pub(crate) fn of(
        info: CtInfo,
        handle: Option<CtHandle>,
        entry: Option<&CtEntry>,
        local: bool,
        dev: u16,
        mark: u32,
    ) -> Option<FlowKey> {
        let reply = match info {
            CtInfo::Established => false,
            CtInfo::EstablishedReply => true,
            _ => return None,
        };
        let (h, e) = (handle?, entry?);
        let s = e.status;
        if e.helper.is_some()
            || !e.is_confirmed()
            || s.has(Status::DYING)
            || s.has(Status::SEQ_ADJUST)
            || s.has(Status::SRC_NAT)
            || s.has(Status::DST_NAT)
        {
            return None;
        }
        Some(FlowKey {
            handle: h,
            reply,
            local,
            dev,
            mark,
            ct_mark: e.mark,
            ct_status: s.0,
        })
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    key: FlowKey,
    epoch: u32,
    pub end: FlowEnd,
    n: u8,
    hits: [(u8, u32); MAX_HITS],
}

impl Slot {
    /// The counters the path increments: (table id, entry index).
    pub(crate) fn hits(&self) -> &[(u8, u32)] {
        &self.hits[..usize::from(self.n)]
    }
}

/// Remembered paths, direct-mapped by conntrack slot and direction.
#[derive(Debug)]
pub(crate) struct FlowTable {
    /// A fixed-size array: the masked index needs no bounds check.
    slots: Box<[Option<Slot>; SLOTS]>,
    /// Bumped when the rules change: every remembered path is forgotten.
    epoch: u32,
    pub stats: FlowStats,
}

/// How often the flowtable served packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Packets whose remembered path was replayed.
    pub hits: u64,
    /// Paths remembered after a full walk.
    pub remembered: u64,
}

/// Slots (a power of two): 32k paths, both directions of 16k connections,
/// about 2.6 MiB.
const SLOTS: usize = 1 << 15;

impl Default for FlowTable {
    fn default() -> FlowTable {
        FlowTable {
            slots: vec![None; SLOTS]
                .into_boxed_slice()
                .try_into()
                .expect("SLOTS slots"),
            epoch: 0,
            stats: FlowStats::default(),
        }
    }
}

impl FlowTable {
    /// By slot and direction only: a direction's packets are either all
    /// received or all locally generated (loopback aside, which then costs a
    /// walk), so leaving `local` out of the index lets the table hold both
    /// directions of 16k connections without a collision, where indexing by
    /// all three bits left half of it empty. Conntrack allocates low slots
    /// first, so slot-major indexing beats a hash.
    #[inline]
    fn index(k: &FlowKey) -> usize {
        ((k.handle.slot() as usize) << 1 | usize::from(k.reply)) & (SLOTS - 1)
    }

    /// The path remembered for `k`.
    pub(crate) fn get(&self, k: &FlowKey) -> Option<&Slot> {
        self.slots[Self::index(k)]
            .as_ref()
            .filter(|s| s.key == *k && s.epoch == self.epoch)
    }

    /// Remembers the path `rec` recorded, if it may be.
    pub(crate) fn put(&mut self, k: FlowKey, rec: &PathRec, end: FlowEnd) {
        if !rec.ok {
            return;
        }
        self.stats.remembered += 1;
        self.slots[Self::index(&k)] = Some(Slot {
            key: k,
            epoch: self.epoch,
            end,
            n: rec.n,
            hits: rec.hits,
        });
    }

    /// Forgets every path (new rules: entry indices changed).
    pub(crate) fn flush(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.slots.fill(None);
        }
    }
}

/// A drop that may be remembered: by a rule or policy of a hook the path
/// reaches before any per-packet routing step (PREROUTING, INPUT, OUTPUT,
/// POSTROUTING of a local packet).
pub(crate) fn drop_end(reason: DropReason, local: bool) -> Option<FlowEnd> {
    let hook = match reason {
        DropReason::Rule { hook, .. } | DropReason::Policy { hook, .. } => hook,
        _ => return None,
    };
    let ok = if local {
        matches!(hook, Hook::Output | Hook::PostRouting)
    } else {
        matches!(hook, Hook::PreRouting | Hook::Input)
    };
    ok.then_some(FlowEnd::Drop(reason))
}

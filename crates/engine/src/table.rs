//! Kernel: include/uapi/linux/netfilter_ipv4/ip_tables.h (`struct ipt_replace`:
//! `hook_entry[]`, `underflow[]`), net/ipv4/netfilter/ip_tables.c.
//!
//! A compiled table is data: one flat array of rules holding every chain back
//! to back, each chain closed by an *end entry* (the policy of a built-in
//! chain — its `underflow` — or the implicit RETURN of a user chain), exactly
//! the kernel's blob layout. Jumps are indices into the array; counters live
//! in the entries, so counting allocates nothing.

use palisade_model::{Counters, Hook, Policy, TableId};

use crate::matches::CMatch;
use crate::targets::CTarget;

/// Number of header fields with skip steps (see `compile::skip`).
pub(crate) const NSKIP: usize = 5;
/// Skip-step field: protocol.
pub(crate) const SKIP_PROTO: usize = 0;
/// Skip-step field: source address.
pub(crate) const SKIP_SRC: usize = 1;
/// Skip-step field: destination address.
pub(crate) const SKIP_DST: usize = 2;
/// Skip-step field: input interface.
pub(crate) const SKIP_IIF: usize = 3;
/// Skip-step field: output interface.
pub(crate) const SKIP_OIF: usize = 4;

/// An address with mask, as bits (IPv4 in the low 32 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Net {
    pub v6: bool,
    pub addr: u128,
    pub mask: u128,
}

/// An interface pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IfPat {
    pub name: Box<str>,
    pub wildcard: bool,
}

impl IfPat {
    pub(crate) fn matches(&self, actual: &str) -> bool {
        if self.wildcard {
            actual.starts_with(&*self.name)
        } else {
            *self.name == *actual
        }
    }
}

/// The header part of a rule (`struct ipt_ip`), pre-digested.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeaderFilter {
    pub src: Option<(Net, bool)>,
    pub dst: Option<(Net, bool)>,
    pub iif: Option<(IfPat, bool)>,
    pub oif: Option<(IfPat, bool)>,
    /// Protocol and inversion; `None` for "all".
    pub proto: Option<(u8, bool)>,
    /// `-f` / `! -f`.
    pub frag: Option<bool>,
}

/// One entry of the flat array.
#[derive(Debug)]
pub(crate) struct Entry {
    pub ip: HeaderFilter,
    pub matches: Box<[CMatch]>,
    pub target: CTarget,
    pub counters: Counters,
    /// Next entry index to try when the given header field fails.
    pub skip: [u32; NSKIP],
    /// Chain this entry belongs to (index into [`Table::chains`]).
    pub chain: u32,
    /// 1-based rule number within its chain; 0 for the end entry.
    pub rule_no: u32,
}

/// What ends a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChainEnd {
    /// Built-in chain: its policy.
    Policy(Policy),
    /// User chain: implicit RETURN.
    Return,
}

/// Per-chain bookkeeping, for tracing and saving counters.
#[derive(Debug)]
pub(crate) struct ChainInfo {
    pub name: String,
    pub first: u32,
    /// Index of the end entry.
    pub end: u32,
    pub hook: Option<Hook>,
}

/// A compiled table.
#[derive(Debug)]
pub(crate) struct Table {
    pub id: TableId,
    pub entries: Vec<Entry>,
    /// Candidate index per chain (see `compile::classify`).
    pub index: crate::compile::classify::Index,
    /// First entry of the built-in chain at each hook (`hook_entry`).
    pub entry: [Option<u32>; 5],
    /// End entry (policy) of the built-in chain at each hook (`underflow`).
    pub underflow: [Option<u32>; 5],
    pub chains: Vec<ChainInfo>,
    /// Deepest possible jump stack (number of chains bounds it).
    pub stack_size: usize,
}

impl Table {
    /// Name of the chain holding `entry`.
    pub(crate) fn chain_name(&self, entry: usize) -> &str {
        self.entries
            .get(entry)
            .and_then(|e| self.chains.get(e.chain as usize))
            .map(|c| c.name.as_str())
            .unwrap_or("?")
    }
}

//! palisade-engine: a sans-IO netfilter. Feed it packets with a timestamp and
//! an interface; it walks the iptables tables at each hook in the kernel's
//! order, tracks connections, and says what happens to each packet — with
//! the kernel's counters, drop reasons and REJECT replies.
//!
//! Layout follows the kernel: [`compile`] (≈ `translate_table`) turns a
//! [`palisade_model::Ruleset`] into flat tables ([`table`]) with skip steps;
//! [`eval`] is `ipt_do_table`; one file per match in `matches/` and per
//! target in `targets/`; shared extension state (recent lists, hashlimit
//! tables) in `state/`; [`defrag`] is nf_defrag (fragments reassembled
//! before conntrack); `flowtable` (≈ nf_flow_table) replays the remembered
//! rule path of established flows, counters included, and `flowcache` (≈ its
//! lookup by header fields) finds their conntrack entry and route without a
//! tuple hash.

#![warn(missing_docs)]

pub mod compile;
pub mod config;
pub mod ctview;
pub mod defrag;
pub(crate) mod eval;
pub(crate) mod flowcache;
pub mod flowtable;
pub(crate) mod helper;
pub mod host;
pub(crate) mod icmp;
pub(crate) mod matches;
pub(crate) mod nat;
pub mod pipeline;
pub(crate) mod state;
pub(crate) mod table;
pub(crate) mod targets;
pub mod trace;
pub mod verdict;

pub use compile::{CompileError, CompileErrorKind};
pub use config::{EngineConfig, Error};
pub use ctview::CtState;
pub use eval::{Owner, L2};
pub use flowtable::FlowStats;
pub use host::{Host, Interface, Route};
pub use nat::{Manip, NatRng};
pub use pipeline::{Emitted, Engine, IntoRuleset, Outcome, RxInfo, TxInfo};
pub use trace::{Observer, StepKind, TraceEvent, TraceStep};
pub use verdict::{DropReason, Verdict};

/// Time on the caller's clock, in nanoseconds.
pub type Nanos = u64;

/// A line the LOG target produced (what the kernel would send to syslog).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// syslog level (`--log-level`).
    pub level: u8,
    /// The text, prefix included, in the kernel's format.
    pub text: String,
}

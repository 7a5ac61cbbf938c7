//! The "uapi" of Palisade: plain data shared by the ruleset language (`palisade-rules`)
//! and the engine. No parsing, no printing, no evaluation lives here — only the shape
//! of a netfilter ruleset, mirroring the kernel's `ipt_entry`/`xt_*_info` structures.

pub mod addr;
pub mod hook;
pub mod matches;
pub mod ruleset;
pub mod targets;

pub use addr::{AddrMask, Iface};
pub use hook::{Family, Hook, TableId};
pub use matches::Match;
pub use ruleset::{Chain, Counters, IpFilter, Policy, Rule, Ruleset, Span, Table};
pub use targets::Target;

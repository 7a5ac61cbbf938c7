//! Engine state that outlives a ruleset replacement (as the kernel keeps
//! `xt_recent` lists and `xt_hashlimit` tables alive across `iptables-restore`
//! when the new ruleset names them again).

pub(crate) mod hashlimit;
pub(crate) mod recent;

/// The kernel tick rate assumed for jiffy-based extensions (`limit`,
/// `hashlimit`, `recent`). Debian's kernels are built with `CONFIG_HZ=250`;
/// rounding of rates follows from it.
pub(crate) const HZ: u64 = 250;

/// Nanoseconds → jiffies.
pub(crate) fn jiffies(now_ns: u64) -> u64 {
    now_ns / (1_000_000_000 / HZ)
}

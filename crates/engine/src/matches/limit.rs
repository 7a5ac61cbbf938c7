//! Kernel: net/netfilter/xt_limit.c (`limit_mt`, `user2credits`).
//!
//! A token bucket per rule in the kernel's units: time in jiffies, credits
//! per jiffy a power of two below `u32::MAX / (HZ·86400)`, the bucket starting
//! full (`avg · burst` credits) and each packet costing `avg` credits. The
//! kernel stamps `prev` when the rule is loaded; we stamp it at the first
//! packet, which is the same thing because the bucket starts full and is
//! capped.

use palisade_model::matches::{LimitMatch, LIMIT_SCALE};

use crate::state::{jiffies, HZ};

const MAX_CPJ: u64 = 0xFFFF_FFFF / (HZ * 60 * 60 * 24);
/// `CREDITS_PER_JIFFY = POW2_BELOW32(MAX_CPJ)`.
pub(crate) const CREDITS_PER_JIFFY: u64 = pow2_below(MAX_CPJ);

pub(crate) const fn pow2_below(x: u64) -> u64 {
    if x == 0 {
        0
    } else {
        1u64 << (63 - x.leading_zeros())
    }
}

fn user2credits(user: u64) -> u64 {
    // Overflow-avoiding order of the kernel's u32 arithmetic.
    if user > 0xFFFF_FFFF / (HZ * CREDITS_PER_JIFFY) {
        (user / u64::from(LIMIT_SCALE)) * HZ * CREDITS_PER_JIFFY
    } else {
        (user * HZ * CREDITS_PER_JIFFY) / u64::from(LIMIT_SCALE)
    }
}

/// Per-rule bucket.
#[derive(Clone, Debug, Default)]
pub(crate) struct LimitState {
    prev: Option<u64>,
    credit: u64,
    cap: u64,
    cost: u64,
}

impl LimitState {
    pub(crate) fn new(info: &LimitMatch) -> LimitState {
        let cap = user2credits(u64::from(info.avg) * u64::from(info.burst)) & 0xFFFF_FFFF;
        LimitState {
            prev: None,
            credit: cap,
            cap,
            cost: user2credits(u64::from(info.avg)) & 0xFFFF_FFFF,
        }
    }
}

pub(crate) fn mt(st: &mut LimitState, now: u64) -> bool {
    let j = jiffies(now);
    let prev = st.prev.replace(j).unwrap_or(j);
    st.credit = st
        .credit
        .saturating_add(j.saturating_sub(prev).saturating_mul(CREDITS_PER_JIFFY));
    if st.credit > st.cap {
        st.credit = st.cap;
    }
    if st.credit >= st.cost {
        st.credit -= st.cost;
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        // 1/second, burst 3.
        let info = LimitMatch {
            avg: LIMIT_SCALE,
            burst: 3,
        };
        let mut st = LimitState::new(&info);
        let s = 1_000_000_000u64;
        assert!(mt(&mut st, s));
        assert!(mt(&mut st, s));
        assert!(mt(&mut st, s));
        assert!(!mt(&mut st, s));
        assert!(!mt(&mut st, s + s / 2));
        assert!(mt(&mut st, 2 * s));
        assert!(!mt(&mut st, 2 * s));
    }
}

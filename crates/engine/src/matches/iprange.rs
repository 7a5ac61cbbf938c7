//! Kernel: net/netfilter/xt_iprange.c (`iprange_mt4`, `iprange_mt6`).
//!
//! Inclusive address ranges compared as unsigned integers in network order,
//! each side invertible.

use std::net::IpAddr;

use palisade_model::matches::IprangeMatch;

use crate::eval::Pkt;
use crate::host::bits;

fn in_range(a: IpAddr, lo: IpAddr, hi: IpAddr) -> bool {
    a.is_ipv6() == lo.is_ipv6() && bits(a) >= bits(lo) && bits(a) <= bits(hi)
}

pub(crate) fn mt(info: &IprangeMatch, pkt: &Pkt) -> bool {
    if let Some(s) = &info.src {
        if in_range(pkt.meta.src, s.value.0, s.value.1) == s.invert {
            return false;
        }
    }
    if let Some(d) = &info.dst {
        if in_range(pkt.meta.dst, d.value.0, d.value.1) == d.invert {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_range(ip("10.0.0.5"), ip("10.0.0.1"), ip("10.0.0.9")));
        assert!(!in_range(ip("10.0.1.5"), ip("10.0.0.1"), ip("10.0.0.9")));
        assert!(!in_range(ip("::5"), ip("10.0.0.1"), ip("10.0.0.9")));
    }
}

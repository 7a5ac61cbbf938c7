//! Kernel: net/netfilter/xt_addrtype.c (`addrtype_mt_v1`, `match_type`).
//!
//! Classifies source and destination as the routing tables would
//! (`inet_dev_addr_type`): local, broadcast, multicast, unicast,
//! unreachable. `--limit-iface-in/out` restrict local-table hits to that
//! device. IPv6 uses the same classification of our FIB mirror.

use palisade_model::matches::AddrtypeMatch;

use crate::eval::Pkt;
use crate::host::Fib;

pub(crate) fn mt(info: &AddrtypeMatch, pkt: &Pkt, fib: &Fib) -> bool {
    let dev = if info.limit_iface_in {
        Some(pkt.iif)
    } else if info.limit_iface_out {
        Some(pkt.oif)
    } else {
        None
    };
    if info.src != 0 {
        let t = fib.addr_type(pkt.meta.src, dev).bit();
        if (info.src & t != 0) == info.inv_src {
            return false;
        }
    }
    if info.dst != 0 {
        let t = fib.addr_type(pkt.meta.dst, dev).bit();
        if (info.dst & t != 0) == info.inv_dst {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, test_fib, udp_v4};
    use palisade_model::matches::addr_type as at;

    #[test]
    fn local_destination() {
        let mut d = udp_v4(1, 2, b"");
        let p = pkt_of(&mut d);
        let fib = test_fib();
        let m = AddrtypeMatch {
            dst: at::LOCAL,
            ..Default::default()
        };
        assert!(mt(&m, &p, &fib));
        let m = AddrtypeMatch {
            src: at::LOCAL,
            ..Default::default()
        };
        assert!(!mt(&m, &p, &fib));
        let m = AddrtypeMatch {
            src: at::UNICAST,
            ..Default::default()
        };
        assert!(mt(&m, &p, &fib));
    }
}

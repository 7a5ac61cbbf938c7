//! Kernel: net/netfilter/xt_connlimit.c (`connlimit_mt`),
//! net/netfilter/nf_conncount.c (`count_tree`, `find_or_evict`).
//!
//! Each rule keeps its own set of connections that went through it, keyed by
//! the masked source (or destination) address. On every evaluation the set
//! for the key drops connections that no longer exist or are closed (TCP in
//! TIME_WAIT/CLOSE), then the packet's own connection is added if absent.
//! The match is `count > limit`, inverted for `--connlimit-upto`.

use palisade_model::matches::ConnlimitMatch;

use crate::ctview::TupleView;
use crate::eval::Pkt;
use crate::host::bits;

/// What connlimit needs from the tracker.
pub(crate) trait ConnLookup {
    /// Whether a connection with this original tuple exists and is not closed.
    fn alive(&self, proto: u8, orig: &TupleView) -> bool;
}

/// Per-rule state.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnlimitState {
    conns: Vec<(u128, u8, TupleView)>,
}

fn mask_bits(v6: bool, len: u8) -> u128 {
    let w = if v6 { 128u32 } else { 32 };
    let l = u32::from(len).min(w);
    if l == 0 {
        0
    } else if v6 {
        !0u128 << (128 - l)
    } else {
        u128::from(!0u32 << (32 - l))
    }
}

pub(crate) fn mt(
    info: &ConnlimitMatch,
    st: &mut ConnlimitState,
    pkt: &Pkt,
    ct: &dyn ConnLookup,
    hotdrop: &mut bool,
) -> bool {
    let (proto, tuple) = match pkt.ct.conn.filter(|_| pkt.ct.state.has_entry()) {
        Some(c) => (c.proto, c.orig),
        None => match pkt.meta.ports() {
            Some((s, d)) => (
                pkt.meta.proto,
                TupleView {
                    src: pkt.meta.src,
                    dst: pkt.meta.dst,
                    sport: s,
                    dport: d,
                },
            ),
            None => (
                pkt.meta.proto,
                TupleView {
                    src: pkt.meta.src,
                    dst: pkt.meta.dst,
                    sport: 0,
                    dport: 0,
                },
            ),
        },
    };
    let addr = if info.daddr {
        pkt.meta.dst
    } else {
        pkt.meta.src
    };
    let key = bits(addr) & mask_bits(addr.is_ipv6(), info.mask);
    let current_known = ct_alive_or_new(pkt);
    st.conns.retain(|(k, p, t)| {
        *k != key || (*p == proto && *t == tuple && current_known) || ct.alive(*p, t)
    });
    let mut count = st.conns.iter().filter(|(k, _, _)| *k == key).count();
    if !st
        .conns
        .iter()
        .any(|(k, p, t)| *k == key && *p == proto && *t == tuple)
    {
        st.conns.push((key, proto, tuple));
        count += 1;
    }
    if count == 0 {
        *hotdrop = true;
        return false;
    }
    (count > info.limit as usize) ^ info.upto
}

fn ct_alive_or_new(pkt: &Pkt) -> bool {
    pkt.ct.state.has_entry()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, tcp_v4};
    use palisade_model::matches::tcp_flags as f;

    struct AllAlive;
    impl ConnLookup for AllAlive {
        fn alive(&self, _: u8, _: &TupleView) -> bool {
            true
        }
    }

    #[test]
    fn counts_distinct_connections() {
        let info = ConnlimitMatch {
            limit: 2,
            upto: false,
            mask: 32,
            daddr: false,
        };
        let mut st = ConnlimitState::default();
        let mut hd = false;
        for (i, expect) in [(1u16, false), (2, false), (3, true), (3, true)] {
            let mut d = tcp_v4(1000 + i, 22, f::SYN, &[]);
            let p = pkt_of(&mut d);
            assert_eq!(
                mt(&info, &mut st, &p, &AllAlive, &mut hd),
                expect,
                "conn {i}"
            );
        }
    }
}

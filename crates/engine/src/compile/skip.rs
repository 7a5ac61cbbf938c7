//! OpenBSD: sys/net/pf.c (`pf_calc_skip_steps`) — the idea, for iptables'
//! header fields.
//!
//! For each entry and each header field (protocol, source, destination, input
//! and output interface), `skip[f]` is the index of the next entry whose
//! value for that field differs. When an entry fails on field `f`, every
//! entry up to `skip[f]` carries the very same test and would fail the same
//! way, so the walk jumps there. Rules are never reordered, only skipped
//! when they cannot match, so first-match order and counters are exactly
//! those of the linear walk. Chain end entries match everything, so a skip
//! never crosses a chain boundary.

use crate::table::{Entry, NSKIP, SKIP_DST, SKIP_IIF, SKIP_OIF, SKIP_PROTO, SKIP_SRC};

fn same(a: &Entry, b: &Entry, f: usize) -> bool {
    match f {
        SKIP_PROTO => a.ip.proto == b.ip.proto,
        SKIP_SRC => a.ip.src == b.ip.src,
        SKIP_DST => a.ip.dst == b.ip.dst,
        SKIP_IIF => a.ip.iif == b.ip.iif,
        SKIP_OIF => a.ip.oif == b.ip.oif,
        _ => false,
    }
}

/// Fills `skip` of every entry; linear in the number of entries.
pub(crate) fn calc(entries: &mut [Entry]) {
    let n = entries.len();
    for f in 0..NSKIP {
        // Walk backwards: an entry's skip is the next one that differs.
        let mut next_diff = n as u32;
        for i in (0..n).rev() {
            if i + 1 < n && !same(&entries[i], &entries[i + 1], f) {
                next_diff = (i + 1) as u32;
            }
            entries[i].skip[f] = next_diff;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{HeaderFilter, Net};
    use crate::targets::CTarget;
    use palisade_model::Counters;

    fn e(proto: Option<u8>, src: Option<u128>) -> Entry {
        Entry {
            ip: HeaderFilter {
                proto: proto.map(|p| (p, false)),
                src: src.map(|a| {
                    (
                        Net {
                            v6: false,
                            addr: a,
                            mask: 0xffff_ffff,
                        },
                        false,
                    )
                }),
                ..Default::default()
            },
            matches: Box::new([]),
            target: CTarget::Accept,
            counters: Counters::default(),
            skip: [0; NSKIP],
            chain: 0,
            rule_no: 1,
        }
    }

    #[test]
    fn runs() {
        let mut v = vec![
            e(Some(6), Some(1)),
            e(Some(6), Some(2)),
            e(Some(6), Some(2)),
            e(Some(17), None),
            e(None, None),
        ];
        calc(&mut v);
        assert_eq!(v[0].skip[SKIP_PROTO], 3);
        assert_eq!(v[1].skip[SKIP_PROTO], 3);
        assert_eq!(v[0].skip[SKIP_SRC], 1);
        assert_eq!(v[1].skip[SKIP_SRC], 3);
        assert_eq!(v[3].skip[SKIP_PROTO], 4);
        assert_eq!(v[4].skip[SKIP_PROTO], 5);
    }
}

//! Exact-address runs: the complement of skip steps for long blocklists.
//!
//! Skip steps only help when consecutive rules share a failing field. A run
//! of rules that each name one host (`-s 192.0.2.7` or `-d …`, full mask, not
//! inverted) differs in that field at every rule, so skip steps degrade to a
//! linear walk. For such a run (at least [`MIN_RUN`] rules, inside one chain)
//! we index the rules by that address: a packet can only match the rules whose
//! address equals its own, so the walk visits just those, in their original
//! order, and jumps to the end of the run after the last one. Rules are never
//! reordered and non-matching rules never count, so first-match order and
//! counters are those of the linear walk.

use crate::host::bits;
use crate::table::{Entry, Net, SKIP_DST, SKIP_SRC};

/// Shorter runs are not worth a hash lookup.
pub(crate) const MIN_RUN: usize = 8;

/// One indexed run.
#[derive(Debug)]
pub(crate) struct AddrRun {
    /// [`SKIP_SRC`] or [`SKIP_DST`].
    pub field: usize,
    /// First entry after the run.
    pub end: u32,
    /// Address → entry indices (ascending).
    pub map: hashbrown::HashMap<u128, Vec<u32>, foldhash::fast::FixedState>,
}

impl AddrRun {
    /// The next entry at or after `i` that may match a packet with these
    /// addresses, or the end of the run.
    #[inline]
    pub(crate) fn next(&self, i: usize, src: std::net::IpAddr, dst: std::net::IpAddr) -> usize {
        let key = bits(if self.field == SKIP_SRC { src } else { dst });
        match self.map.get(&key) {
            None => self.end as usize,
            Some(v) => {
                let pos = v.partition_point(|&x| (x as usize) < i);
                v.get(pos).map(|&x| x as usize).unwrap_or(self.end as usize)
            }
        }
    }
}

fn host_addr(f: &Option<(Net, bool)>) -> Option<u128> {
    match f {
        Some((n, false))
            if n.mask
                == if n.v6 {
                    u128::MAX
                } else {
                    u128::from(u32::MAX)
                } =>
        {
            Some(n.addr)
        }
        _ => None,
    }
}

fn key(e: &Entry, field: usize) -> Option<u128> {
    if e.rule_no == 0 {
        return None;
    }
    if field == SKIP_SRC {
        host_addr(&e.ip.src)
    } else {
        host_addr(&e.ip.dst)
    }
}

/// Finds the runs; returns them and, per entry, the run it belongs to.
pub(crate) fn calc(entries: &[Entry]) -> (Vec<AddrRun>, Vec<u32>) {
    let mut runs = Vec::new();
    let mut run_of = vec![u32::MAX; entries.len()];
    let mut i = 0;
    while i < entries.len() {
        let mut best: Option<(usize, usize)> = None;
        for field in [SKIP_SRC, SKIP_DST] {
            let mut j = i;
            while j < entries.len()
                && entries[j].chain == entries[i].chain
                && key(&entries[j], field).is_some()
            {
                j += 1;
            }
            if j - i >= MIN_RUN && best.is_none_or(|(_, e)| j > e) {
                best = Some((field, j));
            }
        }
        let Some((field, end)) = best else {
            i += 1;
            continue;
        };
        let mut map: hashbrown::HashMap<u128, Vec<u32>, _> =
            hashbrown::HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x7275_6e73));
        for (k, e) in entries.iter().enumerate().take(end).skip(i) {
            if let Some(a) = key(e, field) {
                map.entry(a).or_default().push(k as u32);
            }
            run_of[k] = runs.len() as u32;
        }
        runs.push(AddrRun {
            field,
            end: end as u32,
            map,
        });
        i = end;
    }
    (runs, run_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{HeaderFilter, NSKIP};
    use crate::targets::CTarget;

    fn e(src: Option<u128>, chain: u32) -> Entry {
        Entry {
            ip: HeaderFilter {
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
            counters: Default::default(),
            skip: [0; NSKIP],
            chain,
            rule_no: 1,
        }
    }

    #[test]
    fn indexes_long_host_runs_only() {
        let mut v: Vec<Entry> = (0..10).map(|a| e(Some(a % 7), 0)).collect();
        v.push(e(None, 0));
        v.extend((0..3).map(|a| e(Some(a), 1)));
        let (runs, run_of) = calc(&v);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].end, 10);
        assert_eq!(runs[0].map[&3], vec![3]);
        assert_eq!(runs[0].map[&0], vec![0, 7]);
        assert_eq!(run_of[10], u32::MAX);
        let ip = |x: u32| std::net::IpAddr::V4(x.into());
        assert_eq!(runs[0].next(1, ip(0), ip(9)), 7);
        assert_eq!(runs[0].next(8, ip(0), ip(9)), 10);
        assert_eq!(runs[0].next(0, ip(99), ip(9)), 10);
    }
}

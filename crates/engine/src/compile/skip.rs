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

    /// 10k random rules: the skip-step walk and the naive linear walk give the
    /// same verdict and the same counters on every entry, for random packets.
    #[test]
    fn skip_steps_keep_first_match_and_counters() {
        use crate::eval::tests::{pkt_of, tcp_v4, udp_v4};
        use crate::eval::{do_table, Sinks};
        use crate::matches::MatchEnv;
        use palisade_model::matches::{PortRange, TcpMatch};
        use palisade_model::{
            AddrMask, Family, Hook, Iface, IpFilter, Match, Rule, Ruleset, TableId, Target,
        };

        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let srcs = ["10.0.0.0/8", "10.0.0.1/32", "192.168.1.0/24", "0.0.0.0/0"];
        let net = |s: &str| {
            let (a, l) = s.split_once('/').unwrap();
            AddrMask::from_prefix(a.parse().unwrap(), l.parse().unwrap())
        };
        let mut rs = Ruleset::new(Family::V4);
        let t = rs.table_mut(TableId::Filter);
        t.chains.push(palisade_model::Chain {
            name: "U".into(),
            policy: None,
            counters: Default::default(),
            rules: vec![],
        });
        let mut gen_rule = |user: bool| {
            let mut ip = IpFilter::default();
            // Long runs of equal fields, so skips actually happen.
            match rnd(4) {
                0 => {}
                1 => ip.proto = 6,
                2 => ip.proto = 17,
                _ => {
                    ip.proto = 6;
                    ip.inv_proto = true
                }
            }
            if rnd(3) > 0 {
                ip.src = Some(net(srcs[rnd(4) as usize]));
                ip.inv_src = rnd(5) == 0;
            }
            if rnd(3) == 0 {
                ip.dst = Some(net(srcs[rnd(4) as usize]));
            }
            if rnd(4) == 0 {
                ip.in_iface = Some(Iface {
                    name: ["eth", "eth0", "lo"][rnd(3) as usize].into(),
                    wildcard: rnd(2) == 0,
                });
                ip.inv_in = rnd(4) == 0;
            }
            let mut matches = vec![];
            if ip.proto == 6 && !ip.inv_proto && rnd(3) == 0 {
                matches.push(Match::Tcp(TcpMatch {
                    dport: PortRange::single(rnd(4) as u16 + 20),
                    ..Default::default()
                }));
            }
            let target = match rnd(1000) {
                0 => Target::Accept,
                1 => Target::Drop,
                2..=5 if !user => Target::Jump("U".into()),
                6 if user => Target::Return,
                _ => Target::None,
            };
            Rule::new(ip, matches, target)
        };
        let mut input: Vec<Rule> = (0..10_000).map(|_| gen_rule(false)).collect();
        // A blocklist section: host rules, indexed by address (classify).
        let hosts = [
            "10.0.0.1",
            "10.2.3.4",
            "192.168.1.7",
            "8.8.8.8",
            "10.9.9.9",
            "1.2.3.4",
        ];
        let block: Vec<Rule> = (0..600u64)
            .map(|k| {
                let ip = IpFilter {
                    src: Some(net(&format!("{}/32", hosts[(k * 7 % 6) as usize]))),
                    proto: if k % 3 == 0 { 6 } else { 0 },
                    ..Default::default()
                };
                let target = if k % 97 == 0 {
                    Target::Drop
                } else {
                    Target::None
                };
                Rule::new(ip, vec![], target)
            })
            .collect();
        input.splice(50..50, block);
        let user: Vec<Rule> = (0..200).map(|_| gen_rule(true)).collect();
        t.chain_mut("INPUT").unwrap().rules = input;
        t.chain_mut("U").unwrap().rules = user;

        let mut r1 = Default::default();
        let mut h1 = Default::default();
        let mut a = crate::compile::compile(&rs, &mut r1, &mut h1).unwrap();
        let mut r2 = Default::default();
        let mut h2 = Default::default();
        let mut b = crate::compile::compile(&rs, &mut r2, &mut h2).unwrap();
        let fib = crate::eval::tests::test_fib();
        struct NoConns;
        impl crate::matches::connlimit::ConnLookup for NoConns {
            fn alive(&self, _: u8, _: &crate::ctview::TupleView) -> bool {
                false
            }
        }
        let mut stack = Vec::new();
        let mut logs = Vec::new();
        let mut skipped_work = 0usize;
        for k in 0..3000u32 {
            let mut d = if rnd(2) == 0 {
                tcp_v4(1000, rnd(4) as u16 + 20, 0x02, &[])
            } else {
                udp_v4(1000, 53, b"")
            };
            let src =
                [[10, 0, 0, 1], [10, 2, 3, 4], [192, 168, 1, 7], [8, 8, 8, 8]][rnd(4) as usize];
            d[12..16].copy_from_slice(&src);
            let mut p = pkt_of(&mut d);
            p.meta.src = std::net::IpAddr::from(src);
            p.iif = ["eth0", "eth1", "lo"][rnd(3) as usize];
            let mut verdicts = [None, None];
            for (j, (c, (rec, hl))) in [(&mut a, (&mut r1, &mut h1)), (&mut b, (&mut r2, &mut h2))]
                .into_iter()
                .enumerate()
            {
                let t = c.tables[TableId::Filter as usize].as_mut().unwrap();
                let mut env = MatchEnv {
                    fib: &fib,
                    recent: rec,
                    hashlimit: hl,
                    conns: &NoConns,
                    iif_loopback: false,
                };
                let mut sinks = Sinks {
                    logs: &mut logs,
                    trace: None,
                    observer: None,
                    stack: &mut stack,
                    rec: None,
                };
                verdicts[j] = Some(do_table(
                    t,
                    Hook::Input,
                    &mut p,
                    &mut env,
                    &mut sinks,
                    j == 0,
                ));
            }
            assert_eq!(verdicts[0], verdicts[1], "packet {k}");
        }
        let ta = a.tables[TableId::Filter as usize].as_ref().unwrap();
        let tb = b.tables[TableId::Filter as usize].as_ref().unwrap();
        for (i, (x, y)) in ta.entries.iter().zip(tb.entries.iter()).enumerate() {
            assert_eq!(x.counters, y.counters, "entry {i}");
            if x.skip.iter().any(|s| *s as usize > i + 1) {
                skipped_work += 1;
            }
        }
        assert!(
            skipped_work > 1000,
            "skip steps should span runs: {skipped_work}"
        );
    }
}

//! Kernel: net/ipv4/netfilter/ip_tables.c (`translate_table`,
//! `mark_source_chains`, `check_target`, `xt_check_match`/`xt_check_target`
//! in net/netfilter/x_tables.c).
//!
//! Model → runtime. Each table becomes one flat entry array (see
//! [`crate::table`]); jump targets become indices. As the kernel does at load
//! time, we refuse: a jump to a chain that does not exist (or to a built-in
//! chain), a loop reachable from a hook, an extension used in a table it is
//! not registered for or in a chain reachable from a hook it does not allow
//! (a user chain inherits the hooks of every built-in chain that reaches it),
//! and the per-extension checks (`-m tcp` needs `-p tcp`, REJECT tcp-reset
//! needs `-p tcp`, TCPMSS needs a SYN match).

pub(crate) mod classify;
pub(crate) mod skip;

use palisade_model::targets::{RejectWith, TcpmssTarget};
use palisade_model::{Family, Hook, Match, Policy, Ruleset, TableId, Target};

use crate::host::bits;
use crate::matches::CMatch;
use crate::state::hashlimit::HashlimitTables;
use crate::state::recent::RecentTables;
use crate::table::{ChainEnd, ChainInfo, Entry, HeaderFilter, IfPat, Net, Table, NSKIP};
use crate::targets::CTarget;

/// What is wrong with a ruleset, as the kernel would refuse it at load.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompileErrorKind {
    /// `-j`/`-g` to a chain that does not exist.
    #[error("jump to unknown chain `{0}`")]
    NoSuchChain(String),
    /// `-j`/`-g` to a built-in chain.
    #[error("cannot jump to built-in chain `{0}`")]
    JumpToBuiltin(String),
    /// A chain reaches itself.
    #[error("loop detected through chain `{0}`")]
    Loop(String),
    /// Target registered for another table.
    #[error("target {0} is only valid in table `{1}`")]
    TargetTable(&'static str, &'static str),
    /// Target used from a hook it does not allow.
    #[error("target {0} used from hook {1}, which it does not support")]
    TargetHook(&'static str, &'static str),
    /// Match used from a hook it does not allow.
    #[error("match {0} used from hook {1}, which it does not support")]
    MatchHook(&'static str, &'static str),
    /// Match valid only in some tables.
    #[error("match {0} is only valid in tables {1}")]
    MatchTable(&'static str, &'static str),
    /// A protocol match without the matching `-p`.
    #[error("match {0} needs `-p {1}` (not inverted)")]
    NeedsProto(&'static str, &'static str),
    /// Extension of the other family.
    #[error("{0} is not valid for this family")]
    WrongFamily(&'static str),
    /// Anything else the extension's check refuses.
    #[error("{0}")]
    Invalid(&'static str),
}

/// A ruleset the engine refuses, with where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: table {}, chain {}{}: {kind}", family.command(), table.name(), chain, rule.map(|r| format!(", rule {r}")).unwrap_or_default())]
pub struct CompileError {
    /// Family.
    pub family: Family,
    /// Table.
    pub table: TableId,
    /// Chain.
    pub chain: String,
    /// 1-based rule number.
    pub rule: Option<u32>,
    /// What.
    pub kind: CompileErrorKind,
}

/// All tables of one family, compiled.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    /// Indexed by `TableId as usize`.
    pub tables: [Option<Table>; 5],
    /// `CT --helper` names, indexed by the template's helper id.
    pub helpers: Vec<String>,
}

impl Compiled {
    /// Deepest jump stack any table may need.
    pub(crate) fn max_stack(&self) -> usize {
        self.tables
            .iter()
            .flatten()
            .map(|t| t.stack_size)
            .max()
            .unwrap_or(0)
    }
}

fn hook_bit(h: Hook) -> u8 {
    1 << h.index()
}

fn hooks_name(mask: u8, allowed: u8) -> &'static str {
    let bad = mask & !allowed;
    Hook::ALL
        .into_iter()
        .find(|h| bad & hook_bit(*h) != 0)
        .map(Hook::chain_name)
        .unwrap_or("?")
}

fn net(a: &palisade_model::AddrMask) -> Net {
    Net {
        v6: a.addr.is_ipv6(),
        addr: bits(a.addr),
        mask: bits(a.mask),
    }
}

fn header(ip: &palisade_model::IpFilter) -> HeaderFilter {
    HeaderFilter {
        src: ip.src.as_ref().map(|a| (net(a), ip.inv_src)),
        dst: ip.dst.as_ref().map(|a| (net(a), ip.inv_dst)),
        iif: ip.in_iface.as_ref().map(|i| {
            (
                IfPat {
                    name: i.name.clone().into(),
                    wildcard: i.wildcard,
                },
                ip.inv_in,
            )
        }),
        oif: ip.out_iface.as_ref().map(|i| {
            (
                IfPat {
                    name: i.name.clone().into(),
                    wildcard: i.wildcard,
                },
                ip.inv_out,
            )
        }),
        proto: if ip.proto == 0 && !ip.inv_proto {
            None
        } else {
            Some((ip.proto, ip.inv_proto))
        },
        frag: ip.fragment,
    }
}

const ALL_HOOKS: u8 = 0x1f;
const PRE: u8 = 1 << 0;
const IN: u8 = 1 << 1;
const FWD: u8 = 1 << 2;
const OUT: u8 = 1 << 3;
const POST: u8 = 1 << 4;

/// Per-extension table/hook restrictions and checks.
fn check_rule(
    family: Family,
    table: TableId,
    hooks: u8,
    rule: &palisade_model::Rule,
) -> Result<(), CompileErrorKind> {
    let tcp_proto = rule.ip.proto == 6 && !rule.ip.inv_proto;
    for m in &rule.matches {
        let (allowed, needs): (u8, Option<(&'static str, &[u8])>) = match m {
            Match::Tcp(_) => (ALL_HOOKS, Some(("tcp", &[6]))),
            Match::Udp(_) => (ALL_HOOKS, Some(("udp", &[17]))),
            Match::Icmp(_) => {
                if family != Family::V4 {
                    return Err(CompileErrorKind::WrongFamily("icmp"));
                }
                (ALL_HOOKS, Some(("icmp", &[1])))
            }
            Match::Icmp6(_) => {
                if family != Family::V6 {
                    return Err(CompileErrorKind::WrongFamily("icmp6"));
                }
                (ALL_HOOKS, Some(("ipv6-icmp", &[58])))
            }
            Match::Multiport(_) => (
                ALL_HOOKS,
                Some(("tcp|udp|udplite|sctp|dccp", &[6, 17, 136, 132, 33])),
            ),
            Match::Owner(_) => (OUT | POST, None),
            Match::Mac(_) => (PRE | IN | FWD, None),
            Match::Rpfilter(_) => {
                if !matches!(table, TableId::Raw | TableId::Mangle) {
                    return Err(CompileErrorKind::MatchTable("rpfilter", "raw, mangle"));
                }
                (PRE, None)
            }
            Match::Addrtype(a) => {
                if a.limit_iface_in && a.limit_iface_out {
                    return Err(CompileErrorKind::Invalid(
                        "addrtype: --limit-iface-in and --limit-iface-out are exclusive",
                    ));
                }
                if a.limit_iface_in {
                    (PRE | IN | FWD, None)
                } else if a.limit_iface_out {
                    (OUT | FWD | POST, None)
                } else {
                    (ALL_HOOKS, None)
                }
            }
            Match::Ttl(_) if family != Family::V4 => {
                return Err(CompileErrorKind::WrongFamily("ttl"))
            }
            Match::Hl(_) if family != Family::V6 => {
                return Err(CompileErrorKind::WrongFamily("hl"))
            }
            _ => (ALL_HOOKS, None),
        };
        if hooks & !allowed != 0 {
            return Err(CompileErrorKind::MatchHook(
                m.name(),
                hooks_name(hooks, allowed),
            ));
        }
        if let Some((pname, protos)) = needs {
            if rule.ip.inv_proto || !protos.contains(&rule.ip.proto) {
                return Err(CompileErrorKind::NeedsProto(m.name(), pname));
            }
        }
    }
    let (name, only_table, allowed): (&'static str, Option<TableId>, u8) = match &rule.target {
        Target::Reject(with) => {
            if *with == RejectWith::TcpReset && !tcp_proto {
                return Err(CompileErrorKind::NeedsProto(
                    "REJECT --reject-with tcp-reset",
                    "tcp",
                ));
            }
            let v6 = matches!(
                with,
                RejectWith::Icmp6NoRoute
                    | RejectWith::Icmp6AdmProhibited
                    | RejectWith::Icmp6AddrUnreachable
                    | RejectWith::Icmp6PortUnreachable
                    | RejectWith::Icmp6PolicyFail
                    | RejectWith::Icmp6RejectRoute
            );
            if v6 != (family == Family::V6) && *with != RejectWith::TcpReset {
                return Err(CompileErrorKind::WrongFamily("REJECT type"));
            }
            ("REJECT", Some(TableId::Filter), IN | FWD | OUT)
        }
        Target::Snat { .. } => ("SNAT", Some(TableId::Nat), POST | IN),
        Target::Dnat { .. } => ("DNAT", Some(TableId::Nat), PRE | OUT),
        Target::Masquerade { .. } => ("MASQUERADE", Some(TableId::Nat), POST),
        Target::Redirect { .. } => ("REDIRECT", Some(TableId::Nat), PRE | OUT),
        Target::Netmap(_) => ("NETMAP", Some(TableId::Nat), PRE | IN | OUT | POST),
        Target::Ct(c) => {
            if let Some(name) = &c.helper {
                crate::helper::check(family, rule.ip.proto, rule.ip.inv_proto, name)
                    .map_err(CompileErrorKind::Invalid)?;
            }
            ("CT", Some(TableId::Raw), ALL_HOOKS)
        }
        Target::Notrack => ("NOTRACK", Some(TableId::Raw), ALL_HOOKS),
        Target::Tcpmss(t) => {
            if !tcp_proto {
                return Err(CompileErrorKind::NeedsProto("TCPMSS", "tcp"));
            }
            let syn = rule.matches.iter().any(|m| {
                matches!(m, Match::Tcp(t) if t.flg_cmp & palisade_model::matches::tcp_flags::SYN != 0 && !t.inv_flags)
            });
            if !syn {
                return Err(CompileErrorKind::Invalid(
                    "TCPMSS: only works on TCP SYN packets",
                ));
            }
            let allowed = if *t == TcpmssTarget::ClampToPmtu {
                FWD | OUT | POST
            } else {
                ALL_HOOKS
            };
            ("TCPMSS", None, allowed)
        }
        _ => ("", None, ALL_HOOKS),
    };
    if let Some(t) = only_table {
        if t != table {
            return Err(CompileErrorKind::TargetTable(name, t.name()));
        }
    }
    if hooks & !allowed != 0 {
        return Err(CompileErrorKind::TargetHook(
            name,
            hooks_name(hooks, allowed),
        ));
    }
    Ok(())
}

/// Compiles one family's ruleset.
pub(crate) fn compile(
    rs: &Ruleset,
    recent: &mut RecentTables,
    hashlimit: &mut HashlimitTables,
) -> Result<Compiled, CompileError> {
    let mut out = Compiled::default();
    for mt in &rs.tables {
        let t = compile_table(rs.family, mt, recent, hashlimit, &mut out.helpers)?;
        out.tables[mt.id as usize] = Some(t);
    }
    Ok(out)
}

/// A chain as laid out: name, hook, policy, rules.
type ChainSrc<'a> = (
    &'a str,
    Option<Hook>,
    Option<Policy>,
    &'a [palisade_model::Rule],
);

fn compile_table(
    family: Family,
    mt: &palisade_model::Table,
    recent: &mut RecentTables,
    hashlimit: &mut HashlimitTables,
    helpers: &mut Vec<String>,
) -> Result<Table, CompileError> {
    let err = |chain: &str, rule: Option<u32>, kind| CompileError {
        family,
        table: mt.id,
        chain: chain.to_string(),
        rule,
        kind,
    };
    // Chains in order, with any missing built-in chain added (ACCEPT, empty)
    // as the kernel's table always has every hook.
    let mut chains: Vec<ChainSrc> = Vec::new();
    for h in mt.id.hooks() {
        match mt.chains.iter().find(|c| c.name == h.chain_name()) {
            Some(c) => chains.push((
                &c.name,
                Some(*h),
                Some(c.policy.unwrap_or(Policy::Accept)),
                &c.rules,
            )),
            None => chains.push((h.chain_name(), Some(*h), Some(Policy::Accept), &[])),
        }
    }
    for c in &mt.chains {
        if Hook::from_chain_name(&c.name).is_some_and(|h| mt.id.hooks().contains(&h)) {
            continue;
        }
        chains.push((&c.name, None, None, &c.rules));
    }
    // By name, so jumps resolve in constant time however many chains.
    let by_name: hashbrown::HashMap<&str, usize, foldhash::fast::FixedState> = chains
        .iter()
        .enumerate()
        .rev()
        .map(|(i, c)| (c.0, i))
        .collect();
    let index_of = |name: &str| by_name.get(name).copied();

    // Chain graph, for loops and hook masks.
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); chains.len()];
    for (ci, c) in chains.iter().enumerate() {
        for (ri, r) in c.3.iter().enumerate() {
            if let Target::Jump(n) | Target::Goto(n) = &r.target {
                match index_of(n) {
                    None => {
                        return Err(err(
                            c.0,
                            Some(ri as u32 + 1),
                            CompileErrorKind::NoSuchChain(n.clone()),
                        ))
                    }
                    Some(t) if chains[t].1.is_some() => {
                        return Err(err(
                            c.0,
                            Some(ri as u32 + 1),
                            CompileErrorKind::JumpToBuiltin(n.clone()),
                        ))
                    }
                    Some(t) => edges[ci].push(t),
                }
            }
        }
    }
    let mut hooks = vec![0u8; chains.len()];
    for (ci, c) in chains.iter().enumerate() {
        let Some(h) = c.1 else { continue };
        // Iterative DFS with colours: 1 = on the current path.
        let mut colour = vec![0u8; chains.len()];
        let mut stack: Vec<(usize, usize)> = vec![(ci, 0)];
        colour[ci] = 1;
        hooks[ci] |= hook_bit(h);
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&to) = edges[node].get(*next) {
                *next += 1;
                if colour[to] == 1 {
                    return Err(err(
                        chains[to].0,
                        None,
                        CompileErrorKind::Loop(chains[to].0.to_string()),
                    ));
                }
                hooks[to] |= hook_bit(h);
                if colour[to] == 0 {
                    colour[to] = 1;
                    stack.push((to, 0));
                }
            } else {
                colour[node] = 2;
                stack.pop();
            }
        }
    }

    // Lay out entries.
    let mut infos: Vec<ChainInfo> = Vec::with_capacity(chains.len());
    let mut firsts = vec![0u32; chains.len()];
    let mut total = 0u32;
    for (ci, c) in chains.iter().enumerate() {
        firsts[ci] = total;
        total += c.3.len() as u32 + 1;
    }
    // Sized once: entries are large and a growing vector would copy them.
    let mut entries: Vec<Entry> = Vec::with_capacity(total as usize);
    let mut entry = [None; 5];
    let mut underflow = [None; 5];
    for (ci, c) in chains.iter().enumerate() {
        let first = entries.len() as u32;
        for (ri, r) in c.3.iter().enumerate() {
            let rule_no = ri as u32 + 1;
            check_rule(family, mt.id, hooks[ci], r).map_err(|k| err(c.0, Some(rule_no), k))?;
            let target = match &r.target {
                Target::None => CTarget::Continue,
                Target::Accept => CTarget::Accept,
                Target::Drop => CTarget::Drop,
                Target::Return => CTarget::Return,
                Target::Jump(n) => CTarget::Jump(index_of(n).map(|i| firsts[i]).unwrap_or(0)),
                Target::Goto(n) => CTarget::Goto(index_of(n).map(|i| firsts[i]).unwrap_or(0)),
                Target::Reject(w) => CTarget::Reject(*w),
                Target::Log(l) => CTarget::Log(Box::new(l.clone())),
                Target::Nflog(_) => CTarget::Nflog,
                Target::Nfqueue(q) => CTarget::Nfqueue(q.clone()),
                Target::Masquerade { .. }
                | Target::Snat { .. }
                | Target::Dnat { .. }
                | Target::Redirect { .. }
                | Target::Netmap(_) => match crate::targets::nat::NatTarget::of(&r.target) {
                    Some(n) => CTarget::Nat(Box::new(n)),
                    None => CTarget::Accept,
                },
                Target::Mark(x) => CTarget::Mark(x.clone()),
                Target::Connmark(c) => CTarget::Connmark(c.clone()),
                Target::Ct(c) => {
                    let h = c.helper.as_ref().map(|name| {
                        match helpers.iter().position(|x| x == name) {
                            Some(i) => i as u16,
                            None => {
                                helpers.push(name.clone());
                                (helpers.len() - 1) as u16
                            }
                        }
                    });
                    CTarget::Ct(Box::new(c.clone()), h)
                }
                Target::Notrack => CTarget::Notrack,
                Target::Tcpmss(t) => CTarget::Tcpmss(*t),
            };
            entries.push(Entry {
                ip: header(&r.ip),
                matches: r
                    .matches
                    .iter()
                    .map(|m| CMatch::compile(m, family, recent, hashlimit))
                    .collect(),
                target,
                counters: Default::default(),
                skip: [0; NSKIP],
                chain: ci as u32,
                rule_no,
            });
        }
        let end = entries.len() as u32;
        let kind = match c.2 {
            Some(p) => ChainEnd::Policy(p),
            None => ChainEnd::Return,
        };
        entries.push(Entry {
            ip: HeaderFilter::default(),
            matches: Box::new([]),
            target: match kind {
                ChainEnd::Policy(p) => CTarget::Policy(p),
                ChainEnd::Return => CTarget::ChainReturn,
            },
            counters: Default::default(),
            skip: [0; NSKIP],
            chain: ci as u32,
            rule_no: 0,
        });
        if let Some(h) = c.1 {
            entry[h.index()] = Some(first);
            underflow[h.index()] = Some(end);
        }
        infos.push(ChainInfo {
            name: c.0.to_string(),
            first,
            end,
            hook: c.1,
        });
    }
    skip::calc(&mut entries);
    let index = classify::calc(&entries, infos.iter().map(|c| (c.first, c.end)));
    Ok(Table {
        id: mt.id,
        entries,
        index,
        entry,
        underflow,
        stack_size: chains.len(),
        chains: infos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::{IpFilter, Rule, Table as MTable};

    fn rs_with(rules: Vec<(&str, Rule)>, user: &[&str]) -> Ruleset {
        let mut rs = Ruleset::new(Family::V4);
        let t: &mut MTable = rs.table_mut(TableId::Filter);
        for u in user {
            t.chains.push(palisade_model::Chain {
                name: u.to_string(),
                policy: None,
                counters: Default::default(),
                rules: vec![],
            });
        }
        for (c, r) in rules {
            t.chain_mut(c).unwrap().rules.push(r);
        }
        rs
    }

    fn jump(to: &str) -> Rule {
        Rule::new(IpFilter::default(), vec![], Target::Jump(to.into()))
    }

    #[test]
    fn refuses_loops_and_missing_chains() {
        let rs = rs_with(
            vec![("INPUT", jump("A")), ("A", jump("B")), ("B", jump("A"))],
            &["A", "B"],
        );
        let e = compile(&rs, &mut Default::default(), &mut Default::default()).unwrap_err();
        assert!(matches!(e.kind, CompileErrorKind::Loop(_)));
        let rs = rs_with(vec![("INPUT", jump("nope"))], &[]);
        let e = compile(&rs, &mut Default::default(), &mut Default::default()).unwrap_err();
        assert_eq!(e.kind, CompileErrorKind::NoSuchChain("nope".into()));
        // Diamond is fine.
        let rs = rs_with(
            vec![
                ("INPUT", jump("A")),
                ("INPUT", jump("B")),
                ("A", jump("C")),
                ("B", jump("C")),
            ],
            &["A", "B", "C"],
        );
        assert!(compile(&rs, &mut Default::default(), &mut Default::default()).is_ok());
    }

    #[test]
    fn hook_restrictions_follow_jumps() {
        use palisade_model::matches::OwnerMatch;
        let owner = Rule::new(
            IpFilter::default(),
            vec![Match::Owner(OwnerMatch::default())],
            Target::Accept,
        );
        let rs = rs_with(vec![("OUTPUT", jump("A")), ("A", owner.clone())], &["A"]);
        assert!(compile(&rs, &mut Default::default(), &mut Default::default()).is_ok());
        let rs = rs_with(vec![("INPUT", jump("A")), ("A", owner)], &["A"]);
        let e = compile(&rs, &mut Default::default(), &mut Default::default()).unwrap_err();
        assert_eq!(e.kind, CompileErrorKind::MatchHook("owner", "INPUT"));
        assert_eq!(e.chain, "A");
    }
}

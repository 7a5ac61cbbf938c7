//! Applying commands to a ruleset the way the kernel and iptables do, and the load-time
//! checks the kernel makes on a whole table (x_tables `xt_check_match`/`xt_check_target`
//! table and hook masks, jump loops): a target or match restricted to some hooks is
//! refused in any chain reachable from another hook, and a restricted table is
//! enforced even for unreferenced chains.

use palisade_model::matches::RecentCmd;
use palisade_model::{
    Chain, Counters, Family, Hook, Match, Policy, Rule, Ruleset, Span, Table, TableId, Target,
};

use crate::cmd::{Command, Op};
use crate::diag::LineErr;
use std::collections::HashMap;

/// Names that cannot be user chains: the standard verdicts and every target name.
fn reserved(name: &str, fam: Family) -> bool {
    matches!(name, "ACCEPT" | "DROP" | "RETURN" | "QUEUE")
        || crate::ext::find_target(name, fam).is_some()
}

/// Why a command or a table is refused, and what would have been accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApplyErr {
    pub message: String,
    pub expected: Option<String>,
}

impl ApplyErr {
    pub(crate) fn new(message: impl Into<String>, expected: impl Into<String>) -> ApplyErr {
        ApplyErr {
            message: message.into(),
            expected: Some(expected.into()),
        }
    }

    /// The error placed at word `word` (column `col`) of its line.
    pub(crate) fn at(self, col: u32, word: &str) -> LineErr {
        LineErr {
            col,
            word: word.to_string(),
            message: self.message,
            expected: self.expected,
        }
    }
}

impl From<String> for ApplyErr {
    fn from(message: String) -> ApplyErr {
        ApplyErr {
            message,
            expected: None,
        }
    }
}

/// The usual advice for a chain that does not exist.
fn missing_chain(name: &str) -> ApplyErr {
    ApplyErr::new(
        format!("chain `{name}` does not exist"),
        format!("an existing chain (create it with `-N {name}` or a `:{name} - [0:0]` line first)"),
    )
}

/// `expected` text for a rule number of a chain holding `n` rules.
fn rule_numbers(chain: &str, n: usize) -> String {
    match n {
        0 => format!("a rule number, but chain `{chain}` is empty"),
        _ => format!("a rule number from 1 to {n} (chain `{chain}` has {n} rules)"),
    }
}

/// Applies one command to `rs`. On error nothing changes.
pub(crate) fn apply(
    rs: &mut Ruleset,
    cmd: &mut Command,
    session: &mut Session,
) -> Result<(), ApplyErr> {
    let fam = rs.family;
    let exists = rs.table(cmd.table).is_some();
    // Commands that only inspect or clear do not create a table.
    if !exists {
        match &cmd.op {
            // Commands that only clear do not create a table.
            Op::Flush(None) | Op::Zero(None) | Op::DeleteChain(None) | Op::Skip => return Ok(()),
            // Flushing a built-in chain of a table not yet created creates the table
            // (nf_tables instantiates the chain to flush it); any other chain does
            // not exist yet.
            Op::Flush(Some(c)) if Hook::from_chain_name(c).is_some() => {}
            // Nothing exists yet to zero, delete from or replace in.
            Op::Zero(Some(_))
            | Op::Flush(Some(_))
            | Op::Delete(..)
            | Op::Replace(..)
            | Op::DeleteChain(Some(_))
            | Op::Rename(..) => {
                let c = match &cmd.op {
                    Op::Zero(Some(c))
                    | Op::Flush(Some(c))
                    | Op::Delete(c, _)
                    | Op::Replace(c, _)
                    | Op::DeleteChain(Some(c))
                    | Op::Rename(c, _) => c.as_str(),
                    _ => "",
                };
                return Err(ApplyErr::new(
                    format!(
                        "chain `{c}` does not exist (no command has created table `{}` yet)",
                        cmd.table.name()
                    ),
                    "a chain created by an earlier command",
                ));
            }
            _ => {}
        }
    }
    let key = (fam, cmd.table);
    if !exists {
        session.tables.remove(&key);
        let mut table = Table::new(cmd.table);
        let mut idx = ChainIndex::new(&table);
        apply_table(&mut table, &mut idx, fam, cmd)?;
        if let Some((_, e)) = validate(&table, fam).into_iter().next() {
            return Err(e);
        }
        *rs.table_mut(cmd.table) = table;
        session.tables.insert(key, Cached { idx, masks: None });
        return Ok(());
    }
    let t = rs.table_mut(cmd.table);
    let cached = session.tables.entry(key).or_insert_with(|| Cached {
        idx: ChainIndex::new(t),
        masks: None,
    });
    match &cmd.op {
        Op::Append(c) | Op::Insert(c, _) if quiet_rules(t, cached, c, &cmd.rules).is_some() => {
            // Rules without jumps (or with jumps that give no chain new hooks and
            // cannot make a loop reachable) change no chain's reachability: checking
            // them against their chain's hooks is the whole table check, done before
            // anything changes.
            let mask = quiet_rules(t, cached, c, &cmd.rules).unwrap_or(0);
            let mut problems = Vec::new();
            for r in &cmd.rules {
                rule_problems(t.id, c, mask, r, &mut problems);
            }
            if let Some((_, e)) = problems.into_iter().next() {
                return Err(e);
            }
            apply_table(t, &mut cached.idx, fam, cmd)
        }
        // Jumps added: the hooks of the chains below them may grow and a loop may
        // close. Recompute both from the jump edges (no copy of the table); only
        // rules of chains reached from more hooks than before need checking again.
        Op::Append(c) | Op::Insert(c, _) => {
            let Some(ci) = cached.idx.find(t, c) else {
                return apply_table(t, &mut cached.idx, fam, cmd);
            };
            let before = match &cached.masks {
                Some(m) => m.clone(),
                None => hook_masks(t, &cached.idx),
            };
            let k = cmd.rules.len();
            let at = match &cmd.op {
                Op::Insert(_, n) => (*n as usize).saturating_sub(1),
                _ => t.chains[ci].rules.len(),
            };
            // Refuses before changing anything (missing chain, bad position, ...).
            apply_table(t, &mut cached.idx, fam, cmd)?;
            let edges = jump_edges(t, &cached.idx);
            let masks = masks_from_edges(t, &edges);
            let mut problems = Vec::new();
            if let Some(l) = find_loop(t, &edges) {
                problems.push((None, loop_err(&l)));
            }
            for (i, ch) in t.chains.iter().enumerate() {
                let old = before.get(i).copied().unwrap_or(0);
                if i == ci {
                    let new = ch.rules.get(at..at + k).unwrap_or(&[]);
                    let all = if masks[i] != old { &ch.rules[..] } else { new };
                    for r in all {
                        rule_problems(t.id, &ch.name, masks[i], r, &mut problems);
                    }
                } else if masks[i] != old {
                    for r in &ch.rules {
                        rule_problems(t.id, &ch.name, masks[i], r, &mut problems);
                    }
                }
            }
            if let Some((_, e)) = problems.into_iter().next() {
                // Undo: the new rules sit at at..at+k of their chain.
                let rules = &mut t.chains[ci].rules;
                if at + k <= rules.len() {
                    rules.drain(at..at + k);
                }
                cached.masks = Some(before);
                return Err(e);
            }
            cached.masks = Some(masks);
            Ok(())
        }
        // Nothing added: nothing new to check. A new chain is unreferenced (no hook
        // bits, past the end of the cached masks); removing rules may drop jumps.
        Op::Zero(_) | Op::Policy(..) | Op::Skip | Op::NewChain(_) => {
            apply_table(t, &mut cached.idx, fam, cmd)
        }
        Op::Flush(_) | Op::Delete(_, Some(_)) => {
            cached.masks = None;
            apply_table(t, &mut cached.idx, fam, cmd)
        }
        _ => {
            cached.masks = None;
            let before = t.clone();
            let r = apply_table(t, &mut cached.idx, fam, cmd).and_then(|()| {
                match validate(t, fam).into_iter().next() {
                    Some((_, e)) => Err(e),
                    None => Ok(()),
                }
            });
            if r.is_err() {
                *t = before;
                cached.idx = ChainIndex::new(t);
            }
            r
        }
    }
}

/// When adding `rules` to chain `chain` cannot change any chain's hooks nor make a
/// jump loop reachable, the hooks `chain` is reached from (computing the cached
/// masks if needed); `None` otherwise (or when the chain does not exist).
///
/// A jump from chain C to X is quiet when X is already reached from every hook C
/// is, and either C is reached from none (a loop through C would be unreachable,
/// which the kernel accepts) or C is a built-in chain (no jump can lead back to it;
/// X's own subtree was already checked when it became reachable).
fn quiet_rules(t: &Table, cached: &mut Cached, chain: &str, rules: &[Rule]) -> Option<u8> {
    let ci = cached.idx.find(t, chain)?;
    let masks = cached
        .masks
        .get_or_insert_with(|| hook_masks(t, &cached.idx));
    let mask = masks.get(ci).copied().unwrap_or(0);
    let builtin = t.chains.get(ci).is_some_and(|c| c.policy.is_some());
    let quiet = rules.iter().all(|r| match &r.target {
        Target::Jump(x) | Target::Goto(x) => {
            (mask == 0 || builtin)
                && cached
                    .idx
                    .find(t, x)
                    .is_some_and(|xi| mask & !masks.get(xi).copied().unwrap_or(0) == 0)
        }
        _ => true,
    });
    quiet.then_some(mask)
}

/// What applying a script's commands one at a time keeps between them, so a long
/// script costs linear time: per table, its chain index and, while no jump changes,
/// the hooks each chain is reached from.
#[derive(Debug, Default)]
pub(crate) struct Session {
    tables: HashMap<(Family, TableId), Cached>,
}

#[derive(Debug)]
struct Cached {
    idx: ChainIndex,
    /// Hook bits by chain position.
    masks: Option<Vec<u8>>,
}

/// Positions of a table's chains by name, so that loading a big table does not
/// search its chain list for every rule. [`apply_table`] keeps it in step with the
/// table it changes; a hit is still checked against the table.
#[derive(Debug, Default)]
pub(crate) struct ChainIndex {
    map: HashMap<String, usize>,
}

impl ChainIndex {
    /// An index of `t`'s chains.
    pub(crate) fn new(t: &Table) -> ChainIndex {
        let mut i = ChainIndex::default();
        i.rebuild(t);
        i
    }

    fn rebuild(&mut self, t: &Table) {
        self.map.clear();
        for (i, c) in t.chains.iter().enumerate() {
            self.map.entry(c.name.clone()).or_insert(i);
        }
    }

    /// Position of chain `name` in `t`.
    pub(crate) fn find(&self, t: &Table, name: &str) -> Option<usize> {
        match self.map.get(name) {
            Some(&i) if t.chains.get(i).is_some_and(|c| c.name == name) => Some(i),
            // Out of step (never expected): search.
            Some(_) => t.chains.iter().position(|c| c.name == name),
            None => None,
        }
    }

    /// Chain `name` of `t`.
    pub(crate) fn get<'t>(&self, t: &'t Table, name: &str) -> Option<&'t Chain> {
        self.find(t, name).and_then(|i| t.chains.get(i))
    }
}

fn user_chain_mut<'a>(
    t: &'a mut Table,
    idx: &ChainIndex,
    name: &str,
) -> Result<&'a mut Chain, ApplyErr> {
    idx.find(t, name)
        .and_then(|i| t.chains.get_mut(i))
        .ok_or_else(|| missing_chain(name))
}

fn check_jumps(t: &Table, idx: &ChainIndex, rules: &[Rule], fam: Family) -> Result<(), ApplyErr> {
    for r in rules {
        if let Target::Jump(c) | Target::Goto(c) = &r.target {
            match idx.get(t, c) {
                None => {
                    return Err(
                        if c.chars()
                            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '_')
                            && !c.is_empty()
                        {
                            ApplyErr::new(
                                format!("unsupported target or unknown chain `{c}`"),
                                "a supported target (ACCEPT, DROP, REJECT, LOG, ...) or an existing chain",
                            )
                        } else {
                            missing_chain(c)
                        },
                    )
                }
                Some(ch) if ch.policy.is_some() => {
                    return Err(ApplyErr::new(
                        format!("cannot jump to built-in chain `{c}`"),
                        "a user-defined chain",
                    ))
                }
                _ => {}
            }
        }
        let _ = fam;
    }
    Ok(())
}

/// Applies a command to one table (no whole-table validation).
/// The rules of `cmd` are moved into the table (the command keeps none); `idx`
/// indexes `t`'s chains and is kept in step.
pub(crate) fn apply_table(
    t: &mut Table,
    idx: &mut ChainIndex,
    fam: Family,
    cmd: &mut Command,
) -> Result<(), ApplyErr> {
    let r = apply_table_inner(t, idx, fam, cmd);
    match &cmd.op {
        Op::NewChain(name) if r.is_ok() => {
            idx.map
                .insert(name.clone(), t.chains.len().saturating_sub(1));
        }
        Op::DeleteChain(_) | Op::Rename(..) => idx.rebuild(t),
        _ => {}
    }
    r
}

fn apply_table_inner(
    t: &mut Table,
    idx: &ChainIndex,
    fam: Family,
    cmd: &mut Command,
) -> Result<(), ApplyErr> {
    match &cmd.op {
        Op::Skip => Ok(()),
        Op::Append(c) => {
            check_jumps(t, idx, &cmd.rules, fam)?;
            check_iface_hook(c, &cmd.rules)?;
            user_chain_mut(t, idx, c)?.rules.append(&mut cmd.rules);
            Ok(())
        }
        Op::Insert(c, n) => {
            check_jumps(t, idx, &cmd.rules, fam)?;
            check_iface_hook(c, &cmd.rules)?;
            let ch = user_chain_mut(t, idx, c)?;
            let pos = (*n as usize).saturating_sub(1);
            if pos > ch.rules.len() {
                return Err(ApplyErr::new(
                    "index of insertion too big",
                    format!(
                        "a position from 1 to {} (chain `{c}` has {} rules)",
                        ch.rules.len() + 1,
                        ch.rules.len()
                    ),
                ));
            }
            // iptables inserts each expanded rule at the same index, so they end up
            // in reverse order.
            for r in cmd.rules.drain(..) {
                ch.rules.insert(pos, r);
            }
            Ok(())
        }
        Op::Replace(c, n) => {
            check_jumps(t, idx, &cmd.rules, fam)?;
            check_iface_hook(c, &cmd.rules)?;
            let ch = user_chain_mut(t, idx, c)?;
            let pos = (*n as usize).saturating_sub(1);
            let Some(r) = cmd.rules.first() else {
                return Ok(());
            };
            match ch.rules.get_mut(pos) {
                Some(slot) => {
                    *slot = r.clone();
                    Ok(())
                }
                None => Err(ApplyErr::new(
                    "index of replacement too big",
                    rule_numbers(c, ch.rules.len()),
                )),
            }
        }
        Op::Delete(c, Some(n)) => {
            let ch = user_chain_mut(t, idx, c)?;
            let pos = (*n as usize).saturating_sub(1);
            if pos >= ch.rules.len() {
                return Err(ApplyErr::new(
                    "index of deletion too big",
                    rule_numbers(c, ch.rules.len()),
                ));
            }
            ch.rules.remove(pos);
            Ok(())
        }
        Op::Delete(c, None) => {
            let ch = user_chain_mut(t, idx, c)?;
            for r in &cmd.rules {
                let i = ch
                    .rules
                    .iter()
                    .position(|x| x.same_spec(r))
                    .ok_or_else(|| {
                        ApplyErr::new(
                            "bad rule (does a matching rule exist in that chain?)",
                            format!("the options of a rule in chain `{c}` (as `-S` prints them) or its number"),
                        )
                    })?;
                ch.rules.remove(i);
            }
            Ok(())
        }
        Op::NewChain(name) => {
            if name.is_empty() || name.len() > 28 {
                return Err(ApplyErr::new(
                    format!("invalid chain name `{name}` (1-28 characters)"),
                    "a chain name of 1 to 28 characters",
                ));
            }
            if name.starts_with('-') || name.starts_with('!') || name.contains(char::is_whitespace)
            {
                return Err(ApplyErr::new(
                    format!("invalid chain name `{name}`"),
                    "a chain name not starting with `-` or `!`, without spaces",
                ));
            }
            if reserved(name, fam) {
                return Err(ApplyErr::new(
                    format!("chain name `{name}` clashes with a target name"),
                    "a name that is not a target (ACCEPT, DROP, RETURN, REJECT, LOG, ...)",
                ));
            }
            if idx.find(t, name).is_some() {
                return Err(ApplyErr::new(
                    format!("chain `{name}` already exists"),
                    "a new chain name",
                ));
            }
            t.chains.push(Chain {
                name: name.clone(),
                policy: None,
                counters: Counters::default(),
                rules: Vec::new(),
            });
            Ok(())
        }
        Op::DeleteChain(Some(name)) => {
            let ch = t
                .chain(name)
                .ok_or_else(|| format!("chain `{name}` does not exist"))?;
            if ch.policy.is_some() {
                return Err(ApplyErr::new(
                    format!("cannot delete built-in chain `{name}`"),
                    "a user-defined chain",
                ));
            }
            if !ch.rules.is_empty() {
                return Err(ApplyErr::new(
                    format!("chain `{name}` is not empty"),
                    format!("an empty chain (flush it first with `-F {name}`)"),
                ));
            }
            if refs(t, name) > 0 {
                return Err(ApplyErr::new(
                    format!("chain `{name}` is still referenced"),
                    "a chain no rule jumps to (delete those rules first)",
                ));
            }
            t.chains.retain(|c| &c.name != name);
            Ok(())
        }
        Op::DeleteChain(None) => {
            let users: Vec<String> = t
                .chains
                .iter()
                .filter(|c| c.policy.is_none())
                .map(|c| c.name.clone())
                .collect();
            for u in &users {
                let referenced_from_builtin = t
                    .chains
                    .iter()
                    .filter(|c| c.policy.is_some())
                    .flat_map(|c| &c.rules)
                    .any(|r| matches!(&r.target, Target::Jump(x) | Target::Goto(x) if x == u));
                if referenced_from_builtin {
                    return Err(ApplyErr::new(
                        format!("chain `{u}` is still referenced"),
                        "user chains no built-in chain jumps to (flush those first)",
                    ));
                }
            }
            let nonempty = t
                .chains
                .iter()
                .find(|c| c.policy.is_none() && !c.rules.is_empty());
            if let Some(c) = nonempty {
                return Err(ApplyErr::new(
                    format!("chain `{}` is not empty", c.name),
                    "empty user chains (flush them first with `-F`)",
                ));
            }
            t.chains.retain(|c| c.policy.is_some());
            Ok(())
        }
        Op::Rename(a, b) => {
            if t.chain(a).is_none_or(|c| c.policy.is_some()) {
                return Err(ApplyErr::new(
                    format!("user chain `{a}` does not exist"),
                    "an existing user-defined chain",
                ));
            }
            if t.chain(b).is_some() {
                return Err(ApplyErr::new(
                    format!("chain `{b}` already exists"),
                    "a new chain name",
                ));
            }
            if b.is_empty() || b.len() > 28 || reserved(b, fam) || b.starts_with('-') {
                return Err(ApplyErr::new(
                    format!("invalid chain name `{b}`"),
                    "a chain name of 1 to 28 characters, not a target name",
                ));
            }
            for c in &mut t.chains {
                if &c.name == a {
                    c.name = b.clone();
                }
                for r in &mut c.rules {
                    if let Target::Jump(x) | Target::Goto(x) = &mut r.target {
                        if x == a {
                            *x = b.clone();
                        }
                    }
                }
            }
            Ok(())
        }
        Op::Policy(c, p) => {
            let ch = t
                .chain_mut(c)
                .ok_or_else(|| format!("chain `{c}` does not exist"))?;
            if ch.policy.is_none() {
                return Err(ApplyErr::new(
                    format!("cannot set policy on user-defined chain `{c}`"),
                    "a built-in chain (INPUT, FORWARD, OUTPUT, PREROUTING or POSTROUTING)",
                ));
            }
            ch.policy = Some(*p);
            Ok(())
        }
        Op::Flush(c) => {
            match c {
                Some(c) => user_chain_mut(t, idx, c)?.rules.clear(),
                None => t.chains.iter_mut().for_each(|c| c.rules.clear()),
            }
            Ok(())
        }
        Op::Zero(c) => {
            let zero = |ch: &mut Chain| {
                ch.counters = Counters::default();
                ch.rules
                    .iter_mut()
                    .for_each(|r| r.counters = Counters::default());
            };
            match c {
                Some(c) => zero(user_chain_mut(t, idx, c)?),
                None => t.chains.iter_mut().for_each(zero),
            }
            Ok(())
        }
    }
}

/// iptables refuses `-i` on output-side built-in chains and `-o` on input-side ones.
fn check_iface_hook(chain: &str, rules: &[Rule]) -> Result<(), ApplyErr> {
    let Some(h) = Hook::from_chain_name(chain) else {
        return Ok(());
    };
    for r in rules {
        if r.ip.in_iface.is_some() && matches!(h, Hook::Output | Hook::PostRouting) {
            return Err(ApplyErr::new(
                format!("can't use -i with {chain}"),
                format!("-o (packets in {chain} have no input interface)"),
            ));
        }
        if r.ip.out_iface.is_some() && matches!(h, Hook::PreRouting | Hook::Input) {
            return Err(ApplyErr::new(
                format!("can't use -o with {chain}"),
                format!("-i (packets in {chain} have no output interface yet)"),
            ));
        }
    }
    Ok(())
}

fn refs(t: &Table, name: &str) -> usize {
    t.chains
        .iter()
        .flat_map(|c| &c.rules)
        .filter(|r| matches!(&r.target, Target::Jump(x) | Target::Goto(x) if x == name))
        .count()
}

fn hook_bit(h: Hook) -> u8 {
    1 << h.index()
}

fn hooks_str(mask: u8) -> String {
    Hook::ALL
        .iter()
        .filter(|h| mask & hook_bit(**h) != 0)
        .map(|h| h.chain_name())
        .collect::<Vec<_>>()
        .join("/")
}

/// (allowed table, allowed hooks) for a target.
fn target_limits(t: &Target) -> (Option<TableId>, u8, &'static str) {
    use Hook::*;
    let b = |hs: &[Hook]| hs.iter().fold(0u8, |m, h| m | hook_bit(*h));
    match t {
        Target::Reject(_) => (
            Some(TableId::Filter),
            b(&[Input, Forward, Output]),
            "REJECT",
        ),
        Target::Masquerade { .. } => (Some(TableId::Nat), b(&[PostRouting]), "MASQUERADE"),
        Target::Snat { .. } => (Some(TableId::Nat), b(&[PostRouting, Input]), "SNAT"),
        Target::Dnat { .. } => (Some(TableId::Nat), b(&[PreRouting, Output]), "DNAT"),
        Target::Redirect { .. } => (Some(TableId::Nat), b(&[PreRouting, Output]), "REDIRECT"),
        Target::Netmap(_) => (
            Some(TableId::Nat),
            b(&[PreRouting, Input, Output, PostRouting]),
            "NETMAP",
        ),
        Target::Ct(_) => (Some(TableId::Raw), 0x1f, "CT"),
        Target::Notrack => (Some(TableId::Raw), 0x1f, "NOTRACK"),
        Target::Tcpmss(palisade_model::targets::TcpmssTarget::ClampToPmtu) => (
            None,
            b(&[Forward, Output, PostRouting]),
            "TCPMSS --clamp-mss-to-pmtu",
        ),
        _ => (None, 0x1f, ""),
    }
}

fn match_limits(m: &Match) -> (Option<&'static [TableId]>, u8, &'static str) {
    use Hook::*;
    let b = |hs: &[Hook]| hs.iter().fold(0u8, |m, h| m | hook_bit(*h));
    match m {
        Match::Rpfilter(_) => (
            Some(&[TableId::Raw, TableId::Mangle]),
            b(&[PreRouting]),
            "rpfilter",
        ),
        Match::Owner(_) => (None, b(&[Output, PostRouting]), "owner"),
        Match::Mac(_) => (None, b(&[PreRouting, Input, Forward]), "mac"),
        Match::Addrtype(a) if a.limit_iface_in => (
            None,
            b(&[PreRouting, Input, Forward]),
            "addrtype --limit-iface-in",
        ),
        Match::Addrtype(a) if a.limit_iface_out => (
            None,
            b(&[Output, PostRouting, Forward]),
            "addrtype --limit-iface-out",
        ),
        _ => (None, 0x1f, ""),
    }
}

/// The chain closing a jump loop reachable from a built-in chain, if any.
fn find_loop(t: &Table, edges: &[Vec<usize>]) -> Option<String> {
    let n = t.chains.len();
    // Loops among chains reachable from a hook: depth-first search with colours
    // (1 = on the current path), iterative so deep jump chains cannot overflow the
    // stack; the first back edge names the chain closing the loop.
    let mut colour = vec![0u8; n];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if t.chains[root].policy.is_none() || colour[root] != 0 {
            continue;
        }
        colour[root] = 1;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (i, k) = *top;
            let Some(&j) = edges[i].get(k) else {
                colour[i] = 2;
                stack.pop();
                continue;
            };
            top.1 += 1;
            match colour[j] {
                1 => {
                    return Some(t.chains[j].name.clone());
                }
                0 => {
                    colour[j] = 1;
                    stack.push((j, 0));
                }
                _ => {}
            }
        }
    }
    None
}

fn loop_err(chain: &str) -> ApplyErr {
    ApplyErr::new(
        format!("jump loop detected through chain `{chain}`"),
        "jumps that never lead back to a chain already on the path",
    )
}

/// Jump edges by chain position, in rule order.
fn jump_edges(t: &Table, index: &ChainIndex) -> Vec<Vec<usize>> {
    t.chains
        .iter()
        .map(|c| {
            c.rules
                .iter()
                .filter_map(|r| match &r.target {
                    Target::Jump(x) | Target::Goto(x) => index.find(t, x),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// The hooks each chain is reached from (bits by chain position).
fn hook_masks(t: &Table, index: &ChainIndex) -> Vec<u8> {
    masks_from_edges(t, &jump_edges(t, index))
}

/// Hook reachability: propagate hook bits along jumps with a worklist (a mask only
/// grows, so each chain is revisited at most once per hook bit).
fn masks_from_edges(t: &Table, edges: &[Vec<usize>]) -> Vec<u8> {
    let mut mask = vec![0u8; t.chains.len()];
    let mut work = Vec::new();
    for (i, c) in t.chains.iter().enumerate() {
        if let Some(h) = c.hook() {
            mask[i] = hook_bit(h);
            work.push(i);
        }
    }
    while let Some(i) = work.pop() {
        for &j in &edges[i] {
            if mask[j] | mask[i] != mask[j] {
                mask[j] |= mask[i];
                work.push(j);
            }
        }
    }
    mask
}

/// The problems of rule `r` in chain `chain` of table `table`, reached from the hooks
/// in `mask`: targets and matches restricted to some tables or hooks, protocol
/// matches without their `-p`, DROP in nat.
fn rule_problems(
    table: TableId,
    chain: &str,
    mask: u8,
    r: &Rule,
    out: &mut Vec<(Option<Span>, ApplyErr)>,
) {
    let (tab, hooks, name) = target_limits(&r.target);
    if let Some(tab) = tab {
        if tab != table {
            out.push((
                r.span,
                ApplyErr::new(
                    format!("target `{name}` is only valid in the {} table", tab.name()),
                    format!("this rule in a `*{}` table", tab.name()),
                ),
            ));
            return;
        }
    }
    if mask & !hooks != 0 {
        out.push((
            r.span,
            ApplyErr::new(
                format!(
                    "target `{name}` is only valid in {} (chain `{}` is reached from {})",
                    hooks_str(hooks),
                    chain,
                    hooks_str(mask)
                ),
                format!("a chain reached only from {}", hooks_str(hooks)),
            ),
        ));
    }
    for m in &r.matches {
        let (tabs, hooks, name) = match_limits(m);
        if let Some(tabs) = tabs {
            if !tabs.contains(&table) {
                let names: Vec<&str> = tabs.iter().map(|x| x.name()).collect();
                out.push((
                    r.span,
                    ApplyErr::new(
                        format!(
                            "match `{name}` is only valid in the {} table",
                            names.join("/")
                        ),
                        format!("this rule in a `*{}` table", names.join("` or `*")),
                    ),
                ));
                continue;
            }
        }
        if mask & !hooks != 0 {
            out.push((
                r.span,
                ApplyErr::new(
                    format!(
                        "match `{name}` is only valid in {} (chain `{}` is reached from {})",
                        hooks_str(hooks),
                        chain,
                        hooks_str(mask)
                    ),
                    format!("a chain reached only from {}", hooks_str(hooks)),
                ),
            ));
        }
        let need = match m {
            Match::Tcp(_) => Some(6),
            Match::Udp(_) => Some(17),
            Match::Icmp(_) => Some(1),
            Match::Icmp6(_) => Some(58),
            _ => None,
        };
        if let Some(p) = need {
            if r.ip.proto != p || r.ip.inv_proto {
                out.push((
                    r.span,
                    ApplyErr::new(
                        format!(
                            "match `{}` is only valid for `-p {}`",
                            m.name(),
                            crate::names::proto_name(p)
                        ),
                        format!("`-p {}` before it", crate::names::proto_name(p)),
                    ),
                ));
            }
        }
        if let Match::Recent(rc) = m {
            let _ = rc.cmd == RecentCmd::Set;
        }
    }
    // DROP is not a valid verdict in nat chains (nf_tables refuses it).
    if table == TableId::Nat && r.target == Target::Drop {
        out.push((
            r.span,
            ApplyErr::new(
                "DROP is not allowed in the nat table",
                "filtering in the filter table (nat chains only translate)",
            ),
        ));
    }
}

/// Whole-table checks; returns (position, message) of each problem.
pub(crate) fn validate(t: &Table, fam: Family) -> Vec<(Option<Span>, ApplyErr)> {
    let mut out = Vec::new();
    let index = ChainIndex::new(t);
    let edges = jump_edges(t, &index);
    let mask = masks_from_edges(t, &edges);
    let lp = find_loop(t, &edges);
    if let Some(c) = lp {
        out.push((None, loop_err(&c)));
    }
    for (i, c) in t.chains.iter().enumerate() {
        for r in &c.rules {
            rule_problems(t.id, &c.name, mask[i], r, &mut out);
        }
    }
    let _ = (fam, Policy::Accept);
    out
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err, err4};
    use palisade_model::{Family, TableId};

    /// Applying one command the plain way: copy the table, apply, check it whole.
    fn apply_reference(
        rs: &mut palisade_model::Ruleset,
        cmd: &mut super::Command,
    ) -> Result<(), super::ApplyErr> {
        let Some(t) = rs.table(cmd.table) else {
            // Creating a table is done the plain way by `apply` itself.
            return super::apply(rs, cmd, &mut super::Session::default());
        };
        let mut t = t.clone();
        let mut idx = super::ChainIndex::new(&t);
        super::apply_table(&mut t, &mut idx, rs.family, cmd)?;
        if let Some((_, e)) = super::validate(&t, rs.family).into_iter().next() {
            return Err(e);
        }
        *rs.table_mut(cmd.table) = t;
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 1000, .. Default::default() })]

        /// A script session (cached chain index and hooks, in-place changes with
        /// undo) accepts and refuses exactly what copying and checking the whole
        /// table after every command does, and builds the same rulesets.
        #[test]
        fn session_agrees_with_whole_table_checks(cmds in proptest::collection::vec(0usize..10_000, 1..40)) {
            use crate::cmd::{parse_command, Mode};
            let chains = ["INPUT", "OUTPUT", "PREROUTING", "POSTROUTING", "a", "b", "c"];
            let targets = ["a", "b", "c", "ACCEPT", "MASQUERADE", "DNAT --to-destination 1.2.3.4", "REJECT", "LOG", "RETURN"];
            let mut rs1 = palisade_model::Ruleset::new(Family::V4);
            let mut rs2 = rs1.clone();
            let mut session = super::Session::default();
            for n in cmds {
                let table = if n % 2 == 0 { "nat" } else { "filter" };
                let ch = chains[(n / 2) % chains.len()];
                let tg = targets[(n / 14) % targets.len()];
                let line = match (n / 126) % 9 {
                    0 => format!("-t {table} -N {ch}"),
                    1 => format!("-t {table} -I {ch} -s 1.1.1.1,2.2.2.2 -j {tg}"),
                    2 => format!("-t {table} -D {ch} 1"),
                    3 => format!("-t {table} -F {ch}"),
                    4 => format!("-t {table} -X {ch}"),
                    5 => format!("-t {table} -R {ch} 1 -j {tg}"),
                    6 => format!("-t {table} -E {ch} c"),
                    _ => format!("-t {table} -A {ch} -j {tg}"),
                };
                let toks = crate::lex::restore_words(&line).unwrap();
                let Ok(mut c1) = parse_command(&toks, Family::V4, Mode::Script, 1) else { continue };
                let mut c2 = c1.clone();
                let r1 = super::apply(&mut rs1, &mut c1, &mut session);
                let r2 = apply_reference(&mut rs2, &mut c2);
                proptest::prop_assert_eq!(r1.is_ok(), r2.is_ok(), "{}: {:?} vs {:?}", line, r1, r2);
                proptest::prop_assert_eq!(&rs1, &rs2, "{}", line);
            }
        }
    }

    /// Many chains, each jumping to the next: linear work, no deep recursion.
    #[test]
    fn deep_jump_chains() {
        let n = 20_000;
        let mut src = String::from("*filter\n");
        for i in 0..n {
            src.push_str(&format!(":c{i} - [0:0]\n"));
        }
        src.push_str("-A INPUT -j c0\n");
        for i in 0..n - 1 {
            src.push_str(&format!("-A c{i} -j c{}\n", i + 1));
        }
        let ok = format!("{src}-A c{} -j REJECT\nCOMMIT\n", n - 1);
        assert!(crate::parse_restore(&ok, "f", Family::V4).is_ok());
        let looped = format!("{src}-A c{} -j c0\nCOMMIT\n", n - 1);
        let e = crate::parse_restore(&looped, "f", Family::V4).unwrap_err();
        assert!(e[0].message.contains("loop"), "{e:?}");
    }

    #[test]
    fn hooks_and_tables() {
        assert!(err4("-A INPUT -i eth0 -o eth1 -j ACCEPT")
            .message
            .contains("-o"));
        assert!(err(Family::V4, TableId::Mangle, "-A INPUT -j REJECT")
            .message
            .contains("filter"));
        crate::testutil::rt4(
            "-A USR -j REJECT\n-A INPUT -j USR",
            "-A INPUT -j USR\n-A USR -j REJECT --reject-with icmp-port-unreachable",
        );
        let e = err(
            Family::V4,
            TableId::Nat,
            "-A USR -j MASQUERADE\n-A PREROUTING -j USR",
        );
        assert!(e.message.contains("POSTROUTING"), "{e}");
        let e = err(
            Family::V4,
            TableId::Filter,
            "-A USR -j TCP\n-A TCP -j USR\n-A INPUT -j USR",
        );
        assert!(e.message.contains("loop"), "{e}");
        assert!(err4("-A INPUT -j NOSUCH").message.contains("NOSUCH"));
        assert!(err4("-A INPUT -m tcp --dport 1").message.contains("-p tcp"));
    }
}

//! iptables-restore input: `*table`, `:CHAIN POLICY [p:b]`, command lines (optionally
//! prefixed by `[p:b]`), `COMMIT`, and `#` comments. Counters are kept as
//! `iptables-restore --counters` keeps them: `[p:b]` of built-in chains (policy
//! counters) and of rules, and `-c PACKETS BYTES`; user chains have none. Without `--noflush` each `*table` block replaces that table, so the
//! result only depends on the file. A table is checked as a whole at its COMMIT, as
//! the kernel does when the transaction is committed.

use palisade_model::{Counters, Family, Hook, Policy, Ruleset, Table, TableId};

use crate::check::{self, ChainIndex};
use crate::cmd::{parse_command, Mode, Op};
use crate::diag::{Diagnostic, LineErr};
use crate::lex::{ends_in_open_quote, restore_words, Tok};

struct Open {
    id: TableId,
    table: Table,
    /// A table without any chain line or command is never created by nf_tables.
    touched: bool,
    line: u32,
    word_col: u32,
    /// Built-in chains this block has instantiated (a `:CHAIN` line, or a rule,
    /// policy or flush naming it); nf_tables refuses to zero any other.
    base: Vec<String>,
    index: ChainIndex,
}

fn counters(s: &str) -> Option<Counters> {
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    let (p, b) = inner.split_once(':')?;
    Some(Counters {
        packets: p.parse().ok()?,
        bytes: b.parse().ok()?,
    })
}

/// Parses iptables-restore text into a ruleset of `family`.
pub fn parse_restore(src: &str, file: &str, family: Family) -> Result<Ruleset, Vec<Diagnostic>> {
    let mut rs = Ruleset::new(family);
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut open: Option<Open> = None;
    let mut last_line = 0u32;
    let all: Vec<&str> = src.lines().collect();
    let mut skip = 0usize;
    for (i, raw0) in all.iter().enumerate() {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        // iptables-save prints a string holding a newline across two lines; the
        // quote is then closed at the start of the next line. Join them so saved
        // text reads back (a quote left open otherwise just takes the newline). A
        // rule may hold several such strings, so the join repeats.
        let mut joined: Option<String> = None;
        while let Some(next) = all.get(i + 1 + skip) {
            let cur = joined.as_deref().unwrap_or(raw0);
            if !(next.starts_with('"') && cur.contains('"') && ends_in_open_quote(cur)) {
                break;
            }
            let mut j = joined.take().unwrap_or_else(|| raw0.to_string());
            j.push('\n');
            j.push_str(next);
            joined = Some(j);
            skip += 1;
        }
        let raw: &str = joined.as_deref().unwrap_or(raw0);
        last_line = line;
        let mut push = |e: LineErr| diags.push(e.at(file, line));
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let lead = (raw.len() - trimmed.len()) as u32;
        if let Some(name) = trimmed.strip_prefix('*') {
            let name = name.trim_end();
            if let Some(o) = &open {
                push(
                    LineErr::new(
                        lead + 1,
                        trimmed,
                        format!(
                            "table `{}` (line {}) was not committed",
                            o.id.name(),
                            o.line
                        ),
                    )
                    .expect("COMMIT before a new table"),
                );
            }
            match TableId::from_name(name) {
                Some(id) => {
                    let table = Table::new(id);
                    open = Some(Open {
                        id,
                        index: ChainIndex::new(&table),
                        table,
                        touched: false,
                        line,
                        base: Vec::new(),
                        word_col: lead + 2,
                    });
                }
                None => {
                    push(
                        LineErr::new(lead + 2, name, format!("table `{name}` does not exist"))
                            .expect("raw, mangle, nat, filter or security"),
                    );
                    open = None;
                }
            }
            continue;
        }
        if trimmed.trim_end() == "COMMIT" {
            match open.take() {
                None => push(
                    LineErr::new(lead + 1, "COMMIT", "COMMIT without a table")
                        .expect("a `*table` line first"),
                ),
                Some(o) => {
                    let problems = check::validate(&o.table, family);
                    if problems.is_empty() {
                        rs.tables.retain(|t| t.id != o.id);
                        if o.touched {
                            rs.tables.push(o.table);
                        }
                    } else {
                        for (span, e) in problems {
                            let (l, c) = span.map(|s| (s.line, s.col)).unwrap_or((line, lead + 1));
                            diags.push(e.at(c, "").at(file, l));
                        }
                    }
                }
            }
            continue;
        }
        let Some(o) = open.as_mut() else {
            push(
                LineErr::new(
                    lead + 1,
                    trimmed.split_whitespace().next().unwrap_or(""),
                    "rule or chain outside of a table",
                )
                .expect("a `*table` line first"),
            );
            continue;
        };
        if let Some(rest) = trimmed.strip_prefix(':') {
            o.touched = true;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let name = words.first().copied().unwrap_or("");
            let pol = words.get(1).copied().unwrap_or("");
            let col_pol = raw.find(pol).map(|x| x as u32 + 1).unwrap_or(lead + 1);
            if name.is_empty() {
                push(
                    LineErr::new(lead + 1, trimmed, "missing chain name")
                        .expect(":CHAIN POLICY [PACKETS:BYTES]"),
                );
                continue;
            }
            let cnt = match words.get(2) {
                Some(c) => match counters(c) {
                    Some(c) => c,
                    None => {
                        let col = raw.find(c).map(|x| x as u32 + 1).unwrap_or(1);
                        push(LineErr::new(col, c, "bad counters").expect("[PACKETS:BYTES]"));
                        continue;
                    }
                },
                None => Counters::default(),
            };
            let found = o.index.find(&o.table, name);
            if let Some(ch) = found
                .and_then(|i| o.table.chains.get_mut(i))
                .filter(|c| c.policy.is_some())
            {
                if !o.base.iter().any(|b| b == name) {
                    o.base.push(name.to_string());
                }
                ch.counters = cnt;
                match pol {
                    "ACCEPT" => ch.policy = Some(Policy::Accept),
                    "DROP" => ch.policy = Some(Policy::Drop),
                    _ => {
                        push(
                            LineErr::new(
                                col_pol,
                                pol,
                                format!("bad policy `{pol}` for built-in chain `{name}`"),
                            )
                            .expect("ACCEPT or DROP"),
                        );
                        continue;
                    }
                }
            } else {
                // A policy on a user chain is ignored, as iptables-restore does.
                if let Some(ch) = found.and_then(|i| o.table.chains.get_mut(i)) {
                    // Declaring an existing user chain again empties it (iptables-restore flushes it).
                    ch.rules.clear();
                    continue;
                }
                let mut cmd = crate::cmd::Command {
                    table: o.id,
                    op: Op::NewChain(name.to_string()),
                    rules: Vec::new(),
                    at: Tok::new(name, lead + 2),
                };
                if let Err(m) = check::apply_table(&mut o.table, &mut o.index, family, &mut cmd) {
                    push(m.at(lead + 2, name));
                }
            }
            continue;
        }
        // A command line, maybe with leading [p:b].
        let mut toks = match restore_words(raw) {
            Ok(t) => t,
            Err(e) => {
                push(e);
                continue;
            }
        };
        let mut pre: Option<Counters> = None;
        if let Some(first) = toks.first() {
            if first.text.starts_with('[') {
                match counters(&first.text) {
                    Some(c) => {
                        pre = Some(c);
                        toks.remove(0);
                    }
                    None => {
                        push(
                            LineErr::new(first.col, &first.text, "bad counters")
                                .expect("[PACKETS:BYTES]"),
                        );
                        continue;
                    }
                }
            }
        }
        match parse_command(&toks, family, Mode::Restore, line) {
            Err(es) => es.into_iter().for_each(&mut push),
            Ok(mut cmd) => {
                cmd.table = o.id;
                o.touched = true;
                if let Some(c) = pre {
                    for r in &mut cmd.rules {
                        r.counters = c;
                    }
                }
                // `-X` of a built-in chain is silently ignored by iptables-restore.
                if matches!(&cmd.op, Op::DeleteChain(Some(c)) if o.index.get(&o.table, c).is_some_and(|c| c.policy.is_some()))
                {
                    continue;
                }
                let builtin = |c: &str| {
                    Hook::from_chain_name(c).is_some()
                        && o.index.get(&o.table, c).is_some_and(|c| c.policy.is_some())
                };
                match &cmd.op {
                    Op::Zero(Some(c)) if builtin(c) && !o.base.contains(c) => {
                        push(LineErr::new(
                            cmd.at.col,
                            &cmd.at.text,
                            format!("built-in chain `{c}` does not exist yet: no chain line, rule, policy or flush has created it"),
                        ).expect(format!("a `:{c} ACCEPT [0:0]` line before")));
                        continue;
                    }
                    Op::Append(c) | Op::Insert(c, _) | Op::Policy(c, _) | Op::Flush(Some(c))
                        if builtin(c) && !o.base.contains(c) =>
                    {
                        o.base.push(c.clone());
                    }
                    _ => {}
                }
                if let Err(m) = check::apply_table(&mut o.table, &mut o.index, family, &mut cmd) {
                    push(m.at(cmd.at.col, &cmd.at.text));
                }
            }
        }
    }
    if let Some(o) = open {
        diags.push(
            LineErr::new(
                o.word_col,
                o.id.name(),
                format!("table `{}` is not committed", o.id.name()),
            )
            .expect("COMMIT")
            .at(file, last_line.max(o.line)),
        );
    }
    if diags.is_empty() {
        Ok(rs)
    } else {
        Err(diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{save, SaveOptions};

    #[test]
    fn tables_counters_and_order() {
        let src = "# comment\n*filter\n:zeta - [0:0]\n:Alpha - [0:0]\n:INPUT ACCEPT [3:4]\n[5:6] -A zeta -j ACCEPT\n-A Alpha -c 7 8 -j ACCEPT\nCOMMIT\n*raw\nCOMMIT\n";
        let rs = parse_restore(src, "f", Family::V4).unwrap();
        let out = save(
            &rs,
            &SaveOptions {
                counters: true,
                header: None,
            },
        );
        assert_eq!(out, "*filter\n:INPUT ACCEPT [3:4]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:Alpha - [0:0]\n:zeta - [0:0]\n[7:8] -A Alpha -j ACCEPT\n[5:6] -A zeta -j ACCEPT\nCOMMIT\n");
    }

    #[test]
    fn collects_errors() {
        let src =
            "*filter\n-A INPUT -p tcp --dprot 22\n-A INPUT -m foo\n:INPUT BAD\n-A NOPE -j ACCEPT\n";
        let e = parse_restore(src, "r.v4", Family::V4).unwrap_err();
        assert_eq!(e.len(), 5, "{e:?}");
        assert_eq!(
            (e[0].line, e[0].col, e[0].word.as_str()),
            (2, 17, "--dprot")
        );
        assert_eq!((e[1].line, e[1].col, e[1].word.as_str()), (3, 13, "foo"));
        assert_eq!(e[2].line, 4);
        assert_eq!(e[3].line, 5);
        assert!(e[4].message.contains("not committed"));
        assert!(e[0]
            .to_string()
            .starts_with("r.v4:2:17: error: unknown option `--dprot`"));
    }

    #[test]
    fn newline_in_quoted_string() {
        let src = "*filter\n-A INPUT -m comment --comment \"abc -j ACCEPT\nCOMMIT\n";
        let rs = parse_restore(src, "f", Family::V4).unwrap();
        let out = save(&rs, &SaveOptions::default());
        assert!(
            out.contains("-A INPUT -m comment --comment \"abc -j ACCEPT\n\"\nCOMMIT"),
            "{out}"
        );
        let again = parse_restore(&out, "f", Family::V4).unwrap();
        assert_eq!(save(&again, &SaveOptions::default()), out);
    }

    /// Two strings ending in a newline in one rule: the saved rule spans three
    /// lines, and reads back (fuzz: save_roundtrip).
    #[test]
    fn two_newline_strings_in_one_rule() {
        let src =
            "*filter\n-A INPUT -j LOG --log-prefix \"x\n\"  -m comment --comment \"y\nCOMMIT\n";
        let rs = parse_restore(src, "f", Family::V4).unwrap();
        let out = save(&rs, &SaveOptions::default());
        assert!(
            out.contains(
                "-A INPUT -m comment --comment \"y\n\" -j LOG --log-prefix \"x\n\"\nCOMMIT"
            ),
            "{out}"
        );
        let again = parse_restore(&out, "f", Family::V4).unwrap();
        assert_eq!(save(&again, &SaveOptions::default()), out);
    }

    #[test]
    fn zero_needs_an_instantiated_base_chain() {
        for (src, ok) in [
            ("*filter\n:x - [0:0]\n-Z OUTPUT\nCOMMIT\n", false),
            ("*filter\n-A INPUT -j ACCEPT\n-Z OUTPUT\nCOMMIT\n", false),
            (
                "*filter\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*filter\n-Z OUTPUT\nCOMMIT\n",
                false,
            ),
            ("*filter\n:OUTPUT ACCEPT [0:0]\n-Z OUTPUT\nCOMMIT\n", true),
            ("*filter\n-I OUTPUT -j DROP\n-Z OUTPUT\nCOMMIT\n", true),
            ("*nat\n-F OUTPUT\n-Z OUTPUT\nCOMMIT\n", true),
            ("*filter\n:x - [0:0]\n-Z\nCOMMIT\n", true),
        ] {
            let r = parse_restore(src, "f", Family::V6);
            assert_eq!(r.is_ok(), ok, "{src}: {r:?}");
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        for s in [
            "*",
            "*filter\n:",
            "*filter\n: -",
            "[",
            "*filter\n[1:2",
            "*filter\n-A",
            "*filter\n-A INPUT -p",
            "*filter\n\"",
            "*filter\n-A INPUT -m tcp -p tcp --tcp-flags",
            "COMMIT\nCOMMIT",
            "*nat\n-A POSTROUTING -j SNAT --to [",
            "*filter\n-A INPUT -j LOG --log-prefix \"\u{e9}\u{e9}\"",
        ] {
            let _ = parse_restore(s, "f", Family::V4);
            let _ = parse_restore(s, "f", Family::V6);
        }
    }
}

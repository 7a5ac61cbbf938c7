//! Scripts of `iptables …` / `ip6tables …` command lines, as how-to guides write them,
//! applied in order to an initially empty kernel state. Shell quoting applies (shlex).
//! Each line is a shell list: simple commands joined by `;`, `&`, `|`, `&&` and `||`
//! run as `sh -ec` would run them, redirections (`2>/dev/null`) are dropped and `#`
//! starts a comment. Simple commands are recognised by their first word after an
//! optional prompt (`# `, `$ `) and `sudo`/`command`: `iptables`/`ip6tables` (also the
//! `-legacy`/`-nft` variants); a `# iptables …` line counts as a root prompt only when
//! an option follows (otherwise it is a shell comment). `NAME=value` assignments are
//! remembered and `$NAME`/`${NAME}` expanded (so `$IPT -A …` works); an unknown
//! variable is left as it is and refused where it is used. Several commands glued on
//! one line without an operator (copied from a web page) are one command to the
//! shell, and iptables refuses the second `iptables` word, so Palisade does too.
//! Everything else — prose, other commands — is ignored. A trailing backslash
//! continues a command on the next line.

use palisade_model::{Family, Ruleset};

use crate::check::{self, ApplyErr};
use crate::cmd::{parse_command, Mode, Op};
use crate::diag::Diagnostic;
use crate::lex::{shell_words, Tok};
use palisade_model::{Hook, TableId};
use std::collections::{HashMap, HashSet};

fn family_of(word: &str) -> Option<Family> {
    match word {
        "iptables" | "iptables-legacy" | "iptables-nft" | "/sbin/iptables"
        | "/usr/sbin/iptables" => Some(Family::V4),
        "ip6tables"
        | "ip6tables-legacy"
        | "ip6tables-nft"
        | "/sbin/ip6tables"
        | "/usr/sbin/ip6tables" => Some(Family::V6),
        _ => None,
    }
}

/// Strips a shell prompt and `sudo`; returns the remaining text and its byte offset.
fn strip_prompt(line: &str) -> (&str, usize) {
    let mut s = line.trim_start();
    // (`$` without a space is a variable, `$IPT -A …`, not a prompt.)
    for p in ["# ", "$ ", "#"] {
        if let Some(r) = s.strip_prefix(p) {
            let r2 = r.trim_start();
            // `# iptables -A …` is a root prompt; `# iptables command script` is a
            // comment: the word after the program must be an option.
            let mut w = r2.split_whitespace();
            let mut first = w.next().unwrap_or("");
            let mut second = w.next().unwrap_or("");
            if matches!(first, "sudo" | "command") {
                first = second;
                second = w.next().unwrap_or("");
            }
            if p.starts_with('$') || (family_of(first).is_some() && second.starts_with('-')) {
                s = r2;
            }
            break;
        }
    }
    while let Some(r) = s
        .strip_prefix("sudo ")
        .or_else(|| s.strip_prefix("command "))
    {
        s = r.trim_start();
    }
    (s, line.len() - s.len())
}

/// How a command of a shell list is joined to the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Join {
    /// First of the line, or after `;`, `&` or `|`: always runs.
    Seq,
    /// After `&&`: runs when the previous command succeeded.
    And,
    /// After `||`: runs when the previous command failed.
    Or,
}

/// One simple command of a shell line: its text (same length and byte offsets as
/// the line, redirections blanked out) and how it joins the previous one.
struct Simple {
    join: Join,
    text: String,
}

/// Splits a shell line into simple commands at unquoted `;`, `&`, `|`, `&&` and
/// `||`, as `sh -c` would run them, and blanks out redirections (`2>/dev/null`,
/// `>> log`, `2>&1`) so they are not taken for iptables arguments. An unquoted `#`
/// at a word start comments out the rest of the line. Every returned text has the
/// full line's length, so byte offsets and columns stay those of the line.
fn shell_list(line: &str) -> Vec<Simple> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut cur = vec![b' '; b.len()];
    let mut join = Join::Seq;
    let mut i = 0;
    let mut word_start = true;
    let flush = |cur: &mut Vec<u8>, join: Join, out: &mut Vec<Simple>| {
        let text = String::from_utf8_lossy(cur).into_owned();
        out.push(Simple { join, text });
        cur.iter_mut().for_each(|c| *c = b' ');
    };
    // Copies one shell word starting at `i` (quotes included) into `dst` (when
    // given); returns the index after it.
    let word_end = |mut i: usize, mut dst: Option<&mut Vec<u8>>| -> usize {
        let mut q: Option<u8> = None;
        while i < b.len() {
            let c = b[i];
            match q {
                Some(x) if c == x => q = None,
                Some(b'"') if c == b'\\' && i + 1 < b.len() => {
                    if let Some(d) = dst.as_deref_mut() {
                        d[i] = c;
                    }
                    i += 1;
                }
                Some(_) => {}
                None => match c {
                    b'\'' | b'"' => q = Some(c),
                    b'\\' if i + 1 < b.len() => {
                        if let Some(d) = dst.as_deref_mut() {
                            d[i] = c;
                        }
                        i += 1;
                    }
                    b' ' | b'\t' | b';' | b'&' | b'|' | b'<' | b'>' => break,
                    _ => {}
                },
            }
            if let Some(d) = dst.as_deref_mut() {
                d[i] = b[i];
            }
            i += 1;
        }
        i
    };
    while i < b.len() {
        let c = b[i];
        // A redirection: [digits] then `<`, `>`, `>>`, `>&N`, `&>`, and its target.
        let digits = if word_start {
            b[i..].iter().take_while(|c| c.is_ascii_digit()).count()
        } else {
            0
        };
        let op_at = i + digits;
        let is_redir = matches!(b.get(op_at), Some(b'<' | b'>'))
            || (digits == 0 && b.get(i) == Some(&b'&') && b.get(i + 1) == Some(&b'>'));
        if is_redir {
            let mut j = op_at;
            while j < b.len() && matches!(b[j], b'<' | b'>' | b'&') {
                j += 1;
            }
            // `>&2`, `2>&-`: the target is glued.
            if b[j - 1] == b'&' {
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'-') {
                    j += 1;
                }
            } else {
                while j < b.len() && matches!(b[j], b' ' | b'\t') {
                    j += 1;
                }
                j = word_end(j, None);
            }
            i = j;
            word_start = false;
            continue;
        }
        match c {
            b' ' | b'\t' => {
                i += 1;
                word_start = true;
            }
            b'#' if word_start => break,
            b';' | b'&' | b'|' => {
                let two = b.get(i + 1) == Some(&c) && c != b';';
                flush(&mut cur, join, &mut out);
                join = match (c, two) {
                    (b'&', true) => Join::And,
                    (b'|', true) => Join::Or,
                    _ => Join::Seq,
                };
                i += if two { 2 } else { 1 };
                word_start = true;
            }
            _ => {
                i = word_end(i, Some(&mut cur));
                word_start = false;
            }
        }
    }
    flush(&mut cur, join, &mut out);
    out
}

/// Parses a script; returns the IPv4 and IPv6 rulesets it builds.
///
/// Each line (after joining `\`-continued lines) is a shell list: its simple
/// commands run as `sh -c` runs them, `a && b` running `b` only when `a` succeeds
/// and `a || b` only when `a` fails (so `iptables -N X || true` is fine). Commands
/// other than iptables count as succeeding. A line whose last executed command
/// fails is an error, as is any other failure a `;` list hides (`sh -e` semantics).
pub fn parse_script(src: &str, file: &str) -> Result<(Ruleset, Ruleset), Vec<Diagnostic>> {
    let mut st = Script {
        v4: Ruleset::new(Family::V4),
        v6: Ruleset::new(Family::V6),
        base: HashSet::new(),
        session: check::Session::default(),
        vars: HashMap::new(),
    };
    let mut diags = Vec::new();
    let lines: Vec<&str> = src.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let start_line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut text = lines[i].to_string();
        i += 1;
        while text.ends_with('\\') && i < lines.len() {
            text.pop();
            text.push(' ');
            text.push_str(lines[i]);
            i += 1;
        }
        // A `# iptables -A …` root prompt is not a comment: strip it first.
        let (_, off) = strip_prompt(&text);
        let mut blanked = text.clone();
        blanked.replace_range(..off, &" ".repeat(off));
        // Failure of the and-or list so far: the errors of its last executed command.
        let mut failed: Option<Vec<Diagnostic>> = None;
        for simple in shell_list(&blanked) {
            let run = match simple.join {
                Join::Seq => {
                    diags.extend(failed.take().unwrap_or_default());
                    true
                }
                Join::And => failed.is_none(),
                Join::Or => failed.is_some(),
            };
            if !run {
                continue;
            }
            failed = st.run(&simple.text, &text, file, start_line).err();
        }
        diags.extend(failed.unwrap_or_default());
    }
    if diags.is_empty() {
        Ok((st.v4, st.v6))
    } else {
        Err(diags)
    }
}

/// The state a script builds.
struct Script {
    /// Shell variables assigned so far (`IPT=/sbin/iptables`, `LAN=10.0.0.0/8`).
    vars: HashMap<String, String>,
    v4: Ruleset,
    v6: Ruleset,
    /// Built-in chains nf_tables has created so far: (family, table, chain).
    base: HashSet<(Family, TableId, String)>,
    session: check::Session,
}

impl Script {
    /// Records `NAME=value` words (optionally after `export`/`readonly`); true when
    /// the command is nothing but assignments.
    fn assignments(&mut self, cmdtext: &str) -> bool {
        let Ok(words) = shell_words(cmdtext) else {
            return false;
        };
        let mut words: Vec<&str> = words.iter().map(|w| w.as_str()).collect();
        if matches!(words.first(), Some(&"export" | &"readonly" | &"local")) {
            words.remove(0);
        }
        let pairs: Vec<(&str, &str)> = words
            .iter()
            .filter_map(|w| w.split_once('='))
            .filter(|(n, _)| {
                n.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .collect();
        if pairs.is_empty() || pairs.len() != words.len() {
            return false;
        }
        for (n, v) in pairs {
            let v = self.expand(v);
            self.vars.insert(n.to_string(), v);
        }
        true
    }

    /// Substitutes `$NAME` and `${NAME}` of assigned variables (others are left as
    /// they are, so the word is refused rather than silently dropped).
    fn expand(&self, word: &str) -> String {
        let mut out = String::with_capacity(word.len());
        let mut rest = word;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, len) = if let Some(b) = after.strip_prefix('{') {
                match b.find('}') {
                    Some(e) => (&b[..e], e + 2),
                    None => ("", 0),
                }
            } else {
                let e = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..e], e)
            };
            match self.vars.get(name).filter(|_| !name.is_empty()) {
                Some(v) => {
                    out.push_str(v);
                    rest = &after[len..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Runs one simple command (`cmd`: the full line with everything else blanked).
    /// Anything but an iptables command succeeds without effect.
    fn run(&mut self, cmd: &str, line: &str, file: &str, lno: u32) -> Result<(), Vec<Diagnostic>> {
        let (cmdtext, off) = strip_prompt(cmd);
        let first = cmdtext.split_whitespace().next().unwrap_or("");
        if self.assignments(cmdtext) {
            return Ok(());
        }
        if family_of(&self.expand(first)).is_none() {
            return Ok(());
        }
        let toks = shell_words(cmdtext).map_err(|e| vec![e.at(file, lno)])?;
        let shift = line.get(..off).map(|s| s.chars().count()).unwrap_or(off) as u32;
        let mut it = toks.into_iter().map(|t| Tok {
            col: t.col + shift,
            offset: t.offset + off,
            text: if t.text.contains('$') {
                self.expand(&t.text).into()
            } else {
                t.text
            },
        });
        let Some(fam) = it.next().and_then(|t| family_of(&t.text)) else {
            return Ok(());
        };
        // One command per simple command: a second `iptables` word is just a bad
        // argument, as the shell passes it to iptables.
        let args: Vec<Tok> = it.collect();
        let mut cmd = parse_command(&args, fam, Mode::Script, lno)
            .map_err(|es| es.into_iter().map(|e| e.at(file, lno)).collect::<Vec<_>>())?;
        let at = cmd.at.clone();
        let fail = |e: ApplyErr| vec![e.at(at.col, &at.text).at(file, lno)];
        // nf_tables creates a built-in chain only when a rule, a policy or a flush
        // first names it; zeroing one that does not exist yet fails.
        if let Op::Zero(Some(c)) = &cmd.op {
            if Hook::from_chain_name(c).is_some()
                && !self.base.contains(&(fam, cmd.table, c.clone()))
            {
                return Err(fail(ApplyErr::new(
                    format!("built-in chain `{c}` does not exist yet: no rule, policy or flush has created it"),
                    format!("`-A`, `-I`, `-P` or `-F` on `{c}` first"),
                )));
            }
        }
        let rs = if fam == Family::V4 {
            &mut self.v4
        } else {
            &mut self.v6
        };
        check::apply(rs, &mut cmd, &mut self.session).map_err(fail)?;
        if let Op::Append(c) | Op::Insert(c, _) | Op::Policy(c, _) | Op::Flush(Some(c)) = &cmd.op {
            if Hook::from_chain_name(c).is_some() {
                self.base.insert((fam, cmd.table, c.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{save, SaveOptions};

    fn s(rs: &Ruleset) -> String {
        save(rs, &SaveOptions::default())
    }

    #[test]
    fn zero_needs_an_instantiated_base_chain() {
        assert!(parse_script("ip6tables -N x\nip6tables -Z OUTPUT\n", "s").is_err());
        assert!(parse_script("ip6tables -P OUTPUT DROP\nip6tables -Z OUTPUT\n", "s").is_ok());
        // The same on one line, whatever the list operator.
        for src in [
            "ip6tables -N x; ip6tables -Z OUTPUT",
            "ip6tables -N x ;ip6tables -Z OUTPUT",
            "ip6tables -N x && ip6tables --zero OUTPUT",
            "ip6tables -N x&&ip6tables -Z OUTPUT",
            "ip6tables -N y\nip6tables -N y || ip6tables -Z OUTPUT",
        ] {
            let e = parse_script(src, "s").unwrap_err();
            assert_eq!(e.len(), 1, "{src}: {e:?}");
            assert!(e[0].word.starts_with('-'), "{src}: {e:?}");
        }
        // A flush instantiates the chain (and creates the table).
        let (_, v6) = parse_script("ip6tables -F OUTPUT\nip6tables -Z OUTPUT\n", "s").unwrap();
        assert!(s(&v6).starts_with("*filter\n"));
    }

    fn texts(line: &str) -> Vec<(Join, String)> {
        shell_list(line)
            .into_iter()
            .map(|s| (s.join, s.text.trim().to_string()))
            .collect()
    }

    #[test]
    fn shell_lists() {
        use Join::*;
        assert_eq!(
            texts("a -x 'p;q' \"r&&s\" 2>/dev/null; b >> log && c 2>&1 || d | e & f # g; h"),
            [
                (Seq, "a -x 'p;q' \"r&&s\"".to_string()),
                (Seq, "b".into()),
                (And, "c".into()),
                (Or, "d".into()),
                (Seq, "e".into()),
                (Seq, "f".into()),
            ]
        );
        // Offsets are those of the line.
        let l = shell_list("a; iptables -N x");
        assert_eq!(l[1].text.find("iptables"), Some(3));
        assert_eq!(texts("x \\; y"), [(Seq, "x \\; y".to_string())]);
        assert_eq!(texts("x a\\#b #c"), [(Seq, "x a\\#b".to_string())]);
        for hostile in [
            "", ";", "&&", "||", ">", "2>", "a >", "'", "\"", "\\", "&>", "9>&", "é>é",
        ] {
            let _ = shell_list(hostile);
            let _ = parse_script(&format!("iptables {hostile}"), "s");
        }
    }

    /// The per-command checks a script session caches (chain hooks) follow every
    /// change of the jump graph.
    #[test]
    fn session_hook_checks() {
        let bad = |src: &str, line: u32| {
            let e = parse_script(src, "s").unwrap_err();
            assert_eq!(e[0].line, line, "{src}: {e:?}");
        };
        let nat = "iptables -t nat -N x\n";
        bad(
            &format!(
                "{nat}iptables -t nat -A x -j MASQUERADE\niptables -t nat -A PREROUTING -j x\n"
            ),
            3,
        );
        bad(
            &format!(
                "{nat}iptables -t nat -A PREROUTING -j x\niptables -t nat -A x -j MASQUERADE\n"
            ),
            3,
        );
        for undo in [
            "-F PREROUTING",
            "-D PREROUTING 1",
            "-F",
            "-R PREROUTING 1 -j ACCEPT",
        ] {
            let src = format!("{nat}iptables -t nat -A PREROUTING -j x\niptables -t nat -A x -j ACCEPT\niptables -t nat {undo}\niptables -t nat -A x -j MASQUERADE\n");
            assert!(parse_script(&src, "s").is_ok(), "{src}");
        }
        // A refused command changes nothing, and later ones see the old state.
        let src = format!("{nat}iptables -t nat -A x -j MASQUERADE\niptables -t nat -A PREROUTING -j x\niptables -t nat -A POSTROUTING -j x\n");
        let e = parse_script(&src, "s").unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        // Loops, through a chain added later.
        bad("iptables -N a\niptables -N b\niptables -A INPUT -j a\niptables -A a -j b\niptables -A b -j a\n", 5);
        bad("iptables -N a\niptables -N b\niptables -A a -j b\niptables -A b -j a\niptables -A INPUT -j a\n", 5);
    }

    #[test]
    fn shell_variables() {
        let src = "IPT=/sbin/iptables\nexport LAN=\"10.0.0.0/8\" WAN_IF=eth0\n$IPT -A INPUT -s $LAN -i ${WAN_IF} -j ACCEPT\nIP6=ip6tables; $IP6 -N x\n";
        let (v4, v6) = parse_script(src, "s").unwrap();
        assert!(
            s(&v4).contains("-A INPUT -s 10.0.0.0/8 -i eth0 -j ACCEPT\n"),
            "{}",
            s(&v4)
        );
        assert!(s(&v6).contains(":x - [0:0]"), "{}", s(&v6));
        // An unknown variable in an argument is refused, not dropped.
        let e = parse_script("IPT=iptables\n$IPT -A INPUT -s $NOPE -j ACCEPT\n", "s").unwrap_err();
        assert_eq!((e[0].line, e[0].col, e[0].word.as_str()), (2, 18, "$NOPE"));
    }

    #[test]
    fn shell_idioms() {
        let src = "iptables -N L 2>/dev/null || iptables -F L\niptables -N L >/dev/null 2>&1 || true\niptables -A L -j DROP # drop; iptables -N nope\niptables -N x || iptables -N x || iptables -N y\n";
        let (v4, _) = parse_script(src, "s").unwrap();
        assert_eq!(s(&v4), "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:L - [0:0]\n:x - [0:0]\n-A L -j DROP\nCOMMIT\n");
        // Columns of a later command are those of the line.
        let e = parse_script("iptables -N a; iptables -A b -j ACCEPT", "s").unwrap_err();
        assert_eq!((e[0].line, e[0].col, e[0].word.as_str()), (1, 25, "-A"));
        // A failure hidden by `;` is still reported (sh -e).
        assert!(parse_script("iptables -A nope -j ACCEPT; iptables -N a", "s").is_err());
    }

    #[test]
    fn seed_000_workstation() {
        let src = "Configure iptables\n\niptables -t filter -A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT\niptables -t filter -A INPUT -p icmp -j ACCEPT\niptables -t filter -A INPUT -i lo -j ACCEPT\niptables -t filter -A INPUT -j REJECT\n";
        let (v4, v6) = parse_script(src, "s").unwrap();
        assert_eq!(s(&v4), crate::profiles::get("workstation").unwrap().0);
        assert!(v6.tables.is_empty());
    }

    #[test]
    fn glued_commands_and_prompts() {
        let e = parse_script(
            "iptables -A INPUT -j ACCEPT iptables -A INPUT -j DROP\n",
            "s",
        )
        .unwrap_err();
        assert_eq!((e[0].col, e[0].word.as_str()), (29, "iptables"));
        let src = "# iptables command script\niptables -t filter -F INPUT\n# iptables -N TCP\n$ sudo iptables -A TCP -p tcp --dport ssh -j ACCEPT\ncommand iptables -P INPUT DROP\nip6tables -A INPUT -p icmpv6 --icmpv6-type 128 -j ACCEPT\n";
        let (v4, v6) = parse_script(src, "s").unwrap();
        assert_eq!(s(&v4), "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:TCP - [0:0]\n-A TCP -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n");
        assert_eq!(s(&v6), "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT\nCOMMIT\n");
    }

    #[test]
    fn delete_insert_replace() {
        let src = "iptables -A INPUT -p tcp -j REJECT --reject-with tcp-reset\niptables -A INPUT -j DROP\niptables -D INPUT -p tcp -j REJECT --reject-with tcp-reset\niptables -I INPUT -s 1.1.1.1,2.2.2.2 -j ACCEPT\niptables -R INPUT 3 -j RETURN\niptables -D INPUT 1\n";
        let (v4, _) = parse_script(src, "s").unwrap();
        assert_eq!(s(&v4), "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -s 1.1.1.1/32 -j ACCEPT\n-A INPUT -j RETURN\nCOMMIT\n");
        let e = parse_script(
            "iptables -D INPUT -j ACCEPT\niptables -A FOO -j ACCEPT\n",
            "s",
        )
        .unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].line, e[0].col, e[0].word.as_str()), (1, 10, "-D"));
    }

    #[test]
    fn seed_004_client() {
        let src = "iptables -A INPUT -i lo -j ACCEPT\niptables -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\niptables -A INPUT -p tcp -j REJECT --reject-with tcp-reset\niptables -A INPUT -p udp -j REJECT\nip6tables -A INPUT -i lo -j ACCEPT\nip6tables -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nip6tables -A INPUT -p tcp -j REJECT --reject-with tcp-reset\nip6tables -A INPUT -j REJECT\n";
        let (v4, v6) = parse_script(src, "s").unwrap();
        assert_eq!(s(&v4), "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -j REJECT --reject-with tcp-reset\n-A INPUT -p udp -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n");
        assert_eq!(s(&v6), "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -j REJECT --reject-with tcp-reset\n-A INPUT -j REJECT --reject-with icmp6-port-unreachable\nCOMMIT\n");
    }
}

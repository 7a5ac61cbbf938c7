//! Scripts of `iptables …` / `ip6tables …` command lines, as how-to guides write them,
//! applied in order to an initially empty kernel state. Shell quoting applies (shlex).
//! Lines are recognised by their first word after an optional prompt (`# `, `$ `) and
//! `sudo`/`command`: `iptables`/`ip6tables` (also the `-legacy`/`-nft` variants); a
//! `# iptables …` line counts as a root prompt only when an option follows (otherwise
//! it is a shell comment). Several commands glued on one line (copied from a web page)
//! are one command to the shell, and iptables refuses the second `iptables` word, so
//! Palisade does too. Everything else — prose, other commands, comments — is ignored.
//! A trailing backslash continues a command on the next line.

use palisade_model::{Family, Ruleset};

use crate::check;
use crate::cmd::{parse_command, Mode, Op};
use crate::diag::{Diagnostic, LineErr};
use crate::lex::{shell_words, Tok};
use palisade_model::{Hook, TableId};
use std::collections::HashSet;

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
    for p in ["# ", "$ ", "#", "$"] {
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

/// Parses a script; returns the IPv4 and IPv6 rulesets it builds.
pub fn parse_script(src: &str, file: &str) -> Result<(Ruleset, Ruleset), Vec<Diagnostic>> {
    let mut v4 = Ruleset::new(Family::V4);
    let mut v6 = Ruleset::new(Family::V6);
    let mut diags = Vec::new();
    let mut base: HashSet<(Family, TableId, String)> = HashSet::new();
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
        let (cmdtext, off) = strip_prompt(&text);
        let first = cmdtext.split_whitespace().next().unwrap_or("");
        if family_of(first).is_none() {
            continue;
        }
        let toks = match shell_words(cmdtext) {
            Ok(t) => t,
            Err(e) => {
                diags.push(e.at(file, start_line));
                continue;
            }
        };
        let shift = text.get(..off).map(|s| s.chars().count()).unwrap_or(0) as u32;
        let toks: Vec<Tok> = toks
            .into_iter()
            .map(|t| Tok {
                col: t.col + shift,
                offset: t.offset + off,
                text: t.text,
            })
            .collect();
        // One command per line: a second `iptables` word is just a bad argument,
        // as the shell passes it to iptables.
        let mut it = toks.into_iter();
        let Some(fam) = it.next().and_then(|t| family_of(&t.text)) else {
            continue;
        };
        let segs = [(fam, it.collect::<Vec<Tok>>())];
        for (fam, args) in segs {
            // Stop at shell operators.
            let end = args
                .iter()
                .position(|t| matches!(t.text.as_str(), ";" | "&&" | "||" | "|" | ">" | ">>" | "<"))
                .unwrap_or(args.len());
            let args = &args[..end];
            match parse_command(args, fam, Mode::Script, start_line) {
                Err(es) => diags.extend(es.into_iter().map(|e| e.at(file, start_line))),
                Ok(cmd) => {
                    // nf_tables creates a built-in chain only when a rule or policy
                    // first needs it; zeroing one that does not exist yet fails.
                    if let Op::Zero(Some(c)) = &cmd.op {
                        if Hook::from_chain_name(c).is_some()
                            && !base.contains(&(fam, cmd.table, c.clone()))
                        {
                            diags.push(
                                LineErr::new(
                                    cmd.at.col,
                                    &cmd.at.text,
                                    "no chain/target/match by that name",
                                )
                                .at(file, start_line),
                            );
                            continue;
                        }
                    }
                    let rs = if fam == Family::V4 { &mut v4 } else { &mut v6 };
                    match check::apply(rs, &cmd) {
                        Err(m) => diags
                            .push(LineErr::new(cmd.at.col, &cmd.at.text, m).at(file, start_line)),
                        Ok(()) => {
                            if let Op::Append(c) | Op::Insert(c, _) | Op::Policy(c, _) = &cmd.op {
                                base.insert((fam, cmd.table, c.clone()));
                            }
                        }
                    }
                }
            }
        }
    }
    if diags.is_empty() {
        Ok((v4, v6))
    } else {
        Err(diags)
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

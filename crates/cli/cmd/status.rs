//! `palisade status`: asks the running daemon for its counters (printed as
//! `iptables -nvL` prints them), its conntrack entries (as `conntrack -L`)
//! and its queue statistics.
//!
//! The counter listing follows iptables' `print_header`/`print_firewall`
//! column layout (counts abbreviated with K/M/G above 99999, as without
//! `-x`); the match and target options after the destination column are
//! printed in iptables-save form rather than each extension's `-L` wording.

use std::fmt::Write;
use std::path::PathBuf;

use palisade_datapath::control::{self, Request};
use palisade_model::{Family, Policy, Rule, Ruleset, Target};

use crate::{EXIT_ERRORS, EXIT_OK};

/// `status` flags.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH", default_value = control::DEFAULT_PATH)]
    pub control: PathBuf,
}

/// Runs `status`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let a = control::request(&args.control, Request::Status)?;
    print!("{}", a.text);
    Ok(if a.ok { EXIT_OK } else { EXIT_ERRORS })
}

/// `xtables_print_num` with `FMT_KILOMEGAGIGA`.
fn num(mut n: u64) -> String {
    if n <= 99_999 {
        return format!("{n:>5} ");
    }
    for suffix in ['K', 'M', 'G', 'T'] {
        n = (n + 500) / 1000;
        if n <= 9999 || suffix == 'T' {
            return format!("{n:>4}{suffix} ");
        }
    }
    format!("{n:>5} ")
}

fn header(out: &mut String) {
    // print_header: "%5s " pkts, "%5s " bytes, "%-9s " target, " prot ",
    // "opt", " %-6s " in, "%-6s " out, " %-19s " source, " %-19s " destination.
    let _ = writeln!(
        out,
        "{:>5} {:>5} {:<9}  prot opt {:<6} {:<6}  {:<19}  {:<19} ",
        "pkts", "bytes", "target", "in", "out", "source", "destination"
    );
}

/// Splits a rule's save form into (target name, options after destination).
fn target_and_extra(r: &Rule, fam: Family) -> (String, String) {
    let mut bare = r.clone();
    bare.ip = Default::default();
    let matches = {
        let mut m = bare.clone();
        m.target = Target::None;
        palisade_rules::rule_text(&m, fam)
    };
    bare.matches.clear();
    let t = palisade_rules::rule_text(&bare, fam);
    let mut words = t.split_whitespace();
    let name = match (words.next(), words.next()) {
        (Some("-j" | "-g"), Some(n)) => n.to_string(),
        _ => String::new(),
    };
    let rest: Vec<&str> = words.collect();
    let mut extra = matches;
    if !rest.is_empty() {
        extra.push(' ');
        extra.push_str(&rest.join(" "));
    }
    (name, extra)
}

fn addr(r: &Rule, fam: Family, src: bool) -> String {
    let (a, inv) = if src {
        (&r.ip.src, r.ip.inv_src)
    } else {
        (&r.ip.dst, r.ip.inv_dst)
    };
    let any = if fam == Family::V6 {
        "::/0"
    } else {
        "0.0.0.0/0"
    };
    let Some(a) = a else {
        return any.to_string();
    };
    // The save form (`-s 10.0.0.1/32`) minus a full-length prefix, as -nL shows it.
    let mut one = Rule::new(Default::default(), Vec::new(), Target::None);
    if src {
        one.ip.src = Some(*a);
    } else {
        one.ip.dst = Some(*a);
    }
    let text = palisade_rules::rule_text(&one, fam);
    let v = text.split_whitespace().nth(1).unwrap_or(any);
    let v = v
        .strip_suffix(if fam == Family::V6 { "/128" } else { "/32" })
        .unwrap_or(v);
    let _ = inv;
    v.to_string()
}

fn iface(i: &Option<palisade_model::Iface>, inv: bool) -> String {
    let mut s = String::from(if inv { "!" } else { "" });
    match i {
        Some(i) => {
            s.push_str(&i.name);
            if i.wildcard {
                s.push('+');
            }
        }
        None => s.push('*'),
    }
    s
}

fn proto(p: u8, fam: Family) -> String {
    match p {
        0 => "all".into(),
        58 if fam == Family::V6 => "ipv6-icmp".into(),
        _ => palisade_rules::names::proto_name(p),
    }
}

/// Counters of both families as `iptables -t T -nvL` / `ip6tables -t T
/// -nvL` print them, one section per table present.
pub fn listing(v4: &Ruleset, v6: &Ruleset) -> String {
    let mut out = String::new();
    for (rs, prog) in [(v4, "iptables"), (v6, "ip6tables")] {
        for t in &rs.tables {
            let _ = writeln!(out, "# {prog} -t {} -nvL", t.id.name());
            for (k, ch) in t.chains.iter().enumerate() {
                if k > 0 {
                    out.push('\n');
                }
                match ch.policy {
                    Some(p) if ch.hook().is_some() => {
                        let pol = match p {
                            Policy::Accept => "ACCEPT",
                            Policy::Drop => "DROP",
                        };
                        let _ = writeln!(
                            out,
                            "Chain {} (policy {pol} {}packets, {}bytes)",
                            ch.name,
                            num(ch.counters.packets).trim_start(),
                            num(ch.counters.bytes).trim_start()
                        );
                    }
                    _ => {
                        let refs = t
                            .chains
                            .iter()
                            .flat_map(|c| &c.rules)
                            .filter(|r| {
                                matches!(&r.target, Target::Jump(n) | Target::Goto(n) if *n == ch.name)
                            })
                            .count();
                        let _ = writeln!(out, "Chain {} ({refs} references)", ch.name);
                    }
                }
                header(&mut out);
                for r in &ch.rules {
                    let (target, extra) = target_and_extra(r, rs.family);
                    let opt = if rs.family == Family::V6 {
                        "   ".to_string()
                    } else {
                        let inv = if r.ip.fragment == Some(false) {
                            '!'
                        } else {
                            '-'
                        };
                        let f = if r.ip.fragment.is_some() { 'f' } else { '-' };
                        format!("{inv}{f} ")
                    };
                    let _ = writeln!(
                        out,
                        "{}{}{:<9} {}{:<5}{opt} {:<6} {:<6} {}{:<19} {}{:<19} {extra}",
                        num(r.counters.packets),
                        num(r.counters.bytes),
                        target,
                        if r.ip.inv_proto { '!' } else { ' ' },
                        proto(r.ip.proto, rs.family),
                        iface(&r.ip.in_iface, r.ip.inv_in),
                        iface(&r.ip.out_iface, r.ip.inv_out),
                        if r.ip.inv_src { '!' } else { ' ' },
                        addr(r, rs.family, true),
                        if r.ip.inv_dst { '!' } else { ' ' },
                        addr(r, rs.family, false),
                    );
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_abbreviate_like_iptables() {
        assert_eq!(num(0), "    0 ");
        assert_eq!(num(99_999), "99999 ");
        assert_eq!(num(100_000), " 100K ");
        assert_eq!(num(123_456_789), " 123M ");
    }

    #[test]
    fn lists_the_workstation_policy() {
        let (v4, v6) = palisade_rules::profiles::get("workstation").unwrap();
        let r4 = palisade_rules::parse_restore(v4, "w", Family::V4).unwrap();
        let r6 = palisade_rules::parse_restore(v6, "w", Family::V6).unwrap();
        let l = listing(&r4, &r6);
        assert!(l.contains("# iptables -t filter -nvL\nChain INPUT (policy"));
        assert!(l.contains(
            " pkts bytes target     prot opt in     out     source               destination"
        ));
        assert!(l.contains("# ip6tables -t filter -nvL"));
    }
}

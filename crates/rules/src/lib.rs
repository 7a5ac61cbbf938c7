//! palisade-rules: the netfilter ruleset language, text ⇄ model, as iptables
//! userspace does it. Reads iptables-restore files ([`parse_restore`]) and scripts of
//! `iptables`/`ip6tables` command lines ([`parse_script`]), detects which is which
//! ([`parse_auto`]), and prints a ruleset byte for byte as Debian 12's
//! `iptables-save` v1.8.9 (nf_tables) does ([`save`]). Errors are collected as
//! [`Diagnostic`]s (file, line, column, word, expected); no input makes it panic.
//!
//! Layout: `lex` (tokenizers), `cmd` (one command line, xtables option parsing),
//! `ext/` (one file per extension: options, parse, final check, save order),
//! `check` (applying commands, table/hook/loop validation), `restore`, `argv`
//! (scripts), `save`, `names` (embedded protocol/service/ICMP tables), `profiles`.

#![deny(unsafe_code)]

mod argv;
mod check;
mod cmd;
mod diag;
mod ext;
mod lex;
pub mod names;
pub mod profiles;
mod restore;
mod save;
#[cfg(test)]
mod testutil;

pub use argv::parse_script;
pub use diag::Diagnostic;
pub use restore::parse_restore;
pub use save::{rule_text, save, SaveOptions, TABLE_ORDER};

use palisade_model::{Family, Ruleset};

/// True when the text looks like iptables-restore input rather than a script: it has a
/// `*table` line, a `:CHAIN` line, a `COMMIT` line, or a line starting with `-A`/`[`.
pub fn is_restore_format(src: &str) -> bool {
    src.lines().map(str::trim).any(|l| {
        (l.starts_with('*') && palisade_model::TableId::from_name(l[1..].trim()).is_some())
            || l == "COMMIT"
            || (l.starts_with(':') && l.len() > 1)
            || l.starts_with("-A ")
            || (l.starts_with('[') && l.contains("] -A "))
    })
}

/// Guesses the family of restore text: IPv6 if its header says ip6tables-save or a
/// rule uses ICMPv6, `ipv6-icmp`, an IPv6 reject type or an IPv6 address.
pub fn detect_family(src: &str) -> Family {
    for l in src.lines() {
        let l = l.trim();
        if l.starts_with('#') {
            if l.contains("ip6tables") {
                return Family::V6;
            }
            continue;
        }
        for w in l.split_whitespace() {
            let w = w.trim_matches('"');
            if matches!(
                w,
                "ipv6-icmp" | "icmpv6" | "icmp6" | "--icmpv6-type" | "ip6tables" | "-m hl"
            ) || w.starts_with("icmp6-")
                || w.starts_with("--hl-")
            {
                return Family::V6;
            }
            let a = w.split('/').next().unwrap_or("");
            let a = a.trim_start_matches('[').split(']').next().unwrap_or("");
            if a.contains(':') && a.parse::<std::net::Ipv6Addr>().is_ok() {
                return Family::V6;
            }
        }
    }
    Family::V4
}

/// Parses either format.
///
/// - Restore text gives `(ruleset, None)`; its family is `family` when given, else
///   [`detect_family`].
/// - A script gives `(first, Some(second))`: with `family` = `Some(V6)` the IPv6
///   ruleset comes first, otherwise the IPv4 one (so `.0` is always the requested or
///   default family and `.1` the other one the script also built).
pub fn parse_auto(
    src: &str,
    file: &str,
    family: Option<Family>,
) -> Result<(Ruleset, Option<Ruleset>), Vec<Diagnostic>> {
    if is_restore_format(src) {
        let fam = family.unwrap_or_else(|| detect_family(src));
        return parse_restore(src, file, fam).map(|rs| (rs, None));
    }
    let (v4, v6) = parse_script(src, file)?;
    Ok(match family {
        Some(Family::V6) => (v6, Some(v4)),
        _ => (v4, Some(v6)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_detection() {
        let (rs, other) = parse_auto(
            "*filter\n-A INPUT -s fe80::/10 -j ACCEPT\nCOMMIT\n",
            "f",
            None,
        )
        .unwrap();
        assert_eq!(rs.family, Family::V6);
        assert!(other.is_none());
        let (rs, _) =
            parse_auto("*filter\n-A INPUT -p icmp -j ACCEPT\nCOMMIT\n", "f", None).unwrap();
        assert_eq!(rs.family, Family::V4);
        let (a, b) = parse_auto(
            "iptables -A INPUT -j ACCEPT\nip6tables -A INPUT -j DROP\n",
            "f",
            Some(Family::V6),
        )
        .unwrap();
        assert_eq!(a.family, Family::V6);
        assert_eq!(b.map(|r| r.family), Some(Family::V4));
    }
}

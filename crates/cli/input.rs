//! Turning a command-line ruleset argument (a file, `-` for stdin, or the name of a
//! built-in profile) into rulesets of both families.

use std::io::Read;

use anyhow::Context;
use palisade_model::{Family, Ruleset};
use palisade_rules::Diagnostic;

/// Which family the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FamilyArg {
    /// Detect from the content (ip6tables lines, IPv6 addresses, icmpv6).
    Auto,
    /// IPv4 (iptables).
    #[value(name = "4", alias = "ipv4")]
    V4,
    /// IPv6 (ip6tables).
    #[value(name = "6", alias = "ipv6")]
    V6,
}

/// Rulesets read from one argument.
#[derive(Debug)]
pub struct Loaded {
    /// The name shown in messages.
    pub name: String,
    /// IPv4 rules, if the input has any.
    pub v4: Option<Ruleset>,
    /// IPv6 rules, if the input has any.
    pub v6: Option<Ruleset>,
}

/// The source text of an argument: a file, stdin, or a profile.
pub enum Source {
    /// A file's (or stdin's) text.
    Text {
        /// Display name.
        name: String,
        /// Contents.
        text: String,
    },
    /// A built-in profile (both families).
    Profile {
        /// Profile name.
        name: String,
        /// iptables-save text.
        v4: &'static str,
        /// ip6tables-save text.
        v6: &'static str,
    },
}

/// Reads the argument. A path that exists wins over a profile of the same name.
pub fn read_source(arg: &str) -> anyhow::Result<Source> {
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        return Ok(Source::Text {
            name: "<stdin>".into(),
            text,
        });
    }
    let path = std::path::Path::new(arg);
    if !path.exists() {
        let profile = arg.strip_prefix("profile:").unwrap_or(arg);
        if let Some((v4, v6)) = palisade_rules::profiles::get(profile) {
            return Ok(Source::Profile {
                name: profile.to_string(),
                v4,
                v6,
            });
        }
    }
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read `{arg}` (not a file, and not a profile: {})",
            palisade_rules::profiles::NAMES.join(", ")
        )
    })?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(Source::Text {
        name: arg.to_string(),
        text,
    })
}

/// Whether text is a script of `iptables …` command lines rather than
/// iptables-restore input.
pub fn looks_like_script(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start().trim_start_matches(['#', '$']).trim_start();
        let l = l.strip_prefix("sudo ").unwrap_or(l).trim_start();
        l.starts_with("iptables ") || l.starts_with("ip6tables ")
    })
}

/// Guesses the family of iptables-restore text.
pub fn guess_family(text: &str) -> Family {
    let v6 = text.lines().any(|l| {
        let l = l.trim();
        if l.starts_with('#') {
            return false;
        }
        l.contains("icmp6")
            || l.contains("icmpv6")
            || l.contains("ipv6-icmp")
            || l.split_whitespace().any(|w| {
                // A MAC address (`--mac-source 02:00:00:00:00:01`) has six
                // colon-separated groups and no `::`: never an IPv6 address.
                let mac = w.split(':').count() == 6 && w.split(':').all(|g| g.len() == 2);
                w.contains("::") || (w.matches(':').count() >= 2 && !w.starts_with('[') && !mac)
            })
    });
    if v6 {
        Family::V6
    } else {
        Family::V4
    }
}

/// Parses a source into rulesets.
pub fn parse(src: &Source, family: FamilyArg) -> Result<Loaded, Vec<Diagnostic>> {
    match src {
        Source::Profile { name, v4, v6 } => {
            let r4 = palisade_rules::parse_restore(v4, name, Family::V4)?;
            let r6 = palisade_rules::parse_restore(v6, name, Family::V6)?;
            let (v4, v6) = match family {
                FamilyArg::Auto => (Some(r4), Some(r6)),
                FamilyArg::V4 => (Some(r4), None),
                FamilyArg::V6 => (None, Some(r6)),
            };
            Ok(Loaded {
                name: name.clone(),
                v4,
                v6,
            })
        }
        Source::Text { name, text } => {
            if looks_like_script(text) {
                let (r4, r6) = palisade_rules::parse_script(text, name)?;
                let some = |r: Ruleset| (!r.tables.is_empty()).then_some(r);
                let (v4, v6) = match family {
                    FamilyArg::Auto => (some(r4), some(r6)),
                    FamilyArg::V4 => (Some(r4), None),
                    FamilyArg::V6 => (None, Some(r6)),
                };
                return Ok(Loaded {
                    name: name.clone(),
                    v4,
                    v6,
                });
            }
            let fam = match family {
                FamilyArg::Auto => guess_family(text),
                FamilyArg::V4 => Family::V4,
                FamilyArg::V6 => Family::V6,
            };
            let rs = palisade_rules::parse_restore(text, name, fam)?;
            let (v4, v6) = match fam {
                Family::V4 => (Some(rs), None),
                Family::V6 => (None, Some(rs)),
            };
            Ok(Loaded {
                name: name.clone(),
                v4,
                v6,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_scripts_and_families() {
        assert!(looks_like_script("# iptables -A INPUT -j ACCEPT\n"));
        assert!(looks_like_script("iptables -N TCP\n"));
        assert!(!looks_like_script("*filter\n-A INPUT -j ACCEPT\nCOMMIT\n"));
        assert_eq!(
            guess_family("*filter\n-A INPUT -s fe80::/10 -j ACCEPT\n"),
            Family::V6
        );
        assert_eq!(
            guess_family("*filter\n-A INPUT -p ipv6-icmp -j ACCEPT\n"),
            Family::V6
        );
        assert_eq!(
            guess_family("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.0/8 -j ACCEPT\n"),
            Family::V4
        );
        assert_eq!(
            guess_family("*filter\n-A INPUT -m mac --mac-source 02:91:01:00:00:02 -j DROP\n"),
            Family::V4
        );
    }
}

//! Kernel: net/netfilter/xt_LOG.c; userspace libxt_LOG.c. Logs and continues. Save
//! order: prefix, level (only when not 4), flags.

use super::{bad, opt, Ctx, Opt, TargetExt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::targets::{log_flags, LogTarget};
use palisade_model::Target;

const OPTS: &[Opt] = &[
    opt(&["--log-level"], 1, false),
    opt(&["--log-prefix"], 1, false),
    opt(&["--log-tcp-sequence"], 0, false),
    opt(&["--log-tcp-options"], 0, false),
    opt(&["--log-ip-options"], 0, false),
    opt(&["--log-uid"], 0, false),
    opt(&["--log-macdecode"], 0, false),
];

const LEVELS: &[(&str, u8)] = &[
    ("emerg", 0),
    ("panic", 0),
    ("alert", 1),
    ("crit", 2),
    ("error", 3),
    ("warning", 4),
    ("notice", 5),
    ("info", 6),
    ("debug", 7),
];

pub(crate) static EXT: TargetExt = TargetExt {
    name: "LOG",
    family: None,
    opts: OPTS,
    init: |_| {
        Target::Log(LogTarget {
            level: 4,
            prefix: String::new(),
            flags: 0,
        })
    },
    parse,
    check: |_, _, _| Ok(()),
};

fn parse(t: &mut Target, o: usize, _: bool, args: &[Tok], _: &Ctx, _: u64) -> Result<(), LineErr> {
    let Target::Log(l) = t else { return Ok(()) };
    match o {
        0 => {
            let a = &args[0];
            l.level = match a.text.parse::<u8>() {
                Ok(v) if v <= 7 => v,
                _ => LEVELS
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&a.text))
                    .map(|(_, v)| *v)
                    .ok_or_else(|| {
                        bad(
                            a,
                            format!("log-level `{}` unknown", a.text),
                            "0-7 or emerg, alert, crit, error, warning, notice, info, debug",
                        )
                    })?,
            };
        }
        1 => {
            let a = &args[0];
            if a.text.is_empty() {
                return Err(bad(
                    a,
                    "no prefix specified for --log-prefix",
                    "a non-empty prefix",
                ));
            }
            // Longer prefixes are cut to 29 bytes, as iptables does.
            l.prefix = super::truncate(&a.text, 29);
        }
        2 => l.flags |= log_flags::TCPSEQ,
        3 => l.flags |= log_flags::TCPOPT,
        4 => l.flags |= log_flags::IPOPT,
        5 => l.flags |= log_flags::UID,
        _ => l.flags |= log_flags::MACDECODE,
    }
    Ok(())
}

pub(crate) fn save(l: &LogTarget, out: &mut String) {
    out.push_str(" -j LOG");
    if !l.prefix.is_empty() {
        out.push_str(" --log-prefix");
        super::save_string(&l.prefix, out);
    }
    if l.level != 4 {
        out.push_str(&format!(" --log-level {}", l.level));
    }
    for (bit, s) in [
        (log_flags::TCPSEQ, " --log-tcp-sequence"),
        (log_flags::TCPOPT, " --log-tcp-options"),
        (log_flags::IPOPT, " --log-ip-options"),
        (log_flags::UID, " --log-uid"),
        (log_flags::MACDECODE, " --log-macdecode"),
    ] {
        if l.flags & bit != 0 {
            out.push_str(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err4, rt4};

    #[test]
    fn kernel_observed() {
        rt4("-A INPUT -j LOG", "-A INPUT -j LOG");
        rt4(
            r#"-A INPUT -j LOG --log-level 7 --log-prefix "abc: " --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-macdecode"#,
            r#"-A INPUT -j LOG --log-prefix "abc: " --log-level 7 --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-macdecode"#,
        );
        rt4(
            "-A INPUT -j LOG --log-level debug",
            "-A INPUT -j LOG --log-level 7",
        );
        rt4("-A INPUT -j LOG --log-level warning", "-A INPUT -j LOG");
        rt4(
            "-A INPUT -j LOG --log-prefix 0123456789012345678901234567890123456789",
            "-A INPUT -j LOG --log-prefix 01234567890123456789012345678",
        );
        assert!(err4("-A INPUT -j LOG --log-level err")
            .message
            .contains("err"));
    }
}

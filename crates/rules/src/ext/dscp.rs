//! Kernel: net/netfilter/xt_dscp.c (dscp_mt); userspace libxt_dscp.c. The six DSCP
//! bits; `--dscp-class` names (RFC 2474/2597/3246) map to numbers. Printed in hex.

use super::{bad, opt, uint, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::DscpMatch;
use palisade_model::Match;

const OPTS: &[Opt] = &[opt(&["--dscp"], 1, true), opt(&["--dscp-class"], 1, true)];

const CLASSES: &[(&str, u8)] = &[
    ("CS0", 0),
    ("CS1", 8),
    ("CS2", 16),
    ("CS3", 24),
    ("CS4", 32),
    ("CS5", 40),
    ("CS6", 48),
    ("CS7", 56),
    ("BE", 0),
    ("AF11", 10),
    ("AF12", 12),
    ("AF13", 14),
    ("AF21", 18),
    ("AF22", 20),
    ("AF23", 22),
    ("AF31", 26),
    ("AF32", 28),
    ("AF33", 30),
    ("AF41", 34),
    ("AF42", 36),
    ("AF43", 38),
    ("EF", 46),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "dscp",
    family: None,
    opts: OPTS,
    init: |_| {
        Match::Dscp(DscpMatch {
            dscp: 0,
            invert: false,
        })
    },
    parse,
    check: |_, seen, _| match seen {
        0 => Err("dscp: `--dscp' or `--dscp-class' is required".into()),
        0b11 => Err("dscp: `--dscp' and `--dscp-class' are exclusive".into()),
        _ => Ok(()),
    },
};

fn parse(
    m: &mut Match,
    o: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let Match::Dscp(d) = m else { return Ok(()) };
    let t = &args[0];
    d.dscp = if o == 0 {
        uint(t, 63, "DSCP value")? as u8
    } else {
        CLASSES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&t.text))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                bad(
                    t,
                    format!("bad DSCP class `{}`", t.text),
                    "CS0-CS7, BE, AF11-AF43 or EF",
                )
            })?
    };
    d.invert = invert;
    Ok(())
}

pub(crate) fn save(d: &DscpMatch, out: &mut String) {
    super::inv(out, d.invert);
    out.push_str(&format!(" --dscp 0x{:02x}", d.dscp));
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4("-A INPUT -m dscp --dscp 10", "-A INPUT -m dscp --dscp 0x0a");
        rt4(
            "-A INPUT -m dscp ! --dscp-class EF",
            "-A INPUT -m dscp ! --dscp 0x2e",
        );
    }
}

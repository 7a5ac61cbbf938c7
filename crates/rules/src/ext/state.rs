//! Kernel: net/netfilter/xt_state.c; userspace libxt_state.c. The state list is a bit
//! set, printed in the order INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED (what the
//! nf_tables-backed iptables-save prints, whatever order it was written in).

use super::{bad, opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::{ct_state, StateMatch};
use palisade_model::Match;

const OPTS: &[Opt] = &[opt(&["--state"], 1, true)];

/// Names in print order; SNAT/DNAT only for conntrack.
pub(crate) const STATES: &[(&str, u16)] = &[
    ("INVALID", ct_state::INVALID),
    ("NEW", ct_state::NEW),
    ("RELATED", ct_state::RELATED),
    ("ESTABLISHED", ct_state::ESTABLISHED),
    ("UNTRACKED", ct_state::UNTRACKED),
    ("SNAT", ct_state::SNAT),
    ("DNAT", ct_state::DNAT),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "state",
    family: None,
    opts: OPTS,
    init: |_| {
        Match::State(StateMatch {
            mask: 0,
            invert: false,
        })
    },
    parse,
    check: |_, seen, _| super::required(seen, "state", "--state"),
};

/// Parses a comma list of state names; `with_nat` allows SNAT/DNAT.
pub(crate) fn parse_states(t: &Tok, with_nat: bool) -> Result<u16, LineErr> {
    let mut v = 0;
    let n = if with_nat { STATES.len() } else { 5 };
    for part in t.text.split(',') {
        let u = part.to_ascii_uppercase();
        let bit = STATES[..n]
            .iter()
            .find(|(s, _)| *s == u)
            .map(|(_, b)| *b)
            .ok_or_else(|| {
                bad(
                    t,
                    format!("bad state `{part}`"),
                    if with_nat {
                        "INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED, SNAT or DNAT"
                    } else {
                        "INVALID, NEW, RELATED, ESTABLISHED or UNTRACKED"
                    },
                )
            })?;
        v |= bit;
    }
    Ok(v)
}

pub(crate) fn fmt_states(mask: u16) -> String {
    STATES
        .iter()
        .filter(|(_, b)| mask & b != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn parse(
    m: &mut Match,
    _: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let Match::State(s) = m else { return Ok(()) };
    s.mask = parse_states(&args[0], false)?;
    s.invert = invert;
    Ok(())
}

pub(crate) fn save(s: &StateMatch, out: &mut String) {
    super::inv(out, s.invert);
    out.push_str(" --state ");
    out.push_str(&fmt_states(s.mask));
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err4, rt4};

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT",
            "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
        );
        rt4(
            "-A INPUT -m state --state NEW,UNTRACKED,INVALID,ESTABLISHED,RELATED",
            "-A INPUT -m state --state INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED",
        );
        let e = err4("-A INPUT -m state --state FOO");
        assert_eq!(e.col, 27);
        assert!(e.message.contains("bad state"));
    }
}

//! Kernel: net/ipv4/netfilter/ipt_rpfilter.c, net/ipv6/netfilter/ip6t_rpfilter.c;
//! userspace libxt_rpfilter.c. Reverse-path check by route lookup; allowed only in the
//! raw and mangle tables at PREROUTING.

use super::{opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::RpfilterMatch;
use palisade_model::Match;

const OPTS: &[Opt] = &[
    opt(&["--loose"], 0, false),
    opt(&["--validmark"], 0, false),
    opt(&["--accept-local"], 0, false),
    opt(&["--invert"], 0, false),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "rpfilter",
    family: None,
    opts: OPTS,
    init: |_| Match::Rpfilter(RpfilterMatch::default()),
    parse,
    check: |_, _, _| Ok(()),
};

fn parse(m: &mut Match, o: usize, _: bool, _: &[Tok], _: &Ctx, _: u64) -> Result<(), LineErr> {
    let Match::Rpfilter(r) = m else { return Ok(()) };
    match o {
        0 => r.loose = true,
        1 => r.validmark = true,
        2 => r.accept_local = true,
        _ => r.invert = true,
    }
    Ok(())
}

pub(crate) fn save(r: &RpfilterMatch, out: &mut String) {
    for (on, s) in [
        (r.loose, " --loose"),
        (r.validmark, " --validmark"),
        (r.accept_local, " --accept-local"),
        (r.invert, " --invert"),
    ] {
        if on {
            out.push_str(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err4, rt, rt6};
    use palisade_model::{Family, TableId};

    #[test]
    fn kernel_observed() {
        rt(
            Family::V4,
            TableId::Raw,
            "-A PREROUTING -m rpfilter --invert -j DROP",
            "-A PREROUTING -m rpfilter --invert -j DROP",
        );
        rt(
            Family::V6,
            TableId::Raw,
            "-A PREROUTING -m rpfilter --loose --validmark --accept-local --invert",
            "-A PREROUTING -m rpfilter --loose --validmark --accept-local --invert",
        );
        let _ = rt6;
        assert!(err4("-A INPUT -m rpfilter").message.contains("rpfilter"));
    }
}

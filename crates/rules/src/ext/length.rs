//! Kernel: net/netfilter/xt_length.c; userspace libxt_length.c. IPv4 total length or
//! IPv6 payload length plus the fixed header, as an inclusive range.

use super::{bad, opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::LengthMatch;
use palisade_model::Match;

const OPTS: &[Opt] = &[opt(&["--length"], 1, true)];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "length",
    family: None,
    opts: OPTS,
    init: |_| {
        Match::Length(LengthMatch {
            min: 0,
            max: 0,
            invert: false,
        })
    },
    parse,
    check: |_, seen, _| super::required(seen, "length", "--length"),
};

fn parse(
    m: &mut Match,
    _: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let Match::Length(l) = m else { return Ok(()) };
    let t = &args[0];
    let e = || {
        bad(
            t,
            format!("bad length `{}`", t.text),
            "LENGTH or MIN:MAX (0-65535)",
        )
    };
    let (a, b) =
        super::range(&t.text, ':', Some((0, 65535)), str::parse::<u16>).map_err(|_| e())?;
    l.min = a;
    l.max = b;
    l.invert = invert;
    Ok(())
}

pub(crate) fn save(l: &LengthMatch, out: &mut String) {
    super::inv(out, l.invert);
    out.push_str(" --length ");
    out.push_str(&super::fmt_range(l.min, l.max, ':'));
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -m length --length 100",
            "-A INPUT -m length --length 100",
        );
        rt4(
            "-A INPUT -m length ! --length 100:200",
            "-A INPUT -m length ! --length 100:200",
        );
    }
}

//! Kernel: net/netfilter/xt_mark.c (mark_mt); userspace libxt_mark.c. Matches when
//! `nfmark & mask == value`; prints hex, the mask only when not all ones.

use super::{opt, value_mask, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::MarkMatch;
use palisade_model::Match;

const OPTS: &[Opt] = &[opt(&["--mark"], 1, true)];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "mark",
    family: None,
    opts: OPTS,
    init: |_| {
        Match::Mark(MarkMatch {
            mark: 0,
            mask: u32::MAX,
            invert: false,
        })
    },
    parse,
    check: |_, seen, _| super::required(seen, "mark", "--mark"),
};

pub(crate) fn parse(
    m: &mut Match,
    _: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let (Match::Mark(x) | Match::Connmark(x)) = m else {
        return Ok(());
    };
    let (v, mask, _) = value_mask(&args[0], "mark")?;
    x.mark = v;
    x.mask = mask;
    x.invert = invert;
    Ok(())
}

pub(crate) fn save(x: &MarkMatch, out: &mut String) {
    super::inv(out, x.invert);
    if x.mask == u32::MAX {
        out.push_str(&format!(" --mark 0x{:x}", x.mark));
    } else {
        out.push_str(&format!(" --mark 0x{:x}/0x{:x}", x.mark, x.mask));
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4("-A INPUT -m mark --mark 5", "-A INPUT -m mark --mark 0x5");
        rt4(
            "-A INPUT -m mark ! --mark 0x5/0xff",
            "-A INPUT -m mark ! --mark 0x5/0xff",
        );
    }
}

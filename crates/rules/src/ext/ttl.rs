//! Kernel: net/ipv4/netfilter/ipt_ttl.c, net/ipv6/netfilter/ip6t_hl.c; userspace
//! libipt_ttl.c / libip6t_hl.c. One comparison of the TTL / hop limit.

use super::{opt, uint, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::{TtlMatch, TtlOp};
use palisade_model::{Family, Match};

const OPTS_TTL: &[Opt] = &[
    opt(&["--ttl-eq"], 1, true),
    opt(&["--ttl-lt"], 1, false),
    opt(&["--ttl-gt"], 1, false),
];
const OPTS_HL: &[Opt] = &[
    opt(&["--hl-eq"], 1, true),
    opt(&["--hl-lt"], 1, false),
    opt(&["--hl-gt"], 1, false),
];

fn check(_: &mut Match, seen: u64, _: &Ctx) -> Result<(), String> {
    if seen.count_ones() != 1 {
        return Err("ttl/hl: exactly one of the `-eq`, `-lt`, `-gt` options is required".into());
    }
    Ok(())
}

pub(crate) static EXT_TTL: MatchExt = MatchExt {
    name: "ttl",
    family: Some(Family::V4),
    opts: OPTS_TTL,
    init: |_| {
        Match::Ttl(TtlMatch {
            op: TtlOp::Eq,
            value: 0,
        })
    },
    parse,
    check,
};

pub(crate) static EXT_HL: MatchExt = MatchExt {
    name: "hl",
    family: Some(Family::V6),
    opts: OPTS_HL,
    init: |_| {
        Match::Hl(TtlMatch {
            op: TtlOp::Eq,
            value: 0,
        })
    },
    parse,
    check,
};

fn parse(
    m: &mut Match,
    o: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let (Match::Ttl(t) | Match::Hl(t)) = m else {
        return Ok(());
    };
    t.value = uint(&args[0], 255, "value")? as u8;
    t.op = match (o, invert) {
        (0, false) => TtlOp::Eq,
        (0, true) => TtlOp::Ne,
        (1, _) => TtlOp::Lt,
        _ => TtlOp::Gt,
    };
    Ok(())
}

pub(crate) fn save(t: &TtlMatch, name: &str, out: &mut String) {
    let (neg, op) = match t.op {
        TtlOp::Eq => ("", "eq"),
        TtlOp::Ne => (" !", "eq"),
        TtlOp::Lt => ("", "lt"),
        TtlOp::Gt => ("", "gt"),
    };
    out.push_str(&format!("{neg} --{name}-{op} {}", t.value));
}

#[cfg(test)]
mod tests {
    use crate::testutil::{rt4, rt6};

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -m ttl ! --ttl-eq 64",
            "-A INPUT -m ttl ! --ttl-eq 64",
        );
        rt4("-A INPUT -m ttl --ttl-lt 5", "-A INPUT -m ttl --ttl-lt 5");
        rt6("-A INPUT -m hl --hl-gt 3", "-A INPUT -m hl --hl-gt 3");
    }
}

//! Kernel: net/netfilter/xt_connlimit.c; userspace libxt_connlimit.c. Counts
//! connections per masked source (or destination) address. Always prints its mask and
//! side.

use super::{opt, uint, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::ConnlimitMatch;
use palisade_model::{Family, Match};

const OPTS: &[Opt] = &[
    opt(&["--connlimit-upto"], 1, false),
    opt(&["--connlimit-above"], 1, true),
    opt(&["--connlimit-mask"], 1, false),
    opt(&["--connlimit-saddr"], 0, false),
    opt(&["--connlimit-daddr"], 0, false),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "connlimit",
    family: None,
    opts: OPTS,
    init: |ctx| {
        Match::Connlimit(ConnlimitMatch {
            limit: 0,
            upto: false,
            mask: if ctx.family == Family::V6 { 128 } else { 32 },
            daddr: false,
        })
    },
    parse,
    check: |_, seen, _| {
        if seen & 0b11 == 0 {
            return Err(
                "connlimit: you must specify `--connlimit-upto' or `--connlimit-above'".into(),
            );
        }
        Ok(())
    },
};

fn parse(
    m: &mut Match,
    o: usize,
    invert: bool,
    args: &[Tok],
    ctx: &Ctx,
    seen: u64,
) -> Result<(), LineErr> {
    let Match::Connlimit(c) = m else {
        return Ok(());
    };
    match o {
        0 | 1 => {
            if seen & 0b11 != 0 {
                return Err(LineErr::new(
                    0,
                    "",
                    "connlimit: `--connlimit-upto' and `--connlimit-above' are exclusive",
                )
                .expect("one of them"));
            }
            c.limit = uint(&args[0], u32::MAX as u64, "connection limit")? as u32;
            c.upto = (o == 0) != invert;
        }
        2 => {
            let w = if ctx.family == Family::V6 { 128 } else { 32 };
            c.mask = uint(&args[0], w, "prefix length")? as u8;
        }
        _ => c.daddr = o == 4,
    }
    Ok(())
}

pub(crate) fn save(c: &ConnlimitMatch, out: &mut String) {
    out.push_str(if c.upto {
        " --connlimit-upto "
    } else {
        " --connlimit-above "
    });
    out.push_str(&c.limit.to_string());
    out.push_str(&format!(" --connlimit-mask {}", c.mask));
    out.push_str(if c.daddr {
        " --connlimit-daddr"
    } else {
        " --connlimit-saddr"
    });
}

#[cfg(test)]
mod tests {
    use crate::testutil::{rt4, rt6};

    #[test]
    fn kernel_observed() {
        rt4("-A INPUT -p tcp -m connlimit --connlimit-above 2", "-A INPUT -p tcp -m connlimit --connlimit-above 2 --connlimit-mask 32 --connlimit-saddr");
        rt4(
            "-A INPUT -p tcp -m connlimit --connlimit-upto 2 --connlimit-mask 24 --connlimit-daddr",
            "-A INPUT -p tcp -m connlimit --connlimit-upto 2 --connlimit-mask 24 --connlimit-daddr",
        );
        rt6(
            "-A INPUT -m connlimit --connlimit-above 2",
            "-A INPUT -m connlimit --connlimit-above 2 --connlimit-mask 128 --connlimit-saddr",
        );
    }
}

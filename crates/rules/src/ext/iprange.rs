//! Kernel: net/netfilter/xt_iprange.c (revision 1); userspace libxt_iprange.c.
//! Inclusive address ranges `FROM-TO` for source and/or destination.

use super::{bad, ip_addr, opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::{Inv, IprangeMatch};
use palisade_model::Match;

const OPTS: &[Opt] = &[
    opt(&["--src-range"], 1, true),
    opt(&["--dst-range"], 1, true),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "iprange",
    family: None,
    opts: OPTS,
    init: |_| Match::Iprange(IprangeMatch::default()),
    parse,
    check: |_, seen, _| {
        if seen == 0 {
            return Err("iprange match: You must specify `--src-range' or `--dst-range'".into());
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
    _: u64,
) -> Result<(), LineErr> {
    let Match::Iprange(r) = m else { return Ok(()) };
    let t = &args[0];
    let (a, b) = t.text.split_once('-').unwrap_or((t.as_str(), t.as_str()));
    let a = ip_addr(a, ctx.family).map_err(|e| bad(t, e, "FROM-TO"))?;
    let b = ip_addr(b, ctx.family).map_err(|e| bad(t, e, "FROM-TO"))?;
    let v = Some(Inv {
        value: (a, b),
        invert,
    });
    if o == 0 {
        r.src = v;
    } else {
        r.dst = v;
    }
    Ok(())
}

pub(crate) fn save(r: &IprangeMatch, out: &mut String) {
    for (name, v) in [("--src-range", &r.src), ("--dst-range", &r.dst)] {
        if let Some(v) = v {
            super::inv(out, v.invert);
            out.push_str(&format!(" {name} {}-{}", v.value.0, v.value.1));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{rt4, rt6};

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -m iprange --src-range 1.1.1.1-1.1.1.9 ! --dst-range 2.2.2.2-2.2.2.3",
            "-A INPUT -m iprange --src-range 1.1.1.1-1.1.1.9 ! --dst-range 2.2.2.2-2.2.2.3",
        );
        rt6(
            "-A INPUT -m iprange --src-range ::1-::5",
            "-A INPUT -m iprange --src-range ::1-::5",
        );
    }
}

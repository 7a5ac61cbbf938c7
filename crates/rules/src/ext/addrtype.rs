//! Kernel: net/netfilter/xt_addrtype.c (revision 1); userspace libxt_addrtype.c.
//! Address types are routing types (`RTN_*`) as bits; printed in bit order.
//! `--limit-iface-in` needs an input device hook, `--limit-iface-out` an output one.

use super::{bad, opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::AddrtypeMatch;
use palisade_model::Match;

const OPTS: &[Opt] = &[
    opt(&["--src-type"], 1, true),
    opt(&["--dst-type"], 1, true),
    opt(&["--limit-iface-in"], 0, false),
    opt(&["--limit-iface-out"], 0, false),
];

const TYPES: &[&str] = &[
    "UNSPEC",
    "UNICAST",
    "LOCAL",
    "BROADCAST",
    "ANYCAST",
    "MULTICAST",
    "BLACKHOLE",
    "UNREACHABLE",
    "PROHIBIT",
    "THROW",
    "NAT",
    "XRESOLVE",
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "addrtype",
    family: None,
    opts: OPTS,
    init: |_| Match::Addrtype(AddrtypeMatch::default()),
    parse,
    check: |_, seen, _| {
        if seen & 0b11 == 0 {
            return Err("addrtype: you must specify `--src-type' or `--dst-type'".into());
        }
        if seen & 0b1100 == 0b1100 {
            return Err(
                "addrtype: you can't specify both `--limit-iface-in' and `--limit-iface-out'"
                    .into(),
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
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let Match::Addrtype(a) = m else { return Ok(()) };
    match o {
        0 | 1 => {
            let t = &args[0];
            let mut v = 0u16;
            for part in t.text.split(',') {
                let u = part.to_ascii_uppercase();
                let i = TYPES.iter().position(|n| *n == u).ok_or_else(|| {
                    bad(t, format!("bad address type `{part}`"), "UNSPEC, UNICAST, LOCAL, BROADCAST, ANYCAST, MULTICAST, BLACKHOLE, UNREACHABLE, PROHIBIT, THROW, NAT or XRESOLVE")
                })?;
                v |= 1 << i;
            }
            if o == 0 {
                a.src = v;
                a.inv_src = invert;
            } else {
                a.dst = v;
                a.inv_dst = invert;
            }
        }
        2 => a.limit_iface_in = true,
        _ => a.limit_iface_out = true,
    }
    Ok(())
}

fn types(v: u16) -> String {
    TYPES
        .iter()
        .enumerate()
        .filter(|(i, _)| v & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn save(a: &AddrtypeMatch, out: &mut String) {
    if a.src != 0 {
        super::inv(out, a.inv_src);
        out.push_str(" --src-type ");
        out.push_str(&types(a.src));
    }
    if a.dst != 0 {
        super::inv(out, a.inv_dst);
        out.push_str(" --dst-type ");
        out.push_str(&types(a.dst));
    }
    if a.limit_iface_in {
        out.push_str(" --limit-iface-in");
    }
    if a.limit_iface_out {
        out.push_str(" --limit-iface-out");
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -m addrtype --src-type LOCAL,UNICAST ! --dst-type BROADCAST --limit-iface-in",
            "-A INPUT -m addrtype --src-type UNICAST,LOCAL ! --dst-type BROADCAST --limit-iface-in",
        );
    }
}

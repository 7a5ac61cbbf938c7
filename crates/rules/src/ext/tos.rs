//! Kernel: net/netfilter/xt_dscp.c (tos_mt, revision 1); userspace libxt_tos.c.
//! `(tos & mask) == value`; a number defaults the mask to 0xff, a symbolic name
//! (RFC 1349) to 0x3f.

use super::{bad, opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::TosMatch;
use palisade_model::Match;

const OPTS: &[Opt] = &[opt(&["--tos"], 1, true)];

const NAMES: &[(&str, u8)] = &[
    ("Minimize-Delay", 0x10),
    ("Maximize-Throughput", 0x08),
    ("Maximize-Reliability", 0x04),
    ("Minimize-Cost", 0x02),
    ("Normal-Service", 0x00),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "tos",
    family: None,
    opts: OPTS,
    init: |_| {
        Match::Tos(TosMatch {
            value: 0,
            mask: 0xff,
            invert: false,
        })
    },
    parse,
    check: |_, seen, _| super::required(seen, "tos", "--tos"),
};

fn parse(
    m: &mut Match,
    _: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let Match::Tos(x) = m else { return Ok(()) };
    let t = &args[0];
    if let Some((_, v)) = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(&t.text)) {
        x.value = *v;
        x.mask = 0x3f;
    } else {
        let (v, mask, given) = super::value_mask(t, "tos")?;
        if v > 255 || (given && mask > 255) {
            return Err(bad(
                t,
                "tos value out of range",
                "VALUE[/MASK] within 0-255",
            ));
        }
        x.value = v as u8;
        x.mask = if mask == u32::MAX { 0xff } else { mask as u8 };
    }
    x.invert = invert;
    Ok(())
}

pub(crate) fn save(x: &TosMatch, out: &mut String) {
    super::inv(out, x.invert);
    out.push_str(&format!(" --tos 0x{:02x}/0x{:02x}", x.value, x.mask));
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -m tos --tos 0x10",
            "-A INPUT -m tos --tos 0x10/0xff",
        );
        rt4(
            "-A INPUT -m tos --tos Minimize-Delay",
            "-A INPUT -m tos --tos 0x10/0x3f",
        );
        rt4(
            "-A INPUT -m tos ! --tos 0x04/0x0f",
            "-A INPUT -m tos ! --tos 0x04/0x0f",
        );
    }
}

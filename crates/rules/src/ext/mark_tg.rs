//! Kernel: net/netfilter/xt_mark.c (mark_tg, revision 2); userspace libxt_MARK.c.
//! Every form becomes `--set-xmark value/mask`: nfmark = (nfmark & !mask) ^ value.

use super::{opt, value_mask, Ctx, Opt, TargetExt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::targets::XMark;
use palisade_model::Target;

const OPTS: &[Opt] = &[
    opt(&["--set-xmark"], 1, false),
    opt(&["--set-mark"], 1, false),
    opt(&["--and-mark"], 1, false),
    opt(&["--or-mark"], 1, false),
    opt(&["--xor-mark"], 1, false),
];

pub(crate) static EXT: TargetExt = TargetExt {
    name: "MARK",
    family: None,
    opts: OPTS,
    init: |_| Target::Mark(XMark { value: 0, mask: 0 }),
    parse,
    check: |_, seen, _| match seen.count_ones() {
        0 => Err("MARK target: parameter is required".into()),
        1 => Ok(()),
        _ => Err("MARK target: only one action may be given".into()),
    },
};

/// Converts one of the five MARK/CONNMARK value options to an xmark.
pub(crate) fn xmark(o: usize, t: &Tok) -> Result<XMark, LineErr> {
    let (v, m, _) = value_mask(t, "mark")?;
    Ok(match o {
        0 => XMark { value: v, mask: m },
        1 => XMark {
            value: v,
            mask: v | m,
        },
        2 => XMark { value: 0, mask: !v },
        3 => XMark { value: v, mask: v },
        _ => XMark { value: v, mask: 0 },
    })
}

fn parse(t: &mut Target, o: usize, _: bool, args: &[Tok], _: &Ctx, _: u64) -> Result<(), LineErr> {
    *t = Target::Mark(xmark(o, &args[0])?);
    Ok(())
}

pub(crate) fn save(m: &XMark, out: &mut String) {
    out.push_str(&format!(
        " -j MARK --set-xmark 0x{:x}/0x{:x}",
        m.value, m.mask
    ));
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt;
    use palisade_model::{Family, TableId};

    #[test]
    fn kernel_observed() {
        for (a, b) in [
            ("--set-mark 5", "--set-xmark 0x5/0xffffffff"),
            ("--set-mark 5/0xff", "--set-xmark 0x5/0xff"),
            ("--set-xmark 5/0xff", "--set-xmark 0x5/0xff"),
            ("--and-mark 0xf", "--set-xmark 0x0/0xfffffff0"),
            ("--or-mark 0xf", "--set-xmark 0xf/0xf"),
            ("--xor-mark 0xf", "--set-xmark 0xf/0x0"),
        ] {
            rt(
                Family::V4,
                TableId::Mangle,
                &format!("-A PREROUTING -j MARK {a}"),
                &format!("-A PREROUTING -j MARK {b}"),
            );
        }
    }
}

//! Kernel: net/netfilter/xt_connmark.c (connmark_tg); userspace libxt_CONNMARK.c.
//! Sets the conntrack mark (xmark forms as MARK), or copies between packet and
//! connection mark through masks; `--mask` sets both masks.

use super::{bad, mark_tg::xmark, opt, Ctx, Opt, TargetExt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::targets::{ConnmarkTarget, XMark};
use palisade_model::Target;

const OPTS: &[Opt] = &[
    opt(&["--set-xmark"], 1, false),
    opt(&["--set-mark"], 1, false),
    opt(&["--and-mark"], 1, false),
    opt(&["--or-mark"], 1, false),
    opt(&["--xor-mark"], 1, false),
    opt(&["--save-mark"], 0, false),
    opt(&["--restore-mark"], 0, false),
    opt(&["--nfmask"], 1, false),
    opt(&["--ctmask"], 1, false),
    opt(&["--mask"], 1, false),
];

pub(crate) static EXT: TargetExt = TargetExt {
    name: "CONNMARK",
    family: None,
    opts: OPTS,
    init: |_| Target::Connmark(ConnmarkTarget::Set(XMark { value: 0, mask: 0 })),
    parse,
    check: |_, seen, _| {
        let actions = (seen & 0b111_1111).count_ones();
        if actions != 1 {
            return Err("CONNMARK target: exactly one action is required".into());
        }
        if seen & (0b111 << 7) != 0 && seen & (0b11 << 5) == 0 {
            return Err("CONNMARK: `--nfmask', `--ctmask' and `--mask' need `--save-mark' or `--restore-mark'".into());
        }
        Ok(())
    },
};

fn mask(t: &Tok) -> Result<u32, LineErr> {
    crate::names::parse_uint(&t.text)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| bad(t, format!("bad mask `{}`", t.text), "a 32-bit number"))
}

fn parse(t: &mut Target, o: usize, _: bool, args: &[Tok], _: &Ctx, _: u64) -> Result<(), LineErr> {
    let Target::Connmark(c) = t else {
        return Ok(());
    };
    match o {
        0..=4 => *c = ConnmarkTarget::Set(xmark(o, &args[0])?),
        5 => {
            *c = ConnmarkTarget::Save {
                nfmask: u32::MAX,
                ctmask: u32::MAX,
            }
        }
        6 => {
            *c = ConnmarkTarget::Restore {
                nfmask: u32::MAX,
                ctmask: u32::MAX,
            }
        }
        _ => {
            let m = mask(&args[0])?;
            match c {
                ConnmarkTarget::Save { nfmask, ctmask }
                | ConnmarkTarget::Restore { nfmask, ctmask } => match o {
                    7 => *nfmask = m,
                    8 => *ctmask = m,
                    _ => {
                        *nfmask = m;
                        *ctmask = m;
                    }
                },
                ConnmarkTarget::Set(_) => {
                    return Err(bad(
                        &args[0],
                        "mask options need `--save-mark' or `--restore-mark' first",
                        "--save-mark or --restore-mark before it",
                    ));
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn save(c: &ConnmarkTarget, out: &mut String) {
    out.push_str(" -j CONNMARK");
    match c {
        ConnmarkTarget::Set(x) => {
            out.push_str(&format!(" --set-xmark 0x{:x}/0x{:x}", x.value, x.mask))
        }
        ConnmarkTarget::Save { nfmask, ctmask } => out.push_str(&format!(
            " --save-mark --nfmask 0x{nfmask:x} --ctmask 0x{ctmask:x}"
        )),
        ConnmarkTarget::Restore { nfmask, ctmask } => out.push_str(&format!(
            " --restore-mark --nfmask 0x{nfmask:x} --ctmask 0x{ctmask:x}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt;
    use palisade_model::{Family, TableId};

    #[test]
    fn kernel_observed() {
        for (a, b) in [
            ("--set-mark 5", "--set-xmark 0x5/0xffffffff"),
            ("--set-xmark 5/7", "--set-xmark 0x5/0x7"),
            (
                "--save-mark",
                "--save-mark --nfmask 0xffffffff --ctmask 0xffffffff",
            ),
            (
                "--restore-mark",
                "--restore-mark --nfmask 0xffffffff --ctmask 0xffffffff",
            ),
            (
                "--save-mark --nfmask 0xff --ctmask 0xf0",
                "--save-mark --nfmask 0xff --ctmask 0xf0",
            ),
            (
                "--restore-mark --mask 0xff",
                "--restore-mark --nfmask 0xff --ctmask 0xff",
            ),
            ("--and-mark 3", "--set-xmark 0x0/0xfffffffc"),
            ("--or-mark 3", "--set-xmark 0x3/0x3"),
        ] {
            rt(
                Family::V4,
                TableId::Mangle,
                &format!("-A PREROUTING -j CONNMARK {a}"),
                &format!("-A PREROUTING -j CONNMARK {b}"),
            );
        }
    }
}

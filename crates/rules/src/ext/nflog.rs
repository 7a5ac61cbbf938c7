//! Kernel: net/netfilter/xt_NFLOG.c; userspace libxt_NFLOG.c. Sends the packet to a
//! netlink log group and continues. `--nflog-range` is obsolete and ignored.

use super::{opt, uint, Ctx, Opt, TargetExt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::targets::NflogTarget;
use palisade_model::Target;

const OPTS: &[Opt] = &[
    opt(&["--nflog-group"], 1, false),
    opt(&["--nflog-prefix"], 1, false),
    opt(&["--nflog-range"], 1, false),
    opt(&["--nflog-size"], 1, false),
    opt(&["--nflog-threshold"], 1, false),
];

pub(crate) static EXT: TargetExt = TargetExt {
    name: "NFLOG",
    family: None,
    opts: OPTS,
    init: |_| {
        Target::Nflog(NflogTarget {
            group: 0,
            prefix: String::new(),
            size: None,
            threshold: 1,
        })
    },
    parse,
    check: |_, _, _| Ok(()),
};

fn parse(t: &mut Target, o: usize, _: bool, args: &[Tok], _: &Ctx, _: u64) -> Result<(), LineErr> {
    let Target::Nflog(n) = t else { return Ok(()) };
    let a = &args[0];
    match o {
        0 => n.group = uint(a, 65535, "group")? as u16,
        1 => {
            n.prefix = super::truncate(&a.text, 63);
        }
        2 => {
            uint(a, u32::MAX as u64, "range")?;
        }
        3 => n.size = Some(uint(a, u32::MAX as u64, "size")? as u32),
        _ => n.threshold = uint(a, 65535, "threshold")? as u16,
    }
    Ok(())
}

pub(crate) fn save(n: &NflogTarget, out: &mut String) {
    out.push_str(" -j NFLOG");
    if !n.prefix.is_empty() {
        out.push_str(" --nflog-prefix");
        super::save_string(&n.prefix, out);
    }
    if n.group != 0 {
        out.push_str(&format!(" --nflog-group {}", n.group));
    }
    if let Some(s) = n.size {
        out.push_str(&format!(" --nflog-size {s}"));
    }
    if n.threshold != 1 {
        out.push_str(&format!(" --nflog-threshold {}", n.threshold));
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4("-A INPUT -j NFLOG", "-A INPUT -j NFLOG");
        rt4(
            r#"-A INPUT -j NFLOG --nflog-group 5 --nflog-prefix "x y" --nflog-size 100 --nflog-threshold 3"#,
            r#"-A INPUT -j NFLOG --nflog-prefix "x y" --nflog-group 5 --nflog-size 100 --nflog-threshold 3"#,
        );
        rt4("-A INPUT -j NFLOG --nflog-range 100", "-A INPUT -j NFLOG");
    }
}

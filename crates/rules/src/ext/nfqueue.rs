//! Kernel: net/netfilter/xt_NFQUEUE.c (revision 3); userspace libxt_NFQUEUE.c. Hands
//! the packet to a userspace queue; `--queue-num` always prints.

use super::{bad, opt, uint, Ctx, Opt, TargetExt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::targets::NfqueueTarget;
use palisade_model::Target;

const OPTS: &[Opt] = &[
    opt(&["--queue-num"], 1, false),
    opt(&["--queue-balance"], 1, false),
    opt(&["--queue-bypass"], 0, false),
    opt(&["--queue-cpu-fanout"], 0, false),
];

pub(crate) static EXT: TargetExt = TargetExt {
    name: "NFQUEUE",
    family: None,
    opts: OPTS,
    init: |_| {
        Target::Nfqueue(NfqueueTarget {
            num: 0,
            total: 1,
            bypass: false,
            cpu_fanout: false,
        })
    },
    parse,
    check: |_, seen, _| {
        if seen & 0b11 == 0b11 {
            return Err("NFQUEUE: `--queue-num' and `--queue-balance' are exclusive".into());
        }
        Ok(())
    },
};

fn parse(t: &mut Target, o: usize, _: bool, args: &[Tok], _: &Ctx, _: u64) -> Result<(), LineErr> {
    let Target::Nfqueue(q) = t else { return Ok(()) };
    match o {
        0 => {
            q.num = uint(&args[0], 65535, "queue number")? as u16;
            q.total = 1;
        }
        1 => {
            let a = &args[0];
            let e = || {
                bad(
                    a,
                    format!("bad queue range `{}`", a.text),
                    "FIRST:LAST with FIRST < LAST",
                )
            };
            let (x, y) = a.text.split_once(':').ok_or_else(e)?;
            let x: u16 = x.parse().map_err(|_| e())?;
            let y: u16 = y.parse().map_err(|_| e())?;
            if x >= y {
                return Err(e());
            }
            q.num = x;
            q.total = y - x + 1;
        }
        2 => q.bypass = true,
        _ => q.cpu_fanout = true,
    }
    Ok(())
}

pub(crate) fn save(q: &NfqueueTarget, out: &mut String) {
    out.push_str(" -j NFQUEUE");
    if q.total > 1 {
        out.push_str(&format!(
            " --queue-balance {}:{}",
            q.num,
            u32::from(q.num) + u32::from(q.total) - 1
        ));
    } else {
        out.push_str(&format!(" --queue-num {}", q.num));
    }
    if q.bypass {
        out.push_str(" --queue-bypass");
    }
    if q.cpu_fanout {
        out.push_str(" --queue-cpu-fanout");
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4("-A INPUT -j NFQUEUE", "-A INPUT -j NFQUEUE --queue-num 0");
        rt4(
            "-A INPUT -j NFQUEUE --queue-num 3 --queue-bypass",
            "-A INPUT -j NFQUEUE --queue-num 3 --queue-bypass",
        );
        rt4(
            "-A INPUT -j NFQUEUE --queue-balance 2:5 --queue-cpu-fanout --queue-bypass",
            "-A INPUT -j NFQUEUE --queue-balance 2:5 --queue-bypass --queue-cpu-fanout",
        );
    }
}

//! Kernel: net/netfilter/xt_recent.c (revision 1); userspace libxt_recent.c.
//! Exactly one of `--set`, `--rcheck`, `--update`, `--remove`; the list name defaults to
//! DEFAULT, the mask to all ones, the side to `--rsource`, and all three are always
//! printed. Save order: command, seconds, reap, hitcount, rttl, name, mask, side.

use super::{bad, ip_addr, opt, uint, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::addr::prefix_mask;
use palisade_model::matches::{RecentCmd, RecentMatch};
use palisade_model::{Family, Match};

const OPTS: &[Opt] = &[
    opt(&["--set"], 0, true),
    opt(&["--rcheck"], 0, true),
    opt(&["--update"], 0, true),
    opt(&["--remove"], 0, true),
    opt(&["--seconds"], 1, false),
    opt(&["--reap"], 0, false),
    opt(&["--hitcount"], 1, false),
    opt(&["--rttl"], 0, false),
    opt(&["--name"], 1, false),
    opt(&["--rsource"], 0, false),
    opt(&["--rdest"], 0, false),
    opt(&["--mask"], 1, false),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "recent",
    family: None,
    opts: OPTS,
    init: |ctx| {
        Match::Recent(RecentMatch {
            cmd: RecentCmd::Set,
            name: "DEFAULT".into(),
            seconds: 0,
            reap: false,
            hitcount: 0,
            rttl: false,
            rdest: false,
            mask: prefix_mask(ctx.family == Family::V6, 128),
            invert: false,
        })
    },
    parse,
    check: |m, seen, _| {
        let Match::Recent(r) = m else { return Ok(()) };
        if seen & 0xF == 0 {
            return Err(
                "recent: you must specify one of `--set', `--rcheck', `--update' or `--remove'"
                    .into(),
            );
        }
        if r.reap && r.seconds == 0 {
            return Err("recent: `--reap' requires `--seconds'".into());
        }
        if (r.seconds != 0 || r.hitcount != 0)
            && !matches!(r.cmd, RecentCmd::Check | RecentCmd::Update)
        {
            return Err("recent: `--seconds' and `--hitcount' can only be used with `--rcheck' or `--update'".into());
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
    let Match::Recent(r) = m else { return Ok(()) };
    match o {
        0..=3 => {
            if seen & 0xF != 0 {
                return Err(LineErr::new(0, "", "recent: only one of `--set', `--rcheck', `--update' or `--remove' may be given")
                    .expect("a single command"));
            }
            r.cmd = [
                RecentCmd::Set,
                RecentCmd::Check,
                RecentCmd::Update,
                RecentCmd::Remove,
            ][o];
            r.invert = invert;
        }
        4 => r.seconds = uint(&args[0], u32::MAX as u64, "seconds")? as u32,
        5 => r.reap = true,
        6 => {
            let v = uint(&args[0], 65535, "hitcount")?;
            r.hitcount = v as u32;
        }
        7 => r.rttl = true,
        8 => {
            let n = &args[0].text;
            if n.is_empty() || n.len() > 199 || n.contains('/') {
                return Err(bad(
                    &args[0],
                    format!("invalid recent list name `{n}`"),
                    "a name of 1-199 characters",
                ));
            }
            r.name = n.to_string();
        }
        9 | 10 => {
            if seen & (0b11 << 9) != 0 {
                return Err(
                    LineErr::new(0, "", "recent: `--rsource' and `--rdest' are exclusive")
                        .expect("one of them"),
                );
            }
            r.rdest = o == 10;
        }
        _ => {
            r.mask = ip_addr(&args[0].text, ctx.family)
                .map_err(|e| bad(&args[0], e, "an address mask"))?;
        }
    }
    Ok(())
}

pub(crate) fn save(r: &RecentMatch, out: &mut String) {
    super::inv(out, r.invert);
    out.push_str(match r.cmd {
        RecentCmd::Set => " --set",
        RecentCmd::Check => " --rcheck",
        RecentCmd::Update => " --update",
        RecentCmd::Remove => " --remove",
    });
    if r.seconds != 0 {
        out.push_str(&format!(" --seconds {}", r.seconds));
    }
    if r.reap {
        out.push_str(" --reap");
    }
    if r.hitcount != 0 {
        out.push_str(&format!(" --hitcount {}", r.hitcount));
    }
    if r.rttl {
        out.push_str(" --rttl");
    }
    out.push_str(" --name ");
    out.push_str(&r.name);
    out.push_str(&format!(" --mask {}", r.mask));
    out.push_str(if r.rdest { " --rdest" } else { " --rsource" });
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err4, rt4, rt6};

    #[test]
    fn kernel_observed() {
        rt4("-A TCP -p tcp -m recent --update --seconds 60 --name TCP-PORTSCAN -j REJECT --reject-with tcp-reset", "-A TCP -p tcp -m recent --update --seconds 60 --name TCP-PORTSCAN --mask 255.255.255.255 --rsource -j REJECT --reject-with tcp-reset");
        rt4("-A TCP -m recent --name sshbf --rttl --rcheck --hitcount 3 --seconds 10 -j DROP", "-A TCP -m recent --rcheck --seconds 10 --hitcount 3 --rttl --name sshbf --mask 255.255.255.255 --rsource -j DROP");
        rt4(
            "-A INPUT -m recent --name x --set --rdest",
            "-A INPUT -m recent --set --name x --mask 255.255.255.255 --rdest",
        );
        rt4("-A INPUT -m recent ! --rcheck --seconds 5 --reap --hitcount 2 --rttl --mask 255.255.0.0", "-A INPUT -m recent ! --rcheck --seconds 5 --reap --hitcount 2 --rttl --name DEFAULT --mask 255.255.0.0 --rsource");
        rt4(
            "-A INPUT -m recent --remove",
            "-A INPUT -m recent --remove --name DEFAULT --mask 255.255.255.255 --rsource",
        );
        rt6("-A INPUT -m recent --set", "-A INPUT -m recent --set --name DEFAULT --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource");
        assert!(err4("-A INPUT -m recent --name x")
            .message
            .contains("--set"));
    }
}

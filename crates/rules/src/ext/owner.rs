//! Kernel: net/netfilter/xt_owner.c (revision 1); userspace libxt_owner.c. The socket
//! owning a locally generated packet; OUTPUT and POSTROUTING only. User and group
//! names other than `root` are refused (no /etc/passwd lookups). Save order:
//! socket-exists, uid, gid, suppl-groups.

use super::{bad, opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::{Inv, OwnerMatch};
use palisade_model::Match;

const OPTS: &[Opt] = &[
    opt(&["--uid-owner"], 1, true),
    opt(&["--gid-owner"], 1, true),
    opt(&["--socket-exists"], 0, true),
    opt(&["--suppl-groups"], 0, false),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "owner",
    family: None,
    opts: OPTS,
    init: |_| Match::Owner(OwnerMatch::default()),
    parse,
    check: |_, seen, _| {
        if seen & 0b111 == 0 {
            return Err(
                "owner: one of `--uid-owner', `--gid-owner' or `--socket-exists' is required"
                    .into(),
            );
        }
        if seen & 0b1000 != 0 && seen & 0b10 == 0 {
            return Err("owner: `--suppl-groups' requires `--gid-owner'".into());
        }
        Ok(())
    },
};

fn id_range(t: &Tok) -> Result<(u32, u32), LineErr> {
    let e = || {
        bad(
            t,
            format!("bad owner id `{}` (names are not looked up)", t.text),
            "ID, FIRST-LAST or root",
        )
    };
    let one = |s: &str| -> Result<u32, ()> {
        if s == "root" {
            return Ok(0);
        }
        s.parse::<u32>().ok().filter(|v| *v != u32::MAX).ok_or(())
    };
    super::range(&t.text, '-', None, one).map_err(|_| e())
}

fn parse(
    m: &mut Match,
    o: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let Match::Owner(w) = m else { return Ok(()) };
    match o {
        0 => {
            w.uid = Some(Inv {
                value: id_range(&args[0])?,
                invert,
            })
        }
        1 => {
            w.gid = Some(Inv {
                value: id_range(&args[0])?,
                invert,
            })
        }
        2 => w.socket_exists = Some(!invert),
        _ => w.suppl_groups = true,
    }
    Ok(())
}

pub(crate) fn save(w: &OwnerMatch, out: &mut String) {
    if let Some(s) = w.socket_exists {
        super::inv(out, !s);
        out.push_str(" --socket-exists");
    }
    if let Some(u) = &w.uid {
        super::inv(out, u.invert);
        out.push_str(&format!(
            " --uid-owner {}",
            super::fmt_range(u.value.0, u.value.1, '-')
        ));
    }
    if let Some(g) = &w.gid {
        super::inv(out, g.invert);
        out.push_str(&format!(
            " --gid-owner {}",
            super::fmt_range(g.value.0, g.value.1, '-')
        ));
    }
    if w.suppl_groups {
        out.push_str(" --suppl-groups");
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4(
            "-A OUTPUT -m owner --uid-owner root",
            "-A OUTPUT -m owner --uid-owner 0",
        );
        rt4(
            "-A OUTPUT -m owner ! --uid-owner 10-20 --gid-owner 5 --socket-exists --suppl-groups",
            "-A OUTPUT -m owner --socket-exists ! --uid-owner 10-20 --gid-owner 5 --suppl-groups",
        );
        rt4(
            "-A OUTPUT -m owner ! --socket-exists",
            "-A OUTPUT -m owner ! --socket-exists",
        );
    }
}

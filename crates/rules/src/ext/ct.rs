//! Kernel: net/netfilter/xt_CT.c (revision 2, and NOTRACK as its alias); userspace
//! libxt_CT.c. Attaches a conntrack template (or no tracking) before conntrack runs,
//! hence raw table only. nf_tables-backed iptables keeps `-j NOTRACK` and
//! `-j CT --notrack` apart when printing.

use super::{bad, opt, uint, Ctx, Opt, TargetExt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::CtDir;
use palisade_model::targets::CtTarget;
use palisade_model::Target;

const OPTS: &[Opt] = &[
    opt(&["--notrack"], 0, false),
    opt(&["--helper"], 1, false),
    opt(&["--ctevents"], 1, false),
    opt(&["--expevents"], 1, false),
    opt(&["--zone"], 1, false),
    opt(&["--timeout"], 1, false),
    opt(&["--zone-orig"], 1, false),
    opt(&["--zone-reply"], 1, false),
];

const CT_EVENTS: &[&str] = &[
    "new",
    "related",
    "destroy",
    "reply",
    "assured",
    "protoinfo",
    "helper",
    "mark",
    "natseqinfo",
    "secmark",
];
const EXP_EVENTS: &[&str] = &["new"];

pub(crate) static CT: TargetExt = TargetExt {
    name: "CT",
    family: None,
    opts: OPTS,
    init: |_| Target::Ct(CtTarget::default()),
    parse,
    check: |_, seen, _| {
        if seen & 1 != 0 && seen & !1 != 0 {
            return Err("CT: `--notrack' cannot be combined with other options".into());
        }
        Ok(())
    },
};

pub(crate) static NOTRACK: TargetExt = TargetExt {
    name: "NOTRACK",
    family: None,
    opts: &[],
    init: |_| Target::Notrack,
    parse: |_, _, _, _, _, _| Ok(()),
    check: |_, _, _| Ok(()),
};

fn events(t: &Tok, names: &[&str]) -> Result<u32, LineErr> {
    let mut v = 0;
    for part in t.text.split(',') {
        let i = names
            .iter()
            .position(|n| *n == part)
            .ok_or_else(|| bad(t, format!("unknown event `{part}`"), &names.join(", ")))?;
        v |= 1 << i;
    }
    Ok(v)
}

fn name(t: &Tok, what: &str) -> Result<String, LineErr> {
    if t.text.is_empty() || t.text.len() > 31 {
        return Err(bad(
            t,
            format!("bad {what} name"),
            "a name of 1-31 characters",
        ));
    }
    Ok(t.text.to_string())
}

fn parse(t: &mut Target, o: usize, _: bool, args: &[Tok], _: &Ctx, _: u64) -> Result<(), LineErr> {
    let Target::Ct(c) = t else { return Ok(()) };
    match o {
        0 => c.notrack = true,
        1 => c.helper = Some(name(&args[0], "helper")?),
        2 => c.ct_events = events(&args[0], CT_EVENTS)?,
        3 => c.exp_events = events(&args[0], EXP_EVENTS)?,
        4 | 6 | 7 => {
            c.zone = uint(&args[0], 65535, "zone")? as u16;
            c.zone_dir = match o {
                6 => Some(CtDir::Original),
                7 => Some(CtDir::Reply),
                _ => None,
            };
        }
        _ => c.timeout = Some(name(&args[0], "timeout policy")?),
    }
    Ok(())
}

fn fmt_events(v: u32, names: &[&str]) -> String {
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| v & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn save(t: &Target, out: &mut String) {
    match t {
        Target::Notrack => out.push_str(" -j NOTRACK"),
        Target::Ct(c) => {
            out.push_str(" -j CT");
            if c.notrack {
                out.push_str(" --notrack");
            }
            if let Some(h) = &c.helper {
                out.push_str(" --helper ");
                out.push_str(h);
            }
            if c.ct_events != 0 {
                out.push_str(" --ctevents ");
                out.push_str(&fmt_events(c.ct_events, CT_EVENTS));
            }
            if c.exp_events != 0 {
                out.push_str(" --expevents ");
                out.push_str(&fmt_events(c.exp_events, EXP_EVENTS));
            }
            match c.zone_dir {
                Some(CtDir::Original) => out.push_str(&format!(" --zone-orig {}", c.zone)),
                Some(CtDir::Reply) => out.push_str(&format!(" --zone-reply {}", c.zone)),
                None if c.zone != 0 => out.push_str(&format!(" --zone {}", c.zone)),
                None => {}
            }
            if let Some(tm) = &c.timeout {
                out.push_str(" --timeout ");
                out.push_str(tm);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err4, rt};
    use palisade_model::{Family, TableId};

    #[test]
    fn kernel_observed() {
        let raw = |a: &str, b: &str| rt(Family::V4, TableId::Raw, a, b);
        raw("-A PREROUTING -j NOTRACK", "-A PREROUTING -j NOTRACK");
        raw(
            "-A PREROUTING -j CT --notrack",
            "-A PREROUTING -j CT --notrack",
        );
        raw(
            "-A PREROUTING -j CT --zone 5",
            "-A PREROUTING -j CT --zone 5",
        );
        raw(
            "-A PREROUTING -j CT --zone-orig 60921",
            "-A PREROUTING -j CT --zone-orig 60921",
        );
        raw(
            "-A PREROUTING -j CT --ctevents new,related,destroy --expevents new",
            "-A PREROUTING -j CT --ctevents new,related,destroy --expevents new",
        );
        assert!(err4("-A INPUT -j CT --notrack").message.contains("raw"));
    }
}

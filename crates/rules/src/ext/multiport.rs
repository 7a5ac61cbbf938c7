//! Kernel: net/netfilter/xt_multiport.c (revision 1); userspace libxt_multiport.c.
//! Up to 15 ports, a range counting as two; needs `-p` tcp, udp, udplite, sctp or dccp
//! (not inverted).

use super::{bad, fmt_ports, opt, Ctx, MatchExt, Opt, RangeErr};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::{MultiportKind, MultiportMatch, PortRange};
use palisade_model::Match;

const OPTS: &[Opt] = &[
    opt(&["--sports", "--source-ports"], 1, true),
    opt(&["--dports", "--destination-ports"], 1, true),
    opt(&["--ports"], 1, true),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "multiport",
    family: None,
    opts: OPTS,
    init: |_| {
        Match::Multiport(MultiportMatch {
            kind: MultiportKind::Either,
            ports: Vec::new(),
            invert: false,
        })
    },
    parse,
    check: |_, seen, ctx| {
        if seen == 0 {
            return Err("multiport: one of `--sports`, `--dports` or `--ports` is required".into());
        }
        if !super::has_ports(ctx.proto) || ctx.inv_proto {
            return Err(
                "multiport needs `-p tcp`, `-p udp`, `-p udplite`, `-p sctp` or `-p dccp`".into(),
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
    ctx: &Ctx,
    seen: u64,
) -> Result<(), LineErr> {
    let Match::Multiport(mp) = m else {
        return Ok(());
    };
    let t = &args[0];
    if seen != 0 {
        return Err(bad(
            t,
            "multiport: only one of `--sports`, `--dports`, `--ports` may be given",
            "a single port option",
        ));
    }
    mp.kind = match o {
        0 => MultiportKind::Source,
        1 => MultiportKind::Destination,
        _ => MultiportKind::Either,
    };
    mp.invert = invert;
    let mut slots = 0;
    for part in t.text.split(',') {
        let e = |msg: String| bad(t, msg, "a comma list of PORT or FIRST:LAST");
        let (min, max) =
            super::range(part, ':', None, |p| super::port(p, ctx.proto)).map_err(|x| match x {
                RangeErr::End(m) => e(m),
                RangeErr::Reversed => e(format!("invalid port range `{part}`")),
            })?;
        // A written range takes two of the kernel's slots, even `5:5`.
        slots += if part.contains(':') { 2 } else { 1 };
        mp.ports.push(PortRange { min, max });
    }
    if slots > 15 {
        return Err(bad(
            t,
            "too many ports specified (at most 15, a range counts as two)",
            "at most 15 ports",
        ));
    }
    Ok(())
}

pub(crate) fn save(m: &MultiportMatch, out: &mut String) {
    super::inv(out, m.invert);
    out.push_str(match m.kind {
        MultiportKind::Source => " --sports ",
        MultiportKind::Destination => " --dports ",
        MultiportKind::Either => " --ports ",
    });
    let v: Vec<String> = m.ports.iter().map(fmt_ports).collect();
    out.push_str(&v.join(","));
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err4, rt4};

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -p tcp -m multiport --dports 22,80,1000:2000",
            "-A INPUT -p tcp -m multiport --dports 22,80,1000:2000",
        );
        rt4(
            "-A INPUT -p tcp -m multiport ! --sports ssh,http",
            "-A INPUT -p tcp -m multiport ! --sports 22,80",
        );
        rt4(
            "-A INPUT -p udp -m multiport --ports 53",
            "-A INPUT -p udp -m multiport --ports 53",
        );
        assert!(err4("-A INPUT -m multiport --ports 53")
            .message
            .contains("multiport needs"));
    }
}

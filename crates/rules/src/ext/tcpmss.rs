//! Kernel: net/netfilter/xt_TCPMSS.c; userspace libxt_TCPMSS.c. Rewrites the MSS
//! option of SYN segments, so the rule must be `-p tcp` (the kernel's SYN-match check
//! is not made by nf_tables-backed iptables); `--clamp-mss-to-pmtu` only where the
//! route is known (FORWARD, OUTPUT, POSTROUTING).

use super::{opt, uint, Ctx, Opt, TargetExt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::targets::TcpmssTarget;
use palisade_model::Target;

const OPTS: &[Opt] = &[
    opt(&["--set-mss"], 1, false),
    opt(&["--clamp-mss-to-pmtu"], 0, false),
];

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TCPMSS",
    family: None,
    opts: OPTS,
    init: |_| Target::Tcpmss(TcpmssTarget::ClampToPmtu),
    parse,
    check: |_, seen, ctx| {
        if seen.count_ones() != 1 {
            return Err(
                "TCPMSS target: exactly one of `--set-mss' or `--clamp-mss-to-pmtu' is required"
                    .into(),
            );
        }
        if ctx.proto != 6 || ctx.inv_proto {
            return Err("TCPMSS target: only works on TCP SYN packets; use `-p tcp --tcp-flags SYN,RST SYN`".into());
        }
        Ok(())
    },
};

fn parse(t: &mut Target, o: usize, _: bool, args: &[Tok], _: &Ctx, _: u64) -> Result<(), LineErr> {
    *t = Target::Tcpmss(if o == 0 {
        TcpmssTarget::Set(uint(&args[0], 65535, "MSS")? as u16)
    } else {
        TcpmssTarget::ClampToPmtu
    });
    Ok(())
}

pub(crate) fn save(m: &TcpmssTarget, out: &mut String) {
    match m {
        TcpmssTarget::Set(v) => out.push_str(&format!(" -j TCPMSS --set-mss {v}")),
        TcpmssTarget::ClampToPmtu => out.push_str(" -j TCPMSS --clamp-mss-to-pmtu"),
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err, rt};
    use palisade_model::{Family, TableId};

    #[test]
    fn kernel_observed() {
        rt(
            Family::V4,
            TableId::Mangle,
            "-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
            "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
        );
        rt(
            Family::V4,
            TableId::Mangle,
            "-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400",
            "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400",
        );
        // nf_tables-backed iptables does not insist on a SYN match.
        rt(
            Family::V4,
            TableId::Mangle,
            "-A FORWARD -p tcp -j TCPMSS --set-mss 1400",
            "-A FORWARD -p tcp -j TCPMSS --set-mss 1400",
        );
        assert!(err(
            Family::V4,
            TableId::Mangle,
            "-A FORWARD -j TCPMSS --set-mss 1400"
        )
        .message
        .contains("TCP"));
    }
}

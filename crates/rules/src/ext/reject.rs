//! Kernel: net/ipv4/netfilter/ipt_REJECT.c, net/ipv6/netfilter/ip6t_REJECT.c;
//! userspace libipt_REJECT.c / libip6t_REJECT.c. Filter table only (INPUT, FORWARD,
//! OUTPUT and chains reached from them, checked in `check.rs`); the default reply is
//! port-unreachable and is always printed; `tcp-reset` needs `-p tcp`.

use super::{bad, opt, Ctx, Opt, TargetExt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::targets::RejectWith;
use palisade_model::{Family, Target};

const OPTS: &[Opt] = &[opt(&["--reject-with"], 1, false)];

/// (canonical name, alias, value) per family.
const V4: &[(&str, &str, RejectWith)] = &[
    (
        "icmp-net-unreachable",
        "net-unreach",
        RejectWith::IcmpNetUnreachable,
    ),
    (
        "icmp-host-unreachable",
        "host-unreach",
        RejectWith::IcmpHostUnreachable,
    ),
    (
        "icmp-port-unreachable",
        "port-unreach",
        RejectWith::IcmpPortUnreachable,
    ),
    (
        "icmp-proto-unreachable",
        "proto-unreach",
        RejectWith::IcmpProtoUnreachable,
    ),
    (
        "icmp-net-prohibited",
        "net-prohib",
        RejectWith::IcmpNetProhibited,
    ),
    (
        "icmp-host-prohibited",
        "host-prohib",
        RejectWith::IcmpHostProhibited,
    ),
    ("tcp-reset", "tcp-rst", RejectWith::TcpReset),
    (
        "icmp-admin-prohibited",
        "admin-prohib",
        RejectWith::IcmpAdminProhibited,
    ),
];

const V6: &[(&str, &str, RejectWith)] = &[
    ("icmp6-no-route", "no-route", RejectWith::Icmp6NoRoute),
    (
        "icmp6-adm-prohibited",
        "adm-prohibited",
        RejectWith::Icmp6AdmProhibited,
    ),
    (
        "icmp6-addr-unreachable",
        "addr-unreach",
        RejectWith::Icmp6AddrUnreachable,
    ),
    (
        "icmp6-port-unreachable",
        "port-unreach",
        RejectWith::Icmp6PortUnreachable,
    ),
    (
        "icmp6-policy-fail",
        "policy-fail",
        RejectWith::Icmp6PolicyFail,
    ),
    (
        "icmp6-reject-route",
        "reject-route",
        RejectWith::Icmp6RejectRoute,
    ),
    ("tcp-reset", "tcp-reset", RejectWith::TcpReset),
];

fn check(t: &mut Target, _: u64, ctx: &Ctx) -> Result<(), String> {
    if *t == Target::Reject(RejectWith::TcpReset) && (ctx.proto != 6 || ctx.inv_proto) {
        return Err("REJECT --reject-with tcp-reset requires `-p tcp`".into());
    }
    Ok(())
}

pub(crate) static EXT4: TargetExt = TargetExt {
    name: "REJECT",
    family: Some(Family::V4),
    opts: OPTS,
    init: |_| Target::Reject(RejectWith::IcmpPortUnreachable),
    parse,
    check,
};

pub(crate) static EXT6: TargetExt = TargetExt {
    name: "REJECT",
    family: Some(Family::V6),
    opts: OPTS,
    init: |_| Target::Reject(RejectWith::Icmp6PortUnreachable),
    parse,
    check,
};

fn parse(
    t: &mut Target,
    _: usize,
    _: bool,
    args: &[Tok],
    ctx: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let table = if ctx.family == Family::V6 { V6 } else { V4 };
    let a = &args[0];
    let l = a.text.to_ascii_lowercase();
    let v = table
        .iter()
        .find(|(n, al, _)| *n == l || *al == l)
        .map(|(_, _, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = table.iter().map(|(n, _, _)| *n).collect();
            bad(
                a,
                format!("unknown reject type `{}`", a.text),
                &names.join(", "),
            )
        })?;
    *t = Target::Reject(v);
    Ok(())
}

/// The canonical name of a reject type.
pub(crate) fn name(r: RejectWith) -> &'static str {
    V4.iter()
        .chain(V6.iter())
        .find(|(_, _, v)| *v == r)
        .map(|(n, _, _)| *n)
        .unwrap_or("icmp-port-unreachable")
}

pub(crate) fn save(r: RejectWith, out: &mut String) {
    out.push_str(" -j REJECT --reject-with ");
    out.push_str(name(r));
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err4, rt4, rt6};

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -j REJECT",
            "-A INPUT -j REJECT --reject-with icmp-port-unreachable",
        );
        for (a, b) in [
            ("net-unreach", "icmp-net-unreachable"),
            ("host-unreach", "icmp-host-unreachable"),
            ("port-unreach", "icmp-port-unreachable"),
            ("proto-unreach", "icmp-proto-unreachable"),
            ("net-prohib", "icmp-net-prohibited"),
            ("host-prohib", "icmp-host-prohibited"),
            ("admin-prohib", "icmp-admin-prohibited"),
        ] {
            rt4(
                &format!("-A INPUT -j REJECT --reject-with {a}"),
                &format!("-A INPUT -j REJECT --reject-with {b}"),
            );
        }
        rt4(
            "-A INPUT -p tcp -j REJECT --reject-with tcp-rst",
            "-A INPUT -p tcp -j REJECT --reject-with tcp-reset",
        );
        assert!(err4("-A INPUT -j REJECT --reject-with tcp-reset")
            .message
            .contains("-p tcp"));
        rt6(
            "-A INPUT -j REJECT",
            "-A INPUT -j REJECT --reject-with icmp6-port-unreachable",
        );
        for (a, b) in [
            ("no-route", "icmp6-no-route"),
            ("adm-prohibited", "icmp6-adm-prohibited"),
            ("addr-unreach", "icmp6-addr-unreachable"),
            ("policy-fail", "icmp6-policy-fail"),
            ("reject-route", "icmp6-reject-route"),
        ] {
            rt6(
                &format!("-A INPUT -j REJECT --reject-with {a}"),
                &format!("-A INPUT -j REJECT --reject-with {b}"),
            );
        }
    }
}

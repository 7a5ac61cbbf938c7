//! Kernel: net/ipv4/netfilter/ip_tables.c (icmp_match), net/ipv6/netfilter/ip6_tables.c
//! (icmp6_match); userspace libipt_icmp.c / libip6t_icmp6.c. A type with codes 0-255
//! matches every code; type 255 with all codes is `any` (IPv4 only). The option is
//! mandatory in iptables 1.8.9.

use super::{bad, opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use crate::names::parse_icmp;
use palisade_model::matches::IcmpMatch;
use palisade_model::{Family, Match};

const OPTS4: &[Opt] = &[opt(&["--icmp-type"], 1, true)];
const OPTS6: &[Opt] = &[opt(&["--icmpv6-type"], 1, true)];

fn any() -> IcmpMatch {
    IcmpMatch {
        icmp_type: 0xFF,
        code_min: 0,
        code_max: 0xFF,
        invert: false,
    }
}

pub(crate) static EXT4: MatchExt = MatchExt {
    name: "icmp",
    family: Some(Family::V4),
    opts: OPTS4,
    init: |_| Match::Icmp(any()),
    parse,
    check: |_, seen, _| super::required(seen, "icmp", "--icmp-type"),
};

pub(crate) static EXT6: MatchExt = MatchExt {
    name: "icmp6",
    family: Some(Family::V6),
    opts: OPTS6,
    init: |_| Match::Icmp6(any()),
    parse,
    check: |_, seen, _| super::required(seen, "icmp6", "--icmpv6-type"),
};

fn parse(
    m: &mut Match,
    _: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let (i, v6) = match m {
        Match::Icmp(i) => (i, false),
        Match::Icmp6(i) => (i, true),
        _ => return Ok(()),
    };
    let (t, lo, hi) = parse_icmp(&args[0].text, v6).ok_or_else(|| {
        bad(
            &args[0],
            format!(
                "invalid ICMP{} type `{}` specified",
                if v6 { "v6" } else { "" },
                args[0].text
            ),
            "a type name (e.g. echo-request), TYPE or TYPE/CODE",
        )
    })?;
    i.icmp_type = t;
    i.code_min = lo;
    i.code_max = hi;
    i.invert = invert;
    Ok(())
}

pub(crate) fn save(i: &IcmpMatch, v6: bool, out: &mut String) {
    super::inv(out, i.invert);
    out.push_str(if v6 {
        " --icmpv6-type "
    } else {
        " --icmp-type "
    });
    if !v6 && i.icmp_type == 0xFF && i.code_min == 0 && i.code_max == 0xFF {
        out.push_str("any");
    } else if i.code_min == 0 && i.code_max == 0xFF {
        out.push_str(&i.icmp_type.to_string());
    } else {
        out.push_str(&format!("{}/{}", i.icmp_type, i.code_min));
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{rt4, rt6};

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -p icmp --icmp-type echo-request",
            "-A INPUT -p icmp -m icmp --icmp-type 8",
        );
        rt4(
            "-A INPUT -p icmp --icmp-type any",
            "-A INPUT -p icmp -m icmp --icmp-type any",
        );
        rt4(
            "-A INPUT -p icmp ! --icmp-type 3/4",
            "-A INPUT -p icmp -m icmp ! --icmp-type 3/4",
        );
        rt4(
            "-A INPUT -p icmp --icmp-type port-unreachable",
            "-A INPUT -p icmp -m icmp --icmp-type 3/3",
        );
        rt6(
            "-A INPUT -p icmpv6 --icmpv6-type neighbour-solicitation",
            "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135",
        );
        rt6(
            "-A INPUT -p ipv6-icmp ! --icmpv6-type destination-unreachable",
            "-A INPUT -p ipv6-icmp -m icmp6 ! --icmpv6-type 1",
        );
    }
}

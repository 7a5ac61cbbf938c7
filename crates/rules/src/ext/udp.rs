//! Kernel: net/netfilter/xt_tcpudp.c (udp_mt); userspace libxt_udp.c. Save order:
//! sport, dport.

use super::{opt, port_range, save_port_opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::UdpMatch;
use palisade_model::Match;

const OPTS: &[Opt] = &[
    opt(&["--sport", "--source-port"], 1, true),
    opt(&["--dport", "--destination-port"], 1, true),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "udp",
    family: None,
    opts: OPTS,
    init: |_| Match::Udp(UdpMatch::default()),
    parse,
    check: |_, _, _| Ok(()),
};

fn parse(
    m: &mut Match,
    o: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let Match::Udp(u) = m else { return Ok(()) };
    let r = super::normalise_inverted(port_range(&args[0], 17)?, invert);
    if o == 0 {
        (u.sport, u.inv_sport) = r;
    } else {
        (u.dport, u.inv_dport) = r;
    }
    Ok(())
}

pub(crate) fn save(u: &UdpMatch, out: &mut String) {
    save_port_opt(out, "--sport", &u.sport, u.inv_sport);
    save_port_opt(out, "--dport", &u.dport, u.inv_dport);
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -p udp ! --dport 0:1024",
            "-A INPUT -p udp -m udp --dport 1025:65535",
        );
        rt4(
            "-A UDP -p udp ! --sport 10:20 --dport :30 -j ACCEPT",
            "-A UDP -p udp -m udp ! --sport 10:20 --dport 0:30 -j ACCEPT",
        );
        rt4(
            "-A INPUT -p udp --dport domain",
            "-A INPUT -p udp -m udp --dport 53",
        );
    }
}

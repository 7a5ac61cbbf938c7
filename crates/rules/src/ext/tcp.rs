//! Kernel: net/netfilter/xt_tcpudp.c (tcp_mt); userspace libxt_tcp.c.
//! Ports are inclusive ranges; `--tcp-flags MASK COMP` matches when the flags selected
//! by MASK equal COMP; `--syn` is `FIN,SYN,RST,ACK SYN`. Save order: sport, dport,
//! tcp-option, tcp-flags.

use super::{bad, inv, opt, port_range, save_port_opt, uint, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use crate::names::{parse_tcp_flags, tcp_flags_str};
use palisade_model::matches::TcpMatch;
use palisade_model::Match;

const OPTS: &[Opt] = &[
    opt(&["--sport", "--source-port"], 1, true),
    opt(&["--dport", "--destination-port"], 1, true),
    opt(&["--syn"], 0, true),
    opt(&["--tcp-flags"], 2, true),
    opt(&["--tcp-option"], 1, true),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "tcp",
    family: None,
    opts: OPTS,
    init: |_| Match::Tcp(TcpMatch::default()),
    parse,
    check,
};

/// Without `--tcp-option`, nf_tables-backed iptables translates the match into native
/// expressions and reads them back: an inverted port range starting at 0 comes back
/// as its complement, and a zero flag mask vanishes. With `--tcp-option` the match
/// stays an xtables one and prints as written.
fn check(m: &mut Match, seen: u64, _: &Ctx) -> Result<(), String> {
    if seen & 0b1100 == 0b1100 {
        return Err("`--syn` and `--tcp-flags` cannot be combined".into());
    }
    let Match::Tcp(t) = m else { return Ok(()) };
    if t.option == 0 && !t.inv_option {
        (t.sport, t.inv_sport) = super::normalise_inverted(t.sport, t.inv_sport);
        (t.dport, t.inv_dport) = super::normalise_inverted(t.dport, t.inv_dport);
        if t.flg_mask == 0 {
            t.flg_cmp = 0;
            t.inv_flags = false;
        }
    }
    Ok(())
}

fn parse(
    m: &mut Match,
    o: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let Match::Tcp(t) = m else { return Ok(()) };
    match o {
        0 => {
            t.sport = port_range(&args[0], 6)?;
            t.inv_sport = invert;
        }
        1 => {
            t.dport = port_range(&args[0], 6)?;
            t.inv_dport = invert;
        }
        2 => {
            t.flg_mask = 0x17;
            t.flg_cmp = 0x02;
            t.inv_flags = invert;
        }
        3 => {
            let mask = parse_tcp_flags(&args[0].text).map_err(|e| {
                bad(
                    &args[0],
                    e,
                    "a comma list of FIN,SYN,RST,PSH,ACK,URG,ECE,CWR,ALL,NONE",
                )
            })?;
            let cmp = parse_tcp_flags(&args[1].text).map_err(|e| {
                bad(
                    &args[1],
                    e,
                    "a comma list of FIN,SYN,RST,PSH,ACK,URG,ECE,CWR,ALL,NONE",
                )
            })?;
            t.flg_mask = mask;
            t.flg_cmp = cmp;
            t.inv_flags = invert;
        }
        _ => {
            let v = uint(&args[0], 255, "TCP option")?;
            if v == 0 {
                return Err(bad(
                    &args[0],
                    "TCP option 0 is not allowed",
                    "an option number 1-255",
                ));
            }
            t.option = v as u8;
            t.inv_option = invert;
        }
    }
    Ok(())
}

pub(crate) fn save(t: &TcpMatch, out: &mut String) {
    save_port_opt(out, "--sport", &t.sport, t.inv_sport);
    save_port_opt(out, "--dport", &t.dport, t.inv_dport);
    if t.option != 0 || t.inv_option {
        inv(out, t.inv_option);
        out.push_str(&format!(" --tcp-option {}", t.option));
    }
    if t.flg_mask != 0 || t.inv_flags {
        inv(out, t.inv_flags);
        out.push_str(" --tcp-flags ");
        out.push_str(&tcp_flags_str(t.flg_mask));
        out.push(' ');
        out.push_str(&tcp_flags_str(t.flg_cmp));
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -p tcp ! --dport 0:1024 ! --tcp-option 133",
            "-A INPUT -p tcp -m tcp ! --dport 0:1024 ! --tcp-option 133",
        );
        rt4(
            "-A INPUT -p tcp ! --dport 0:1024",
            "-A INPUT -p tcp -m tcp --dport 1025:65535",
        );
        rt4(
            "-A INPUT -p tcp --tcp-option 68 ! --tcp-flags NONE PSH",
            "-A INPUT -p tcp -m tcp --tcp-option 68 ! --tcp-flags NONE PSH",
        );
        rt4(
            "-A INPUT -p tcp --sport 1 ! --tcp-flags NONE NONE",
            "-A INPUT -p tcp -m tcp --sport 1",
        );
        rt4(
            "-A INPUT -p tcp --sport 25454 ! --dport 1024:65535",
            "-A INPUT -p tcp -m tcp --sport 25454 ! --dport 1024:65535",
        );
        rt4(
            "-A INPUT -p tcp ! --sport 0 --dport 0:1024",
            "-A INPUT -p tcp -m tcp ! --sport 0 --dport 0:1024",
        );
        rt4(
            "-A INPUT -p tcp ! --syn",
            "-A INPUT -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN",
        );
        rt4(
            "-A INPUT -p tcp --tcp-flags ALL NONE",
            "-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE",
        );
        rt4(
            "-A INPUT -p tcp ! --tcp-option 3 --dport 80:80",
            "-A INPUT -p tcp -m tcp --dport 80 ! --tcp-option 3",
        );
        rt4("-A INPUT -p tcp --sport 0:65535", "-A INPUT -p tcp -m tcp");
        rt4(
            "-A INPUT -p tcp --sport 5: --dport :30",
            "-A INPUT -p tcp -m tcp --sport 5:65535 --dport 0:30",
        );
        rt4(
            "-A INPUT -p tcp --dport ssh",
            "-A INPUT -p tcp -m tcp --dport 22",
        );
    }
}

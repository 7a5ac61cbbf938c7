//! Kernel: net/netfilter/xt_pkttype.c; userspace libxt_pkttype.c. The link-layer
//! packet class (`skb->pkt_type`).

use super::{bad, opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::{PktType, PkttypeMatch};
use palisade_model::Match;

const OPTS: &[Opt] = &[opt(&["--pkt-type"], 1, true)];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "pkttype",
    family: None,
    opts: OPTS,
    init: |_| {
        Match::Pkttype(PkttypeMatch {
            pkt_type: PktType::Unicast,
            invert: false,
        })
    },
    parse,
    check: |_, seen, _| super::required(seen, "pkttype", "--pkt-type"),
};

fn parse(
    m: &mut Match,
    _: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let Match::Pkttype(p) = m else { return Ok(()) };
    p.pkt_type = match args[0].text.to_ascii_lowercase().as_str() {
        "unicast" | "host" => PktType::Unicast,
        "broadcast" => PktType::Broadcast,
        "multicast" => PktType::Multicast,
        _ => {
            return Err(bad(
                &args[0],
                format!("bad packet type `{}`", args[0].text),
                "unicast, broadcast or multicast",
            ))
        }
    };
    p.invert = invert;
    Ok(())
}

pub(crate) fn save(p: &PkttypeMatch, out: &mut String) {
    super::inv(out, p.invert);
    out.push_str(match p.pkt_type {
        PktType::Unicast => " --pkt-type unicast",
        PktType::Broadcast => " --pkt-type broadcast",
        PktType::Multicast => " --pkt-type multicast",
    });
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -m pkttype ! --pkt-type unicast",
            "-A INPUT -m pkttype ! --pkt-type unicast",
        );
        rt4(
            "-A INPUT -m pkttype --pkt-type broadcast",
            "-A INPUT -m pkttype --pkt-type broadcast",
        );
    }
}

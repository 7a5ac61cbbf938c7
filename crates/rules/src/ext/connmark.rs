//! Kernel: net/netfilter/xt_connmark.c (connmark_mt); userspace libxt_connmark.c.
//! Like `-m mark` on the conntrack entry's mark.

use super::{mark, opt, MatchExt, Opt};
use palisade_model::matches::MarkMatch;
use palisade_model::Match;

const OPTS: &[Opt] = &[opt(&["--mark"], 1, true)];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "connmark",
    family: None,
    opts: OPTS,
    init: |_| {
        Match::Connmark(MarkMatch {
            mark: 0,
            mask: u32::MAX,
            invert: false,
        })
    },
    parse: mark::parse,
    check: |_, seen, _| super::required(seen, "connmark", "--mark"),
};

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -m connmark --mark 5/7",
            "-A INPUT -m connmark --mark 0x5/0x7",
        );
    }
}

//! Kernel: net/netfilter/xt_comment.c (always matches); userspace libxt_comment.c.
//! At most 255 bytes; printed with iptables' quoting.

use super::{opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::Match;

const OPTS: &[Opt] = &[opt(&["--comment"], 1, false)];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "comment",
    family: None,
    opts: OPTS,
    init: |_| Match::Comment(String::new()),
    parse,
    check: |_, seen, _| super::required(seen, "comment", "--comment"),
};

fn parse(m: &mut Match, _: usize, _: bool, args: &[Tok], _: &Ctx, _: u64) -> Result<(), LineErr> {
    let Match::Comment(c) = m else { return Ok(()) };
    // iptables silently cuts the comment to 255 bytes.
    *c = super::truncate(&args[0].text, 255);
    Ok(())
}

pub(crate) fn save(c: &str, out: &mut String) {
    out.push_str(" --comment");
    super::save_string(c, out);
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -m comment --comment abc",
            "-A INPUT -m comment --comment abc",
        );
        rt4(
            r#"-A INPUT -m comment --comment "a\"b""#,
            r#"-A INPUT -m comment --comment "a\"b""#,
        );
        rt4(
            r#"-A INPUT -m comment --comment "hello world" -s 10.0.0.1 -j LOG --log-prefix "x y ""#,
            r#"-A INPUT -s 10.0.0.1/32 -m comment --comment "hello world" -j LOG --log-prefix "x y ""#,
        );
    }
}

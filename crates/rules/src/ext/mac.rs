//! Kernel: net/netfilter/xt_mac.c; userspace libxt_mac.c. Ethernet source address,
//! valid only where one exists (PREROUTING, INPUT, FORWARD). Printed lower-case.

use super::{bad, opt, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::MacMatch;
use palisade_model::Match;

const OPTS: &[Opt] = &[opt(&["--mac-source"], 1, true)];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "mac",
    family: None,
    opts: OPTS,
    init: |_| {
        Match::Mac(MacMatch {
            addr: [0; 6],
            invert: false,
        })
    },
    parse,
    check: |_, seen, _| super::required(seen, "mac", "--mac-source"),
};

fn parse(
    m: &mut Match,
    _: usize,
    invert: bool,
    args: &[Tok],
    _: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let Match::Mac(x) = m else { return Ok(()) };
    let t = &args[0];
    let parts: Vec<&str> = t.text.split(':').collect();
    let e = || {
        bad(
            t,
            format!("bad mac address `{}`", t.text),
            "XX:XX:XX:XX:XX:XX",
        )
    };
    if parts.len() != 6 {
        return Err(e());
    }
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 {
            return Err(e());
        }
        x.addr[i] = u8::from_str_radix(p, 16).map_err(|_| e())?;
    }
    x.invert = invert;
    Ok(())
}

pub(crate) fn save(x: &MacMatch, out: &mut String) {
    super::inv(out, x.invert);
    let a = x.addr;
    out.push_str(&format!(
        " --mac-source {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        a[0], a[1], a[2], a[3], a[4], a[5]
    ));
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -m mac ! --mac-source 00:11:22:AA:BB:CC",
            "-A INPUT -m mac ! --mac-source 00:11:22:aa:bb:cc",
        );
    }
}

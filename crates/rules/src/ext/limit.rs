//! Kernel: net/netfilter/xt_limit.c; userspace libxt_limit.c. A token bucket: `avg` is
//! the interval between packets in 1/10000 s, `--limit-burst` (default 5) the bucket
//! size. The rate always prints, in the largest unit that keeps it exact enough
//! (libxt_limit.c `print_rate`); the burst only when not 5.

use super::{bad, opt, uint, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::{LimitMatch, LIMIT_SCALE};
use palisade_model::Match;

const OPTS: &[Opt] = &[
    opt(&["--limit"], 1, false),
    opt(&["--limit-burst"], 1, false),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "limit",
    family: None,
    opts: OPTS,
    init: |_| {
        Match::Limit(LimitMatch {
            avg: LIMIT_SCALE * 3600 / 3,
            burst: 5,
        })
    },
    parse,
    check: |_, _, _| Ok(()),
};

/// Parses `N[/second|/minute|/hour|/day]` (any prefix of the unit) into
/// (count, unit seconds).
pub(crate) fn parse_rate_parts(s: &str) -> Option<(u64, u64)> {
    let (n, unit) = match s.split_once('/') {
        Some((n, u)) => (n, Some(u)),
        None => (s, None),
    };
    let mult = match unit {
        None => 1,
        Some("") => return None,
        Some(u) => {
            let l = u.to_ascii_lowercase();
            if "second".starts_with(&l) {
                1
            } else if "minute".starts_with(&l) {
                60
            } else if "hour".starts_with(&l) {
                3600
            } else if "day".starts_with(&l) {
                86400
            } else {
                return None;
            }
        }
    };
    // atoi semantics: leading digits.
    let digits: String = n.chars().take_while(|c| c.is_ascii_digit()).collect();
    let r: u64 = digits.parse().ok()?;
    if r == 0 {
        return None;
    }
    Some((r, mult))
}

fn parse(m: &mut Match, o: usize, _: bool, args: &[Tok], _: &Ctx, _: u64) -> Result<(), LineErr> {
    let Match::Limit(l) = m else { return Ok(()) };
    let t = &args[0];
    if o == 0 {
        let (r, mult) = parse_rate_parts(&t.text).ok_or_else(|| {
            bad(
                t,
                format!("bad rate `{}`", t.text),
                "N/sec, N/min, N/hour or N/day",
            )
        })?;
        let avg = u64::from(LIMIT_SCALE) * mult / r;
        if avg == 0 {
            return Err(bad(t, "rate too fast", "at most 10000/sec"));
        }
        l.avg = u32::try_from(avg).unwrap_or(u32::MAX);
    } else {
        let b = uint(t, 10000, "burst")?;
        l.burst = b as u32;
    }
    Ok(())
}

/// libxt_limit.c `print_rate` for a period in units of `scale` per second.
pub(crate) fn fmt_rate(period: u64, scale: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("day", 86400), ("hour", 3600), ("min", 60), ("sec", 1)];
    if period == 0 {
        return "inf".into();
    }
    let mut i = 1;
    while i < UNITS.len() {
        let mult = UNITS[i].1 * scale;
        if period > mult || mult / period < mult % period {
            break;
        }
        i += 1;
    }
    let (name, m) = UNITS[i - 1];
    format!("{}/{}", m * scale / period, name)
}

pub(crate) fn save(l: &LimitMatch, out: &mut String) {
    out.push_str(" --limit ");
    out.push_str(&fmt_rate(u64::from(l.avg), u64::from(LIMIT_SCALE)));
    if l.burst != 5 {
        out.push_str(&format!(" --limit-burst {}", l.burst));
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::rt4;

    #[test]
    fn kernel_observed() {
        rt4("-A INPUT -m limit", "-A INPUT -m limit --limit 3/hour");
        rt4(
            "-A INPUT -m limit --limit 5/min --limit-burst 10",
            "-A INPUT -m limit --limit 5/min --limit-burst 10",
        );
        rt4(
            "-A INPUT -m limit --limit 1/s",
            "-A INPUT -m limit --limit 1/sec",
        );
        rt4(
            "-A INPUT -m limit --limit 3/day",
            "-A INPUT -m limit --limit 3/day",
        );
        rt4(
            "-A INPUT -m limit --limit 100/sec",
            "-A INPUT -m limit --limit 100/sec",
        );
        rt4(
            "-A INPUT -m limit --limit 2/minute",
            "-A INPUT -m limit --limit 2/min",
        );
    }
}

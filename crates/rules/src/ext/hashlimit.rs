//! Kernel: net/netfilter/xt_hashlimit.c (revision 3); userspace libxt_hashlimit.c.
//! One token bucket per hash key (the `--hashlimit-mode` fields under the masks).
//! Packet rates are stored as the interval between packets in 1/1_000_000 s; byte
//! rates (`Nb/s`, `Nkb/s`, `Nmb/s`) as the kernel's cost per 16-byte credit. The entry expiry defaults to the rate's unit (1 s, 1 min,
//! 1 h, 1 day) and prints only when it differs from the unit of the printed rate.
//! With `--hashlimit-rate-match` the unit becomes the rate interval and the rate is
//! counted per interval.

use super::limit::{fmt_rate, parse_rate_parts};
use super::{bad, opt, uint, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::matches::{hashlimit_mode as hm, HashlimitMatch};
use palisade_model::{Family, Match};

const SCALE: u64 = 1_000_000;
/// Where `parse` parks the rate's unit (seconds) inside `avg` for `check`.
const UNIT_SHIFT: u32 = 40;

const OPTS: &[Opt] = &[
    opt(&["--hashlimit-upto", "--hashlimit"], 1, false),
    opt(&["--hashlimit-above"], 1, true),
    opt(&["--hashlimit-burst"], 1, false),
    opt(&["--hashlimit-mode"], 1, false),
    opt(&["--hashlimit-name"], 1, false),
    opt(&["--hashlimit-htable-size"], 1, false),
    opt(&["--hashlimit-htable-max"], 1, false),
    opt(&["--hashlimit-htable-gcinterval"], 1, false),
    opt(&["--hashlimit-htable-expire"], 1, false),
    opt(&["--hashlimit-srcmask"], 1, false),
    opt(&["--hashlimit-dstmask"], 1, false),
    opt(&["--hashlimit-rate-match"], 0, false),
    opt(&["--hashlimit-rate-interval"], 1, false),
];

const MODES: &[(&str, u32)] = &[
    ("srcip", hm::SIP),
    ("srcport", hm::SPT),
    ("dstip", hm::DIP),
    ("dstport", hm::DPT),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "hashlimit",
    family: None,
    opts: OPTS,
    init: |ctx| {
        let w = if ctx.family == Family::V6 { 128 } else { 32 };
        Match::Hashlimit(HashlimitMatch {
            name: String::new(),
            mode: 0,
            avg: 0,
            burst: 0,
            size: 0,
            max: 0,
            gc_interval: 1000,
            expire: 0,
            srcmask: w,
            dstmask: w,
            interval: 1,
        })
    },
    parse,
    check,
};

/// The unit a packet rate was written in becomes the default expiry (and, for
/// rate-match, the default interval) right when the rate is parsed.
fn parse(
    m: &mut Match,
    o: usize,
    invert: bool,
    args: &[Tok],
    ctx: &Ctx,
    seen: u64,
) -> Result<(), LineErr> {
    let Match::Hashlimit(h) = m else {
        return Ok(());
    };
    let t = args.first();
    match (o, t) {
        (0 | 1, Some(t)) => {
            if seen & 0b11 != 0 {
                return Err(bad(
                    t,
                    "hashlimit: `--hashlimit-upto' and `--hashlimit-above' are exclusive",
                    "one of them",
                ));
            }
            if (o == 1) != invert {
                h.mode |= hm::INVERT;
            }
            let l = t.text.to_ascii_lowercase();
            if let Some(num) = l.strip_suffix("b/s") {
                let (n, mult) = if let Some(n) = num.strip_suffix('k') {
                    (n, 1u64 << 10)
                } else if let Some(n) = num.strip_suffix('m') {
                    (n, 1 << 20)
                } else {
                    (num, 1)
                };
                let v: u64 = n
                    .parse()
                    .map_err(|_| bad(t, format!("bad rate `{}`", t.text), "N/sec or Nkb/s"))?;
                let bytes = v.saturating_mul(mult).min(u64::from(u32::MAX));
                if bytes == 0 {
                    return Err(bad(t, "rate too small", "at least 16b/s"));
                }
                h.mode |= hm::BYTES;
                h.avg = bytes_to_cost(bytes);
                if seen & (1 << 8) == 0 {
                    h.expire = 1000;
                }
            } else {
                let (r, mult) = parse_rate_parts(&t.text).ok_or_else(|| {
                    bad(
                        t,
                        format!("bad rate `{}`", t.text),
                        "N/sec, N/min, N/hour or N/day",
                    )
                })?;
                let avg = SCALE * mult / r;
                if avg == 0 {
                    return Err(bad(t, "rate too fast", "a slower rate"));
                }
                // The written unit rides in the top bits until `check` (which always
                // runs before the match leaves the parser) needs it for rate-match.
                h.avg = avg | (mult << UNIT_SHIFT);
                h.burst = if seen & 0b100 == 0 { 5 } else { h.burst };
                // Remember the written unit for the defaults applied in `check`.
                if seen & (1 << 8) == 0 {
                    h.expire = (mult * 1000) as u32;
                }
                if seen & (1 << 12) == 0 {
                    h.interval = mult as u32;
                }
            }
        }
        (2, Some(t)) => h.burst = uint(t, 10_000_000_000, "burst")?,
        (3, Some(t)) => {
            let mut v = 0;
            for part in t.text.split(',') {
                v |= MODES
                    .iter()
                    .find(|(n, _)| *n == part)
                    .map(|(_, b)| *b)
                    .ok_or_else(|| {
                        bad(
                            t,
                            format!("bad hashlimit mode `{part}`"),
                            "a comma list of srcip, srcport, dstip, dstport",
                        )
                    })?;
            }
            h.mode |= v;
        }
        (4, Some(t)) => {
            if t.text.is_empty() || t.text.len() > 254 {
                return Err(bad(t, "bad hashlimit name", "a name of 1-254 characters"));
            }
            h.name = t.text.to_string();
        }
        (5, Some(t)) => h.size = uint(t, u32::MAX as u64, "size")? as u32,
        (6, Some(t)) => h.max = uint(t, u32::MAX as u64, "max")? as u32,
        (7, Some(t)) => h.gc_interval = uint(t, u32::MAX as u64, "gcinterval")? as u32,
        (8, Some(t)) => h.expire = uint(t, u32::MAX as u64, "expire")? as u32,
        (9 | 10, Some(t)) => {
            let w = if ctx.family == Family::V6 { 128 } else { 32 };
            let v = uint(t, w, "prefix length")? as u8;
            if o == 9 {
                h.srcmask = v;
            } else {
                h.dstmask = v;
            }
        }
        (11, _) => h.mode |= hm::RATE_MATCH,
        (12, Some(t)) => h.interval = uint(t, u32::MAX as u64, "rate interval")?.max(1) as u32,
        _ => {}
    }
    Ok(())
}

fn check(m: &mut Match, seen: u64, _: &Ctx) -> Result<(), String> {
    let Match::Hashlimit(h) = m else {
        return Ok(());
    };
    if seen & 0b11 == 0 {
        return Err(
            "hashlimit: option \"--hashlimit-upto\" or \"--hashlimit-above\" must be specified"
                .into(),
        );
    }
    if seen & (1 << 4) == 0 {
        return Err(super::missing("hashlimit", "--hashlimit-name"));
    }
    let unit = (h.avg >> UNIT_SHIFT).max(1);
    h.avg &= (1 << UNIT_SHIFT) - 1;
    if h.mode & hm::BYTES != 0 {
        let rate = cost_to_bytes(h.avg);
        if h.burst != 0 && h.burst < rate {
            return Err(format!("burst cannot be smaller than {rate}b"));
        }
    } else if h.mode & hm::RATE_MATCH != 0 {
        // The rate is counted per interval: N per unit becomes N per `interval`
        // seconds (printed as N/sec), the interval defaulting to the unit.
        h.avg = (h.avg / unit).max(1);
    } else {
        // Without rate-match the interval is unused and not kept.
        h.interval = 1;
    }
    Ok(())
}

/// Byte rates are stored as the kernel's cost per 16-byte unit (libxt_hashlimit.c
/// `bytes_to_cost`), which is why 1000b/s reads back as 992b/s.
fn bytes_to_cost(bytes: u64) -> u64 {
    let r = (bytes >> 4).min(u64::from(u32::MAX) - 1);
    u64::from(u32::MAX) / (r + 1)
}

fn cost_to_bytes(cost: u64) -> u64 {
    let r = u64::from(u32::MAX)
        .checked_div(cost)
        .unwrap_or(u64::from(u32::MAX));
    r.saturating_sub(1) << 4
}

/// Prints a byte rate in the largest unit whose rounding keeps the same cost
/// (libxt_hashlimit.c `print_bytes`).
fn fmt_bytes_cost(cost: u64) -> String {
    let r = cost_to_bytes(cost);
    for (name, thresh) in [("m", 1u64 << 20), ("k", 1 << 10)] {
        if r >= thresh && bytes_to_cost(r & !(thresh - 1)) == cost {
            return format!("{}{name}b/s", r / thresh);
        }
    }
    format!("{r}b/s")
}

/// Seconds of the unit `fmt_rate` picks for a packet interval.
fn printed_unit(avg: u64) -> u64 {
    let s = fmt_rate(avg, SCALE);
    match s.rsplit('/').next() {
        Some("day") => 86400,
        Some("hour") => 3600,
        Some("min") => 60,
        _ => 1,
    }
}

pub(crate) fn save(h: &HashlimitMatch, fam: Family, out: &mut String) {
    let above = h.mode & hm::INVERT != 0;
    out.push_str(if above {
        " --hashlimit-above "
    } else {
        " --hashlimit-upto "
    });
    let bytes = h.mode & hm::BYTES != 0;
    let rate_match = h.mode & hm::RATE_MATCH != 0;
    let default_expire = if bytes {
        out.push_str(&fmt_bytes_cost(h.avg));
        1000
    } else {
        out.push_str(&fmt_rate(h.avg, SCALE));
        printed_unit(h.avg) * 1000
    };
    if !bytes {
        out.push_str(&format!(" --hashlimit-burst {}", h.burst));
    } else if h.burst != 0 {
        // Not observed on the kernel yet: printed as a plain byte count.
        out.push_str(&format!(" --hashlimit-burst {}", h.burst));
    }
    let modes: Vec<&str> = MODES
        .iter()
        .filter(|(_, b)| h.mode & b != 0)
        .map(|(n, _)| *n)
        .collect();
    if !modes.is_empty() {
        out.push_str(" --hashlimit-mode ");
        out.push_str(&modes.join(","));
    }
    out.push_str(" --hashlimit-name ");
    out.push_str(&h.name);
    if h.size != 0 {
        out.push_str(&format!(" --hashlimit-htable-size {}", h.size));
    }
    if h.max != 0 {
        out.push_str(&format!(" --hashlimit-htable-max {}", h.max));
    }
    if h.gc_interval != 1000 {
        out.push_str(&format!(" --hashlimit-htable-gcinterval {}", h.gc_interval));
    }
    if u64::from(h.expire) != default_expire {
        out.push_str(&format!(" --hashlimit-htable-expire {}", h.expire));
    }
    let w = if fam == Family::V6 { 128 } else { 32 };
    if h.srcmask != w {
        out.push_str(&format!(" --hashlimit-srcmask {}", h.srcmask));
    }
    if h.dstmask != w {
        out.push_str(&format!(" --hashlimit-dstmask {}", h.dstmask));
    }
    if rate_match {
        out.push_str(" --hashlimit-rate-match");
        if h.interval != 1 {
            out.push_str(&format!(" --hashlimit-rate-interval {}", h.interval));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{rt4, rt6};

    #[test]
    fn byte_rates_go_through_cost() {
        rt6(
            "-A OUTPUT -m hashlimit --hashlimit-upto 655mb/s --hashlimit-name hl10",
            "-A OUTPUT -m hashlimit --hashlimit-upto 655mb/s --hashlimit-name hl10",
        );
        rt4(
            "-A INPUT -m hashlimit --hashlimit-upto 1000b/s --hashlimit-name a",
            "-A INPUT -m hashlimit --hashlimit-upto 992b/s --hashlimit-name a",
        );
        rt4(
            "-A INPUT -m hashlimit --hashlimit-upto 2mb/s --hashlimit-name a",
            "-A INPUT -m hashlimit --hashlimit-upto 2mb/s --hashlimit-name a",
        );
    }

    #[test]
    fn rate_match_counts_per_interval() {
        rt6(
            "-A INPUT -m hashlimit --hashlimit-above 607/day --hashlimit-name hl28 --hashlimit-htable-expire 3644 --hashlimit-rate-interval 46 --hashlimit-rate-match",
            "-A INPUT -m hashlimit --hashlimit-above 607/sec --hashlimit-burst 5 --hashlimit-name hl28 --hashlimit-htable-expire 3644 --hashlimit-rate-match --hashlimit-rate-interval 46",
        );
    }

    #[test]
    fn kernel_observed() {
        rt4("-A INPUT -m hashlimit --hashlimit-upto 10/sec --hashlimit-name foo", "-A INPUT -m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-name foo");
        rt4(
            "-A INPUT -m hashlimit --hashlimit-above 10/min --hashlimit-burst 3 --hashlimit-mode srcip,dstport --hashlimit-name foo --hashlimit-srcmask 24 --hashlimit-htable-size 100 --hashlimit-htable-max 200 --hashlimit-htable-expire 5000 --hashlimit-htable-gcinterval 500",
            "-A INPUT -m hashlimit --hashlimit-above 10/min --hashlimit-burst 3 --hashlimit-mode srcip,dstport --hashlimit-name foo --hashlimit-htable-size 100 --hashlimit-htable-max 200 --hashlimit-htable-gcinterval 500 --hashlimit-htable-expire 5000 --hashlimit-srcmask 24",
        );
        rt4(
            "-A INPUT -m hashlimit --hashlimit-upto 1kb/s --hashlimit-name b",
            "-A INPUT -m hashlimit --hashlimit-upto 1kb/s --hashlimit-name b",
        );
        rt4(
            "-A INPUT -m hashlimit --hashlimit-upto 1500b/s --hashlimit-name a",
            "-A INPUT -m hashlimit --hashlimit-upto 1488b/s --hashlimit-name a",
        );
        rt4(
            "-A INPUT -m hashlimit --hashlimit-upto 10/hour --hashlimit-name a",
            "-A INPUT -m hashlimit --hashlimit-upto 10/hour --hashlimit-burst 5 --hashlimit-name a",
        );
        rt4("-A INPUT -m hashlimit --hashlimit-upto 10/sec --hashlimit-name a --hashlimit-htable-expire 10000", "-A INPUT -m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-name a --hashlimit-htable-expire 10000");
        rt4("-A INPUT -m hashlimit --hashlimit-upto 5/min --hashlimit-name a --hashlimit-rate-interval 5", "-A INPUT -m hashlimit --hashlimit-upto 5/min --hashlimit-burst 5 --hashlimit-name a");
        rt4("-A INPUT -m hashlimit --hashlimit-upto 5/hour --hashlimit-name a --hashlimit-rate-match", "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name a --hashlimit-htable-expire 3600000 --hashlimit-rate-match --hashlimit-rate-interval 3600");
        rt6("-A INPUT -m hashlimit --hashlimit-upto 10/sec --hashlimit-name foo --hashlimit-srcmask 64", "-A INPUT -m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-name foo --hashlimit-srcmask 64");
    }
}

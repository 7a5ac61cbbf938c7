//! Kernel: net/netfilter/xt_conntrack.c (conntrack_mt, revision 3); userspace
//! libxt_conntrack.c. Every option is optional and invertible except `--ctdir`; at
//! least one is required. Save order follows the option table; addresses print bare
//! when the mask is full, protocols print as numbers.

use super::{bad, fmt_ports, inv, opt, port_range, Ctx, MatchExt, Opt};
use crate::diag::LineErr;
use crate::lex::Tok;
use crate::names::parse_proto;
use palisade_model::matches::{ct_status, ConntrackMatch, CtDir, Inv};
use palisade_model::{AddrMask, Match};

const OPTS: &[Opt] = &[
    opt(&["--ctstate"], 1, true),
    opt(&["--ctproto"], 1, true),
    opt(&["--ctorigsrc"], 1, true),
    opt(&["--ctorigdst"], 1, true),
    opt(&["--ctreplsrc"], 1, true),
    opt(&["--ctrepldst"], 1, true),
    opt(&["--ctorigsrcport"], 1, true),
    opt(&["--ctorigdstport"], 1, true),
    opt(&["--ctreplsrcport"], 1, true),
    opt(&["--ctrepldstport"], 1, true),
    opt(&["--ctstatus"], 1, true),
    opt(&["--ctexpire"], 1, true),
    opt(&["--ctdir"], 1, false),
];

const STATUS: &[(&str, u32)] = &[
    ("EXPECTED", ct_status::EXPECTED),
    ("SEEN_REPLY", ct_status::SEEN_REPLY),
    ("ASSURED", ct_status::ASSURED),
    ("CONFIRMED", ct_status::CONFIRMED),
];

pub(crate) static EXT: MatchExt = MatchExt {
    name: "conntrack",
    family: None,
    opts: OPTS,
    init: |_| Match::Conntrack(ConntrackMatch::default()),
    parse,
    check: |_, seen, _| {
        if seen == 0 {
            return Err("conntrack: at least one option is required".into());
        }
        Ok(())
    },
};

fn parse(
    m: &mut Match,
    o: usize,
    invert: bool,
    args: &[Tok],
    ctx: &Ctx,
    _: u64,
) -> Result<(), LineErr> {
    let Match::Conntrack(c) = m else {
        return Ok(());
    };
    let t = &args[0];
    let iv = |value| Inv { value, invert };
    let addr = |t: &Tok| -> Result<AddrMask, LineErr> { ct_addr(t, ctx) };
    match o {
        0 => c.state = Some(iv(super::state::parse_states(t, true)?)),
        1 => {
            let p = parse_proto(&t.text).ok_or_else(|| {
                bad(
                    t,
                    format!("unknown protocol `{}`", t.text),
                    "a protocol name or number",
                )
            })?;
            if p == 0 {
                return Err(bad(
                    t,
                    "conntrack: cannot match protocol 0",
                    "a protocol other than all",
                ));
            }
            c.proto = Some(Inv { value: p, invert });
        }
        2 => {
            c.orig_src = Some(Inv {
                value: addr(t)?,
                invert,
            })
        }
        3 => {
            c.orig_dst = Some(Inv {
                value: addr(t)?,
                invert,
            })
        }
        4 => {
            c.repl_src = Some(Inv {
                value: addr(t)?,
                invert,
            })
        }
        5 => {
            c.repl_dst = Some(Inv {
                value: addr(t)?,
                invert,
            })
        }
        6..=9 => {
            let r = Inv {
                value: port_range(t, 0)?,
                invert,
            };
            match o {
                6 => c.orig_src_port = Some(r),
                7 => c.orig_dst_port = Some(r),
                8 => c.repl_src_port = Some(r),
                _ => c.repl_dst_port = Some(r),
            }
        }
        10 => {
            let mut v = 0;
            for part in t.text.split(',') {
                let u = part.to_ascii_uppercase();
                if u == "NONE" {
                    continue;
                }
                v |= STATUS
                    .iter()
                    .find(|(n, _)| *n == u)
                    .map(|(_, b)| *b)
                    .ok_or_else(|| {
                        bad(
                            t,
                            format!("bad ctstatus `{part}`"),
                            "NONE, EXPECTED, SEEN_REPLY, ASSURED or CONFIRMED",
                        )
                    })?;
            }
            c.status = Some(Inv { value: v, invert });
        }
        11 => {
            let e = || {
                bad(
                    t,
                    format!("bad ctexpire `{}`", t.text),
                    "SECONDS or MIN:MAX",
                )
            };
            let value = super::range(&t.text, ':', None, str::parse::<u32>).map_err(|_| e())?;
            c.expire = Some(Inv { value, invert });
        }
        _ => {
            c.dir = Some(match t.text.to_ascii_uppercase().as_str() {
                "ORIGINAL" => CtDir::Original,
                "REPLY" => CtDir::Reply,
                _ => {
                    return Err(bad(
                        t,
                        format!("bad ctdir `{}`", t.text),
                        "ORIGINAL or REPLY",
                    ))
                }
            });
        }
    }
    Ok(())
}

/// Conntrack keeps the address as written (host bits included) and, as observed on
/// iptables 1.8.9 (nf_tables), a non-prefix mask collapses to a full one.
fn ct_addr(t: &Tok, ctx: &Ctx) -> Result<AddrMask, LineErr> {
    let m = super::addr_mask(&t.text, ctx.family).map_err(|e| bad(t, e, "ADDRESS[/MASK]"))?;
    let raw = t.text.split('/').next().unwrap_or("");
    let addr = super::ip_addr(raw, ctx.family).map_err(|e| bad(t, e, "ADDRESS[/MASK]"))?;
    let width = if ctx.family == palisade_model::Family::V6 {
        128
    } else {
        32
    };
    let mask = match m.prefix_len() {
        Some(_) => m.mask,
        None => palisade_model::addr::prefix_mask(width == 128, width),
    };
    Ok(AddrMask { addr, mask })
}

fn fmt_addr(a: &AddrMask) -> String {
    let full = if a.addr.is_ipv6() { 128 } else { 32 };
    match a.prefix_len() {
        Some(l) if l == full => a.addr.to_string(),
        Some(l) => format!("{}/{}", a.addr, l),
        None => format!("{}/{}", a.addr, a.mask),
    }
}

pub(crate) fn save(c: &ConntrackMatch, out: &mut String) {
    if let Some(s) = &c.state {
        inv(out, s.invert);
        out.push_str(" --ctstate ");
        out.push_str(&super::state::fmt_states(s.value));
    }
    if let Some(p) = &c.proto {
        inv(out, p.invert);
        out.push_str(&format!(" --ctproto {}", p.value));
    }
    for (name, a) in [
        ("--ctorigsrc", &c.orig_src),
        ("--ctorigdst", &c.orig_dst),
        ("--ctreplsrc", &c.repl_src),
        ("--ctrepldst", &c.repl_dst),
    ] {
        if let Some(a) = a {
            inv(out, a.invert);
            out.push_str(&format!(" {name} {}", fmt_addr(&a.value)));
        }
    }
    for (name, p) in [
        ("--ctorigsrcport", &c.orig_src_port),
        ("--ctorigdstport", &c.orig_dst_port),
        ("--ctreplsrcport", &c.repl_src_port),
        ("--ctrepldstport", &c.repl_dst_port),
    ] {
        if let Some(p) = p {
            inv(out, p.invert);
            out.push_str(&format!(" {name} {}", fmt_ports(&p.value)));
        }
    }
    if let Some(s) = &c.status {
        inv(out, s.invert);
        let names: Vec<&str> = STATUS
            .iter()
            .filter(|(_, b)| s.value & b != 0)
            .map(|(n, _)| *n)
            .collect();
        out.push_str(" --ctstatus ");
        out.push_str(
            if names.is_empty() {
                "NONE".to_string()
            } else {
                names.join(",")
            }
            .as_str(),
        );
    }
    if let Some(e) = &c.expire {
        inv(out, e.invert);
        out.push_str(" --ctexpire ");
        out.push_str(&super::fmt_range(e.value.0, e.value.1, ':'));
    }
    if let Some(d) = c.dir {
        out.push_str(match d {
            CtDir::Original => " --ctdir ORIGINAL",
            CtDir::Reply => " --ctdir REPLY",
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{rt4, rt6};

    #[test]
    fn kernel_observed() {
        rt4(
            "-A INPUT -m conntrack ! --ctstate NEW --ctproto tcp --ctorigsrc 1.2.3.4 --ctorigdst 1.2.3.0/24 --ctreplsrc 5.5.5.5 ! --ctrepldst 6.6.6.6 --ctorigsrcport 10 --ctorigdstport 20:30 --ctreplsrcport 40 --ctrepldstport 50 --ctstatus ASSURED,EXPECTED,SEEN_REPLY,CONFIRMED --ctexpire 10:20 --ctdir REPLY",
            "-A INPUT -m conntrack ! --ctstate NEW --ctproto 6 --ctorigsrc 1.2.3.4 --ctorigdst 1.2.3.0/24 --ctreplsrc 5.5.5.5 ! --ctrepldst 6.6.6.6 --ctorigsrcport 10 --ctorigdstport 20:30 --ctreplsrcport 40 --ctrepldstport 50 --ctstatus EXPECTED,SEEN_REPLY,ASSURED,CONFIRMED --ctexpire 10:20 --ctdir REPLY",
        );
        rt4(
            "-A INPUT -m conntrack --ctdir ORIGINAL --ctstate NEW",
            "-A INPUT -m conntrack --ctstate NEW --ctdir ORIGINAL",
        );
        rt4(
            "-A INPUT -m conntrack --ctstate NEW,UNTRACKED,INVALID,ESTABLISHED,RELATED,SNAT,DNAT",
            "-A INPUT -m conntrack --ctstate INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED,SNAT,DNAT",
        );
        rt4(
            "-A INPUT -m conntrack --ctexpire 5",
            "-A INPUT -m conntrack --ctexpire 5",
        );
        rt6(
            "-A INPUT -m conntrack --ctorigsrc 2001:db8::/32",
            "-A INPUT -m conntrack --ctorigsrc 2001:db8::/32",
        );
    }
}

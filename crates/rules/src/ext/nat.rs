//! Kernel: net/netfilter/xt_nat.c (SNAT/DNAT), xt_MASQUERADE.c, xt_REDIRECT.c,
//! xt_NETMAP.c; userspace libxt_SNAT.c, libxt_DNAT.c, libxt_MASQUERADE.c,
//! libxt_REDIRECT.c, libxt_NETMAP.c. Each is limited to the nat table and to the hooks
//! where its manipulation applies (checked in `check.rs`). A port range requires a
//! protocol with ports. IPv6 addresses with a port are written `[addr]:port`.

use super::{bad, ip_addr, opt, Ctx, Opt, TargetExt};
use crate::diag::LineErr;
use crate::lex::Tok;
use palisade_model::targets::{NatFlags, NatRange};
use palisade_model::{Family, Target};
use std::net::IpAddr;

const MASQ_OPTS: &[Opt] = &[
    opt(&["--to-ports"], 1, false),
    opt(&["--random"], 0, false),
    opt(&["--random-fully"], 0, false),
];
const SNAT_OPTS: &[Opt] = &[
    opt(&["--to-source", "--to"], 1, false),
    opt(&["--random"], 0, false),
    opt(&["--random-fully"], 0, false),
    opt(&["--persistent"], 0, false),
];
// DNAT has no `--random-fully` (libxt_DNAT.c); the empty slot keeps the option
// indices equal to SNAT's.
const DNAT_OPTS: &[Opt] = &[
    opt(&["--to-destination", "--to"], 1, false),
    opt(&["--random"], 0, false),
    opt(&[], 0, false),
    opt(&["--persistent"], 0, false),
];
const NETMAP_OPTS: &[Opt] = &[opt(&["--to"], 1, false)];

fn no_flags() -> NatFlags {
    NatFlags::default()
}

pub(crate) static MASQUERADE: TargetExt = TargetExt {
    name: "MASQUERADE",
    family: None,
    opts: MASQ_OPTS,
    init: |_| Target::Masquerade {
        ports: None,
        flags: no_flags(),
    },
    parse,
    check,
};
pub(crate) static REDIRECT: TargetExt = TargetExt {
    name: "REDIRECT",
    family: None,
    opts: MASQ_OPTS,
    init: |_| Target::Redirect {
        ports: None,
        flags: no_flags(),
    },
    parse,
    check,
};
pub(crate) static SNAT: TargetExt = TargetExt {
    name: "SNAT",
    family: None,
    opts: SNAT_OPTS,
    init: |_| Target::Snat {
        range: NatRange {
            addr: None,
            ports: None,
        },
        flags: no_flags(),
    },
    parse,
    check,
};
pub(crate) static DNAT: TargetExt = TargetExt {
    name: "DNAT",
    family: None,
    opts: DNAT_OPTS,
    init: |_| Target::Dnat {
        range: NatRange {
            addr: None,
            ports: None,
        },
        flags: no_flags(),
    },
    parse,
    check,
};
pub(crate) static NETMAP: TargetExt = TargetExt {
    name: "NETMAP",
    family: None,
    opts: NETMAP_OPTS,
    init: |ctx| {
        let a: IpAddr = if ctx.family == Family::V6 {
            IpAddr::V6(0u128.into())
        } else {
            IpAddr::V4(0u32.into())
        };
        Target::Netmap(palisade_model::AddrMask::from_prefix(a, 0))
    },
    parse,
    check,
};

fn check(t: &mut Target, seen: u64, ctx: &Ctx) -> Result<(), String> {
    let ports = match t {
        Target::Masquerade { ports, .. } | Target::Redirect { ports, .. } => ports.is_some(),
        Target::Snat { range, .. } | Target::Dnat { range, .. } => {
            if seen & 1 == 0 {
                return Err(if matches!(t, Target::Snat { .. }) {
                    super::missing("SNAT", "--to-source")
                } else {
                    super::missing("DNAT", "--to-destination")
                });
            }
            range.ports.is_some()
        }
        Target::Netmap(_) => {
            if seen & 1 == 0 {
                return Err(super::missing("NETMAP", "--to"));
            }
            false
        }
        _ => false,
    };
    if ports && (!super::has_ports(ctx.proto) || ctx.inv_proto) {
        return Err("need TCP, UDP, SCTP or DCCP with port specification".into());
    }
    Ok(())
}

fn port_pair(t: &Tok, s: &str) -> Result<(u16, u16), LineErr> {
    let e = || bad(t, format!("bad port range `{s}`"), "PORT or FIRST-LAST");
    super::range(s, '-', None, str::parse::<u16>).map_err(|_| e())
}

/// `[addr[-addr]][:port[-port]]`, IPv6 as `[addr]:port`.
fn nat_range(t: &Tok, fam: Family) -> Result<NatRange, LineErr> {
    let s = t.as_str();
    let expected = if fam == Family::V6 {
        "ADDR[-ADDR] or [ADDR[-ADDR]]:PORT[-PORT]"
    } else {
        "ADDR[-ADDR][:PORT[-PORT]]"
    };
    let (addrs, ports) = if fam == Family::V6 {
        if let Some(rest) = s.strip_prefix('[') {
            let (a, p) = rest
                .split_once(']')
                .ok_or_else(|| bad(t, "missing `]`", expected))?;
            let p = match p {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad(t, "bad port", expected))?,
                ),
            };
            (a, p)
        } else if let Some(p) = s.strip_prefix(':') {
            ("", Some(p))
        } else {
            (s, None)
        }
    } else {
        match s.split_once(':') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        }
    };
    let addr = if addrs.is_empty() {
        None
    } else {
        let (a, b) = addrs.split_once('-').unwrap_or((addrs, addrs));
        let a = ip_addr(a, fam).map_err(|e| bad(t, e, expected))?;
        let b = ip_addr(b, fam).map_err(|e| bad(t, e, expected))?;
        Some((a, b))
    };
    let ports = match ports {
        Some(p) => Some(port_pair(t, p)?),
        None => None,
    };
    if addr.is_none() && ports.is_none() {
        return Err(bad(t, format!("bad NAT range `{s}`"), expected));
    }
    Ok(NatRange { addr, ports })
}

fn parse(
    t: &mut Target,
    o: usize,
    _: bool,
    args: &[Tok],
    ctx: &Ctx,
    seen: u64,
) -> Result<(), LineErr> {
    match t {
        Target::Masquerade { ports, flags } | Target::Redirect { ports, flags } => match o {
            0 => {
                let a = &args[0];
                *ports = Some(port_pair(a, &a.text)?);
            }
            1 => flags.random = true,
            _ => flags.random_fully = true,
        },
        Target::Snat { range, flags } | Target::Dnat { range, flags } => match o {
            0 => {
                if seen & 1 != 0 {
                    return Err(bad(
                        &args[0],
                        "multiple --to-source/--to-destination are not supported",
                        "a single range",
                    ));
                }
                *range = nat_range(&args[0], ctx.family)?;
            }
            1 => flags.random = true,
            2 => flags.random_fully = true,
            _ => flags.persistent = true,
        },
        Target::Netmap(m) => {
            let a = &args[0];
            *m = super::addr_mask(&a.text, ctx.family).map_err(|e| bad(a, e, "ADDRESS/MASK"))?;
        }
        _ => {}
    }
    Ok(())
}

fn fmt_nat_range(r: &NatRange) -> String {
    let mut s = String::new();
    let v6 = matches!(r.addr, Some((IpAddr::V6(_), _)));
    if let Some((a, b)) = r.addr {
        let addrs = super::fmt_range(a, b, '-');
        if v6 && r.ports.is_some() {
            s.push('[');
            s.push_str(&addrs);
            s.push(']');
        } else {
            s.push_str(&addrs);
        }
    }
    if let Some(p) = r.ports {
        s.push(':');
        s.push_str(&super::fmt_range(p.0, p.1, '-'));
    }
    s
}

fn flags_str(f: &NatFlags, out: &mut String) {
    if f.random {
        out.push_str(" --random");
    }
    if f.random_fully {
        out.push_str(" --random-fully");
    }
    if f.persistent {
        out.push_str(" --persistent");
    }
}

pub(crate) fn save(t: &Target, out: &mut String) {
    match t {
        Target::Masquerade { ports, flags } | Target::Redirect { ports, flags } => {
            out.push_str(if matches!(t, Target::Masquerade { .. }) {
                " -j MASQUERADE"
            } else {
                " -j REDIRECT"
            });
            if let Some(p) = ports {
                out.push_str(" --to-ports ");
                out.push_str(&super::fmt_range(p.0, p.1, '-'));
            }
            flags_str(flags, out);
        }
        Target::Snat { range, flags } => {
            out.push_str(" -j SNAT --to-source ");
            out.push_str(&fmt_nat_range(range));
            flags_str(flags, out);
        }
        Target::Dnat { range, flags } => {
            out.push_str(" -j DNAT --to-destination ");
            out.push_str(&fmt_nat_range(range));
            flags_str(flags, out);
        }
        Target::Netmap(m) => {
            out.push_str(" -j NETMAP --to ");
            out.push_str(&super::fmt_addr_mask(m));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{err, rt};
    use palisade_model::{Family, TableId};

    fn nat(a: &str, b: &str) {
        rt(Family::V4, TableId::Nat, a, b);
    }

    #[test]
    fn kernel_observed() {
        nat(
            "-A POSTROUTING -j MASQUERADE",
            "-A POSTROUTING -j MASQUERADE",
        );
        nat(
            "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1000-2000 --random",
            "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1000-2000 --random",
        );
        nat(
            "-A POSTROUTING -j MASQUERADE --random-fully",
            "-A POSTROUTING -j MASQUERADE --random-fully",
        );
        nat("-A POSTROUTING -p tcp -j SNAT --to-source 1.2.3.4-1.2.3.8:100-200 --random --persistent", "-A POSTROUTING -p tcp -j SNAT --to-source 1.2.3.4-1.2.3.8:100-200 --random --persistent");
        nat(
            "-A POSTROUTING -p tcp -j SNAT --to 1.2.3.4:80",
            "-A POSTROUTING -p tcp -j SNAT --to-source 1.2.3.4:80",
        );
        nat(
            "-A PREROUTING -i ppp0 -p tcp --dport 22 -j DNAT --to 192.168.0.5",
            "-A PREROUTING -i ppp0 -p tcp -m tcp --dport 22 -j DNAT --to-destination 192.168.0.5",
        );
        nat(
            "-A PREROUTING -p tcp -j DNAT --to-destination :80",
            "-A PREROUTING -p tcp -j DNAT --to-destination :80",
        );
        nat(
            "-A PREROUTING -p tcp -j REDIRECT --to-ports 8080",
            "-A PREROUTING -p tcp -j REDIRECT --to-ports 8080",
        );
        nat(
            "-A PREROUTING -j NETMAP --to 10.0.0.0/24",
            "-A PREROUTING -j NETMAP --to 10.0.0.0/24",
        );
        rt(
            Family::V6,
            TableId::Nat,
            "-A PREROUTING -p tcp -j DNAT --to-destination [2001:db8::1]:80",
            "-A PREROUTING -p tcp -j DNAT --to-destination [2001:db8::1]:80",
        );
        assert!(err(Family::V4, TableId::Nat, "-A PREROUTING -j MASQUERADE")
            .message
            .contains("MASQUERADE"));
        assert!(err(Family::V4, TableId::Filter, "-A INPUT -j MASQUERADE")
            .message
            .contains("nat"));
        assert!(err(
            Family::V4,
            TableId::Nat,
            "-A PREROUTING -j DNAT --to-destination 1.2.3.4:80"
        )
        .message
        .contains("port"));
    }
}

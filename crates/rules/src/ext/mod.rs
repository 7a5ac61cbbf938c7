//! The extension registry, as iptables' libxtables keeps it: each match and target
//! declares its options in a table (name, aliases, argument count, whether `!` is
//! allowed), parses one option at a time into the model's `*Info`-like struct, runs a
//! final check once the rule is complete (defaults, required options, conflicts) and
//! prints its options in its own fixed order.

use palisade_model::matches::PortRange;
use palisade_model::{AddrMask, Family, Match, Target};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::diag::LineErr;
use crate::lex::Tok;

pub(crate) mod addrtype;
pub(crate) mod comment;
pub(crate) mod connlimit;
pub(crate) mod connmark;
pub(crate) mod conntrack;
pub(crate) mod dscp;
pub(crate) mod hashlimit;
pub(crate) mod icmp;
pub(crate) mod iprange;
pub(crate) mod length;
pub(crate) mod limit;
pub(crate) mod mac;
pub(crate) mod mark;
pub(crate) mod multiport;
pub(crate) mod owner;
pub(crate) mod pkttype;
pub(crate) mod recent;
pub(crate) mod rpfilter;
pub(crate) mod state;
pub(crate) mod tcp;
pub(crate) mod tos;
pub(crate) mod ttl;
pub(crate) mod udp;

pub(crate) mod connmark_tg;
pub(crate) mod ct;
pub(crate) mod log;
pub(crate) mod mark_tg;
pub(crate) mod nat;
pub(crate) mod nflog;
pub(crate) mod nfqueue;
pub(crate) mod reject;
pub(crate) mod tcpmss;

/// One option of an extension.
pub(crate) struct Opt {
    /// Spellings, the canonical one first.
    pub names: &'static [&'static str],
    /// Number of argument words (0, 1 or 2).
    pub args: u8,
    /// Whether `!` may precede it.
    pub inv: bool,
}

/// Shorthand constructor for option tables.
pub(crate) const fn opt(names: &'static [&'static str], args: u8, inv: bool) -> Opt {
    Opt { names, args, inv }
}

/// What an extension may know about the rule it is part of.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx {
    pub family: Family,
    /// `-p` (0 = any).
    pub proto: u8,
    pub inv_proto: bool,
}

pub(crate) type ParseFn<T> = fn(&mut T, usize, bool, &[Tok], &Ctx, u64) -> Result<(), LineErr>;
pub(crate) type CheckFn<T> = fn(&mut T, u64, &Ctx) -> Result<(), String>;

/// A match extension (`-m NAME`).
pub(crate) struct MatchExt {
    pub name: &'static str,
    /// `None`: both families.
    pub family: Option<Family>,
    pub opts: &'static [Opt],
    pub init: fn(&Ctx) -> Match,
    pub parse: ParseFn<Match>,
    pub check: CheckFn<Match>,
}

/// A target extension (`-j NAME`).
pub(crate) struct TargetExt {
    pub name: &'static str,
    pub family: Option<Family>,
    pub opts: &'static [Opt],
    pub init: fn(&Ctx) -> Target,
    pub parse: ParseFn<Target>,
    pub check: CheckFn<Target>,
}

/// Every supported match.
pub(crate) static MATCHES: &[&MatchExt] = &[
    &tcp::EXT,
    &udp::EXT,
    &icmp::EXT4,
    &icmp::EXT6,
    &state::EXT,
    &conntrack::EXT,
    &multiport::EXT,
    &iprange::EXT,
    &recent::EXT,
    &limit::EXT,
    &hashlimit::EXT,
    &connlimit::EXT,
    &mark::EXT,
    &connmark::EXT,
    &comment::EXT,
    &mac::EXT,
    &addrtype::EXT,
    &pkttype::EXT,
    &length::EXT,
    &ttl::EXT_TTL,
    &ttl::EXT_HL,
    &tos::EXT,
    &dscp::EXT,
    &owner::EXT,
    &rpfilter::EXT,
];

/// Every supported target besides the standard verdicts and chain jumps.
pub(crate) static TARGETS: &[&TargetExt] = &[
    &reject::EXT4,
    &reject::EXT6,
    &log::EXT,
    &nflog::EXT,
    &nfqueue::EXT,
    &nat::MASQUERADE,
    &nat::SNAT,
    &nat::DNAT,
    &nat::REDIRECT,
    &nat::NETMAP,
    &mark_tg::EXT,
    &connmark_tg::EXT,
    &ct::CT,
    &ct::NOTRACK,
    &tcpmss::EXT,
];

/// The match called `name` for `family`.
pub(crate) fn find_match(name: &str, family: Family) -> Option<&'static MatchExt> {
    MATCHES
        .iter()
        .copied()
        .find(|m| m.name == name && m.family.is_none_or(|f| f == family))
}

/// The target called `name` for `family`.
pub(crate) fn find_target(name: &str, family: Family) -> Option<&'static TargetExt> {
    TARGETS
        .iter()
        .copied()
        .find(|t| t.name == name && t.family.is_none_or(|f| f == family))
}

/// Index of option `name` in `opts`.
pub(crate) fn find_opt(opts: &[Opt], name: &str) -> Option<usize> {
    opts.iter().position(|o| o.names.contains(&name))
}

/// Prints a match's options (with the leading space, without `-m NAME`).
pub(crate) fn save_match(m: &Match, fam: Family, out: &mut String) {
    match m {
        Match::Tcp(x) => tcp::save(x, out),
        Match::Udp(x) => udp::save(x, out),
        Match::Icmp(x) => icmp::save(x, false, out),
        Match::Icmp6(x) => icmp::save(x, true, out),
        Match::State(x) => state::save(x, out),
        Match::Conntrack(x) => conntrack::save(x, out),
        Match::Multiport(x) => multiport::save(x, out),
        Match::Iprange(x) => iprange::save(x, out),
        Match::Recent(x) => recent::save(x, out),
        Match::Limit(x) => limit::save(x, out),
        Match::Hashlimit(x) => hashlimit::save(x, fam, out),
        Match::Connlimit(x) => connlimit::save(x, out),
        Match::Mark(x) => mark::save(x, out),
        Match::Connmark(x) => mark::save(x, out),
        Match::Comment(x) => comment::save(x, out),
        Match::Mac(x) => mac::save(x, out),
        Match::Addrtype(x) => addrtype::save(x, out),
        Match::Pkttype(x) => pkttype::save(x, out),
        Match::Length(x) => length::save(x, out),
        Match::Ttl(x) => ttl::save(x, "ttl", out),
        Match::Hl(x) => ttl::save(x, "hl", out),
        Match::Tos(x) => tos::save(x, out),
        Match::Dscp(x) => dscp::save(x, out),
        Match::Owner(x) => owner::save(x, out),
        Match::Rpfilter(x) => rpfilter::save(x, out),
    }
}

/// Prints a target (` -j NAME …` or ` -g CHAIN`); nothing for a counting rule.
pub(crate) fn save_target(t: &Target, out: &mut String) {
    match t {
        Target::None => {}
        Target::Accept => out.push_str(" -j ACCEPT"),
        Target::Drop => out.push_str(" -j DROP"),
        Target::Return => out.push_str(" -j RETURN"),
        Target::Jump(c) => {
            out.push_str(" -j ");
            out.push_str(c);
        }
        Target::Goto(c) => {
            out.push_str(" -g ");
            out.push_str(c);
        }
        Target::Reject(r) => reject::save(*r, out),
        Target::Log(l) => log::save(l, out),
        Target::Nflog(n) => nflog::save(n, out),
        Target::Nfqueue(q) => nfqueue::save(q, out),
        Target::Masquerade { .. }
        | Target::Snat { .. }
        | Target::Dnat { .. }
        | Target::Redirect { .. }
        | Target::Netmap(_) => nat::save(t, out),
        Target::Mark(m) => mark_tg::save(m, out),
        Target::Connmark(c) => connmark_tg::save(c, out),
        Target::Ct(_) | Target::Notrack => ct::save(t, out),
        Target::Tcpmss(m) => tcpmss::save(m, out),
    }
}

// ---------------------------------------------------------------- shared helpers

/// libxtables' final check of a mandatory option (`XTOPT_MAND`).
pub(crate) fn required(seen: u64, ext: &str, opt: &str) -> Result<(), String> {
    if seen == 0 {
        return Err(missing(ext, opt));
    }
    Ok(())
}

/// The message for a mandatory option that was not given.
pub(crate) fn missing(ext: &str, opt: &str) -> String {
    format!("{ext}: option \"{opt}\" must be specified")
}

/// An error about an argument word.
pub(crate) fn bad(t: &Tok, msg: impl Into<String>, expected: &str) -> LineErr {
    LineErr::new(t.col, &t.text, msg).expect(expected)
}

/// An unsigned number within `0..=max` (decimal, hex or octal as strtoul).
pub(crate) fn uint(t: &Tok, max: u64, what: &str) -> Result<u64, LineErr> {
    match crate::names::parse_uint(&t.text) {
        Some(v) if v <= max => Ok(v),
        _ => Err(bad(
            t,
            format!("invalid {what} `{}`", t.text),
            &format!("a number 0-{max}"),
        )),
    }
}

/// `value[/mask]` as the mark matches and targets take it (mask defaults to all ones).
pub(crate) fn value_mask(t: &Tok, what: &str) -> Result<(u32, u32, bool), LineErr> {
    let err = || {
        bad(
            t,
            format!("bad {what} value `{}`", t.text),
            "VALUE[/MASK], e.g. 0x1/0xff",
        )
    };
    let (v, m) = match t.text.split_once('/') {
        Some((v, m)) => (v, Some(m)),
        None => (t.as_str(), None),
    };
    let v = crate::names::parse_uint(v)
        .and_then(|x| u32::try_from(x).ok())
        .ok_or_else(err)?;
    let m = match m {
        Some(m) => Some(
            crate::names::parse_uint(m)
                .and_then(|x| u32::try_from(x).ok())
                .ok_or_else(err)?,
        ),
        None => None,
    };
    Ok((v, m.unwrap_or(u32::MAX), m.is_some()))
}

/// A numeric IP address (hostnames are refused: Palisade never resolves names).
pub(crate) fn ip_addr(s: &str, fam: Family) -> Result<IpAddr, String> {
    match fam {
        Family::V4 => s
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| addr_err(s, fam)),
        Family::V6 => s
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| addr_err(s, fam)),
    }
}

fn addr_err(s: &str, fam: Family) -> String {
    let looks_name = s.chars().any(|c| c.is_ascii_alphabetic())
        && !s.contains(':')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if looks_name && (fam == Family::V4 || !s.chars().all(|c| c.is_ascii_hexdigit() || c == '.')) {
        format!("host name `{s}` is not resolved; write a numeric address")
    } else {
        match fam {
            Family::V4 => format!("invalid IPv4 address `{s}`"),
            Family::V6 => format!("invalid IPv6 address `{s}`"),
        }
    }
}

/// `addr[/prefix|/mask]`.
pub(crate) fn addr_mask(s: &str, fam: Family) -> Result<AddrMask, String> {
    let (a, m) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let addr = ip_addr(a, fam)?;
    let width: u8 = if fam == Family::V4 { 32 } else { 128 };
    match m {
        None => Ok(AddrMask::from_prefix(addr, width)),
        Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => {
            match m.parse::<u8>() {
                Ok(len) if len <= width => Ok(AddrMask::from_prefix(addr, len)),
                _ => Err(format!("invalid mask `{m}` specified")),
            }
        }
        Some(m) => {
            let mask = ip_addr(m, fam).map_err(|_| format!("invalid mask `{m}` specified"))?;
            Ok(AddrMask::new(addr, mask))
        }
    }
}

/// Prints `addr/len` or `addr/mask` as iptables-save does for `-s`/`-d`.
pub(crate) fn fmt_addr_mask(a: &AddrMask) -> String {
    match a.prefix_len() {
        Some(l) => format!("{}/{}", a.addr, l),
        None => format!("{}/{}", a.addr, a.mask),
    }
}

/// A port or service name for protocol `proto`.
pub(crate) fn port(s: &str, proto: u8) -> Result<u16, String> {
    crate::names::parse_port(s, proto)
        .ok_or_else(|| format!("invalid port/service `{s}` specified"))
}

/// Why a `FIRST[SEP]LAST` range was refused.
pub(crate) enum RangeErr<E> {
    /// An end did not parse.
    End(E),
    /// First is greater than last.
    Reversed,
}

/// `a` or `a{sep}b` with `a <= b`, each end read by `one`. With `open`, an empty end
/// of a two-ended range stands for that bound (`:b`, `a:`); a lone value never may be
/// empty.
pub(crate) fn range<T: PartialOrd + Copy, E>(
    s: &str,
    sep: char,
    open: Option<(T, T)>,
    one: impl Fn(&str) -> Result<T, E>,
) -> Result<(T, T), RangeErr<E>> {
    let end = |s: &str, bound: Option<T>| match bound {
        Some(v) if s.is_empty() => Ok(v),
        _ => one(s).map_err(RangeErr::End),
    };
    let (a, b) = match s.split_once(sep) {
        Some((a, b)) => (end(a, open.map(|o| o.0))?, end(b, open.map(|o| o.1))?),
        None => {
            let v = end(s, None)?;
            (v, v)
        }
    };
    if a > b {
        return Err(RangeErr::Reversed);
    }
    Ok((a, b))
}

/// Prints a range as `a` or `a{sep}b`.
pub(crate) fn fmt_range<T: std::fmt::Display + PartialEq>(a: T, b: T, sep: char) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}{sep}{b}")
    }
}

/// `a`, `a:b`, `:b`, `a:` (missing ends are 0 / 65535).
pub(crate) fn port_range(
    t: &Tok,
    proto: u8,
) -> Result<palisade_model::matches::PortRange, LineErr> {
    let s = t.as_str();
    let e = |m: String| bad(t, m, "PORT or FIRST:LAST");
    let (lo, hi) = range(s, ':', Some((0, 65535)), |p| port(p, proto)).map_err(|x| match x {
        RangeErr::End(m) => e(m),
        RangeErr::Reversed => e(format!(
            "invalid port range `{s}`: first is greater than last"
        )),
    })?;
    Ok(palisade_model::matches::PortRange { min: lo, max: hi })
}

/// An inverted port range starting at 0 is stored by nf_tables-backed iptables
/// as the complementary range (`! --dport 0:1024` reads back as `--dport 1025:65535`),
/// so it is normalised the same way at parse time.
pub(crate) fn normalise_inverted(r: PortRange, invert: bool) -> (PortRange, bool) {
    if !invert || r.is_any() {
        return (r, invert);
    }
    // Only a real range starting at 0 is rewritten (`lte` inverted to `gt`); a
    // single port 0 and ranges ending at 65535 stay inverted.
    if r.min == 0 && r.max > 0 && r.max < 65535 {
        return (
            PortRange {
                min: r.max + 1,
                max: 65535,
            },
            false,
        );
    }
    (r, invert)
}

/// Prints a port range as `a` or `a:b`.
pub(crate) fn fmt_ports(p: &palisade_model::matches::PortRange) -> String {
    fmt_range(p.min, p.max, ':')
}

/// Prints tcp/udp `[!] --sport`/`--dport a[:b]`; the whole port space is not printed.
pub(crate) fn save_port_opt(out: &mut String, name: &str, r: &PortRange, invert: bool) {
    if !r.is_any() {
        inv(out, invert);
        out.push(' ');
        out.push_str(name);
        out.push(' ');
        out.push_str(&fmt_ports(r));
    }
}

/// Appends ` ! ` or ` ` before an option.
pub(crate) fn inv(out: &mut String, invert: bool) {
    out.push_str(if invert { " !" } else { "" });
}

/// iptables' `xtables_save_string`: bare when only `[A-Za-z0-9_-]`, else double-quoted
/// with `"`, `\` and `'` backslash-escaped.
pub(crate) fn save_string(s: &str, out: &mut String) {
    out.push(' ');
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Cuts `s` to at most `max` bytes on a character boundary (iptables silently
/// truncates over-long comments and log prefixes).
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("").to_string()
}

/// A protocol that carries ports (the ones iptables' multiport/NAT port checks allow).
pub(crate) fn has_ports(proto: u8) -> bool {
    matches!(proto, 6 | 17 | 33 | 132 | 136)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addrs() {
        let a = addr_mask("10.1.2.3/8", Family::V4).unwrap();
        assert_eq!(fmt_addr_mask(&a), "10.0.0.0/8");
        let a = addr_mask("10.1.2.3/255.0.255.0", Family::V4).unwrap();
        assert_eq!(fmt_addr_mask(&a), "10.0.2.0/255.0.255.0");
        let a = addr_mask("2001:db8::1", Family::V6).unwrap();
        assert_eq!(fmt_addr_mask(&a), "2001:db8::1/128");
        assert!(addr_mask("localhost", Family::V4)
            .unwrap_err()
            .contains("not resolved"));
        assert!(addr_mask("1.2.3.4/33", Family::V4).is_err());
        assert!(addr_mask("1.2.3.4", Family::V6).is_err());
    }

    #[test]
    fn ranges() {
        let u = |s: &str| s.parse::<u16>();
        let open = Some((0, 65535));
        assert!(matches!(range("5", ':', open, u), Ok((5, 5))));
        assert!(matches!(range(":7", ':', open, u), Ok((0, 7))));
        assert!(matches!(range("7:", ':', open, u), Ok((7, 65535))));
        assert!(matches!(range("", ':', open, u), Err(RangeErr::End(_))));
        assert!(matches!(range(":7", ':', None, u), Err(RangeErr::End(_))));
        assert!(matches!(
            range("9-3", '-', None, u),
            Err(RangeErr::Reversed)
        ));
        assert_eq!(fmt_range(3, 3, ':'), "3");
        assert_eq!(fmt_range(3, 4, '-'), "3-4");
    }

    #[test]
    fn strings() {
        let mut s = String::new();
        save_string("abc", &mut s);
        save_string("a b\"c", &mut s);
        save_string("", &mut s);
        assert_eq!(s, r#" abc "a b\"c" """#);
    }

    #[test]
    fn registry_names_unique() {
        for (i, a) in MATCHES.iter().enumerate() {
            for b in &MATCHES[i + 1..] {
                assert!(a.name != b.name || a.family != b.family, "{}", a.name);
            }
        }
    }
}

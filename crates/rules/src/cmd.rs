//! One `iptables` command line (an argv), shared by restore files and scripts: which
//! command, which chain, and the rule(s) it carries. Follows iptables' do_parse
//! (xshared.c): options are read left to right; `!` applies to the next option; an
//! option unknown to the core is looked up in the loaded extensions, newest first,
//! and failing that the match named after `-p` is loaded implicitly (that is how
//! `-p tcp --dport 22` becomes `-p tcp -m tcp --dport 22`, at that position).

use palisade_model::{
    AddrMask, Counters, Family, Iface, IpFilter, Match, Policy, Rule, Span, TableId, Target,
};

use crate::diag::LineErr;
use crate::ext::{self, find_opt, Ctx, MatchExt, TargetExt};
use crate::lex::Tok;
use crate::names::parse_proto;

/// Long spellings of the core options with an identity per option (aliases share it).
const CORE_LONG: &[(&str, &str)] = &[
    ("--append", "A"),
    ("--insert", "I"),
    ("--delete", "D"),
    ("--replace", "R"),
    ("--new-chain", "N"),
    ("--new", "N"),
    ("--delete-chain", "X"),
    ("--rename-chain", "E"),
    ("--policy", "P"),
    ("--flush", "F"),
    ("--zero", "Z"),
    ("--list", "L"),
    ("--list-rules", "S"),
    ("--check", "C"),
    ("--table", "t"),
    ("--source", "s"),
    ("--src", "s"),
    ("--destination", "d"),
    ("--dst", "d"),
    ("--in-interface", "i"),
    ("--out-interface", "o"),
    ("--protocol", "p"),
    ("--fragment", "f"),
    ("--jump", "j"),
    ("--goto", "g"),
    ("--match", "m"),
    ("--set-counters", "c"),
    ("--ipv4", "4"),
    ("--ipv6", "6"),
    ("--wait", "w"),
    ("--wait-interval", "W"),
    ("--verbose", "v"),
    ("--numeric", "n"),
    ("--exact", "x"),
    ("--line-numbers", "0"),
];

/// Where the argv came from: restore files forbid `-t` and the old `-s ! x` form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Restore,
    Script,
}

/// A command and its operands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Append(String),
    Insert(String, u32),
    Delete(String, Option<u32>),
    Replace(String, u32),
    NewChain(String),
    DeleteChain(Option<String>),
    Rename(String, String),
    Policy(String, Policy),
    Flush(Option<String>),
    Zero(Option<String>),
    /// A rule for the other family (`-4`/`-6`), ignored as iptables does.
    Skip,
}

/// A parsed command line.
#[derive(Clone, Debug)]
pub(crate) struct Command {
    pub table: TableId,
    pub op: Op,
    /// The rules it carries (several when `-s`/`-d` list addresses).
    pub rules: Vec<Rule>,
    /// Where the command word is, for diagnostics raised when applying it.
    pub at: Tok<'static>,
}

struct LoadedMatch<'a> {
    m: Match,
    ext: &'static MatchExt,
    seen: u64,
    at: &'a Tok<'a>,
}

struct LoadedTarget<'a> {
    t: Target,
    ext: Option<&'static TargetExt>,
    seen: u64,
    at: &'a Tok<'a>,
}

#[derive(Clone, Copy)]
enum Loaded {
    Match(usize),
    Target,
}

fn is_num(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// What an extension's final check wanted, from its message (which follows
/// iptables' wording): the options it names, or the protocol it needs.
fn check_expected(msg: &str, ext: &str) -> String {
    if msg.contains("TCP, UDP") || msg.contains("`-p ") {
        let p = if msg.contains("`-p tcp`") && !msg.contains("`-p udp`") {
            "`-p tcp`"
        } else {
            "`-p tcp` or `-p udp` (or another protocol with ports)"
        };
        return format!("{p} earlier in the rule");
    }
    // Option names quoted in the message, `--x' or "--x".
    let opts: Vec<&str> = msg
        .split(['`', '\'', '"'])
        .filter(|w| w.starts_with("--") && !w.contains(' '))
        .collect();
    match opts.as_slice() {
        [] => format!("the options `{ext}` needs"),
        [.., last] if msg.contains("requires") => format!("`{last}` as well"),
        [one] => format!("`{one}` after `{ext}`"),
        [init @ .., last] => format!("`{}` or `{last}` after `{ext}`", init.join("`, `")),
    }
}

/// Splits each `--opt=value` word in two.
fn expand_glued<'a>(toks: &[Tok<'a>]) -> Vec<Tok<'a>> {
    let mut expanded = Vec::with_capacity(toks.len() + 1);
    for t in toks {
        match t.text.split_once('=') {
            Some((n, v)) if n.starts_with("--") && n.len() > 2 => {
                expanded.push(Tok {
                    text: n.to_string().into(),
                    col: t.col,
                    offset: t.offset,
                });
                let k = n.chars().count() as u32 + 1;
                expanded.push(Tok {
                    text: v.to_string().into(),
                    col: t.col + k,
                    offset: t.offset + n.len() + 1,
                });
            }
            _ => expanded.push(t.clone()),
        }
    }
    expanded
}

/// Parses one command line. `toks` excludes the program name.
pub(crate) fn parse_command(
    toks: &[Tok],
    fam: Family,
    mode: Mode,
    line: u32,
) -> Result<Command, Vec<LineErr>> {
    // `--opt=value` as getopt_long allows it (rare: the words are copied only then).
    let expanded: Vec<Tok>;
    let toks: &[Tok] = if toks
        .iter()
        .any(|t| t.text.starts_with("--") && t.text.contains('='))
    {
        expanded = expand_glued(toks);
        &expanded
    } else {
        toks
    };
    let mut p = Parser {
        toks,
        i: 0,
        fam,
        mode,
        errs: Vec::new(),
        table: None,
        op: None,
        ip: IpFilter::default(),
        srcs: Vec::new(),
        dsts: Vec::new(),
        seen_ip: 0,
        matches: Vec::new(),
        target: None,
        order: Vec::new(),
        counters: Counters::default(),
        skip: false,
    };
    p.run();
    if !p.errs.is_empty() {
        return Err(p.errs);
    }
    p.finish(line)
}

struct Parser<'a> {
    toks: &'a [Tok<'a>],
    i: usize,
    fam: Family,
    mode: Mode,
    errs: Vec<LineErr>,
    table: Option<TableId>,
    op: Option<(Op, Tok<'static>)>,
    ip: IpFilter,
    srcs: Vec<AddrMask>,
    dsts: Vec<AddrMask>,
    seen_ip: u32,
    matches: Vec<LoadedMatch<'a>>,
    target: Option<LoadedTarget<'a>>,
    order: Vec<Loaded>,
    counters: Counters,
    skip: bool,
}

fn err(t: &Tok, msg: impl Into<String>) -> LineErr {
    LineErr::new(t.col, &t.text, msg)
}

impl<'a> Parser<'a> {
    fn next_arg(&mut self, opt: &Tok, what: &str) -> Result<&'a Tok<'a>, LineErr> {
        match self.toks.get(self.i) {
            Some(t) => {
                self.i += 1;
                Ok(t)
            }
            None => Err(
                err(opt, format!("option `{}` requires an argument", opt.text))
                    .expect(what.to_string()),
            ),
        }
    }

    /// An optional argument: taken when present and not an option.
    fn opt_arg(&mut self, pred: impl Fn(&str) -> bool) -> Option<&'a Tok<'a>> {
        match self.toks.get(self.i) {
            Some(t) if pred(&t.text) => {
                self.i += 1;
                Some(t)
            }
            _ => None,
        }
    }

    /// An optional word that is not an option (`-I`'s rule number, the chain of
    /// `-X`, `-F` and `-Z`).
    fn opt_word(&mut self) -> Option<&'a Tok<'a>> {
        self.opt_arg(|s| !s.starts_with('-') && s != "!")
    }

    /// The optional chain of `-X`, `-F` and `-Z` (absent: every chain of the table).
    fn opt_chain(&mut self) -> Option<String> {
        self.opt_word().map(|t| t.text.to_string())
    }

    fn set_op(&mut self, op: Op, at: &Tok) -> Result<(), LineErr> {
        if let Some((_, prev)) = &self.op {
            return Err(err(
                at,
                format!("cannot use `{}` together with `{}`", at.text, prev.text),
            )
            .expect("one command per line"));
        }
        self.op = Some((op, at.clone().into_static()));
        Ok(())
    }

    /// Old-style `-s ! addr`: older iptables took it, iptables 1.8.9 refuses it in
    /// restore files and command lines alike ("Bad argument"), and Palisade follows the
    /// kernel's userspace, with a diagnostic that says how to write it.
    fn old_invert(&mut self, _invert: &mut Option<&'a Tok<'a>>) -> Result<(), LineErr> {
        if let Some(t) = self.toks.get(self.i) {
            if t.text == "!" {
                return Err(err(
                    t,
                    "intrapositioned negation (`--option ! value`) is not accepted",
                )
                .expect("`! --option value`"));
            }
        }
        Ok(())
    }

    fn ip_once(&mut self, bit: u32, t: &Tok) -> Result<(), LineErr> {
        if self.seen_ip & bit != 0 {
            return Err(err(t, format!("multiple `{}` flags not allowed", t.text))
                .expect("the option once"));
        }
        self.seen_ip |= bit;
        Ok(())
    }

    fn run(&mut self) {
        let mut invert: Option<&'a Tok<'a>> = None;
        while self.i < self.toks.len() {
            let t: &'a Tok<'a> = &self.toks[self.i];
            self.i += 1;
            if t.text == "!" {
                if invert.is_some() {
                    self.errs
                        .push(err(t, "multiple `!` flags not allowed").expect("a single `!`"));
                    return;
                }
                invert = Some(t);
                continue;
            }
            let inv = invert.take();
            if let Err(e) = self.one(t, inv) {
                self.errs.push(e);
                return;
            }
        }
        if let Some(t) = invert {
            self.errs
                .push(err(t, "`!` at end of line").expect("an option after `!`"));
        }
    }

    fn no_inv(inv: &Option<&Tok>, t: &Tok) -> Result<(), LineErr> {
        if let Some(i) = inv {
            return Err(err(i, format!("`{}` cannot be inverted", t.text))
                .expect("no `!` before this option"));
        }
        Ok(())
    }

    fn chain_arg(&mut self, t: &Tok) -> Result<String, LineErr> {
        let c = self.next_arg(t, "a chain name")?;
        Ok(c.text.to_string())
    }

    fn one(&mut self, t: &'a Tok<'a>, mut inv: Option<&'a Tok<'a>>) -> Result<(), LineErr> {
        let name = match self.resolve_long(t)? {
            Some(n) => n,
            None => t.as_str(),
        };
        match name {
            "-A" | "--append" => {
                Self::no_inv(&inv, t)?;
                let c = self.chain_arg(t)?;
                self.set_op(Op::Append(c), t)
            }
            "-I" | "--insert" => {
                Self::no_inv(&inv, t)?;
                let c = self.chain_arg(t)?;
                let n = match self.opt_word() {
                    Some(n) => n
                        .text
                        .parse::<u32>()
                        .ok()
                        .filter(|v| *v >= 1)
                        .ok_or_else(|| {
                            err(n, format!("invalid rule number `{}`", n.text))
                                .expect("a rule number starting at 1")
                        })?,
                    None => 1,
                };
                self.set_op(Op::Insert(c, n), t)
            }
            "-D" | "--delete" => {
                Self::no_inv(&inv, t)?;
                let c = self.chain_arg(t)?;
                let n = match self.opt_arg(is_num) {
                    Some(n) => Some(n.text.parse::<u32>().ok().filter(|v| *v >= 1).ok_or_else(
                        || {
                            err(n, format!("invalid rule number `{}`", n.text))
                                .expect("a rule number starting at 1")
                        },
                    )?),
                    None => None,
                };
                self.set_op(Op::Delete(c, n), t)
            }
            "-R" | "--replace" => {
                Self::no_inv(&inv, t)?;
                let c = self.chain_arg(t)?;
                let n = self.next_arg(t, "a rule number")?;
                let v = n
                    .text
                    .parse::<u32>()
                    .ok()
                    .filter(|v| *v >= 1)
                    .ok_or_else(|| {
                        err(n, format!("invalid rule number `{}`", n.text))
                            .expect("a rule number starting at 1")
                    })?;
                self.set_op(Op::Replace(c, v), t)
            }
            "-N" | "--new-chain" | "--new" => {
                Self::no_inv(&inv, t)?;
                let c = self.chain_arg(t)?;
                self.set_op(Op::NewChain(c), t)
            }
            "-X" | "--delete-chain" => {
                Self::no_inv(&inv, t)?;
                let c = self.opt_chain();
                self.set_op(Op::DeleteChain(c), t)
            }
            "-E" | "--rename-chain" => {
                Self::no_inv(&inv, t)?;
                let a = self.chain_arg(t)?;
                let b = self.chain_arg(t)?;
                self.set_op(Op::Rename(a, b), t)
            }
            "-P" | "--policy" => {
                Self::no_inv(&inv, t)?;
                let c = self.chain_arg(t)?;
                let p = self.next_arg(t, "ACCEPT or DROP")?;
                let pol = match p.as_str() {
                    "ACCEPT" => Policy::Accept,
                    "DROP" => Policy::Drop,
                    _ => {
                        return Err(
                            err(p, format!("bad policy `{}`", p.text)).expect("ACCEPT or DROP")
                        )
                    }
                };
                self.set_op(Op::Policy(c, pol), t)
            }
            "-F" | "--flush" => {
                Self::no_inv(&inv, t)?;
                let c = self.opt_chain();
                self.set_op(Op::Flush(c), t)
            }
            "-Z" | "--zero" => {
                Self::no_inv(&inv, t)?;
                let c = self.opt_chain();
                self.set_op(Op::Zero(c), t)
            }
            "-L" | "--list" | "-S" | "--list-rules" | "-C" | "--check" => Err(err(
                t,
                format!("command `{}` is not supported in rulesets", t.text),
            )
            .expect("-A, -I, -D, -R, -N, -X, -E, -P, -F or -Z")),
            "-t" | "--table" => {
                Self::no_inv(&inv, t)?;
                let n = self.next_arg(t, "a table name")?;
                if self.mode == Mode::Restore {
                    return Err(err(t, "the -t option cannot be used in iptables-restore")
                        .expect("a `*table` line instead"));
                }
                if self.table.is_some() {
                    return Err(err(t, "multiple -t flags not allowed").expect("a single table"));
                }
                let id = TableId::from_name(&n.text).ok_or_else(|| {
                    err(n, format!("table `{}` does not exist", n.text))
                        .expect("raw, mangle, nat, filter or security")
                })?;
                self.table = Some(id);
                Ok(())
            }
            "-s" | "--source" | "--src" | "-d" | "--destination" | "--dst" => {
                let src = matches!(name, "-s" | "--source" | "--src");
                self.ip_once(if src { 1 } else { 2 }, t)?;
                self.old_invert(&mut inv)?;
                let a = self.next_arg(t, "an address")?;
                let mut list = Vec::new();
                let mut any = false;
                for part in a.text.split(',') {
                    let am = ext::addr_mask(part, self.fam)
                        .map_err(|e| err(a, e).expect("ADDRESS[/MASK][,...]"))?;
                    if am.mask.is_unspecified() {
                        any = true;
                    } else {
                        list.push(am);
                    }
                }
                let n = list.len() + usize::from(any);
                if inv.is_some() && n > 1 {
                    return Err(err(
                        a,
                        "! not allowed with multiple source or destination IP addresses",
                    )
                    .expect("a single address"));
                }
                if inv.is_some() && any {
                    return Err(err(a, "cannot invert a match on any address")
                        .expect("an address with a non-zero mask"));
                }
                // `0.0.0.0/0` in a list still yields one "any" rule.
                let mut v: Vec<Option<AddrMask>> = list.into_iter().map(Some).collect();
                if any {
                    v.insert(0, None);
                }
                let inverted = inv.is_some();
                if src {
                    self.ip.inv_src = inverted;
                    self.srcs = v.iter().flatten().copied().collect();
                    if any {
                        self.srcs.insert(
                            0,
                            AddrMask::from_prefix(std::net::IpAddr::V4(0u32.into()), 0),
                        );
                    }
                } else {
                    self.ip.inv_dst = inverted;
                    self.dsts = v.iter().flatten().copied().collect();
                    if any {
                        self.dsts.insert(
                            0,
                            AddrMask::from_prefix(std::net::IpAddr::V4(0u32.into()), 0),
                        );
                    }
                }
                Ok(())
            }
            "-i" | "--in-interface" | "-o" | "--out-interface" => {
                let input = matches!(name, "-i" | "--in-interface");
                self.ip_once(if input { 4 } else { 8 }, t)?;
                self.old_invert(&mut inv)?;
                let a = self.next_arg(t, "an interface name")?;
                let s = a.as_str();
                if s.is_empty() || s.len() > 15 || s.contains(['/', ' ']) || s == "." || s == ".." {
                    return Err(err(a, format!("invalid interface name `{s}`"))
                        .expect("a name of 1-15 characters, `+` as wildcard"));
                }
                let (n, w) = match s.strip_suffix('+') {
                    Some(n) => (n.to_string(), true),
                    None => (s.to_string(), false),
                };
                let f = Some(Iface {
                    name: n,
                    wildcard: w,
                });
                if input {
                    self.ip.in_iface = f;
                    self.ip.inv_in = inv.is_some();
                } else {
                    self.ip.out_iface = f;
                    self.ip.inv_out = inv.is_some();
                }
                Ok(())
            }
            "-p" | "--protocol" => {
                self.ip_once(16, t)?;
                self.old_invert(&mut inv)?;
                let a = self.next_arg(t, "a protocol")?;
                let p = parse_proto(&a.text).ok_or_else(|| {
                    err(a, format!("unknown protocol `{}` specified", a.text))
                        .expect("a protocol name (tcp, udp, icmp, ...) or number")
                })?;
                if p == 0 && inv.is_some() {
                    return Err(err(a, "rule would never match protocol")
                        .expect("a specific protocol after `!`"));
                }
                self.ip.proto = p;
                self.ip.inv_proto = inv.is_some();
                Ok(())
            }
            "-f" | "--fragment" => {
                self.ip_once(32, t)?;
                if self.fam == Family::V6 {
                    return Err(err(t, "`-f' is not supported in IPv6, use -m frag instead")
                        .expect("an IPv4 rule"));
                }
                self.ip.fragment = Some(inv.is_none());
                Ok(())
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                Self::no_inv(&inv, t)?;
                let goto = matches!(name, "-g" | "--goto");
                let a = self.next_arg(t, "a target or chain name")?;
                if self.target.is_some() {
                    return Err(
                        err(t, "multiple -j/-g flags not allowed").expect("a single target")
                    );
                }
                let n = a.as_str();
                if n.is_empty() {
                    return Err(err(a, "empty target name").expect("a target or chain name"));
                }
                let ctx = self.ctx();
                let std = match n {
                    "ACCEPT" => Some(Target::Accept),
                    "DROP" => Some(Target::Drop),
                    "RETURN" => Some(Target::Return),
                    _ => None,
                };
                let lt = if goto {
                    if std.is_some() || ext::find_target(n, self.fam).is_some() {
                        return Err(err(a, format!("cannot goto a target (`{n}`)"))
                            .expect("a user-defined chain"));
                    }
                    LoadedTarget {
                        t: Target::Goto(n.to_string()),
                        ext: None,
                        seen: 0,
                        at: a,
                    }
                } else if let Some(s) = std {
                    LoadedTarget {
                        t: s,
                        ext: None,
                        seen: 0,
                        at: a,
                    }
                } else if let Some(e) = ext::find_target(n, self.fam) {
                    LoadedTarget {
                        t: (e.init)(&ctx),
                        ext: Some(e),
                        seen: 0,
                        at: a,
                    }
                } else {
                    LoadedTarget {
                        t: Target::Jump(n.to_string()),
                        ext: None,
                        seen: 0,
                        at: a,
                    }
                };
                self.target = Some(lt);
                self.order.push(Loaded::Target);
                Ok(())
            }
            "-m" | "--match" => {
                Self::no_inv(&inv, t)?;
                let a = self.next_arg(t, "a match name")?;
                let e = ext::find_match(&a.text, self.fam).ok_or_else(|| {
                    err(a, format!("unsupported match `{}`", a.text))
                        .expect("a supported match (tcp, udp, conntrack, state, multiport, ...)")
                })?;
                self.load_match(e, a);
                Ok(())
            }
            "-c" | "--set-counters" => {
                Self::no_inv(&inv, t)?;
                let a = self.next_arg(t, "PACKETS BYTES")?;
                let (p, b) = match a.text.split_once(',') {
                    Some((p, b)) => (
                        p.to_string(),
                        Tok {
                            text: b.to_string().into(),
                            ..a.clone()
                        },
                    ),
                    None => (
                        a.text.to_string(),
                        self.next_arg(t, "PACKETS BYTES")?.clone(),
                    ),
                };
                let pk = p
                    .parse::<u64>()
                    .map_err(|_| err(a, "bad packet counter").expect("a number"))?;
                let by = b
                    .text
                    .parse::<u64>()
                    .map_err(|_| err(&b, "bad byte counter").expect("a number"))?;
                self.counters = Counters {
                    packets: pk,
                    bytes: by,
                };
                Ok(())
            }
            "-4" | "--ipv4" | "-6" | "--ipv6" => {
                let want = if matches!(name, "-4" | "--ipv4") {
                    Family::V4
                } else {
                    Family::V6
                };
                if want != self.fam {
                    self.skip = true;
                }
                Ok(())
            }
            "-w" | "--wait" | "-W" | "--wait-interval" => {
                if self.mode == Mode::Restore {
                    return Err(err(
                        t,
                        format!(
                            "option `{}` is not allowed in iptables-restore input",
                            t.text
                        ),
                    )
                    .expect("a rule option"));
                }
                self.opt_arg(is_num);
                Ok(())
            }
            "-v" | "--verbose" | "-n" | "--numeric" | "-x" | "--exact" | "--line-numbers"
                if self.mode == Mode::Script =>
            {
                Ok(())
            }
            _ if name.starts_with('-') && name.len() > 1 => self.ext_option(t, name, inv),
            _ => Err(err(t, format!("bad argument `{}`", t.text)).expect("an option")),
        }
    }

    /// getopt_long lets a long option be abbreviated to any unique prefix among the
    /// options known at that point (the core ones and those of loaded extensions).
    /// Returns the full spelling of an abbreviation, `None` when the word is to be
    /// taken as it is (not a long option, already exact, or unknown).
    fn resolve_long(&self, t: &Tok) -> Result<Option<&'static str>, LineErr> {
        let w = t.as_str();
        if !w.starts_with("--") || w.len() < 3 {
            return Ok(None);
        }
        let exts = || {
            self.matches
                .iter()
                .map(|m| m.ext.opts)
                .chain(self.target.as_ref().and_then(|x| x.ext).map(|e| e.opts))
        };
        let exact =
            CORE_LONG.iter().any(|(n, _)| *n == w) || exts().any(|o| find_opt(o, w).is_some());
        if exact {
            return Ok(None);
        }
        let mut cands: Vec<(&'static str, String)> = Vec::new();
        for (n, id) in CORE_LONG {
            if n.starts_with(w) {
                cands.push((n, (*id).to_string()));
            }
        }
        for (i, opts) in exts().enumerate() {
            for (j, o) in opts.iter().enumerate() {
                for n in o.names {
                    if n.starts_with(w) {
                        cands.push((n, format!("ext{i}.{j}")));
                    }
                }
            }
        }
        if cands.is_empty() {
            // The implicit protocol match is loaded after getopt fails, and getopt
            // then runs again with its options: prefixes of those count too.
            if let Some(e) = self.implicit_proto_ext() {
                for o in e.opts {
                    if let Some(n) = o.names.iter().find(|n| n.starts_with(w)) {
                        cands.push((n, o.names[0].to_string()));
                    }
                }
            }
        }
        let Some((full, first)) = cands.first() else {
            return Ok(None);
        };
        if cands.iter().all(|(_, id)| id == first) {
            return Ok(Some(full));
        }
        let names: Vec<&str> = cands.iter().map(|(n, _)| *n).collect();
        Err(err(t, format!("option `{w}` is ambiguous")).expect(names.join(", ")))
    }

    /// The match `-p` would load implicitly, if not loaded already.
    fn implicit_proto_ext(&self) -> Option<&'static MatchExt> {
        let pn = match (self.ip.proto, self.fam) {
            (6, _) => "tcp",
            (17, _) => "udp",
            (1, Family::V4) => "icmp",
            (58, Family::V6) => "icmp6",
            _ => return None,
        };
        if self.matches.iter().any(|m| m.ext.name == pn) {
            return None;
        }
        ext::find_match(pn, self.fam)
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            family: self.fam,
            proto: self.ip.proto,
            inv_proto: self.ip.inv_proto,
        }
    }

    fn load_match(&mut self, e: &'static MatchExt, at: &'a Tok<'a>) {
        let ctx = self.ctx();
        self.matches.push(LoadedMatch {
            m: (e.init)(&ctx),
            ext: e,
            seen: 0,
            at,
        });
        self.order.push(Loaded::Match(self.matches.len() - 1));
    }

    fn ext_option(
        &mut self,
        t: &'a Tok<'a>,
        name: &str,
        inv: Option<&'a Tok<'a>>,
    ) -> Result<(), LineErr> {
        // Newest extension first.
        let mut found: Option<(Loaded, usize)> = None;
        for l in self.order.iter().rev() {
            match *l {
                Loaded::Match(i) => {
                    if let Some(o) = find_opt(self.matches[i].ext.opts, name) {
                        found = Some((*l, o));
                        break;
                    }
                }
                Loaded::Target => {
                    if let Some(e) = self.target.as_ref().and_then(|x| x.ext) {
                        if let Some(o) = find_opt(e.opts, name) {
                            found = Some((*l, o));
                            break;
                        }
                    }
                }
            }
        }
        if found.is_none() {
            // Implicit protocol match.
            if let Some(e) = self.implicit_proto_ext() {
                if let Some(o) = find_opt(e.opts, name) {
                    self.load_match(e, t);
                    found = Some((Loaded::Match(self.matches.len() - 1), o));
                }
            }
        }
        let Some((l, o)) = found else {
            let mut names: Vec<&str> = Vec::new();
            for m in &self.matches {
                names.push(m.ext.name);
            }
            let hint = if names.is_empty() {
                "a rule option, or load a match with -m first".to_string()
            } else {
                format!(
                    "an option of {}",
                    names
                        .iter()
                        .map(|n| format!("`-m {n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(err(t, format!("unknown option `{}`", t.text)).expect(hint));
        };
        let ctx = self.ctx();
        let (opts, seen) = match l {
            Loaded::Match(i) => (self.matches[i].ext.opts, self.matches[i].seen),
            Loaded::Target => {
                let lt = self.target.as_ref().expect("found target option");
                (lt.ext.map(|e| e.opts).unwrap_or(&[]), lt.seen)
            }
        };
        let spec = &opts[o];
        if seen & (1 << o) != 0 {
            return Err(err(t, format!("option `{}` given more than once", t.text))
                .expect("each option once"));
        }
        let mut inv = inv;
        if spec.args > 0 {
            self.old_invert_if(spec.inv, &mut inv)?;
        }
        if let Some(i) = &inv {
            if !spec.inv {
                return Err(err(i, format!("option `{}` cannot be inverted", t.text))
                    .expect("no `!` before it"));
            }
        }
        let first_arg = self.i;
        for _ in 0..spec.args {
            self.next_arg(t, "an argument")?;
        }
        let args = &self.toks[first_arg..self.i];
        let fix = |mut e: LineErr| {
            if e.col == 0 {
                e.col = t.col;
                e.word = t.text.to_string();
            }
            e
        };
        match l {
            Loaded::Match(i) => {
                let lm = &mut self.matches[i];
                (lm.ext.parse)(&mut lm.m, o, inv.is_some(), args, &ctx, lm.seen).map_err(fix)?;
                lm.seen |= 1 << o;
            }
            Loaded::Target => {
                let lt = self.target.as_mut().expect("found target option");
                if let Some(e) = lt.ext {
                    (e.parse)(&mut lt.t, o, inv.is_some(), args, &ctx, lt.seen).map_err(fix)?;
                }
                lt.seen |= 1 << o;
            }
        }
        Ok(())
    }

    fn old_invert_if(
        &mut self,
        invertible: bool,
        inv: &mut Option<&'a Tok<'a>>,
    ) -> Result<(), LineErr> {
        if invertible {
            self.old_invert(inv)
        } else {
            Ok(())
        }
    }

    fn finish(mut self, line: u32) -> Result<Command, Vec<LineErr>> {
        let first = self
            .toks
            .first()
            .cloned()
            .unwrap_or_else(|| Tok::new("", 1));
        let Some((op, at)) = self.op.take() else {
            return Err(vec![err(&first, "no command specified")
                .expect("-A, -I, -D, -R, -N, -X, -E, -P, -F or -Z")]);
        };
        let table = self.table.unwrap_or(TableId::Filter);
        if self.skip {
            return Ok(Command {
                table,
                op: Op::Skip,
                rules: Vec::new(),
                at,
            });
        }
        let takes_rule = matches!(
            op,
            Op::Append(_) | Op::Insert(..) | Op::Replace(..) | Op::Delete(_, None)
        );
        let has_rule_opts = self.seen_ip != 0 || !self.matches.is_empty() || self.target.is_some();
        if !takes_rule {
            if has_rule_opts {
                return Err(vec![err(
                    &at,
                    format!("command `{}` takes no rule options", at.text),
                )
                .expect("a command without a rule")]);
            }
            return Ok(Command {
                table,
                op,
                rules: Vec::new(),
                at,
            });
        }
        let ctx = self.ctx();
        let mut errs = Vec::new();
        let mut matches = Vec::with_capacity(self.matches.len());
        for mut lm in std::mem::take(&mut self.matches) {
            if let Err(e) = (lm.ext.check)(&mut lm.m, lm.seen, &ctx) {
                let hint = check_expected(&e, &format!("-m {}", lm.ext.name));
                errs.push(err(lm.at, e).expect(hint));
            }
            matches.push(lm.m);
        }
        let target = match self.target.take() {
            Some(mut lt) => {
                if let Some(e) = lt.ext {
                    if let Err(m) = (e.check)(&mut lt.t, lt.seen, &ctx) {
                        let hint = check_expected(&m, &format!("-j {}", e.name));
                        errs.push(err(lt.at, m).expect(hint));
                    }
                }
                lt.t
            }
            None => Target::None,
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        // nf_tables-backed iptables loses a natively translated tcp match that holds an
        // inverted full port range (`! --dport 0:65535`): the whole `-m tcp` vanishes
        // from what the kernel keeps, so it vanishes here too.
        matches.retain(|m| {
            !matches!(m, Match::Tcp(t) if t.option == 0 && !t.inv_option
                && ((t.sport.is_any() && t.inv_sport) || (t.dport.is_any() && t.inv_dport)))
        });
        // `0.0.0.0/0` in a list is the "any" rule (no address).
        let some = |a: &AddrMask| (!a.mask.is_unspecified()).then_some(*a);
        let any: [Option<AddrMask>; 1] = [None];
        let src_list: Vec<Option<AddrMask>> = self.srcs.iter().map(some).collect();
        let dst_list: Vec<Option<AddrMask>> = self.dsts.iter().map(some).collect();
        let srcs: &[Option<AddrMask>] = if src_list.is_empty() { &any } else { &src_list };
        let dsts: &[Option<AddrMask>] = if dst_list.is_empty() { &any } else { &dst_list };
        if matches!(op, Op::Replace(..)) && srcs.len() * dsts.len() > 1 {
            return Err(vec![err(
                &at,
                "-R: replacement rule expands to multiple rules",
            )
            .expect("a single source and destination")]);
        }
        let n = srcs.len() * dsts.len();
        let mut rules = Vec::with_capacity(n);
        let mut matches = Some(matches);
        let mut target = Some(target);
        for s in srcs {
            for d in dsts {
                // The last rule takes the matches and target, the others copies.
                let last = rules.len() + 1 == n;
                let (m, tg) = if last {
                    (matches.take(), target.take())
                } else {
                    (matches.clone(), target.clone())
                };
                let mut ip = self.ip.clone();
                ip.src = *s;
                ip.dst = *d;
                if s.is_none() {
                    ip.inv_src = false;
                }
                if d.is_none() {
                    ip.inv_dst = false;
                }
                rules.push(Rule {
                    ip,
                    matches: m.unwrap_or_default(),
                    target: tg.unwrap_or(Target::None),
                    counters: self.counters,
                    span: Some(Span {
                        line,
                        col: first.col,
                    }),
                });
            }
        }
        Ok(Command {
            table,
            op,
            rules,
            at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lex::restore_words;

    fn cmd(s: &str, mode: Mode) -> Result<Command, Vec<LineErr>> {
        parse_command(&restore_words(s).unwrap(), Family::V4, mode, 1)
    }

    #[test]
    fn implicit_and_order() {
        let c = cmd(
            "-A INPUT -m conntrack --ctstate NEW -p tcp --dport 22",
            Mode::Restore,
        )
        .unwrap();
        assert_eq!(c.rules[0].matches.len(), 2);
        assert_eq!(c.rules[0].matches[1].name(), "tcp");
        let c = cmd(
            "-I INPUT 3 -s 1.1.1.1,2.2.2.2 -d 3.3.3.3,4.4.4.4",
            Mode::Restore,
        )
        .unwrap();
        assert_eq!(c.op, Op::Insert("INPUT".into(), 3));
        assert_eq!(c.rules.len(), 4);
    }

    #[test]
    fn errors() {
        let e = cmd("-A INPUT --dport 22", Mode::Restore).unwrap_err();
        assert_eq!((e[0].col, e[0].word.as_str()), (10, "--dport"));
        let e = cmd("-A INPUT -m foo", Mode::Restore).unwrap_err();
        assert!(e[0].message.contains("unsupported match `foo`"));
        let e = cmd("-A INPUT -s ! 1.2.3.4", Mode::Restore).unwrap_err();
        assert_eq!(e[0].col, 13);
        assert!(cmd("-A INPUT -s ! 1.2.3.4", Mode::Script).is_err());
        assert!(cmd("-A INPUT --proto tcp --dp 22", Mode::Script).is_ok());
        let e = cmd("-A INPUT -p tcp --d 22", Mode::Script).unwrap_err();
        assert!(e[0].message.contains("ambiguous"), "{e:?}");
        assert!(cmd("-A INPUT -t nat", Mode::Restore).is_err());
        let c = cmd(
            "-A INPUT -p tcp -m tcp ! --dport 0:65535 -j DROP",
            Mode::Restore,
        )
        .unwrap();
        assert!(c.rules[0].matches.is_empty());
        assert!(cmd("-A INPUT ! -s 1.1.1.1,2.2.2.2", Mode::Script).is_err());
        assert!(cmd("-A INPUT -s localhost", Mode::Script).unwrap_err()[0]
            .message
            .contains("not resolved"));
        assert!(cmd("-A INPUT -p tcp ! ! --dport 1", Mode::Script).is_err());
        assert!(cmd("-A INPUT -p tcp --dport=22", Mode::Script).is_ok());
    }
}

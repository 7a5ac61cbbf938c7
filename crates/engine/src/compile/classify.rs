//! Candidate index per chain: the walk visits only rules a packet could match.
//!
//! Skip steps (see `skip`) help only when neighbouring rules share a failing
//! field. Real and generated rulesets interleave host blocklists, port
//! rules, UDP rules and interface rules, so the linear walk stays linear.
//! Here every rule of a chain (from its first indexable rule on) gets one
//! *key*: a necessary condition for the rule to match, read from its header
//! or its first port match. Rules sharing a key form a list of ascending
//! entry indices. For a packet, a handful of hash lookups (one per source
//! mask in use, one per destination mask, the packet's protocol and ports,
//! its interfaces, matching interface wildcards) give the lists of rules it
//! could match; the walk visits their merge in rule order, so first-match
//! order, jumps, RETURN and counters are exactly those of the linear walk.
//! A rule the packet cannot match is never evaluated, and evaluating it
//! would have had no effect: a failing header has no side effects, and a
//! port key is taken only from a tcp/udp/multiport match preceded by pure,
//! never-hotdropping matches.
//!
//! Keys (one per rule, most selective first):
//! - source or destination network (`-s`/`-d`, not inverted), any mask:
//!   the packet's address masked with each mask in use is looked up;
//! - TCP/UDP destination or source ports (single ports, short ranges,
//!   `multiport --dports/--sports`, none inverted): looked up only when the
//!   packet has a complete TCP/UDP header and is not a later fragment. A
//!   truncated header or a fragment makes the tcp/udp match hotdrop or fail
//!   in ways ports cannot predict, so such a packet visits every
//!   port-keyed rule of its protocol;
//! - input or output interface (`-i`/`-o`, not inverted), exact or `+`;
//! - protocol (`-p`, not inverted);
//! - otherwise the rule is on the *always* list.

use foldhash::fast::FixedState;
use hashbrown::HashMap;
use palisade_model::matches::MultiportKind;
use palisade_model::Family;
use palisade_wire::L4Meta;

use crate::eval::Pkt;
use crate::host::bits;
use crate::matches::CMatch;
use crate::table::{Entry, IfPat, Net};

/// Chains with fewer indexable rules are walked linearly.
pub(crate) const MIN_RULES: usize = 8;
/// Distinct masks per address field; rarer masks key by another field.
const MAX_MASKS: usize = 8;
/// Distinct interface wildcards per direction.
const MAX_WILD: usize = 4;
/// Port ranges up to this size are expanded into single-port keys.
const MAX_PORTS: usize = 16;
/// Lists one packet can select from one chain.
pub(crate) const MAX_HEADS: usize = 2 * MAX_MASKS + 2 * MAX_WILD + 8;

/// A `[start, end)` slice of [`Index::arena`].
type Span = (u32, u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    /// Source mask number, masked address.
    Src(u8, u128),
    Dst(u8, u128),
    /// Protocol, destination port.
    Dport(u8, u16),
    Sport(u8, u16),
    /// Every port-keyed rule of a protocol (for packets without usable ports).
    PortAny(u8),
    Proto(u8),
}

type Map<K> = HashMap<K, Span, FixedState>;

fn new_map<K>() -> Map<K> {
    HashMap::with_hasher(FixedState::with_seed(0x636c_6173))
}

/// The index of one chain's rules `start..end` (`end`: the chain's end entry).
#[derive(Debug)]
pub(crate) struct Classifier {
    pub start: u32,
    pub end: u32,
    /// `(v6, mask)` by mask number.
    src_masks: Vec<(bool, u128)>,
    dst_masks: Vec<(bool, u128)>,
    dport: bool,
    sport: bool,
    ports: bool,
    proto: bool,
    map: Map<Key>,
    iif: Map<Box<str>>,
    oif: Map<Box<str>>,
    iif_wild: Vec<(Box<str>, Span)>,
    oif_wild: Vec<(Box<str>, Span)>,
    always: Span,
}

/// Every classifier of a table.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub list: Vec<Classifier>,
    /// Classifier of each entry (`u32::MAX`: none).
    pub of: Vec<u32>,
    /// Entry indices, ascending within each span.
    pub arena: Vec<u32>,
}

/// The merge state of one walk: the lists one packet selected in one
/// chain, each with a read position. Lives on the walk's stack.
pub(crate) struct Cursor {
    cl: u32,
    /// Last index asked for; a smaller one means the chain was re-entered.
    last: u32,
    n: usize,
    heads: [Span; MAX_HEADS],
}

impl Cursor {
    pub(crate) fn new() -> Cursor {
        Cursor {
            cl: u32::MAX,
            last: 0,
            n: 0,
            heads: [(0, 0); MAX_HEADS],
        }
    }

    fn push(&mut self, s: Span) {
        if s.0 < s.1 && self.n < MAX_HEADS {
            self.heads[self.n] = s;
            self.n += 1;
        }
    }
}

impl Index {
    /// Whether entry `i` is covered by a classifier.
    #[inline]
    pub(crate) fn covers(&self, i: usize) -> bool {
        self.of.get(i).is_some_and(|&c| c != u32::MAX)
    }

    /// The first entry at or after `i` that `pkt` may match (the chain's end
    /// entry when none); `i` itself when `i` is not covered.
    #[inline]
    pub(crate) fn next(&self, cur: &mut Cursor, i: usize, pkt: &Pkt) -> usize {
        let Some(&c) = self.of.get(i) else { return i };
        let Some(cl) = self.list.get(c as usize) else {
            return i;
        };
        if cur.cl != c || (i as u32) < cur.last {
            cur.cl = c;
            cur.n = 0;
            cl.select(pkt, cur);
        }
        cur.last = i as u32;
        let mut best = cl.end;
        let mut k = 0;
        while k < cur.n {
            let (pos, end) = cur.heads[k];
            let list = self.arena.get(pos as usize..end as usize).unwrap_or(&[]);
            let skip = list.partition_point(|&x| (x as usize) < i);
            match list.get(skip) {
                Some(&x) => {
                    cur.heads[k].0 = pos + skip as u32;
                    best = best.min(x);
                    k += 1;
                }
                None => {
                    cur.n -= 1;
                    cur.heads[k] = cur.heads[cur.n];
                }
            }
        }
        best as usize
    }
}

/// Ports of a complete TCP/UDP header of a first fragment.
fn packet_ports(pkt: &Pkt) -> Option<(u16, u16)> {
    if pkt.meta.frag_off != 0 {
        return None;
    }
    match (pkt.meta.proto, pkt.meta.l4) {
        (6, L4Meta::Tcp(t)) => Some((t.sport, t.dport)),
        (17, L4Meta::Udp(u)) => Some((u.sport, u.dport)),
        _ => None,
    }
}

impl Classifier {
    /// Fills `cur` with the lists `pkt` selects.
    fn select(&self, pkt: &Pkt, cur: &mut Cursor) {
        cur.push(self.always);
        let v6 = pkt.meta.family == Family::V6;
        for (masks, addr, dst) in [
            (&self.src_masks, pkt.meta.src, false),
            (&self.dst_masks, pkt.meta.dst, true),
        ] {
            let a = bits(addr);
            for (m, &(mv6, mask)) in masks.iter().enumerate() {
                if mv6 != v6 {
                    continue;
                }
                let key = if dst {
                    Key::Dst(m as u8, a & mask)
                } else {
                    Key::Src(m as u8, a & mask)
                };
                if let Some(&s) = self.map.get(&key) {
                    cur.push(s);
                }
            }
        }
        let proto = pkt.meta.proto;
        if self.ports {
            match packet_ports(pkt) {
                Some((sp, dp)) => {
                    if self.dport {
                        if let Some(&s) = self.map.get(&Key::Dport(proto, dp)) {
                            cur.push(s);
                        }
                    }
                    if self.sport {
                        if let Some(&s) = self.map.get(&Key::Sport(proto, sp)) {
                            cur.push(s);
                        }
                    }
                }
                None => {
                    if let Some(&s) = self.map.get(&Key::PortAny(proto)) {
                        cur.push(s);
                    }
                }
            }
        }
        if self.proto {
            if let Some(&s) = self.map.get(&Key::Proto(proto)) {
                cur.push(s);
            }
        }
        for (exact, wild, name) in [
            (&self.iif, &self.iif_wild, pkt.iif),
            (&self.oif, &self.oif_wild, pkt.oif),
        ] {
            if !exact.is_empty() {
                if let Some(&s) = exact.get(name) {
                    cur.push(s);
                }
            }
            for (pat, s) in wild {
                if name.starts_with(&**pat) {
                    cur.push(*s);
                }
            }
        }
    }
}

/// Ports of a port key, expanded.
#[derive(Clone, Copy)]
struct Ports {
    dst: bool,
    proto: u8,
    n: usize,
    list: [u16; MAX_PORTS],
}

impl Ports {
    fn new(dst: bool, proto: u8) -> Ports {
        Ports {
            dst,
            proto,
            n: 0,
            list: [0; MAX_PORTS],
        }
    }

    /// Adds `min..=max`; false when the total would exceed [`MAX_PORTS`].
    fn add(&mut self, min: u16, max: u16) -> bool {
        if min > max {
            // An empty range never matches: no port to add.
            return true;
        }
        if usize::from(max - min) >= MAX_PORTS - self.n {
            return false;
        }
        for p in min..=max {
            self.list[self.n] = p;
            self.n += 1;
        }
        true
    }

    fn of_range(dst: bool, proto: u8, min: u16, max: u16) -> Option<Ports> {
        let mut p = Ports::new(dst, proto);
        p.add(min, max).then_some(p)
    }
}

/// Matches that neither have side effects nor hotdrop: a port match after
/// them still decides alone whether a rule with other ports can match.
fn pure(m: &CMatch) -> bool {
    matches!(
        m,
        CMatch::Comment
            | CMatch::State(_)
            | CMatch::Conntrack(_)
            | CMatch::Mark(_)
            | CMatch::Connmark(_)
            | CMatch::Pkttype(_)
            | CMatch::Length(_)
            | CMatch::Ttl(_)
            | CMatch::Hl(_)
            | CMatch::Tos(_)
            | CMatch::Dscp(_)
            | CMatch::Iprange(_)
            | CMatch::Mac(_)
    )
}

/// The port key of a rule, from its first non-pure match.
fn port_key(e: &Entry) -> Option<Ports> {
    let proto = match e.ip.proto {
        Some((p @ (6 | 17), false)) => p,
        _ => return None,
    };
    let m = e.matches.iter().find(|m| !pure(m))?;
    let full = |min: u16, max: u16| min == 0 && max == u16::MAX;
    let tcpudp = |sport: (u16, u16, bool), dport: (u16, u16, bool)| {
        if !dport.2 && !full(dport.0, dport.1) {
            if let Some(p) = Ports::of_range(true, proto, dport.0, dport.1) {
                return Some(p);
            }
        }
        if !sport.2 && !full(sport.0, sport.1) {
            return Ports::of_range(false, proto, sport.0, sport.1);
        }
        None
    };
    match m {
        CMatch::Tcp(t) if proto == 6 => tcpudp(
            (t.sport.min, t.sport.max, t.inv_sport),
            (t.dport.min, t.dport.max, t.inv_dport),
        ),
        CMatch::Udp(u) if proto == 17 => tcpudp(
            (u.sport.min, u.sport.max, u.inv_sport),
            (u.dport.min, u.dport.max, u.inv_dport),
        ),
        CMatch::Multiport(mp) if !mp.invert => {
            let dst = match mp.kind {
                MultiportKind::Destination => true,
                MultiportKind::Source => false,
                MultiportKind::Either => return None,
            };
            let mut p = Ports::new(dst, proto);
            for r in &mp.ports {
                if !p.add(r.min, r.max) {
                    return None;
                }
            }
            Some(p)
        }
        _ => None,
    }
}

fn net_key(f: &Option<(Net, bool)>) -> Option<Net> {
    match f {
        Some((n, false)) if n.mask != 0 => Some(*n),
        _ => None,
    }
}

fn if_key(f: &Option<(IfPat, bool)>) -> Option<&IfPat> {
    match f {
        Some((p, false)) if !p.name.is_empty() => Some(p),
        _ => None,
    }
}

fn mask_bits(n: &Net) -> u32 {
    let b = n.mask.count_ones();
    if n.v6 {
        b / 4
    } else {
        b
    }
}

/// Candidate keys of one rule.
struct Cand<'a> {
    src: Option<Net>,
    dst: Option<Net>,
    ports: Option<Ports>,
    iif: Option<&'a IfPat>,
    oif: Option<&'a IfPat>,
    proto: Option<u8>,
}

impl<'a> Cand<'a> {
    fn of(e: &'a Entry) -> Cand<'a> {
        Cand {
            src: net_key(&e.ip.src),
            dst: net_key(&e.ip.dst),
            ports: port_key(e),
            iif: if_key(&e.ip.iif),
            oif: if_key(&e.ip.oif),
            proto: match e.ip.proto {
                Some((p, false)) => Some(p),
                _ => None,
            },
        }
    }
}

/// The key a rule is filed under.
enum Choice<'a> {
    Src(u8, u128),
    Dst(u8, u128),
    Ports(Ports),
    Iif(&'a IfPat),
    Oif(&'a IfPat),
    Proto(u8),
    Always,
}

/// Top `max` values by count (ties: first seen), in first-seen order.
fn top<T: PartialEq + Copy>(counts: &[(T, usize)], max: usize) -> Vec<T> {
    let mut v: Vec<(usize, usize)> = counts.iter().map(|c| c.1).enumerate().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(max);
    v.sort();
    v.into_iter().map(|(i, _)| counts[i].0).collect()
}

fn count<T: PartialEq + Copy + std::hash::Hash + Eq>(
    counts: &mut Vec<(T, usize)>,
    pos: &mut HashMap<T, usize, FixedState>,
    v: T,
) {
    match pos.get(&v) {
        Some(&i) => counts[i].1 += 1,
        None => {
            pos.insert(v, counts.len());
            counts.push((v, 1));
        }
    }
}

/// Score of an address key: longer masks are more selective.
fn net_score(n: &Net) -> u32 {
    match mask_bits(n) {
        32.. => 9,
        24.. => 10,
        16.. => 30,
        _ => 50,
    }
}

/// The most selective key of a rule (lower score wins).
fn choose<'a>(
    c: &Cand<'a>,
    src_masks: &[(bool, u128)],
    dst_masks: &[(bool, u128)],
    iif_wild: &[&str],
    oif_wild: &[&str],
) -> Choice<'a> {
    let mut best = (u32::MAX, Choice::Always);
    let mut offer = |score: u32, ch: Choice<'a>| {
        if score < best.0 {
            best = (score, ch);
        }
    };
    let mask_no = |masks: &[(bool, u128)], n: &Net| {
        masks
            .iter()
            .position(|m| *m == (n.v6, n.mask))
            .map(|i| i as u8)
    };
    if let Some(n) = c.src {
        if let Some(m) = mask_no(src_masks, &n) {
            offer(net_score(&n), Choice::Src(m, n.addr));
        }
    }
    if let Some(n) = c.dst {
        if let Some(m) = mask_no(dst_masks, &n) {
            offer(net_score(&n) + 1, Choice::Dst(m, n.addr));
        }
    }
    if let Some(p) = c.ports {
        offer(20, Choice::Ports(p));
    }
    for (pat, wild, out) in [(c.iif, iif_wild, false), (c.oif, oif_wild, true)] {
        let Some(p) = pat else { continue };
        let score = if !p.wildcard {
            40
        } else if wild.contains(&&*p.name) {
            70
        } else {
            continue;
        };
        offer(
            score + u32::from(out),
            if out { Choice::Oif(p) } else { Choice::Iif(p) },
        );
    }
    if let Some(p) = c.proto {
        offer(60, Choice::Proto(p));
    }
    best.1
}

/// `(key, entry)` pairs in rule order to a map of spans over `arena`:
/// count per key, lay the lists out, fill them in rule order (linear; a
/// rule repeating a key, as `--dports 80,80` does, is listed once).
fn spans<K: Clone + Eq + std::hash::Hash>(pairs: &[(K, u32)], arena: &mut Vec<u32>) -> Map<K> {
    let mut map: Map<K> = new_map();
    for (k, _) in pairs {
        map.entry(k.clone()).or_insert((0, 0)).1 += 1;
    }
    let mut off = arena.len() as u32;
    for s in map.values_mut() {
        let n = s.1;
        *s = (off, off);
        off += n;
    }
    arena.resize(off as usize, u32::MAX);
    for (k, i) in pairs {
        if let Some(s) = map.get_mut(k) {
            if s.1 == s.0 || arena.get(s.1 as usize - 1) != Some(i) {
                if let Some(slot) = arena.get_mut(s.1 as usize) {
                    *slot = *i;
                    s.1 += 1;
                }
            }
        }
    }
    map
}

fn span_of(list: &[u32], arena: &mut Vec<u32>) -> Span {
    let from = arena.len() as u32;
    arena.extend_from_slice(list);
    (from, arena.len() as u32)
}

/// Builds the classifier of the rules `first..end` (`end`: the chain's end
/// entry), appending its lists to `arena`; `None` when not worth it.
fn build(entries: &[Entry], first: usize, end: usize, arena: &mut Vec<u32>) -> Option<Classifier> {
    let rules = entries.get(first..end)?;
    // Every port-keyed rule also has a protocol, so ports need not be read
    // to know whether a rule has a key.
    let keyed = |e: &Entry| {
        net_key(&e.ip.src).is_some()
            || net_key(&e.ip.dst).is_some()
            || if_key(&e.ip.iif).is_some()
            || if_key(&e.ip.oif).is_some()
            || matches!(e.ip.proto, Some((_, false)))
    };
    // Leading unkeyed rules (`-m conntrack --ctstate ESTABLISHED`) stay
    // outside: a packet they take never pays for the lookups.
    let lead = rules.iter().position(keyed)?;
    let rules = &rules[lead..];
    if rules.iter().filter(|e| keyed(e)).count() < MIN_RULES {
        return None;
    }
    let start = first + lead;

    // Masks and wildcards in use, most frequent first.
    let mut src_c = Vec::new();
    let mut dst_c = Vec::new();
    let mut iw_c: Vec<(&str, usize)> = Vec::new();
    let mut ow_c: Vec<(&str, usize)> = Vec::new();
    {
        let mut sp = HashMap::with_hasher(FixedState::with_seed(1));
        let mut dp = HashMap::with_hasher(FixedState::with_seed(2));
        let mut ip = HashMap::with_hasher(FixedState::with_seed(3));
        let mut op = HashMap::with_hasher(FixedState::with_seed(4));
        for e in rules {
            if let Some(n) = net_key(&e.ip.src) {
                count(&mut src_c, &mut sp, (n.v6, n.mask));
            }
            if let Some(n) = net_key(&e.ip.dst) {
                count(&mut dst_c, &mut dp, (n.v6, n.mask));
            }
            if let Some(p) = if_key(&e.ip.iif).filter(|p| p.wildcard) {
                count(&mut iw_c, &mut ip, &*p.name);
            }
            if let Some(p) = if_key(&e.ip.oif).filter(|p| p.wildcard) {
                count(&mut ow_c, &mut op, &*p.name);
            }
        }
    }
    let src_masks = top(&src_c, MAX_MASKS);
    let dst_masks = top(&dst_c, MAX_MASKS);
    let iif_wild = top(&iw_c, MAX_WILD);
    let oif_wild = top(&ow_c, MAX_WILD);

    let mut keys: Vec<(Key, u32)> = Vec::with_capacity(rules.len());
    let mut ifs: [Vec<(&str, u32)>; 2] = [Vec::new(), Vec::new()];
    let mut wild: [Vec<Vec<u32>>; 2] = [
        vec![Vec::new(); iif_wild.len()],
        vec![Vec::new(); oif_wild.len()],
    ];
    let mut always = Vec::new();
    let (mut dport, mut sport, mut ports, mut proto) = (false, false, false, false);
    for (k, e) in rules.iter().enumerate() {
        let idx = (start + k) as u32;
        let c = &Cand::of(e);
        match choose(c, &src_masks, &dst_masks, &iif_wild, &oif_wild) {
            Choice::Src(m, a) => keys.push((Key::Src(m, a), idx)),
            Choice::Dst(m, a) => keys.push((Key::Dst(m, a), idx)),
            Choice::Ports(p) => {
                ports = true;
                for &port in &p.list[..p.n] {
                    if p.dst {
                        dport = true;
                        keys.push((Key::Dport(p.proto, port), idx));
                    } else {
                        sport = true;
                        keys.push((Key::Sport(p.proto, port), idx));
                    }
                }
                keys.push((Key::PortAny(p.proto), idx));
            }
            Choice::Iif(p) if p.wildcard => {
                if let Some(w) = iif_wild.iter().position(|n| **n == *p.name) {
                    wild[0][w].push(idx);
                }
            }
            Choice::Oif(p) if p.wildcard => {
                if let Some(w) = oif_wild.iter().position(|n| **n == *p.name) {
                    wild[1][w].push(idx);
                }
            }
            Choice::Iif(p) => ifs[0].push((&p.name, idx)),
            Choice::Oif(p) => ifs[1].push((&p.name, idx)),
            Choice::Proto(p) => {
                proto = true;
                keys.push((Key::Proto(p), idx));
            }
            Choice::Always => always.push(idx),
        }
    }
    let map = spans(&keys, arena);
    let mut if_maps = [new_map(), new_map()];
    for (d, v) in ifs.iter().enumerate() {
        for (name, span) in spans(v, arena) {
            if_maps[d].insert(Box::from(name), span);
        }
    }
    let [iif, oif] = if_maps;
    let [iw, ow] = wild;
    let wild_spans = |names: &[&str], lists: Vec<Vec<u32>>, arena: &mut Vec<u32>| {
        names
            .iter()
            .zip(lists)
            .map(|(n, l)| (Box::from(*n), span_of(&l, arena)))
            .collect::<Vec<_>>()
    };
    let iif_wild = wild_spans(&iif_wild, iw, arena);
    let oif_wild = wild_spans(&oif_wild, ow, arena);
    Some(Classifier {
        start: start as u32,
        end: end as u32,
        src_masks,
        dst_masks,
        dport,
        sport,
        ports,
        proto,
        map,
        iif,
        oif,
        iif_wild,
        oif_wild,
        always: span_of(&always, arena),
    })
}

/// Builds the index of every chain (`chains`: first rule and end entry).
pub(crate) fn calc(entries: &[Entry], chains: impl Iterator<Item = (u32, u32)>) -> Index {
    let mut ix = Index {
        list: Vec::new(),
        of: Vec::new(),
        arena: Vec::new(),
    };
    for (first, end) in chains {
        if let Some(cl) = build(entries, first as usize, end as usize, &mut ix.arena) {
            if ix.of.is_empty() {
                ix.of = vec![u32::MAX; entries.len()];
            }
            let id = ix.list.len() as u32;
            for o in &mut ix.of[cl.start as usize..cl.end as usize] {
                *o = id;
            }
            ix.list.push(cl);
        }
    }
    ix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::test_fib;
    use crate::eval::{do_table, Sinks};
    use crate::matches::MatchEnv;
    use crate::state::hashlimit::HashlimitTables;
    use crate::state::recent::RecentTables;
    use etherparse::PacketBuilder;
    use palisade_model::{Hook, Ruleset, TableId};

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
        fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
            &v[self.below(v.len() as u64) as usize]
        }
    }

    struct NoConns;
    impl crate::matches::connlimit::ConnLookup for NoConns {
        fn alive(&self, _: u8, _: &crate::ctview::TupleView) -> bool {
            false
        }
    }

    /// One packet: datagram, input and output interface.
    type TestPkt = (Vec<u8>, &'static str, &'static str);

    /// Walks every packet through two compilations of `rs` at `hook`, one
    /// with skip steps and the index, one naive; verdicts and every counter
    /// must agree. Returns how many indexed classifiers the table had.
    fn compare(rs: &Ruleset, hook: Hook, pkts: &[TestPkt]) -> usize {
        let mut st: Vec<(crate::compile::Compiled, RecentTables, HashlimitTables)> = (0..2)
            .map(|_| {
                let mut r = RecentTables::default();
                let mut h = HashlimitTables::default();
                let c = crate::compile::compile(rs, &mut r, &mut h).expect("compiles");
                (c, r, h)
            })
            .collect();
        let fib = test_fib();
        let mut stack = Vec::new();
        let mut logs = Vec::new();
        for (k, (data, iif, oif)) in pkts.iter().enumerate() {
            let mut verdicts = Vec::new();
            for (j, (c, rec, hl)) in st.iter_mut().enumerate() {
                let mut d = data.clone();
                let mut p = crate::eval::tests::pkt_of(&mut d);
                p.now = k as u64 * 1_000_000;
                p.hook = hook;
                p.iif = iif;
                p.oif = oif;
                let t = c.tables[TableId::Filter as usize].as_mut().expect("filter");
                let mut env = MatchEnv {
                    fib: &fib,
                    recent: rec,
                    hashlimit: hl,
                    conns: &NoConns,
                    iif_loopback: false,
                };
                let mut sinks = Sinks {
                    logs: &mut logs,
                    trace: None,
                    observer: None,
                    stack: &mut stack,
                    rec: None,
                };
                verdicts.push(do_table(t, hook, &mut p, &mut env, &mut sinks, j == 0));
            }
            assert_eq!(verdicts[0], verdicts[1], "packet {k}");
        }
        let ta = st[0].0.tables[TableId::Filter as usize].as_ref().unwrap();
        let tb = st[1].0.tables[TableId::Filter as usize].as_ref().unwrap();
        for (i, (x, y)) in ta.entries.iter().zip(tb.entries.iter()).enumerate() {
            assert_eq!(
                x.counters,
                y.counters,
                "entry {i} ({} rule {})",
                ta.chain_name(i),
                x.rule_no
            );
        }
        ta.index.list.len()
    }

    const ADDRS: [&str; 10] = [
        "10.0.0.0/8",
        "10.1.0.0/16",
        "10.1.2.0/24",
        "10.1.2.3",
        "10.1.2.4/31",
        "192.168.0.0/16",
        "192.168.1.7",
        "172.16.0.0/12",
        "10.0.2.0/255.0.255.0",
        "8.8.8.8",
    ];
    const HOSTS: [[u8; 4]; 7] = [
        [10, 1, 2, 3],
        [10, 1, 2, 4],
        [10, 9, 2, 3],
        [192, 168, 1, 7],
        [172, 16, 5, 5],
        [8, 8, 8, 8],
        [1, 2, 3, 4],
    ];
    const PORTS: [&str; 8] = [
        "22",
        "53",
        "80",
        "443",
        "20:25",
        "1000:1010",
        "0:1023",
        "8080",
    ];
    const PKT_PORTS: [u16; 8] = [22, 53, 80, 443, 21, 1005, 8080, 40000];
    const IFS: [&str; 7] = ["eth0", "eth1", "eth+", "e+", "lo", "+", "wlan0"];
    const PKT_IFS: [&str; 4] = ["eth0", "eth1", "lo", "wlan0"];

    fn gen_rule(r: &mut Rng, chain: &str, jumps: &[&str], ret: bool) -> String {
        let mut s = format!("-A {chain}");
        let neg = |r: &mut Rng| if r.below(6) == 0 { "! " } else { "" };
        if r.below(2) == 0 {
            s += &format!(" {}-s {}", neg(r), r.pick(&ADDRS));
        }
        if r.below(4) == 0 {
            s += &format!(" {}-d {}", neg(r), r.pick(&ADDRS));
        }
        if r.below(5) == 0 {
            s += &format!(" {}-i {}", neg(r), r.pick(&IFS));
        }
        if r.below(6) == 0 {
            s += &format!(" {}-o {}", neg(r), r.pick(&IFS));
        }
        let proto = match r.below(8) {
            0..=2 => "tcp",
            3..=4 => "udp",
            5 => "icmp",
            6 => "!tcp",
            _ => "",
        };
        match proto {
            "" => {}
            "!tcp" => s += " ! -p tcp",
            p => s += &format!(" -p {p}"),
        }
        if r.below(8) == 0 {
            s += " -m comment --comment x";
        }
        if r.below(10) == 0 {
            s += " -m limit --limit 100/sec --limit-burst 3";
        }
        if proto == "tcp" || proto == "udp" {
            let p = r.pick(&PORTS);
            match r.below(6) {
                0 => s += &format!(" -m {proto} {}--dport {p}", neg(r)),
                1 => s += &format!(" -m {proto} --sport {p}"),
                2 => {
                    s += &format!(
                        " -m multiport --{} {p},{}",
                        ["dports", "sports", "ports"][r.below(3) as usize],
                        r.pick(&PORTS)
                    )
                }
                3 if proto == "tcp" => s += &format!(" -m tcp --dport {p} --syn"),
                _ => {}
            }
        }
        let target = match r.below(400) {
            0 | 1 => " -j ACCEPT".to_string(),
            2 | 3 => " -j DROP".to_string(),
            4..=7 if !jumps.is_empty() => format!(" -j {}", r.pick(jumps)),
            8 if !jumps.is_empty() => format!(" -g {}", r.pick(jumps)),
            9..=12 if ret => " -j RETURN".to_string(),
            _ => String::new(),
        };
        s += &target;
        s.push('\n');
        s
    }

    fn gen_packet(r: &mut Rng) -> TestPkt {
        let src = *r.pick(&HOSTS);
        let dst = *r.pick(&HOSTS);
        let (sp, dp) = (*r.pick(&PKT_PORTS), *r.pick(&PKT_PORTS));
        let b = PacketBuilder::ipv4(src, dst, 64);
        let mut v = Vec::new();
        let kind = r.below(10);
        match kind {
            0..=4 => {
                let mut t = b.tcp(sp, dp, 1, 1000);
                if r.below(2) == 0 {
                    t = t.syn();
                }
                t.write(&mut v, &[]).unwrap()
            }
            5..=7 => b.udp(sp, dp).write(&mut v, b"x").unwrap(),
            _ => b.icmpv4_echo_request(1, 1).write(&mut v, b"").unwrap(),
        }
        match r.below(12) {
            // TCP/UDP header cut short: tcp/udp matches hotdrop.
            0 if kind <= 7 => {
                v.truncate(26);
                v[2..4].copy_from_slice(&26u16.to_be_bytes());
            }
            // A later fragment (offset 8 bytes: the tcp match hotdrops).
            1 => v[6..8].copy_from_slice(&[0, 1 + r.below(2) as u8]),
            _ => {}
        }
        (v, *r.pick(&PKT_IFS), *r.pick(&PKT_IFS))
    }

    fn ruleset(text: &str) -> Ruleset {
        ruleset_of(text, palisade_model::Family::V4)
    }

    fn ruleset_of(text: &str, family: palisade_model::Family) -> Ruleset {
        match palisade_rules::parse_restore(text, "t", family) {
            Ok(r) => r,
            Err(d) => panic!("{:?}", d.first()),
        }
    }

    /// Random FORWARD chain plus user chains (one large enough to be
    /// indexed), every header field and port form, negations, interface
    /// wildcards, jumps, gotos and RETURNs, truncated headers and fragments.
    #[test]
    fn index_keeps_first_match_and_counters() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let mut text = String::from(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:U1 - [0:0]\n:U2 - [0:0]\n",
        );
        text += "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n";
        for _ in 0..3000 {
            text += &gen_rule(&mut r, "FORWARD", &["U1", "U2"], false);
        }
        for _ in 0..400 {
            text += &gen_rule(&mut r, "U1", &["U2"], true);
        }
        for _ in 0..30 {
            text += &gen_rule(&mut r, "U2", &[], true);
        }
        text += "COMMIT\n";
        let rs = ruleset(&text);
        let pkts: Vec<TestPkt> = (0..2000).map(|_| gen_packet(&mut r)).collect();
        assert!(compare(&rs, Hook::Forward, &pkts) >= 2);
    }

    /// A server ruleset as people write them: state first, loopback, a
    /// blocklist of hosts and networks, per-service ports, per-interface
    /// rules, Arch-style TCP/UDP chains, logging and rejects.
    #[test]
    fn realistic_ruleset_same_as_linear() {
        let mut text = String::from(
            "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:TCP - [0:0]\n:UDP - [0:0]\n:BLOCK - [0:0]\n",
        );
        text += "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
                 -A INPUT -i lo -j ACCEPT\n\
                 -A INPUT -m conntrack --ctstate INVALID -j DROP\n\
                 -A INPUT -j BLOCK\n\
                 -A INPUT -p icmp -m icmp --icmp-type 8 -m conntrack --ctstate NEW -j ACCEPT\n\
                 -A INPUT -p udp -m conntrack --ctstate NEW -j UDP\n\
                 -A INPUT -p tcp --syn -m conntrack --ctstate NEW -j TCP\n\
                 -A INPUT -p udp -j REJECT --reject-with icmp-port-unreachable\n\
                 -A INPUT -p tcp -j REJECT --reject-with tcp-reset\n\
                 -A INPUT -j REJECT --reject-with icmp-proto-unreachable\n";
        for k in 0..200u32 {
            text += &format!("-A BLOCK -s 192.168.{}.{} -j DROP\n", k / 50, k % 50 + 1);
            if k % 20 == 0 {
                text += &format!("-A BLOCK -s 172.{}.0.0/16 -j DROP\n", 16 + k / 20);
                text += &format!("-A BLOCK -i eth1 -d 10.1.{}.0/24 -j DROP\n", k / 20);
            }
        }
        text += "-A BLOCK -s 192.168.1.7 -p tcp --dport 22 -j ACCEPT\n";
        for (p, port) in [
            ("tcp", "22"),
            ("tcp", "80"),
            ("tcp", "443"),
            ("tcp", "8000:8010"),
            ("udp", "53"),
            ("udp", "123"),
            ("udp", "1000:1010"),
        ] {
            let chain = if p == "tcp" { "TCP" } else { "UDP" };
            text += &format!("-A {chain} -p {p} -m {p} --dport {port} -j ACCEPT\n");
            text += &format!("-A {chain} -i eth1 -p {p} -m {p} --dport {port} -j LOG\n");
            text += &format!(
                "-A {chain} -s 10.0.0.0/8 -p {p} -m multiport --dports {port},9999 -j ACCEPT\n"
            );
        }
        text += "-A TCP -p tcp -m recent --set --name TCP-PORTSCAN -j REJECT --reject-with tcp-reset\n\
                 -A UDP -p udp -m recent --set --name UDP-PORTSCAN -j REJECT --reject-with icmp-port-unreachable\n\
                 COMMIT\n";
        let rs = ruleset(&text);
        let mut r = Rng(7);
        let pkts: Vec<TestPkt> = (0..3000)
            .map(|_| {
                let (mut d, iif, oif) = gen_packet(&mut r);
                if r.below(3) == 0 {
                    d[12..16].copy_from_slice(&[192, 168, r.below(5) as u8, r.below(60) as u8]);
                }
                (d, iif, oif)
            })
            .collect();
        assert!(compare(&rs, Hook::Input, &pkts) >= 1);
    }

    /// IPv6: prefixes of several lengths, ports, interfaces, jumps.
    #[test]
    fn index_v6_same_as_linear() {
        const A6: [&str; 6] = [
            "2001:db8::/32",
            "2001:db8:1::/48",
            "2001:db8:1:2::/64",
            "2001:db8:1:2::3",
            "fd00::1",
            "fe80::/10",
        ];
        const H6: [[u16; 8]; 5] = [
            [0x2001, 0xdb8, 1, 2, 0, 0, 0, 3],
            [0x2001, 0xdb8, 1, 2, 0, 0, 0, 4],
            [0x2001, 0xdb8, 9, 0, 0, 0, 0, 1],
            [0xfd00, 0, 0, 0, 0, 0, 0, 1],
            [0x2a00, 1, 0, 0, 0, 0, 0, 1],
        ];
        let mut r = Rng(0xdead_beef_1234_5678);
        let mut text = String::from(
            "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:U - [0:0]\n",
        );
        for chain in ["INPUT", "U"] {
            for _ in 0..600 {
                let mut s = format!("-A {chain}");
                if r.below(2) == 0 {
                    let neg = if r.below(6) == 0 { "! " } else { "" };
                    s += &format!(" {neg}-s {}", r.pick(&A6));
                }
                if r.below(4) == 0 {
                    s += &format!(" -d {}", r.pick(&A6));
                }
                if r.below(5) == 0 {
                    s += &format!(" -i {}", r.pick(&IFS));
                }
                match r.below(4) {
                    0 => s += &format!(" -p tcp -m tcp --dport {}", r.pick(&PORTS)),
                    1 => s += &format!(" -p udp -m udp --sport {}", r.pick(&PORTS)),
                    2 => s += " -p ipv6-icmp",
                    _ => {}
                }
                s += match (chain, r.below(100)) {
                    ("INPUT", 0) => " -j U",
                    (_, 1) => " -j ACCEPT",
                    ("U", 2) => " -j RETURN",
                    _ => "",
                };
                text += &s;
                text.push('\n');
            }
        }
        text += "COMMIT\n";
        let rs = ruleset_of(&text, palisade_model::Family::V6);
        let pkts: Vec<TestPkt> = (0..1500)
            .map(|_| {
                let seg = |h: &[u16; 8]| {
                    let mut b = [0u8; 16];
                    for (i, x) in h.iter().enumerate() {
                        b[2 * i..2 * i + 2].copy_from_slice(&x.to_be_bytes());
                    }
                    b
                };
                let b = PacketBuilder::ipv6(seg(r.pick(&H6)), seg(r.pick(&H6)), 64);
                let (sp, dp) = (*r.pick(&PKT_PORTS), *r.pick(&PKT_PORTS));
                let mut v = Vec::new();
                match r.below(3) {
                    0 => b.tcp(sp, dp, 1, 100).write(&mut v, &[]).unwrap(),
                    1 => b.udp(sp, dp).write(&mut v, b"x").unwrap(),
                    _ => b.icmpv6_echo_request(1, 1).write(&mut v, b"").unwrap(),
                }
                (v, *r.pick(&PKT_IFS), "")
            })
            .collect();
        assert!(compare(&rs, Hook::Input, &pkts) >= 2);
    }

    #[test]
    fn packet_visits_only_candidates() {
        let mut text =
            String::from("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n");
        text += "-A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n";
        for k in 0..1000u32 {
            text += &match k % 4 {
                0 => format!(
                    "-A INPUT -s 198.18.{}.{} -p tcp --dport {} -j DROP\n",
                    k / 256,
                    k % 256,
                    1000 + k
                ),
                1 => format!("-A INPUT -s 198.18.{}.{} -j DROP\n", k / 256, k % 256),
                2 => format!("-A INPUT -p tcp --dport {} -j DROP\n", 1000 + k),
                _ => format!("-A INPUT -p udp --dport {} -j DROP\n", 1000 + k),
            };
        }
        text += "-A INPUT -p tcp --dport 80 -j ACCEPT\nCOMMIT\n";
        let rs = ruleset(&text);
        let mut r = RecentTables::default();
        let mut h = HashlimitTables::default();
        let c = crate::compile::compile(&rs, &mut r, &mut h).unwrap();
        let t = c.tables[TableId::Filter as usize].as_ref().unwrap();
        assert_eq!(t.index.list.len(), 1);
        assert_eq!(t.index.list[0].start, 1);
        let mut d = crate::eval::tests::tcp_v4(40000, 80, 0x02, &[]);
        let p = crate::eval::tests::pkt_of(&mut d);
        let mut cur = Cursor::new();
        // Straight to the last rule: nothing else can match.
        assert_eq!(t.index.next(&mut cur, 1, &p), 1001);
        let mut d = crate::eval::tests::tcp_v4(40000, 1002, 0x02, &[]);
        let p = crate::eval::tests::pkt_of(&mut d);
        let mut cur = Cursor::new();
        assert_eq!(t.index.next(&mut cur, 1, &p), 3);
        // Then the chain's end: the last rule wants port 80.
        assert_eq!(t.index.next(&mut cur, 4, &p), 1002);
    }
}

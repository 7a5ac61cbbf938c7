//! Kernel: net/netfilter/nf_nat_core.c (`nf_nat_inet_fn`,
//! `nf_nat_setup_info`, `nf_nat_alloc_null_binding`, `nf_nat_packet`),
//! net/netfilter/nf_nat_proto.c (`nf_nat_ipv4_fn`, `nf_nat_ipv6_fn`).
//!
//! NAT as the kernel does it, in four steps at each nat hook (PREROUTING and
//! OUTPUT rewrite destinations, INPUT and POSTROUTING sources):
//! 1. an ICMP error RELATED to a connection is translated from the binding
//!    (outer and quoted headers, [`rewrite::icmp_error`]), never walked
//!    through the nat chains;
//! 2. a connection's first packet in a manip direction (ctinfo NEW, or
//!    RELATED for non-ICMP) whose binding for that direction is not set yet
//!    walks the nat table; a NAT target sets the binding
//!    ([`setup`]: pick a unique tuple, store its inverse as the entry's
//!    reply tuple, set `SRC_NAT`/`DST_NAT`); if none did, a *null binding*
//!    is set up (same address, which still moves a clashing source port);
//!    either way `SRC_NAT_DONE`/`DST_NAT_DONE` is set;
//! 3. every packet of a connection with a binding, in either direction, is
//!    rewritten to look like the inverse of the other direction's tuple
//!    (`nf_nat_packet`): originals get the binding, replies are un-NATed;
//! 4. a DROP from a target (MASQUERADE without address) drops the packet.
//!
//! Randomness (the start of the port search) comes from a seeded generator
//! owned by the engine ([`NatRng`]), so runs are reproducible; replay can
//! hand it the port the captured kernel chose ([`NatRng::hint`]).

pub(crate) mod masquerade;
pub(crate) mod pick;
pub(crate) mod rewrite;
pub(crate) mod seqadj;

use std::net::IpAddr;

use palisade_conntrack::{Conntrack, CtHandle, Status};
use palisade_model::Hook;
use palisade_wire::PacketMeta;

use crate::ctview::CtState;
use crate::eval::{Pkt, TableVerdict};
use crate::host::{Fib, Host};
use crate::verdict::DropReason;

/// `enum nf_nat_manip_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manip {
    /// Source NAT (POSTROUTING, INPUT).
    Src,
    /// Destination NAT (PREROUTING, OUTPUT).
    Dst,
}

impl Manip {
    pub(crate) fn flip(self) -> Manip {
        match self {
            Manip::Src => Manip::Dst,
            Manip::Dst => Manip::Src,
        }
    }
    fn bit(self) -> u16 {
        match self {
            Manip::Src => Status::SRC_NAT,
            Manip::Dst => Status::DST_NAT,
        }
    }
    fn done_bit(self) -> u16 {
        match self {
            Manip::Src => Status::SRC_NAT_DONE,
            Manip::Dst => Status::DST_NAT_DONE,
        }
    }
}

/// `HOOK2MANIP`.
pub(crate) fn manip_of(hook: Hook) -> Manip {
    match hook {
        Hook::PostRouting | Hook::Input => Manip::Src,
        _ => Manip::Dst,
    }
}

/// `struct nf_nat_range2` with its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Range {
    /// `NF_NAT_RANGE_MAP_IPS`
    pub map_ips: bool,
    /// `NF_NAT_RANGE_PROTO_SPECIFIED`
    pub proto_specified: bool,
    /// `NF_NAT_RANGE_PROTO_RANDOM_ALL`
    pub random_all: bool,
    /// `NF_NAT_RANGE_PERSISTENT`
    pub persistent: bool,
    pub min_addr: IpAddr,
    pub max_addr: IpAddr,
    pub min_port: u16,
    pub max_port: u16,
}

impl Range {
    /// No flags; addresses of `like`'s family.
    pub(crate) fn none(like: IpAddr) -> Range {
        let z = match like {
            IpAddr::V4(_) => IpAddr::V4(0.into()),
            IpAddr::V6(_) => IpAddr::V6(0u128.into()),
        };
        Range {
            map_ips: false,
            proto_specified: false,
            random_all: false,
            persistent: false,
            min_addr: z,
            max_addr: z,
            min_port: 0,
            max_port: 0,
        }
    }
}

/// The engine's source of NAT randomness (`get_random_u16`): splitmix64
/// from a seed, so replays are deterministic.
#[derive(Clone, Debug)]
pub struct NatRng {
    state: u64,
    /// A value to try first in the next port/id search (replay adopting the
    /// kernel's pick); consumed by the search.
    pub(crate) hint: Option<u16>,
}

impl Default for NatRng {
    fn default() -> Self {
        NatRng::new(0x6e61_745f_7365_6564)
    }
}

impl NatRng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> NatRng {
        NatRng {
            state: seed,
            hint: None,
        }
    }

    pub(crate) fn next_u16(&mut self) -> u16 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u16
    }
}

/// `nf_nat_setup_info`: binds `h`'s connection in manip direction `m`.
/// No-op for confirmed entries (the binding is fixed at confirmation).
pub(crate) fn setup(
    ct: &mut Conntrack,
    h: CtHandle,
    r: &Range,
    m: Manip,
    rng: &mut NatRng,
    now: u64,
) {
    let Some(e) = ct.entry(h) else { return };
    if e.is_confirmed() || e.status.has(m.done_bit()) {
        return;
    }
    let Some(curr) = e.reply().invert() else {
        if let Some(e) = ct.get_mut(h) {
            e.status.set(m.done_bit());
        }
        return;
    };
    let env = pick::Env { ct, me: h, now };
    let new = pick::unique_tuple(&curr, r, m, &env, rng);
    let Some(e) = ct.get_mut(h) else { return };
    if new != curr {
        if let Some(reply) = new.invert() {
            if e.set_reply(&reply) {
                e.status.set(m.bit());
            }
        }
    }
    e.status.set(m.done_bit());
}

/// `nf_nat_follow_master` (nf_nat_helper.c), the expectation function of
/// NAT-aware helpers: a data connection that fulfilled expectation `exp` of
/// a master with tuples `master` is bound at once, both ways: its source
/// becomes the address the master's `exp.dir` side sends to, its
/// destination the address that side really is, on the port the command
/// named before NAT rewrote it. Both manips are then done: the data
/// connection never walks the nat chains.
pub(crate) fn follow_master(
    ct: &mut Conntrack,
    h: CtHandle,
    exp: &palisade_conntrack::ExpectNat,
    master: &[palisade_conntrack::Tuple; 2],
    rng: &mut NatRng,
    now: u64,
) {
    let t = &master[usize::from(exp.dir == 0)];
    let src = t.dst_ip();
    let r = Range {
        map_ips: true,
        min_addr: src,
        max_addr: src,
        ..Range::none(src)
    };
    setup(ct, h, &r, Manip::Src, rng, now);
    let dst = t.src_ip();
    let r = Range {
        map_ips: true,
        proto_specified: true,
        min_addr: dst,
        max_addr: dst,
        min_port: exp.saved_port,
        max_port: exp.saved_port,
        ..Range::none(dst)
    };
    setup(ct, h, &r, Manip::Dst, rng, now);
}

/// `__nf_nat_alloc_null_binding`: the address the connection already has
/// on that side, ports left to the protocol (moved only on a clash).
pub(crate) fn null_binding(ct: &mut Conntrack, h: CtHandle, m: Manip, rng: &mut NatRng, now: u64) {
    let Some(e) = ct.entry(h) else { return };
    let reply = e.reply();
    let ip = match m {
        Manip::Src => reply.dst_ip(),
        Manip::Dst => reply.src_ip(),
    };
    let r = Range {
        map_ips: true,
        min_addr: ip,
        max_addr: ip,
        ..Range::none(ip)
    };
    setup(ct, h, &r, m, rng, now);
}

/// `nf_nat_packet`: rewrites `buf` per the binding. `false`: drop.
pub(crate) fn packet(
    ct: &Conntrack,
    h: CtHandle,
    reply_dir: bool,
    m: Manip,
    buf: &mut [u8],
) -> bool {
    let Some(e) = ct.entry(h) else { return true };
    let mut bit = m.bit();
    if reply_dir {
        bit ^= Status::SRC_NAT | Status::DST_NAT;
    }
    if !e.status.has(bit) {
        return true;
    }
    let Some(target) = e.tuple(usize::from(!reply_dir)).invert() else {
        return true;
    };
    rewrite::manip_at(buf, 0, &target, m)
}

/// `nf_nat_icmp_reply_translation` / `nf_nat_icmpv6_reply_translation`.
/// `false`: drop.
pub(crate) fn icmp_reply(
    ct: &Conntrack,
    h: CtHandle,
    reply_dir: bool,
    m: Manip,
    buf: &mut [u8],
) -> bool {
    let Some(e) = ct.entry(h) else { return true };
    let family = e.family();
    let Some(l4) = rewrite::icmp_off(buf, family) else {
        return true;
    };
    let Some(&ty) = buf.get(l4) else { return false };
    let redirect = match family {
        palisade_model::Family::V4 => ty == 5,
        palisade_model::Family::V6 => ty == 137,
    };
    let st = e.status;
    if redirect {
        let done = Status::SRC_NAT_DONE | Status::DST_NAT_DONE;
        if st.0 & done != done || st.0 & (Status::SRC_NAT | Status::DST_NAT) != 0 {
            return false;
        }
    }
    let mut bit = m.bit();
    if reply_dir {
        bit ^= Status::SRC_NAT | Status::DST_NAT;
    }
    if !st.has(bit) {
        return true;
    }
    let other = e.tuple(usize::from(!reply_dir));
    rewrite::icmp_error(buf, &other, m)
}

/// What to do at a nat hook before (or instead of) walking the table.
pub(crate) enum Before {
    /// Done: the verdict (ACCEPT or DROP) without a walk.
    Done(TableVerdict),
    /// Walk the nat table, then call [`after`].
    Walk,
}

fn is_icmp_error(pkt: &Pkt) -> bool {
    match pkt.meta.l4 {
        palisade_wire::L4Meta::Icmp(i) => palisade_wire::parse::icmp_is_error(i.icmp_type),
        palisade_wire::L4Meta::Icmp6(i) => palisade_wire::parse::icmp6_is_error(i.icmp_type),
        _ => false,
    }
}

fn reparse(pkt: &mut Pkt) {
    if let Ok(m) = PacketMeta::parse(pkt.data) {
        pkt.meta = m;
    }
}

/// NF_DROP from the nat hook (a target or a rewrite that failed).
fn dropped(hook: Hook) -> TableVerdict {
    TableVerdict::Drop(DropReason::Rule {
        hook,
        table: palisade_model::TableId::Nat,
    })
}

/// Step 1 and the established case of `nf_nat_inet_fn`.
pub(crate) fn before(ct: &Conntrack, h: Option<CtHandle>, pkt: &mut Pkt) -> Before {
    let state = pkt.ct.state;
    let (Some(h), true) = (h, state.has_entry()) else {
        return Before::Done(TableVerdict::Accept);
    };
    let m = manip_of(pkt.hook);
    let reply_dir = state.is_reply();
    let related = matches!(state, CtState::Related | CtState::RelatedReply);
    if related && matches!(pkt.meta.proto, 1 | 58) && is_icmp_error(pkt) {
        let ok = icmp_reply(ct, h, reply_dir, m, pkt.data);
        reparse(pkt);
        return Before::Done(if ok {
            TableVerdict::Accept
        } else {
            dropped(pkt.hook)
        });
    }
    let initialized = ct.entry(h).is_some_and(|e| e.status.has(m.done_bit()));
    let first = matches!(
        state,
        CtState::New | CtState::Related | CtState::RelatedReply
    );
    if first && !initialized {
        pkt.nat = None;
        return Before::Walk;
    }
    Before::Done(finish(ct, h, reply_dir, m, pkt))
}

fn finish(ct: &Conntrack, h: CtHandle, reply_dir: bool, m: Manip, pkt: &mut Pkt) -> TableVerdict {
    let ok = packet(ct, h, reply_dir, m, pkt.data);
    reparse(pkt);
    if ok {
        TableVerdict::Accept
    } else {
        dropped(pkt.hook)
    }
}

/// After the nat table walk accepted: set up the binding the target asked
/// for (or a null one) and rewrite.
#[allow(clippy::too_many_arguments)]
pub(crate) fn after(
    ct: &mut Conntrack,
    rng: &mut NatRng,
    host: &Host,
    fib: &Fib,
    h: Option<CtHandle>,
    pkt: &mut Pkt,
) -> TableVerdict {
    let Some(h) = h else {
        return TableVerdict::Accept;
    };
    let m = manip_of(pkt.hook);
    let now = pkt.now;
    if let Some(t) = pkt.nat.take() {
        let orig_src = ct
            .entry(h)
            .map(|e| e.orig().src_ip())
            .unwrap_or(pkt.meta.src);
        let facts = masquerade::Facts {
            hook: pkt.hook,
            iif: pkt.iif,
            oif: pkt.oif,
            src: pkt.meta.src,
            dst: pkt.meta.dst,
            orig_src,
        };
        match masquerade::resolve(&t, host, fib, &facts) {
            masquerade::Resolved::Setup(r, tm) if tm == m => setup(ct, h, &r, m, rng, now),
            masquerade::Resolved::Setup(..) | masquerade::Resolved::Skip => {}
            masquerade::Resolved::Drop => return dropped(pkt.hook),
        }
    }
    null_binding(ct, h, m, rng, now);
    finish(ct, h, pkt.ct.state.is_reply(), m, pkt)
}

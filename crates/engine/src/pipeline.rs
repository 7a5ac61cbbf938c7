//! Kernel: net/netfilter/core.c (`nf_hook_slow`: hooks run in priority
//! order), net/ipv4/ip_input.c (`ip_rcv` → PREROUTING → routing →
//! `ip_local_deliver` → INPUT), net/ipv4/ip_forward.c (TTL decremented
//! *before* FORWARD), net/ipv4/ip_output.c (`ip_local_out` → OUTPUT →
//! POSTROUTING; loopback destinations re-enter PREROUTING on `lo` keeping
//! their conntrack), net/netfilter/nf_nat_core.c (`nf_nat_inet_fn`: which
//! packets see the nat chains), the IPv6 counterparts.
//!
//! The order at each hook (NETFILTER-FACTS §2.7):
//! PREROUTING raw → conntrack → mangle → nat; INPUT mangle → filter →
//! security → nat → confirm; FORWARD mangle → filter → security; OUTPUT raw
//! → conntrack → mangle → nat → filter → security; POSTROUTING mangle → nat →
//! confirm.

use std::net::IpAddr;
use std::sync::Arc;

use palisade_conntrack::{Conntrack, CtInfo, CtResult, CtTemplate, Status};
use palisade_model::matches::PktType;
use palisade_model::targets::RejectWith;
use palisade_model::{Family, Hook, Ruleset, TableId};
use palisade_wire::emit::{self, EmitOpts};
use palisade_wire::PacketMeta;

use crate::compile::{compile, CompileError, Compiled};
use crate::config::EngineConfig;
use crate::ctview::{ConnView, CtState, CtView, TupleView};
use crate::defrag::{Defrag, Gathered};
use crate::eval::{do_table, Owner, Pkt, Sinks, TableVerdict, Template, L2};
use crate::flowcache::{Cached, FastKey, FlowCache};
use crate::flowtable::{drop_end, FlowEnd, FlowKey, FlowStats, FlowTable, PathRec};
use crate::host::{Fib, Host, RtType};
use crate::icmp::IcmpRate;
use crate::matches::connlimit::ConnLookup;
use crate::matches::MatchEnv;
use crate::state::hashlimit::HashlimitTables;
use crate::state::recent::RecentTables;
use crate::trace::{Observer, TraceStep};
use crate::verdict::{DropReason, Verdict};
use crate::{LogLine, Nanos};

/// A packet the firewall itself sent (a REJECT reply), after it went through
/// OUTPUT and POSTROUTING.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emitted {
    /// Egress interface (`lo` when the reply went to a local address).
    pub out_iface: String,
    /// The datagram.
    pub packet: Vec<u8>,
    /// Delivered to a local address (looped back through INPUT).
    pub delivered_local: bool,
}

/// What happened to one packet. Reused by the caller: the engine clears it
/// and refills the same buffers, so an established flow allocates nothing
/// (asserted by the `eval` bench of palisade-bench, which counts allocations).
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Final verdict.
    pub verdict: Verdict,
    /// ctinfo the packet had after conntrack.
    pub ct: CtState,
    /// Delivered to a local socket (INPUT accepted).
    pub delivered_local: bool,
    /// Forwarded (received packets) or sent out (local packets): see
    /// `out_iface` and `packet`.
    pub forwarded: bool,
    /// Egress interface when forwarded/sent; empty otherwise.
    pub out_iface: String,
    /// The datagram as it leaves (TTL decremented when forwarded, TCPMSS
    /// applied), or as it was delivered.
    pub packet: Vec<u8>,
    /// Packets the firewall emitted (REJECT replies that passed OUTPUT/POSTROUTING).
    pub emitted: Vec<Emitted>,
    /// LOG target lines.
    pub logs: Vec<LogLine>,
    /// Path steps, when tracing is on ([`Engine::set_trace`]).
    pub trace: Vec<TraceStep>,
}

impl Outcome {
    /// An empty outcome.
    pub fn new() -> Outcome {
        Outcome::default()
    }

    /// Resets for the next packet, keeping capacity.
    pub fn clear(&mut self) {
        self.verdict = Verdict::Pending;
        self.ct = CtState::Invalid;
        self.delivered_local = false;
        self.forwarded = false;
        self.out_iface.clear();
        self.packet.clear();
        self.emitted.clear();
        self.logs.clear();
        self.trace.clear();
    }
}

/// Receive-side details beyond the interface name.
#[derive(Clone, Copy, Debug, Default)]
pub struct RxInfo {
    /// Ethernet header, when the frame had one (`-m mac`, LOG `MAC=`, pkttype).
    pub l2: Option<L2>,
    /// The datagram is a GRO/GSO aggregate of several wire segments (NFQUEUE
    /// with `NFQA_CFG_F_GSO`): the forwarding MTU check then applies per
    /// segment, as `skb_gso_validate_network_len` does, so an aggregate longer
    /// than the MTU is not "too big".
    pub gso: bool,
}

/// Details of a locally generated packet.
#[derive(Clone, Copy, Debug, Default)]
pub struct TxInfo<'a> {
    /// The sending socket's owner (`-m owner`); `None`: no socket.
    pub owner: Option<Owner>,
    /// Socket mark (`SO_MARK`).
    pub mark: u32,
    /// Output interface chosen by the socket (`SO_BINDTODEVICE`, multicast
    /// and link-local sends, or the interface a capture saw it leave by).
    /// Without it, multicast and link-local destinations leave by the first
    /// up, non-loopback interface of the family.
    pub oif: Option<&'a str>,
}

struct World {
    host: Host,
    fib: Fib,
    cfg: EngineConfig,
    lo: String,
}

impl World {
    fn iface(&self, name: &str) -> Option<&crate::host::Interface> {
        self.host.interfaces.iter().find(|i| i.name == name)
    }
    fn is_loopback(&self, name: &str) -> bool {
        self.iface(name).is_some_and(|i| i.loopback)
    }
    fn forwarding(&self, f: Family) -> bool {
        match f {
            Family::V4 => self.cfg.forwarding_v4.unwrap_or(self.host.forwarding_v4),
            Family::V6 => self.cfg.forwarding_v6.unwrap_or(self.host.forwarding_v6),
        }
    }
    fn mtu(&self, name: &str) -> u32 {
        self.iface(name).map(|i| i.mtu).unwrap_or(1500)
    }
    /// Position of an interface in the host's list (flowtable keys). Names
    /// the routing code hands out point into that list: compared by address
    /// first.
    fn dev_pos(&self, name: &str) -> u16 {
        let ifs = &self.host.interfaces;
        ifs.iter()
            .position(|i| std::ptr::eq(i.name.as_str(), name))
            .or_else(|| ifs.iter().position(|i| i.name == name))
            .map_or(u16::MAX, |p| p as u16)
    }
    fn dev_name(&self, pos: u16) -> &str {
        self.host
            .interfaces
            .get(usize::from(pos))
            .map_or("", |i| i.name.as_str())
    }
    fn mtu_at(&self, pos: u16) -> u32 {
        self.host
            .interfaces
            .get(usize::from(pos))
            .map_or(1500, |i| i.mtu)
    }
}

struct Runtime {
    v4: Compiled,
    v6: Compiled,
    recent: RecentTables,
    hashlimit: HashlimitTables,
    stack: Vec<u32>,
    observer: Option<Box<dyn Observer>>,
    trace: bool,
    /// NAT port-search randomness (seeded, see `nat`).
    nat_rng: crate::nat::NatRng,
    /// The path of the packet being walked, for the flowtable.
    rec: PathRec,
}

/// A ruleset handed to [`Engine::new`] / [`Engine::replace_rules`]. The
/// engine keeps it (for [`Engine::save_counters`]) behind an `Arc`: a
/// borrowed ruleset is cloned once, an owned one or an `Arc` is taken as is
/// (a 100k-rule deep clone costs about a quarter of the compile).
pub trait IntoRuleset {
    /// The shared ruleset.
    fn into_ruleset(self) -> Arc<Ruleset>;
}

impl IntoRuleset for &Ruleset {
    fn into_ruleset(self) -> Arc<Ruleset> {
        Arc::new(self.clone())
    }
}

impl IntoRuleset for Ruleset {
    fn into_ruleset(self) -> Arc<Ruleset> {
        Arc::new(self)
    }
}

impl IntoRuleset for Arc<Ruleset> {
    fn into_ruleset(self) -> Arc<Ruleset> {
        self
    }
}

impl IntoRuleset for &Arc<Ruleset> {
    fn into_ruleset(self) -> Arc<Ruleset> {
        Arc::clone(self)
    }
}

/// The engine: compiled rulesets, conntrack, extension state.
pub struct Engine {
    world: World,
    rt: Runtime,
    ct: Conntrack,
    icmp: IcmpRate,
    /// Remembered rule paths of established flows.
    flows: FlowTable,
    /// Conntrack entries (and routes) of those flows by header fields.
    fast: FlowCache,
    /// Fragments waiting for the rest of their datagram.
    defrag: Defrag,
    /// The input rulesets, for [`Engine::save_counters`].
    models: [Arc<Ruleset>; 2],
    /// The flowtable may serve IPv4, IPv6 packets ([`Engine::update_flow_on`]).
    flow_on: [bool; 2],
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("conntrack_entries", &self.ct.len())
            .finish()
    }
}

/// Where a path ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Local,
    Out,
    Dropped(DropReason),
    Queued { num: u16, bypass: bool },
}

/// A packet the host answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    /// REJECT's reply.
    Reject(RejectWith),
    /// ICMP time exceeded for a forwarded packet whose TTL/hop limit ran out
    /// (`ip_forward` / `ip6_forward`).
    TimeExceeded,
    /// ICMPv6 destination unreachable, beyond scope of source address: a
    /// link-local source the host would forward (`ip6_forward`).
    BeyondScope,
    /// ICMP frag-needed / ICMPv6 packet-too-big with the outgoing MTU.
    TooBig(u32),
}

struct PathResult<'w> {
    end: End,
    oif: &'w str,
    ctres: CtResult,
    state: CtState,
    reject: Option<(Reply, Hook)>,
    /// The packet's header fields as they ended (after NAT).
    meta: Option<PacketMeta>,
}

impl<'w> PathResult<'w> {
    /// The end of a packet's path: a REJECT the rules asked for wins over a
    /// reply the path itself owes (time exceeded, too big, beyond scope).
    fn new(
        end: End,
        oif: &'w str,
        ctres: CtResult,
        pkt: &Pkt<'_>,
        extra_reply: Option<(Reply, Hook)>,
    ) -> PathResult<'w> {
        PathResult {
            end,
            oif,
            ctres,
            state: pkt.ct.state,
            reject: pkt
                .reject
                .map(|w| (Reply::Reject(w), pkt.hook))
                .or(extra_reply),
            meta: Some(pkt.meta),
        }
    }
}

/// A [`PathResult`] without the borrowed interface name.
struct Done {
    end: End,
    ctres: CtResult,
    state: CtState,
    reject: Option<(Reply, Hook)>,
    meta: Option<PacketMeta>,
}

impl Done {
    /// Detaches `r`, copying the egress name into `oif_buf` (reused capacity).
    fn take(r: PathResult<'_>, oif_buf: &mut String) -> Done {
        oif_buf.clear();
        if r.end == End::Out {
            oif_buf.push_str(r.oif);
        }
        Done {
            end: r.end,
            ctres: r.ctres,
            state: r.state,
            reject: r.reject,
            meta: r.meta,
        }
    }
}

struct Io<'o> {
    logs: &'o mut Vec<LogLine>,
    trace: &'o mut Vec<TraceStep>,
}

struct CtLookup<'a> {
    ct: &'a Conntrack,
    now: Nanos,
}

impl ConnLookup for CtLookup<'_> {
    fn alive(&self, proto: u8, orig: &TupleView) -> bool {
        let t = palisade_conntrack::Tuple {
            src: palisade_conntrack::tuple::addr_bytes(orig.src),
            dst: palisade_conntrack::tuple::addr_bytes(orig.dst),
            sport: orig.sport,
            dport: orig.dport,
            proto,
            family: if orig.src.is_ipv6() {
                Family::V6
            } else {
                Family::V4
            },
            zone: 0,
        };
        self.ct.conncount_alive(&t, self.now)
    }
}

fn state_of(i: CtInfo) -> CtState {
    match i {
        CtInfo::Established => CtState::Established,
        CtInfo::Related => CtState::Related,
        CtInfo::New => CtState::New,
        CtInfo::EstablishedReply => CtState::EstablishedReply,
        CtInfo::RelatedReply => CtState::RelatedReply,
        CtInfo::Invalid => CtState::Invalid,
        CtInfo::Untracked => CtState::Untracked,
    }
}

fn view(ct: &Conntrack, r: &CtResult, now: Nanos) -> CtView {
    let state = state_of(r.info);
    // Reads the stored entry in place: a full snapshot would also unpack
    // the TCP window state, which no match looks at.
    let conn = r
        .handle
        .and_then(|h| ct.entry(h))
        .filter(|_| state.has_entry())
        .map(|c| {
            let tv = |d: usize| {
                let (src, dst, sport, dport) = c.endpoints(d);
                TupleView {
                    src,
                    dst,
                    sport,
                    dport,
                }
            };
            let remaining = c.expires_in(now);
            ConnView {
                orig: tv(0),
                repl: tv(1),
                proto: c.proto(),
                status: u32::from(c.status.0 & 0x0f),
                snat: c.status.has(Status::SRC_NAT),
                dnat: c.status.has(Status::DST_NAT),
                expire_secs: (remaining / 1_000_000_000).min(u64::from(u32::MAX)) as u32,
                mark: c.mark,
                confirmed: c.is_confirmed(),
                src_nat_done: c.status.has(Status::SRC_NAT_DONE),
                dst_nat_done: c.status.has(Status::DST_NAT_DONE),
            }
        });
    CtView {
        state,
        conn,
        mark_dirty: false,
    }
}

/// Writes back what the tables changed (ctmark, nat-done bits).
fn sync(ct: &mut Conntrack, r: &CtResult, v: &mut CtView) {
    let (Some(h), Some(c)) = (r.handle, v.conn.as_ref()) else {
        return;
    };
    if !v.mark_dirty && !c.src_nat_done && !c.dst_nat_done {
        // Nothing to write (the common case: a rule walk that left the
        // connection alone); skips the entry lookup.
        return;
    }
    if let Some(e) = ct.get_mut(h) {
        if v.mark_dirty {
            e.mark = c.mark;
        }
        if c.src_nat_done {
            e.status.set(Status::SRC_NAT_DONE);
        }
        if c.dst_nat_done {
            e.status.set(Status::DST_NAT_DONE);
        }
    }
    v.mark_dirty = false;
}

/// `nf_nat_inet_fn`: the nat chains see a connection's first packet in each
/// manip direction (and related non-ICMP packets, e.g. expectations or
/// REJECT's RST, whose manip is not set yet); never established, invalid or
/// untracked packets, never ICMP errors (translated from the binding).
fn nat_allowed(pkt: &Pkt, hook: Hook) -> bool {
    let Some(c) = pkt.ct.conn.as_ref().filter(|_| pkt.ct.state.has_entry()) else {
        return false;
    };
    let src_side = matches!(hook, Hook::Input | Hook::PostRouting);
    if (src_side && c.src_nat_done) || (!src_side && c.dst_nat_done) {
        return false;
    }
    match pkt.ct.state {
        CtState::New => true,
        CtState::Related | CtState::RelatedReply => !matches!(pkt.meta.proto, 1 | 58),
        _ => false,
    }
}

fn set_nat_done(pkt: &mut Pkt, hook: Hook) {
    if let Some(c) = pkt.ct.conn.as_mut() {
        if matches!(hook, Hook::Input | Hook::PostRouting) {
            c.src_nat_done = true;
        } else {
            c.dst_nat_done = true;
        }
    }
}

fn pkttype_of(l2: Option<L2>, dst_type: RtType) -> PktType {
    if let Some(l2) = l2 {
        if l2.dst == [0xff; 6] {
            return PktType::Broadcast;
        }
        if l2.dst[0] & 1 != 0 {
            return PktType::Multicast;
        }
        return PktType::Unicast;
    }
    match dst_type {
        RtType::Broadcast => PktType::Broadcast,
        RtType::Multicast => PktType::Multicast,
        _ => PktType::Unicast,
    }
}

/// Writes the MTU into an ICMP frag-needed (next-hop MTU, 16 bits) or
/// ICMPv6 packet-too-big (32 bits) error built with the field zero, keeping
/// its checksum right.
fn set_icmp_mtu(reply: &mut [u8], mtu: u32) {
    use palisade_wire::checksum::update16;
    let (l4, v6) = match reply.first().map(|b| b >> 4) {
        Some(4) => (usize::from(reply[0] & 0xf) * 4, false),
        Some(6) => (40, true),
        _ => return,
    };
    if reply.len() < l4 + 8 {
        return;
    }
    let old = u16::from_be_bytes([reply[l4 + 2], reply[l4 + 3]]);
    let (hi, lo) = if v6 {
        ((mtu >> 16) as u16, mtu as u16)
    } else {
        (0, u16::try_from(mtu).unwrap_or(u16::MAX))
    };
    let c = update16(update16(old, 0, hi), 0, lo);
    reply[l4 + 4..l4 + 6].copy_from_slice(&hi.to_be_bytes());
    reply[l4 + 6..l4 + 8].copy_from_slice(&lo.to_be_bytes());
    reply[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
}

/// Whether an IPv6 multicast destination is one of the groups the kernel
/// joins on its own on `iif` (IPv4 groups, and any address that is not
/// IPv6 multicast, are taken as joined): all-nodes, the solicited-node group
/// of each address on the interface (`addrconf_join_solict`), and the
/// all-routers groups when forwarding (`ipv6_dev_mc_inc` of
/// `in6addr_linklocal_allrouters` and friends). What sockets join (ff02::16
/// needs a multicast router, say) is not known to a replay.
fn v6_default_member(world: &World, iif: &str, dst: IpAddr) -> bool {
    let IpAddr::V6(d) = dst else {
        return true;
    };
    if !d.is_multicast() {
        return true;
    }
    let seg = d.segments();
    let scope_all = |last: u16| seg[1..7].iter().all(|s| *s == 0) && seg[7] == last;
    let scope = seg[0] & 0x000f;
    if matches!(scope, 1 | 2) && scope_all(1) {
        return true;
    }
    if matches!(scope, 1 | 2 | 5) && scope_all(2) && world.forwarding(Family::V6) {
        return true;
    }
    let Some(i) = world.host.interfaces.iter().find(|i| i.name == iif) else {
        return true;
    };
    // ff02::1:ffXX:XXXX, the low 24 bits of a unicast address.
    seg[0] == 0xff02
        && seg[1..5].iter().all(|s| *s == 0)
        && seg[5] == 1
        && seg[6] >> 8 == 0xff
        && i.addrs.iter().any(|(a, _)| match a {
            IpAddr::V6(a) => {
                let o = a.octets();
                o[13] == (seg[6] & 0xff) as u8 && o[14..16] == seg[7].to_be_bytes()
            }
            IpAddr::V4(_) => false,
        })
}

/// IPv4 addresses `ip_route_input_slow` refuses on a non-loopback device
/// (after PREROUTING): multicast, limited-broadcast or loopback sources, a
/// zero source unless it is DHCP-style towards 255.255.255.255, loopback or
/// zero destinations.
fn martian_v4(src: IpAddr, dst: IpAddr) -> bool {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        return false;
    };
    let bad_src = s.is_multicast() || s.is_broadcast() || s.is_loopback();
    if d.is_broadcast() || (s.is_unspecified() && d.is_unspecified()) {
        return bad_src;
    }
    if d.is_multicast() {
        // ip_route_input_mc: a zero source only towards 224.0.0.0/24 (IGMP
        // from a zero source is not distinguished here).
        return bad_src || (s.is_unspecified() && d.octets()[..3] != [224, 0, 0]);
    }
    s.is_multicast()
        || s.is_broadcast()
        || s.is_loopback()
        || s.is_unspecified()
        || d.is_loopback()
        || d.is_unspecified()
}

/// IPv6 packets `ip6_rcv_core` drops on a non-loopback device, before any
/// hook: a multicast source, `::1` at either end, interface-local multicast.
fn martian_v6(src: IpAddr, dst: IpAddr) -> bool {
    let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) else {
        return false;
    };
    s.is_multicast()
        || s.is_loopback()
        || d.is_loopback()
        || (d.is_multicast() && d.segments()[0] & 0x000f == 1)
}

/// Decrements TTL / hop limit in place (`ip_decrease_ttl`, RFC 1624 update).
/// `ip_exceeds_mtu` / `ip6_pkt_too_big` against the route's device MTU
/// (ip_forward_use_pmtu off), before FORWARD: IPv4 only with DF (the rest is
/// fragmented on output), IPv6 always (minimum 1280); a GSO aggregate (or a
/// reassembled datagram) is checked per piece by the caller's `rx.gso`.
/// `Some(mtu)`: too big, with the MTU the error reports.
fn too_big(meta: &PacketMeta, data: &[u8], dev_mtu: u32, rx: RxInfo) -> Option<u32> {
    let mtu = match meta.family {
        Family::V4 => dev_mtu,
        Family::V6 => dev_mtu.max(1280),
    };
    let df = match meta.family {
        Family::V4 => data.get(6).is_some_and(|b| b & 0x40 != 0),
        Family::V6 => true,
    };
    (!rx.gso && df && u32::from(meta.len) > mtu).then_some(mtu)
}

fn decrease_ttl(data: &mut [u8], family: Family) {
    match family {
        Family::V4 => {
            if data.len() < 20 {
                return;
            }
            let old = u16::from_be_bytes([data[8], data[9]]);
            data[8] = data[8].wrapping_sub(1);
            let new = u16::from_be_bytes([data[8], data[9]]);
            let c = u16::from_be_bytes([data[10], data[11]]);
            let nc = palisade_wire::checksum::update16(c, old, new);
            data[10..12].copy_from_slice(&nc.to_be_bytes());
        }
        Family::V6 => {
            if data.len() > 7 {
                data[7] = data[7].wrapping_sub(1);
            }
        }
    }
}

/// Where a locally generated packet leaves (`ip_route_output`): the output
/// interface, whether it loops back, and the destination's route type.
/// `None`: no route.
fn route_out<'w>(
    world: &'w World,
    meta: &PacketMeta,
    tx: &TxInfo,
) -> Option<(&'w str, bool, RtType)> {
    let hinted = tx
        .oif
        .and_then(|h| world.host.interfaces.iter().find(|i| i.name == h))
        .map(|i| i.name.as_str());
    let scoped = match meta.dst {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_multicast() || crate::host::is_v6_link_local(meta.dst),
    };
    let first_up = || {
        world
            .host
            .interfaces
            .iter()
            .find(|i| {
                i.up && !i.loopback
                    && i.addrs
                        .iter()
                        .any(|(a, _)| a.is_ipv6() == meta.dst.is_ipv6())
            })
            .map(|i| i.name.as_str())
    };
    // One route-type lookup for the egress choice and pkttype.
    let dst_type = world.fib.addr_type(meta.dst, None);
    let (oif, to_lo) = match dst_type {
        RtType::Local => (world.lo.as_str(), true),
        _ if hinted.is_some() => {
            let h = hinted.unwrap_or_default();
            (h, world.is_loopback(h))
        }
        RtType::Multicast if first_up().is_some() => (first_up().unwrap_or_default(), false),
        _ => {
            let dev = world.fib.lookup(meta.dst).map(|r| r.dev).or_else(|| {
                if scoped {
                    first_up()
                } else {
                    None
                }
            })?;
            (dev, world.is_loopback(dev))
        }
    };
    Some((oif, to_lo, dst_type))
}

/// What [`Engine::flow`] did.
enum Flow {
    /// The remembered path was replayed: `out` holds the outcome.
    Served,
    /// Conntrack ran (the tables must walk); the key under which the walk's
    /// path may be remembered.
    Tracked(CtResult, Option<FlowKey>),
    /// A locally generated packet without a route: nothing ran.
    Unrouted,
}

/// How conntrack stands for a locally generated packet entering OUTPUT.
#[derive(Clone, Copy)]
enum Tracked {
    /// Not yet: the conntrack hook runs after raw.
    No,
    /// A REJECT reply carrying the entry of the packet it answers.
    Attached(CtResult),
    /// Already tracked by the flowtable's lookup (no raw table).
    Pre(CtResult),
}

struct Ctx<'e> {
    world: &'e World,
    rt: &'e mut Runtime,
    ct: &'e mut Conntrack,
}

impl<'e> Ctx<'e> {
    /// Runs the given tables of `hook` in order; stops at the first non-accept.
    fn tables(
        &mut self,
        ids: &[TableId],
        pkt: &mut Pkt,
        ctres: &CtResult,
        io: &mut Io,
    ) -> TableVerdict {
        let hook = pkt.hook;
        let world = self.world;
        for id in ids {
            let nat_table = *id == TableId::Nat && {
                let c = match pkt.meta.family {
                    Family::V4 => &self.rt.v4,
                    Family::V6 => &self.rt.v6,
                };
                c.tables[TableId::Nat as usize].is_some()
            };
            if nat_table {
                // nf_nat_inet_fn: ICMP errors and established packets are
                // rewritten from the binding without a walk.
                match crate::nat::before(self.ct, ctres.handle, pkt) {
                    crate::nat::Before::Done(v) => {
                        if v != TableVerdict::Accept {
                            return v;
                        }
                        continue;
                    }
                    crate::nat::Before::Walk => {}
                }
            }
            if *id == TableId::Nat && !nat_allowed(pkt, hook) {
                continue;
            }
            let rt = &mut *self.rt;
            let compiled = match pkt.meta.family {
                Family::V4 => &mut rt.v4,
                Family::V6 => &mut rt.v6,
            };
            let Some(t) = compiled.tables[*id as usize].as_mut() else {
                if *id == TableId::Nat {
                    set_nat_done(pkt, hook);
                }
                continue;
            };
            let lookup = CtLookup {
                ct: &*self.ct,
                now: pkt.now,
            };
            let mut env = MatchEnv {
                fib: &world.fib,
                recent: &mut rt.recent,
                hashlimit: &mut rt.hashlimit,
                conns: &lookup,
                iif_loopback: pkt.iif_loopback,
            };
            let mut sinks = Sinks {
                logs: io.logs,
                trace: if rt.trace { Some(&mut *io.trace) } else { None },
                observer: rt.observer.as_deref_mut(),
                stack: &mut rt.stack,
                rec: if rt.rec.on { Some(&mut rt.rec) } else { None },
            };
            let v = do_table(t, hook, pkt, &mut env, &mut sinks, true);
            if *id == TableId::Nat {
                set_nat_done(pkt, hook);
            }
            if v != TableVerdict::Accept {
                return v;
            }
            if nat_table {
                let v = crate::nat::after(
                    self.ct,
                    &mut self.rt.nat_rng,
                    &world.host,
                    &world.fib,
                    ctres.handle,
                    pkt,
                );
                // The binding changed the entry (tuples, SNAT/DNAT bits):
                // later matches see it.
                sync(self.ct, ctres, &mut pkt.ct);
                pkt.ct = view(self.ct, ctres, pkt.now);
                if v != TableVerdict::Accept {
                    return v;
                }
            }
        }
        TableVerdict::Accept
    }

    /// The confirm point (`nf_confirm`). An established packet of a
    /// confirmed, live entry without a helper or sequence adjustment has
    /// nothing to do there (no helper runs, no seqadj, confirming is a
    /// no-op): a status check instead of the full helper pass.
    fn confirm(&mut self, ctres: &CtResult, pkt: &mut Pkt) -> bool {
        if let Some(e) = ctres.handle.and_then(|h| self.ct.entry(h)) {
            if e.helper.is_none()
                && e.is_confirmed()
                && !e.status.has(Status::DYING)
                && !e.status.has(Status::SEQ_ADJUST)
            {
                return true;
            }
        }
        crate::helper::confirm(
            self.ct,
            ctres,
            pkt.data,
            &mut pkt.meta,
            pkt.now,
            pkt.iif_loopback,
        )
    }

    fn ct_in(&mut self, pkt: &mut Pkt, from_local: bool) -> CtResult {
        let r = self.track(pkt.now, pkt.data, &pkt.meta, from_local, pkt.template);
        pkt.ct = view(self.ct, &r, pkt.now);
        r
    }

    /// The conntrack hook (`nf_conntrack_in`) with the template raw left.
    fn track(
        &mut self,
        now: Nanos,
        data: &[u8],
        meta: &PacketMeta,
        from_local: bool,
        template: Template,
    ) -> CtResult {
        let tmpl = CtTemplate {
            notrack: template.notrack,
            zone: template.zone,
            helper: crate::helper::resolve(
                match meta.family {
                    Family::V4 => &self.rt.v4.helpers,
                    Family::V6 => &self.rt.v6.helpers,
                },
                template.helper,
                meta.proto,
            ),
        };
        let r = self.ct.packet_in(now, data, meta, from_local, Some(&tmpl));
        self.tracked(now, r)
    }

    /// What follows conntrack's verdict on a packet, however it was found.
    fn tracked(&mut self, now: Nanos, r: CtResult) -> CtResult {
        if let Some(h) = r.handle.filter(|_| r.info == CtInfo::Related) {
            // An expected connection of a NATed helper: bound like its
            // master before any nat hook (nf_nat_follow_master).
            if let Some((exp, master)) = self.ct.take_expected_nat(h) {
                crate::nat::follow_master(self.ct, h, &exp, &master, &mut self.rt.nat_rng, now);
            }
        }
        r
    }

    fn end_of(v: TableVerdict) -> End {
        match v {
            TableVerdict::Accept => End::Local,
            TableVerdict::Drop(r) => End::Dropped(r),
            TableVerdict::Queue { num, bypass } => End::Queued { num, bypass },
        }
    }

    /// PREROUTING → routing → INPUT or FORWARD → POSTROUTING. `looped`:
    /// conntrack already ran (a packet looped back from OUTPUT with its
    /// entry and mark, or the flowtable's lookup missed).
    #[allow(clippy::too_many_arguments)]
    fn input(
        &mut self,
        now: Nanos,
        iif: &str,
        rx: RxInfo,
        buf: &mut Vec<u8>,
        meta: PacketMeta,
        looped: Option<(CtResult, CtView, u32)>,
        io: &mut Io,
    ) -> PathResult<'e> {
        let world = self.world;
        let l2 = rx.l2;
        let mut extra_reply = None;
        // NAT (issue 5) may change the destination; until then one lookup.
        let dst_type = world.fib.addr_type(meta.dst, None);
        let iif_loopback = world.is_loopback(iif);
        let mut ctres = CtResult {
            info: CtInfo::Invalid,
            handle: None,
            drop: false,
        };
        let mut pkt = Pkt {
            now,
            hook: Hook::PreRouting,
            data: buf,
            meta,
            iif,
            iif_loopback,
            oif: "",
            oif_mtu: 0,
            mark: 0,
            ct: CtView::default(),
            l2,
            owner: None,
            local_socket: false,
            pkttype: pkttype_of(l2, dst_type),
            template: Template::default(),
            reject: None,
            nat: None,
        };
        if let Some((r, v, mark)) = looped {
            ctres = r;
            pkt.ct = v;
            pkt.mark = mark;
        }
        macro_rules! done {
            ($end:expr, $oif:expr) => {
                return PathResult::new($end, $oif, ctres, &pkt, extra_reply)
            };
        }
        macro_rules! run {
            ($ids:expr) => {{
                let v = self.tables($ids, &mut pkt, &ctres, io);
                sync(self.ct, &ctres, &mut pkt.ct);
                if v != TableVerdict::Accept {
                    done!(Self::end_of(v), "");
                }
            }};
        }
        run!(&[TableId::Raw]);
        if looped.is_none() {
            ctres = self.ct_in(&mut pkt, false);
        }
        if ctres.drop {
            done!(End::Dropped(DropReason::ConntrackDrop), "");
        }
        run!(&[TableId::Mangle, TableId::Nat]);
        // DNAT moved the destination: route the new one.
        let dst_type = if pkt.meta.dst != meta.dst {
            world.fib.addr_type(pkt.meta.dst, None)
        } else {
            dst_type
        };

        // Routing decision (ip_route_input_slow): martians first.
        if !iif_loopback && martian_v4(pkt.meta.src, pkt.meta.dst) {
            done!(End::Dropped(DropReason::Martian), "");
        }
        let local = matches!(
            dst_type,
            RtType::Local | RtType::Broadcast | RtType::Multicast
        );
        // ip6_mc_input: multicast the host has not joined on `iif` is
        // freed after PREROUTING (no multicast routing here).
        if dst_type == RtType::Multicast
            && !iif_loopback
            && !v6_default_member(world, iif, pkt.meta.dst)
        {
            done!(End::Dropped(DropReason::Martian), "");
        }
        if meta.family == Family::V4 && !iif_loopback {
            let rp = world.cfg.rp_filter_of(iif);
            if rp != 0 && !pkt.meta.src.is_unspecified() {
                let ok = match world.fib.lookup(pkt.meta.src) {
                    Some(r) => r.kind == RtType::Unicast && (rp == 2 || r.dev == iif),
                    None => false,
                };
                if !ok {
                    done!(End::Dropped(DropReason::RpFilter), "");
                }
            }
        }
        if local {
            pkt.hook = Hook::Input;
            run!(&[
                TableId::Mangle,
                TableId::Filter,
                TableId::Security,
                TableId::Nat
            ]);
            if !self.confirm(&ctres, &mut pkt) {
                done!(End::Dropped(DropReason::ConntrackDrop), "");
            }
            done!(End::Local, "");
        }
        if !world.forwarding(meta.family) {
            done!(End::Dropped(DropReason::NotForwarding), "");
        }
        // ip6_forward: link-local destinations never leave their link.
        if crate::host::is_v6_link_local(pkt.meta.dst) {
            done!(End::Dropped(DropReason::Martian), "");
        }
        let Some(route) = world.fib.lookup(pkt.meta.dst) else {
            done!(End::Dropped(DropReason::NoRoute), "");
        };
        if pkt.meta.ttl <= 1 {
            extra_reply = Some((Reply::TimeExceeded, Hook::Forward));
            done!(End::Dropped(DropReason::TtlExpired), "");
        }
        // ip6_forward, after the hop limit: a link-local source is told its
        // packet cannot leave the link.
        if crate::host::is_v6_link_local(pkt.meta.src) {
            extra_reply = Some((Reply::BeyondScope, Hook::Forward));
            done!(End::Dropped(DropReason::Martian), "");
        }
        if let Some(mtu) = too_big(&pkt.meta, pkt.data, world.mtu(route.dev), rx) {
            extra_reply = Some((Reply::TooBig(mtu), Hook::Forward));
            done!(End::Dropped(DropReason::TooBig), "");
        }
        decrease_ttl(pkt.data, meta.family);
        pkt.meta.ttl -= 1;
        let oif: &'e str = route.dev;
        pkt.oif = oif;
        pkt.oif_mtu = world.mtu(oif);
        pkt.hook = Hook::Forward;
        run!(&[TableId::Mangle, TableId::Filter, TableId::Security]);
        pkt.hook = Hook::PostRouting;
        run!(&[TableId::Mangle, TableId::Nat]);
        if !self.confirm(&ctres, &mut pkt) {
            done!(End::Dropped(DropReason::ConntrackDrop), oif);
        }
        done!(End::Out, oif)
    }

    /// OUTPUT → POSTROUTING (→ loopback into PREROUTING/INPUT).
    fn output(
        &mut self,
        now: Nanos,
        buf: &mut Vec<u8>,
        meta: PacketMeta,
        tx: TxInfo,
        tracked: Tracked,
        io: &mut Io,
    ) -> PathResult<'e> {
        let world = self.world;
        let no_ct = CtResult {
            info: CtInfo::Invalid,
            handle: None,
            drop: false,
        };
        let attached = match tracked {
            Tracked::No => None,
            Tracked::Attached(c) | Tracked::Pre(c) => Some(c),
        };
        let Some((mut oif, mut to_lo, dst_type)) = route_out(world, &meta, &tx) else {
            return PathResult {
                end: End::Dropped(DropReason::NoRoute),
                oif: "",
                ctres: attached.unwrap_or(no_ct),
                state: CtState::Invalid,
                reject: None,
                meta: None,
            };
        };
        let mut ctres = attached.unwrap_or(no_ct);
        let extra_reply = None;
        let mut pkt = Pkt {
            now,
            hook: Hook::Output,
            data: buf,
            meta,
            iif: "",
            iif_loopback: false,
            oif,
            oif_mtu: world.mtu(oif),
            mark: tx.mark,
            ct: CtView::default(),
            l2: None,
            owner: tx.owner,
            local_socket: !matches!(tracked, Tracked::Attached(_)) && tx.owner.is_some(),
            pkttype: pkttype_of(None, dst_type),
            template: Template::default(),
            reject: None,
            nat: None,
        };
        if let Some(a) = attached {
            pkt.ct = view(self.ct, &a, now);
        }
        macro_rules! done {
            ($end:expr) => {
                return PathResult::new($end, oif, ctres, &pkt, extra_reply)
            };
        }
        macro_rules! run {
            ($ids:expr) => {{
                let v = self.tables($ids, &mut pkt, &ctres, io);
                sync(self.ct, &ctres, &mut pkt.ct);
                if v != TableVerdict::Accept {
                    done!(Self::end_of(v));
                }
            }};
        }
        run!(&[TableId::Raw]);
        if attached.is_none() {
            ctres = self.ct_in(&mut pkt, true);
        }
        if ctres.drop {
            done!(End::Dropped(DropReason::ConntrackDrop));
        }
        run!(&[TableId::Mangle, TableId::Nat]);
        if pkt.meta.dst != meta.dst {
            // ip_route_me_harder: DNAT/REDIRECT moved the destination.
            match world.fib.addr_type(pkt.meta.dst, None) {
                RtType::Local => {
                    oif = world.lo.as_str();
                    to_lo = true;
                }
                _ => match world.fib.lookup(pkt.meta.dst) {
                    Some(r) => {
                        oif = r.dev;
                        to_lo = world.is_loopback(r.dev);
                    }
                    None => done!(End::Dropped(DropReason::NoRoute)),
                },
            }
            pkt.oif = oif;
            pkt.oif_mtu = world.mtu(oif);
        }
        run!(&[TableId::Filter, TableId::Security]);
        pkt.hook = Hook::PostRouting;
        run!(&[TableId::Mangle, TableId::Nat]);
        if !self.confirm(&ctres, &mut pkt) {
            done!(End::Dropped(DropReason::ConntrackDrop));
        }
        if to_lo {
            let looped = Some((ctres, pkt.ct, pkt.mark));
            let lo = world.lo.as_str();
            let meta = pkt.meta;
            let data = pkt.data;
            let mut r = self.input(now, lo, RxInfo::default(), data, meta, looped, io);
            if r.end == End::Local {
                r.oif = lo;
            }
            return r;
        }
        done!(End::Out)
    }
}

impl Engine {
    /// Compiles both rulesets for `host`. Refuses what the kernel refuses at
    /// load time (see [`CompileError`]). Takes `&Ruleset` (cloned),
    /// `Ruleset` or `Arc<Ruleset>` (kept without a copy), see [`IntoRuleset`].
    pub fn new(
        v4: impl IntoRuleset,
        v6: impl IntoRuleset,
        host: Host,
        cfg: EngineConfig,
    ) -> Result<Engine, CompileError> {
        let (v4, v6) = (v4.into_ruleset(), v6.into_ruleset());
        let mut recent = RecentTables::default();
        let mut hashlimit = HashlimitTables::default();
        let c4 = compile(&v4, &mut recent, &mut hashlimit)?;
        let c6 = compile(&v6, &mut recent, &mut hashlimit)?;
        let fib = Fib::new(&host);
        let lo = host
            .interfaces
            .iter()
            .find(|i| i.loopback)
            .map(|i| i.name.clone())
            .unwrap_or_else(|| "lo".to_string());
        let ct = Conntrack::new(cfg.ct.clone());
        let stack = Vec::with_capacity(c4.max_stack().max(c6.max_stack()));
        let mut engine = Engine {
            world: World { host, fib, cfg, lo },
            rt: Runtime {
                v4: c4,
                v6: c6,
                recent,
                hashlimit,
                stack,
                observer: None,
                trace: false,
                nat_rng: crate::nat::NatRng::default(),
                rec: PathRec::default(),
            },
            ct,
            icmp: IcmpRate::default(),
            flows: FlowTable::default(),
            fast: FlowCache::default(),
            defrag: Defrag::default(),
            models: [v4, v6],
            flow_on: [false; 2],
        };
        engine.update_flow_on();
        Ok(engine)
    }

    /// Swaps in new rulesets, keeping conntrack, recent lists and hashlimit
    /// tables (as `iptables-restore` does). Counters restart at zero, as they
    /// do after a restore without `--counters`. On error the old rules stay.
    pub fn replace_rules(
        &mut self,
        v4: impl IntoRuleset,
        v6: impl IntoRuleset,
    ) -> Result<(), CompileError> {
        let (v4, v6) = (v4.into_ruleset(), v6.into_ruleset());
        let mut recent = self.rt.recent.clone();
        let mut hashlimit = self.rt.hashlimit.clone();
        let c4 = compile(&v4, &mut recent, &mut hashlimit)?;
        let c6 = compile(&v6, &mut recent, &mut hashlimit)?;
        let need = c4.max_stack().max(c6.max_stack());
        self.rt.stack.reserve(need);
        self.rt.v4 = c4;
        self.rt.v6 = c6;
        self.rt.recent = recent;
        self.rt.hashlimit = hashlimit;
        self.models = [v4, v6];
        self.flows.flush();
        self.update_flow_on();
        Ok(())
    }

    /// Installs an observer that sees every traversal step.
    pub fn set_observer(&mut self, obs: Option<Box<dyn Observer>>) {
        self.rt.observer = obs;
        self.update_flow_on();
    }

    /// Collects traversal steps into [`Outcome::trace`].
    pub fn set_trace(&mut self, on: bool) {
        self.rt.trace = on;
        self.update_flow_on();
    }

    /// A port (or ICMP id) for the next NAT port search to try first: replay
    /// adopting the one the kernel chose, seen in the capture, where the
    /// kernel's pick is random (a clash, `--random`, `--random-fully`). Used
    /// only if it is in the range and free; a search that does not happen
    /// leaves it set, so callers clear it (`None`) after the packet.
    pub fn set_nat_port_hint(&mut self, port: Option<u16>) {
        self.rt.nat_rng.hint = port;
    }

    /// How often established packets took a remembered path (see
    /// [`EngineConfig::flowtable`]).
    pub fn flowtable_stats(&self) -> FlowStats {
        self.flows.stats
    }

    /// The connection tracker (read-only).
    pub fn conntrack(&self) -> &Conntrack {
        &self.ct
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.world.cfg
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.world.host
    }

    /// A packet arriving on `iif`.
    pub fn receive(&mut self, now: Nanos, iif: &str, datagram: &[u8], out: &mut Outcome) {
        self.receive_with(now, iif, RxInfo::default(), datagram, out)
    }

    /// [`Engine::receive`] with link-layer details.
    pub fn receive_with(
        &mut self,
        now: Nanos,
        iif: &str,
        rx: RxInfo,
        datagram: &[u8],
        out: &mut Outcome,
    ) {
        out.clear();
        self.ct.gc_step(now, 16);
        // Borrowed in place, never moved: the descriptor is written with
        // narrow stores, and copying it whole right after stalls on store
        // forwarding (a fifth of an established packet's time).
        let parsed = PacketMeta::parse(datagram);
        let Ok(meta) = &parsed else {
            out.verdict = Verdict::Drop(DropReason::Malformed);
            return;
        };
        let Some((pos, dev)) = self
            .world
            .host
            .interfaces
            .iter()
            .enumerate()
            .find(|(_, i)| i.name == iif)
            .filter(|(_, i)| i.up)
        else {
            out.verdict = Verdict::Drop(DropReason::NoDevice);
            return;
        };
        // ip6_rcv_core drops these before PREROUTING.
        if !dev.loopback && martian_v6(meta.src, meta.dst) {
            out.verdict = Verdict::Drop(DropReason::Martian);
            return;
        }
        let Ok(whole) = self.defragment(now, datagram, meta, false, out) else {
            return;
        };
        let (datagram, meta, reassembled) = match whole.as_deref() {
            Some((d, m)) => (&d[..], m, true),
            None => (datagram, meta, false),
        };
        // A reassembled datagram is too big to forward only if one of its
        // fragments was (IPCB frag_max_size in ip_exceeds_mtu /
        // ip6_pkt_too_big): per piece, as for a GSO aggregate.
        let rx = RxInfo {
            gso: rx.gso || reassembled,
            ..rx
        };
        out.packet.extend_from_slice(meta.ip_bytes(datagram));
        let mut looped = None;
        let mut key = None;
        if self.flowtable_on(meta.family) {
            // From the caller's bytes, not the copy in `out` just made: a
            // load from that copy stalls until its wide stores retire.
            let data = meta.ip_bytes(datagram);
            let dev = pos as u16;
            match self.flow(now, data, meta, false, true, |_, _| Some(dev), 0, rx, out) {
                Flow::Served => return,
                Flow::Tracked(ctres, k) => {
                    key = k;
                    looped = Some((ctres, view(&self.ct, &ctres, now), 0));
                }
                Flow::Unrouted => {}
            }
        }
        let Outcome {
            packet,
            logs,
            trace,
            ..
        } = out;
        let mut io = Io { logs, trace };
        let mut cx = self.ctx();
        let r = cx.input(now, iif, rx, packet, *meta, looped, &mut io);
        let done = Done::take(r, &mut out.out_iface);
        if let Some(k) = key {
            self.remember(k, &done, &out.out_iface);
        }
        self.finish(now, done, *meta, out);
    }

    /// A packet generated by the local host.
    pub fn send_local(&mut self, now: Nanos, datagram: &[u8], out: &mut Outcome) {
        self.send_local_with(now, TxInfo::default(), datagram, out)
    }

    /// [`Engine::send_local`] with socket details.
    pub fn send_local_with(
        &mut self,
        now: Nanos,
        tx: TxInfo<'_>,
        datagram: &[u8],
        out: &mut Outcome,
    ) {
        out.clear();
        self.ct.gc_step(now, 16);
        // Borrowed in place, never moved: the descriptor is written with
        // narrow stores, and copying it whole right after stalls on store
        // forwarding (a fifth of an established packet's time).
        let parsed = PacketMeta::parse(datagram);
        let Ok(meta) = &parsed else {
            out.verdict = Verdict::Drop(DropReason::Malformed);
            return;
        };
        let Ok(whole) = self.defragment(now, datagram, meta, true, out) else {
            return;
        };
        let (datagram, meta) = match whole.as_deref() {
            Some((d, m)) => (&d[..], m),
            None => (datagram, meta),
        };
        out.packet.extend_from_slice(meta.ip_bytes(datagram));
        let mut tracked = Tracked::No;
        let mut key = None;
        if self.flowtable_on(meta.family) {
            let data = meta.ip_bytes(datagram);
            // The route is cached only when it depends on the destination
            // alone (the socket chose no interface).
            let cacheable = tx.oif.is_none();
            let route = |world: &World, meta: &PacketMeta| match route_out(world, meta, &tx) {
                Some((oif, false, _)) => Some(world.dev_pos(oif)),
                _ => None,
            };
            let rx = RxInfo::default();
            match self.flow(now, data, meta, true, cacheable, route, tx.mark, rx, out) {
                Flow::Served => return,
                Flow::Tracked(ctres, k) => {
                    key = k;
                    tracked = Tracked::Pre(ctres);
                }
                Flow::Unrouted => {}
            }
        }
        let Outcome {
            packet,
            logs,
            trace,
            ..
        } = out;
        let mut io = Io { logs, trace };
        let mut cx = self.ctx();
        let r = cx.output(now, packet, *meta, tx, tracked, &mut io);
        let done = Done::take(r, &mut out.out_iface);
        if let Some(k) = key {
            self.remember(k, &done, &out.out_iface);
        }
        self.finish(now, done, *meta, out);
    }

    /// nf_defrag at the head of PREROUTING / OUTPUT: `Ok(None)` carry on
    /// with the packet as it is, `Ok(Some(..))` with the reassembled
    /// datagram, `Err` the packet was held or dropped (`out` says). Boxed:
    /// every packet carries the result, one pointer is cheaper to test and
    /// drop than the datagram and descriptor inline.
    #[allow(clippy::type_complexity)]
    #[inline]
    fn defragment(
        &mut self,
        now: Nanos,
        datagram: &[u8],
        meta: &PacketMeta,
        local: bool,
        out: &mut Outcome,
    ) -> Result<Option<Box<(Vec<u8>, PacketMeta)>>, ()> {
        if meta.frag_off == 0 && !meta.more_frags {
            return Ok(None);
        }
        self.reassemble(now, datagram, meta, local, out)
    }

    /// [`Engine::defragment`] for a fragment: out of line, as fragments are
    /// rare and the check before it is on every packet's path.
    #[allow(clippy::type_complexity)]
    #[cold]
    fn reassemble(
        &mut self,
        now: Nanos,
        datagram: &[u8],
        meta: &PacketMeta,
        local: bool,
        out: &mut Outcome,
    ) -> Result<Option<Box<(Vec<u8>, PacketMeta)>>, ()> {
        let verdict = match self.defrag.gather(now, meta.ip_bytes(datagram), local) {
            Gathered::Whole => return Ok(None),
            Gathered::Done(d) => match PacketMeta::parse(&d) {
                Ok(m) => return Ok(Some(Box::new((d, m)))),
                Err(_) => Verdict::Drop(DropReason::Malformed),
            },
            Gathered::Held => Verdict::Stolen,
            Gathered::Dropped => Verdict::Drop(DropReason::Defrag),
        };
        out.verdict = verdict;
        Err(())
    }

    fn ctx(&mut self) -> Ctx<'_> {
        Ctx {
            world: &self.world,
            rt: &mut self.rt,
            ct: &mut self.ct,
        }
    }

    /// Whether the flowtable may serve packets of each family: no raw table
    /// (it runs before conntrack knows the flow), no tracing or observer
    /// (they want every step). Kept in [`Engine::flow_on`], as every packet
    /// asks; called whenever one of those changes.
    fn update_flow_on(&mut self) {
        let on = |c: &Compiled| {
            self.world.cfg.flowtable
                && c.tables[TableId::Raw as usize].is_none()
                && !self.rt.trace
                && self.rt.observer.is_none()
        };
        self.flow_on = [on(&self.rt.v4), on(&self.rt.v6)];
    }

    /// The flowtable may serve this family ([`Engine::update_flow_on`]).
    #[inline]
    fn flowtable_on(&self, family: Family) -> bool {
        self.flow_on[usize::from(family == Family::V6)]
    }

    /// The flowtable's share of a packet it may serve: conntrack on the
    /// entry the flow cache names (else by lookup), then the remembered
    /// path if there is one. `data`: the datagram `meta` describes (the
    /// caller's, equal to `out.packet`); `cacheable`: the flow cache may
    /// serve it. `route`: the output interface of a locally
    /// generated packet the cache does not know (routing comes before
    /// conntrack on output: a packet without a route is never tracked), the
    /// input interface of a received one. One function out of line with
    /// its steps inlined: the established packet's whole fast path, its
    /// values kept in registers rather than returned through memory and
    /// reloaded (which stalled on store forwarding).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn flow(
        &mut self,
        now: Nanos,
        data: &[u8],
        meta: &PacketMeta,
        local: bool,
        cacheable: bool,
        route: impl FnOnce(&World, &PacketMeta) -> Option<u16>,
        mark: u32,
        rx: RxInfo,
        out: &mut Outcome,
    ) -> Flow {
        let fk = FastKey::of(meta, data, local).filter(|_| cacheable);
        let cached = fk.and_then(|k| self.fast.get(&k));
        let dev = match cached {
            Some(c) if local => c.dev,
            _ => match route(&self.world, meta) {
                Some(d) => d,
                None => return Flow::Unrouted,
            },
        };
        let ctres = self.track_flow(now, data, meta, local, cached);
        let key = self.flow_key(&ctres, local, dev, mark);
        if let Some(k) = key {
            self.cache_flow(fk, cached, k, dev);
            if self.replay(&k, &ctres, meta, rx, out) {
                return Flow::Served;
            }
            self.rt.rec.start();
        }
        Flow::Tracked(ctres, key)
    }

    /// Conntrack for a packet the flowtable may serve: on the entry the
    /// flow cache names when it has one, else by lookup. Inlined (the
    /// general paths are out of line): its frame and memory-returned result
    /// cost as much as the fast path itself.
    #[inline(always)]
    fn track_flow(
        &mut self,
        now: Nanos,
        data: &[u8],
        meta: &PacketMeta,
        local: bool,
        cached: Option<Cached>,
    ) -> CtResult {
        if let Some(c) = cached {
            let dir = usize::from(c.reply);
            let known = self.ct.packet_known(now, c.handle, dir, data, meta, local);
            if let Some(r) = known.result(c.handle) {
                if r.info != CtInfo::Related {
                    return r;
                }
                return self.ctx().tracked(now, r);
            }
        }
        self.track_lookup(now, data, meta, local)
    }

    /// [`Engine::track_flow`] without a usable cache entry.
    #[inline(never)]
    fn track_lookup(
        &mut self,
        now: Nanos,
        data: &[u8],
        meta: &PacketMeta,
        local: bool,
    ) -> CtResult {
        self.ctx()
            .track(now, data, meta, local, Template::default())
    }

    /// Caches the entry (and route) of a packet the flowtable may serve.
    #[inline(always)]
    fn cache_flow(&mut self, fk: Option<FastKey>, cached: Option<Cached>, k: FlowKey, dev: u16) {
        let Some(fk) = fk else {
            return;
        };
        let v = Cached {
            handle: k.handle,
            reply: k.reply,
            dev,
        };
        if cached != Some(v) {
            self.fast.put(fk, v);
        }
    }

    #[inline(always)]
    fn flow_key(&self, ctres: &CtResult, local: bool, dev: u16, mark: u32) -> Option<FlowKey> {
        if ctres.drop {
            return None;
        }
        let entry = ctres.handle.and_then(|h| self.ct.entry(h));
        FlowKey::of(ctres.info, ctres.handle, entry, local, dev, mark)
    }

    /// After a full walk of a packet the flowtable may serve: remembers its
    /// path when nothing on it depended on more than the flow.
    fn remember(&mut self, k: FlowKey, r: &Done, oif: &str) {
        let rec = std::mem::take(&mut self.rt.rec);
        if r.reject.is_some() {
            return;
        }
        // The walk may have changed what the key holds (ctmark, status).
        let Some(k2) = self.flow_key(&r.ctres, k.local, k.dev, k.mark) else {
            return;
        };
        if k2 != k {
            return;
        }
        let end = match r.end {
            End::Local if !k.local => FlowEnd::Local,
            End::Out => FlowEnd::Out {
                dev: self.world.dev_pos(oif),
                forward: !k.local,
            },
            End::Dropped(reason) => match drop_end(reason, k.local) {
                Some(e) => e,
                None => return,
            },
            _ => return,
        };
        self.flows.put(k, &rec, end);
    }

    /// Replays the path remembered for `k`, an established packet's
    /// (`false`: none is, or a forwarded packet fails the per-packet checks;
    /// walk the tables). `rx`: the received packet's link details (locally
    /// generated ones are never forwarded).
    #[inline(always)]
    fn replay(
        &mut self,
        k: &FlowKey,
        ctres: &CtResult,
        meta: &PacketMeta,
        rx: RxInfo,
        out: &mut Outcome,
    ) -> bool {
        // The slot is read in place (not copied out) while the counters it
        // names are incremented: disjoint fields of the engine.
        let Some(slot) = self.flows.get(k) else {
            return false;
        };
        if let FlowEnd::Out { dev, forward: true } = slot.end {
            // ip_forward's per-packet checks before FORWARD: hop limit and
            // MTU; a packet failing them takes the walk (and its reply).
            let mtu = self.world.mtu_at(dev);
            if meta.ttl <= 1 || too_big(meta, &out.packet, mtu, rx).is_some() {
                return false;
            }
            decrease_ttl(&mut out.packet, meta.family);
        }
        let c = match meta.family {
            Family::V4 => &mut self.rt.v4,
            Family::V6 => &mut self.rt.v6,
        };
        let len = u64::from(meta.len);
        for &(t, i) in slot.hits() {
            if let Some(e) = c
                .tables
                .get_mut(usize::from(t))
                .and_then(Option::as_mut)
                .and_then(|t| t.entries.get_mut(i as usize))
            {
                e.counters.packets += 1;
                e.counters.bytes += len;
            }
        }
        let end = slot.end;
        self.flows.stats.hits += 1;
        out.ct = state_of(ctres.info);
        match end {
            FlowEnd::Local => {
                out.verdict = Verdict::Accept;
                out.delivered_local = true;
            }
            FlowEnd::Out { dev, .. } => {
                out.verdict = Verdict::Accept;
                out.forwarded = true;
                out.out_iface.push_str(self.world.dev_name(dev));
            }
            FlowEnd::Drop(reason) => {
                out.verdict = Verdict::Drop(reason);
                if let Some(h) = ctres.handle {
                    self.ct.discard(h);
                }
            }
        }
        true
    }

    fn finish(&mut self, now: Nanos, r: Done, meta: PacketMeta, out: &mut Outcome) {
        // REJECT answers the packet as the tables last saw it (after DNAT).
        let meta = r.meta.unwrap_or(meta);
        out.ct = r.state;
        match r.end {
            End::Local => {
                out.verdict = Verdict::Accept;
                out.delivered_local = true;
            }
            End::Out => {
                out.verdict = Verdict::Accept;
                out.forwarded = true;
            }
            End::Dropped(reason) => out.verdict = Verdict::Drop(reason),
            End::Queued { num, bypass } => out.verdict = Verdict::Queue { num, bypass },
        }
        let ctres = r.ctres;
        if let Some((reply, hook)) = r.reject {
            self.reply(now, reply, hook, &meta, &ctres, out);
        }
        if !matches!(out.verdict, Verdict::Accept | Verdict::Queue { .. }) {
            if let Some(h) = ctres.handle {
                self.ct.discard(h);
            }
        }
    }

    /// Builds and sends REJECT's reply (ipt_REJECT.c, nf_reject_ipv4.c).
    fn reply(
        &mut self,
        now: Nanos,
        reply: Reply,
        hook: Hook,
        meta: &PacketMeta,
        ctres: &CtResult,
        out: &mut Outcome,
    ) {
        let reply_kind = reply;
        let orig = &out.packet;
        let world = &self.world;
        let opts = EmitOpts {
            ttl: world.cfg.default_ttl,
            verify_csum: hook != Hook::Output && matches!(reply, Reply::Reject(_)),
            ip_id: 0,
        };
        // Never answer broadcast/multicast destinations.
        if matches!(
            world.fib.addr_type(meta.dst, None),
            RtType::Broadcast | RtType::Multicast
        ) {
            return;
        }
        let back = world.fib.lookup(meta.src);
        let back_lo = match world.fib.addr_type(meta.src, None) {
            RtType::Local => true,
            _ => back.is_some_and(|r| world.is_loopback(r.dev)),
        };
        let src = if world.fib.addr_type(meta.dst, None) == RtType::Local {
            Some(meta.dst)
        } else {
            back.and_then(|r| r.prefsrc.filter(|p| p.is_ipv6() == meta.src.is_ipv6()))
                .or_else(|| back.and_then(|r| Fib::dev_addr(&world.host, r.dev, meta.src)))
        };
        // (type, code) of an ICMP error; `None` for a TCP reset.
        let icmp = match (reply, meta.family) {
            (Reply::Reject(RejectWith::TcpReset), _) => None,
            (Reply::TimeExceeded, Family::V4) => Some((11, 0)),
            (Reply::TimeExceeded, Family::V6) => Some((3, 0)),
            (Reply::BeyondScope, Family::V6) => Some((1, 2)),
            (Reply::BeyondScope, Family::V4) => return,
            (Reply::TooBig(_), Family::V4) => Some((3, 4)),
            (Reply::TooBig(_), Family::V6) => Some((2, 0)),
            (Reply::Reject(w), Family::V4) => Some((
                3,
                match w {
                    RejectWith::IcmpNetUnreachable => 0,
                    RejectWith::IcmpHostUnreachable => 1,
                    RejectWith::IcmpProtoUnreachable => 2,
                    RejectWith::IcmpNetProhibited => 9,
                    RejectWith::IcmpHostProhibited => 10,
                    RejectWith::IcmpAdminProhibited => 13,
                    _ => 3,
                },
            )),
            (Reply::Reject(w), Family::V6) => Some((
                1,
                match w {
                    RejectWith::Icmp6NoRoute => 0,
                    RejectWith::Icmp6AdmProhibited => 1,
                    RejectWith::Icmp6AddrUnreachable => 3,
                    RejectWith::Icmp6PolicyFail => 5,
                    RejectWith::Icmp6RejectRoute => 6,
                    _ => 4,
                },
            )),
        };
        let packet = match (icmp, meta.family) {
            (None, Family::V4) => emit::tcp_reset_v4_with(orig, meta, &opts),
            (None, Family::V6) => emit::tcp_reset_v6_with(orig, meta, &opts),
            (Some((t, code)), Family::V4) => {
                let Some(IpAddr::V4(s)) = src else { return };
                if opts.verify_csum && !crate::icmp::reject_csum_ok(orig, meta) {
                    return;
                }
                if !self
                    .icmp
                    .allow_v4(&world.cfg, t, code, meta.src, back_lo, now)
                {
                    return;
                }
                emit::icmp_error_v4_with(orig, meta, t, code, s, &opts)
            }
            (Some((t, code)), Family::V6) => {
                let Some(IpAddr::V6(s)) = src else { return };
                if opts.verify_csum && !crate::icmp::reject_csum_ok(orig, meta) {
                    return;
                }
                // Packet too big is never limited (icmpv6_mask_allow).
                if t != 2 && !self.icmp.allow_v6(&world.cfg, meta.src, back_lo, now) {
                    return;
                }
                emit::icmp6_error_with(orig, meta, t, code, s, &opts)
            }
        };
        let Some(mut reply) = packet else { return };
        if let Reply::TooBig(mtu) = reply_kind {
            set_icmp_mtu(&mut reply, mtu);
        }
        let attached = self.ct.attach_related(ctres);
        if icmp.is_none() {
            if let Some(h) = ctres.handle {
                self.ct.set_closing(h, now);
            }
        }
        let Ok(rmeta) = PacketMeta::parse(&reply) else {
            return;
        };
        let attached = attached.handle.map(|_| attached);
        let Outcome { logs, trace, .. } = out;
        let mut io = Io { logs, trace };
        let mut cx = self.ctx();
        let tracked = attached.map_or(Tracked::No, Tracked::Attached);
        let r = cx.output(now, &mut reply, rmeta, TxInfo::default(), tracked, &mut io);
        let (end, oif) = (r.end, r.oif.to_string());
        if attached.is_none() {
            if let (Some(h), false) = (r.ctres.handle, matches!(end, End::Out | End::Local)) {
                self.ct.discard(h);
            }
        }
        match end {
            End::Out | End::Local => out.emitted.push(Emitted {
                out_iface: oif,
                packet: reply,
                delivered_local: end == End::Local,
            }),
            _ => {}
        }
    }

    /// The input rulesets with every rule's and built-in policy's counters
    /// filled in from the engine (user chains keep `[0:0]`, as
    /// `iptables-save -c` prints them).
    pub fn save_counters(&self) -> (Ruleset, Ruleset) {
        let fill = |model: &Ruleset, c: &Compiled| {
            let mut m = Ruleset::clone(model);
            for t in &mut m.tables {
                let Some(ct) = c.tables[t.id as usize].as_ref() else {
                    continue;
                };
                for ch in &mut t.chains {
                    let Some(info) = ct.chains.iter().find(|i| i.name == ch.name) else {
                        continue;
                    };
                    for (k, r) in ch.rules.iter_mut().enumerate() {
                        if let Some(e) = ct.entries.get(info.first as usize + k) {
                            r.counters = e.counters;
                        }
                    }
                    if info.hook.is_some() {
                        if let Some(e) = ct.entries.get(info.end as usize) {
                            ch.counters = e.counters;
                        }
                    } else {
                        ch.counters = Default::default();
                    }
                }
            }
            m
        };
        (
            fill(&self.models[0], &self.rt.v4),
            fill(&self.models[1], &self.rt.v6),
        )
    }
}

//! Match extensions, compiled: one `enum` variant per `xt_*` match, closed
//! dispatch with `match` on the hot path. Each variant's semantics live in the
//! file named after its kernel counterpart.

pub(crate) mod addrtype;
pub(crate) mod comment;
pub(crate) mod connlimit;
pub(crate) mod connmark;
pub(crate) mod conntrack;
pub(crate) mod dscp;
pub(crate) mod hashlimit;
pub(crate) mod hl;
pub(crate) mod icmp;
pub(crate) mod icmp6;
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
pub(crate) mod udp;

use palisade_model::matches::*;

use crate::eval::Pkt;
use crate::host::Fib;
use crate::state::hashlimit::HashlimitTables;
use crate::state::recent::RecentTables;

/// A compiled match: the model's info plus per-rule runtime state.
#[derive(Debug)]
pub(crate) enum CMatch {
    Tcp(TcpMatch),
    Udp(UdpMatch),
    Icmp(IcmpMatch),
    Icmp6(IcmpMatch),
    State(StateMatch),
    Conntrack(Box<ConntrackMatch>),
    Multiport(MultiportMatch),
    Iprange(IprangeMatch),
    Recent(Box<RecentMatch>, usize),
    Limit(limit::LimitState),
    Hashlimit(Box<HashlimitMatch>, usize),
    Connlimit(ConnlimitMatch, connlimit::ConnlimitState),
    Mark(MarkMatch),
    Connmark(MarkMatch),
    Comment,
    Mac(MacMatch),
    Addrtype(AddrtypeMatch),
    Pkttype(PkttypeMatch),
    Length(LengthMatch),
    Ttl(TtlMatch),
    Hl(TtlMatch),
    Tos(TosMatch),
    Dscp(DscpMatch),
    Owner(OwnerMatch),
    Rpfilter(RpfilterMatch),
}

/// Engine state a match may read or update.
pub(crate) struct MatchEnv<'a> {
    pub fib: &'a Fib,
    pub recent: &'a mut RecentTables,
    pub hashlimit: &'a mut HashlimitTables,
    pub conns: &'a dyn connlimit::ConnLookup,
    /// The input interface is a loopback device.
    pub iif_loopback: bool,
}

impl CMatch {
    /// Compiles one match; lists and tables are registered in the shared state.
    pub(crate) fn compile(
        m: &Match,
        family: palisade_model::Family,
        recent: &mut RecentTables,
        hashlimit: &mut HashlimitTables,
    ) -> CMatch {
        match m {
            Match::Tcp(i) => CMatch::Tcp(i.clone()),
            Match::Udp(i) => CMatch::Udp(i.clone()),
            Match::Icmp(i) => CMatch::Icmp(i.clone()),
            Match::Icmp6(i) => CMatch::Icmp6(i.clone()),
            Match::State(i) => CMatch::State(i.clone()),
            Match::Conntrack(i) => CMatch::Conntrack(Box::new(i.clone())),
            Match::Multiport(i) => CMatch::Multiport(i.clone()),
            Match::Iprange(i) => CMatch::Iprange(i.clone()),
            Match::Recent(i) => {
                let id = recent.register(i);
                CMatch::Recent(Box::new(i.clone()), id)
            }
            Match::Limit(i) => CMatch::Limit(limit::LimitState::new(i)),
            Match::Hashlimit(i) => {
                let id = hashlimit.register(i, family);
                CMatch::Hashlimit(Box::new(i.clone()), id)
            }
            Match::Connlimit(i) => CMatch::Connlimit(i.clone(), Default::default()),
            Match::Mark(i) => CMatch::Mark(i.clone()),
            Match::Connmark(i) => CMatch::Connmark(i.clone()),
            Match::Comment(_) => CMatch::Comment,
            Match::Mac(i) => CMatch::Mac(i.clone()),
            Match::Addrtype(i) => CMatch::Addrtype(i.clone()),
            Match::Pkttype(i) => CMatch::Pkttype(i.clone()),
            Match::Length(i) => CMatch::Length(i.clone()),
            Match::Ttl(i) => CMatch::Ttl(i.clone()),
            Match::Hl(i) => CMatch::Hl(i.clone()),
            Match::Tos(i) => CMatch::Tos(i.clone()),
            Match::Dscp(i) => CMatch::Dscp(i.clone()),
            Match::Owner(i) => CMatch::Owner(i.clone()),
            Match::Rpfilter(i) => CMatch::Rpfilter(i.clone()),
        }
    }

    /// The result is the same for every packet of one flow direction with
    /// the same ctstate, ctstatus, ctmark and packet mark (see
    /// `flowtable`): it reads only tuple fields, interfaces, marks and the
    /// entry's fixed fields. Conservative: `false` when unsure.
    pub(crate) fn flow_invariant(&self) -> bool {
        match self {
            // Flags and options change per segment; ports do not.
            CMatch::Tcp(i) => i.flg_mask == 0 && i.option == 0,
            // ICMP type and code are part of the conntrack tuple.
            CMatch::Udp(_) | CMatch::Icmp(_) | CMatch::Icmp6(_) => true,
            CMatch::State(_) | CMatch::Multiport(_) | CMatch::Iprange(_) => true,
            // --ctexpire reads the clock.
            CMatch::Conntrack(i) => i.expire.is_none(),
            CMatch::Mark(_) | CMatch::Connmark(_) | CMatch::Comment | CMatch::Addrtype(_) => true,
            CMatch::Recent(..)
            | CMatch::Limit(_)
            | CMatch::Hashlimit(..)
            | CMatch::Connlimit(..)
            | CMatch::Mac(_)
            | CMatch::Pkttype(_)
            | CMatch::Length(_)
            | CMatch::Ttl(_)
            | CMatch::Hl(_)
            | CMatch::Tos(_)
            | CMatch::Dscp(_)
            | CMatch::Owner(_)
            | CMatch::Rpfilter(_) => false,
        }
    }

    /// Evaluates; may set `hotdrop`.
    pub(crate) fn eval(&mut self, pkt: &Pkt, env: &mut MatchEnv, hotdrop: &mut bool) -> bool {
        match self {
            CMatch::Tcp(i) => tcp::mt(i, pkt, hotdrop),
            CMatch::Udp(i) => udp::mt(i, pkt, hotdrop),
            CMatch::Icmp(i) => icmp::mt(i, pkt, hotdrop),
            CMatch::Icmp6(i) => icmp6::mt(i, pkt, hotdrop),
            CMatch::State(i) => state::mt(i, pkt),
            CMatch::Conntrack(i) => conntrack::mt(i, pkt),
            CMatch::Multiport(i) => multiport::mt(i, pkt, hotdrop),
            CMatch::Iprange(i) => iprange::mt(i, pkt),
            CMatch::Recent(i, id) => recent::mt(i, *id, env.recent, pkt, hotdrop),
            CMatch::Limit(st) => limit::mt(st, pkt.now),
            CMatch::Hashlimit(i, id) => hashlimit::mt(i, *id, env.hashlimit, pkt, hotdrop),
            CMatch::Connlimit(i, st) => connlimit::mt(i, st, pkt, env.conns, hotdrop),
            CMatch::Mark(i) => mark::mt(i, pkt.mark),
            CMatch::Connmark(i) => connmark::mt(i, pkt),
            CMatch::Comment => comment::mt(),
            CMatch::Mac(i) => mac::mt(i, pkt),
            CMatch::Addrtype(i) => addrtype::mt(i, pkt, env.fib),
            CMatch::Pkttype(i) => pkttype::mt(i, pkt),
            CMatch::Length(i) => length::mt(i, pkt),
            CMatch::Ttl(i) | CMatch::Hl(i) => hl::mt(i, pkt.meta.ttl),
            CMatch::Tos(i) => dscp::tos_mt(i, pkt.meta.tos),
            CMatch::Dscp(i) => dscp::dscp_mt(i, pkt.meta.tos),
            CMatch::Owner(i) => owner::mt(i, pkt),
            CMatch::Rpfilter(i) => rpfilter::mt(i, pkt, env.fib, env.iif_loopback),
        }
    }
}

//! Targets, compiled: one `enum` variant per kernel target. The standard
//! targets (ACCEPT/DROP/RETURN/jump/goto and chain ends) are handled by the
//! table walk itself; the extension targets run here.

pub(crate) mod connmark;
pub(crate) mod ct;
pub(crate) mod log;
pub(crate) mod mark;
pub(crate) mod nat;
pub(crate) mod nfqueue;
pub(crate) mod reject;
pub(crate) mod tcpmss;

use palisade_model::targets::{
    ConnmarkTarget, CtTarget, LogTarget, NfqueueTarget, RejectWith, TcpmssTarget, XMark,
};
use palisade_model::{Policy, TableId};

use crate::eval::Pkt;
use crate::table::Table;

/// A compiled target.
#[derive(Debug)]
pub(crate) enum CTarget {
    /// No `-j`: count and go on.
    Continue,
    Accept,
    Drop,
    Return,
    /// Jump to the entry index.
    Jump(u32),
    /// Goto the entry index.
    Goto(u32),
    /// End of a built-in chain.
    Policy(Policy),
    /// End of a user chain.
    ChainReturn,
    Reject(RejectWith),
    Log(Box<LogTarget>),
    Nflog,
    Nfqueue(NfqueueTarget),
    /// SNAT/DNAT/MASQUERADE/REDIRECT/NETMAP: the binding the nat hook sets
    /// up (see `nat`).
    Nat(Box<nat::NatTarget>),
    Mark(XMark),
    Connmark(ConnmarkTarget),
    Ct(Box<CtTarget>, Option<u16>),
    Notrack,
    Tcpmss(TcpmssTarget),
}

/// What an extension target decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TgResult {
    Continue,
    Accept,
    Drop,
    Queue { num: u16, bypass: bool },
}

impl CTarget {
    /// Only steers the walk or decides (no packet, connection or state
    /// change, no output): a path through it may be replayed (`flowtable`).
    pub(crate) fn verdict_only(&self) -> bool {
        matches!(
            self,
            CTarget::Continue
                | CTarget::Accept
                | CTarget::Drop
                | CTarget::Return
                | CTarget::Jump(_)
                | CTarget::Goto(_)
                | CTarget::Policy(_)
                | CTarget::ChainReturn
        )
    }

    /// Name for traces.
    pub(crate) fn name(&self, t: &Table) -> String {
        match self {
            CTarget::Continue => String::new(),
            CTarget::Accept => "ACCEPT".into(),
            CTarget::Drop => "DROP".into(),
            CTarget::Return | CTarget::ChainReturn => "RETURN".into(),
            CTarget::Jump(i) | CTarget::Goto(i) => t.chain_name(*i as usize).to_string(),
            CTarget::Policy(Policy::Accept) => "ACCEPT".into(),
            CTarget::Policy(Policy::Drop) => "DROP".into(),
            CTarget::Reject(_) => "REJECT".into(),
            CTarget::Log(_) => "LOG".into(),
            CTarget::Nflog => "NFLOG".into(),
            CTarget::Nfqueue(_) => "NFQUEUE".into(),
            CTarget::Nat(n) => n.name().into(),
            CTarget::Mark(_) => "MARK".into(),
            CTarget::Connmark(_) => "CONNMARK".into(),
            CTarget::Ct(..) => "CT".into(),
            CTarget::Notrack => "NOTRACK".into(),
            CTarget::Tcpmss(_) => "TCPMSS".into(),
        }
    }

    /// Runs an extension target.
    pub(crate) fn exec(
        &self,
        pkt: &mut Pkt,
        table: TableId,
        logs: &mut Vec<crate::LogLine>,
    ) -> TgResult {
        let _ = table;
        match self {
            CTarget::Reject(with) => reject::tg(*with, pkt),
            CTarget::Log(l) => {
                logs.push(log::line(l, pkt));
                TgResult::Continue
            }
            CTarget::Nflog => TgResult::Continue,
            CTarget::Nfqueue(q) => nfqueue::tg(q, pkt),
            CTarget::Nat(n) => nat::tg(n, pkt),
            CTarget::Mark(x) => mark::tg(x, pkt),
            CTarget::Connmark(c) => connmark::tg(c, pkt),
            CTarget::Ct(c, helper) => ct::tg(c, *helper, pkt),
            CTarget::Notrack => ct::notrack(pkt),
            CTarget::Tcpmss(t) => tcpmss::tg(*t, pkt.oif_mtu, pkt),
            // Standard targets are the walk's business.
            CTarget::Continue
            | CTarget::Accept
            | CTarget::Drop
            | CTarget::Return
            | CTarget::Jump(_)
            | CTarget::Goto(_)
            | CTarget::Policy(_)
            | CTarget::ChainReturn => TgResult::Continue,
        }
    }
}

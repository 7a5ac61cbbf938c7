//! Kernel: include/uapi/linux/netfilter/nf_conntrack_common.h (`enum
//! ip_conntrack_info`, `IPS_*` status bits).
//!
//! What the rule evaluator sees of conntrack for one packet: the ctinfo and a
//! `Copy` snapshot of the entry's fields the matches read. The pipeline fills
//! it from the tracker before the tables run and writes the mark back after,
//! so evaluation never borrows the tracker (and never allocates).

use std::net::IpAddr;

use palisade_model::matches::ct_state;

/// `enum ip_conntrack_info` plus the two "no entry" cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CtState {
    /// No conntrack entry: conntrack found the packet invalid (or never ran).
    #[default]
    Invalid,
    /// `NOTRACK` / `CT --notrack` / ICMPv6 neighbour discovery.
    Untracked,
    /// IP_CT_ESTABLISHED
    Established,
    /// IP_CT_RELATED
    Related,
    /// IP_CT_NEW
    New,
    /// IP_CT_ESTABLISHED_REPLY
    EstablishedReply,
    /// IP_CT_RELATED_REPLY
    RelatedReply,
}

impl CtState {
    /// The `-m state` / `--ctstate` bit (`XT_STATE_BIT(ctinfo)`: the reply
    /// flavours fold onto their originals).
    pub fn state_bit(self) -> u16 {
        match self {
            CtState::Invalid => ct_state::INVALID,
            CtState::Untracked => ct_state::UNTRACKED,
            CtState::Established | CtState::EstablishedReply => ct_state::ESTABLISHED,
            CtState::Related | CtState::RelatedReply => ct_state::RELATED,
            CtState::New => ct_state::NEW,
        }
    }

    /// True for the `*_REPLY` ctinfos (`CTINFO2DIR == IP_CT_DIR_REPLY`).
    pub fn is_reply(self) -> bool {
        matches!(self, CtState::EstablishedReply | CtState::RelatedReply)
    }

    /// True when a conntrack entry is attached (not invalid, not untracked).
    pub fn has_entry(self) -> bool {
        !matches!(self, CtState::Invalid | CtState::Untracked)
    }

    /// Name as `--trace` prints it.
    pub fn name(self) -> &'static str {
        match self {
            CtState::Invalid => "INVALID",
            CtState::Untracked => "UNTRACKED",
            CtState::Established => "ESTABLISHED",
            CtState::Related => "RELATED",
            CtState::New => "NEW",
            CtState::EstablishedReply => "ESTABLISHED_REPLY",
            CtState::RelatedReply => "RELATED_REPLY",
        }
    }
}

/// One direction's tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TupleView {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (echo id for ICMP, 0 otherwise).
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
}

/// The fields of a conntrack entry the matches read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnView {
    /// Original direction.
    pub orig: TupleView,
    /// Reply direction.
    pub repl: TupleView,
    /// Layer-4 protocol.
    pub proto: u8,
    /// `IPS_*` bits (model `ct_status` layout: EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED).
    pub status: u32,
    /// Source NAT applied.
    pub snat: bool,
    /// Destination NAT applied.
    pub dnat: bool,
    /// Seconds until expiry (`nf_ct_expires / HZ`).
    pub expire_secs: u32,
    /// ctmark.
    pub mark: u32,
    /// In the table already (`IPS_CONFIRMED`).
    pub confirmed: bool,
    /// The SNAT-side nat chains ran for this connection (`IPS_SRC_NAT_DONE`).
    pub src_nat_done: bool,
    /// The DNAT-side nat chains ran (`IPS_DST_NAT_DONE`).
    pub dst_nat_done: bool,
}

/// Conntrack as seen by one packet's traversal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtView {
    /// ctinfo.
    pub state: CtState,
    /// The entry, when one is attached.
    pub conn: Option<ConnView>,
    /// Set when a target changed `conn.mark` (written back by the pipeline).
    pub mark_dirty: bool,
}

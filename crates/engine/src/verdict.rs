//! Kernel: include/uapi/linux/netfilter.h (`NF_DROP`, `NF_ACCEPT`, `NF_STOLEN`,
//! `NF_QUEUE`) plus the reasons the kernel's drop-monitor would report
//! (`enum skb_drop_reason`), so every dropped packet says why.

/// Why a packet was dropped. Small and `Copy`: recorded on the hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// A rule's `-j DROP` (or REJECT, which drops the original).
    Rule {
        /// Hook of the table traversal that dropped.
        hook: palisade_model::Hook,
        /// Table.
        table: palisade_model::TableId,
    },
    /// A built-in chain's DROP policy.
    Policy {
        /// Hook.
        hook: palisade_model::Hook,
        /// Table.
        table: palisade_model::TableId,
    },
    /// A match asked to drop the packet (tcp/udp/icmp header truncated, recent out
    /// of memory): `par->hotdrop`.
    Hotdrop {
        /// Hook.
        hook: palisade_model::Hook,
        /// Table.
        table: palisade_model::TableId,
    },
    /// The IP header could not be parsed (the IP layer drops before netfilter).
    Malformed,
    /// Conntrack refused the packet (table full, no early-drop possible).
    ConntrackDrop,
    /// Destination is not ours and forwarding is disabled for the family.
    NotForwarding,
    /// No route towards the destination.
    NoRoute,
    /// Reverse-path filter (`rp_filter` sysctl) rejected the source.
    RpFilter,
    /// TTL/hop limit expired while forwarding.
    TtlExpired,
    /// The interface is unknown or down.
    NoDevice,
    /// Not for us and not forwardable: received a packet for another host's
    /// link-layer address, or a martian source.
    Martian,
    /// A fragment reassembly refused: duplicate, overlapping, beyond the
    /// datagram's end, over 65535 bytes, or reassembly memory full.
    Defrag,
    /// Larger than the outgoing interface's MTU and not to be fragmented
    /// (IPv4 DF, any IPv6): `ip_forward`/`ip6_forward` drop it before the
    /// FORWARD hook and answer with frag-needed / packet-too-big.
    TooBig,
}

/// The fate of a packet. `Copy`, so recording it allocates nothing; the egress
/// interface and the packet as it leaves live in [`crate::Outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Verdict {
    /// Not decided yet (only inside the engine).
    #[default]
    Pending,
    /// Accepted: delivered locally, forwarded, or sent (see [`crate::Outcome`]).
    Accept,
    /// Dropped, with the reason.
    Drop(DropReason),
    /// A fragment held until its datagram is complete (`NF_STOLEN` from
    /// nf_defrag): the whole datagram gets its own outcome when the last
    /// fragment arrives.
    Stolen,
    /// Handed to userspace by NFQUEUE: the engine stops here, as the kernel does
    /// until the queue's reader issues a verdict; the caller owns the packet.
    Queue {
        /// Queue number chosen.
        num: u16,
        /// `--queue-bypass`.
        bypass: bool,
    },
}

impl Verdict {
    /// True for a drop.
    pub fn is_drop(&self) -> bool {
        matches!(self, Verdict::Drop(_))
    }
    /// True for an accept.
    pub fn is_accept(&self) -> bool {
        matches!(self, Verdict::Accept)
    }
}

//! Targets (`-j NAME …`), one variant per kernel target, holding what its
//! `xt_*_info` / `nf_nat_range` holds.

use std::net::IpAddr;

use crate::AddrMask;

/// `--reject-with` values of `REJECT` (ipt_REJECT.h / ip6t_REJECT.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectWith {
    /// v4 `icmp-net-unreachable`
    IcmpNetUnreachable,
    /// v4 `icmp-host-unreachable`
    IcmpHostUnreachable,
    /// v4 `icmp-port-unreachable` (default)
    IcmpPortUnreachable,
    /// v4 `icmp-proto-unreachable`
    IcmpProtoUnreachable,
    /// v4 `icmp-net-prohibited`
    IcmpNetProhibited,
    /// v4 `icmp-host-prohibited`
    IcmpHostProhibited,
    /// v4 `icmp-admin-prohibited`
    IcmpAdminProhibited,
    /// v6 `icmp6-no-route`
    Icmp6NoRoute,
    /// v6 `icmp6-adm-prohibited`
    Icmp6AdmProhibited,
    /// v6 `icmp6-addr-unreachable`
    Icmp6AddrUnreachable,
    /// v6 `icmp6-port-unreachable` (default)
    Icmp6PortUnreachable,
    /// v6 `icmp6-policy-fail`
    Icmp6PolicyFail,
    /// v6 `icmp6-reject-route`
    Icmp6RejectRoute,
    /// both: `tcp-reset`
    TcpReset,
}

/// LOG flag bits (ipt_LOG.h / nf_log.h `NF_LOG_*`).
pub mod log_flags {
    /// `--log-tcp-sequence`
    pub const TCPSEQ: u8 = 0x01;
    /// `--log-tcp-options`
    pub const TCPOPT: u8 = 0x02;
    /// `--log-ip-options`
    pub const IPOPT: u8 = 0x04;
    /// `--log-uid`
    pub const UID: u8 = 0x08;
    /// `--log-macdecode`
    pub const MACDECODE: u8 = 0x20;
}

/// `-j LOG`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogTarget {
    /// syslog level 0..=7 (default 4, warning).
    pub level: u8,
    /// `--log-prefix` (at most 29 characters).
    pub prefix: String,
    /// [`log_flags`] bits.
    pub flags: u8,
}

/// `-j NFLOG`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NflogTarget {
    /// `--nflog-group`
    pub group: u16,
    /// `--nflog-prefix`
    pub prefix: String,
    /// `--nflog-size` (copy length); `None` means whole packet.
    pub size: Option<u32>,
    /// `--nflog-threshold` (default 1)
    pub threshold: u16,
}

/// One NAT range (`nf_nat_range2`): addresses and ports are optional.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NatRange {
    /// Address range, inclusive; `None` keeps the address (port-only DNAT/REDIRECT).
    pub addr: Option<(IpAddr, IpAddr)>,
    /// Port range, inclusive; `None` keeps the kernel's port choice.
    pub ports: Option<(u16, u16)>,
}

/// Flags of SNAT/DNAT/MASQUERADE/REDIRECT (`NF_NAT_RANGE_*`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NatFlags {
    /// `--random`
    pub random: bool,
    /// `--random-fully`
    pub random_fully: bool,
    /// `--persistent`
    pub persistent: bool,
}

/// MARK/CONNMARK-style assignment: `new = (old & !mask) ^ value` (`--set-xmark`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct XMark {
    /// XOR value.
    pub value: u32,
    /// Bits cleared first.
    pub mask: u32,
}

/// `-j CONNMARK` modes (xt_connmark.h `xt_connmark_tginfo2`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConnmarkTarget {
    /// `--set-xmark value/mask` on the conntrack mark.
    Set(XMark),
    /// `--save-mark --nfmask M --ctmask C`: ctmark = (ctmark & ~C) ^ (nfmark & M).
    Save {
        /// nfmask
        nfmask: u32,
        /// ctmask
        ctmask: u32,
    },
    /// `--restore-mark --nfmask M --ctmask C`: nfmark = (nfmark & ~M) ^ (ctmark & C).
    Restore {
        /// nfmask
        nfmask: u32,
        /// ctmask
        ctmask: u32,
    },
}

/// `-j CT` (xt_CT.h `xt_ct_target_info_v1`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CtTarget {
    /// `--notrack`
    pub notrack: bool,
    /// `--helper NAME`
    pub helper: Option<String>,
    /// `--zone N`
    pub zone: u16,
    /// `--zone-orig` / `--zone-reply`: the zone applies to one direction only
    /// (`None`: both, plain `--zone`).
    pub zone_dir: Option<crate::matches::CtDir>,
    /// `--ctevents …` bits
    pub ct_events: u32,
    /// `--expevents …` bits
    pub exp_events: u32,
    /// `--timeout NAME`
    pub timeout: Option<String>,
}

/// `-j TCPMSS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpmssTarget {
    /// `--set-mss N`
    Set(u16),
    /// `--clamp-mss-to-pmtu`
    ClampToPmtu,
}

/// `-j NFQUEUE` (xt_NFQUEUE.h `xt_NFQ_info_v3`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NfqueueTarget {
    /// First queue number.
    pub num: u16,
    /// Number of queues (`--queue-balance a:b` gives b − a + 1).
    pub total: u16,
    /// `--queue-bypass`
    pub bypass: bool,
    /// `--queue-cpu-fanout`
    pub cpu_fanout: bool,
}

/// A rule's target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// No `-j`: the rule only counts.
    None,
    /// ACCEPT
    Accept,
    /// DROP
    Drop,
    /// RETURN
    Return,
    /// `-j CHAIN`
    Jump(String),
    /// `-g CHAIN`
    Goto(String),
    /// REJECT
    Reject(RejectWith),
    /// LOG
    Log(LogTarget),
    /// NFLOG
    Nflog(NflogTarget),
    /// NFQUEUE
    Nfqueue(NfqueueTarget),
    /// MASQUERADE (`--to-ports`)
    Masquerade {
        /// Port range.
        ports: Option<(u16, u16)>,
        /// Flags.
        flags: NatFlags,
    },
    /// SNAT `--to-source`
    Snat {
        /// Range.
        range: NatRange,
        /// Flags.
        flags: NatFlags,
    },
    /// DNAT `--to-destination`
    Dnat {
        /// Range.
        range: NatRange,
        /// Flags.
        flags: NatFlags,
    },
    /// REDIRECT `--to-ports`
    Redirect {
        /// Port range.
        ports: Option<(u16, u16)>,
        /// Flags.
        flags: NatFlags,
    },
    /// NETMAP `--to`
    Netmap(AddrMask),
    /// MARK (`--set-xmark`, and the `--set-mark/--and-mark/--or-mark/--xor-mark` forms)
    Mark(XMark),
    /// CONNMARK
    Connmark(ConnmarkTarget),
    /// CT
    Ct(CtTarget),
    /// NOTRACK (alias of `CT --notrack`)
    Notrack,
    /// TCPMSS
    Tcpmss(TcpmssTarget),
}

impl Target {
    /// Whether this target ends rule traversal for the packet in this table
    /// (a verdict or a jump), as opposed to LOG/MARK-style targets that continue.
    pub fn is_terminal(&self) -> bool {
        !matches!(
            self,
            Target::None
                | Target::Log(_)
                | Target::Nflog(_)
                | Target::Mark(_)
                | Target::Connmark(_)
                | Target::Ct(_)
                | Target::Notrack
                | Target::Tcpmss(_)
                | Target::Jump(_)
        )
    }
}

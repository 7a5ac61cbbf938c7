//! Match extensions (`-m NAME …`), one variant per kernel `xt_*` match, each holding
//! what the kernel's `xt_*_info` holds. Field names follow the kernel headers.

use std::net::IpAddr;

use crate::AddrMask;

/// An inclusive port range; `0..=65535` means "any".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// Lowest port.
    pub min: u16,
    /// Highest port.
    pub max: u16,
}

impl PortRange {
    /// Every port.
    pub const ANY: PortRange = PortRange { min: 0, max: 65535 };

    /// A single port.
    pub fn single(p: u16) -> PortRange {
        PortRange { min: p, max: p }
    }

    /// Whether `p` is inside.
    pub fn contains(&self, p: u16) -> bool {
        self.min <= p && p <= self.max
    }

    /// Whether this is the full range.
    pub fn is_any(&self) -> bool {
        *self == PortRange::ANY
    }
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange::ANY
    }
}

/// TCP flag bits as in the TCP header byte 13.
pub mod tcp_flags {
    /// FIN
    pub const FIN: u8 = 0x01;
    /// SYN
    pub const SYN: u8 = 0x02;
    /// RST
    pub const RST: u8 = 0x04;
    /// PSH
    pub const PSH: u8 = 0x08;
    /// ACK
    pub const ACK: u8 = 0x10;
    /// URG
    pub const URG: u8 = 0x20;
    /// ECE
    pub const ECE: u8 = 0x40;
    /// CWR
    pub const CWR: u8 = 0x80;
}

/// `-m tcp` (xt_tcp.h `xt_tcp`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpMatch {
    /// `--sport`
    pub sport: PortRange,
    /// `! --sport`
    pub inv_sport: bool,
    /// `--dport`
    pub dport: PortRange,
    /// `! --dport`
    pub inv_dport: bool,
    /// `--tcp-flags MASK COMP` (`--syn` is `SYN,RST,ACK,FIN SYN`); mask 0 means unset.
    pub flg_mask: u8,
    /// Flags that must be set among `flg_mask`.
    pub flg_cmp: u8,
    /// `! --tcp-flags` / `! --syn`
    pub inv_flags: bool,
    /// `--tcp-option N`; 0 means unset.
    pub option: u8,
    /// `! --tcp-option`
    pub inv_option: bool,
}

/// `-m udp` (xt_tcpudp.h `xt_udp`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UdpMatch {
    /// `--sport`
    pub sport: PortRange,
    /// `! --sport`
    pub inv_sport: bool,
    /// `--dport`
    pub dport: PortRange,
    /// `! --dport`
    pub inv_dport: bool,
}

/// `-m icmp` / `-m icmp6` (`ipt_icmp` / `ip6t_icmp`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IcmpMatch {
    /// Type; 0xFF with codes 0..=255 means "any".
    pub icmp_type: u8,
    /// Inclusive code range.
    pub code_min: u8,
    /// Inclusive code range.
    pub code_max: u8,
    /// `!`
    pub invert: bool,
}

/// Conntrack state bits shared by `-m state` and `-m conntrack --ctstate`
/// (xt_conntrack.h `XT_CONNTRACK_STATE_*`, xt_state.h).
pub mod ct_state {
    /// INVALID (no conntrack).
    pub const INVALID: u16 = 1 << 0;
    /// ESTABLISHED (ctinfo 0 or 3).
    pub const ESTABLISHED: u16 = 1 << 1;
    /// RELATED (ctinfo 1 or 4).
    pub const RELATED: u16 = 1 << 2;
    /// NEW (ctinfo 2).
    pub const NEW: u16 = 1 << 3;
    /// UNTRACKED.
    pub const UNTRACKED: u16 = 1 << 4;
    /// SNAT (conntrack only): the connection is source-NATed.
    pub const SNAT: u16 = 1 << 5;
    /// DNAT (conntrack only): the connection is destination-NATed.
    pub const DNAT: u16 = 1 << 6;
}

/// `-m state --state …`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StateMatch {
    /// [`ct_state`] bits.
    pub mask: u16,
    /// `! --state`
    pub invert: bool,
}

/// Connection direction for `--ctdir`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CtDir {
    /// ORIGINAL
    Original,
    /// REPLY
    Reply,
}

/// Conntrack status bits for `--ctstatus` (nf_conntrack_common.h `IPS_*`).
pub mod ct_status {
    /// EXPECTED
    pub const EXPECTED: u32 = 1 << 0;
    /// SEEN_REPLY
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// ASSURED
    pub const ASSURED: u32 = 1 << 2;
    /// CONFIRMED
    pub const CONFIRMED: u32 = 1 << 3;
}

/// An inverted-or-not value used by the many optional parts of `-m conntrack`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Inv<T> {
    /// The value.
    pub value: T,
    /// Whether preceded by `!`.
    pub invert: bool,
}

/// `-m conntrack` (xt_conntrack.h `xt_conntrack_mtinfo3`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConntrackMatch {
    /// `--ctstate` ([`ct_state`] bits).
    pub state: Option<Inv<u16>>,
    /// `--ctproto`
    pub proto: Option<Inv<u8>>,
    /// `--ctorigsrc`
    pub orig_src: Option<Inv<AddrMask>>,
    /// `--ctorigdst`
    pub orig_dst: Option<Inv<AddrMask>>,
    /// `--ctreplsrc`
    pub repl_src: Option<Inv<AddrMask>>,
    /// `--ctrepldst`
    pub repl_dst: Option<Inv<AddrMask>>,
    /// `--ctorigsrcport`
    pub orig_src_port: Option<Inv<PortRange>>,
    /// `--ctorigdstport`
    pub orig_dst_port: Option<Inv<PortRange>>,
    /// `--ctreplsrcport`
    pub repl_src_port: Option<Inv<PortRange>>,
    /// `--ctrepldstport`
    pub repl_dst_port: Option<Inv<PortRange>>,
    /// `--ctstatus` ([`ct_status`] bits).
    pub status: Option<Inv<u32>>,
    /// `--ctexpire min[:max]` in seconds.
    pub expire: Option<Inv<(u32, u32)>>,
    /// `--ctdir`
    pub dir: Option<CtDir>,
}

/// Which ports `-m multiport` looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MultiportKind {
    /// `--sports`
    Source,
    /// `--dports`
    Destination,
    /// `--ports` (either)
    Either,
}

/// `-m multiport` (xt_multiport.h `xt_multiport_v1`): up to 15 ports, a range counting two.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MultiportMatch {
    /// Which side.
    pub kind: MultiportKind,
    /// Ports and ranges in the order given.
    pub ports: Vec<PortRange>,
    /// `!`
    pub invert: bool,
}

/// `-m iprange` (xt_iprange.h `xt_iprange_mtinfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IprangeMatch {
    /// `--src-range FROM-TO`
    pub src: Option<Inv<(IpAddr, IpAddr)>>,
    /// `--dst-range FROM-TO`
    pub dst: Option<Inv<(IpAddr, IpAddr)>>,
}

/// The command of a `-m recent` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecentCmd {
    /// `--set`: record the address; always matches.
    Set,
    /// `--rcheck`: match if the address is in the list.
    Check,
    /// `--update`: like `--rcheck`, and refresh the entry when it matched.
    Update,
    /// `--remove`: match and remove if present.
    Remove,
}

/// `-m recent` (xt_recent.h `xt_recent_mtinfo_v1`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecentMatch {
    /// Command.
    pub cmd: RecentCmd,
    /// `--name` (default `DEFAULT`).
    pub name: String,
    /// `--seconds`; 0 means unset.
    pub seconds: u32,
    /// `--reap`
    pub reap: bool,
    /// `--hitcount`; 0 means unset.
    pub hitcount: u32,
    /// `--rttl`
    pub rttl: bool,
    /// `--rdest` (false: `--rsource`, the default).
    pub rdest: bool,
    /// `--mask` (default all ones).
    pub mask: IpAddr,
    /// `!`
    pub invert: bool,
}

/// `XT_LIMIT_SCALE`: `avg` in [`LimitMatch`] is in units of 1/10000 s per packet.
pub const LIMIT_SCALE: u32 = 10000;

/// `-m limit` (xt_limit.h `xt_rateinfo`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LimitMatch {
    /// Average interval between packets, in 1/[`LIMIT_SCALE`] s (default 3/hour).
    pub avg: u32,
    /// `--limit-burst` (default 5).
    pub burst: u32,
}

/// Hash key bits of `--hashlimit-mode` (xt_hashlimit.h `XT_HASHLIMIT_HASH_*`).
pub mod hashlimit_mode {
    /// dstip
    pub const DIP: u32 = 1 << 0;
    /// dstport
    pub const DPT: u32 = 1 << 1;
    /// srcip
    pub const SIP: u32 = 1 << 2;
    /// srcport
    pub const SPT: u32 = 1 << 3;
    /// `--hashlimit-above` (inverted sense)
    pub const INVERT: u32 = 1 << 4;
    /// `--hashlimit-upto/above` given in bytes
    pub const BYTES: u32 = 1 << 5;
    /// `--hashlimit-rate-match`
    pub const RATE_MATCH: u32 = 1 << 6;
}

/// `-m hashlimit` (xt_hashlimit.h `xt_hashlimit_mtinfo3`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HashlimitMatch {
    /// `--hashlimit-name`
    pub name: String,
    /// Mode and flag bits ([`hashlimit_mode`]).
    pub mode: u32,
    /// Average: with BYTES, bytes per second scaled; else interval like [`LimitMatch::avg`]
    /// but in the v3 scale (1/1_000_000 s).
    pub avg: u64,
    /// `--hashlimit-burst`
    pub burst: u64,
    /// `--hashlimit-htable-size` (0: kernel chooses)
    pub size: u32,
    /// `--hashlimit-htable-max`
    pub max: u32,
    /// `--hashlimit-htable-gcinterval` in ms (default 1000)
    pub gc_interval: u32,
    /// `--hashlimit-htable-expire` in ms (default 10000)
    pub expire: u32,
    /// `--hashlimit-srcmask` prefix length (default 32/128)
    pub srcmask: u8,
    /// `--hashlimit-dstmask` prefix length (default 32/128)
    pub dstmask: u8,
    /// `--hashlimit-rate-interval` in seconds (default 1)
    pub interval: u32,
}

/// `-m connlimit` (xt_connlimit.h `xt_connlimit_info`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConnlimitMatch {
    /// Limit.
    pub limit: u32,
    /// `--connlimit-upto` (true) vs `--connlimit-above` (false).
    pub upto: bool,
    /// `--connlimit-mask` prefix length.
    pub mask: u8,
    /// `--connlimit-daddr` (false: `--connlimit-saddr`, default).
    pub daddr: bool,
}

/// `-m mark` / `-m connmark`: `(value & mask) == value`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MarkMatch {
    /// Value.
    pub mark: u32,
    /// Mask (default 0xffffffff).
    pub mask: u32,
    /// `!`
    pub invert: bool,
}

/// `-m addrtype` type bits (rtnetlink.h `RTN_*` as `1 << type`).
pub mod addr_type {
    /// UNSPEC
    pub const UNSPEC: u16 = 1 << 0;
    /// UNICAST
    pub const UNICAST: u16 = 1 << 1;
    /// LOCAL
    pub const LOCAL: u16 = 1 << 2;
    /// BROADCAST
    pub const BROADCAST: u16 = 1 << 3;
    /// ANYCAST
    pub const ANYCAST: u16 = 1 << 4;
    /// MULTICAST
    pub const MULTICAST: u16 = 1 << 5;
    /// BLACKHOLE
    pub const BLACKHOLE: u16 = 1 << 6;
    /// UNREACHABLE
    pub const UNREACHABLE: u16 = 1 << 7;
    /// PROHIBIT
    pub const PROHIBIT: u16 = 1 << 8;
    /// THROW
    pub const THROW: u16 = 1 << 9;
    /// NAT
    pub const NAT: u16 = 1 << 10;
    /// XRESOLVE
    pub const XRESOLVE: u16 = 1 << 11;
}

/// `-m addrtype` (xt_addrtype.h `xt_addrtype_info_v1`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AddrtypeMatch {
    /// `--src-type` bits; 0 unset.
    pub src: u16,
    /// `--dst-type` bits; 0 unset.
    pub dst: u16,
    /// `! --src-type`
    pub inv_src: bool,
    /// `! --dst-type`
    pub inv_dst: bool,
    /// `--limit-iface-in`
    pub limit_iface_in: bool,
    /// `--limit-iface-out`
    pub limit_iface_out: bool,
}

/// Link-layer packet type for `-m pkttype` (if_packet.h `PACKET_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PktType {
    /// unicast (PACKET_HOST)
    Unicast,
    /// broadcast
    Broadcast,
    /// multicast
    Multicast,
}

/// `-m pkttype`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PkttypeMatch {
    /// Type.
    pub pkt_type: PktType,
    /// `!`
    pub invert: bool,
}

/// `-m length` (xt_length.h): IP total length (v4) or payload length + 40 (v6).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LengthMatch {
    /// Min.
    pub min: u16,
    /// Max.
    pub max: u16,
    /// `!`
    pub invert: bool,
}

/// Comparison of `-m ttl` / `-m hl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TtlOp {
    /// `--ttl-eq`
    Eq,
    /// `! --ttl-eq`
    Ne,
    /// `--ttl-lt`
    Lt,
    /// `--ttl-gt`
    Gt,
}

/// `-m ttl` (v4) / `-m hl` (v6).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TtlMatch {
    /// Operation.
    pub op: TtlOp,
    /// Value.
    pub value: u8,
}

/// `-m tos` (xt_dscp.h `xt_tos_match_info`): `(tos & mask) == value`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TosMatch {
    /// Value.
    pub value: u8,
    /// Mask.
    pub mask: u8,
    /// `!`
    pub invert: bool,
}

/// `-m dscp`: DSCP (tos >> 2) equals `dscp`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DscpMatch {
    /// 6-bit DSCP.
    pub dscp: u8,
    /// `!`
    pub invert: bool,
}

/// `-m owner` (xt_owner.h `xt_owner_match_info`), OUTPUT/POSTROUTING only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct OwnerMatch {
    /// `--uid-owner min[-max]`
    pub uid: Option<Inv<(u32, u32)>>,
    /// `--gid-owner min[-max]`
    pub gid: Option<Inv<(u32, u32)>>,
    /// `--socket-exists`
    pub socket_exists: Option<bool>,
    /// `--suppl-groups`
    pub suppl_groups: bool,
}

/// `-m rpfilter` (xt_rpfilter.h).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RpfilterMatch {
    /// `--loose`
    pub loose: bool,
    /// `--validmark`
    pub validmark: bool,
    /// `--accept-local`
    pub accept_local: bool,
    /// `--invert`
    pub invert: bool,
}

/// `-m mac --mac-source`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MacMatch {
    /// Address.
    pub addr: [u8; 6],
    /// `!`
    pub invert: bool,
}

/// A match extension.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Match {
    /// `-m tcp`
    Tcp(TcpMatch),
    /// `-m udp`
    Udp(UdpMatch),
    /// `-m icmp` (IPv4)
    Icmp(IcmpMatch),
    /// `-m icmp6` (IPv6)
    Icmp6(IcmpMatch),
    /// `-m state`
    State(StateMatch),
    /// `-m conntrack`
    Conntrack(ConntrackMatch),
    /// `-m multiport`
    Multiport(MultiportMatch),
    /// `-m iprange`
    Iprange(IprangeMatch),
    /// `-m recent`
    Recent(RecentMatch),
    /// `-m limit`
    Limit(LimitMatch),
    /// `-m hashlimit`
    Hashlimit(HashlimitMatch),
    /// `-m connlimit`
    Connlimit(ConnlimitMatch),
    /// `-m mark`
    Mark(MarkMatch),
    /// `-m connmark`
    Connmark(MarkMatch),
    /// `-m comment --comment`
    Comment(String),
    /// `-m mac`
    Mac(MacMatch),
    /// `-m addrtype`
    Addrtype(AddrtypeMatch),
    /// `-m pkttype`
    Pkttype(PkttypeMatch),
    /// `-m length`
    Length(LengthMatch),
    /// `-m ttl`
    Ttl(TtlMatch),
    /// `-m hl`
    Hl(TtlMatch),
    /// `-m tos`
    Tos(TosMatch),
    /// `-m dscp`
    Dscp(DscpMatch),
    /// `-m owner`
    Owner(OwnerMatch),
    /// `-m rpfilter`
    Rpfilter(RpfilterMatch),
}

impl Match {
    /// The extension name as written after `-m`.
    pub fn name(&self) -> &'static str {
        match self {
            Match::Tcp(_) => "tcp",
            Match::Udp(_) => "udp",
            Match::Icmp(_) => "icmp",
            Match::Icmp6(_) => "icmp6",
            Match::State(_) => "state",
            Match::Conntrack(_) => "conntrack",
            Match::Multiport(_) => "multiport",
            Match::Iprange(_) => "iprange",
            Match::Recent(_) => "recent",
            Match::Limit(_) => "limit",
            Match::Hashlimit(_) => "hashlimit",
            Match::Connlimit(_) => "connlimit",
            Match::Mark(_) => "mark",
            Match::Connmark(_) => "connmark",
            Match::Comment(_) => "comment",
            Match::Mac(_) => "mac",
            Match::Addrtype(_) => "addrtype",
            Match::Pkttype(_) => "pkttype",
            Match::Length(_) => "length",
            Match::Ttl(_) => "ttl",
            Match::Hl(_) => "hl",
            Match::Tos(_) => "tos",
            Match::Dscp(_) => "dscp",
            Match::Owner(_) => "owner",
            Match::Rpfilter(_) => "rpfilter",
        }
    }
}

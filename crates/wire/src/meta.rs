//! The per-packet descriptor: decoded once from an IP datagram, read by all
//! matches, targets and conntrack. Offsets index into the datagram bytes, so the
//! descriptor itself is `Copy` and allocates nothing.

use std::net::IpAddr;

use palisade_model::Family;

/// Why a datagram could not be described. The kernel treats such packets as
/// INVALID for conntrack (or drops them in the IP layer); never a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// Shorter than the IP header, or version/IHL/length fields inconsistent.
    #[error("bad IP header")]
    BadIpHeader,
    /// IPv6 extension header chain cannot be walked.
    #[error("bad IPv6 extension header")]
    BadExtHeader,
}

/// TCP header fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpMeta {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags byte (FIN=0x01 … CWR=0x80).
    pub flags: u8,
    /// Header length in bytes (`doff * 4`).
    pub hdr_len: u8,
    /// Window (unscaled).
    pub window: u16,
    /// Payload bytes after the TCP header.
    pub payload_len: u32,
}

/// UDP header fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpMeta {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// The UDP length field.
    pub len: u16,
}

/// ICMP / ICMPv6 header fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IcmpMeta {
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// Echo identifier (echo/timestamp/info types), else 0.
    pub id: u16,
    /// Echo sequence, else 0.
    pub seq: u16,
    /// For error types: offset in the datagram of the quoted (inner) IP header.
    pub inner_off: Option<u16>,
}

/// Layer-4 part of the descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Meta {
    /// TCP with a complete header.
    Tcp(TcpMeta),
    /// UDP with a complete header.
    Udp(UdpMeta),
    /// ICMP (v4).
    Icmp(IcmpMeta),
    /// ICMPv6.
    Icmp6(IcmpMeta),
    /// Another protocol, or a non-first fragment (no L4 header present).
    Other,
    /// The L4 header of a known protocol is cut short: matches on ports
    /// "hotdrop", conntrack says INVALID.
    Truncated,
}

/// One packet, described.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    /// IPv4 or IPv6.
    pub family: Family,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Layer-4 protocol (after IPv6 extension headers).
    pub proto: u8,
    /// TTL / hop limit.
    pub ttl: u8,
    /// TOS / traffic class.
    pub tos: u8,
    /// Length as the kernel counts it for counters and `-m length`
    /// (IPv4 total length; IPv6 payload length + 40).
    pub len: u16,
    /// IPv4 identification (0 for IPv6 without fragment header).
    pub ip_id: u32,
    /// Fragment offset in bytes (non-zero means a non-first fragment).
    pub frag_off: u16,
    /// More-fragments flag.
    pub more_frags: bool,
    /// IPv4 header carries options (IHL > 5).
    pub ip_options: bool,
    /// Offset of the layer-4 header in the datagram.
    pub l4_off: u16,
    /// Layer-4 fields.
    pub l4: L4Meta,
}

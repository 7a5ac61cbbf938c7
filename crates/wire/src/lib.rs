//! Packet views and the one descriptor per packet that every matcher and the
//! conntrack tracker read ([`PacketMeta`], ≈ pf's `pf_pdesc`).
//!
//! * [`PacketMeta::parse`] (parse.rs) describes an IPv4/IPv6 datagram without
//!   allocating; [`parse::parse_quoted`] reads the datagram an ICMP error quotes.
//! * [`checksum`]: full and incremental (RFC 1624) Internet checksums and
//!   per-protocol verification.
//! * [`emit`]: the replies REJECT sends, built as the kernel builds them.
//! * [`fmt`]: one-line tcpdump-like descriptions for traces.

pub mod checksum;
pub mod emit;
pub mod fmt;
pub mod meta;
pub mod parse;

pub use emit::EmitOpts;
pub use meta::{IcmpMeta, L4Meta, Malformed, PacketMeta, TcpMeta, UdpMeta};

//! Packet views and the one descriptor per packet that every matcher and the
//! conntrack tracker read ([`PacketMeta`], ≈ pf's `pf_pdesc`).

pub mod meta;

pub use meta::{IcmpMeta, L4Meta, Malformed, PacketMeta, TcpMeta, UdpMeta};

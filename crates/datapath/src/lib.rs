//! palisade-datapath: the I/O side of Palisade. For `palisade replay`:
//! [`capture`] reads pcap/pcapng (Linux cooked v1/v2, Ethernet, raw IP),
//! [`host`] reads the firewall host from `ip -j addr show` / `ip -j route
//! show`, [`sysctl`] reads tunables, and [`replay`] decides which captured
//! packets enter the engine and where; [`engine_replay`] runs it all through
//! the engine.

pub mod capture;
pub mod engine_replay;
pub mod host;
pub mod replay;
pub mod sysctl;

pub use capture::{Capture, CaptureError, CaptureOptions, CapturedPacket, PacketType};
pub use host::{AddrSpec, HostError, HostSpec, IfaceSpec, RouteSpec};
pub use replay::{same_packet, Emitted, Match, ReplayEngine, ReplaySummary, Replayer};
pub use sysctl::{parse_assignment, parse_file, SysctlError};
pub mod control;
pub mod ctlist;
pub mod daemon;
pub mod inject;
pub mod nfqueue;
pub mod nft;
pub mod segment;

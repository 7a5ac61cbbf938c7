//! Reading captures for `palisade replay`: pcap (micro- and nanosecond, both
//! byte orders, the "modified" Kuznetzov format) and pcapng, through
//! pcap-parser's slice parsers over the whole file held in memory.
//!
//! A truncated file never hangs and never errors out: iteration stops cleanly
//! after the last whole packet and [`Packets::truncated`] says so. Packets whose
//! caplen is above the file's snaplen are read anyway (tcpdump reads them).
//!
//! Link layers, decoded by hand:
//! - Linux cooked v2 (`LINKTYPE_LINUX_SLL2` = 276, what `tcpdump -i any` writes):
//!   protocol (2, BE), reserved (2), interface index (4, BE), ARPHRD type (2),
//!   packet type (1), address length (1), address (8) — 20 bytes.
//! - Linux cooked v1 (113): packet type (2), ARPHRD (2), address length (2),
//!   address (8), protocol (2) — 16 bytes, no interface index.
//! - Ethernet (1), with 802.1Q/802.1ad tags skipped; direction comes from the
//!   source MAC (one of [`CaptureOptions::local_macs`] means outgoing).
//! - Raw IP (101, 12, 14, 228 = IPv4, 229 = IPv6).
//!
//! The yielded `data` is the IP datagram trimmed to the length its header
//! declares (IPv4 total length, IPv6 40 + payload length), because the kernel
//! trims link-layer padding in `ip_rcv`/`ipv6_rcv` before netfilter sees the
//! packet and counts bytes. A datagram shorter than it claims is left whole
//! for the engine to judge.

use std::path::Path;

use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
};
use pcap_parser::pcapng::{parse_block_be, parse_block_le, Block};

/// Ethertype of IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// Ethertype of IPv6.
pub const ETH_P_IPV6: u16 = 0x86DD;

/// Errors opening a capture. Damage after the file header is not an error:
/// iteration just stops (see [`Packets::truncated`]).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Reading the file failed.
    #[error("cannot read capture: {0}")]
    Io(#[from] std::io::Error),
    /// Neither a pcap nor a pcapng file.
    #[error("not a pcap or pcapng file")]
    NotACapture,
}

/// `sll_pkttype` / `skb->pkt_type` of a captured packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketType {
    /// PACKET_HOST: addressed to this host.
    Host,
    /// PACKET_BROADCAST.
    Broadcast,
    /// PACKET_MULTICAST.
    Multicast,
    /// PACKET_OTHERHOST: to another host (promiscuous capture).
    OtherHost,
    /// PACKET_OUTGOING: sent by this host.
    Outgoing,
    /// Any other value.
    Other(u16),
}

impl PacketType {
    fn from_raw(v: u16) -> Self {
        match v {
            0 => PacketType::Host,
            1 => PacketType::Broadcast,
            2 => PacketType::Multicast,
            3 => PacketType::OtherHost,
            4 => PacketType::Outgoing,
            o => PacketType::Other(o),
        }
    }
}

/// One packet of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapturedPacket<'a> {
    /// Frame number, 1-based, as tcpdump/wireshark count them.
    pub frame: usize,
    /// Timestamp in nanoseconds since the epoch.
    pub ts_ns: u64,
    /// Interface index (Linux cooked v2 only).
    pub ifindex: Option<u32>,
    /// Sent by the capturing host.
    pub outgoing: bool,
    /// Packet type.
    pub pkt_type: PacketType,
    /// Source link-layer address when it is a 6-byte MAC.
    pub src_mac: Option<[u8; 6]>,
    /// Ethertype / SLL protocol (for raw IP, derived from the version nibble).
    pub ethertype: u16,
    /// The IP datagram (or, for non-IP frames, the link payload).
    pub data: &'a [u8],
    /// Bytes of the frame that were not captured (snaplen cut), 0 normally.
    pub missing: u32,
}

impl CapturedPacket<'_> {
    /// IPv4 or IPv6; anything else is ignored by replay.
    pub fn is_ip(&self) -> bool {
        self.ethertype == ETH_P_IP || self.ethertype == ETH_P_IPV6
    }
}

/// Options for link layers that do not carry direction or interface.
#[derive(Clone, Debug, Default)]
pub struct CaptureOptions {
    /// MACs of the capturing host: an Ethernet frame from one of them is outgoing.
    pub local_macs: Vec<[u8; 6]>,
    /// Interface index to report for link layers without one (`--interface`).
    pub ifindex: Option<u32>,
}

/// A capture file held in memory.
#[derive(Clone, Debug)]
pub struct Capture {
    bytes: Vec<u8>,
    ng: bool,
}

impl Capture {
    /// Reads a capture file.
    pub fn open(path: &Path) -> Result<Capture, CaptureError> {
        Capture::from_bytes(std::fs::read(path)?)
    }

    /// Wraps capture bytes, checking the magic number.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Capture, CaptureError> {
        let magic = bytes.get(..4).ok_or(CaptureError::NotACapture)?;
        let ng = magic == [0x0a, 0x0d, 0x0d, 0x0a];
        if !ng && parse_pcap_header(&bytes).is_err() {
            return Err(CaptureError::NotACapture);
        }
        Ok(Capture { bytes, ng })
    }

    /// Whether the file is pcapng.
    pub fn is_pcapng(&self) -> bool {
        self.ng
    }

    /// Iterates over the packets.
    pub fn packets(&self, opts: &CaptureOptions) -> Packets<'_> {
        let mut p = Packets {
            rest: &self.bytes,
            opts: opts.clone(),
            frame: 0,
            truncated: false,
            done: false,
            kind: Kind::Ng {
                big_endian: false,
                ifaces: Vec::new(),
            },
        };
        if !self.ng {
            match parse_pcap_header(&self.bytes) {
                Ok((rest, h)) => {
                    p.rest = rest;
                    p.kind = Kind::Legacy {
                        linktype: h.network.0,
                        nanos: h.is_nanosecond_precision(),
                        big_endian: h.is_bigendian(),
                        modified: h.is_modified_format(),
                    };
                }
                Err(_) => p.done = true,
            }
        }
        p
    }
}

#[derive(Clone, Debug)]
enum Kind {
    Legacy {
        linktype: i32,
        nanos: bool,
        big_endian: bool,
        modified: bool,
    },
    Ng {
        big_endian: bool,
        ifaces: Vec<NgIface>,
    },
}

#[derive(Clone, Copy, Debug)]
struct NgIface {
    linktype: i32,
    resolution: u64,
    offset: i64,
}

/// Iterator over the packets of a [`Capture`].
#[derive(Debug)]
pub struct Packets<'a> {
    rest: &'a [u8],
    opts: CaptureOptions,
    frame: usize,
    truncated: bool,
    done: bool,
    kind: Kind,
}

impl Packets<'_> {
    /// True once iteration stopped on a damaged or cut-off record instead of
    /// the clean end of the file.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

impl<'a> Iterator for Packets<'a> {
    type Item = CapturedPacket<'a>;

    fn next(&mut self) -> Option<CapturedPacket<'a>> {
        loop {
            if self.done {
                return None;
            }
            if self.rest.is_empty() {
                self.done = true;
                return None;
            }
            let (linktype, ts_ns, data, origlen) = match &mut self.kind {
                Kind::Legacy {
                    linktype,
                    nanos,
                    big_endian,
                    modified,
                } => {
                    let r = if *modified {
                        parse_pcap_frame_modified(self.rest)
                    } else if *big_endian {
                        parse_pcap_frame_be(self.rest)
                    } else {
                        parse_pcap_frame(self.rest)
                    };
                    let Ok((rest, b)) = r else {
                        self.truncated = true;
                        self.done = true;
                        return None;
                    };
                    self.rest = rest;
                    let sub = if *nanos {
                        u64::from(b.ts_usec)
                    } else {
                        u64::from(b.ts_usec) * 1000
                    };
                    let ts = u64::from(b.ts_sec) * 1_000_000_000 + sub;
                    (*linktype, ts, b.data, b.origlen)
                }
                Kind::Ng { big_endian, ifaces } => {
                    // A section header may switch byte order: peek at its BOM.
                    if self.rest.len() >= 12 && self.rest[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
                        *big_endian = self.rest[8..12] == [0x1a, 0x2b, 0x3c, 0x4d];
                    }
                    let r = if *big_endian {
                        parse_block_be(self.rest)
                    } else {
                        parse_block_le(self.rest)
                    };
                    let Ok((rest, block)) = r else {
                        self.truncated = true;
                        self.done = true;
                        return None;
                    };
                    self.rest = rest;
                    match block {
                        Block::SectionHeader(_) => {
                            ifaces.clear();
                            continue;
                        }
                        Block::InterfaceDescription(idb) => {
                            ifaces.push(NgIface {
                                linktype: idb.linktype.0,
                                resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                                offset: idb.ts_offset(),
                            });
                            continue;
                        }
                        Block::EnhancedPacket(epb) => {
                            let Some(ifc) = ifaces.get(epb.if_id as usize).copied() else {
                                continue;
                            };
                            let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                            let ns = units_to_ns(units, ifc.resolution)
                                .saturating_add_signed(ifc.offset.saturating_mul(1_000_000_000));
                            let len = (epb.caplen as usize).min(epb.data.len());
                            (ifc.linktype, ns, &epb.data[..len], epb.origlen)
                        }
                        Block::SimplePacket(spb) => {
                            let Some(ifc) = ifaces.first().copied() else {
                                continue;
                            };
                            (ifc.linktype, 0, spb.data, spb.origlen)
                        }
                        _ => continue,
                    }
                }
            };
            self.frame += 1;
            let missing = origlen.saturating_sub(data.len() as u32);
            if let Some(p) = decode_link(linktype, data, &self.opts, self.frame, ts_ns, missing) {
                return Some(p);
            }
        }
    }
}

fn units_to_ns(units: u64, resolution: u64) -> u64 {
    let ns = u128::from(units) * 1_000_000_000 / u128::from(resolution);
    u64::try_from(ns).unwrap_or(u64::MAX)
}

fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

fn mac_of(addr: &[u8], len: usize) -> Option<[u8; 6]> {
    if len == 6 && addr.len() >= 6 {
        let mut m = [0u8; 6];
        m.copy_from_slice(&addr[..6]);
        Some(m)
    } else {
        None
    }
}

/// Decodes one frame; `None` only for frames too short for their link header
/// (they are skipped; non-IP frames are returned with their ethertype).
fn decode_link<'a>(
    linktype: i32,
    d: &'a [u8],
    opts: &CaptureOptions,
    frame: usize,
    ts_ns: u64,
    missing: u32,
) -> Option<CapturedPacket<'a>> {
    let mut p = CapturedPacket {
        frame,
        ts_ns,
        ifindex: opts.ifindex,
        outgoing: false,
        pkt_type: PacketType::Host,
        src_mac: None,
        ethertype: 0,
        data: &[],
        missing,
    };
    match linktype {
        276 => {
            if d.len() < 20 {
                return None;
            }
            p.ethertype = be16(d, 0);
            p.ifindex = Some(u32::from_be_bytes([d[4], d[5], d[6], d[7]]));
            p.pkt_type = PacketType::from_raw(u16::from(d[10]));
            p.src_mac = mac_of(&d[12..20], usize::from(d[11]));
            p.data = &d[20..];
        }
        113 => {
            if d.len() < 16 {
                return None;
            }
            p.pkt_type = PacketType::from_raw(be16(d, 0));
            p.src_mac = mac_of(&d[6..14], usize::from(be16(d, 4)));
            p.ethertype = be16(d, 14);
            p.data = &d[16..];
        }
        1 => {
            if d.len() < 14 {
                return None;
            }
            p.src_mac = mac_of(&d[6..12], 6);
            let mut off = 12;
            let mut et = be16(d, off);
            while (et == 0x8100 || et == 0x88a8) && d.len() >= off + 6 {
                off += 4;
                et = be16(d, off);
            }
            p.ethertype = et;
            p.data = &d[off + 2..];
            let dst0 = d[0];
            p.pkt_type = if p.src_mac.is_some_and(|m| opts.local_macs.contains(&m)) {
                PacketType::Outgoing
            } else if d[..6] == [0xff; 6] {
                PacketType::Broadcast
            } else if dst0 & 1 == 1 {
                PacketType::Multicast
            } else {
                PacketType::Host
            };
        }
        101 | 12 | 14 | 228 | 229 => {
            p.ethertype = match d.first().map(|b| b >> 4) {
                Some(4) => ETH_P_IP,
                Some(6) => ETH_P_IPV6,
                _ => 0,
            };
            p.data = d;
        }
        _ => {
            p.data = d;
        }
    }
    p.outgoing = p.pkt_type == PacketType::Outgoing;
    p.data = trim_ip(p.ethertype, p.data);
    Some(p)
}

/// Cuts link-layer padding after the datagram's declared length.
fn trim_ip(ethertype: u16, d: &[u8]) -> &[u8] {
    let declared = match ethertype {
        ETH_P_IP if d.len() >= 20 => usize::from(be16(d, 2)),
        ETH_P_IPV6 if d.len() >= 40 => match be16(d, 4) {
            0 => return d, // jumbogram: the hop-by-hop option says; leave it
            n => 40 + usize::from(n),
        },
        _ => return d,
    };
    if declared >= 20 && declared < d.len() {
        &d[..declared]
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(total: u16) -> Vec<u8> {
        let mut v = vec![0u8; usize::from(total)];
        v[0] = 0x45;
        v[2..4].copy_from_slice(&total.to_be_bytes());
        v[9] = 17;
        v
    }

    fn sll2(proto: u16, ifindex: u32, pkttype: u8, payload: &[u8]) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&proto.to_be_bytes());
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&ifindex.to_be_bytes());
        h.extend_from_slice(&1u16.to_be_bytes());
        h.push(pkttype);
        h.push(6);
        h.extend_from_slice(&[2, 0, 0, 0, 1, 2, 0, 0]);
        h.extend_from_slice(payload);
        h
    }

    fn pcap(linktype: u32, frames: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&4u16.to_le_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&262144u32.to_le_bytes());
        f.extend_from_slice(&linktype.to_le_bytes());
        for (s, us, d) in frames {
            f.extend_from_slice(&s.to_le_bytes());
            f.extend_from_slice(&us.to_le_bytes());
            f.extend_from_slice(&(d.len() as u32).to_le_bytes());
            f.extend_from_slice(&(d.len() as u32).to_le_bytes());
            f.extend_from_slice(d);
        }
        f
    }

    #[test]
    fn sll2_pcap_and_truncation() {
        let mut padded = ipv4(28);
        padded.extend_from_slice(&[0xee; 4]);
        let frames = vec![
            (10, 5, sll2(ETH_P_IP, 2, 0, &padded)),
            (10, 7, sll2(ETH_P_IPV6, 3, 4, &[0x60; 40])),
            (11, 0, sll2(0x0806, 2, 1, &[0; 28])),
            (12, 0, sll2(ETH_P_IP, 2, 0, &ipv4(20))),
        ];
        let bytes = pcap(276, &frames);
        let cap = Capture::from_bytes(bytes.clone()).unwrap();
        let mut it = cap.packets(&CaptureOptions::default());
        let v: Vec<_> = it.by_ref().collect();
        assert!(!it.truncated());
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].ts_ns, 10_000_005_000);
        assert_eq!(v[0].ifindex, Some(2));
        assert_eq!(v[0].data.len(), 28, "padding trimmed");
        assert!(!v[0].outgoing && v[0].is_ip());
        assert_eq!(v[0].src_mac, Some([2, 0, 0, 0, 1, 2]));
        assert!(v[1].outgoing && v[1].pkt_type == PacketType::Outgoing);
        assert_eq!(v[1].ifindex, Some(3));
        assert!(!v[2].is_ip());
        assert_eq!(v[3].frame, 4);

        // Cut 7 bytes: the last record is incomplete, the rest is read.
        let cut = Capture::from_bytes(bytes[..bytes.len() - 7].to_vec()).unwrap();
        let mut it = cut.packets(&CaptureOptions::default());
        assert_eq!(it.by_ref().count(), 3);
        assert!(it.truncated());
        // Garbage after the header stops at once, never loops.
        let mut g = bytes[..24].to_vec();
        g.extend_from_slice(&[0xff; 40]);
        assert_eq!(
            Capture::from_bytes(g)
                .unwrap()
                .packets(&CaptureOptions::default())
                .count(),
            0
        );
        assert!(Capture::from_bytes(vec![1, 2, 3]).is_err());
    }

    #[test]
    fn ethernet_direction_and_raw_ip() {
        let mut eth = vec![0xff; 6];
        eth.extend_from_slice(&[2, 0, 0, 0, 1, 1]);
        eth.extend_from_slice(&ETH_P_IP.to_be_bytes());
        eth.extend_from_slice(&ipv4(20));
        let bytes = pcap(1, &[(1, 0, eth)]);
        let opts = CaptureOptions {
            local_macs: vec![[2, 0, 0, 0, 1, 1]],
            ifindex: Some(7),
        };
        let cap = Capture::from_bytes(bytes).unwrap();
        let p = cap.packets(&opts).next().unwrap();
        assert!(p.outgoing);
        assert_eq!(p.ifindex, Some(7));
        assert_eq!(p.data.len(), 20);

        let raw = pcap(101, &[(1, 0, vec![0x60; 48])]);
        let cap = Capture::from_bytes(raw).unwrap();
        let p = cap.packets(&CaptureOptions::default()).next().unwrap();
        assert_eq!(p.ethertype, ETH_P_IPV6);
        assert_eq!(
            p.data.len(),
            48,
            "payload length 0x6060 exceeds data: untouched"
        );
    }

    #[test]
    fn pcapng_via_writer() {
        use pcap_parser::pcapng::{
            EnhancedPacketBlock, InterfaceDescriptionBlock, SectionHeaderBlock,
        };
        use pcap_parser::{Linktype, ToVec};
        let mut out = Vec::new();
        let mut shb = SectionHeaderBlock {
            block_type: 0x0a0d0d0a,
            block_len1: 0,
            bom: 0x1a2b3c4d,
            major_version: 1,
            minor_version: 0,
            section_len: -1,
            options: vec![],
            block_len2: 0,
        };
        out.extend(shb.to_vec().unwrap());
        let mut idb = InterfaceDescriptionBlock {
            block_type: 1,
            block_len1: 0,
            linktype: Linktype(276),
            reserved: 0,
            snaplen: 0,
            options: vec![],
            block_len2: 0,
            if_tsresol: 6,
            if_tsoffset: 0,
        };
        out.extend(idb.to_vec().unwrap());
        let data = sll2(ETH_P_IP, 5, 4, &ipv4(24));
        let mut epb = EnhancedPacketBlock {
            block_type: 6,
            block_len1: 0,
            if_id: 0,
            ts_high: 0,
            ts_low: 3_000_001,
            caplen: data.len() as u32,
            origlen: data.len() as u32,
            data: &data,
            options: vec![],
            block_len2: 0,
        };
        out.extend(epb.to_vec().unwrap());
        let cap = Capture::from_bytes(out).unwrap();
        assert!(cap.is_pcapng());
        let v: Vec<_> = cap.packets(&CaptureOptions::default()).collect();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].ts_ns, 3_000_001_000);
        assert_eq!(v[0].ifindex, Some(5));
        assert!(v[0].outgoing);
        assert_eq!(v[0].data.len(), 24);
    }

    #[test]
    fn committed_replay_captures_read() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/replay");
        let Ok(rd) = std::fs::read_dir(root) else {
            return;
        };
        for case in rd.flatten() {
            let f = case.path().join("capture.pcap");
            if !f.is_file() {
                continue;
            }
            let cap = Capture::open(&f).unwrap();
            let mut it = cap.packets(&CaptureOptions::default());
            let n = it.by_ref().filter(|p| p.is_ip()).count();
            assert!(n > 10 && !it.truncated(), "{}", f.display());
        }
    }
}

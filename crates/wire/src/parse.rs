//! Kernel: net/ipv4/ip_input.c (`ip_rcv_core` header checks),
//! net/ipv6/exthdrs_core.c (`ipv6_skip_exthdr`, `ipv6_find_hdr`).
//!
//! Builds a [`PacketMeta`] from the bytes of one IP datagram. Hand-written
//! rather than through a general parser because the kernel's rules are
//! specific: trailing link padding beyond the IPv4 total length is ignored
//! (the IP layer trims it), a non-first fragment has no layer-4 header, an
//! IPv6 non-first fragment reports the protocol named by its fragment header
//! (as `ipv6_find_hdr` does for ip6tables' `-p`), and a layer-4 header that is
//! cut short is described as [`L4Meta::Truncated`] instead of failing, because
//! it still traverses the ruleset (port matches hotdrop it).
//!
//! Never panics, never allocates: every index is bounds-checked once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use palisade_model::Family;

use crate::meta::{IcmpMeta, L4Meta, Malformed, PacketMeta, TcpMeta, UdpMeta};

/// Extension headers walked before giving up (the kernel has no fixed limit
/// but every header costs at least 8 bytes; 16 is plenty for real traffic and
/// bounds the work on hostile input).
const MAX_EXT_HEADERS: usize = 16;

/// IPv6 extension header numbers `ipv6_ext_hdr()` recognises.
const NEXTHDR_HOP: u8 = 0;
const NEXTHDR_ROUTING: u8 = 43;
const NEXTHDR_FRAGMENT: u8 = 44;
const NEXTHDR_AUTH: u8 = 51;
const NEXTHDR_DEST: u8 = 60;

/// Whether an ICMPv4 type is an error that quotes the offending datagram
/// (`icmp_is_err`: dest-unreach, source-quench, redirect, time-exceeded,
/// parameter-problem).
pub fn icmp_is_error(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

/// Whether an ICMPv6 type is an error (types below 128, RFC 4443 §2.1).
pub fn icmp6_is_error(t: u8) -> bool {
    t < 128
}

/// ICMPv4 query types whose bytes 4..8 are identifier and sequence.
fn icmp_has_id(t: u8) -> bool {
    matches!(t, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
}

/// ICMPv6 types with identifier and sequence (echo request/reply).
fn icmp6_has_id(t: u8) -> bool {
    matches!(t, 128 | 129)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl PacketMeta {
    /// Describes an IPv4 or IPv6 datagram (the version nibble decides).
    ///
    /// Errors ([`Malformed`]) are what the IP layer itself would drop: an IP
    /// header shorter than its minimum, IHL < 5, a total length shorter than
    /// the header or longer than the buffer, an IPv6 payload length beyond the
    /// buffer, or an extension header chain that runs off the end. Bytes
    /// beyond the IP length (Ethernet padding) are ignored; `meta.len` tells
    /// where the datagram ends.
    pub fn parse(datagram: &[u8]) -> Result<PacketMeta, Malformed> {
        match datagram.first().map(|b| b >> 4) {
            Some(4) => parse_v4(datagram),
            Some(6) => parse_v6(datagram),
            _ => Err(Malformed::BadIpHeader),
        }
    }

    /// The datagram bytes this descriptor covers (`..len`), without padding.
    pub fn ip_bytes<'a>(&self, datagram: &'a [u8]) -> &'a [u8] {
        let end = usize::from(self.len).min(datagram.len());
        &datagram[..end]
    }

    /// The layer-4 bytes (header and payload) of the datagram.
    pub fn l4_bytes<'a>(&self, datagram: &'a [u8]) -> &'a [u8] {
        let end = usize::from(self.len).min(datagram.len());
        datagram.get(usize::from(self.l4_off)..end).unwrap_or(&[])
    }

    /// The TCP flags byte, when this is a TCP packet with a header.
    pub fn tcp_flags(&self) -> Option<u8> {
        match self.l4 {
            L4Meta::Tcp(t) => Some(t.flags),
            _ => None,
        }
    }

    /// Source and destination ports of TCP/UDP packets.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.l4 {
            L4Meta::Tcp(t) => Some((t.sport, t.dport)),
            L4Meta::Udp(u) => Some((u.sport, u.dport)),
            _ => None,
        }
    }

    /// Whether this is a non-first fragment (no layer-4 header present).
    pub fn is_later_fragment(&self) -> bool {
        self.frag_off != 0
    }
}

fn parse_v4(b: &[u8]) -> Result<PacketMeta, Malformed> {
    if b.len() < 20 {
        return Err(Malformed::BadIpHeader);
    }
    let ihl = usize::from(b[0] & 0x0f) * 4;
    let tot = usize::from(be16(b, 2));
    if ihl < 20 || tot < ihl || tot > b.len() {
        return Err(Malformed::BadIpHeader);
    }
    let frag = be16(b, 6);
    let frag_off = (frag & 0x1fff) << 3;
    let proto = b[9];
    let src = IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19]));
    let l4 = if frag_off != 0 {
        L4Meta::Other
    } else {
        parse_l4(proto, &b[ihl..tot], Family::V4, ihl)
    };
    Ok(PacketMeta {
        family: Family::V4,
        src,
        dst,
        proto,
        ttl: b[8],
        tos: b[1],
        len: tot as u16,
        ip_id: u32::from(be16(b, 4)),
        frag_off,
        more_frags: frag & 0x2000 != 0,
        ip_options: ihl > 20,
        l4_off: ihl as u16,
        l4,
    })
}

fn parse_v6(b: &[u8]) -> Result<PacketMeta, Malformed> {
    if b.len() < 40 {
        return Err(Malformed::BadIpHeader);
    }
    let plen = usize::from(be16(b, 4));
    let end = 40 + plen;
    if end > b.len() {
        return Err(Malformed::BadIpHeader);
    }
    let mut src = [0u8; 16];
    src.copy_from_slice(&b[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&b[24..40]);
    let mut meta = PacketMeta {
        family: Family::V6,
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        proto: b[6],
        ttl: b[7],
        tos: ((be16(b, 0) >> 4) & 0xff) as u8,
        len: end as u16,
        ip_id: 0,
        frag_off: 0,
        more_frags: false,
        ip_options: false,
        l4_off: 40,
        l4: L4Meta::Other,
    };
    let mut next = b[6];
    let mut off = 40usize;
    for _ in 0..=MAX_EXT_HEADERS {
        match next {
            NEXTHDR_HOP | NEXTHDR_ROUTING | NEXTHDR_DEST | NEXTHDR_AUTH | NEXTHDR_FRAGMENT => {}
            _ => {
                meta.proto = next;
                meta.l4_off = off as u16;
                meta.l4 = parse_l4(next, &b[off..end], Family::V6, off);
                return Ok(meta);
            }
        }
        if off + 8 > end {
            return Err(Malformed::BadExtHeader);
        }
        let hdr_next = b[off];
        let hlen = match next {
            NEXTHDR_FRAGMENT => {
                let fo = be16(b, off + 2);
                meta.frag_off = fo & 0xfff8;
                meta.more_frags = fo & 1 != 0;
                meta.ip_id = be32(b, off + 4);
                if meta.frag_off != 0 {
                    // Later fragment: no L4 header; ip6tables sees the
                    // protocol the fragment header names.
                    meta.proto = hdr_next;
                    meta.l4_off = (off + 8) as u16;
                    meta.l4 = L4Meta::Other;
                    return Ok(meta);
                }
                8
            }
            NEXTHDR_AUTH => (usize::from(b[off + 1]) + 2) * 4,
            _ => (usize::from(b[off + 1]) + 1) * 8,
        };
        if off + hlen > end {
            return Err(Malformed::BadExtHeader);
        }
        off += hlen;
        next = hdr_next;
    }
    Err(Malformed::BadExtHeader)
}

/// Decodes the layer-4 header at the start of `s` (which runs to the end of
/// the datagram); `base` is its offset in the datagram.
fn parse_l4(proto: u8, s: &[u8], family: Family, base: usize) -> L4Meta {
    match (proto, family) {
        (6, _) => {
            if s.len() < 20 {
                return L4Meta::Truncated;
            }
            let hdr_len = (s[12] >> 4) * 4;
            L4Meta::Tcp(TcpMeta {
                sport: be16(s, 0),
                dport: be16(s, 2),
                seq: be32(s, 4),
                ack: be32(s, 8),
                flags: s[13],
                hdr_len,
                window: be16(s, 14),
                payload_len: s.len().saturating_sub(usize::from(hdr_len)) as u32,
            })
        }
        (17, _) => {
            if s.len() < 8 {
                return L4Meta::Truncated;
            }
            L4Meta::Udp(UdpMeta {
                sport: be16(s, 0),
                dport: be16(s, 2),
                len: be16(s, 4),
            })
        }
        (1, Family::V4) => match icmp(s, icmp_is_error, icmp_has_id, base) {
            Some(m) => L4Meta::Icmp(m),
            None => L4Meta::Truncated,
        },
        (58, Family::V6) => match icmp(s, icmp6_is_error, icmp6_has_id, base) {
            Some(m) => L4Meta::Icmp6(m),
            None => L4Meta::Truncated,
        },
        _ => L4Meta::Other,
    }
}

fn icmp(s: &[u8], is_err: fn(u8) -> bool, has_id: fn(u8) -> bool, base: usize) -> Option<IcmpMeta> {
    if s.len() < 8 {
        return None;
    }
    let t = s[0];
    let (id, seq) = if has_id(t) {
        (be16(s, 4), be16(s, 6))
    } else {
        (0, 0)
    };
    let inner_off = if is_err(t) {
        u16::try_from(base + 8).ok()
    } else {
        None
    };
    Some(IcmpMeta {
        icmp_type: t,
        code: s[1],
        id,
        seq,
        inner_off,
    })
}

/// The header of a datagram quoted inside an ICMP error, read leniently as
/// the kernel's `nf_ct_get_tuplepr` does: the quote is usually cut short, so
/// the IP length field is not checked against the bytes present, and only the
/// first bytes of the layer-4 header are needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted<'a> {
    /// Source address of the quoted datagram.
    pub src: IpAddr,
    /// Destination address of the quoted datagram.
    pub dst: IpAddr,
    /// Layer-4 protocol (after IPv6 extension headers).
    pub proto: u8,
    /// Non-first fragment: no layer-4 header.
    pub later_fragment: bool,
    /// Whatever bytes of the quoted layer-4 header are present.
    pub l4: &'a [u8],
}

/// Reads a quoted (inner) IP header of the given family. `None` when even the
/// IP header (or the IPv6 extension chain) is not complete.
pub fn parse_quoted(b: &[u8], family: Family) -> Option<Quoted<'_>> {
    match family {
        Family::V4 => {
            if b.len() < 20 || b[0] >> 4 != 4 {
                return None;
            }
            let ihl = usize::from(b[0] & 0x0f) * 4;
            if ihl < 20 || b.len() < ihl {
                return None;
            }
            let tot = usize::from(be16(b, 2)).clamp(ihl, b.len());
            Some(Quoted {
                src: IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15])),
                dst: IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19])),
                proto: b[9],
                later_fragment: be16(b, 6) & 0x1fff != 0,
                l4: &b[ihl..tot],
            })
        }
        Family::V6 => {
            if b.len() < 40 || b[0] >> 4 != 6 {
                return None;
            }
            let mut src = [0u8; 16];
            src.copy_from_slice(&b[8..24]);
            let mut dst = [0u8; 16];
            dst.copy_from_slice(&b[24..40]);
            let end = (40 + usize::from(be16(b, 4))).min(b.len());
            let mut next = b[6];
            let mut off = 40usize;
            for _ in 0..=MAX_EXT_HEADERS {
                let ext = matches!(
                    next,
                    NEXTHDR_HOP | NEXTHDR_ROUTING | NEXTHDR_DEST | NEXTHDR_AUTH | NEXTHDR_FRAGMENT
                );
                if !ext {
                    return Some(Quoted {
                        src: IpAddr::V6(Ipv6Addr::from(src)),
                        dst: IpAddr::V6(Ipv6Addr::from(dst)),
                        proto: next,
                        later_fragment: false,
                        l4: b.get(off..end).unwrap_or(&[]),
                    });
                }
                if off + 8 > end {
                    return None;
                }
                let hlen = match next {
                    NEXTHDR_FRAGMENT => {
                        if be16(b, off + 2) & 0xfff8 != 0 {
                            return Some(Quoted {
                                src: IpAddr::V6(Ipv6Addr::from(src)),
                                dst: IpAddr::V6(Ipv6Addr::from(dst)),
                                proto: b[off],
                                later_fragment: true,
                                l4: &[],
                            });
                        }
                        8
                    }
                    NEXTHDR_AUTH => (usize::from(b[off + 1]) + 2) * 4,
                    _ => (usize::from(b[off + 1]) + 1) * 8,
                };
                next = b[off];
                off += hlen;
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn v4_tcp(flags_syn: bool, payload: &[u8]) -> Vec<u8> {
        let mut b =
            PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(1234, 80, 1000, 64240);
        if flags_syn {
            b = b.syn();
        } else {
            b = b.ack(77);
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn tcp_v4() {
        let p = v4_tcp(true, b"hello");
        let m = PacketMeta::parse(&p).unwrap();
        assert_eq!(m.family, Family::V4);
        assert_eq!(m.proto, 6);
        assert_eq!(m.l4_off, 20);
        assert_eq!(m.len as usize, p.len());
        let L4Meta::Tcp(t) = m.l4 else { panic!() };
        assert_eq!(
            (t.sport, t.dport, t.seq, t.flags, t.payload_len),
            (1234, 80, 1000, 0x02, 5)
        );
        assert!(crate::checksum::verify_l4(&p, &m));
    }

    #[test]
    fn padding_ignored_and_bad_lengths() {
        let mut p = v4_tcp(false, b"");
        p.extend_from_slice(&[0; 6]);
        let m = PacketMeta::parse(&p).unwrap();
        assert_eq!(m.len, 40);
        assert!(crate::checksum::verify_l4(&p, &m));
        assert_eq!(PacketMeta::parse(&p[..30]), Err(Malformed::BadIpHeader));
        let mut q = p.clone();
        q[0] = 0x44;
        assert_eq!(PacketMeta::parse(&q), Err(Malformed::BadIpHeader));
        assert_eq!(PacketMeta::parse(&[]), Err(Malformed::BadIpHeader));
        assert_eq!(PacketMeta::parse(&[0x45]), Err(Malformed::BadIpHeader));
    }

    #[test]
    fn truncated_tcp_and_fragment() {
        let mut p = v4_tcp(true, b"");
        // Claim a 30-byte datagram: 10 bytes of TCP header only.
        p.truncate(30);
        p[2..4].copy_from_slice(&30u16.to_be_bytes());
        let m = PacketMeta::parse(&p).unwrap();
        assert_eq!(m.l4, L4Meta::Truncated);
        // Non-first fragment.
        let mut f = v4_tcp(true, b"");
        f[6..8].copy_from_slice(&0x0003u16.to_be_bytes());
        let m = PacketMeta::parse(&f).unwrap();
        assert_eq!(m.frag_off, 24);
        assert_eq!(m.l4, L4Meta::Other);
        assert_eq!(m.proto, 6);
    }

    #[test]
    fn icmp_error_inner() {
        let inner = v4_tcp(true, b"");
        let mut p = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut p, &inner)
            .unwrap();
        let m = PacketMeta::parse(&p).unwrap();
        let L4Meta::Icmp(i) = m.l4 else { panic!() };
        assert_eq!((i.icmp_type, i.code, i.inner_off), (3, 3, Some(28)));
        let q = parse_quoted(&p[28..], Family::V4).unwrap();
        assert_eq!(q.proto, 6);
        assert_eq!(&q.l4[..4], &[0x04, 0xd2, 0, 80]);
        assert!(crate::checksum::verify_l4(&p, &m));
    }

    #[test]
    fn v6_ext_headers() {
        let mut p = Vec::new();
        PacketBuilder::ipv6(
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
        .udp(53, 5353)
        .write(&mut p, b"xyz")
        .unwrap();
        // Insert a hop-by-hop header (8 bytes, PadN) and a fragment header (first fragment).
        let udp = p[40..].to_vec();
        let mut q = p[..40].to_vec();
        q[6] = 0;
        q.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        q.extend_from_slice(&[17, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
        q.extend_from_slice(&udp);
        let plen = (q.len() - 40) as u16;
        q[4..6].copy_from_slice(&plen.to_be_bytes());
        let m = PacketMeta::parse(&q).unwrap();
        assert_eq!(m.proto, 17);
        assert_eq!(m.l4_off, 56);
        assert_eq!(m.ip_id, 0xdeadbeef);
        assert_eq!(m.ports(), Some((53, 5353)));
        assert!(crate::checksum::verify_l4(&q, &m));
        // Later fragment.
        let mut f = q.clone();
        f[50..52].copy_from_slice(&0x0010u16.to_be_bytes());
        let m = PacketMeta::parse(&f).unwrap();
        assert_eq!((m.proto, m.frag_off, m.l4), (17, 16, L4Meta::Other));
        // Hop-by-hop length running off the end.
        let mut bad = q.clone();
        bad[41] = 20;
        assert_eq!(PacketMeta::parse(&bad), Err(Malformed::BadExtHeader));
        // Chain cut short.
        let mut short = q[..44].to_vec();
        short[4..6].copy_from_slice(&4u16.to_be_bytes());
        assert_eq!(PacketMeta::parse(&short), Err(Malformed::BadExtHeader));
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut seed = 0x1234_5678u32;
        for n in 0..2000 {
            let len = n % 90;
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                buf.push((seed >> 16) as u8);
            }
            if let Some(b) = buf.first_mut() {
                *b = if n % 2 == 0 { 0x45 } else { 0x60 };
            }
            if let Ok(m) = PacketMeta::parse(&buf) {
                let _ = crate::checksum::verify_l4(&buf, &m);
                let _ = m.l4_bytes(&buf);
            }
            let _ = parse_quoted(&buf, Family::V4);
            let _ = parse_quoted(&buf, Family::V6);
        }
    }
}

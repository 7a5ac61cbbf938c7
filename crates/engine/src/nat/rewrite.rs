//! Kernel: net/netfilter/nf_nat_proto.c (`nf_nat_ipv4_manip_pkt`,
//! `nf_nat_ipv6_manip_pkt`, the per-protocol `*_manip_pkt`,
//! `nf_nat_icmp_reply_translation`, `nf_nat_icmpv6_reply_translation`).
//!
//! Rewriting a datagram in place so it "looks like" a target tuple in one
//! manip direction: the source (SRC manip) or destination (DST manip) address
//! and port/echo id. Checksums are patched incrementally (RFC 1624), as the
//! kernel does for packets without checksum offload:
//! * IPv4 header checksum for the address;
//! * TCP/UDP/ICMPv6 checksums for the pseudo-header address and the port/id.
//!   A TCP header cut short (the quote inside an ICMP error, when fewer than
//!   20 bytes of it are present) keeps its checksum; a UDP checksum of zero
//!   stays zero (no checksum), and an update that lands on zero is stored as
//!   0xffff;
//! * ICMP (v4) has no pseudo-header: only the echo id of query types moves.
//!
//! ICMP errors quoting a NATed connection are translated whole: the quoted
//! datagram gets the opposite manip towards the other direction's tuple,
//! the ICMP checksum is recomputed over the whole message, then the outer
//! header gets the manip of the hook.

use palisade_conntrack::Tuple;
use palisade_model::Family;
use palisade_wire::checksum;

use super::Manip;

fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_be_bytes());
}

/// Offset and protocol of the layer-4 header of the IPv6 datagram at `off`
/// (`ipv6_skip_exthdr`), and whether it is a non-first fragment.
fn v6_l4(b: &[u8], off: usize) -> Option<(usize, u8, bool)> {
    let mut next = *b.get(off + 6)?;
    let mut at = off + 40;
    let mut later_frag = false;
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let h = b.get(at..at + 2)?;
                next = h[0];
                at += (usize::from(h[1]) + 1) * 8;
            }
            51 => {
                let h = b.get(at..at + 2)?;
                next = h[0];
                at += (usize::from(h[1]) + 2) * 4;
            }
            44 => {
                let h = b.get(at..at + 8)?;
                next = h[0];
                later_frag = be16(h, 2) & !7 != 0;
                at += 8;
            }
            _ => return Some((at, next, later_frag)),
        }
    }
    None
}

/// Old and new address bytes of the manipulated side.
fn addr_span(family: Family, manip: Manip) -> (usize, usize) {
    match (family, manip) {
        (Family::V4, Manip::Src) => (12, 4),
        (Family::V4, Manip::Dst) => (16, 4),
        (Family::V6, Manip::Src) => (8, 16),
        (Family::V6, Manip::Dst) => (24, 16),
    }
}

fn target_addr(t: &Tuple, manip: Manip) -> &[u8] {
    let a = match manip {
        Manip::Src => &t.src,
        Manip::Dst => &t.dst,
    };
    match t.family {
        Family::V4 => &a[..4],
        Family::V6 => &a[..],
    }
}

/// `nf_csum_update`: the pseudo-header part of a layer-4 checksum at `csum`
/// for the address change of the IP header at `ip`.
fn pseudo_update(b: &mut [u8], ip: usize, csum: usize, t: &Tuple, manip: Manip) {
    let (ao, alen) = addr_span(t.family, manip);
    let old = &b[ip + ao..ip + ao + alen];
    let c = checksum::update_bytes(be16(b, csum), old, target_addr(t, manip));
    put16(b, csum, c);
}

/// `l4proto_manip_pkt`: `false` when the header is too short to rewrite
/// (the kernel drops such packets).
fn l4_manip(b: &mut [u8], ip: usize, l4: usize, proto: u8, t: &Tuple, manip: Manip) -> bool {
    let len = b.len();
    match proto {
        6 => {
            if len < l4 + 8 {
                return false;
            }
            let (at, new) = match manip {
                Manip::Src => (l4, t.sport),
                Manip::Dst => (l4 + 2, t.dport),
            };
            let old = be16(b, at);
            put16(b, at, new);
            if len >= l4 + 20 {
                pseudo_update(b, ip, l4 + 16, t, manip);
                let c = checksum::update16(be16(b, l4 + 16), old, new);
                put16(b, l4 + 16, c);
            }
            true
        }
        17 | 136 => {
            if len < l4 + 8 {
                return false;
            }
            let (at, new) = match manip {
                Manip::Src => (l4, t.sport),
                Manip::Dst => (l4 + 2, t.dport),
            };
            let old = be16(b, at);
            if proto == 136 || be16(b, l4 + 6) != 0 {
                pseudo_update(b, ip, l4 + 6, t, manip);
                let mut c = checksum::update16(be16(b, l4 + 6), old, new);
                if c == 0 {
                    c = 0xffff;
                }
                put16(b, l4 + 6, c);
            }
            put16(b, at, new);
            true
        }
        1 => {
            if len < l4 + 8 {
                return false;
            }
            if matches!(b[l4], 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18) {
                let old = be16(b, l4 + 4);
                let c = checksum::update16(be16(b, l4 + 2), old, t.sport);
                put16(b, l4 + 2, c);
                put16(b, l4 + 4, t.sport);
            }
            true
        }
        58 => {
            if len < l4 + 8 {
                return false;
            }
            pseudo_update(b, ip, l4 + 2, t, manip);
            if matches!(b[l4], 128 | 129) {
                let old = be16(b, l4 + 4);
                let c = checksum::update16(be16(b, l4 + 2), old, t.sport);
                put16(b, l4 + 2, c);
                put16(b, l4 + 4, t.sport);
            }
            true
        }
        // SCTP needs a CRC32c recomputation; DCCP, GRE (PPTP) not modelled.
        _ => true,
    }
}

/// `nf_nat_ipv{4,6}_manip_pkt` for the datagram starting at `ip` in `b`
/// (`b` ends where the outermost datagram ends). `t.proto` selects the
/// layer-4 rewrite.
pub(crate) fn manip_at(b: &mut [u8], ip: usize, t: &Tuple, manip: Manip) -> bool {
    let (ao, alen) = addr_span(t.family, manip);
    match t.family {
        Family::V4 => {
            if b.len() < ip + 20 {
                return false;
            }
            let l4 = ip + usize::from(b[ip] & 0x0f) * 4;
            let later_frag = be16(b, ip + 6) & 0x1fff != 0;
            // Non-first fragments carry no layer-4 header; the kernel would
            // have reassembled them (defrag), we leave their payload alone.
            if !later_frag && !l4_manip(b, ip, l4, t.proto, t, manip) {
                return false;
            }
            let new = target_addr(t, manip);
            let old =
                u32::from_be_bytes([b[ip + ao], b[ip + ao + 1], b[ip + ao + 2], b[ip + ao + 3]]);
            let nv = u32::from_be_bytes([new[0], new[1], new[2], new[3]]);
            let c = checksum::update32(be16(b, ip + 10), old, nv);
            put16(b, ip + 10, c);
            b[ip + ao..ip + ao + alen].copy_from_slice(new);
            true
        }
        Family::V6 => {
            if b.len() < ip + 40 {
                return false;
            }
            if let Some((l4, _, later)) = v6_l4(b, ip) {
                if !later && !l4_manip(b, ip, l4, t.proto, t, manip) {
                    return false;
                }
            }
            let new = target_addr(t, manip);
            b[ip + ao..ip + ao + alen].copy_from_slice(new);
            true
        }
    }
}

/// Whether the ICMP/ICMPv6 checksum of the message at `l4` is right.
fn icmp_csum_ok(b: &[u8], family: Family, l4: usize) -> bool {
    match family {
        Family::V4 => checksum::checksum(&b[l4..]) == 0,
        Family::V6 => {
            let (Ok(s), Ok(d)) = (
                <[u8; 16]>::try_from(&b[8..24]),
                <[u8; 16]>::try_from(&b[24..40]),
            ) else {
                return false;
            };
            let acc = checksum::pseudo_v6(s.into(), d.into(), 58, (b.len() - l4) as u32);
            checksum::fold(checksum::sum(&b[l4..], acc)) == 0
        }
    }
}

/// Recomputes the ICMP/ICMPv6 checksum of the message at `l4` from scratch.
fn icmp_csum_fill(b: &mut [u8], family: Family, l4: usize) {
    put16(b, l4 + 2, 0);
    let c = match family {
        Family::V4 => checksum::checksum(&b[l4..]),
        Family::V6 => {
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&b[8..24]);
            d.copy_from_slice(&b[24..40]);
            let acc = checksum::pseudo_v6(s.into(), d.into(), 58, (b.len() - l4) as u32);
            checksum::fold(checksum::sum(&b[l4..], acc))
        }
    };
    put16(b, l4 + 2, c);
}

/// Layer-4 offset of the outer ICMP/ICMPv6 header.
pub(crate) fn icmp_off(b: &[u8], family: Family) -> Option<usize> {
    match family {
        Family::V4 => (b.len() >= 20).then(|| usize::from(b[0] & 0x0f) * 4),
        Family::V6 => v6_l4(b, 0).filter(|x| x.1 == 58 && !x.2).map(|x| x.0),
    }
}

/// `nf_nat_icmp_reply_translation` once the kernel decided to translate:
/// `other` is the connection's tuple of the direction opposite to the
/// error's (`tuplehash[!dir]`). The quoted datagram gets the opposite manip
/// towards `other`; the outer header becomes the inverse of `other` on the
/// hook's side. `false`: drop (bad checksum, truncated).
pub(crate) fn icmp_error(b: &mut [u8], other: &Tuple, manip: Manip) -> bool {
    let family = other.family;
    let Some(l4) = icmp_off(b, family) else {
        return false;
    };
    if b.len() < l4 + 8 || !icmp_csum_ok(b, family, l4) {
        return false;
    }
    let inner = l4 + 8;
    if !manip_at(b, inner, other, manip.flip()) {
        return false;
    }
    icmp_csum_fill(b, family, l4);
    let Some(mut target) = other.invert_any() else {
        return false;
    };
    target.proto = match family {
        Family::V4 => 1,
        Family::V6 => 58,
    };
    manip_at(b, 0, &target, manip)
}

trait InvertAny {
    fn invert_any(&self) -> Option<Tuple>;
}

impl InvertAny for Tuple {
    /// Address/port swap without the ICMP type check (only the addresses of
    /// the result are used for an outer error header).
    fn invert_any(&self) -> Option<Tuple> {
        Some(Tuple {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            ..*self
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use palisade_wire::PacketMeta;

    use super::*;

    fn tuple(proto: u8, s: &str, sp: u16, d: &str, dp: u16) -> Tuple {
        let s: IpAddr = s.parse().unwrap();
        let d: IpAddr = d.parse().unwrap();
        let fam = if s.is_ipv6() { Family::V6 } else { Family::V4 };
        let mut l4 = sp.to_be_bytes().to_vec();
        l4.extend_from_slice(&dp.to_be_bytes());
        l4.extend_from_slice(&[0; 4]);
        let mut t = Tuple::from_parts(fam, s, d, 17, &l4, 0).unwrap();
        t.proto = proto;
        t
    }

    fn udp4(s: [u8; 4], d: [u8; 4], sp: u16, dp: u16, with_csum: bool) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 32, 0, 1, 0x40, 0, 64, 17, 0, 0];
        p.extend_from_slice(&s);
        p.extend_from_slice(&d);
        p.extend_from_slice(&sp.to_be_bytes());
        p.extend_from_slice(&dp.to_be_bytes());
        p.extend_from_slice(&[0, 12, 0, 0, b'a', b'b', b'c', b'd']);
        let c = checksum::checksum(&p[..20]);
        put16(&mut p, 10, c);
        if with_csum {
            checksum::fill_l4(&mut p, 20, s.into(), d.into(), 17);
        }
        p
    }

    #[test]
    fn snat_udp_v4_checksums_valid() {
        let mut p = udp4([10, 0, 0, 2], [192, 0, 2, 1], 5000, 53, true);
        let t = tuple(17, "198.51.100.1", 6000, "192.0.2.1", 53);
        assert!(manip_at(&mut p, 0, &t, Manip::Src));
        let m = PacketMeta::parse(&p).unwrap();
        assert_eq!(m.src, "198.51.100.1".parse::<IpAddr>().unwrap());
        assert_eq!(m.ports(), Some((6000, 53)));
        assert!(checksum::ipv4_header_ok(&p));
        assert!(checksum::verify_l4(&p, &m));
        // The same packet built directly is byte-identical.
        let direct = udp4([198, 51, 100, 1], [192, 0, 2, 1], 6000, 53, true);
        assert_eq!(p, direct);
    }

    #[test]
    fn udp_zero_checksum_stays_zero() {
        let mut p = udp4([10, 0, 0, 2], [192, 0, 2, 1], 5000, 53, false);
        let t = tuple(17, "192.0.2.7", 5000, "10.9.9.9", 5353);
        assert!(manip_at(&mut p, 0, &t, Manip::Dst));
        assert_eq!(&p[26..28], &[0, 0]);
        assert!(checksum::ipv4_header_ok(&p));
        assert_eq!(&p[16..20], &[10, 9, 9, 9]);
    }

    #[test]
    fn truncated_udp_is_refused() {
        let mut p = udp4([10, 0, 0, 2], [192, 0, 2, 1], 5000, 53, true);
        p.truncate(24);
        let t = tuple(17, "198.51.100.1", 6000, "192.0.2.1", 53);
        assert!(!manip_at(&mut p, 0, &t, Manip::Src));
    }
}

//! Kernel: net/netfilter/utils.c (`nf_ip_checksum`, `nf_ip6_checksum`),
//! include/net/checksum.h (`csum_replace2/4`, RFC 1624).
//!
//! The Internet checksum (RFC 1071) as 32-bit partial sums that are folded at
//! the end, pseudo-header sums for IPv4 and IPv6, incremental updates for NAT
//! rewrites, and the per-protocol verification conntrack performs at
//! PREROUTING. Everything here allocates nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::meta::{L4Meta, PacketMeta};

/// Adds `data` (big-endian 16-bit words, an odd trailing byte padded with zero)
/// to the partial sum `acc`. Partial sums can be chained; fold with [`fold`].
pub fn sum(data: &[u8], acc: u32) -> u32 {
    // Eight bytes per step into a 64-bit one's-complement accumulator: every
    // received TCP/UDP packet is summed here (conntrack's checksum check),
    // and two bytes per step cost a third of an established packet's time.
    // One's-complement addition is associative at any 16-bit boundary, so
    // the wide sum folds to the same 16-bit value.
    let mut wide = u64::from(acc);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let (s, carry) = wide.overflowing_add(w);
        wide = s + u64::from(carry);
    }
    let mut acc = add(wide as u32, (wide >> 32) as u32);
    let mut rest = chunks.remainder().chunks_exact(2);
    for c in &mut rest {
        acc = add(acc, u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = rest.remainder() {
        acc = add(acc, u32::from(*last) << 8);
    }
    acc
}

/// One's-complement addition with the carry folded in, so chained sums never
/// overflow.
#[inline]
fn add(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    s + u32::from(carry)
}

/// Folds a partial sum to 16 bits and complements it: the value to store in a
/// checksum field.
#[inline]
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Full checksum of `data` (for IPv4 headers and ICMPv4 messages).
pub fn checksum(data: &[u8]) -> u16 {
    fold(sum(data, 0))
}

/// IPv4 pseudo-header partial sum (RFC 793): addresses, protocol, L4 length.
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u32) -> u32 {
    let acc = sum(&src.octets(), 0);
    let acc = sum(&dst.octets(), acc);
    let acc = add(acc, u32::from(proto));
    add(acc, len)
}

/// IPv6 pseudo-header partial sum (RFC 8200 §8.1).
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, proto: u8, len: u32) -> u32 {
    let acc = sum(&src.octets(), 0);
    let acc = sum(&dst.octets(), acc);
    let acc = add(acc, len >> 16);
    let acc = add(acc, len & 0xffff);
    add(acc, u32::from(proto))
}

/// Pseudo-header sum for either family; mixed families yield 0 (never happens
/// for addresses taken from one [`PacketMeta`]).
pub fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: u32) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pseudo_v4(s, d, proto, len),
        (IpAddr::V6(s), IpAddr::V6(d)) => pseudo_v6(s, d, proto, len),
        _ => 0,
    }
}

/// RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data
/// changed from `old` to `new`: `HC' = ~(~HC + ~m + m')`.
#[inline]
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    let acc = add(u32::from(!check), u32::from(!old));
    let acc = add(acc, u32::from(new));
    fold(acc)
}

/// RFC 1624 update for a changed 32-bit value (an IPv4 address, a TCP seq).
#[inline]
pub fn update32(check: u16, old: u32, new: u32) -> u16 {
    let c = update16(check, (old >> 16) as u16, (new >> 16) as u16);
    update16(c, old as u16, new as u16)
}

/// RFC 1624 update for a changed byte string of even length (an IPv6
/// address). Slices of different or odd length leave the checksum unchanged.
pub fn update_bytes(check: u16, old: &[u8], new: &[u8]) -> u16 {
    if old.len() != new.len() || old.len() & 1 != 0 {
        return check;
    }
    let mut acc = u32::from(!check);
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        acc = add(acc, u32::from(!u16::from_be_bytes([o[0], o[1]])));
        acc = add(acc, u32::from(u16::from_be_bytes([n[0], n[1]])));
    }
    fold(acc)
}

/// Whether the IPv4 header checksum is correct (a header summing to 0xffff).
pub fn ipv4_header_ok(datagram: &[u8]) -> bool {
    let Some(&b0) = datagram.first() else {
        return false;
    };
    let ihl = usize::from(b0 & 0x0f) * 4;
    datagram.len() >= ihl && ihl >= 20 && checksum(&datagram[..ihl]) == 0
}

/// Verifies the layer-4 checksum of a described datagram the way
/// `nf_ip_checksum`/`nf_ip6_checksum` do (the sum runs over the whole IP
/// payload, `meta.len - l4_off` bytes):
/// TCP, UDP (a zero UDP checksum means "none" and passes, as conntrack's
/// `udp_error` allows), ICMP (no pseudo-header), ICMPv6. Other protocols,
/// fragments and truncated headers return `true` (nothing to verify here).
pub fn verify_l4(datagram: &[u8], meta: &PacketMeta) -> bool {
    let start = usize::from(meta.l4_off);
    let end = usize::from(meta.len).min(datagram.len());
    if start > end {
        return true;
    }
    let seg = &datagram[start..end];
    let len = seg.len() as u32;
    match meta.l4 {
        L4Meta::Tcp(_) => fold(sum(seg, pseudo(meta.src, meta.dst, 6, len))) == 0,
        L4Meta::Udp(_) => {
            if seg.len() >= 8 && seg[6] == 0 && seg[7] == 0 {
                return true;
            }
            fold(sum(seg, pseudo(meta.src, meta.dst, 17, len))) == 0
        }
        L4Meta::Icmp(_) => checksum(seg) == 0,
        L4Meta::Icmp6(_) => fold(sum(seg, pseudo(meta.src, meta.dst, 58, len))) == 0,
        L4Meta::Other | L4Meta::Truncated => true,
    }
}

/// Computes and stores the layer-4 checksum of a datagram built in place
/// (TCP at offset 16, UDP 6, ICMP/ICMPv6 2 within the L4 header). Used by the
/// REJECT builders; `l4_off..datagram.len()` is the covered segment.
pub fn fill_l4(datagram: &mut [u8], l4_off: usize, src: IpAddr, dst: IpAddr, proto: u8) {
    let Some(seg) = datagram.get_mut(l4_off..) else {
        return;
    };
    let field = match proto {
        6 => 16,
        17 => 6,
        1 | 58 => 2,
        _ => return,
    };
    if seg.len() < field + 2 {
        return;
    }
    seg[field] = 0;
    seg[field + 1] = 0;
    let init = if proto == 1 {
        0
    } else {
        pseudo(src, dst, proto, seg.len() as u32)
    };
    let mut c = fold(sum(seg, init));
    if proto == 17 && c == 0 {
        // RFC 768: a computed zero is sent as all ones.
        c = 0xffff;
    }
    seg[field..field + 2].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 example bytes sum to 0xddf2 before complement.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), !0xddf2);
    }

    #[test]
    fn wide_sum_matches_pairwise() {
        let narrow = |d: &[u8], mut acc: u32| {
            for c in d.chunks(2) {
                let w = u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0));
                acc = add(acc, w);
            }
            acc
        };
        let mut x = 0x9e37_79b9u32;
        let data: Vec<u8> = (0..301)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        for len in 0..data.len() {
            for init in [0, 0xffff, 0xdead_beef, u32::MAX] {
                let d = &data[..len];
                assert_eq!(fold(sum(d, init)), fold(narrow(d, init)), "len {len}");
            }
        }
        let ones = [0xffu8; 64];
        assert_eq!(fold(sum(&ones, u32::MAX)), fold(narrow(&ones, u32::MAX)));
    }

    #[test]
    fn odd_length_pads() {
        assert_eq!(sum(&[0xab], 0), 0xab00);
    }

    #[test]
    fn incremental_matches_full() {
        let mut data = [
            0x45u8, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 0x40, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let c = checksum(&data);
        data[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&data), 0);
        // Rewrite the source address (SNAT) incrementally.
        let old = u32::from_be_bytes([10, 0, 0, 1]);
        let new = u32::from_be_bytes([192, 168, 7, 9]);
        let c2 = update32(c, old, new);
        data[12..16].copy_from_slice(&new.to_be_bytes());
        data[10..12].copy_from_slice(&c2.to_be_bytes());
        assert_eq!(checksum(&data), 0);
        let c3 = update_bytes(c2, &[192, 168, 7, 9], &[1, 2, 3, 4]);
        data[12..16].copy_from_slice(&[1, 2, 3, 4]);
        data[10..12].copy_from_slice(&c3.to_be_bytes());
        assert_eq!(checksum(&data), 0);
        assert!(ipv4_header_ok(&data));
    }
}

//! Kernel: include/net/netfilter/nf_conntrack_tuple.h, nf_conntrack_core.c
//! (`nf_ct_get_tuple`, `nf_ct_invert_tuple`), nf_conntrack_proto_icmp.c and
//! _icmpv6.c (`invmap`).
//!
//! A tuple names one direction of a flow: addresses, protocol, and the
//! protocol's two 16-bit identifiers — ports for TCP/UDP, for ICMP the echo
//! id (source side) and type/code (destination side), zero for other
//! protocols. The zone is part of the key here (the kernel compares it next
//! to the tuple).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use palisade_model::Family;

/// One direction of a connection. 40 bytes, `Copy`, hashable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Source address (IPv4 in the first 4 bytes, rest zero).
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// TCP/UDP source port; ICMP echo id; else 0.
    pub sport: u16,
    /// TCP/UDP destination port; ICMP `type << 8 | code`; else 0.
    pub dport: u16,
    /// Layer-4 protocol number.
    pub proto: u8,
    /// Address family.
    pub family: Family,
    /// Conntrack zone (`-j CT --zone`), 0 by default.
    pub zone: u16,
}

/// Encodes an address into the 16-byte field.
pub fn addr_bytes(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&v.octets());
            b
        }
        IpAddr::V6(v) => v.octets(),
    }
}

fn to_ip(b: &[u8; 16], family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(*b)),
    }
}

/// The words a tuple hashes as: both addresses as 64-bit halves, then
/// ports, protocol, family and zone packed into one word. [`crate::Entry`]
/// produces the same words from its compact storage, so the table can
/// rehash without rebuilding tuples.
#[inline]
pub(crate) fn hash_words(src: &[u8; 16], dst: &[u8; 16], rest: u64) -> [u64; 5] {
    let h = |b: &[u8; 16], i: usize| {
        u64::from_le_bytes([
            b[i],
            b[i + 1],
            b[i + 2],
            b[i + 3],
            b[i + 4],
            b[i + 5],
            b[i + 6],
            b[i + 7],
        ])
    };
    [h(src, 0), h(src, 8), h(dst, 0), h(dst, 8), rest]
}

/// The last hash word: ports, protocol, family, zone.
#[inline]
pub(crate) fn rest_word(sport: u16, dport: u16, proto: u8, family: Family, zone: u16) -> u64 {
    u64::from(sport) << 48
        | u64::from(dport) << 32
        | u64::from(proto) << 24
        | u64::from(family == Family::V6) << 16
        | u64::from(zone)
}

impl Tuple {
    /// The words the connection table hashes.
    #[inline]
    pub(crate) fn words(&self) -> [u64; 5] {
        hash_words(
            &self.src,
            &self.dst,
            rest_word(self.sport, self.dport, self.proto, self.family, self.zone),
        )
    }

    /// Source address.
    pub fn src_ip(&self) -> IpAddr {
        to_ip(&self.src, self.family)
    }
    /// Destination address.
    pub fn dst_ip(&self) -> IpAddr {
        to_ip(&self.dst, self.family)
    }
    /// ICMP type (for ICMP/ICMPv6 tuples).
    pub fn icmp_type(&self) -> u8 {
        (self.dport >> 8) as u8
    }
    /// ICMP code.
    pub fn icmp_code(&self) -> u8 {
        self.dport as u8
    }

    /// Builds the tuple of a packet from its protocol identifiers
    /// (`nf_ct_get_tuple`). `l4` is the layer-4 header bytes present; `None`
    /// when too short for the protocol's identifiers (4 bytes of ports, or
    /// the 8-byte ICMP header).
    pub fn from_parts(
        family: Family,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        l4: &[u8],
        zone: u16,
    ) -> Option<Tuple> {
        let (sport, dport) = match (proto, family) {
            // TCP, UDP, DCCP, SCTP, UDP-Lite all start with the two ports.
            (6 | 17 | 33 | 132 | 136, _) => {
                let p = l4.get(..4)?;
                (
                    u16::from_be_bytes([p[0], p[1]]),
                    u16::from_be_bytes([p[2], p[3]]),
                )
            }
            (1, Family::V4) | (58, Family::V6) => {
                let h = l4.get(..8)?;
                (
                    u16::from_be_bytes([h[4], h[5]]),
                    u16::from_be_bytes([h[0], h[1]]),
                )
            }
            _ => (0, 0),
        };
        Some(Tuple {
            src: addr_bytes(src),
            dst: addr_bytes(dst),
            sport,
            dport,
            proto,
            family,
            zone,
        })
    }

    /// The tuple of the other direction (`nf_ct_invert_tuple`). ICMP queries
    /// invert their type (echo ↔ echo-reply, …); a type without a partner
    /// cannot be inverted (`None`), which makes the packet INVALID.
    pub fn invert(&self) -> Option<Tuple> {
        let (sport, dport) = match (self.proto, self.family) {
            (1, Family::V4) => {
                let t: u8 = match self.icmp_type() {
                    8 => 0,
                    0 => 8,
                    13 => 14,
                    14 => 13,
                    15 => 16,
                    16 => 15,
                    17 => 18,
                    18 => 17,
                    _ => return None,
                };
                (self.sport, u16::from(t) << 8 | u16::from(self.icmp_code()))
            }
            (58, Family::V6) => {
                let t: u8 = match self.icmp_type() {
                    128 => 129,
                    129 => 128,
                    139 => 140,
                    140 => 139,
                    _ => return None,
                };
                (self.sport, u16::from(t) << 8 | u16::from(self.icmp_code()))
            }
            _ => (self.dport, self.sport),
        };
        Some(Tuple {
            src: self.dst,
            dst: self.src,
            sport,
            dport,
            ..*self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invert_ports_and_icmp() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t = Tuple::from_parts(Family::V4, a, b, 6, &[0x04, 0xd2, 0, 80], 0).unwrap();
        let r = t.invert().unwrap();
        assert_eq!((r.src_ip(), r.sport, r.dport), (b, 80, 1234));
        assert_eq!(r.invert(), Some(t));
        let echo = Tuple::from_parts(Family::V4, a, b, 1, &[8, 0, 0, 0, 0, 7, 0, 1], 0).unwrap();
        let rep = echo.invert().unwrap();
        assert_eq!((rep.icmp_type(), rep.sport), (0, 7));
        let unreach = Tuple::from_parts(Family::V4, a, b, 1, &[3, 3, 0, 0, 0, 0, 0, 0], 0).unwrap();
        assert_eq!(unreach.invert(), None);
        assert_eq!(Tuple::from_parts(Family::V4, a, b, 17, &[1, 2], 0), None);
        assert_eq!(std::mem::size_of::<Tuple>(), 40);
    }
}

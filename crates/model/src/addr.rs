//! Addresses with (possibly non-contiguous) masks and interface names with `+`
//! wildcards, as `struct ipt_ip` stores them.

use std::net::IpAddr;

/// An address and a mask, as `-s 10.0.0.0/8` or `-s 10.0.0.1/255.0.255.0`.
/// The address is stored already masked, as the kernel stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddrMask {
    /// Address (host bits cleared).
    pub addr: IpAddr,
    /// Mask, same family as `addr`.
    pub mask: IpAddr,
}

impl AddrMask {
    /// Builds from an address and a prefix length, clearing host bits.
    pub fn from_prefix(addr: IpAddr, len: u8) -> AddrMask {
        let mask = prefix_mask(addr.is_ipv6(), len);
        AddrMask {
            addr: and(addr, mask),
            mask,
        }
    }

    /// Builds from an address and an explicit mask, clearing host bits.
    pub fn new(addr: IpAddr, mask: IpAddr) -> AddrMask {
        AddrMask {
            addr: and(addr, mask),
            mask,
        }
    }

    /// The prefix length if the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u8> {
        let bits = to_u128(self.mask);
        let width = if self.mask.is_ipv6() { 128 } else { 32 };
        let ones = bits.count_ones();
        let expected = if ones == 0 {
            0
        } else {
            (!0u128 >> (128 - ones)) << (width - ones)
        };
        (bits == expected).then_some(ones as u8)
    }

    /// True when `ip & mask == addr & mask` (the address is masked on both sides, as
    /// the kernel compares, so an address kept with host bits — `-m conntrack` stores
    /// them — still works).
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv6() == self.addr.is_ipv6() && and(ip, self.mask) == and(self.addr, self.mask)
    }
}

/// The mask of a prefix length.
pub fn prefix_mask(v6: bool, len: u8) -> IpAddr {
    if v6 {
        let len = len.min(128) as u32;
        let bits = if len == 0 { 0 } else { !0u128 << (128 - len) };
        IpAddr::V6(bits.into())
    } else {
        let len = len.min(32) as u32;
        let bits = if len == 0 { 0 } else { !0u32 << (32 - len) };
        IpAddr::V4(bits.into())
    }
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u32::from(v) as u128,
        IpAddr::V6(v) => u128::from(v),
    }
}

/// Bitwise AND of two addresses of the same family (the first wins otherwise).
pub fn and(a: IpAddr, m: IpAddr) -> IpAddr {
    match (a, m) {
        (IpAddr::V4(a), IpAddr::V4(m)) => IpAddr::V4((u32::from(a) & u32::from(m)).into()),
        (IpAddr::V6(a), IpAddr::V6(m)) => IpAddr::V6((u128::from(a) & u128::from(m)).into()),
        (a, _) => a,
    }
}

/// An interface name as given to `-i`/`-o`: `eth0`, or `eth+` (any name starting
/// with `eth`, stored as `name = "eth"`, `wildcard = true`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Iface {
    /// The name, without the trailing `+`.
    pub name: String,
    /// True when written with a trailing `+`.
    pub wildcard: bool,
}

impl Iface {
    /// Whether an actual interface name matches.
    pub fn matches(&self, actual: &str) -> bool {
        if self.wildcard {
            actual.starts_with(&self.name)
        } else {
            actual == self.name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_roundtrip() {
        let a = AddrMask::from_prefix("10.1.2.3".parse().unwrap(), 8);
        assert_eq!(a.addr, "10.0.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(a.prefix_len(), Some(8));
        let b = AddrMask::new("10.1.2.3".parse().unwrap(), "255.0.255.0".parse().unwrap());
        assert_eq!(b.prefix_len(), None);
        assert!(b.contains("10.9.2.7".parse().unwrap()));
        let c = AddrMask::from_prefix("fe80::1".parse().unwrap(), 10);
        assert_eq!(c.prefix_len(), Some(10));
        assert!(c.contains("fe80::abcd".parse().unwrap()));
        assert!(!c.contains("10.0.0.1".parse().unwrap()));
        assert_eq!(
            AddrMask::from_prefix("1.2.3.4".parse().unwrap(), 0).prefix_len(),
            Some(0)
        );
    }
}

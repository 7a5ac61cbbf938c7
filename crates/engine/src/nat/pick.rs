//! Kernel: net/netfilter/nf_nat_core.c (`get_unique_tuple`,
//! `find_appropriate_src`, `find_best_ips_proto`,
//! `nf_nat_l4proto_unique_tuple`, `nf_nat_used_tuple`, `nf_in_range`),
//! include/linux/jhash.h (`jhash2`).
//!
//! Choosing the tuple a connection's first packet will look like after NAT
//! in one manip direction:
//! 1. source NAT without `--random*`: keep the packet's own tuple when it is
//!    already in range and unused; when it is not in range (MASQUERADE, SNAT
//!    to another address) reuse an existing mapping of the same source
//!    (address, port, protocol) if it is in range and unused — so one host
//!    port keeps one public port;
//! 2. otherwise pick the address: the only one, or a jhash of the source
//!    (and destination, unless `--persistent`) over the range, so one client
//!    keeps one public address;
//! 3. keep the port when in range and unused; else search: without
//!    `--to-ports` a source port stays in its class (1–511, 600–1023,
//!    1024–65535; destination ports never change), ICMP ids over 0–65535;
//!    the search starts at a random offset (sequentially from the range
//!    start for DNAT without `--random`), tries min(range, 128) values, then
//!    halves the attempts with a new random offset while at least 16.
//!
//! "Unused" means no other connection has the resulting reply tuple. The
//! last-ditch TIME_WAIT eviction (`nf_nat_used_tuple_harder`) is not modelled.

use std::net::IpAddr;

use palisade_conntrack::{Conntrack, CtHandle, Tuple};
use palisade_model::Family;

use super::{Manip, NatRng, Range};

/// Retries per round (`NF_NAT_MAX_ATTEMPTS`).
const MAX_ATTEMPTS: u32 = 128;

/// The tables the search consults.
pub(crate) struct Env<'a> {
    pub ct: &'a Conntrack,
    pub me: CtHandle,
    pub now: u64,
}

impl Env<'_> {
    /// `nf_nat_used_tuple`: the reply of `t` is someone else's.
    fn used(&self, t: &Tuple) -> bool {
        match t.invert() {
            Some(r) => self.ct.tuple_taken(&r, Some(self.me), self.now),
            None => false,
        }
    }
}

fn addr_u128(b: &[u8; 16], f: Family) -> u128 {
    match f {
        Family::V4 => u128::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        Family::V6 => u128::from_be_bytes(*b),
    }
}

fn ip_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// `nf_nat_inet_in_range` (source address) and `l4proto_in_range` for the
/// source side (`nf_in_range`).
fn in_range(t: &Tuple, r: &Range) -> bool {
    if r.map_ips {
        let a = addr_u128(&t.src, t.family);
        if a < ip_u128(r.min_addr) || a > ip_u128(r.max_addr) {
            return false;
        }
    }
    !r.proto_specified || l4_in_range(t, Manip::Src, r)
}

fn l4_in_range(t: &Tuple, m: Manip, r: &Range) -> bool {
    let v = match (t.proto, m) {
        (1 | 58, _) | (6 | 17 | 136 | 132 | 47, Manip::Src) => t.sport,
        (6 | 17 | 136 | 132 | 47, Manip::Dst) => t.dport,
        _ => return true,
    };
    v >= r.min_port && v <= r.max_port
}

/// `jhash2` over 32-bit words (include/linux/jhash.h).
pub(crate) fn jhash2(k: &[u32], initval: u32) -> u32 {
    fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(4);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(6);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(8);
        *b = b.wrapping_add(*a);
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(16);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(19);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(4);
        *b = b.wrapping_add(*a);
    }
    fn fin(a: &mut u32, b: &mut u32, c: &mut u32) {
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(14));
        *a ^= *c;
        *a = a.wrapping_sub(c.rotate_left(11));
        *b ^= *a;
        *b = b.wrapping_sub(a.rotate_left(25));
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(16));
        *a ^= *c;
        *a = a.wrapping_sub(c.rotate_left(4));
        *b ^= *a;
        *b = b.wrapping_sub(a.rotate_left(14));
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(24));
    }
    let init = 0xdead_beef_u32
        .wrapping_add((k.len() as u32) << 2)
        .wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut k = k;
    while k.len() > 3 {
        a = a.wrapping_add(k[0]);
        b = b.wrapping_add(k[1]);
        c = c.wrapping_add(k[2]);
        mix(&mut a, &mut b, &mut c);
        k = &k[3..];
    }
    match k.len() {
        3 => {
            c = c.wrapping_add(k[2]);
            b = b.wrapping_add(k[1]);
            a = a.wrapping_add(k[0]);
            fin(&mut a, &mut b, &mut c);
        }
        2 => {
            b = b.wrapping_add(k[1]);
            a = a.wrapping_add(k[0]);
            fin(&mut a, &mut b, &mut c);
        }
        1 => {
            a = a.wrapping_add(k[0]);
            fin(&mut a, &mut b, &mut c);
        }
        _ => {}
    }
    c
}

/// The address as the kernel's `union nf_inet_addr` words, read in host
/// (little-endian) order as `(__force u32)` does on x86.
fn words(b: &[u8; 16]) -> [u32; 4] {
    let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}

/// `find_best_ips_proto`: the address of the manipulated side.
fn best_ip(t: &mut Tuple, r: &Range, m: Manip) {
    if !r.map_ips {
        return;
    }
    let min = palisade_conntrack::tuple::addr_bytes(r.min_addr);
    let max = palisade_conntrack::tuple::addr_bytes(r.max_addr);
    let var = match m {
        Manip::Src => &mut t.src,
        Manip::Dst => &mut t.dst,
    };
    if min == max {
        *var = min;
        return;
    }
    let nwords = match t.family {
        Family::V4 => 1,
        Family::V6 => 4,
    };
    let src = words(&t.src);
    let dst = words(&t.dst);
    let j0 = jhash2(
        &src,
        if r.persistent {
            0
        } else {
            dst[nwords - 1] ^ u32::from(t.zone)
        },
    );
    let (minw, maxw) = (words(&min), words(&max));
    let mut j = j0;
    let mut full = false;
    let mut out = [0u32; 4];
    for i in 0..nwords {
        let (lo, dist) = if !full {
            let lo = u32::from_be_bytes(minw[i].to_le_bytes());
            let hi = u32::from_be_bytes(maxw[i].to_le_bytes());
            (lo, hi.wrapping_sub(lo).wrapping_add(1))
        } else {
            (0, u32::MAX)
        };
        let v = lo.wrapping_add(((u64::from(j) * u64::from(dist)) >> 32) as u32);
        out[i] = v;
        if v.to_be_bytes() != maxw[i].to_le_bytes() {
            full = true;
        }
        if !r.persistent {
            j ^= dst[i];
        }
    }
    let var = match m {
        Manip::Src => &mut t.src,
        Manip::Dst => &mut t.dst,
    };
    for (i, v) in out.iter().enumerate().take(nwords) {
        var[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
}

/// `nf_nat_l4proto_unique_tuple`.
fn unique_l4(t: &mut Tuple, r: &Range, m: Manip, env: &Env, rng: &mut NatRng) {
    let icmp = matches!(t.proto, 1 | 58);
    let (min, size): (u32, u32) = if icmp {
        if r.proto_specified {
            (
                u32::from(r.min_port),
                u32::from(r.max_port).saturating_sub(u32::from(r.min_port)) + 1,
            )
        } else {
            (0, 65536)
        }
    } else if matches!(t.proto, 6 | 17 | 136 | 132) {
        if r.proto_specified {
            let (a, b) = (u32::from(r.min_port), u32::from(r.max_port));
            let (lo, hi) = if b < a { (b, a) } else { (a, b) };
            (lo, hi - lo + 1)
        } else {
            if m == Manip::Dst {
                return;
            }
            match t.sport {
                0..=511 => (1, 511),
                512..=1023 => (600, 1023 - 600 + 1),
                _ => (1024, 65535 - 1024 + 1),
            }
        }
    } else {
        return;
    };
    let set = |t: &mut Tuple, v: u16| {
        if icmp || m == Manip::Src {
            t.sport = v;
        } else {
            t.dport = v;
        }
    };
    // Replay: the kernel's own pick, when known, wins if it fits.
    if let Some(v) = rng.hint.take() {
        if u32::from(v) >= min && u32::from(v) < min + size {
            let mut c = *t;
            set(&mut c, v);
            if !env.used(&c) {
                *t = c;
                return;
            }
        }
    }
    let mut off: u32 = if r.random_all || m != Manip::Dst {
        u32::from(rng.next_u16())
    } else {
        0
    };
    let mut attempts = size.min(MAX_ATTEMPTS);
    loop {
        for _ in 0..attempts {
            set(t, (min + off % size) as u16);
            if !env.used(t) {
                return;
            }
            off = off.wrapping_add(1) & 0xffff;
        }
        if attempts >= size || attempts < 16 {
            return;
        }
        attempts /= 2;
        off = u32::from(rng.next_u16());
    }
}

/// `get_unique_tuple`: `orig` is the tuple the packet has now (the inverse
/// of the current reply tuple).
pub(crate) fn unique_tuple(
    orig: &Tuple,
    r: &Range,
    m: Manip,
    env: &Env,
    rng: &mut NatRng,
) -> Tuple {
    if m == Manip::Src && !r.random_all {
        if in_range(orig, r) {
            if !env.used(orig) {
                return *orig;
            }
        } else {
            for mut cand in env.ct.src_mappings(orig, env.now) {
                cand.dst = orig.dst;
                cand.dport = orig.dport;
                if in_range(&cand, r) {
                    if !env.used(&cand) {
                        return cand;
                    }
                    break;
                }
            }
        }
    }
    let mut t = *orig;
    best_ip(&mut t, r, m);
    if !r.random_all {
        if r.proto_specified {
            if l4_in_range(&t, m, r) && (r.min_port == r.max_port || !env.used(&t)) {
                return t;
            }
        } else if !env.used(&t) {
            return t;
        }
    }
    unique_l4(&mut t, r, m, env, rng);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jhash2_known_values() {
        // Reference values computed with the kernel's jhash2 algorithm.
        assert_eq!(jhash2(&[], 0), 0xdeadbeef);
        let a = jhash2(&[1, 0, 0, 0], 0);
        let b = jhash2(&[1, 0, 0, 0], 1);
        assert_ne!(a, b);
        assert_eq!(jhash2(&[1, 0, 0, 0], 0), a);
    }
}

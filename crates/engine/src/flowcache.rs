//! Kernel counterpart: net/netfilter/nf_flow_table_ip.c
//! (`nf_flow_offload_ip_hook` → `flow_offload_lookup`): the flowtable finds a
//! flow straight from the packet's header fields, before conntrack builds and
//! hashes a tuple. Here the cache maps those fields to the conntrack entry
//! and direction a full lookup found for an earlier packet of the flow, and
//! for a locally generated packet also to the interface its route chose, so
//! an established packet skips the tuple, the hash-table probe and the route
//! lookup; conntrack still runs its per-packet work (TCP window tracking,
//! timeouts) on that entry.
//!
//! Safe to trust without re-checking the tuple: an entry's tuples never
//! change once it is confirmed, only one confirmed entry holds a tuple, and
//! conntrack refuses a handle whose entry died, expired or was replaced
//! ([`palisade_conntrack::Known::Stale`]). Only flows the flowtable may serve
//! are cached (no raw table, so zone 0 and no NOTRACK; no NAT binding); a
//! route is cached only for packets whose socket chose no interface (then
//! the route depends on the destination alone, and the host is fixed for the
//! engine's life).
//!
//! Direct-mapped, fixed memory (32k slots, 1.75 MiB: both directions of
//! about 16k connections): a collision costs one full lookup.

use palisade_conntrack::CtHandle;
use palisade_model::Family;
use palisade_wire::{L4Meta, PacketMeta};

/// The header fields that name a flow direction: addresses, protocol,
/// ports, and whether the packet is locally generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FastKey([u64; 5]);

impl FastKey {
    /// The key of a TCP or UDP packet with its header (other packets are not
    /// cached), read straight from `datagram`, the bytes `meta` describes:
    /// two loads for an IPv4 packet's addresses and ports, where going
    /// through the descriptor's `IpAddr`s cost a match and a dozen moves.
    #[inline]
    pub(crate) fn of(meta: &PacketMeta, datagram: &[u8], local: bool) -> Option<FastKey> {
        if !matches!(meta.l4, L4Meta::Tcp(_) | L4Meta::Udp(_)) || meta.frag_off != 0 {
            return None;
        }
        let word = |at: usize| -> Option<u64> {
            let b = datagram.get(at..at + 8)?;
            Some(u64::from_ne_bytes(b.try_into().ok()?))
        };
        let l4 = usize::from(meta.l4_off);
        let ports = datagram.get(l4..l4 + 4)?;
        let ports = u32::from_ne_bytes(ports.try_into().ok()?);
        let rest = u64::from(ports) << 32 | u64::from(meta.proto) << 8 | u64::from(local);
        let w = match meta.family {
            Family::V4 => [word(12)?, 0, 0, 0, rest | 2],
            Family::V6 => [word(8)?, word(16)?, word(24)?, word(32)?, rest | 4],
        };
        Some(FastKey(w))
    }

    /// Equality without the `memcmp` call `==` on arrays compiles to.
    #[inline]
    fn same(&self, o: &FastKey) -> bool {
        let (a, b) = (&self.0, &o.0);
        (a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) == 0
    }

    #[inline]
    fn index(&self) -> usize {
        let w = &self.0;
        let x = w[0] ^ w[1].rotate_left(16) ^ w[2].rotate_left(32) ^ w[3].rotate_left(48) ^ w[4];
        (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - BITS)) as usize
    }
}

/// What the cache remembers of a flow direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cached {
    /// The conntrack entry.
    pub handle: CtHandle,
    /// The packet travels in the entry's reply direction.
    pub reply: bool,
    /// Locally generated packets: the output interface's position in the
    /// host's list.
    pub dev: u16,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    key: FastKey,
    val: Cached,
}

const BITS: u32 = 15;

/// Flow directions by header fields, direct-mapped.
#[derive(Debug)]
pub(crate) struct FlowCache {
    /// A fixed-size array: the masked index needs no bounds check.
    slots: Box<[Option<Slot>; 1 << BITS]>,
}

impl Default for FlowCache {
    fn default() -> FlowCache {
        FlowCache {
            slots: vec![None; 1 << BITS]
                .into_boxed_slice()
                .try_into()
                .expect("1 << BITS slots"),
        }
    }
}

impl FlowCache {
    /// What is cached for `k`.
    #[inline]
    pub(crate) fn get(&self, k: &FastKey) -> Option<Cached> {
        match &self.slots[k.index()] {
            Some(s) if s.key.same(k) => Some(s.val),
            _ => None,
        }
    }

    /// Caches `v` for `k` (replacing whatever shared its slot).
    pub(crate) fn put(&mut self, k: FastKey, v: Cached) {
        self.slots[k.index()] = Some(Slot { key: k, val: v });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pkt: &[u8], local: bool) -> Option<FastKey> {
        FastKey::of(&PacketMeta::parse(pkt).unwrap(), pkt, local)
    }

    #[test]
    fn keys_tell_flows_apart() {
        let v4 = |src: u8, sport: u16, proto: u8| {
            let mut p = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 64, proto, 0, 0];
            p.extend_from_slice(&[10, 0, 0, src, 10, 0, 0, 2]);
            p.extend_from_slice(&sport.to_be_bytes());
            p.extend_from_slice(&[0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0, 1, 0, 0, 0, 0]);
            p
        };
        let a = key(&v4(1, 1000, 6), false).unwrap();
        assert_eq!(Some(a), key(&v4(1, 1000, 6), false));
        assert_ne!(Some(a), key(&v4(1, 1000, 6), true));
        assert_ne!(Some(a), key(&v4(3, 1000, 6), false));
        assert_ne!(Some(a), key(&v4(1, 1001, 6), false));
        assert_ne!(Some(a), key(&v4(1, 1000, 17), false));
        // ICMP is never cached.
        assert_eq!(key(&v4(1, 0x0800, 1), false), None);

        let mut c = FlowCache::default();
        assert_eq!(c.get(&a), None);
        let h = Cached {
            handle: CtHandle::default(),
            reply: true,
            dev: 3,
        };
        c.put(a, h);
        assert_eq!(c.get(&a), Some(h));
        let b = key(&v4(1, 1000, 6), true).unwrap();
        assert_eq!(c.get(&b), None);
    }
}

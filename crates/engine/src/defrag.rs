//! Kernel: net/ipv4/netfilter/nf_defrag_ipv4.c (`ipv4_conntrack_defrag`,
//! hooks PRE_ROUTING and LOCAL_OUT at priority −400, before raw),
//! net/ipv4/ip_fragment.c (`ip_frag_queue`, `ip_frag_reasm`),
//! net/ipv4/inet_fragment.c (`inet_frag_queue_insert`),
//! net/ipv6/netfilter/nf_conntrack_reasm.c (`nf_ct_frag6_gather`).
//!
//! With conntrack loaded the rules never see a fragment: fragments are held
//! (`NF_STOLEN`) until their datagram is complete, and the whole datagram
//! then walks every hook, counted once at its full length. Queues are keyed
//! by (family, source, destination, protocol (IPv4), identification,
//! direction). A fragment inside what a queue already holds is a duplicate
//! and is dropped alone; one that partly overlaps kills the queue
//! (RFC 5722 and its IPv4 counterpart since Linux 4.19); so does one past
//! the end the last fragment set, a zero-length one, or a datagram over
//! 65535 bytes. An incomplete queue is forgotten after `ipfrag_time` (30 s);
//! the kernel's "reassembly time exceeded" ICMP is not sent for conntrack's
//! queues of forwarded traffic (`frag_expire_skip_icmp`) and is not modelled
//! for local ones. Held bytes are bounded like `ipfrag_high_thresh` (4 MiB):
//! past it new fragments are dropped.
//!
//! Fragments are rare and slow; this path allocates freely.

use hashbrown::HashMap;

use crate::Nanos;

/// `net.ipv4.ipfrag_time`: 30 s.
const FRAG_TIME: Nanos = 30_000_000_000;
/// `net.ipv4.ipfrag_high_thresh`: 4 MiB.
const HIGH_THRESH: usize = 4 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    v6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    proto: u8,
    id: u32,
    local: bool,
}

#[derive(Debug)]
struct Queue {
    expires: Nanos,
    /// Unfragmentable part of the offset-0 fragment (IPv4 header with
    /// options; IPv6 header and the extension headers before the fragment
    /// header), once it arrived.
    head: Option<Vec<u8>>,
    /// (offset, payload) of every accepted fragment, sorted by offset, not
    /// overlapping.
    frags: Vec<(usize, Vec<u8>)>,
    /// Datagram payload length, set by the last fragment.
    len: Option<usize>,
    /// Highest end seen so far.
    max_end: usize,
    /// IPv4: largest fragment seen, and largest with DF set.
    max_size: usize,
    max_df_size: usize,
    held: usize,
}

/// What happened to one fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum Gathered {
    /// Not a fragment: carry on with it.
    Whole,
    /// Held until its datagram completes (`NF_STOLEN`).
    Held,
    /// The datagram is complete: this is it.
    Done(Vec<u8>),
    /// Dropped (bad, duplicate, overlapping, or memory full).
    Dropped,
}

/// Reassembly queues (one engine has one; `palisade replay` uses another
/// to put back together the fragments a capture shows leaving the host).
#[derive(Debug, Default)]
pub struct Defrag {
    queues: HashMap<Key, Queue>,
    held: usize,
}

/// The parts of a fragment the queue needs.
struct Frag<'a> {
    key: Key,
    /// Unfragmentable part (header).
    head: &'a [u8],
    offset: usize,
    more: bool,
    df: bool,
    payload: &'a [u8],
    /// Size of the fragment on the wire (for IPv4's DF bookkeeping).
    size: usize,
}

fn v4_frag(d: &[u8], local: bool) -> Option<Result<Frag<'_>, ()>> {
    let ihl = usize::from(d.first()? & 0x0f) * 4;
    let tot = usize::from(u16::from_be_bytes([*d.get(2)?, *d.get(3)?]));
    let fo = u16::from_be_bytes([*d.get(6)?, *d.get(7)?]);
    if fo & 0x3fff == 0 {
        return None;
    }
    if ihl < 20 || tot < ihl || tot > d.len() {
        return Some(Err(()));
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src[..4].copy_from_slice(&d[12..16]);
    dst[..4].copy_from_slice(&d[16..20]);
    Some(Ok(Frag {
        key: Key {
            v6: false,
            src,
            dst,
            proto: d[9],
            id: u32::from(u16::from_be_bytes([d[4], d[5]])),
            local,
        },
        head: &d[..ihl],
        offset: usize::from(fo & 0x1fff) * 8,
        more: fo & 0x2000 != 0,
        df: fo & 0x4000 != 0,
        payload: &d[ihl..tot],
        size: tot,
    }))
}

/// The fragment header of an IPv6 datagram: (offset of the byte naming it,
/// its offset).
fn v6_frag_header(d: &[u8]) -> Option<(usize, usize)> {
    let mut next = *d.get(6)?;
    let mut prev = 6;
    let mut off = 40;
    for _ in 0..8 {
        match next {
            44 => return Some((prev, off)),
            0 | 43 | 60 => {
                let len = (usize::from(*d.get(off + 1)?) + 1) * 8;
                prev = off;
                next = *d.get(off)?;
                off += len;
            }
            51 => {
                let len = (usize::from(*d.get(off + 1)?) + 2) * 4;
                prev = off;
                next = *d.get(off)?;
                off += len;
            }
            _ => return None,
        }
    }
    None
}

fn v6_frag(d: &[u8], local: bool) -> Option<Result<Frag<'_>, ()>> {
    let (_, fh) = v6_frag_header(d)?;
    let end = 40 + usize::from(u16::from_be_bytes([*d.get(4)?, *d.get(5)?]));
    if fh + 8 > end || end > d.len() {
        return Some(Err(()));
    }
    let fo = u16::from_be_bytes([d[fh + 2], d[fh + 3]]);
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&d[8..24]);
    dst.copy_from_slice(&d[24..40]);
    Some(Ok(Frag {
        key: Key {
            v6: true,
            src,
            dst,
            proto: 0,
            id: u32::from_be_bytes([d[fh + 4], d[fh + 5], d[fh + 6], d[fh + 7]]),
            local,
        },
        // The fragment header stays in `head` until reassembly drops it.
        head: &d[..fh + 8],
        offset: usize::from(fo & 0xfff8),
        more: fo & 1 != 0,
        df: false,
        payload: &d[fh + 8..end],
        size: end,
    }))
}

impl Defrag {
    /// Offers a datagram at the defrag hook of its direction (`local`:
    /// LOCAL_OUT, else PRE_ROUTING).
    pub fn gather(&mut self, now: Nanos, d: &[u8], local: bool) -> Gathered {
        self.expire(now);
        let f = match d.first().map(|b| b >> 4) {
            Some(4) => v4_frag(d, local),
            Some(6) => v6_frag(d, local),
            _ => None,
        };
        let f = match f {
            None => return Gathered::Whole,
            Some(Err(())) => return Gathered::Dropped,
            Some(Ok(f)) => f,
        };
        // An IPv6 "atomic fragment" (offset 0, no more) is reassembled at
        // once: just the fragment header goes.
        let mut end = f.offset + f.payload.len();
        let mut payload = f.payload;
        if f.more {
            // ip_frag_queue: a non-last fragment is cut to a multiple of 8.
            end &= !7;
            if end < f.offset {
                return Gathered::Dropped;
            }
            payload = &payload[..end - f.offset];
        }
        if end > 65535 || (f.key.v6 && f.more && f.payload.len() & 7 != 0) {
            // nf_ct_frag6_queue: a non-last IPv6 fragment must be a
            // multiple of 8 (ICMPv6 parameter problem on hosts).
            return Gathered::Dropped;
        }
        if self.held + payload.len() > HIGH_THRESH && !self.queues.contains_key(&f.key) {
            return Gathered::Dropped;
        }
        let q = self.queues.entry(f.key).or_insert_with(|| Queue {
            expires: now + FRAG_TIME,
            head: None,
            frags: Vec::new(),
            len: None,
            max_end: 0,
            max_size: 0,
            max_df_size: 0,
            held: 0,
        });
        let bad = if !f.more {
            // The last fragment fixes the length; nothing may lie beyond.
            end < q.max_end || q.len.is_some_and(|l| l != end)
        } else {
            q.len.is_some_and(|l| end > l)
        };
        if bad || end == f.offset {
            self.kill(&f.key);
            return Gathered::Dropped;
        }
        match insert(&q.frags, f.offset, end) {
            Insert::Dup => return Gathered::Dropped,
            Insert::Overlap => {
                self.kill(&f.key);
                return Gathered::Dropped;
            }
            Insert::At(i) => q.frags.insert(i, (f.offset, payload.to_vec())),
        }
        if !f.more {
            q.len = Some(end);
        }
        if f.offset == 0 {
            q.head = Some(f.head.to_vec());
        }
        q.max_end = q.max_end.max(end);
        q.max_size = q.max_size.max(f.size);
        if f.df {
            q.max_df_size = q.max_df_size.max(f.size);
        }
        q.held += payload.len();
        self.held += payload.len();
        let complete = q.head.is_some()
            && q.len
                .is_some_and(|l| q.frags.iter().map(|(_, p)| p.len()).sum::<usize>() == l);
        if !complete {
            return Gathered::Held;
        }
        let Some(q) = self.queues.remove(&f.key) else {
            return Gathered::Dropped;
        };
        self.held -= q.held;
        reassemble(q, f.key.v6).map_or(Gathered::Dropped, Gathered::Done)
    }

    fn kill(&mut self, k: &Key) {
        if let Some(q) = self.queues.remove(k) {
            self.held -= q.held;
        }
    }

    fn expire(&mut self, now: Nanos) {
        if self.queues.is_empty() {
            return;
        }
        let mut freed = 0;
        self.queues.retain(|_, q| {
            let keep = q.expires > now;
            if !keep {
                freed += q.held;
            }
            keep
        });
        self.held -= freed;
    }
}

enum Insert {
    At(usize),
    Dup,
    Overlap,
}

/// `inet_frag_queue_insert`: where [offset, end) goes among the runs of
/// contiguous fragments already held.
fn insert(frags: &[(usize, Vec<u8>)], offset: usize, end: usize) -> Insert {
    // Runs of contiguous fragments, as the kernel merges them.
    let mut i = 0;
    while i < frags.len() {
        let start = frags[i].0;
        let mut j = i;
        let mut run_end = start + frags[i].1.len();
        while j + 1 < frags.len() && frags[j + 1].0 == run_end {
            j += 1;
            run_end += frags[j].1.len();
        }
        if end <= start {
            return Insert::At(i);
        }
        if offset < run_end {
            return if offset >= start && end <= run_end {
                Insert::Dup
            } else {
                Insert::Overlap
            };
        }
        i = j + 1;
    }
    Insert::At(frags.len())
}

/// `ip_frag_reasm` / `nf_ct_frag6_reasm`: the head's header, every payload
/// in order; IPv4 gets its total length, DF as the kernel sets it and a new
/// checksum; IPv6 loses the fragment header.
fn reassemble(q: Queue, v6: bool) -> Option<Vec<u8>> {
    let head = q.head?;
    let len = q.len?;
    let mut out = Vec::with_capacity(head.len() + len);
    if v6 {
        let (prev, fh) = v6_frag_header(&head)?;
        let next = *head.get(fh)?;
        out.extend_from_slice(&head[..fh]);
        out[prev] = next;
        let plen = fh - 40 + len;
        if plen > 65535 {
            return None;
        }
        out[4..6].copy_from_slice(&(plen as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&head);
        let tot = head.len() + len;
        if tot > 65535 {
            return None;
        }
        out[2..4].copy_from_slice(&(tot as u16).to_be_bytes());
        // DF only if the largest fragment carried it (IPSKB_FRAG_PMTU).
        let df: u16 = if q.max_df_size != 0 && q.max_df_size == q.max_size {
            0x4000
        } else {
            0
        };
        out[6..8].copy_from_slice(&df.to_be_bytes());
        out[10..12].copy_from_slice(&[0, 0]);
        let c = palisade_wire::checksum::checksum(&out[..head.len()]);
        out[10..12].copy_from_slice(&c.to_be_bytes());
    }
    for (_, p) in &q.frags {
        out.extend_from_slice(p);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv4 fragment of a UDP datagram (id 7) at `off` bytes.
    fn v4(off: usize, more: bool, payload: &[u8]) -> Vec<u8> {
        let mut d = vec![
            0x45, 0, 0, 0, 0, 7, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let tot = (20 + payload.len()) as u16;
        d[2..4].copy_from_slice(&tot.to_be_bytes());
        let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
        d[6..8].copy_from_slice(&fo.to_be_bytes());
        d.extend_from_slice(payload);
        d
    }

    #[test]
    fn reassembles_in_any_order() {
        let data: Vec<u8> = (0..40u8).collect();
        let mut df = Defrag::default();
        assert_eq!(
            df.gather(0, &v4(24, false, &data[24..]), false),
            Gathered::Held
        );
        assert_eq!(
            df.gather(1, &v4(0, true, &data[..16]), false),
            Gathered::Held
        );
        let Gathered::Done(d) = df.gather(2, &v4(16, true, &data[16..24]), false) else {
            panic!("not reassembled");
        };
        assert_eq!(&d[20..], &data[..]);
        assert_eq!(u16::from_be_bytes([d[2], d[3]]), 60);
        assert_eq!(u16::from_be_bytes([d[6], d[7]]), 0);
        assert!(palisade_wire::checksum::ipv4_header_ok(&d));
        assert_eq!(df.held, 0);
        assert!(df.queues.is_empty());
    }

    #[test]
    fn duplicates_are_dropped_overlaps_kill_the_queue() {
        let data = [1u8; 48];
        let mut df = Defrag::default();
        assert_eq!(
            df.gather(0, &v4(0, true, &data[..16]), false),
            Gathered::Held
        );
        assert_eq!(
            df.gather(0, &v4(0, true, &data[..8]), false),
            Gathered::Dropped
        );
        assert_eq!(df.queues.len(), 1, "a duplicate leaves the queue");
        assert_eq!(
            df.gather(0, &v4(8, true, &data[..16]), false),
            Gathered::Dropped
        );
        assert!(df.queues.is_empty(), "an overlap kills it");
        assert_eq!(df.held, 0);
    }

    #[test]
    fn queues_expire_and_bad_lengths_are_refused() {
        let data = [1u8; 48];
        let mut df = Defrag::default();
        assert_eq!(
            df.gather(0, &v4(0, true, &data[..16]), false),
            Gathered::Held
        );
        assert_eq!(
            df.gather(FRAG_TIME + 1, &v4(16, false, &data[..8]), false),
            Gathered::Held
        );
        assert_eq!(df.queues.len(), 1, "the old queue went, a new one started");
        // Past the end the last fragment fixed.
        assert_eq!(
            df.gather(FRAG_TIME + 2, &v4(24, true, &data[..8]), false),
            Gathered::Dropped
        );
        assert!(df.queues.is_empty());
        assert_eq!(
            df.gather(0, &v4(0, false, &data[..8]), false),
            Gathered::Whole
        );
    }

    proptest::proptest! {
        /// Any sequence of fragments, well-formed or not, in any order:
        /// no panic, the byte account matches the queues, and a datagram
        /// that completes is exactly the bytes that were cut.
        #[test]
        fn any_fragments_keep_the_books(
            cuts in proptest::collection::vec((0usize..80, 1usize..40, proptest::bool::ANY), 1..20),
            garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..60),
        ) {
            let data: Vec<u8> = (0..200u8).collect();
            let mut df = Defrag::default();
            let _ = df.gather(0, &garbage, false);
            for (k, (off8, len, more)) in cuts.into_iter().enumerate() {
                let off = off8 * 8;
                let end = (off + len).min(data.len());
                if off >= end {
                    continue;
                }
                match df.gather(k as u64, &v4(off, more, &data[off..end]), false) {
                    Gathered::Done(d) => {
                        let n = d.len() - 20;
                        proptest::prop_assert_eq!(&d[20..], &data[..n]);
                    }
                    Gathered::Whole => proptest::prop_assert!(off == 0 && !more),
                    Gathered::Held | Gathered::Dropped => {}
                }
                let sum: usize = df.queues.values().map(|q| q.held).sum();
                proptest::prop_assert_eq!(sum, df.held);
            }
        }
    }
}

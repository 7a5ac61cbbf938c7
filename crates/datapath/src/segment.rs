//! Kernel: net/ipv4/tcp_offload.c (`tcp_gso_segment`), net/ipv4/ip_output.c
//! (`ip_do_fragment`).
//!
//! The daemon sends some forwarded IPv4 packets itself, from a raw socket
//! (source-NATed packets, see [`crate::nfqueue::needs_resend`]). A raw
//! socket refuses anything larger than the route's MTU, but the queue hands
//! over GRO-merged TCP packets (up to 64 KiB) and datagrams conntrack
//! reassembled. Where the kernel would segment (GSO) or fragment them on the
//! way out, this module does the same in userspace:
//!
//! - an unfragmented TCP packet is cut into segments of `mtu − headers`
//!   payload bytes: sequence numbers advance, the IP ID counts up per
//!   segment, FIN and PSH stay on the last segment only and CWR on the first
//!   only, checksums are recomputed;
//! - anything else without DF set is split into fragments (payload in
//!   multiples of 8 bytes, offsets and MF set as `ip_do_fragment` does);
//! - a too-large packet with DF set cannot be sent as is: the kernel would
//!   answer with "fragmentation needed"; the caller counts it as not sent.

use std::net::{IpAddr, Ipv4Addr};

use palisade_wire::checksum;

/// The datagrams to send for `d` on a link of `mtu` bytes: `d` itself when
/// it fits, its TCP segments or IPv4 fragments otherwise; `None` when it
/// cannot be sent (DF set and not TCP, IP options on a fragment, headers
/// that do not parse, an MTU too small for the headers).
pub fn fit_mtu(d: &[u8], mtu: usize) -> Option<Vec<Vec<u8>>> {
    if d.len() <= mtu {
        return Some(vec![d.to_vec()]);
    }
    if d.len() < 20 || d[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(d[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([d[2], d[3]]));
    if ihl < 20 || total < ihl || total > d.len() {
        return None;
    }
    let d = &d[..total];
    if d.len() <= mtu {
        return Some(vec![d.to_vec()]);
    }
    let frag = u16::from_be_bytes([d[6], d[7]]);
    let fragmented = frag & 0x3fff != 0;
    if d[9] == 6 && !fragmented {
        return tcp_segments(d, ihl, mtu);
    }
    if frag & 0x4000 != 0 || ihl != 20 {
        return None;
    }
    fragments(d, mtu)
}

fn ip_header_fix(p: &mut [u8], ihl: usize) {
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p[10] = 0;
    p[11] = 0;
    let c = checksum::checksum(&p[..ihl]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

fn tcp_segments(d: &[u8], ihl: usize, mtu: usize) -> Option<Vec<Vec<u8>>> {
    let th = d.get(ihl..ihl + 20)?;
    let thl = usize::from(th[12] >> 4) * 4;
    if thl < 20 || d.len() < ihl + thl {
        return None;
    }
    let mss = mtu.checked_sub(ihl + thl).filter(|m| *m >= 8)?;
    let src = IpAddr::V4(Ipv4Addr::new(d[12], d[13], d[14], d[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(d[16], d[17], d[18], d[19]));
    let seq0 = u32::from_be_bytes([th[4], th[5], th[6], th[7]]);
    let id0 = u16::from_be_bytes([d[4], d[5]]);
    let payload = &d[ihl + thl..];
    let n = payload.len().div_ceil(mss);
    let mut out = Vec::with_capacity(n);
    for (i, chunk) in payload.chunks(mss).enumerate() {
        let mut p = Vec::with_capacity(ihl + thl + chunk.len());
        p.extend_from_slice(&d[..ihl + thl]);
        p.extend_from_slice(chunk);
        p[4..6].copy_from_slice(&id0.wrapping_add(i as u16).to_be_bytes());
        let seq = seq0.wrapping_add((i * mss) as u32);
        p[ihl + 4..ihl + 8].copy_from_slice(&seq.to_be_bytes());
        if i + 1 < n {
            p[ihl + 13] &= !(0x01 | 0x08); // FIN, PSH: last segment only
        }
        if i > 0 {
            p[ihl + 13] &= !0x80; // CWR: first segment only
        }
        ip_header_fix(&mut p, ihl);
        checksum::fill_l4(&mut p, ihl, src, dst, 6);
        out.push(p);
    }
    Some(out)
}

fn fragments(d: &[u8], mtu: usize) -> Option<Vec<Vec<u8>>> {
    let ihl = 20;
    let step = (mtu.checked_sub(ihl)? / 8) * 8;
    if step == 0 {
        return None;
    }
    let frag = u16::from_be_bytes([d[6], d[7]]);
    let base = usize::from(frag & 0x1fff) * 8;
    let more = frag & 0x2000 != 0;
    let payload = &d[ihl..];
    let n = payload.len().div_ceil(step);
    let mut out = Vec::with_capacity(n);
    for (i, chunk) in payload.chunks(step).enumerate() {
        let mut p = Vec::with_capacity(ihl + chunk.len());
        p.extend_from_slice(&d[..ihl]);
        p.extend_from_slice(chunk);
        let off = ((base + i * step) / 8) as u16 & 0x1fff;
        let mf = if i + 1 < n || more { 0x2000 } else { 0 };
        let keep = frag & 0x8000; // the reserved bit travels along
        p[6..8].copy_from_slice(&(keep | mf | off).to_be_bytes());
        ip_header_fix(&mut p, ihl);
        out.push(p);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_wire::PacketMeta;

    fn tcp(payload: usize, flags: u8, df: bool) -> Vec<u8> {
        let total = 20 + 20 + payload;
        let mut d = vec![0u8; total];
        d[0] = 0x45;
        d[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        d[4..6].copy_from_slice(&100u16.to_be_bytes());
        if df {
            d[6] = 0x40;
        }
        d[8] = 63;
        d[9] = 6;
        d[12..16].copy_from_slice(&[10, 0, 1, 1]);
        d[16..20].copy_from_slice(&[10, 0, 1, 2]);
        d[20..22].copy_from_slice(&2222u16.to_be_bytes());
        d[22..24].copy_from_slice(&80u16.to_be_bytes());
        d[24..28].copy_from_slice(&0xffff_ff00u32.to_be_bytes());
        d[32] = 5 << 4;
        d[33] = flags;
        for (i, b) in d[40..].iter_mut().enumerate() {
            *b = i as u8;
        }
        ip_header_fix(&mut d, 20);
        let (s, t) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 1, 2)),
        );
        checksum::fill_l4(&mut d, 20, s, t, 6);
        d
    }

    fn valid(p: &[u8]) -> bool {
        let meta = PacketMeta::parse(p).unwrap();
        checksum::ipv4_header_ok(p) && checksum::verify_l4(p, &meta)
    }

    #[test]
    fn small_packets_pass_whole() {
        let d = tcp(100, 0x18, true);
        assert_eq!(fit_mtu(&d, 1500).unwrap(), vec![d]);
    }

    #[test]
    fn gro_tcp_is_segmented() {
        let d = tcp(4000, 0x80 | 0x18 | 0x01, true); // CWR, PSH+ACK, FIN
        let segs = fit_mtu(&d, 1500).unwrap();
        assert_eq!(segs.len(), 3);
        let mut payload = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            assert!(s.len() <= 1500);
            assert!(valid(s), "segment {i}");
            let seq = u32::from_be_bytes([s[24], s[25], s[26], s[27]]);
            assert_eq!(seq, 0xffff_ff00u32.wrapping_add(payload.len() as u32));
            assert_eq!(u16::from_be_bytes([s[4], s[5]]), 100 + i as u16);
            let flags = s[33];
            assert_eq!(flags & 0x80 != 0, i == 0);
            assert_eq!(flags & 0x09 != 0, i == 2);
            assert!(flags & 0x10 != 0);
            payload.extend_from_slice(&s[40..]);
        }
        assert_eq!(payload, d[40..]);
    }

    #[test]
    fn big_datagrams_are_fragmented_unless_df() {
        let mut d = tcp(3000, 0x18, false);
        d[9] = 17; // any non-TCP protocol: fragmented as a whole
        ip_header_fix(&mut d, 20);
        let frags = fit_mtu(&d, 1500).unwrap();
        assert_eq!(frags.len(), 3);
        let mut payload = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            assert!(f.len() <= 1500 && checksum::ipv4_header_ok(f));
            let frag = u16::from_be_bytes([f[6], f[7]]);
            assert_eq!(usize::from(frag & 0x1fff) * 8, payload.len());
            assert_eq!(frag & 0x2000 != 0, i < 2);
            payload.extend_from_slice(&f[20..]);
        }
        assert_eq!(payload, d[20..]);
        // DF set: cannot be sent.
        d[6] = 0x40;
        ip_header_fix(&mut d, 20);
        assert!(fit_mtu(&d, 1500).is_none());
        // Garbage never panics.
        assert!(fit_mtu(&[0x45; 3000], 1500).is_none());
        assert!(fit_mtu(&[0x4f, 0, 0xff, 0xff], 2).is_none());
        assert!(fit_mtu(&tcp(3000, 0, true), 30).is_none());
    }
}

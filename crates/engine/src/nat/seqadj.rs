//! Kernel: net/netfilter/nf_nat_helper.c (`__nf_nat_mangle_tcp_packet`,
//! `mangle_contents`, `enlarge_skb`), nf_nat_core.c (`nf_nat_csum_recalc`),
//! net/netfilter/nf_conntrack_seqadj.c (`nf_ct_seq_adjust`,
//! `nf_ct_sack_adjust`, `nf_ct_sack_block_adjust`), nf_nat_ftp.c
//! (`nf_nat_follow_master` lives in nat/mod.rs).
//!
//! Payload rewrites that change a datagram's length, and the sequence
//! corrections they leave behind.
//!
//! A mangle replaces bytes of the TCP payload, refusing a datagram that
//! would exceed 65535 bytes; the IP length is set (IPv4 total length with a
//! freshly computed header checksum, IPv6 payload length) and the TCP
//! checksum computed over the whole segment again, as the kernel does for
//! packets without checksum offload.
//!
//! Every later packet of a connection with `IPS_SEQ_ADJUST` (at the confirm
//! point, after the helper, never for packets received on loopback) gets
//! its sequence number moved by its own direction's offset, its ACK and
//! every SACK block edge moved back by the other direction's, each with an
//! incremental checksum update (`inet_proto_csum_replace4`). A malformed
//! option list (an option running past the header) drops the packet.

use palisade_conntrack::{Conntrack, CtHandle, Mangle, SeqAdj};
use palisade_model::Family;
use palisade_wire::checksum;
use palisade_wire::{L4Meta, PacketMeta};

/// `inet_proto_csum_replace4` without pseudo-header: the kernel's 32-bit
/// ones' complement update (`csum_fold(csum_add(csum_sub(~sum, from), to))`).
pub(crate) fn csum_replace4(check: u16, from: u32, to: u32) -> u16 {
    fn add(a: u32, b: u32) -> u32 {
        let (r, c) = a.overflowing_add(b);
        r.wrapping_add(u32::from(c))
    }
    let acc = add(add(!u32::from(check), !from), to);
    let s = (acc & 0xffff) + (acc >> 16);
    let s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

/// `__nf_nat_mangle_tcp_packet`: replaces `m.len` bytes at `m.off` of the
/// TCP payload with `m.text()`. `false`: the datagram would outgrow 65535
/// bytes or the offsets are out of range (the helper drops the packet).
pub(crate) fn mangle_tcp(data: &mut Vec<u8>, meta: &mut PacketMeta, m: &Mangle) -> bool {
    let L4Meta::Tcp(th) = meta.l4 else {
        return false;
    };
    let l4 = usize::from(meta.l4_off);
    let end = usize::from(meta.len).min(data.len());
    let start = l4 + usize::from(th.hdr_len) + m.off;
    let Some(stop) = start.checked_add(m.len).filter(|&s| s <= end) else {
        return false;
    };
    let rep = m.text();
    let new_len = end - m.len + rep.len();
    if new_len > 65535 {
        return false;
    }
    // Bytes past the IP length (link padding) are not part of the datagram.
    data.truncate(end);
    data.splice(start..stop, rep.iter().copied());
    set_ip_len(data, meta.family, new_len);
    checksum::fill_l4(data, l4, meta.src, meta.dst, 6);
    match PacketMeta::parse(data) {
        Ok(n) => {
            *meta = n;
            true
        }
        Err(_) => false,
    }
}

/// Sets the IP length fields of a datagram now `len` bytes long.
pub(crate) fn set_ip_len(data: &mut [u8], family: Family, len: usize) {
    match family {
        Family::V4 => {
            if data.len() < 20 {
                return;
            }
            data[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            let ihl = usize::from(data[0] & 0x0f) * 4;
            data[10] = 0;
            data[11] = 0;
            if let Some(h) = data.get(..ihl) {
                let c = checksum::checksum(h);
                data[10..12].copy_from_slice(&c.to_be_bytes());
            }
        }
        Family::V6 => {
            if data.len() < 40 {
                return;
            }
            let pl = len.saturating_sub(40) as u16;
            data[4..6].copy_from_slice(&pl.to_be_bytes());
        }
    }
}

fn rd32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

fn after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

/// `nf_ct_seq_adjust` for a packet of direction `dir`. `false`: drop.
pub(crate) fn adjust(
    ct: &Conntrack,
    h: CtHandle,
    dir: usize,
    data: &mut [u8],
    meta: &mut PacketMeta,
) -> bool {
    let Some(adj) = ct.seqadj(h) else {
        return true;
    };
    let L4Meta::Tcp(th) = meta.l4 else {
        return true;
    };
    let l4 = usize::from(meta.l4_off);
    let hl = usize::from(th.hdr_len);
    if data.len() < l4 + hl.max(20) {
        return false;
    }
    let (this, other) = (adj[dir & 1], adj[1 - (dir & 1)]);
    let cs = l4 + 16;
    let mut check = u16::from_be_bytes([data[cs], data[cs + 1]]);
    let seq = rd32(data, l4 + 4);
    let off = if after(seq, this.correction_pos) {
        this.offset_after
    } else {
        this.offset_before
    };
    let newseq = seq.wrapping_add(off as u32);
    check = csum_replace4(check, seq, newseq);
    data[l4 + 4..l4 + 8].copy_from_slice(&newseq.to_be_bytes());
    let mut ok = true;
    if th.flags & 0x10 != 0 {
        let ack = rd32(data, l4 + 8);
        let ackoff = if after(
            ack.wrapping_sub(other.offset_before as u32),
            other.correction_pos,
        ) {
            other.offset_after
        } else {
            other.offset_before
        };
        let newack = ack.wrapping_sub(ackoff as u32);
        check = csum_replace4(check, ack, newack);
        data[l4 + 8..l4 + 12].copy_from_slice(&newack.to_be_bytes());
        ok = sack_adjust(&mut data[l4..l4 + hl], &other, &mut check);
    }
    data[cs..cs + 2].copy_from_slice(&check.to_be_bytes());
    if let Ok(m) = PacketMeta::parse(data) {
        *meta = m;
    }
    ok
}

/// `nf_ct_sack_adjust` over the TCP header `hdr`. `false`: a partial option.
fn sack_adjust(hdr: &mut [u8], other: &SeqAdj, check: &mut u16) -> bool {
    let end = hdr.len();
    let mut i = 20usize;
    while i < end {
        match hdr[i] {
            0 => return true,
            1 => i += 1,
            kind => {
                if i + 1 == end {
                    return false;
                }
                let len = usize::from(hdr[i + 1]);
                if i + len > end || len < 2 {
                    return false;
                }
                if kind == 5 && len >= 2 + 8 && (len - 2) % 8 == 0 {
                    let mut b = i + 2;
                    while b < i + len {
                        for at in [b, b + 4] {
                            let v = rd32(hdr, at);
                            let o = if after(
                                v.wrapping_sub(other.offset_before as u32),
                                other.correction_pos,
                            ) {
                                other.offset_after
                            } else {
                                other.offset_before
                            };
                            let nv = v.wrapping_sub(o as u32);
                            *check = csum_replace4(*check, v, nv);
                            hdr[at..at + 4].copy_from_slice(&nv.to_be_bytes());
                        }
                        b += 8;
                    }
                }
                i += len;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp4(seq: u32, ack: u32, opts: &[u8], payload: &[u8]) -> Vec<u8> {
        let hl = 20 + opts.len();
        let total = 20 + hl + payload.len();
        let mut d = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        d.extend_from_slice(&[10, 0, 1, 2, 10, 0, 2, 2]);
        let c = checksum::checksum(&d);
        d[10..12].copy_from_slice(&c.to_be_bytes());
        d.extend_from_slice(&[0x13, 0x88, 0, 21]);
        d.extend_from_slice(&seq.to_be_bytes());
        d.extend_from_slice(&ack.to_be_bytes());
        d.extend_from_slice(&[((hl / 4) << 4) as u8, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        d.extend_from_slice(opts);
        d.extend_from_slice(payload);
        checksum::fill_l4(
            &mut d,
            20,
            "10.0.1.2".parse().unwrap(),
            "10.0.2.2".parse().unwrap(),
            6,
        );
        d
    }

    fn valid(d: &[u8]) -> bool {
        let m = PacketMeta::parse(d).unwrap();
        checksum::ipv4_header_ok(d) && checksum::verify_l4(d, &m) && usize::from(m.len) == d.len()
    }

    #[test]
    fn mangle_grows_and_shrinks() {
        let mut d = tcp4(1000, 1, &[], b"PORT 10,0,1,2,19,137\r\n");
        let mut meta = PacketMeta::parse(&d).unwrap();
        let m = Mangle::new(5, 15, "192,168,100,100,19,137", 0, 1000);
        assert!(mangle_tcp(&mut d, &mut meta, &m));
        assert!(valid(&d));
        assert_eq!(&d[40..], b"PORT 192,168,100,100,19,137\r\n");
        let m = Mangle::new(5, 22, "1,2,3,4,0,1", 0, 1000);
        assert!(mangle_tcp(&mut d, &mut meta, &m));
        assert!(valid(&d));
        assert_eq!(&d[40..], b"PORT 1,2,3,4,0,1\r\n");
        // Out of range: refused.
        let m = Mangle::new(50, 2, "x", 0, 1000);
        assert!(!mangle_tcp(&mut d, &mut meta, &m));
    }

    #[test]
    fn csum_replace_matches_recompute() {
        let mut d = tcp4(0xfffffff0, 77, &[], b"x");
        let c = u16::from_be_bytes([d[36], d[37]]);
        let nc = csum_replace4(c, 0xfffffff0, 0x10);
        d[24..28].copy_from_slice(&0x10u32.to_be_bytes());
        d[36..38].copy_from_slice(&nc.to_be_bytes());
        assert!(valid(&d));
    }

    #[test]
    fn sack_blocks_and_partial_options() {
        let other = SeqAdj {
            correction_pos: 100,
            offset_before: 0,
            offset_after: 7,
        };
        // NOP NOP SACK(2 blocks)
        let mut opts = vec![1, 1, 5, 18];
        for v in [90u32, 100, 150, 207] {
            opts.extend_from_slice(&v.to_be_bytes());
        }
        let mut d = tcp4(1, 2, &opts, b"");
        let mut check = u16::from_be_bytes([d[36], d[37]]);
        assert!(sack_adjust(&mut d[20..20 + 40], &other, &mut check));
        d[36..38].copy_from_slice(&check.to_be_bytes());
        assert!(valid(&d));
        let got: Vec<u32> = (0..4).map(|k| rd32(&d, 44 + 4 * k)).collect();
        assert_eq!(got, vec![90, 100, 143, 200]);
        // An option claiming more than the header holds.
        let mut d = tcp4(1, 2, &[1, 1, 5, 30], b"");
        assert!(!sack_adjust(&mut d[20..44], &other, &mut check));
    }
}

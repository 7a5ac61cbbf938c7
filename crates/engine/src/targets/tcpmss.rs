//! Kernel: net/netfilter/xt_TCPMSS.c (`tcpmss_mangle_packet`, `optlen`,
//! `tcpmss_tg4`, `tcpmss_tg6`).
//!
//! The target itself does not look at the TCP flags: the legacy kernel
//! interface refuses a rule without a SYN match, but nf_tables-backed
//! iptables does not, and then every segment is mangled (an MSS option is
//! even inserted into a bare ACK), as here. The MSS option is lowered
//! to the given value — or, with `--clamp-mss-to-pmtu`, to the MTU of the
//! route the packet takes minus 40 (IPv4) or 60 (IPv6) bytes — and never
//! raised; the TCP checksum is adjusted incrementally (RFC 1624). A path MTU
//! not above those 40/60 bytes drops the packet. The options are walked as
//! the kernel walks them: end-of-list and NOP count one byte, a zero length
//! counts one byte, and the scan stops once fewer than four bytes remain.
//!
//! A SYN without an MSS option gets one, as in the kernel, when the
//! segment carries no payload and the data offset has room (a header under
//! 60 bytes): four bytes `2 4 mss` go right after the fixed header (the
//! other options move back), valued at most 536 (IPv4, RFC 1122) or 1220
//! (IPv6: minimum MTU 1280 less 60 bytes), the defaults the peer would
//! otherwise assume. Link padding past the IP length is dropped first; the
//! TCP checksum is updated incrementally in the kernel's three steps
//! (segment length, the new option word, the data-offset word) and the IP
//! length with it (IPv4 header checksum updated incrementally too). The
//! kernel lets an IPv6 payload length wrap past 65535 there; we leave such
//! a datagram unchanged instead. Also not modelled: the kernel clamps
//! to the smaller of the outgoing and the reverse route's MTU (all routes of
//! a host share the interface MTU here, so this only matters with per-route
//! `mtu` settings).

use palisade_model::targets::TcpmssTarget;
use palisade_model::Family;
use palisade_wire::{L4Meta, PacketMeta};

use super::TgResult;
use crate::eval::Pkt;

fn csum_update16(check: u16, old: u16, new: u16) -> u16 {
    // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')
    let mut sum = u32::from(!check) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub(crate) fn tg(t: TcpmssTarget, pmtu: u32, pkt: &mut Pkt) -> TgResult {
    let L4Meta::Tcp(th) = pkt.meta.l4 else {
        return TgResult::Continue;
    };
    if pkt.meta.frag_off != 0 {
        return TgResult::Continue;
    }
    let minlen = if pkt.meta.family == palisade_model::Family::V4 {
        40
    } else {
        60
    };
    let newmss = match t {
        TcpmssTarget::Set(m) => m,
        TcpmssTarget::ClampToPmtu => {
            if pmtu <= minlen {
                // "unknown or invalid path-MTU"
                return TgResult::Drop;
            }
            (pmtu - minlen).min(0xffff) as u16
        }
    };
    let l4 = usize::from(pkt.meta.l4_off);
    let hl = usize::from(th.hdr_len);
    let Some(hdr) = pkt.data.get(l4..l4 + hl) else {
        return TgResult::Continue;
    };
    let mut i = 20usize;
    let mut found = None;
    while hl >= 4 && i <= hl - 4 {
        if hdr[i] == 2 && hdr[i + 1] == 4 {
            found = Some(l4 + i + 2);
            break;
        }
        i += if hdr[i] <= 1 || hdr[i + 1] == 0 {
            1
        } else {
            usize::from(hdr[i + 1])
        };
    }
    let Some(at) = found else {
        return insert(pkt, l4, hl, newmss);
    };
    let old = u16::from_be_bytes([pkt.data[at], pkt.data[at + 1]]);
    if old <= newmss {
        return TgResult::Continue;
    }
    pkt.data[at..at + 2].copy_from_slice(&newmss.to_be_bytes());
    let c = l4 + 16;
    let check = u16::from_be_bytes([pkt.data[c], pkt.data[c + 1]]);
    let nc = csum_update16(check, old, newmss);
    pkt.data[c..c + 2].copy_from_slice(&nc.to_be_bytes());
    TgResult::Continue
}

/// The kernel's `tcpmss_mangle_packet` tail: a SYN without an MSS option
/// gets one inserted after the fixed header (the datagram grows by four).
fn insert(pkt: &mut Pkt, l4: usize, hl: usize, newmss: u16) -> TgResult {
    use crate::nat::seqadj::csum_replace4;
    let end = usize::from(pkt.meta.len).min(pkt.data.len());
    let Some(len) = end.checked_sub(l4) else {
        return TgResult::Continue;
    };
    // Payload after the header: the option cannot go in without moving it.
    // A data offset of 15 cannot grow.
    if len > hl || !(20..60).contains(&hl) || end + 4 > 65535 {
        return TgResult::Continue;
    }
    let v4 = pkt.meta.family == Family::V4;
    let newmss = newmss.min(if v4 { 536 } else { 1220 });
    let [hi, lo] = newmss.to_be_bytes();
    let opt = [2u8, 4, hi, lo];
    let d: &mut Vec<u8> = pkt.data;
    d.truncate(end);
    d.splice(l4 + 20..l4 + 20, opt);
    let c = l4 + 16;
    let mut check = u16::from_be_bytes([d[c], d[c + 1]]);
    // The pseudo-header's segment length, then the option word, then the
    // data-offset/flags word, as the kernel updates them.
    check = csum_replace4(check, len as u32, (len + 4) as u32);
    check = csum_replace4(check, 0, u32::from_be_bytes(opt));
    let oldword = u16::from_be_bytes([d[l4 + 12], d[l4 + 13]]);
    d[l4 + 12] += 0x10;
    let newword = u16::from_be_bytes([d[l4 + 12], d[l4 + 13]]);
    check = csum_replace4(check, u32::from(oldword), u32::from(newword));
    d[c..c + 2].copy_from_slice(&check.to_be_bytes());
    if v4 {
        let old = u16::from_be_bytes([d[2], d[3]]);
        let new = old.wrapping_add(4);
        d[2..4].copy_from_slice(&new.to_be_bytes());
        let hc = csum_update16(u16::from_be_bytes([d[10], d[11]]), old, new);
        d[10..12].copy_from_slice(&hc.to_be_bytes());
    } else {
        let old = u16::from_be_bytes([d[4], d[5]]);
        d[4..6].copy_from_slice(&old.wrapping_add(4).to_be_bytes());
    }
    match PacketMeta::parse(d) {
        Ok(m) => {
            pkt.meta = m;
            TgResult::Continue
        }
        // Unreachable for a datagram that parsed before; never keep a
        // descriptor that no longer matches the bytes.
        Err(_) => TgResult::Drop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, tcp_v4};

    #[test]
    fn lowers_mss_and_fixes_checksum() {
        let mut d = tcp_v4(1, 80, 0x02, &[2, 4, 0x05, 0xb4]);
        {
            let mut p = pkt_of(&mut d);
            tg(TcpmssTarget::Set(1400), 1500, &mut p);
        }
        let s = etherparse::SlicedPacket::from_ip(&d).unwrap();
        let Some(etherparse::TransportSlice::Tcp(t)) = s.transport else {
            panic!()
        };
        let opts = t.options();
        assert_eq!(&opts[..4], &[2, 4, 0x05, 0x78]);
        let ip = etherparse::Ipv4HeaderSlice::from_slice(&d).unwrap();
        let want = t
            .to_header()
            .calc_checksum_ipv4_raw(ip.source(), ip.destination(), t.payload())
            .unwrap();
        assert_eq!(t.checksum(), want);
    }

    fn mss_of(d: &[u8]) -> Vec<u8> {
        let s = etherparse::SlicedPacket::from_ip(d).unwrap();
        let Some(etherparse::TransportSlice::Tcp(t)) = s.transport else {
            panic!()
        };
        t.options().to_vec()
    }

    #[test]
    fn kernel_option_walk_and_limits() {
        // EOL before the MSS: the kernel keeps walking (one byte at a time).
        let mut d = tcp_v4(1, 80, 0x02, &[1, 0, 1, 1, 2, 4, 0x05, 0xb4]);
        tg(TcpmssTarget::ClampToPmtu, 1400, &mut pkt_of(&mut d));
        assert_eq!(&mss_of(&d)[4..], &[2, 4, 0x05, 0x50]);
        // Never raised.
        let mut d = tcp_v4(1, 80, 0x02, &[2, 4, 0x02, 0x00]);
        tg(TcpmssTarget::Set(1400), 1500, &mut pkt_of(&mut d));
        assert_eq!(&mss_of(&d), &[2, 4, 0x02, 0x00]);
        // Not a SYN: the kernel's target does not check (the rule does).
        let mut d = tcp_v4(1, 80, 0x10, &[2, 4, 0x05, 0xb4]);
        tg(TcpmssTarget::Set(1000), 1500, &mut pkt_of(&mut d));
        assert_eq!(&mss_of(&d), &[2, 4, 0x03, 0xe8]);
        // Path MTU too small: dropped.
        let mut d = tcp_v4(1, 80, 0x02, &[2, 4, 0x05, 0xb4]);
        assert!(matches!(
            tg(TcpmssTarget::ClampToPmtu, 40, &mut pkt_of(&mut d)),
            TgResult::Drop
        ));
    }

    fn tcp_v6(opts: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut b = etherparse::PacketBuilder::ipv6(
            [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            [0xfd, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
        .tcp(40000, 8080, 1000, 64800)
        .syn();
        if !opts.is_empty() {
            b = b.options_raw(opts).expect("options");
        }
        let mut v = Vec::new();
        b.write(&mut v, payload).expect("write");
        v
    }

    /// Runs the target and checks what every later hook relies on: the
    /// descriptor matches the bytes, both checksums hold.
    fn run(t: TcpmssTarget, pmtu: u32, d: &mut Vec<u8>) -> TgResult {
        let mut p = pkt_of(d);
        let r = tg(t, pmtu, &mut p);
        let meta = p.meta;
        assert_eq!(meta, PacketMeta::parse(d).unwrap());
        assert_eq!(usize::from(meta.len), d.len());
        assert!(palisade_wire::checksum::verify_l4(d, &meta));
        if meta.family == Family::V4 {
            assert!(palisade_wire::checksum::ipv4_header_ok(d));
        }
        r
    }

    #[test]
    fn inserts_mss_into_v4_syn_without_options() {
        let mut d = tcp_v4(1, 80, 0x02, &[]);
        let before = d.clone();
        run(TcpmssTarget::ClampToPmtu, 1400, &mut d);
        // 1360 is above the IPv4 default: 536 goes in.
        let mut want = before.clone();
        want.splice(40..40, [2, 4, 0x02, 0x18]);
        want[3] = 44;
        want[32] = 0x60;
        assert_eq!(d.len(), 44);
        assert_eq!(&d[..10], &want[..10]);
        assert_eq!(&d[12..16 + 2], &want[12..18]);
        assert_eq!(&d[20..36], &want[20..36]);
        assert_eq!(&d[38..], &want[38..]);
        // Both checksums: recomputed in full, they agree.
        let mut full = want.clone();
        palisade_wire::checksum::fill_l4(
            &mut full,
            20,
            "10.0.0.1".parse().unwrap(),
            "192.168.1.10".parse().unwrap(),
            6,
        );
        full[10] = 0;
        full[11] = 0;
        let hc = palisade_wire::checksum::checksum(&full[..20]);
        full[10..12].copy_from_slice(&hc.to_be_bytes());
        assert_eq!(d, full);
        // A lower value is kept as given.
        let mut d = tcp_v4(1, 80, 0x02, &[]);
        run(TcpmssTarget::Set(500), 1500, &mut d);
        assert_eq!(&mss_of(&d), &[2, 4, 0x01, 0xf4]);
    }

    #[test]
    fn inserts_mss_into_v6_syn_without_options() {
        let mut d = tcp_v6(&[], &[]);
        let before = d.clone();
        run(TcpmssTarget::Set(1400), 1500, &mut d);
        assert_eq!(d.len(), 64);
        assert_eq!(u16::from_be_bytes([d[4], d[5]]), 24);
        assert_eq!(&d[60..64], &[2, 4, 0x04, 0xc4]);
        assert_eq!(d[52], 0x60);
        let mut want = before;
        want.splice(60..60, [2, 4, 0x04, 0xc4]);
        want[5] = 24;
        want[52] = 0x60;
        let (s, t) = ("fd00:1::2".parse().unwrap(), "fd00:2::2".parse().unwrap());
        palisade_wire::checksum::fill_l4(&mut want, 40, s, t, 6);
        assert_eq!(d, want);
        // Clamp: 1340 for MTU 1400 is above 1220.
        let mut d = tcp_v6(&[], &[]);
        run(TcpmssTarget::ClampToPmtu, 1400, &mut d);
        assert_eq!(&d[60..64], &[2, 4, 0x04, 0xc4]);
        let mut d = tcp_v6(&[], &[]);
        run(TcpmssTarget::ClampToPmtu, 1200, &mut d);
        assert_eq!(&d[60..64], &[2, 4, 0x04, 0x74]);
    }

    #[test]
    fn insertion_limits() {
        // Other options move back behind the new one.
        let mut d = tcp_v4(1, 80, 0x02, &[1, 1, 4, 2]);
        run(TcpmssTarget::Set(1000), 1500, &mut d);
        assert_eq!(&mss_of(&d), &[2, 4, 0x02, 0x18, 1, 1, 4, 2]);
        // Payload after the header: unchanged.
        let mut d = tcp_v6(&[], b"data");
        let before = d.clone();
        run(TcpmssTarget::Set(1000), 1500, &mut d);
        assert_eq!(d, before);
        // Data offset 15 (40 bytes of options, no MSS): unchanged.
        let mut d = tcp_v4(1, 80, 0x02, &[1; 40]);
        let before = d.clone();
        run(TcpmssTarget::Set(1000), 1500, &mut d);
        assert_eq!(d, before);
        // 36 bytes of options: room for one more word.
        let mut d = tcp_v4(1, 80, 0x02, &[1; 36]);
        run(TcpmssTarget::Set(1000), 1500, &mut d);
        assert_eq!(d[32] >> 4, 15);
        // Link padding past the IP length is not part of the datagram.
        let mut d = tcp_v4(1, 80, 0x02, &[]);
        d.extend_from_slice(&[0; 6]);
        {
            let mut p = pkt_of(&mut d);
            tg(TcpmssTarget::Set(1000), 1500, &mut p);
            assert_eq!(p.meta.len, 44);
        }
        assert_eq!(d.len(), 44);
        assert_eq!(&mss_of(&d), &[2, 4, 0x02, 0x18]);
    }
}

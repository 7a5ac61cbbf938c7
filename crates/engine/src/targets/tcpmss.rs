//! Kernel: net/netfilter/xt_TCPMSS.c (`tcpmss_mangle_packet`, `optlen`,
//! `tcpmss_tg4`, `tcpmss_tg6`).
//!
//! Only SYN segments are touched (the rule must say `--tcp-flags SYN,RST
//! SYN`; the kernel also checks the flag itself). The MSS option is lowered
//! to the given value — or, with `--clamp-mss-to-pmtu`, to the MTU of the
//! route the packet takes minus 40 (IPv4) or 60 (IPv6) bytes — and never
//! raised; the TCP checksum is adjusted incrementally (RFC 1624). A path MTU
//! not above those 40/60 bytes drops the packet. The options are walked as
//! the kernel walks them: end-of-list and NOP count one byte, a zero length
//! counts one byte, and the scan stops once fewer than four bytes remain.
//!
//! A SYN without an MSS option gets one in the kernel — when the segment
//! carries no payload and the header has room — valued at most 536 (IPv4)
//! or 1220 (IPv6), the defaults a peer must assume. That grows the packet by
//! four bytes, which needs a growable buffer in the datapath; it is not done
//! here (such SYNs leave unchanged). Also not modelled: the kernel clamps
//! to the smaller of the outgoing and the reverse route's MTU (all routes of
//! a host share the interface MTU here, so this only matters with per-route
//! `mtu` settings).

use palisade_model::targets::TcpmssTarget;
use palisade_wire::L4Meta;

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
    if pkt.meta.frag_off != 0 || th.flags & 0x02 == 0 {
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
        return TgResult::Continue;
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
        // Not a SYN: untouched.
        let mut d = tcp_v4(1, 80, 0x10, &[2, 4, 0x05, 0xb4]);
        tg(TcpmssTarget::Set(1000), 1500, &mut pkt_of(&mut d));
        assert_eq!(&mss_of(&d), &[2, 4, 0x05, 0xb4]);
        // Path MTU too small: dropped.
        let mut d = tcp_v4(1, 80, 0x02, &[2, 4, 0x05, 0xb4]);
        assert!(matches!(
            tg(TcpmssTarget::ClampToPmtu, 40, &mut pkt_of(&mut d)),
            TgResult::Drop
        ));
    }
}

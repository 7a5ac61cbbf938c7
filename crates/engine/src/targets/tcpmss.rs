//! Kernel: net/netfilter/xt_TCPMSS.c (`tcpmss_mangle_packet`).
//!
//! Only SYN segments are touched. The MSS option is lowered to the given value
//! (or to the path MTU minus the IP and TCP header sizes for
//! `--clamp-mss-to-pmtu`) — never raised — and the TCP checksum is adjusted
//! incrementally (RFC 1624). The kernel also *inserts* an MSS option into a
//! SYN that has none; that changes the packet length and is not done here
//! (TODO: needs packet growth in the datapath).

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
    if th.flags & 0x02 == 0 {
        return TgResult::Continue;
    }
    let minlen = if pkt.meta.family == palisade_model::Family::V4 {
        40
    } else {
        60
    };
    let newmss = match t {
        TcpmssTarget::Set(m) => m,
        TcpmssTarget::ClampToPmtu => pmtu.saturating_sub(minlen).min(0xffff) as u16,
    };
    let l4 = usize::from(pkt.meta.l4_off);
    let hl = usize::from(th.hdr_len);
    let Some(opts) = pkt.data.get(l4 + 20..l4 + hl) else {
        return TgResult::Continue;
    };
    let mut i = 0usize;
    while i < opts.len() {
        let kind = opts[i];
        if kind == 0 {
            break;
        }
        if kind == 1 {
            i += 1;
            continue;
        }
        let len = usize::from(opts.get(i + 1).copied().unwrap_or(0));
        if len < 2 || i + len > opts.len() {
            break;
        }
        if kind == 2 && len == 4 {
            let at = l4 + 20 + i + 2;
            let old = u16::from_be_bytes([pkt.data[at], pkt.data[at + 1]]);
            if old <= newmss {
                return TgResult::Continue;
            }
            pkt.data[at..at + 2].copy_from_slice(&newmss.to_be_bytes());
            let c = l4 + 16;
            let check = u16::from_be_bytes([pkt.data[c], pkt.data[c + 1]]);
            let nc = csum_update16(check, old, newmss);
            pkt.data[c..c + 2].copy_from_slice(&nc.to_be_bytes());
            return TgResult::Continue;
        }
        i += len;
    }
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
}

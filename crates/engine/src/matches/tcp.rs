//! Kernel: net/netfilter/xt_tcpudp.c (`tcp_mt`, `tcp_find_option`).
//!
//! Ports are inclusive ranges compared after inversion per field; flags test
//! `(flags & mask) == cmp`. A non-first fragment never matches, and the
//! fragment at offset 8 bytes (`fragoff == 1`, the classic flag-overwrite
//! attack) is hot-dropped; so is a packet whose TCP header is cut short.

use palisade_model::matches::TcpMatch;
use palisade_wire::L4Meta;

use crate::eval::Pkt;

pub(crate) fn port_match(min: u16, max: u16, port: u16, invert: bool) -> bool {
    (port >= min && port <= max) ^ invert
}

/// Shared fragment rule of tcp/udp/multiport: `Err(hotdrop)` for a bad
/// fragment, `Ok(false)` for any non-first fragment.
pub(crate) fn later_fragment(pkt: &Pkt, evil_hotdrop: bool, hotdrop: &mut bool) -> bool {
    if pkt.meta.frag_off != 0 {
        // fragoff is in 8-byte units for IPv4; IPv6 reports bytes, so its
        // "offset 1" case cannot happen.
        if evil_hotdrop && pkt.meta.family == palisade_model::Family::V4 && pkt.meta.frag_off == 8 {
            *hotdrop = true;
        }
        return true;
    }
    false
}

pub(crate) fn mt(info: &TcpMatch, pkt: &Pkt, hotdrop: &mut bool) -> bool {
    if later_fragment(pkt, true, hotdrop) {
        return false;
    }
    let L4Meta::Tcp(th) = pkt.meta.l4 else {
        *hotdrop = true;
        return false;
    };
    if !port_match(info.sport.min, info.sport.max, th.sport, info.inv_sport) {
        return false;
    }
    if !port_match(info.dport.min, info.dport.max, th.dport, info.inv_dport) {
        return false;
    }
    if ((th.flags & info.flg_mask) == info.flg_cmp) == info.inv_flags {
        return false;
    }
    if info.option != 0 {
        if th.hdr_len < 20 {
            *hotdrop = true;
            return false;
        }
        let start = usize::from(pkt.meta.l4_off) + 20;
        let optlen = usize::from(th.hdr_len) - 20;
        let Some(opts) = pkt.data.get(start..start + optlen) else {
            *hotdrop = true;
            return false;
        };
        if !find_option(info.option, opts, info.inv_option) {
            return false;
        }
    }
    true
}

/// `tcp_find_option`: walk kind/length pairs; a zero length advances by one
/// byte, as the kernel does, so a hostile length cannot loop.
fn find_option(option: u8, op: &[u8], invert: bool) -> bool {
    let mut i = 0usize;
    while i < op.len() {
        if op[i] == option {
            return !invert;
        }
        if op[i] < 2 {
            i += 1;
        } else {
            let l = op.get(i + 1).copied().unwrap_or(0);
            i += if l == 0 { 1 } else { usize::from(l) };
        }
    }
    invert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, tcp_v4};
    use palisade_model::matches::{tcp_flags as f, PortRange};

    #[test]
    fn ports_flags_options() {
        let mut d = tcp_v4(1234, 22, f::SYN, &[2, 4, 5, 180]);
        let p = pkt_of(&mut d);
        let mut hd = false;
        let mut m = TcpMatch {
            dport: PortRange::single(22),
            flg_mask: f::SYN | f::RST | f::ACK | f::FIN,
            flg_cmp: f::SYN,
            ..Default::default()
        };
        assert!(mt(&m, &p, &mut hd));
        m.inv_flags = true;
        assert!(!mt(&m, &p, &mut hd));
        m.inv_flags = false;
        m.option = 2;
        assert!(mt(&m, &p, &mut hd));
        m.option = 8;
        assert!(!mt(&m, &p, &mut hd));
        m.inv_option = true;
        assert!(mt(&m, &p, &mut hd));
        m.sport = PortRange {
            min: 1000,
            max: 2000,
        };
        m.inv_sport = true;
        assert!(!mt(&m, &p, &mut hd));
        assert!(!hd);
    }

    #[test]
    fn zero_length_option_does_not_loop() {
        assert!(!find_option(8, &[3, 0, 3, 0], false));
        assert!(find_option(1, &[1, 1, 0], false));
    }
}

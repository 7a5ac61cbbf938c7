//! Kernel: net/netfilter/nf_log_syslog.c (`nf_log_ip_packet`,
//! `nf_log_ip6_packet`, `dump_ipv4_packet`, `dump_ipv6_packet`,
//! `nf_log_dump_tcp_header`, `nf_log_dump_udp_header`, `dump_mac_header`).
//!
//! Builds the text the kernel hands to syslog, reading the datagram's bytes
//! the way the kernel does rather than the parsed summary, so that odd and
//! cut-short packets print as the kernel prints them:
//! - the prefix, `IN=`/`OUT=`, and with an input device the link header
//!   (`MAC=` as colon-separated hex, or `MACSRC= MACDST= MACPROTO=` with
//!   `--log-macdecode`);
//! - the IP header fields (IPv6 addresses in the full, uncompressed form;
//!   IPv4 options and IPv6 extension headers inside `OPT ( … )` with
//!   `--log-ip-options`, though an IPv6 fragment header always prints);
//! - the transport fields; a non-first fragment prints only the protocol;
//! - for ICMP/ICMPv6 errors the quoted packet inside `[ … ] ` (one level);
//! - `UID=`/`GID=` (with `--log-uid`, for local sockets) and `MARK=`, both
//!   skipped when the dump stopped early at a truncated header.
//!
//! Every field ends with a space. The rule counter counts whether or not
//! anything is printed (a non-init netns prints nothing by default).

use std::fmt::Write;

use palisade_model::targets::{log_flags, LogTarget};
use palisade_model::Family;

use crate::eval::Pkt;
use crate::LogLine;

fn be16(d: &[u8], off: usize) -> Option<u16> {
    d.get(off..off + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
}

fn be32(d: &[u8], off: usize) -> Option<u32> {
    d.get(off..off + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn mac(out: &mut String, pkt: &Pkt, flags: u8) {
    if let Some(l2) = &pkt.l2 {
        if flags & log_flags::MACDECODE != 0 {
            let m = |a: &[u8; 6]| {
                a.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            };
            let _ = write!(
                out,
                "MACSRC={} MACDST={} MACPROTO={:04x} ",
                m(&l2.src),
                m(&l2.dst),
                l2.ethertype
            );
            return;
        }
    }
    out.push_str("MAC=");
    if let Some(l2) = &pkt.l2 {
        let mut first = true;
        for b in l2
            .dst
            .iter()
            .chain(l2.src.iter())
            .chain(l2.ethertype.to_be_bytes().iter())
        {
            if !first {
                out.push(':');
            }
            first = false;
            let _ = write!(out, "{b:02x}");
        }
    }
    out.push(' ');
}

fn hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
}

fn incomplete(out: &mut String, d: &[u8], off: usize) {
    let _ = write!(out, "INCOMPLETE [{} bytes] ", d.len().saturating_sub(off));
}

/// `nf_log_dump_tcp_header`; false when the dump stops here.
fn tcp(out: &mut String, d: &[u8], off: usize, fragment: bool, flags: u8) -> bool {
    out.push_str("PROTO=TCP ");
    if fragment {
        return true;
    }
    let Some(th) = d.get(off..off + 20) else {
        incomplete(out, d, off);
        return false;
    };
    let _ = write!(
        out,
        "SPT={} DPT={} ",
        u16::from_be_bytes([th[0], th[1]]),
        u16::from_be_bytes([th[2], th[3]])
    );
    if flags & log_flags::TCPSEQ != 0 {
        let _ = write!(
            out,
            "SEQ={} ACK={} ",
            u32::from_be_bytes([th[4], th[5], th[6], th[7]]),
            u32::from_be_bytes([th[8], th[9], th[10], th[11]])
        );
    }
    let _ = write!(
        out,
        "WINDOW={} RES=0x{:02x} ",
        u16::from_be_bytes([th[14], th[15]]),
        // The three reserved bits (the fourth is AE now), as the kernel
        // shifts them out of the flag word.
        (th[12] & 0x0e) << 2
    );
    if th[12] & 0x01 != 0 {
        out.push_str("AE ");
    }
    for (bit, name) in [
        (0x80, "CWR "),
        (0x40, "ECE "),
        (0x20, "URG "),
        (0x10, "ACK "),
        (0x08, "PSH "),
        (0x04, "RST "),
        (0x02, "SYN "),
        (0x01, "FIN "),
    ] {
        if th[13] & bit != 0 {
            out.push_str(name);
        }
    }
    let _ = write!(out, "URGP={} ", u16::from_be_bytes([th[18], th[19]]));
    let doff = usize::from(th[12] >> 4) * 4;
    if flags & log_flags::TCPOPT != 0 && doff > 20 {
        let Some(opt) = d.get(off + 20..off + doff) else {
            out.push_str("OPT (TRUNCATED)");
            return false;
        };
        out.push_str("OPT (");
        hex(out, opt);
        out.push_str(") ");
    }
    true
}

/// `nf_log_dump_udp_header`.
fn udp(out: &mut String, d: &[u8], off: usize, proto: u8, fragment: bool) -> bool {
    out.push_str(if proto == 17 {
        "PROTO=UDP "
    } else {
        "PROTO=UDPLITE "
    });
    if fragment {
        return true;
    }
    let Some(uh) = d.get(off..off + 8) else {
        incomplete(out, d, off);
        return false;
    };
    let _ = write!(
        out,
        "SPT={} DPT={} LEN={} ",
        u16::from_be_bytes([uh[0], uh[1]]),
        u16::from_be_bytes([uh[2], uh[3]]),
        u16::from_be_bytes([uh[4], uh[5]])
    );
    true
}

/// Bytes an ICMP type needs after the IP header before its fields print
/// (`required_len`).
fn icmp_required(t: u8) -> usize {
    match t {
        0 | 8 => 4,
        3 | 4 | 5 | 11 | 12 => 8 + 20,
        13 | 14 => 20,
        17 | 18 => 12,
        _ => 0,
    }
}

/// `dump_ipv4_packet` for the header at `off`; `outer` is false for the
/// packet quoted in an ICMP error. False when the dump stopped early.
fn ipv4(out: &mut String, d: &[u8], off: usize, flags: u8, outer: bool) -> bool {
    let Some(h) = d.get(off..off + 20) else {
        out.push_str("TRUNCATED");
        return false;
    };
    let _ = write!(
        out,
        "SRC={}.{}.{}.{} DST={}.{}.{}.{} ",
        h[12], h[13], h[14], h[15], h[16], h[17], h[18], h[19]
    );
    let _ = write!(
        out,
        "LEN={} TOS=0x{:02X} PREC=0x{:02X} TTL={} ID={} ",
        u16::from_be_bytes([h[2], h[3]]),
        h[1] & 0x1e,
        h[1] & 0xe0,
        h[8],
        u16::from_be_bytes([h[4], h[5]])
    );
    let frag = u16::from_be_bytes([h[6], h[7]]);
    for (bit, name) in [(0x8000, "CE "), (0x4000, "DF "), (0x2000, "MF ")] {
        if frag & bit != 0 {
            out.push_str(name);
        }
    }
    if frag & 0x1fff != 0 {
        let _ = write!(out, "FRAG:{} ", frag & 0x1fff);
    }
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if flags & log_flags::IPOPT != 0 && ihl > 20 {
        let Some(opt) = d.get(off + 20..off + ihl) else {
            out.push_str("TRUNCATED");
            return false;
        };
        out.push_str("OPT (");
        hex(out, opt);
        out.push_str(") ");
    }
    let l4 = off + ihl;
    let fragment = frag & 0x1fff != 0;
    match h[9] {
        6 => return tcp(out, d, l4, fragment, flags),
        17 | 136 => return udp(out, d, l4, h[9], fragment),
        1 => {
            out.push_str("PROTO=ICMP ");
            if fragment {
                return true;
            }
            let Some(ic) = d.get(l4..l4 + 8) else {
                incomplete(out, d, l4);
                return true;
            };
            let (ty, code) = (ic[0], ic[1]);
            let _ = write!(out, "TYPE={ty} CODE={code} ");
            let req = icmp_required(ty);
            if req != 0 && d.len().saturating_sub(l4) < req {
                incomplete(out, d, l4);
                return true;
            }
            match ty {
                0 | 8 => {
                    let _ = write!(
                        out,
                        "ID={} SEQ={} ",
                        u16::from_be_bytes([ic[4], ic[5]]),
                        u16::from_be_bytes([ic[6], ic[7]])
                    );
                }
                12 => {
                    let _ = write!(out, "PARAMETER={} ", ic[4]);
                }
                3 | 4 | 5 | 11 => {
                    if ty == 5 {
                        let _ = write!(out, "GATEWAY={}.{}.{}.{} ", ic[4], ic[5], ic[6], ic[7]);
                    }
                    if outer {
                        out.push('[');
                        ipv4(out, d, l4 + 8, flags, false);
                        out.push_str("] ");
                    }
                    if ty == 3 && code == 4 {
                        let _ = write!(out, "MTU={} ", u16::from_be_bytes([ic[6], ic[7]]));
                    }
                }
                _ => {}
            }
        }
        51 => {
            if fragment {
                return true;
            }
            out.push_str("PROTO=AH ");
            match be32(d, l4 + 4).filter(|_| d.len() >= l4 + 12) {
                Some(spi) => {
                    let _ = write!(out, "SPI=0x{spi:x} ");
                }
                None => incomplete(out, d, l4),
            }
        }
        50 => {
            out.push_str("PROTO=ESP ");
            if fragment {
                return true;
            }
            match be32(d, l4).filter(|_| d.len() >= l4 + 8) {
                Some(spi) => {
                    let _ = write!(out, "SPI=0x{spi:x} ");
                }
                None => incomplete(out, d, l4),
            }
        }
        p => {
            let _ = write!(out, "PROTO={p} ");
        }
    }
    true
}

fn ipv6_addr(out: &mut String, b: &[u8]) {
    for (i, w) in b.chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{:02x}{:02x}", w[0], w.get(1).copied().unwrap_or(0));
    }
}

/// `dump_ipv6_packet`; `outer` is false for the quoted packet.
fn ipv6(out: &mut String, d: &[u8], off: usize, flags: u8, outer: bool) -> bool {
    let Some(h) = d.get(off..off + 40) else {
        out.push_str("TRUNCATED");
        return false;
    };
    out.push_str("SRC=");
    ipv6_addr(out, &h[8..24]);
    out.push_str(" DST=");
    ipv6_addr(out, &h[24..40]);
    let w = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let _ = write!(
        out,
        " LEN={} TC={} HOPLIMIT={} FLOWLBL={} ",
        usize::from(u16::from_be_bytes([h[4], h[5]])) + 40,
        (w & 0x0ff0_0000) >> 20,
        h[7],
        w & 0x000f_ffff
    );
    let ipopt = flags & log_flags::IPOPT != 0;
    let mut fragment = false;
    let mut ptr = off + 40;
    let mut cur = h[6];
    while matches!(cur, 0 | 43 | 44 | 50 | 51 | 60) {
        let Some(hp) = d.get(ptr..ptr + 2) else {
            out.push_str("TRUNCATED");
            return false;
        };
        let (next, len) = (hp[0], hp[1]);
        if ipopt {
            out.push_str("OPT ( ");
        }
        let hdrlen = match cur {
            44 => {
                out.push_str("FRAG:");
                let (Some(fo), Some(id)) = (be16(d, ptr + 2), be32(d, ptr + 4)) else {
                    out.push_str("TRUNCATED ");
                    return false;
                };
                let _ = write!(out, "{} ", fo & 0xfff8);
                if fo & 1 != 0 {
                    out.push_str("INCOMPLETE ");
                }
                let _ = write!(out, "ID:{id:08x} ");
                if fo & 0xfff8 != 0 {
                    fragment = true;
                }
                8
            }
            0 | 43 | 60 => {
                if fragment {
                    if ipopt {
                        out.push(')');
                    }
                    return false;
                }
                (usize::from(len) + 1) * 8
            }
            51 => {
                if ipopt {
                    out.push_str("AH ");
                    if fragment {
                        out.push(')');
                        return false;
                    }
                    match be32(d, ptr + 4).filter(|_| d.len() >= ptr + 12) {
                        Some(spi) => {
                            let _ = write!(out, "SPI=0x{spi:x} ");
                        }
                        None => {
                            let _ =
                                write!(out, "INCOMPLETE [{} bytes] )", d.len().saturating_sub(ptr));
                            return false;
                        }
                    }
                }
                (usize::from(len) + 2) * 4
            }
            _ => {
                // ESP: nothing after it can be read.
                if ipopt {
                    out.push_str("ESP ");
                    if fragment {
                        out.push(')');
                        return false;
                    }
                    match be32(d, ptr).filter(|_| d.len() >= ptr + 8) {
                        Some(spi) => {
                            let _ = write!(out, "SPI=0x{spi:x} )");
                        }
                        None => {
                            let _ =
                                write!(out, "INCOMPLETE [{} bytes] )", d.len().saturating_sub(ptr));
                        }
                    }
                }
                return false;
            }
        };
        if ipopt {
            out.push_str(") ");
        }
        cur = next;
        ptr += hdrlen;
    }
    match cur {
        6 => return tcp(out, d, ptr, fragment, flags),
        17 | 136 => return udp(out, d, ptr, cur, fragment),
        58 => {
            out.push_str("PROTO=ICMPv6 ");
            if fragment {
                return true;
            }
            let Some(ic) = d.get(ptr..ptr + 8) else {
                incomplete(out, d, ptr);
                return false;
            };
            let (ty, code) = (ic[0], ic[1]);
            let _ = write!(out, "TYPE={ty} CODE={code} ");
            let word = u32::from_be_bytes([ic[4], ic[5], ic[6], ic[7]]);
            match ty {
                128 | 129 => {
                    let _ = write!(
                        out,
                        "ID={} SEQ={} ",
                        u16::from_be_bytes([ic[4], ic[5]]),
                        u16::from_be_bytes([ic[6], ic[7]])
                    );
                }
                1..=4 => {
                    if ty == 4 {
                        let _ = write!(out, "POINTER={word:08x} ");
                    }
                    if outer {
                        out.push('[');
                        ipv6(out, d, ptr + 8, flags, false);
                        out.push_str("] ");
                    }
                    if ty == 2 {
                        let _ = write!(out, "MTU={word} ");
                    }
                }
                _ => {}
            }
        }
        p => {
            let _ = write!(out, "PROTO={p} ");
        }
    }
    true
}

/// The log line for one packet.
pub(crate) fn line(info: &LogTarget, pkt: &Pkt) -> LogLine {
    let mut out = String::with_capacity(160);
    out.push_str(&info.prefix);
    let _ = write!(out, "IN={} OUT={} ", pkt.iif, pkt.oif);
    if !pkt.iif.is_empty() {
        mac(&mut out, pkt, info.flags);
    }
    let d = &pkt.data[..];
    let complete = match pkt.meta.family {
        Family::V4 => ipv4(&mut out, d, 0, info.flags, true),
        Family::V6 => ipv6(&mut out, d, 0, info.flags, true),
    };
    if complete {
        if info.flags & log_flags::UID != 0 {
            if let Some(o) = pkt.owner {
                let _ = write!(out, "UID={} GID={} ", o.uid, o.gid);
            }
        }
        if pkt.mark != 0 {
            let _ = write!(out, "MARK=0x{:x} ", pkt.mark);
        }
    }
    LogLine {
        level: info.level,
        text: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, tcp_v4};

    fn log(flags: u8) -> LogTarget {
        LogTarget {
            level: 4,
            prefix: "P: ".into(),
            flags,
        }
    }

    // A Vec, as the test packet builder may want to grow it.
    #[allow(clippy::ptr_arg)]
    fn text(data: &mut Vec<u8>, flags: u8, mark: u32) -> String {
        let mut p = pkt_of(data);
        p.mark = mark;
        line(&log(flags), &p).text
    }

    #[test]
    fn kernel_format() {
        let mut d = tcp_v4(40000, 22, 0x02, &[]);
        let p = pkt_of(&mut d);
        let l = line(
            &LogTarget {
                level: 4,
                prefix: "SSH: ".into(),
                flags: 0,
            },
            &p,
        );
        assert_eq!(
            l.text,
            "SSH: IN=eth0 OUT= MAC= SRC=10.0.0.1 DST=192.168.1.10 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=40000 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0 "
        );
    }

    #[test]
    fn tcp_sequence_options_and_mark() {
        let mut d = tcp_v4(40000, 22, 0x12, &[2, 4, 5, 0xb4]);
        // seq / ack
        d[24..28].copy_from_slice(&7u32.to_be_bytes());
        d[28..32].copy_from_slice(&9u32.to_be_bytes());
        let t = text(&mut d, log_flags::TCPSEQ | log_flags::TCPOPT, 0x2a);
        assert!(
            t.ends_with(
                "PROTO=TCP SPT=40000 DPT=22 SEQ=7 ACK=9 WINDOW=64240 RES=0x00 ACK SYN URGP=0 OPT (020405B4) MARK=0x2a "
            ),
            "{t}"
        );
    }

    fn v4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![
            0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        v.extend_from_slice(payload);
        let len = v.len() as u16;
        v[2..4].copy_from_slice(&len.to_be_bytes());
        v
    }

    #[test]
    fn icmp_error_quotes_the_inner_packet() {
        // Port unreachable quoting a UDP datagram 10.0.0.2:53 -> 10.0.0.1:4000.
        let mut inner = vec![
            0x45, 0, 0, 29, 0, 7, 0x40, 0, 63, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
        ];
        inner.extend_from_slice(&[0, 53, 0x0f, 0xa0, 0, 9, 0, 0, 0x41]);
        let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&inner);
        let mut d = v4(1, &icmp);
        let t = text(&mut d, 0, 5);
        assert!(
            t.ends_with(
                "SRC=10.0.0.1 DST=10.0.0.2 LEN=57 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=ICMP TYPE=3 CODE=3 \
                 [SRC=10.0.0.2 DST=10.0.0.1 LEN=29 TOS=0x00 PREC=0x00 TTL=63 ID=7 DF PROTO=UDP SPT=53 DPT=4000 LEN=9 ] MARK=0x5 "
            ),
            "{t}"
        );
        // Frag needed adds the MTU after the quote.
        let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x05, 0xdc];
        icmp.extend_from_slice(&inner);
        let mut d = v4(1, &icmp);
        let t = text(&mut d, 0, 0);
        assert!(t.ends_with("LEN=9 ] MTU=1500 "), "{t}");
        // Cut short: INCOMPLETE after TYPE/CODE.
        let mut d = v4(1, &[11, 0, 0, 0, 0, 0, 0, 0, 0x45, 0]);
        let t = text(&mut d, 0, 0);
        assert!(
            t.ends_with("PROTO=ICMP TYPE=11 CODE=0 INCOMPLETE [10 bytes] "),
            "{t}"
        );
    }

    #[test]
    fn truncated_tcp_skips_mark_and_fragments_print_protocol_only() {
        let mut d = v4(6, &[0, 1, 0, 2]);
        let t = text(&mut d, 0, 7);
        assert!(t.ends_with("PROTO=TCP INCOMPLETE [4 bytes] "), "{t}");
        let mut d = v4(6, &[0; 8]);
        d[6..8].copy_from_slice(&0x0003u16.to_be_bytes());
        let t = text(&mut d, 0, 0);
        assert!(t.ends_with("ID=1 FRAG:3 PROTO=TCP "), "{t}");
    }

    #[test]
    fn ipv6_full_addresses_fragment_header_and_quoted_packet() {
        let hdr = |next: u8, plen: u16, src: u8, dst: u8| {
            let mut v = vec![0x60, 0x00, 0x00, 0x05];
            v.extend_from_slice(&plen.to_be_bytes());
            v.extend_from_slice(&[next, 64]);
            let mut a = [0u8; 16];
            a[0] = 0x20;
            a[1] = 0x01;
            a[15] = src;
            v.extend_from_slice(&a);
            a[15] = dst;
            v.extend_from_slice(&a);
            v
        };
        // Echo request inside a first fragment (offset 0, MF set).
        let mut d = hdr(44, 16, 1, 2);
        d.extend_from_slice(&[58, 0, 0, 1, 0, 0, 0, 0x2a]);
        d.extend_from_slice(&[128, 0, 0, 0, 0, 5, 0, 6]);
        let mut p = pkt_of(&mut d);
        p.iif = "";
        let t = line(&log(0), &p).text;
        assert_eq!(
            t,
            "P: IN= OUT= SRC=2001:0000:0000:0000:0000:0000:0000:0001 DST=2001:0000:0000:0000:0000:0000:0000:0002 \
             LEN=56 TC=0 HOPLIMIT=64 FLOWLBL=5 FRAG:0 INCOMPLETE ID:0000002a PROTO=ICMPv6 TYPE=128 CODE=0 ID=5 SEQ=6 "
        );
        // Packet too big quoting a UDP datagram.
        let mut inner = hdr(17, 8, 2, 1);
        inner.extend_from_slice(&[0, 53, 0, 54, 0, 8, 0, 0]);
        let mut d = hdr(58, 8 + inner.len() as u16, 1, 2);
        d.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0x05, 0x00]);
        d.extend_from_slice(&inner);
        let mut p = pkt_of(&mut d);
        p.iif = "";
        let t = line(&log(log_flags::IPOPT), &p).text;
        assert!(
            t.ends_with(
                "PROTO=ICMPv6 TYPE=2 CODE=0 [SRC=2001:0000:0000:0000:0000:0000:0000:0002 DST=2001:0000:0000:0000:0000:0000:0000:0001 \
                 LEN=48 TC=0 HOPLIMIT=64 FLOWLBL=5 PROTO=UDP SPT=53 DPT=54 LEN=8 ] MTU=1280 "
            ),
            "{t}"
        );
    }

    #[test]
    fn macdecode() {
        let mut d = tcp_v4(1, 2, 0x02, &[]);
        let mut p = pkt_of(&mut d);
        p.l2 = Some(crate::eval::L2 {
            src: [0, 1, 2, 3, 4, 5],
            dst: [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
            ethertype: 0x0800,
        });
        let t = line(&log(log_flags::MACDECODE), &p).text;
        assert!(
            t.starts_with("P: IN=eth0 OUT= MACSRC=00:01:02:03:04:05 MACDST=aa:bb:cc:dd:ee:ff MACPROTO=0800 SRC="),
            "{t}"
        );
        let t = line(&log(0), &p).text;
        assert!(
            t.starts_with("P: IN=eth0 OUT= MAC=aa:bb:cc:dd:ee:ff:00:01:02:03:04:05:08:00 SRC="),
            "{t}"
        );
    }
}

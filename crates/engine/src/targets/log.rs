//! Kernel: net/netfilter/nf_log_syslog.c (`nf_log_ip_packet`,
//! `dump_ipv4_packet`, `dump_ipv6_packet`, `dump_mac_header`).
//!
//! Builds the text the kernel would hand to syslog: the prefix, `IN=`/`OUT=`,
//! `MAC=` (only with an input device: destination, source and EtherType as
//! colon-separated hex), then the IP and layer-4 fields in the kernel's order
//! and spelling, each followed by a space. The rule counter counts whether or
//! not anything is printed (a non-init netns prints nothing by default).

use std::fmt::Write;

use palisade_model::targets::{log_flags, LogTarget};
use palisade_model::Family;
use palisade_wire::L4Meta;

use crate::eval::Pkt;
use crate::LogLine;

fn mac(out: &mut String, pkt: &Pkt) {
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

fn l4(out: &mut String, info: &LogTarget, pkt: &Pkt) {
    let d = &*pkt.data;
    match pkt.meta.l4 {
        L4Meta::Tcp(t) => {
            let _ = write!(out, "PROTO=TCP SPT={} DPT={} ", t.sport, t.dport);
            if info.flags & log_flags::TCPSEQ != 0 {
                let _ = write!(out, "SEQ={} ACK={} ", t.seq, t.ack);
            }
            let off = usize::from(pkt.meta.l4_off);
            let res = d.get(off + 12).map(|b| b & 0x0f).unwrap_or(0);
            let _ = write!(out, "WINDOW={} RES=0x{:02x} ", t.window, res);
            for (bit, name) in [
                (0x80, "CWR"),
                (0x40, "ECE"),
                (0x20, "URG"),
                (0x10, "ACK"),
                (0x08, "PSH"),
                (0x04, "RST"),
                (0x02, "SYN"),
                (0x01, "FIN"),
            ] {
                if t.flags & bit != 0 {
                    out.push_str(name);
                    out.push(' ');
                }
            }
            let urgp = d
                .get(off + 18..off + 20)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .unwrap_or(0);
            let _ = write!(out, "URGP={urgp} ");
            if info.flags & log_flags::TCPOPT != 0 && t.hdr_len > 20 {
                out.push_str("OPT (");
                if let Some(o) = d.get(off + 20..off + usize::from(t.hdr_len)) {
                    for b in o {
                        let _ = write!(out, "{b:02X}");
                    }
                }
                out.push_str(") ");
            }
        }
        L4Meta::Udp(u) => {
            let name = if pkt.meta.proto == 136 {
                "UDPLITE"
            } else {
                "UDP"
            };
            let _ = write!(
                out,
                "PROTO={name} SPT={} DPT={} LEN={} ",
                u.sport, u.dport, u.len
            );
        }
        L4Meta::Icmp(i) => {
            let _ = write!(out, "PROTO=ICMP TYPE={} CODE={} ", i.icmp_type, i.code);
            if matches!(i.icmp_type, 0 | 8) {
                let _ = write!(out, "ID={} SEQ={} ", i.id, i.seq);
            }
        }
        L4Meta::Icmp6(i) => {
            let _ = write!(out, "PROTO=ICMPv6 TYPE={} CODE={} ", i.icmp_type, i.code);
            if matches!(i.icmp_type, 128 | 129) {
                let _ = write!(out, "ID={} SEQ={} ", i.id, i.seq);
            }
        }
        L4Meta::Truncated => {
            let _ = write!(
                out,
                "PROTO={} INCOMPLETE [{} bytes] ",
                proto_name(pkt.meta.proto),
                pkt.meta.len.saturating_sub(pkt.meta.l4_off)
            );
        }
        L4Meta::Other => {
            if pkt.meta.frag_off == 0 {
                let _ = write!(out, "PROTO={} ", pkt.meta.proto);
            }
        }
    }
}

fn proto_name(p: u8) -> String {
    match p {
        6 => "TCP".into(),
        17 => "UDP".into(),
        1 => "ICMP".into(),
        58 => "ICMPv6".into(),
        p => p.to_string(),
    }
}

/// The log line for one packet.
pub(crate) fn line(info: &LogTarget, pkt: &Pkt) -> LogLine {
    let mut out = String::with_capacity(160);
    out.push_str(&info.prefix);
    let _ = write!(out, "IN={} OUT={} ", pkt.iif, pkt.oif);
    if !pkt.iif.is_empty() {
        mac(&mut out, pkt);
    }
    let m = &pkt.meta;
    let d = &*pkt.data;
    match m.family {
        Family::V4 => {
            let _ = write!(
                out,
                "SRC={} DST={} LEN={} TOS=0x{:02X} PREC=0x{:02X} TTL={} ID={} ",
                m.src,
                m.dst,
                m.len,
                m.tos & 0x1e,
                m.tos & 0xe0,
                m.ttl,
                m.ip_id
            );
            let frag = d
                .get(6..8)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .unwrap_or(0);
            if frag & 0x8000 != 0 {
                out.push_str("CE ");
            }
            if frag & 0x4000 != 0 {
                out.push_str("DF ");
            }
            if frag & 0x2000 != 0 {
                out.push_str("MF ");
            }
            if frag & 0x1fff != 0 {
                let _ = write!(out, "FRAG:{} ", frag & 0x1fff);
            }
        }
        Family::V6 => {
            let flow = d
                .get(0..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x000f_ffff)
                .unwrap_or(0);
            let _ = write!(
                out,
                "SRC={} DST={} LEN={} TC={} HOPLIMIT={} FLOWLBL={} ",
                m.src, m.dst, m.len, m.tos, m.ttl, flow
            );
        }
    }
    l4(&mut out, info, pkt);
    if info.flags & log_flags::UID != 0 {
        if let Some(o) = pkt.owner {
            let _ = write!(out, "UID={} GID={} ", o.uid, o.gid);
        }
    }
    if pkt.mark != 0 {
        let _ = write!(out, "MARK=0x{:x} ", pkt.mark);
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
}

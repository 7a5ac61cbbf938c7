//! One-line, tcpdump-like descriptions of packets for `--trace` output.
//! Not a kernel concept: the format follows `tcpdump -n` closely enough to be
//! familiar (`IP 10.0.0.1.40000 > 10.0.0.2.22: Flags [S], seq 1, win 64240,
//! length 0`) but is not meant to be byte-identical to it.

use std::fmt;

use palisade_model::Family;

use crate::meta::{L4Meta, PacketMeta};

/// Displays a [`PacketMeta`] as one line. Allocates only when formatted.
pub struct Describe<'a>(pub &'a PacketMeta);

/// tcpdump's flag letters in its order (FIN, SYN, RST, PSH, ACK as '.', URG,
/// ECE, CWR).
fn tcp_flags(f: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (0x02, 'S'),
        (0x01, 'F'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'W'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    if f & 0x10 != 0 {
        s.push('.');
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

fn icmp_name(family: Family, t: u8, code: u8) -> String {
    let n = match (family, t) {
        (Family::V4, 0) => "echo reply",
        (Family::V4, 8) => "echo request",
        (Family::V4, 3) => match code {
            0 => "net unreachable",
            1 => "host unreachable",
            2 => "protocol unreachable",
            3 => "port unreachable",
            4 => "need to frag",
            9 | 10 | 13 => "admin prohibited",
            _ => "unreachable",
        },
        (Family::V4, 4) => "source quench",
        (Family::V4, 5) => "redirect",
        (Family::V4, 11) => "time exceeded",
        (Family::V4, 12) => "parameter problem",
        (Family::V4, 13) => "time stamp request",
        (Family::V4, 14) => "time stamp reply",
        (Family::V6, 1) => "destination unreachable",
        (Family::V6, 2) => "packet too big",
        (Family::V6, 3) => "time exceeded",
        (Family::V6, 4) => "parameter problem",
        (Family::V6, 128) => "echo request",
        (Family::V6, 129) => "echo reply",
        (Family::V6, 133) => "router solicitation",
        (Family::V6, 134) => "router advertisement",
        (Family::V6, 135) => "neighbor solicitation",
        (Family::V6, 136) => "neighbor advertisement",
        _ => return format!("type {t} code {code}"),
    };
    n.to_string()
}

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        let fam = match m.family {
            Family::V4 => "IP",
            Family::V6 => "IP6",
        };
        let payload = u32::from(m.len).saturating_sub(u32::from(m.l4_off));
        match m.l4 {
            L4Meta::Tcp(t) => {
                write!(
                    f,
                    "{fam} {}.{} > {}.{}: Flags [{}], seq {}",
                    m.src,
                    t.sport,
                    m.dst,
                    t.dport,
                    tcp_flags(t.flags),
                    t.seq
                )?;
                if t.flags & 0x10 != 0 {
                    write!(f, ", ack {}", t.ack)?;
                }
                write!(f, ", win {}, length {}", t.window, t.payload_len)
            }
            L4Meta::Udp(u) => write!(
                f,
                "{fam} {}.{} > {}.{}: UDP, length {}",
                m.src,
                u.sport,
                m.dst,
                u.dport,
                payload.saturating_sub(8)
            ),
            L4Meta::Icmp(i) | L4Meta::Icmp6(i) => {
                let proto = if m.family == Family::V4 {
                    "ICMP"
                } else {
                    "ICMP6"
                };
                write!(
                    f,
                    "{fam} {} > {}: {proto} {}",
                    m.src,
                    m.dst,
                    icmp_name(m.family, i.icmp_type, i.code)
                )?;
                if matches!(i.icmp_type, 0 | 8 | 128 | 129) {
                    write!(f, ", id {}, seq {}", i.id, i.seq)?;
                }
                write!(f, ", length {payload}")
            }
            L4Meta::Truncated => write!(
                f,
                "{fam} {} > {}: proto {} [truncated header], length {payload}",
                m.src, m.dst, m.proto
            ),
            L4Meta::Other => {
                write!(f, "{fam} {} > {}: proto {}", m.src, m.dst, m.proto)?;
                if m.frag_off != 0 || m.more_frags {
                    write!(
                        f,
                        " (frag {}:{}@{}{})",
                        m.ip_id,
                        payload,
                        m.frag_off,
                        if m.more_frags { "+" } else { "" }
                    )?;
                }
                write!(f, ", length {payload}")
            }
        }
    }
}

/// The one-line description of a datagram, or why it cannot be described.
pub fn describe(datagram: &[u8]) -> String {
    match PacketMeta::parse(datagram) {
        Ok(m) => Describe(&m).to_string(),
        Err(e) => format!("malformed packet ({e}), {} bytes", datagram.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    #[test]
    fn tcp_syn_line() {
        let mut p = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 22, 1, 64240)
            .syn()
            .write(&mut p, &[])
            .unwrap();
        assert_eq!(
            describe(&p),
            "IP 10.0.0.1.40000 > 10.0.0.2.22: Flags [S], seq 1, win 64240, length 0"
        );
        let mut p = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .icmpv4_echo_request(7, 3)
            .write(&mut p, &[0; 56])
            .unwrap();
        assert_eq!(
            describe(&p),
            "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 3, length 64"
        );
        assert!(describe(&[1, 2]).starts_with("malformed"));
    }
}

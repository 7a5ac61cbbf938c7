//! Conntrack entries printed as `conntrack -L` prints them
//! (libnetfilter_conntrack's default output): protocol name and number,
//! seconds left, the TCP state, the original tuple, `[UNREPLIED]` until a
//! reply was seen, the reply tuple, `[ASSURED]`, `mark=` and `use=`.

use std::fmt::Write;

use palisade_conntrack::{Conn, Status, TcpState, Tuple};

fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        58 => "icmpv6",
        136 => "udplite",
        132 => "sctp",
        33 => "dccp",
        47 => "gre",
        _ => "unknown",
    }
}

fn tcp_state_name(s: TcpState) -> &'static str {
    match s {
        TcpState::None => "NONE",
        TcpState::SynSent => "SYN_SENT",
        TcpState::SynRecv => "SYN_RECV",
        TcpState::Established => "ESTABLISHED",
        TcpState::FinWait => "FIN_WAIT",
        TcpState::CloseWait => "CLOSE_WAIT",
        TcpState::LastAck => "LAST_ACK",
        TcpState::TimeWait => "TIME_WAIT",
        TcpState::Close => "CLOSE",
        _ => "SYN_SENT2",
    }
}

fn tuple(out: &mut String, t: &Tuple) {
    let _ = write!(out, "src={} dst={} ", t.src_ip(), t.dst_ip());
    match t.proto {
        6 | 17 | 136 | 132 | 33 => {
            let _ = write!(out, "sport={} dport={} ", t.sport, t.dport);
        }
        1 | 58 => {
            let _ = write!(
                out,
                "type={} code={} id={} ",
                t.dport >> 8,
                t.dport & 0xff,
                t.sport
            );
        }
        _ => {}
    }
}

/// One `conntrack -L` line (without the newline).
pub fn line(c: &Conn, now_ns: u64) -> String {
    let o = c.orig();
    let mut s = String::with_capacity(160);
    let secs = c.expires.saturating_sub(now_ns) / 1_000_000_000;
    let _ = write!(s, "{:<8} {} {} ", proto_name(o.proto), o.proto, secs);
    if let Some(st) = c.tcp_state() {
        s.push_str(tcp_state_name(st));
        s.push(' ');
    }
    tuple(&mut s, o);
    if !c.status.has(Status::SEEN_REPLY) {
        s.push_str("[UNREPLIED] ");
    }
    tuple(&mut s, c.reply());
    if c.status.has(Status::ASSURED) {
        s.push_str("[ASSURED] ");
    }
    let _ = write!(s, "mark={} ", c.mark);
    if o.zone != 0 {
        let _ = write!(s, "zone={} ", o.zone);
    }
    s.push_str("use=1");
    s
}

/// All live entries, one line each, then conntrack's summary line (to stderr
/// in the real tool; here the last line).
pub fn listing<'a>(conns: impl Iterator<Item = Conn> + 'a, now_ns: u64) -> String {
    let mut out = String::new();
    let mut n = 0usize;
    for c in conns {
        out.push_str(&line(&c, now_ns));
        out.push('\n');
        n += 1;
    }
    let _ = writeln!(
        out,
        "conntrack v1.4.7 (conntrack-tools): {n} flow entries have been shown."
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_conntrack::{Conntrack, CtConfig};
    use palisade_wire::PacketMeta;

    #[test]
    fn udp_unreplied_line() {
        // A UDP datagram 10.0.0.1:5000 -> 10.0.0.2:53 tracked and confirmed.
        let mut d = vec![
            0x45, 0, 0, 29, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x13, 0x88, 0, 53,
            0, 9, 0, 0, b'x',
        ];
        let c = palisade_wire::checksum::checksum(&d[..20]);
        d[10..12].copy_from_slice(&c.to_be_bytes());
        let meta = PacketMeta::parse(&d).unwrap();
        let mut ct = Conntrack::new(CtConfig::default());
        let r = ct.packet_in(1_000_000_000, &d, &meta, false, None);
        assert!(ct.confirm_packet(&r, 1_000_000_000));
        let conns: Vec<_> = ct.iter(1_000_000_000).collect();
        assert_eq!(conns.len(), 1);
        assert_eq!(
            line(&conns[0], 1_000_000_000),
            "udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=5000 dport=53 [UNREPLIED] \
             src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5000 mark=0 use=1"
        );
    }
}

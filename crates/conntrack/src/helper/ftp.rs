//! Kernel: net/netfilter/nf_conntrack_ftp.c (`help`, `find_pattern`,
//! `try_rfc959`, `try_rfc1123`, `try_eprt`, `try_epsv_response`,
//! `find_nl_seq`, `update_nl_seq`).
//!
//! The FTP helper reads the control connection's payload once traffic has
//! flowed both ways (ctinfo ESTABLISHED in either direction) and only at
//! the start of a line: a segment is parsed when its sequence number is one
//! of the two remembered "just after a newline" positions of its direction.
//! Every segment ending in `\n` records where the next line starts, so the
//! first segment each side sends (the greeting, `USER`) is never parsed.
//!
//! Commands looked for (case-insensitive, at the start of the segment):
//! from the client `PORT h1,h2,h3,h4,p1,p2` and `EPRT |af|addr|port|`; from
//! the server `227 ` (PASV reply: the first digit after it starts the six
//! numbers, parentheses optional as RFC 1123 allows) and `229 ` (EPSV reply:
//! `(|||port|)`). The address the command names must be the sender's own
//! (its tuple's source) — otherwise no expectation is made, unless the
//! `loose` module parameter is set, when the named address is used. A
//! command cut off at the end of the segment ("partial") makes the helper
//! drop the segment, so the sender retransmits it whole.
//!
//! The expectation: from the other side's address (any source port) to
//! the named address and port, TCP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the command was (`enum nf_ct_ftp_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FtpType {
    /// `PORT`.
    Port,
    /// `EPRT`.
    Eprt,
    /// `227` reply to PASV.
    Pasv,
    /// `229` reply to EPSV.
    Epsv,
}

/// A parsed command: the address and port it names, and where the numbers
/// sit in the payload (for NAT's rewrite).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FtpCmd {
    /// Kind.
    pub kind: FtpType,
    /// Address named (EPSV names none: the sender's own is used).
    pub addr: IpAddr,
    /// Port named.
    pub port: u16,
    /// Offset of the numbers in the payload.
    pub off: usize,
    /// Length of the numbers.
    pub len: usize,
}

/// Result of `find_pattern` over one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// Nothing to do.
    None,
    /// A command begins but is incomplete or malformed: drop the segment.
    Partial,
    /// A complete command.
    Cmd(FtpCmd),
}

/// `struct nf_ct_ftp_master`: per direction, up to two sequence numbers
/// just after a newline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FtpState {
    seq_aft_nl: [[u32; 2]; 2],
    num: [u8; 2],
}

/// `before(a, b)` in sequence space.
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl FtpState {
    /// `find_nl_seq`.
    pub fn at_line_start(&self, seq: u32, dir: usize) -> bool {
        self.seq_aft_nl[dir][..usize::from(self.num[dir])].contains(&seq)
    }

    /// `update_nl_seq`: remember `seq` (just after a newline); with both
    /// slots taken, it replaces the older one if it is newer.
    pub fn update(&mut self, seq: u32, dir: usize) {
        let n = usize::from(self.num[dir]);
        if self.seq_aft_nl[dir][..n].contains(&seq) {
            return;
        }
        if n < 2 {
            self.seq_aft_nl[dir][n] = seq;
            self.num[dir] += 1;
        } else {
            let s = &mut self.seq_aft_nl[dir];
            let oldest = if before(s[0], s[1]) { 0 } else { 1 };
            if before(s[oldest], seq) {
                s[oldest] = seq;
            }
        }
    }
}

/// `try_number`: `size` numbers separated by `sep`, ended by `term` (or by
/// any other character when `term` is 0). Returns the length consumed.
fn try_number(data: &[u8], out: &mut [u32], sep: u8, term: u8) -> usize {
    out.iter_mut().for_each(|x| *x = 0);
    let mut i = 0usize;
    for (len, &c) in data.iter().enumerate() {
        if i >= out.len() {
            break;
        }
        if c.is_ascii_digit() {
            // Values above 255 make no sense in an address byte; the
            // kernel's u32 would wrap only after ~10 digits, we saturate.
            out[i] = out[i]
                .saturating_mul(10)
                .saturating_add(u32::from(c - b'0'));
        } else if c == sep {
            i += 1;
        } else {
            if (c == term || term == 0) && i == out.len() - 1 {
                return len;
            }
            return 0;
        }
    }
    0
}

fn rfc959(data: &[u8], term: u8) -> Option<(IpAddr, u16, usize)> {
    let mut a = [0u32; 6];
    let len = try_number(data, &mut a, b',', term);
    if len == 0 {
        return None;
    }
    // The kernel shifts the values into place: larger ones bleed into the
    // neighbouring byte exactly as here.
    let ip = (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3];
    let port = ((a[4] << 8) | a[5]) as u16;
    Some((IpAddr::V4(Ipv4Addr::from(ip)), port, len))
}

/// `get_port`: digits from `start` up to `delim`; returns the index after
/// the delimiter. A zero port is refused.
fn get_port(data: &[u8], start: usize, delim: u8) -> Option<(u16, usize)> {
    let mut port: u16 = 0;
    for (i, &c) in data.iter().enumerate().skip(start) {
        if c == delim {
            if port == 0 {
                return None;
            }
            return Some((port, i + 1));
        } else if c.is_ascii_digit() {
            port = port.wrapping_mul(10).wrapping_add(u16::from(c - b'0'));
        } else {
            return None;
        }
    }
    None
}

fn valid_delim(d: u8) -> bool {
    !d.is_ascii_digit() && (33..=126).contains(&d)
}

/// `in6_pton` up to `term`: the address text and its length.
fn ipv6_until(data: &[u8], term: u8) -> Option<(Ipv6Addr, usize)> {
    let end = data.iter().position(|&c| c == term)?;
    let text = std::str::from_utf8(&data[..end]).ok()?;
    text.parse::<Ipv6Addr>().ok().map(|a| (a, end))
}

fn eprt(data: &[u8], v6: bool) -> Option<(IpAddr, u16, usize)> {
    if data.len() <= 3 {
        return None;
    }
    let d = data[0];
    if !valid_delim(d) || data[2] != d {
        return None;
    }
    let (addr, len) = match (data[1], v6) {
        (b'1', false) => {
            let mut a = [0u32; 4];
            let len = try_number(&data[3..], &mut a, b'.', d);
            let ip = (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3];
            (IpAddr::V4(Ipv4Addr::from(ip)), len)
        }
        (b'2', true) => {
            let (a, len) = ipv6_until(&data[3..], d)?;
            (IpAddr::V6(a), len)
        }
        _ => return None,
    };
    if len == 0 {
        return None;
    }
    let (port, end) = get_port(data, 3 + len + 1, d)?;
    Some((addr, port, end))
}

fn epsv(data: &[u8], own: IpAddr) -> Option<(IpAddr, u16, usize)> {
    if data.len() <= 3 {
        return None;
    }
    let d = data[0];
    if !valid_delim(d) || data[1] != d || data[2] != d {
        return None;
    }
    let (port, end) = get_port(data, 3, d)?;
    Some((own, port, end))
}

/// `find_pattern` for each of the direction's two commands. `own` is the
/// sender's address (what EPSV implies); `v6` selects EPRT's family.
pub fn find(payload: &[u8], dir: usize, own: IpAddr) -> Found {
    let v6 = own.is_ipv6();
    let table: [(&[u8], u8, FtpType); 2] = if dir == 0 {
        [
            (b"PORT", b' ', FtpType::Port),
            (b"EPRT", b' ', FtpType::Eprt),
        ]
    } else {
        [(b"227 ", 0, FtpType::Pasv), (b"229 ", b'(', FtpType::Epsv)]
    };
    for (pat, skip, kind) in table {
        let dlen = payload.len();
        if dlen == 0 {
            return Found::None;
        }
        if dlen <= pat.len() {
            if payload.eq_ignore_ascii_case(&pat[..dlen]) {
                return Found::Partial;
            }
            continue;
        }
        if !payload[..pat.len()].eq_ignore_ascii_case(pat) {
            continue;
        }
        let mut i = pat.len();
        if skip != 0 {
            loop {
                if payload[i] == skip {
                    break;
                }
                if i == dlen - 1 {
                    return Found::Partial;
                }
                i += 1;
            }
            i += 1;
        }
        let data = &payload[i..];
        let got = match kind {
            FtpType::Port => rfc959(data, b'\r').map(|(a, p, l)| (a, p, 0, l)),
            FtpType::Pasv => data
                .iter()
                .position(u8::is_ascii_digit)
                .and_then(|skip| rfc959(&data[skip..], 0).map(|(a, p, l)| (a, p, skip, l))),
            FtpType::Eprt => eprt(data, v6).map(|(a, p, l)| (a, p, 0, l)),
            FtpType::Epsv => epsv(data, own).map(|(a, p, l)| (a, p, 0, l)),
        };
        return match got {
            Some((addr, port, skip, len)) if len > 0 => Found::Cmd(FtpCmd {
                kind,
                addr,
                port,
                off: i + skip,
                len,
            }),
            _ => Found::Partial,
        };
    }
    Found::None
}

/// `nf_nat_ftp_fmt_cmd`: the text NAT puts in place of a command's numbers
/// (what [`FtpCmd::off`]/[`FtpCmd::len`] cover). PORT and 227 get the six
/// decimal numbers, EPRT `|1|a.b.c.d|port|` or `|2|` with the IPv6 address
/// written in full (eight groups of four lower-case hex digits, as the
/// kernel's `%pI6` prints it), EPSV `|||port|`; the kernel always writes
/// `|` whatever delimiter the peer used.
pub fn nat_fmt(kind: FtpType, addr: IpAddr, port: u16) -> String {
    match (kind, addr) {
        (FtpType::Port | FtpType::Pasv, IpAddr::V4(a)) => {
            let o = a.octets();
            format!(
                "{},{},{},{},{},{}",
                o[0],
                o[1],
                o[2],
                o[3],
                port >> 8,
                port & 0xff
            )
        }
        // PORT/227 on IPv6 print the first four bytes of the address.
        (FtpType::Port | FtpType::Pasv, IpAddr::V6(a)) => {
            let o = a.octets();
            format!(
                "{},{},{},{},{},{}",
                o[0],
                o[1],
                o[2],
                o[3],
                port >> 8,
                port & 0xff
            )
        }
        (FtpType::Eprt, IpAddr::V4(a)) => format!("|1|{a}|{port}|"),
        (FtpType::Eprt, IpAddr::V6(a)) => {
            let g = a.segments();
            format!(
                "|2|{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}|{port}|",
                g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]
            )
        }
        (FtpType::Epsv, _) => format!("|||{port}|"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "10.0.1.2";

    fn own() -> IpAddr {
        C.parse().unwrap()
    }

    #[test]
    fn port_pasv_eprt_epsv() {
        let f = find(b"PORT 10,0,1,2,19,137\r\n", 0, own());
        let Found::Cmd(c) = f else { panic!("{f:?}") };
        assert_eq!((c.kind, c.addr, c.port), (FtpType::Port, own(), 5001));
        assert_eq!(
            &b"PORT 10,0,1,2,19,137\r\n"[c.off..c.off + c.len],
            b"10,0,1,2,19,137"
        );
        let f = find(
            b"227 Entering Passive Mode (10,0,2,2,195,80).\r\n",
            1,
            own(),
        );
        let Found::Cmd(c) = f else { panic!("{f:?}") };
        assert_eq!(c.addr, "10.0.2.2".parse::<IpAddr>().unwrap());
        assert_eq!(c.port, 195 * 256 + 80);
        let f = find(b"227 =10,0,2,2,1,2\r\n", 1, own());
        assert!(matches!(f, Found::Cmd(c) if c.port == 258));
        let f = find(b"eprt |1|10.0.1.2|6275|\r\n", 0, own());
        assert!(matches!(f, Found::Cmd(c) if c.port == 6275 && c.addr == own()));
        let v6: IpAddr = "fd00:1::2".parse().unwrap();
        let f = find(b"EPRT |2|fd00:1::2|6275|\r\n", 0, v6);
        assert!(matches!(f, Found::Cmd(c) if c.port == 6275 && c.addr == v6));
        // EPRT naming the other family: no match, but the pattern matched.
        assert_eq!(
            find(b"EPRT |2|fd00:1::2|6275|\r\n", 0, own()),
            Found::Partial
        );
        let f = find(
            b"229 Entering Extended Passive Mode (|||6446|)\r\n",
            1,
            own(),
        );
        assert!(matches!(f, Found::Cmd(c) if c.port == 6446 && c.addr == own()));
    }

    #[test]
    fn partial_and_none() {
        assert_eq!(find(b"POR", 0, own()), Found::Partial);
        assert_eq!(find(b"PORT 10,0,1", 0, own()), Found::Partial);
        assert_eq!(find(b"USER x\r\n", 0, own()), Found::None);
        assert_eq!(find(b"220 hello\r\n", 1, own()), Found::None);
        assert_eq!(find(b"229 x (|||0|)\r\n", 1, own()), Found::Partial);
        assert_eq!(find(b"", 1, own()), Found::None);
    }

    #[test]
    fn nat_formats() {
        let v4: IpAddr = "10.0.2.1".parse().unwrap();
        assert_eq!(nat_fmt(FtpType::Port, v4, 5001), "10,0,2,1,19,137");
        assert_eq!(nat_fmt(FtpType::Eprt, v4, 5001), "|1|10.0.2.1|5001|");
        assert_eq!(nat_fmt(FtpType::Epsv, v4, 5001), "|||5001|");
        let v6: IpAddr = "fd00:2::1".parse().unwrap();
        assert_eq!(
            nat_fmt(FtpType::Eprt, v6, 80),
            "|2|fd00:0002:0000:0000:0000:0000:0000:0001|80|"
        );
    }

    #[test]
    fn line_starts() {
        let mut s = FtpState::default();
        assert!(!s.at_line_start(100, 0));
        s.update(100, 0);
        s.update(200, 0);
        s.update(300, 0);
        assert!(!s.at_line_start(100, 0));
        assert!(s.at_line_start(200, 0) && s.at_line_start(300, 0));
        s.update(150, 0);
        assert!(!s.at_line_start(150, 0));
        assert!(!s.at_line_start(200, 1));
    }
}

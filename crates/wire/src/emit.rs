//! Kernel: net/ipv4/netfilter/nf_reject_ipv4.c (`nf_send_reset`,
//! `nf_reject_iphdr_put`, `nf_reject_ip_tcphdr_put`, `nf_send_unreach`),
//! net/ipv6/netfilter/nf_reject_ipv6.c (`nf_send_reset6`, `nf_send_unreach6`),
//! net/ipv4/icmp.c (`__icmp_send`), net/ipv6/icmp.c (`icmp6_send`).
//!
//! The packets REJECT sends, byte for byte where the kernel is deterministic:
//!
//! * TCP RST (v4): IP id 0, DF, TOS 0, TTL = route hop limit (default 64).
//!   If the offending segment carried ACK, the RST has `seq = its ack` and no
//!   ACK flag; otherwise `seq = 0`, ACK set and `ack = seq + SYN + FIN +
//!   payload`. Header only (20 bytes), no options. Never for an RST, a
//!   non-first fragment, a bad checksum (when the caller asks for the check,
//!   as the kernel does for received packets), or a broadcast/multicast
//!   destination. v6 the same with traffic class 0, flow label 0, hop limit
//!   64, and only between unicast addresses.
//! * ICMP destination unreachable (v4, through `icmp_send`): TOS =
//!   `(orig_tos & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL`, TTL 64,
//!   quotes the original datagram up to a 576-byte reply (548 quoted bytes),
//!   not for non-first fragments, not about ICMP errors (or unknown ICMP types
//!   above 18), not to broadcast/multicast. The socket-layer IP id and DF bit are
//!   not reproducible (the kernel's ICMP socket does not set DF and picks an
//!   id from its per-destination generator), so the id is a parameter.
//! * ICMPv6 destination unreachable: hop limit 64, traffic class 0, quotes up
//!   to a 1280-byte reply (1232 quoted bytes), never about an ICMPv6 error, a
//!   non-first fragment, or from/to an unspecified or multicast source.
//!
//! The source of an ICMP error is the address the host answers from (the
//! original destination when it was local, else the outgoing interface's
//! address): the caller decides it. Subnet-directed broadcasts need routing
//! knowledge the caller has; these builders refuse only what the addresses
//! alone show (multicast, 255.255.255.255, unspecified).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::checksum;
use crate::meta::{L4Meta, PacketMeta};
use crate::parse::icmp_is_error;

/// Per-reply knobs the host decides. `Default` gives the kernel defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmitOpts {
    /// TTL / hop limit (`net.ipv4.ip_default_ttl`, route `hoplimit`): 64.
    pub ttl: u8,
    /// Verify the offending packet's L4 checksum first and refuse to answer a
    /// corrupt one. The kernel verifies received packets; locally generated
    /// ones (OUTPUT, `CHECKSUM_PARTIAL`) are trusted — pass `false` for those.
    pub verify_csum: bool,
    /// IPv4 identification of ICMP errors (the kernel's is unpredictable).
    pub ip_id: u16,
}

impl Default for EmitOpts {
    fn default() -> Self {
        EmitOpts {
            ttl: 64,
            verify_csum: true,
            ip_id: 0,
        }
    }
}

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

fn v4_unicastish(a: Ipv4Addr) -> bool {
    !(a.is_multicast() || a.is_broadcast())
}

/// Writes a 20-byte IPv4 header (no options) with checksum.
#[allow(clippy::too_many_arguments)]
fn ipv4_header(
    out: &mut Vec<u8>,
    tos: u8,
    total: u16,
    id: u16,
    df: bool,
    ttl: u8,
    proto: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) {
    let start = out.len();
    out.extend_from_slice(&[0x45, tos]);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(if df { 0x4000u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&[ttl, proto, 0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let c = checksum::checksum(&out[start..start + 20]);
    out[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
}

/// Writes a 40-byte IPv6 header, traffic class and flow label zero.
fn ipv6_header(out: &mut Vec<u8>, plen: u16, next: u8, hop: u8, src: Ipv6Addr, dst: Ipv6Addr) {
    out.extend_from_slice(&[0x60, 0, 0, 0]);
    out.extend_from_slice(&plen.to_be_bytes());
    out.extend_from_slice(&[next, hop]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
}

/// The 20-byte RST header `nf_reject_ip_tcphdr_put` writes (checksum zero).
fn rst_header(out: &mut Vec<u8>, meta: &PacketMeta) -> Option<()> {
    let L4Meta::Tcp(t) = meta.l4 else { return None };
    let (seq, ack, flags) = if t.flags & TCP_ACK != 0 {
        (t.ack, 0, TCP_RST)
    } else {
        let syn = u32::from(t.flags & TCP_SYN != 0);
        let fin = u32::from(t.flags & TCP_FIN != 0);
        (
            0,
            t.seq.wrapping_add(syn + fin + t.payload_len),
            TCP_RST | TCP_ACK,
        )
    };
    out.extend_from_slice(&t.dport.to_be_bytes());
    out.extend_from_slice(&t.sport.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ack.to_be_bytes());
    out.extend_from_slice(&[0x50, flags, 0, 0, 0, 0, 0, 0]);
    Some(())
}

/// Shared refusals of `nf_reject_ip_tcphdr_get`/`nf_reject_ip6_tcphdr_get`.
fn rst_allowed(orig: &[u8], meta: &PacketMeta, opts: &EmitOpts) -> bool {
    let L4Meta::Tcp(t) = meta.l4 else {
        return false;
    };
    if meta.frag_off != 0 || t.flags & TCP_RST != 0 {
        return false;
    }
    !opts.verify_csum || checksum::verify_l4(orig, meta)
}

/// `REJECT --reject-with tcp-reset` for IPv4 with kernel defaults.
pub fn tcp_reset_v4(orig: &[u8], meta: &PacketMeta) -> Option<Vec<u8>> {
    tcp_reset_v4_with(orig, meta, &EmitOpts::default())
}

/// `nf_send_reset`: the RST answering `orig`, or `None` when the kernel sends
/// nothing. Allocates the reply (REJECT is not an established-flow path).
pub fn tcp_reset_v4_with(orig: &[u8], meta: &PacketMeta, opts: &EmitOpts) -> Option<Vec<u8>> {
    let (IpAddr::V4(osrc), IpAddr::V4(odst)) = (meta.src, meta.dst) else {
        return None;
    };
    if !rst_allowed(orig, meta, opts) || !v4_unicastish(odst) {
        return None;
    }
    let mut out = Vec::with_capacity(40);
    ipv4_header(&mut out, 0, 40, 0, true, opts.ttl, 6, odst, osrc);
    rst_header(&mut out, meta)?;
    checksum::fill_l4(&mut out, 20, IpAddr::V4(odst), IpAddr::V4(osrc), 6);
    Some(out)
}

fn v6_unicast(a: Ipv6Addr) -> bool {
    !(a.is_multicast() || a.is_unspecified())
}

/// `REJECT --reject-with tcp-reset` for IPv6 with kernel defaults.
pub fn tcp_reset_v6(orig: &[u8], meta: &PacketMeta) -> Option<Vec<u8>> {
    tcp_reset_v6_with(orig, meta, &EmitOpts::default())
}

/// `nf_send_reset6`: both addresses must be unicast.
pub fn tcp_reset_v6_with(orig: &[u8], meta: &PacketMeta, opts: &EmitOpts) -> Option<Vec<u8>> {
    let (IpAddr::V6(osrc), IpAddr::V6(odst)) = (meta.src, meta.dst) else {
        return None;
    };
    if !v6_unicast(osrc) || !v6_unicast(odst) || !rst_allowed(orig, meta, opts) {
        return None;
    }
    let mut out = Vec::with_capacity(60);
    ipv6_header(&mut out, 20, 6, opts.ttl, odst, osrc);
    rst_header(&mut out, meta)?;
    checksum::fill_l4(&mut out, 40, IpAddr::V6(odst), IpAddr::V6(osrc), 6);
    Some(out)
}

/// ICMP destination-unreachable (`icmp_send(skb, ICMP_DEST_UNREACH, code)`)
/// from `src`, with kernel defaults.
pub fn icmp_unreach_v4(orig: &[u8], meta: &PacketMeta, code: u8, src: Ipv4Addr) -> Option<Vec<u8>> {
    icmp_unreach_v4_with(orig, meta, code, src, &EmitOpts::default())
}

/// ICMP destination-unreachable quoting `orig`; `None` when the kernel would
/// stay silent (see the module docs). Also the builder for other error types
/// via [`icmp_error_v4_with`].
pub fn icmp_unreach_v4_with(
    orig: &[u8],
    meta: &PacketMeta,
    code: u8,
    src: Ipv4Addr,
    opts: &EmitOpts,
) -> Option<Vec<u8>> {
    icmp_error_v4_with(orig, meta, 3, code, src, opts)
}

/// `__icmp_send` for an error `icmp_type`/`code` (info word zero).
pub fn icmp_error_v4_with(
    orig: &[u8],
    meta: &PacketMeta,
    icmp_type: u8,
    code: u8,
    src: Ipv4Addr,
    opts: &EmitOpts,
) -> Option<Vec<u8>> {
    let (IpAddr::V4(osrc), IpAddr::V4(odst)) = (meta.src, meta.dst) else {
        return None;
    };
    if meta.frag_off != 0 || !v4_unicastish(odst) {
        return None;
    }
    if meta.proto == 1 {
        // Never an error about an error (or about an unknown type, which
        // the kernel assumes is one); a quote without an ICMP type byte is
        // not answered either.
        let t = *orig.get(usize::from(meta.l4_off))?;
        if t > 18 || icmp_is_error(t) {
            return None;
        }
    }
    if opts.verify_csum && !checksum::verify_l4(orig, meta) {
        return None;
    }
    let data = meta.ip_bytes(orig);
    // room = 576 - IP header - ICMP header.
    let quoted = &data[..data.len().min(576 - 20 - 8)];
    let total = 20 + 8 + quoted.len();
    let tos = (meta.tos & 0x1e) | 0xc0;
    let mut out = Vec::with_capacity(total);
    ipv4_header(
        &mut out,
        tos,
        total as u16,
        opts.ip_id,
        false,
        opts.ttl,
        1,
        src,
        osrc,
    );
    out.extend_from_slice(&[icmp_type, code, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(quoted);
    checksum::fill_l4(&mut out, 20, IpAddr::V4(src), IpAddr::V4(osrc), 1);
    Some(out)
}

/// ICMPv6 destination-unreachable (`icmpv6_send(skb, ICMPV6_DEST_UNREACH,
/// code)`) from `src`, with kernel defaults.
pub fn icmp6_unreach(orig: &[u8], meta: &PacketMeta, code: u8, src: Ipv6Addr) -> Option<Vec<u8>> {
    icmp6_error_with(orig, meta, 1, code, src, &EmitOpts::default())
}

/// `icmp6_send` for an error `icmp_type`/`code` (info word zero).
pub fn icmp6_error_with(
    orig: &[u8],
    meta: &PacketMeta,
    icmp_type: u8,
    code: u8,
    src: Ipv6Addr,
    opts: &EmitOpts,
) -> Option<Vec<u8>> {
    let (IpAddr::V6(osrc), IpAddr::V6(odst)) = (meta.src, meta.dst) else {
        return None;
    };
    // The source must identify one node (RFC 4443 §2.4 e); errors to a
    // multicast destination are limited to packet-too-big / unknown option.
    if !v6_unicast(osrc) || (odst.is_multicast() && icmp_type != 2) {
        return None;
    }
    // nf_send_unreach6 (reject6_csum_ok) refuses later fragments.
    if meta.frag_off != 0 {
        return None;
    }
    // is_ineligible(): never about an ICMPv6 error or a cut ICMPv6 header.
    if meta.proto == 58 {
        match meta.l4 {
            L4Meta::Icmp6(i) if i.icmp_type >= 128 => {}
            _ => return None,
        }
    }
    if opts.verify_csum && !checksum::verify_l4(orig, meta) {
        return None;
    }
    let data = meta.ip_bytes(orig);
    let quoted = &data[..data.len().min(1280 - 40 - 8)];
    let plen = 8 + quoted.len();
    let mut out = Vec::with_capacity(40 + plen);
    ipv6_header(&mut out, plen as u16, 58, opts.ttl, src, osrc);
    out.extend_from_slice(&[icmp_type, code, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(quoted);
    checksum::fill_l4(&mut out, 40, IpAddr::V6(src), IpAddr::V6(osrc), 58);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp(flags: &str, payload: &[u8]) -> Vec<u8> {
        let mut b =
            PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).tcp(40000, 22, 5000, 1024);
        for f in flags.chars() {
            b = match f {
                'S' => b.syn(),
                'F' => b.fin(),
                'R' => b.rst(),
                'A' => b.ack(9000),
                _ => b,
            };
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn rst_for_syn() {
        let p = tcp("S", b"");
        let m = PacketMeta::parse(&p).unwrap();
        let r = tcp_reset_v4(&p, &m).unwrap();
        assert_eq!(r.len(), 40);
        let rm = PacketMeta::parse(&r).unwrap();
        assert!(checksum::ipv4_header_ok(&r));
        assert!(checksum::verify_l4(&r, &rm));
        assert_eq!(rm.src, m.dst);
        assert_eq!((r[4], r[5], r[6], r[8], r[1]), (0, 0, 0x40, 64, 0));
        let L4Meta::Tcp(t) = rm.l4 else { panic!() };
        assert_eq!(
            (t.sport, t.dport, t.seq, t.ack, t.flags),
            (22, 40000, 0, 5001, 0x14)
        );
    }

    #[test]
    fn rst_for_ack_and_data() {
        let p = tcp("A", b"abcdef");
        let m = PacketMeta::parse(&p).unwrap();
        let r = tcp_reset_v4(&p, &m).unwrap();
        let L4Meta::Tcp(t) = PacketMeta::parse(&r).unwrap().l4 else {
            panic!()
        };
        assert_eq!((t.seq, t.ack, t.flags), (9000, 0, 0x04));
        let p = tcp("F", b"xy");
        let m = PacketMeta::parse(&p).unwrap();
        let L4Meta::Tcp(t) = PacketMeta::parse(&tcp_reset_v4(&p, &m).unwrap())
            .unwrap()
            .l4
        else {
            panic!()
        };
        assert_eq!((t.seq, t.ack, t.flags), (0, 5003, 0x14));
    }

    #[test]
    fn no_rst_for_rst_bad_csum_or_broadcast() {
        let p = tcp("R", b"");
        assert!(tcp_reset_v4(&p, &PacketMeta::parse(&p).unwrap()).is_none());
        let mut p = tcp("S", b"");
        p[36] ^= 0xff;
        let m = PacketMeta::parse(&p).unwrap();
        assert!(tcp_reset_v4(&p, &m).is_none());
        let local = EmitOpts {
            verify_csum: false,
            ..EmitOpts::default()
        };
        assert!(tcp_reset_v4_with(&p, &m, &local).is_some());
        let mut out = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [255, 255, 255, 255], 64)
            .tcp(1, 2, 3, 4)
            .syn()
            .write(&mut out, &[])
            .unwrap();
        assert!(tcp_reset_v4(&out, &PacketMeta::parse(&out).unwrap()).is_none());
    }

    #[test]
    fn icmp_port_unreach_quotes_576() {
        let mut p = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5000, 53)
            .write(&mut p, &[7u8; 1000])
            .unwrap();
        p[1] = 0x2e;
        let c = checksum::checksum(&{
            let mut h = p[..20].to_vec();
            h[10] = 0;
            h[11] = 0;
            h
        });
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let m = PacketMeta::parse(&p).unwrap();
        let r = icmp_unreach_v4(&p, &m, 3, Ipv4Addr::new(10, 0, 0, 2)).unwrap();
        assert_eq!(r.len(), 576);
        assert_eq!(r[1], 0xc0 | 0x0e);
        let rm = PacketMeta::parse(&r).unwrap();
        assert!(checksum::verify_l4(&r, &rm));
        assert_eq!(&r[28..48], &p[..20]);
        // Small packet: quoted whole.
        let mut p = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5000, 53)
            .write(&mut p, b"q")
            .unwrap();
        let m = PacketMeta::parse(&p).unwrap();
        let r = icmp_unreach_v4(&p, &m, 3, Ipv4Addr::new(10, 0, 0, 2)).unwrap();
        assert_eq!(r.len(), 28 + p.len());
        // Not about an ICMP error.
        let m2 = PacketMeta::parse(&r).unwrap();
        assert!(icmp_unreach_v4(&r, &m2, 3, Ipv4Addr::new(10, 0, 0, 1)).is_none());
    }

    #[test]
    fn icmp6_unreach_quotes_1280() {
        let s = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let d = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut p = Vec::new();
        PacketBuilder::ipv6(s, d, 64)
            .udp(5000, 53)
            .write(&mut p, &[1u8; 2000])
            .unwrap();
        let m = PacketMeta::parse(&p).unwrap();
        let r = icmp6_unreach(&p, &m, 4, Ipv6Addr::from(d)).unwrap();
        assert_eq!(r.len(), 1280);
        let rm = PacketMeta::parse(&r).unwrap();
        assert!(checksum::verify_l4(&r, &rm));
        assert!(icmp6_unreach(&r, &rm, 4, Ipv6Addr::from(s)).is_none());
        let mut t = Vec::new();
        PacketBuilder::ipv6(s, d, 64)
            .tcp(1, 2, 3, 4)
            .syn()
            .write(&mut t, &[])
            .unwrap();
        let tm = PacketMeta::parse(&t).unwrap();
        let r = tcp_reset_v6(&t, &tm).unwrap();
        let rm = PacketMeta::parse(&r).unwrap();
        assert!(checksum::verify_l4(&r, &rm));
        assert_eq!(rm.ttl, 64);
    }
}

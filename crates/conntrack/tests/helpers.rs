//! FTP and TFTP helpers through the public tracker API: a control or
//! request connection with a `CT --helper` template opens an expectation;
//! the data connection it announces is RELATED and unhelped.

use etherparse::PacketBuilder;
use palisade_conntrack::{
    Conntrack, CtConfig, CtInfo, CtResult, CtTemplate, HelpVerdict, HelperId, Nanos, Status,
};
use palisade_wire::PacketMeta;

const C: [u8; 4] = [10, 0, 1, 2];
const S: [u8; 4] = [10, 0, 2, 2];
const MS: Nanos = 1_000_000;

#[allow(clippy::too_many_arguments)]
fn tcp(
    src: [u8; 4],
    dst: [u8; 4],
    sp: u16,
    dp: u16,
    fl: &str,
    seq: u32,
    ack: u32,
    pl: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, seq, 64000);
    for f in fl.chars() {
        b = match f {
            'S' => b.syn(),
            'A' => b.ack(ack),
            'P' => b.psh(),
            _ => b,
        };
    }
    let mut out = Vec::new();
    b.write(&mut out, pl).unwrap();
    out
}

fn udp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, pl: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(sp, dp)
        .write(&mut out, pl)
        .unwrap();
    out
}

struct Fw {
    ct: Conntrack,
    now: Nanos,
}

impl Fw {
    fn new() -> Fw {
        Fw {
            ct: Conntrack::new(CtConfig::default()),
            now: 1000 * MS,
        }
    }
    /// PREROUTING (with a template when `helper`) → helper → confirm.
    fn pass(&mut self, p: &[u8], helper: Option<HelperId>) -> (CtResult, HelpVerdict) {
        self.now += MS;
        let m = PacketMeta::parse(p).unwrap();
        let tmpl = CtTemplate {
            helper,
            ..Default::default()
        };
        let r = self.ct.packet_in(self.now, p, &m, false, Some(&tmpl));
        let v = self.ct.help(&r, self.now, p, &m);
        if v == HelpVerdict::Accept {
            assert!(self.ct.confirm_packet(&r, self.now));
        } else if let Some(h) = r.handle {
            self.ct.discard(h);
        }
        (r, v)
    }
}

/// Handshake plus greeting and USER (never parsed: no line start known
/// yet), returning the next sequence numbers (client, server).
fn control(fw: &mut Fw) -> (u32, u32) {
    let h = Some(HelperId::FTP);
    let (c, s) = (1000u32, 5000u32);
    fw.pass(&tcp(C, S, 40000, 21, "S", c, 0, b""), h);
    fw.pass(&tcp(S, C, 21, 40000, "SA", s, c + 1, b""), h);
    fw.pass(&tcp(C, S, 40000, 21, "A", c + 1, s + 1, b""), h);
    let g = b"220 hi\r\n";
    fw.pass(&tcp(S, C, 21, 40000, "PA", s + 1, c + 1, g), h);
    let u = b"USER a\r\n";
    fw.pass(
        &tcp(C, S, 40000, 21, "PA", c + 1, s + 1 + g.len() as u32, u),
        h,
    );
    (c + 1 + u.len() as u32, s + 1 + g.len() as u32)
}

#[test]
fn ftp_active_port_makes_data_connection_related() {
    let mut fw = Fw::new();
    let (c, s) = control(&mut fw);
    let cmd = b"PORT 10,0,1,2,19,137\r\n";
    let (_, v) = fw.pass(&tcp(C, S, 40000, 21, "PA", c, s, cmd), None);
    assert_eq!(v, HelpVerdict::Accept);
    let exps = fw.ct.expectations(fw.now);
    assert_eq!(exps.len(), 1);
    assert_eq!(exps[0].tuple.dport, 5001);
    // Server connects from port 20 to the announced port.
    let (r, _) = fw.pass(&tcp(S, C, 20, 5001, "S", 9, 0, b""), None);
    assert_eq!(r.info, CtInfo::Related);
    let e = fw.ct.entry(r.handle.unwrap()).unwrap();
    assert!(e.status.has(Status::EXPECTED));
    assert_eq!(e.helper, None);
    assert!(fw.ct.expectations(fw.now).is_empty());
    // A second connection to the same port is NEW again.
    let (r, _) = fw.pass(&tcp(S, C, 21, 5001, "S", 9, 0, b""), None);
    assert_eq!(r.info, CtInfo::New);
}

#[test]
fn ftp_pasv_and_epsv() {
    let mut fw = Fw::new();
    let (c, s) = control(&mut fw);
    let pasv = b"PASV\r\n";
    fw.pass(&tcp(C, S, 40000, 21, "PA", c, s, pasv), None);
    let rep = b"227 Entering Passive Mode (10,0,2,2,200,10).\r\n";
    fw.pass(&tcp(S, C, 21, 40000, "PA", s, c + 6, rep), None);
    let (r, _) = fw.pass(&tcp(C, S, 41000, 51210, "S", 1, 0, b""), None);
    assert_eq!(r.info, CtInfo::Related);
    let s2 = s + rep.len() as u32;
    let rep2 = b"229 Entering Extended Passive Mode (|||6446|)\r\n";
    fw.pass(&tcp(S, C, 21, 40000, "PA", s2, c + 6, rep2), None);
    let (r, _) = fw.pass(&tcp(C, S, 41001, 6446, "S", 1, 0, b""), None);
    assert_eq!(r.info, CtInfo::Related);
}

#[test]
fn ftp_foreign_address_needs_loose_and_partial_drops() {
    let mut fw = Fw::new();
    let (c, s) = control(&mut fw);
    let cmd = b"PORT 10,0,9,9,19,137\r\n";
    fw.pass(&tcp(C, S, 40000, 21, "PA", c, s, cmd), None);
    assert!(fw.ct.expectations(fw.now).is_empty());
    // Not at a line start: the same command, mid-line, is ignored.
    let c2 = c + cmd.len() as u32;
    let mid = b"PORT 10,0,1,2,1,1";
    let (_, v) = fw.pass(&tcp(C, S, 40000, 21, "PA", c2 + 1, s, mid), None);
    assert_eq!(v, HelpVerdict::Accept);
    assert!(fw.ct.expectations(fw.now).is_empty());
    // At a line start, cut short: dropped.
    let (_, v) = fw.pass(&tcp(C, S, 40000, 21, "PA", c2, s, mid), None);
    assert_eq!(v, HelpVerdict::Drop);
    fw.ct.helper_config_mut().ftp_loose = true;
    let cmd = b"PORT 10,0,9,9,19,137\r\n";
    fw.pass(&tcp(C, S, 40000, 21, "PA", c2, s, cmd), None);
    let e = fw.ct.expectations(fw.now);
    assert_eq!(e.len(), 1);
    assert_eq!(&e[0].tuple.dst[..4], &[10, 0, 9, 9]);
}

#[test]
fn tftp_request_expects_reply_from_any_port() {
    let mut fw = Fw::new();
    let (r, v) = fw.pass(
        &udp(C, S, 3333, 69, b"\x00\x01f\x00octet\x00"),
        Some(HelperId::TFTP),
    );
    assert_eq!((r.info, v), (CtInfo::New, HelpVerdict::Accept));
    assert_eq!(fw.ct.expectations(fw.now).len(), 1);
    let (r, _) = fw.pass(&udp(S, C, 45678, 3333, b"\x00\x03\x00\x01x"), None);
    assert_eq!(r.info, CtInfo::Related);
    let (r, _) = fw.pass(&udp(C, S, 3333, 45678, b"\x00\x04\x00\x01"), None);
    assert_eq!(r.info, CtInfo::EstablishedReply);
    // Expectations expire after 5 minutes.
    fw.pass(
        &udp(C, S, 3334, 69, b"\x00\x02f\x00octet\x00"),
        Some(HelperId::TFTP),
    );
    fw.now += 301_000 * MS;
    let (r, _) = fw.pass(&udp(S, C, 45679, 3334, b"\x00\x04\x00\x00"), None);
    assert_eq!(r.info, CtInfo::New);
}

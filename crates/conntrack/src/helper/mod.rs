//! Kernel: net/netfilter/nf_conntrack_helper.c (`__nf_ct_try_assign_helper`,
//! `nf_conntrack_helper_try_module_get`), nf_conntrack_proto.c
//! (`nf_confirm`: the helper runs just before confirmation), xt_CT.c.
//!
//! Connection helpers read a connection's payload and open expectations for
//! the connections the protocol will make next ([`crate::expect`]).
//!
//! How a connection gets a helper: only from the raw table's CT target
//! template (`-t raw -A PREROUTING -p tcp --dport 21 -j CT --helper ftp`,
//! and in OUTPUT for the host's own clients), and only when the new
//! connection matched no expectation. Kernels before 6.0 also had automatic
//! assignment (`net.netfilter.nf_conntrack_helper=1`, off by default since
//! 4.7 and removed in 6.0): every new connection whose reply tuple matched a
//! registered helper's port (TCP 21 for ftp, UDP 69 for tftp) got that
//! helper without any rule. That is not modelled: rulesets relying on it
//! must add the CT rules, as they must on current kernels.
//!
//! When the helper runs (`nf_confirm`): on every packet of a helped
//! connection at the confirm point (end of INPUT and POSTROUTING), after
//! all the tables, except RELATED_REPLY packets (ICMP errors). The helper
//! may drop the packet; its rule counters were already counted.
//!
//! Registered helpers: `ftp` (TCP) and `tftp` (UDP), both families, both
//! with the policy `max_expected` 1 and a 5 minute expectation timeout.
//! Other kernel helper names (irc, sip, h323, pptp, amanda, sane, snmp,
//! netbios-ns) resolve to nothing here.

pub mod ftp;
pub mod seqadj;
pub mod tftp;

use std::collections::HashMap;

use palisade_wire::{L4Meta, PacketMeta};

use crate::conn::{CtInfo, Entry, HelperId, Status};
use crate::expect::{ExpectError, ExpectNat, ExpectTable, Expectation};
use crate::tuple::{addr_bytes, Tuple};
use crate::{Conntrack, CtHandle, CtResult, Nanos, SEC};

impl HelperId {
    /// The `ftp` helper.
    pub const FTP: HelperId = HelperId(1);
    /// The `tftp` helper.
    pub const TFTP: HelperId = HelperId(2);
}

/// Expectation timeout of the ftp and tftp policies.
pub const EXPECT_TIMEOUT: Nanos = 300 * SEC;
/// `max_expected` of the ftp and tftp policies.
pub const MAX_EXPECTED: usize = 1;

/// The helper `CT --helper NAME` names for a rule on layer-4 protocol
/// `proto` (the kernel looks helpers up by name, family and protocol when
/// the rule is loaded, and refuses the rule when none exists).
pub fn helper_by_name(name: &str, proto: u8) -> Option<HelperId> {
    match (name, proto) {
        ("ftp", 6) => Some(HelperId::FTP),
        ("tftp", 17) => Some(HelperId::TFTP),
        _ => None,
    }
}

/// The name of a helper.
pub fn helper_name(id: HelperId) -> Option<&'static str> {
    match id {
        HelperId::FTP => Some("ftp"),
        HelperId::TFTP => Some("tftp"),
        _ => None,
    }
}

/// Module parameters of the helpers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HelperConfig {
    /// `nf_conntrack_ftp loose=1`: follow PORT/PASV addresses that are not
    /// the sender's own (default off).
    pub ftp_loose: bool,
}

/// What the helper decided for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelpVerdict {
    /// Let it through.
    Accept,
    /// Drop it (a partial FTP command, or an expectation that could not be
    /// made).
    Drop,
}

/// Helper state kept by the tracker: expectations and per-connection data.
#[derive(Debug, Default)]
pub struct Helpers {
    pub(crate) expect: ExpectTable,
    /// FTP line tracking by slot, with the entry's generation.
    ftp: HashMap<u32, (u32, ftp::FtpState)>,
    /// Module parameters.
    pub cfg: HelperConfig,
    /// NAT sequence corrections by slot, with the entry's generation.
    pub(crate) seqadj: HashMap<u32, (u32, [seqadj::SeqAdj; 2])>,
    /// The expectation the last new connection fulfilled, when it carries
    /// NAT (slot, generation): read once by the NAT engine.
    last_expected: Option<(u32, u32, Expectation)>,
    /// `get_random_u32_below` for `nf_nat_exp_find_port` (xorshift).
    rng: u64,
}

/// A rewrite a NAT-aware helper asks for (`nf_nat_mangle_tcp_packet`):
/// replace `len` bytes at `off` of the TCP payload with `text()`, and
/// record the length change for the sequence adjustment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mangle {
    /// Offset in the TCP payload.
    pub off: usize,
    /// Bytes replaced.
    pub len: usize,
    buf: [u8; 64],
    n: u8,
    /// Direction of the packet (0 original, 1 reply).
    pub dir: usize,
    /// The packet's sequence number (before any adjustment).
    pub seq: u32,
    /// The expectation made for the rewritten command (its tuple), removed
    /// again by [`Conntrack::unexpect`] when the rewrite fails.
    pub(crate) expect: Option<Tuple>,
}

impl Mangle {
    /// A rewrite of `len` bytes at payload offset `off` with `text` (cut at
    /// 64 bytes, more than any helper writes).
    pub fn new(off: usize, len: usize, text: &str, dir: usize, seq: u32) -> Mangle {
        let mut buf = [0u8; 64];
        let n = text.len().min(buf.len());
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        Mangle {
            off,
            len,
            buf,
            n: n as u8,
            dir,
            seq,
            expect: None,
        }
    }

    /// The replacement text.
    pub fn text(&self) -> &[u8] {
        &self.buf[..usize::from(self.n)]
    }
}

fn alive(slab: &[Option<Entry>], h: CtHandle, now: Nanos) -> bool {
    slab.get(h.slot as usize)
        .and_then(|e| e.as_ref())
        .is_some_and(|e| {
            e.gen() == h.gen
                && e.is_confirmed()
                && !e.status.has(Status::DYING)
                && !e.is_expired(now)
        })
}

impl Conntrack {
    /// Helper parameters (`loose`).
    pub fn helper_config_mut(&mut self) -> &mut HelperConfig {
        &mut self.helpers.cfg
    }

    /// Live expectations at `now` (`/proc/net/nf_conntrack_expect`).
    pub fn expectations(&self, now: Nanos) -> Vec<Expectation> {
        self.helpers
            .expect
            .iter()
            .filter(|e| e.expires > now && alive(&self.slab, e.master, now))
            .copied()
            .collect()
    }

    /// `nf_conntrack_expect_max`: the kernel sizes it from the hash table
    /// (four per expectation bucket, one bucket per 256 conntrack buckets).
    fn expect_max(&self) -> usize {
        (self.cfg.buckets as usize / 256).max(1) * 4
    }

    /// `nf_ct_expect_related`: adds an expectation for a master that still
    /// exists (it may be unconfirmed: the helper runs before confirmation;
    /// the expectation is only usable once the master is confirmed).
    /// Expectations of dead masters and expired ones are pruned first.
    pub fn expect_related(&mut self, e: Expectation, now: Nanos) -> Result<(), ExpectError> {
        if self
            .entry(e.master)
            .is_none_or(|m| m.status.has(Status::DYING))
        {
            return Err(ExpectError::NoMaster);
        }
        self.helpers.expect.max = self.expect_max();
        let slab = &self.slab;
        self.helpers.expect.prune(now, |h| !dead(slab, h, now));
        self.helpers.expect.insert(e, MAX_EXPECTED)
    }

    /// `init_conntrack`'s lookup: the expectation a new connection's
    /// original tuple fulfils, removed from the table.
    pub(crate) fn take_expectation(&mut self, t: &Tuple, now: Nanos) -> Option<Expectation> {
        if self.helpers.expect.is_empty() {
            return None;
        }
        let slab = &self.slab;
        self.helpers.expect.take(t, now, |h| alive(slab, h, now))
    }

    /// Marks a new entry as expected: `IPS_EXPECTED`, the master's ctmark.
    pub(crate) fn apply_expectation(&mut self, i: u32, exp: &Expectation) {
        let mark = self.entry(exp.master).map_or(0, |m| m.mark);
        if let Some(c) = self.slab.get_mut(i as usize).and_then(|c| c.as_mut()) {
            c.status.set(Status::EXPECTED);
            c.mark = mark;
            self.helpers.last_expected = exp.nat.map(|_| (i, c.gen(), *exp));
        }
    }

    /// `exp->expectfn` (`nf_nat_follow_master`): the NAT part of the
    /// expectation the new connection `h` fulfilled, with its master's
    /// tuples, to bind it like the master. Read once, right after
    /// [`Conntrack::packet_in`] returned the new entry.
    pub fn take_expected_nat(&mut self, h: CtHandle) -> Option<(ExpectNat, [Tuple; 2])> {
        let (slot, gen, exp) = self.helpers.last_expected.take()?;
        if slot != h.slot || gen != h.gen {
            return None;
        }
        let m = self.entry(exp.master)?;
        Some((exp.nat?, [m.tuple(0), m.tuple(1)]))
    }

    /// Runs the connection's helper on a packet (`nf_confirm`): call at the
    /// confirm point, before [`Conntrack::confirm_packet`], with the packet
    /// as it leaves (after NAT). A [`HelpVerdict::Drop`] drops the packet
    /// (then [`Conntrack::discard`] its handle).
    pub fn help(
        &mut self,
        r: &CtResult,
        now: Nanos,
        datagram: &[u8],
        meta: &PacketMeta,
    ) -> HelpVerdict {
        let mut m = None;
        self.help_mangle(r, now, datagram, meta, &mut m)
    }

    /// [`Conntrack::help`] for a NAT engine: when the connection is NATed
    /// (`IPS_NAT_MASK`) the FTP helper asks in `mangle` for the command's
    /// address and port to be rewritten (`nf_nat_ftp`); the caller applies
    /// it, then records a length change with [`Conntrack::seqadj_set`].
    pub fn help_mangle(
        &mut self,
        r: &CtResult,
        now: Nanos,
        datagram: &[u8],
        meta: &PacketMeta,
        mangle: &mut Option<Mangle>,
    ) -> HelpVerdict {
        *mangle = None;
        self.last_now = self.last_now.max(now);
        let Some(h) = r.handle else {
            return HelpVerdict::Accept;
        };
        if !r.info.has_ct() || r.info == CtInfo::RelatedReply {
            return HelpVerdict::Accept;
        }
        let Some(e) = self.entry(h) else {
            return HelpVerdict::Accept;
        };
        let tuples = [e.tuple(0), e.tuple(1)];
        let nat = e.status.0 & (Status::SRC_NAT | Status::DST_NAT) != 0;
        let end = usize::from(meta.len).min(datagram.len());
        let l4 = usize::from(meta.l4_off);
        match (e.helper, meta.l4) {
            (Some(HelperId::FTP), L4Meta::Tcp(th)) => {
                if !matches!(r.info, CtInfo::Established | CtInfo::EstablishedReply) {
                    return HelpVerdict::Accept;
                }
                let start = l4 + usize::from(th.hdr_len);
                match datagram.get(start..end) {
                    Some(p) if !p.is_empty() => {
                        let dir = usize::from(r.info.is_reply());
                        let seg = FtpSeg {
                            h,
                            dir,
                            seq: th.seq,
                            nat,
                        };
                        self.help_ftp(&seg, &tuples, p, now, mangle)
                    }
                    _ => HelpVerdict::Accept,
                }
            }
            (Some(HelperId::TFTP), L4Meta::Udp(_)) => {
                let p = datagram.get(l4 + 8..end).unwrap_or(&[]);
                if !tftp::is_request(p) {
                    return HelpVerdict::Accept;
                }
                // Server (reply source, any port) to the client's port.
                let reply = tuples[1];
                let exp =
                    Expectation::new(h, HelperId::TFTP, reply, reply.dport, now + EXPECT_TIMEOUT);
                match self.expect_related(exp, now) {
                    Ok(()) => HelpVerdict::Accept,
                    Err(_) => HelpVerdict::Drop,
                }
            }
            _ => HelpVerdict::Accept,
        }
    }

    /// `nf_ct_unexpect_related` after `nf_nat_ftp`'s "cannot mangle
    /// packet": the rewrite `m` of master `h` could not be applied (the
    /// packet is dropped), so the expectation made for it is removed at
    /// once instead of waiting for its expiry.
    pub fn unexpect(&mut self, h: CtHandle, m: &Mangle, now: Nanos) {
        if let Some(t) = m.expect {
            let _ = self.helpers.expect.take(&t, now, |x| x == h);
        }
    }

    fn help_ftp(
        &mut self,
        seg: &FtpSeg,
        tuples: &[Tuple; 2],
        payload: &[u8],
        now: Nanos,
        mangle: &mut Option<Mangle>,
    ) -> HelpVerdict {
        let (h, dir, seq) = (seg.h, seg.dir, seg.seq);
        let st = {
            let slot = self.helpers.ftp.entry(h.slot).or_default();
            if slot.0 != h.gen {
                *slot = (h.gen, ftp::FtpState::default());
            }
            slot.1
        };
        let ends_nl = payload.last() == Some(&b'\n');
        let next = seq.wrapping_add(payload.len() as u32);
        let mut verdict = HelpVerdict::Accept;
        if st.at_line_start(seq, dir) {
            let own = tuples[dir].src_ip();
            match ftp::find(payload, dir, own) {
                // Dropped whole: the line position stays where it was.
                ftp::Found::Partial => return HelpVerdict::Drop,
                ftp::Found::None => {}
                ftp::Found::Cmd(c) => {
                    // The command's address overlays the sender's (EPSV
                    // names none; PORT on IPv6 fills only 4 bytes).
                    let mut named = addr_bytes(own);
                    match c.addr {
                        std::net::IpAddr::V4(a) => named[..4].copy_from_slice(&a.octets()),
                        std::net::IpAddr::V6(a) => named = a.octets(),
                    }
                    let other = tuples[1 - dir];
                    let mut want = other;
                    let follow = named == tuples[dir].src || self.helpers.cfg.ftp_loose;
                    if named != tuples[dir].src {
                        want.dst = named;
                    }
                    if follow {
                        let exp =
                            Expectation::new(h, HelperId::FTP, want, c.port, now + EXPECT_TIMEOUT);
                        if seg.nat {
                            verdict = self.nat_ftp(exp, &c, seg, tuples, now, mangle);
                        } else if self.expect_related(exp, now).is_err() {
                            verdict = HelpVerdict::Drop;
                        }
                    }
                }
            }
        }
        if ends_nl {
            if let Some(slot) = self.helpers.ftp.get_mut(&h.slot) {
                slot.1.update(next, dir);
            }
        }
        verdict
    }
}

/// The control segment the FTP helper looks at.
struct FtpSeg {
    h: CtHandle,
    dir: usize,
    seq: u32,
    nat: bool,
}

impl Conntrack {
    /// `nf_nat_ftp` (net/netfilter/nf_nat_ftp.c): the data connection will
    /// come to wherever this packet goes, so the command is rewritten to
    /// name the address the other side sees (`tuplehash[!dir].dst`) and a
    /// port the expectation could take there; the expectation remembers the
    /// real port and that the data connection must be NATed like its master
    /// (`nf_nat_follow_master`).
    fn nat_ftp(
        &mut self,
        mut exp: Expectation,
        c: &ftp::FtpCmd,
        seg: &FtpSeg,
        tuples: &[Tuple; 2],
        now: Nanos,
        mangle: &mut Option<Mangle>,
    ) -> HelpVerdict {
        let other = tuples[1 - seg.dir];
        let newaddr = other.dst_ip();
        exp.nat = Some(ExpectNat {
            dir: (1 - seg.dir) as u8,
            saved_port: c.port,
            saved_addr: tuples[seg.dir].src,
        });
        // nf_nat_exp_find_port: the same port first, then up to 128 random
        // ones above it while another master holds the candidate.
        let min = c.port;
        let range = u32::from(u16::MAX - min);
        let mut left = range.min(128) as i32;
        let mut port = min;
        let port = loop {
            exp.tuple.dport = port;
            match self.expect_related(exp, now) {
                Ok(()) => break port,
                Err(ExpectError::Busy) if left > 0 && range > 0 => {
                    left -= 1;
                    port = min.wrapping_add((self.helpers.next_rand() % range) as u16);
                }
                Err(_) => return HelpVerdict::Drop,
            }
        };
        let text = ftp::nat_fmt(c.kind, newaddr, port);
        let mut m = Mangle::new(c.off, c.len, &text, seg.dir, seg.seq);
        m.expect = Some(exp.tuple);
        *mangle = Some(m);
        HelpVerdict::Accept
    }
}

impl Helpers {
    fn next_rand(&mut self) -> u32 {
        if self.rng == 0 {
            self.rng = 0x9e37_79b9_7f4a_7c15;
        }
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 32) as u32
    }
}

fn dead(slab: &[Option<Entry>], h: CtHandle, now: Nanos) -> bool {
    slab.get(h.slot as usize)
        .and_then(|e| e.as_ref())
        .filter(|e| e.gen() == h.gen)
        .is_none_or(|e| e.status.has(Status::DYING) || e.is_expired(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(helper_by_name("ftp", 6), Some(HelperId::FTP));
        assert_eq!(helper_by_name("ftp", 17), None);
        assert_eq!(helper_by_name("tftp", 17), Some(HelperId::TFTP));
        assert_eq!(helper_name(HelperId::TFTP), Some("tftp"));
    }

    #[test]
    fn unexpect_removes_only_the_rewrites_expectation() {
        use etherparse::PacketBuilder;
        let mut ct = Conntrack::new(crate::CtConfig::default());
        let mut p = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 21, 1, 64000)
            .syn()
            .write(&mut p, &[])
            .unwrap();
        let meta = PacketMeta::parse(&p).unwrap();
        let r = ct.packet_in(0, &p, &meta, false, None);
        assert!(ct.confirm_packet(&r, 0));
        let h = r.handle.unwrap();
        let t = ct.entry(h).unwrap().tuple(1);
        let exp = Expectation::new(h, HelperId::FTP, t, 5000, EXPECT_TIMEOUT);
        ct.expect_related(exp, 0).unwrap();
        let mut m = Mangle::new(5, 20, "10,0,0,9,19,136", 0, 1);
        // No expectation recorded, or another port: nothing goes.
        ct.unexpect(h, &m, 1);
        let mut other = exp.tuple;
        other.dport = 5001;
        m.expect = Some(other);
        ct.unexpect(h, &m, 1);
        assert_eq!(ct.expectations(1).len(), 1);
        m.expect = Some(exp.tuple);
        ct.unexpect(h, &m, 1);
        assert!(ct.expectations(1).is_empty());
    }
}

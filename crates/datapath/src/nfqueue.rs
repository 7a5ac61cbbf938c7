//! Kernel: net/netfilter/nfnetlink_queue.c (one NFQUEUE queue: packets
//! handed to userspace, re-injected by verdict; `NFQA_CFG_F_FAIL_OPEN`,
//! `NFQA_CFG_F_GSO`, payload mangling sets `CHECKSUM_NONE`).
//!
//! One worker per queue. A worker turns each queued packet into one engine
//! call — `receive_with` for packets queued at prerouting, `send_local_with`
//! at output — and the engine's verdict for the packet's whole path becomes
//! the queue verdict: accept (with the rewritten datagram when the engine
//! changed it: TCPMSS, NAT), or drop. REJECT replies are sent by the
//! worker's raw sockets.
//!
//! Offloads: with `NFQA_CFG_F_GSO` the kernel hands over GRO-merged and
//! not-yet-segmented packets (up to 64 KiB, larger than the MTU) and packets
//! whose layer-4 checksum is only partial (`NFQA_SKB_CSUMNOTREADY`). The
//! engine verifies checksums where the kernel would, and the kernel treats a
//! partial checksum as valid, so the worker completes the checksum in its
//! copy before the engine sees it.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use std::net::{IpAddr, Ipv4Addr};

use palisade_engine::{Engine, Outcome, Owner, RxInfo, TxInfo, Verdict, L2};
use palisade_wire::PacketMeta;

use crate::inject::Injector;

/// `NF_INET_PRE_ROUTING`.
const HOOK_PRE_ROUTING: u8 = 0;
/// `NF_INET_LOCAL_OUT`.
const HOOK_LOCAL_OUT: u8 = 3;

/// Counters of one queue, shared with the control thread.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Packets received from the kernel.
    pub packets: AtomicU64,
    /// Accepted.
    pub accepted: AtomicU64,
    /// Dropped by verdict.
    pub dropped: AtomicU64,
    /// Accepted with a rewritten payload.
    pub rewritten: AtomicU64,
    /// GSO (larger than MTU) packets seen.
    pub gso: AtomicU64,
    /// Replies injected.
    pub emitted: AtomicU64,
    /// Forwarded packets with a rewritten source, sent by the daemon.
    pub resent: AtomicU64,
    /// Replies that could not be sent.
    pub emit_errors: AtomicU64,
    /// Verdicts the kernel refused, and receive errors.
    pub errors: AtomicU64,
    /// Sum of receive-to-verdict times, ns.
    pub latency_sum_ns: AtomicU64,
    /// Largest receive-to-verdict time, ns.
    pub latency_max_ns: AtomicU64,
}

/// What every worker shares.
pub struct Shared {
    /// The engine: one conntrack table for all queues.
    pub engine: Mutex<Engine>,
    /// Interface names by ifindex (read at start).
    pub ifnames: HashMap<u32, String>,
    /// Interface MAC addresses by ifindex (read at start).
    pub macs: HashMap<u32, [u8; 6]>,
    /// Interface MTUs by ifindex (read at start).
    pub mtus: HashMap<u32, u32>,
    /// The host's IPv4 broadcast addresses (link-layer broadcast frames).
    pub broadcasts: Vec<IpAddr>,
    /// Time origin of the engine's clock.
    pub epoch: Instant,
    /// Global LOG line limit (lines per second, burst).
    pub log_limit: Mutex<TokenBucket>,
    /// LOG lines suppressed by the global limit.
    pub logs_suppressed: AtomicU64,
}

impl Shared {
    /// The engine's clock. It starts at one hour, not zero, as a booted
    /// kernel's jiffies do: rate limiters treat a new peer as last seen long
    /// ago (ICMP's full burst of six), which a clock near zero would not allow.
    pub fn now(&self) -> u64 {
        const START: u128 = 3600 * 1_000_000_000;
        (self.epoch.elapsed().as_nanos() + START).min(u128::from(u64::MAX)) as u64
    }
}

/// A token bucket: `rate` per second, up to `burst`.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64) -> TokenBucket {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes one token at `now`, if any.
    pub fn take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Opens and configures queue `num`: bound, GSO packets accepted, uid/gid
/// of local senders reported (`-m owner`), fail-open only when asked.
pub fn open(num: u16, fail_open: bool) -> io::Result<nfq::Queue> {
    let mut q = nfq::Queue::open()?;
    q.bind(num)?;
    q.set_recv_gso(num, true)?;
    q.set_recv_uid_gid(num, true)?;
    q.set_fail_open(num, fail_open)?;
    q.set_queue_max_len(num, 4096)?;
    Ok(q)
}

/// The datagram to give back with an accept verdict, if the engine changed
/// `input` beyond what the kernel will do itself. Forwarded packets leave the
/// engine with TTL/hop limit already decremented; the kernel decrements it
/// again when it forwards, so that byte is restored first.
pub fn rewritten(input: &[u8], out: &[u8], forwarded_rx: bool) -> Option<Vec<u8>> {
    if out.is_empty() || out == input {
        return None;
    }
    let mut p = out.to_vec();
    // The length may differ (a NAT helper rewrote the payload): the TTL
    // byte is restored all the same.
    if forwarded_rx && !p.is_empty() && p.first().map(|b| b >> 4) == input.first().map(|b| b >> 4) {
        match p[0] >> 4 {
            4 if p.len() >= 20 && input.len() >= 20 => {
                p[8] = input[8];
                let ihl = usize::from(p[0] & 0x0f) * 4;
                if ihl >= 20 && p.len() >= ihl {
                    p[10] = 0;
                    p[11] = 0;
                    let c = palisade_wire::checksum::checksum(&p[..ihl]);
                    p[10..12].copy_from_slice(&c.to_be_bytes());
                }
            }
            6 if p.len() >= 40 && input.len() >= 40 => p[7] = input[7],
            _ => {}
        }
        if p == input {
            return None;
        }
    }
    Some(p)
}

/// The source address bytes of a datagram (IPv4 or IPv6).
fn source(d: &[u8]) -> Option<&[u8]> {
    match d.first()? >> 4 {
        4 => d.get(12..16),
        6 => d.get(8..24),
        _ => None,
    }
}

/// Whether a forwarded packet the engine rewrote must be sent by the daemon
/// itself instead of being handed back with the verdict. The verdict
/// re-injects the packet at prerouting, where the kernel's routing still
/// validates the source: a source rewritten to one of the host's own
/// addresses (MASQUERADE, SNAT, the replies of a DNATed flow) is a martian
/// there and would be dropped, and a rewritten source can fail the kernel's
/// `rp_filter` on the interface it came in by. SNAT is a postrouting
/// operation in the kernel, after those checks; sending the packet from a
/// raw socket reproduces that order (output routing by destination, no
/// source validation). IPv6 input routing validates no source, so IPv6
/// packets keep the verdict path (and its offloads: a raw socket cannot send
/// a GRO-merged packet larger than the MTU).
pub fn needs_resend(input: &[u8], out: &[u8], forwarded_rx: bool) -> bool {
    forwarded_rx && out.first().is_some_and(|b| b >> 4 == 4) && source(input) != source(out)
}

/// The Ethernet header the engine sees for a received packet: the source
/// MAC NFQUEUE reports (`NFQA_HWADDR`, `-m mac`), the EtherType, and a
/// destination rebuilt from the IP destination (broadcast, multicast
/// mapping, or the interface's own address), since the queue does not carry
/// the frame header itself. `None` when the interface has no MAC (tunnels).
pub fn rx_l2(
    hw: Option<&[u8]>,
    ethertype: u16,
    own_mac: Option<[u8; 6]>,
    bcast: &[IpAddr],
    ip: &[u8],
) -> Option<L2> {
    let src: [u8; 6] = hw?.get(..6)?.try_into().ok()?;
    let own = own_mac?;
    let dst = match ip.first()? >> 4 {
        4 => {
            let d: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            let a = Ipv4Addr::from(d);
            if a.is_broadcast() || bcast.contains(&IpAddr::V4(a)) {
                [0xff; 6]
            } else if a.is_multicast() {
                [0x01, 0x00, 0x5e, d[1] & 0x7f, d[2], d[3]]
            } else {
                own
            }
        }
        6 => {
            let d = ip.get(24..40)?;
            if d[0] == 0xff {
                [0x33, 0x33, d[12], d[13], d[14], d[15]]
            } else {
                own
            }
        }
        _ => return None,
    };
    Some(L2 {
        src,
        dst,
        ethertype,
    })
}

/// Completes a partial layer-4 checksum in place (`CHECKSUM_PARTIAL`
/// packets: the kernel or the NIC would fill it in later).
fn complete_checksum(d: &mut Vec<u8>) {
    let Ok(meta) = PacketMeta::parse(d) else {
        return;
    };
    if meta.frag_off != 0 || meta.more_frags {
        return;
    }
    d.truncate(usize::from(meta.len).max(1).min(d.len()));
    palisade_wire::checksum::fill_l4(d, usize::from(meta.l4_off), meta.src, meta.dst, meta.proto);
}

/// Per-worker scratch buffers.
struct Scratch {
    input: Vec<u8>,
    out: Outcome,
}

/// Runs the worker loop on `q` forever (until the process exits).
pub fn run(num: u16, mut q: nfq::Queue, shared: Arc<Shared>, stats: Arc<QueueStats>) {
    let inject = match Injector::new(crate::nft::INJECT_MARK) {
        Ok(i) => Some(i),
        Err(e) => {
            tracing::warn!(queue = num, error = %e, "no raw socket: REJECT replies will not be sent");
            None
        }
    };
    let mut s = Scratch {
        input: Vec::with_capacity(65536),
        out: Outcome::new(),
    };
    loop {
        let mut msg = match q.recv() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                stats.errors.fetch_add(1, Relaxed);
                tracing::warn!(queue = num, error = %e, "nfqueue receive failed");
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
        };
        let t0 = Instant::now();
        stats.packets.fetch_add(1, Relaxed);
        if msg.is_seg_offloaded() {
            stats.gso.fetch_add(1, Relaxed);
        }
        decide(&shared, &mut msg, &mut s, inject.as_ref(), &stats);
        if let Err(e) = q.verdict(msg) {
            stats.errors.fetch_add(1, Relaxed);
            tracing::warn!(queue = num, error = %e, "verdict refused");
        }
        let dt = t0.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
        stats.latency_sum_ns.fetch_add(dt, Relaxed);
        stats.latency_max_ns.fetch_max(dt, Relaxed);
    }
}

fn if_index(shared: &Shared, name: &str) -> u32 {
    shared
        .ifnames
        .iter()
        .find(|(_, n)| n.as_str() == name)
        .map(|(i, _)| *i)
        .unwrap_or(0)
}

fn decide(
    shared: &Shared,
    msg: &mut nfq::Message,
    s: &mut Scratch,
    inject: Option<&Injector>,
    stats: &QueueStats,
) {
    s.input.clear();
    s.input.extend_from_slice(msg.get_payload());
    if !msg.is_checksum_ready() {
        complete_checksum(&mut s.input);
    } else if let Ok(meta) = PacketMeta::parse(&s.input) {
        let len = usize::from(meta.len).min(s.input.len());
        s.input.truncate(len);
    }
    let hook = msg.get_hook();
    let name = |idx: u32| shared.ifnames.get(&idx).map(String::as_str);
    let iif = name(msg.get_indev());
    let oif = name(msg.get_outdev());
    let now = shared.now();
    {
        let mut engine = match shared.engine.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match hook {
            HOOK_PRE_ROUTING => {
                let indev = msg.get_indev();
                let rx = RxInfo {
                    l2: rx_l2(
                        msg.get_hw_addr(),
                        msg.get_hw_protocol(),
                        shared.macs.get(&indev).copied(),
                        &shared.broadcasts,
                        &s.input,
                    ),
                    gso: msg.is_seg_offloaded(),
                };
                engine.receive_with(now, iif.unwrap_or(""), rx, &s.input, &mut s.out)
            }
            HOOK_LOCAL_OUT => {
                let owner = match (msg.get_uid(), msg.get_gid()) {
                    (Some(uid), Some(gid)) => Some(Owner { uid, gid }),
                    _ => None,
                };
                let tx = TxInfo {
                    owner,
                    mark: msg.get_nfmark(),
                    oif,
                };
                engine.send_local_with(now, tx, &s.input, &mut s.out)
            }
            _ => {
                // Not a hook the table queues at: let it be.
                msg.set_verdict(nfq::Verdict::Accept);
                return;
            }
        }
    }
    let out = &s.out;
    match out.verdict {
        Verdict::Accept => {
            stats.accepted.fetch_add(1, Relaxed);
            let fwd_rx = hook == HOOK_PRE_ROUTING && out.forwarded;
            let resend = needs_resend(&s.input, &out.packet, fwd_rx);
            if resend {
                // Sent as it leaves the engine (TTL already decremented),
                // cut to the outgoing MTU as the kernel's GSO/fragmentation
                // would.
                msg.set_verdict(nfq::Verdict::Drop);
                stats.resent.fetch_add(1, Relaxed);
                let idx = if_index(shared, &out.out_iface);
                let mtu = shared.mtus.get(&idx).map_or(1500, |m| *m as usize);
                match (inject, crate::segment::fit_mtu(&out.packet, mtu)) {
                    (Some(i), Some(parts)) => {
                        for p in parts {
                            if let Err(err) = i.send(&p, idx) {
                                stats.emit_errors.fetch_add(1, Relaxed);
                                tracing::debug!(error = %err, "source-NATed packet not sent");
                            }
                        }
                    }
                    _ => {
                        stats.emit_errors.fetch_add(1, Relaxed);
                    }
                }
            } else {
                msg.set_verdict(nfq::Verdict::Accept);
            }
            if resend {
                // Handled above.
            } else if let Some(p) = rewritten(&s.input, &out.packet, fwd_rx) {
                stats.rewritten.fetch_add(1, Relaxed);
                msg.set_payload(p);
            }
        }
        Verdict::Queue { num, .. } => {
            // The ruleset itself says NFQUEUE: hand the packet on.
            stats.accepted.fetch_add(1, Relaxed);
            msg.set_verdict(nfq::Verdict::Queue(num));
        }
        // The kernel's own defrag runs before the queue hook, so a
        // fragment reaching us is a stray: dropped.
        Verdict::Drop(_) | Verdict::Pending | Verdict::Stolen => {
            stats.dropped.fetch_add(1, Relaxed);
            msg.set_verdict(nfq::Verdict::Drop);
        }
    }
    for e in &out.emitted {
        let idx = if_index(shared, &e.out_iface);
        match inject.map(|i| i.send(&e.packet, idx)) {
            Some(Ok(())) => {
                stats.emitted.fetch_add(1, Relaxed);
            }
            Some(Err(err)) => {
                stats.emit_errors.fetch_add(1, Relaxed);
                tracing::debug!(error = %err, "reply not sent");
            }
            None => {
                stats.emit_errors.fetch_add(1, Relaxed);
            }
        }
    }
    if !out.logs.is_empty() {
        let now = Instant::now();
        let mut bucket = match shared.log_limit.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for l in &out.logs {
            if bucket.take(now) {
                tracing::info!(target: "palisade::log", level = l.level, "{}", l.text);
            } else {
                shared.logs_suppressed.fetch_add(1, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(ttl: u8, last: u8) -> Vec<u8> {
        let mut d = vec![
            0x45, 0, 0, 21, 0, 1, 0, 0, ttl, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, last,
        ];
        let c = palisade_wire::checksum::checksum(&d[..20]);
        d[10..12].copy_from_slice(&c.to_be_bytes());
        d
    }

    #[test]
    fn ttl_decrement_alone_is_not_a_rewrite() {
        let input = v4(64, 0);
        assert_eq!(rewritten(&input, &v4(63, 0), true), None);
        assert_eq!(rewritten(&input, &input, false), None);
        // A real change comes back with the original TTL and a good checksum.
        let p = rewritten(&input, &v4(63, 9), true).unwrap();
        assert_eq!(p, v4(64, 9));
        assert!(palisade_wire::checksum::ipv4_header_ok(&p));
        // Local packets: any difference is a rewrite.
        assert!(rewritten(&input, &v4(63, 0), false).is_some());
    }

    #[test]
    fn source_rewrites_are_resent() {
        let input = v4(64, 0);
        let mut snat = v4(63, 0);
        snat[12] = 192;
        assert!(needs_resend(&input, &snat, true));
        // Destination-only rewrites (DNAT, un-SNAT of replies) go back with
        // the verdict; local deliveries and drops never resend.
        let mut dnat = v4(63, 0);
        dnat[19] = 9;
        assert!(!needs_resend(&input, &dnat, true));
        assert!(!needs_resend(&input, &snat, false));
        assert!(!needs_resend(&input, &[], true));
        let mut v6in = vec![0x60u8; 40];
        v6in[6] = 17;
        let mut v6out = v6in.clone();
        v6out[8] = 1;
        assert!(!needs_resend(&v6in, &v6out, true));
    }

    #[test]
    fn l2_from_hwaddr() {
        let own = [2, 0, 0, 0, 0, 1];
        let hw = [2, 0, 0, 0, 0, 9, 0, 0];
        let l2 = rx_l2(Some(&hw), 0x0800, Some(own), &[], &v4(64, 0)).unwrap();
        assert_eq!(
            (l2.src, l2.dst, l2.ethertype),
            ([2, 0, 0, 0, 0, 9], own, 0x0800)
        );
        let mut b = v4(64, 0);
        b[16..20].copy_from_slice(&[10, 0, 0, 255]);
        let bc: IpAddr = "10.0.0.255".parse().unwrap();
        assert_eq!(
            rx_l2(Some(&hw), 0x0800, Some(own), &[bc], &b).unwrap().dst,
            [0xff; 6]
        );
        b[16..20].copy_from_slice(&[224, 0, 0, 251]);
        assert_eq!(
            rx_l2(Some(&hw), 0x0800, Some(own), &[], &b).unwrap().dst,
            [1, 0, 0x5e, 0, 0, 251]
        );
        assert!(rx_l2(None, 0x0800, Some(own), &[], &v4(64, 0)).is_none());
        assert!(rx_l2(Some(&hw), 0x0800, None, &[], &v4(64, 0)).is_none());
        assert!(rx_l2(Some(&hw[..3]), 0x0800, Some(own), &[], &v4(64, 0)).is_none());
    }

    #[test]
    fn bucket_limits() {
        let mut b = TokenBucket::new(1.0, 2.0);
        let t = Instant::now();
        assert!(b.take(t));
        assert!(b.take(t));
        assert!(!b.take(t));
        assert!(b.take(t + std::time::Duration::from_secs(1)));
    }
}

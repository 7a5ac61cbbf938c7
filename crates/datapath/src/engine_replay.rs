//! `palisade replay`: a capture recorded on a firewall host, run through the
//! engine with that host's addresses, routes and tunables, so the engine's
//! counters can be compared with the kernel's `iptables-save -c`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use palisade_engine::{CompileError, Engine, EngineConfig, Outcome, RxInfo, TxInfo, Verdict, L2};
use palisade_model::Ruleset;

use crate::capture::{Capture, CaptureOptions, CapturedPacket, PacketType};
use crate::host::HostSpec;
use crate::replay::{Emitted, ReplayEngine, ReplaySummary, Replayer};

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A tunable the engine does not know, or a bad value.
    #[error("sysctl {name}={value}: {why}")]
    Sysctl {
        /// Name.
        name: String,
        /// Value.
        value: String,
        /// Engine's reason.
        why: String,
    },
    /// The rulesets do not load.
    #[error("ruleset refused: {0}")]
    Compile(#[from] CompileError),
}

/// The engine, adapted to the replay model, with per-verdict tallies and an
/// optional text trace.
pub struct EngineReplay {
    /// The engine.
    pub engine: Engine,
    out: Outcome,
    macs: BTreeMap<String, [u8; 6]>,
    /// Packets by final verdict ("ACCEPT", "DROP (reason)", ...).
    pub verdicts: BTreeMap<String, u64>,
    /// One block of lines per packet when tracing.
    pub trace: Option<String>,
    frame: usize,
}

impl EngineReplay {
    /// Builds the engine for `host` with `sysctls` applied (kernel names).
    pub fn new(
        v4: &Ruleset,
        v6: &Ruleset,
        host: &HostSpec,
        sysctls: &[(String, String)],
    ) -> Result<EngineReplay, ReplayError> {
        let mut cfg = EngineConfig::default();
        let mut fwd4 = false;
        let mut fwd6 = false;
        for (name, value) in sysctls {
            cfg.set_sysctl(name, value)
                .map_err(|e| ReplayError::Sysctl {
                    name: name.clone(),
                    value: value.clone(),
                    why: e.to_string(),
                })?;
            let on = value.trim() != "0";
            match name.replace('/', ".").as_str() {
                "net.ipv4.ip_forward" | "net.ipv4.conf.all.forwarding" => fwd4 = on,
                "net.ipv6.conf.all.forwarding" => fwd6 = on,
                _ => {}
            }
        }
        let engine = Engine::new(v4, v6, host.to_engine_host(fwd4, fwd6), cfg)?;
        let macs = host
            .interfaces
            .iter()
            .filter_map(|i| i.mac.map(|m| (i.name.clone(), m)))
            .collect();
        Ok(EngineReplay {
            engine,
            out: Outcome::new(),
            macs,
            verdicts: BTreeMap::new(),
            trace: None,
            frame: 0,
        })
    }

    /// Turns on the per-packet trace.
    pub fn enable_trace(&mut self) {
        self.engine.set_trace(true);
        self.trace = Some(String::new());
    }

    fn collect(&mut self, what: &str, iface: &str, out: &mut Vec<Emitted>) {
        let verdict = match &self.out.verdict {
            Verdict::Accept => "ACCEPT".to_string(),
            Verdict::Drop(r) => format!("DROP ({r:?})"),
            other => format!("{other:?}"),
        };
        *self.verdicts.entry(verdict.clone()).or_default() += 1;
        if let Some(t) = &mut self.trace {
            let _ = writeln!(
                t,
                "#{} {what} {iface}: {} ct={:?} -> {verdict}",
                self.frame,
                palisade_wire::fmt::describe(&self.out.packet),
                self.out.ct
            );
            for s in &self.out.trace {
                let _ = writeln!(
                    t,
                    "    {:?} {}/{} rule {} {:?} {} ct={:?}",
                    s.hook,
                    s.table.name(),
                    s.chain,
                    s.rule,
                    s.kind,
                    s.target,
                    s.ct
                );
            }
            for e in &self.out.emitted {
                let _ = writeln!(
                    t,
                    "    emitted via {}: {}",
                    e.out_iface,
                    palisade_wire::fmt::describe(&e.packet)
                );
            }
        }
        if self.out.forwarded {
            out.push(Emitted {
                oif: Some(self.out.out_iface.clone()),
                data: self.out.packet.clone(),
            });
        }
        for e in &self.out.emitted {
            if !e.delivered_local {
                out.push(Emitted {
                    oif: Some(e.out_iface.clone()),
                    data: e.packet.clone(),
                });
            }
        }
    }
}

impl ReplayEngine for EngineReplay {
    fn receive(&mut self, iif: &str, p: &CapturedPacket<'_>, out: &mut Vec<Emitted>) {
        self.frame = p.frame;
        // SLL2 keeps only the source MAC; the destination follows from the
        // packet type, which is what `-m pkttype` and LOG's MAC= read.
        let l2 = p.src_mac.map(|src| L2 {
            src,
            dst: match p.pkt_type {
                PacketType::Broadcast => [0xff; 6],
                PacketType::Multicast => multicast_mac(p.data),
                _ => self.macs.get(iif).copied().unwrap_or([0; 6]),
            },
            ethertype: p.ethertype,
        });
        self.engine.receive_with(
            p.ts_ns,
            iif,
            RxInfo { l2, gso: false },
            p.data,
            &mut self.out,
        );
        self.collect("in", iif, out);
    }

    fn send_local(
        &mut self,
        now_ns: u64,
        oif: Option<&str>,
        datagram: &[u8],
        out: &mut Vec<Emitted>,
    ) {
        let tx = TxInfo {
            oif,
            ..TxInfo::default()
        };
        let pre_nat = un_reply_nat(&self.engine, now_ns, datagram);
        let datagram = pre_nat.as_deref().unwrap_or(datagram);
        self.engine
            .send_local_with(now_ns, tx, datagram, &mut self.out);
        self.collect("local", oif.unwrap_or("-"), out);
    }

    fn nat_port_hint(&mut self, port: Option<u16>) {
        self.engine.set_nat_port_hint(port);
    }
}

/// What the local stack sent before NAT, for a captured locally generated
/// packet that is the reply of a connection whose destination was NATed to
/// this host (REDIRECT, DNAT to a local address): the capture shows it after
/// POSTROUTING put the original destination back as its source, while the
/// engine must see it as the socket sent it (from the REDIRECTed port) so
/// OUTPUT matches what the kernel's OUTPUT saw and the reply tuple is found.
/// `None` when no such connection exists (the packet is used as captured).
///
/// Looks for a tracked connection whose original tuple is the captured
/// packet's inverse and that has `DST_NAT`; its reply tuple's source is the
/// pre-NAT source. Walks the table (O(connections) per local packet).
fn un_reply_nat(engine: &Engine, now: u64, d: &[u8]) -> Option<Vec<u8>> {
    use palisade_conntrack::Status;
    let (v6, proto, l4) = match d.first()? >> 4 {
        4 if d.len() >= 20 => {
            if d[6] & 0x3f != 0 || d[7] != 0 {
                return None;
            }
            (false, d[9], usize::from(d[0] & 0xf) * 4)
        }
        6 if d.len() >= 40 => (true, d[6], 40),
        _ => return None,
    };
    let csum_at = match proto {
        6 => 16,
        17 => 6,
        _ => return None,
    };
    if d.len() < l4 + csum_at + 2 {
        return None;
    }
    let alen = if v6 { 16 } else { 4 };
    let (src_at, dst_at) = if v6 { (8, 24) } else { (12, 16) };
    let (src, dst) = (&d[src_at..src_at + alen], &d[dst_at..dst_at + alen]);
    let port = |i: usize| u16::from_be_bytes([d[l4 + i], d[l4 + i + 1]]);
    let (sport, dport) = (port(0), port(2));
    let conn = engine.conntrack().iter(now).find(|c| {
        let o = &c.tuples[0];
        c.status.has(Status::DST_NAT)
            && o.proto == proto
            && o.src[..alen] == *dst
            && o.dst[..alen] == *src
            && o.sport == dport
            && o.dport == sport
    })?;
    let r = conn.tuples[1];
    if r.src[..alen] == *src && r.sport == sport {
        return None;
    }
    let mut out = d.to_vec();
    let new_src = &r.src[..alen];
    if !v6 {
        let c = u16::from_be_bytes([out[10], out[11]]);
        let c = palisade_wire::checksum::update_bytes(c, src, new_src);
        out[10..12].copy_from_slice(&c.to_be_bytes());
    }
    let ck = l4 + csum_at;
    let old = u16::from_be_bytes([out[ck], out[ck + 1]]);
    // A zero UDP checksum over IPv4 means none.
    if !(proto == 17 && !v6 && old == 0) {
        let c = palisade_wire::checksum::update_bytes(old, src, new_src);
        let c = palisade_wire::checksum::update16(c, sport, r.sport);
        let c = if proto == 17 && c == 0 { 0xffff } else { c };
        out[ck..ck + 2].copy_from_slice(&c.to_be_bytes());
    }
    out[src_at..src_at + alen].copy_from_slice(new_src);
    out[l4..l4 + 2].copy_from_slice(&r.sport.to_be_bytes());
    Some(out)
}

/// The multicast MAC an IP multicast destination maps to (RFC 1112 / RFC 2464).
fn multicast_mac(datagram: &[u8]) -> [u8; 6] {
    match datagram.first().map(|b| b >> 4) {
        Some(4) if datagram.len() >= 20 => [
            0x01,
            0x00,
            0x5e,
            datagram[17] & 0x7f,
            datagram[18],
            datagram[19],
        ],
        Some(6) if datagram.len() >= 40 => [
            0x33,
            0x33,
            datagram[36],
            datagram[37],
            datagram[38],
            datagram[39],
        ],
        _ => [0x01, 0, 0, 0, 0, 0],
    }
}

/// Packets after the current one a replay looks at for NAT's choices.
const LOOKAHEAD: usize = 16;

/// Result of a whole replay.
pub struct ReplayRun {
    /// The engine after the last packet (counters, conntrack).
    pub engine: EngineReplay,
    /// How the capture was consumed.
    pub summary: ReplaySummary,
    /// The capture ended in a partial record.
    pub truncated: bool,
}

/// Replays every packet of `capture` through a fresh engine.
pub fn replay(
    v4: &Ruleset,
    v6: &Ruleset,
    host: &HostSpec,
    sysctls: &[(String, String)],
    capture: &Capture,
    opts: &CaptureOptions,
    trace: bool,
) -> Result<ReplayRun, ReplayError> {
    let mut engine = EngineReplay::new(v4, v6, host, sysctls)?;
    if trace {
        engine.enable_trace();
    }
    let mut replayer = Replayer::new(engine, host);
    let mut packets = capture.packets(opts);
    // Held in memory so each packet can see the ones right after it (NAT
    // port adoption); captures of oracle size are small.
    let all: Vec<CapturedPacket<'_>> = packets.by_ref().collect();
    for (i, p) in all.iter().enumerate() {
        let end = all.len().min(i + 1 + LOOKAHEAD);
        replayer.feed_ahead(p, all.get(i + 1..end).unwrap_or(&[]));
    }
    let truncated = packets.truncated();
    let (engine, summary) = replayer.finish();
    Ok(ReplayRun {
        engine,
        summary,
        truncated,
    })
}

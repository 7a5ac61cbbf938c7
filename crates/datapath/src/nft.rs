//! Kernel: net/netfilter/nf_tables_api.c (batched NEWTABLE/NEWCHAIN/NEWRULE
//! transactions), net/netfilter/nft_compat.c (an xtables target inside an
//! nf_tables rule), net/netfilter/xt_NFQUEUE.c (`struct xt_NFQ_info_v3`).
//!
//! The daemon's own nftables table, `table inet palisade`. It touches no
//! other table. Two base chains, at the two places a packet first meets the
//! host:
//!
//! - `prerouting`, hook prerouting, priority −310: every received packet
//!   (except on loopback) is queued before the kernel's raw (−300),
//!   conntrack (−200), mangle (−150) and nat (−100) hooks, but after
//!   defragmentation (−400), so the engine sees whole datagrams as the
//!   kernel's conntrack does. The engine then walks the whole path itself
//!   (PREROUTING → routing → INPUT or FORWARD → POSTROUTING) with its own
//!   conntrack and routing model, and the verdict here is the verdict for
//!   the whole path.
//! - `output`, hook output, priority −310: every locally generated packet,
//!   except loopback ones and the daemon's own REJECT replies (marked
//!   [`INJECT_MARK`] by the raw socket that sends them).
//!
//! Queued packets are marked `notrack` first: the engine is the connection
//! tracker, and the kernel's own conntrack would otherwise track the
//! rewritten packets a second time (its own table limits and timeouts, and
//! any NAT rules another table holds, applied to packets Palisade already
//! translated). The `ct state` rule never matches before conntrack's hook;
//! it is there because a `ct` expression makes the kernel register
//! conntrack, and with it IPv4/IPv6 defragmentation at −400, in this
//! network namespace: the engine models a kernel with conntrack, which sees
//! whole datagrams, and without it fragments would reach the queue.
//!
//! Loopback is never queued: local IPC (resolvers on 127.0.0.53, databases on
//! ::1) keeps working while the daemon is stopped, and a ruleset cannot cut
//! the host off from itself. Rulesets that filter `-i lo` are therefore not
//! enforced on loopback.
//!
//! The queue statement: kernels built without `nft_queue` (the native
//! expression) still have `nft_compat` + `xt_NFQUEUE` (what iptables-nft's
//! `-j NFQUEUE` uses), so the queue rule is sent as an xtables target through
//! netlink directly; the rest of the table goes through `nft -f`. A queue
//! range spreads flows by the kernel's symmetric address hash
//! (`nfqueue_hash`), so both directions of a connection land on the same
//! queue — before NAT. A NAT'd reply (different addresses) may land on
//! another queue; that is harmless here because all workers share one engine
//! (one conntrack table), so any worker can translate it.

use std::io;
use std::process::{Command, Stdio};

/// `SO_MARK` of the packets the daemon injects (REJECT replies): the output
/// chain lets them pass unqueued. ASCII "PALS".
pub const INJECT_MARK: u32 = 0x5041_4c53;

/// Table name (family `inet`).
pub const TABLE: &str = "palisade";

/// Priority of both base chains.
pub const PRIORITY: i32 = -310;

/// Where and how packets are queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSpec {
    /// First queue number.
    pub first: u16,
    /// Number of queues (workers), at least 1.
    pub count: u16,
    /// `bypass` (fail-open): accept packets while no program listens.
    pub bypass: bool,
}

/// The `nft -f` script that (re)creates the table without its queue rules.
/// Deleting a stale table and creating the new one is one transaction.
pub fn script() -> String {
    format!(
        "table inet {TABLE} {{ }}\n\
         delete table inet {TABLE}\n\
         table inet {TABLE} {{\n\
         \tchain prerouting {{\n\
         \t\ttype filter hook prerouting priority {PRIORITY}; policy accept;\n\
         \t\tiifname \"lo\" accept\n\
         \t\tct state untracked counter\n\
         \t\tnotrack\n\
         \t}}\n\
         \tchain output {{\n\
         \t\ttype filter hook output priority {PRIORITY}; policy accept;\n\
         \t\toifname \"lo\" accept\n\
         \t\tnotrack\n\
         \t\tmeta mark {INJECT_MARK:#010x} accept\n\
         \t}}\n\
         }}\n"
    )
}

fn nft(script: &str) -> io::Result<()> {
    use std::io::Write;
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "nft -f failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Installs the table (replacing a stale one) and its queue rules.
pub fn install(q: QueueSpec) -> io::Result<()> {
    nft(&script())?;
    if let Err(e) = add_queue_rules(q) {
        let _ = remove();
        return Err(e);
    }
    Ok(())
}

/// Removes the table; absent is fine.
pub fn remove() -> io::Result<()> {
    nft(&format!(
        "table inet {TABLE} {{ }}\ndelete table inet {TABLE}\n"
    ))
}

/// Whether the table exists.
pub fn present() -> bool {
    Command::new("nft")
        .args(["list", "table", "inet", TABLE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ---- netlink: one batch appending the NFQUEUE compat rule to both chains ----

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWRULE: u16 = 6;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
const NLMSG_ERROR: u16 = 0x2;
const NLA_F_NESTED: u16 = 0x8000;
const NFPROTO_INET: u8 = 1;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_TARGET_NAME: u16 = 1;
const NFTA_TARGET_REV: u16 = 2;
const NFTA_TARGET_INFO: u16 = 3;
const NFQ_FLAG_BYPASS: u16 = 0x01;

/// A netlink message under construction.
struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    fn new(kind: u16, flags: u16, seq: u32, family: u8, res_id: u16) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in finish
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // portid
                                                    // struct nfgenmsg
        buf.push(family);
        buf.push(0); // NFNETLINK_V0
        buf.extend_from_slice(&res_id.to_be_bytes());
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn attr(&mut self, kind: u16, data: &[u8]) {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn attr_str(&mut self, kind: u16, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(kind, &v);
    }

    fn begin(&mut self, kind: u16) {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    }

    fn end(&mut self) {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.pad();
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// `struct xt_NFQ_info_v3 { u16 queuenum, queues_total, flags; }`, padded
/// to `XT_ALIGN` (8), in host byte order as xtables structures are.
fn nfq_info(q: QueueSpec) -> [u8; 8] {
    let mut info = [0u8; 8];
    info[0..2].copy_from_slice(&q.first.to_ne_bytes());
    info[2..4].copy_from_slice(&q.count.max(1).to_ne_bytes());
    let flags = if q.bypass { NFQ_FLAG_BYPASS } else { 0 };
    info[4..6].copy_from_slice(&flags.to_ne_bytes());
    info
}

fn queue_rule(chain: &str, q: QueueSpec, seq: u32) -> Vec<u8> {
    let kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE;
    let mut m = Msg::new(
        kind,
        NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
        seq,
        NFPROTO_INET,
        0,
    );
    m.attr_str(NFTA_RULE_TABLE, TABLE);
    m.attr_str(NFTA_RULE_CHAIN, chain);
    m.begin(NFTA_RULE_EXPRESSIONS);
    m.begin(NFTA_LIST_ELEM);
    m.attr_str(NFTA_EXPR_NAME, "target");
    m.begin(NFTA_EXPR_DATA);
    m.attr_str(NFTA_TARGET_NAME, "NFQUEUE");
    m.attr(NFTA_TARGET_REV, &3u32.to_be_bytes());
    m.attr(NFTA_TARGET_INFO, &nfq_info(q));
    m.end();
    m.end();
    m.end();
    m.finish()
}

/// The whole batch: begin, one rule per chain, end.
fn batch(q: QueueSpec, seq0: u32) -> Vec<u8> {
    let mut out = Msg::new(
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        seq0,
        0,
        NFNL_SUBSYS_NFTABLES,
    )
    .finish();
    out.extend(queue_rule("prerouting", q, seq0 + 1));
    out.extend(queue_rule("output", q, seq0 + 2));
    out.extend(
        Msg::new(
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            seq0 + 3,
            0,
            NFNL_SUBSYS_NFTABLES,
        )
        .finish(),
    );
    out
}

fn add_queue_rules(q: QueueSpec) -> io::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::RAW,
        Some(Protocol::from(libc::NETLINK_NETFILTER)),
    )?;
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let seq0 = std::process::id().wrapping_mul(16);
    // An unbound, unconnected netlink socket sends to the kernel and is
    // auto-bound on first send.
    sock.send(&batch(q, seq0))?;
    // One ACK (or error) per rule.
    let mut acked = 0;
    let mut buf = vec![0u8; 16384];
    while acked < 2 {
        let n = io::Read::read(&mut &sock, &mut buf)?;
        let bytes = &buf[..n];
        let mut off = 0;
        while off + 16 <= bytes.len() {
            let len =
                u32::from_ne_bytes([bytes[off], bytes[off + 1], bytes[off + 2], bytes[off + 3]])
                    as usize;
            let kind = u16::from_ne_bytes([bytes[off + 4], bytes[off + 5]]);
            if len < 16 || off + len > bytes.len() {
                break;
            }
            if kind == NLMSG_ERROR && len >= 20 {
                let err = i32::from_ne_bytes([
                    bytes[off + 16],
                    bytes[off + 17],
                    bytes[off + 18],
                    bytes[off + 19],
                ]);
                if err != 0 {
                    return Err(io::Error::other(format!(
                        "adding the NFQUEUE rule to table inet {TABLE}: {}",
                        io::Error::from_raw_os_error(-err)
                    )));
                }
                acked += 1;
            }
            off += (len + 3) & !3;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names_only_our_table() {
        let s = script();
        assert!(s.contains("table inet palisade {"));
        assert!(s.contains("priority -310"));
        assert!(s.contains("meta mark 0x50414c53 accept"));
        assert_eq!(s.matches("notrack").count(), 2);
        assert!(!s.contains("ip filter"));
    }

    #[test]
    fn batch_layout() {
        let b = batch(
            QueueSpec {
                first: 3,
                count: 2,
                bypass: true,
            },
            100,
        );
        // Four messages, each 4-aligned with a correct length prefix.
        let mut off = 0;
        let mut n = 0;
        while off < b.len() {
            let len = u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]) as usize;
            assert_eq!(len % 4, 0);
            off += len;
            n += 1;
        }
        assert_eq!(off, b.len());
        assert_eq!(n, 4);
        assert_eq!(
            nfq_info(QueueSpec {
                first: 3,
                count: 2,
                bypass: true
            })[..6],
            [3u16.to_ne_bytes(), 2u16.to_ne_bytes(), 1u16.to_ne_bytes()].concat()[..]
        );
    }
}

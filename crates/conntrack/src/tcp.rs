//! Kernel: net/netfilter/nf_conntrack_proto_tcp.c (`tcp_conntracks`,
//! `tcp_in_window`, `tcp_error`, `tcp_new`, `nf_conntrack_tcp_packet`).
//!
//! The TCP tracker follows the kernel line by line in behaviour:
//! * `tcp_error`: a header shorter than 20 bytes or than its data offset, a
//!   bad checksum (PREROUTING only, `nf_conntrack_checksum=1`) or a flag
//!   combination outside [`VALID_FLAGS`] is INVALID.
//! * The transition table [`TRANSITIONS`], indexed by direction, the packet's
//!   flag class ([`Index`], RST > SYN(ACK) > FIN > ACK > none) and the current
//!   state, gives the new state, INVALID (`IV`) or IGNORE (`IG`: pass without
//!   touching the state, the entry may be out of sync).
//! * `tcp_in_window`: sequence/ack tracking per direction (`td_end`,
//!   `td_maxend`, `td_maxwin`, `td_scale`, SACK), which can turn a packet into
//!   IGNORE or INVALID; `nf_conntrack_tcp_be_liberal` or a liberal direction
//!   (loose pickup) accepts everything the window check would refuse.
//! * Timeout choice: RETRANS cap after `tcp_max_retrans` identical segments,
//!   CLOSE on RST, UNACK cap while data is unacknowledged, RETRANS cap on a
//!   zero window, else the state's timeout; before a reply, an RST kills the
//!   entry, a retransmitted SYN does not refresh it, and a picked-up
//!   ESTABLISHED is capped at UNACK.

use crate::config::CtConfig;
use crate::conn::PackedTcp;
use crate::Nanos;

/// `enum tcp_conntrack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum TcpState {
    /// No state yet (new entry).
    #[default]
    None = 0,
    /// SYN seen.
    SynSent = 1,
    /// SYN-ACK seen.
    SynRecv = 2,
    /// ACK after SYN-ACK seen (or picked up).
    Established = 3,
    /// FIN seen.
    FinWait = 4,
    /// ACK after FIN seen.
    CloseWait = 5,
    /// FIN seen in both directions.
    LastAck = 6,
    /// Last ACK seen.
    TimeWait = 7,
    /// RST seen.
    Close = 8,
    /// SYN from the reply side: simultaneous open.
    SynSent2 = 9,
}

impl TcpState {
    /// Name as `/proc/net/nf_conntrack` prints it.
    pub fn name(self) -> &'static str {
        [
            "NONE",
            "SYN_SENT",
            "SYN_RECV",
            "ESTABLISHED",
            "FIN_WAIT",
            "CLOSE_WAIT",
            "LAST_ACK",
            "TIME_WAIT",
            "CLOSE",
            "SYN_SENT2",
        ][self as usize]
    }
    /// Every state in kernel order.
    pub const ALL: [TcpState; 10] = [
        TcpState::None,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::Established,
        TcpState::FinWait,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::SynSent2,
    ];
}

/// `enum tcp_bit_set`: the packet's flag class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Index {
    /// SYN without ACK.
    Syn = 0,
    /// SYN with ACK.
    SynAck = 1,
    /// FIN (without SYN/RST).
    Fin = 2,
    /// ACK only.
    Ack = 3,
    /// RST (whatever else is set).
    Rst = 4,
    /// None of them.
    None = 5,
}

/// `get_conntrack_index`: RST > SYN(ACK) > FIN > ACK > none.
pub fn index_of(flags: u8) -> Index {
    if flags & RST != 0 {
        Index::Rst
    } else if flags & SYN != 0 {
        if flags & ACK != 0 {
            Index::SynAck
        } else {
            Index::Syn
        }
    } else if flags & FIN != 0 {
        Index::Fin
    } else if flags & ACK != 0 {
        Index::Ack
    } else {
        Index::None
    }
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
const URG: u8 = 0x20;
const ECE: u8 = 0x40;
const CWR: u8 = 0x80;

/// `tcp_valid_flags[]`: combinations of FIN/SYN/RST/ACK/URG that are valid
/// (PSH, ECE and CWR are masked off first). Everything else — NULL, XMAS,
/// SYN|FIN, bare FIN, SYN|RST … — is INVALID.
pub const VALID_FLAGS: [u8; 9] = [
    SYN,
    SYN | URG,
    SYN | ACK,
    RST,
    RST | ACK,
    FIN | ACK,
    FIN | ACK | URG,
    ACK,
    ACK | URG,
];

/// Whether the flag byte passes `tcp_error`'s combination check.
pub fn flags_valid(flags: u8) -> bool {
    // A bitmap of the valid combinations of what remains (FIN, SYN, RST,
    // ACK, URG: values below 64): one shift per packet instead of a scan.
    const MAP: u64 = {
        let mut m = 0u64;
        let mut i = 0;
        while i < VALID_FLAGS.len() {
            m |= 1 << VALID_FLAGS[i];
            i += 1;
        }
        m
    };
    MAP >> (flags & !(PSH | ECE | CWR)) & 1 != 0
}

/// Table cell: a state, INVALID, or IGNORE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    S(TcpState),
    Iv,
    Ig,
}

use Cell::{Ig as IG, Iv as IV};
const NO: Cell = Cell::S(TcpState::None);
const SS: Cell = Cell::S(TcpState::SynSent);
const SR: Cell = Cell::S(TcpState::SynRecv);
const ES: Cell = Cell::S(TcpState::Established);
const FW: Cell = Cell::S(TcpState::FinWait);
const CW: Cell = Cell::S(TcpState::CloseWait);
const LA: Cell = Cell::S(TcpState::LastAck);
const TW: Cell = Cell::S(TcpState::TimeWait);
const CL: Cell = Cell::S(TcpState::Close);
const S2: Cell = Cell::S(TcpState::SynSent2);
const _: Cell = NO;

/// `tcp_conntracks[dir][index][state]`; columns are
/// NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK,
/// TIME_WAIT, CLOSE, SYN_SENT2.
const TRANSITIONS: [[[Cell; 10]; 6]; 2] = [
    // ORIGINAL direction
    [
        // syn: NONE→SS new connection; SS→SS retransmitted SYN; SR..LA→IG a SYN
        // in a synchronized state is an error the receiver answers with RST
        // (or we hold a dead entry); TW/CL→SS reopened connection (RFC 1122);
        // S2→S2 late retransmitted SYN.
        [SS, SS, IG, IG, IG, IG, IG, SS, SS, S2],
        // synack: the client cannot send SYN-ACK except in simultaneous open
        // (S2→SR, SR→SR late retransmit); everything else invalid.
        [IV, IV, SR, IV, IV, IV, IV, IV, IV, SR],
        // fin: not before the SYN-ACK (SS, S2); SR/ES→FW close started;
        // FW/CW→LA FIN in both directions; LA→LA retransmit; TW, CL stay.
        [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV],
        // ack: NONE→ES assumed (loose pickup); SS/S2 invalid (no SYN-ACK yet);
        // SR→ES handshake done; FW→CW close answered; LA→TW last ACK; rest stay.
        [ES, IV, ES, ES, CW, CW, TW, TW, CL, IV],
        // rst: closes everything but NONE.
        [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL],
        // none: a segment without SYN/FIN/ACK/RST is never valid.
        [IV, IV, IV, IV, IV, IV, IV, IV, IV, IV],
    ],
    // REPLY direction
    [
        // syn: SS→S2 simultaneous open; S2→S2 retransmit; TW→SS reopened with
        // roles switched; anything else is an invalid SYN from the server.
        [IV, S2, IV, IV, IV, IV, IV, SS, IV, S2],
        // synack: SS/S2→SR standard/simultaneous open; later states IG (a late
        // or retransmitted SYN-ACK, or one answering an ignored SYN).
        [IV, SR, IG, IG, IG, IG, IG, IG, IG, SR],
        // fin: as in the original direction.
        [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV],
        // ack: SS/S2→IG a half-open connection may answer; SR→SR may answer a
        // late resent SYN; FW→CW; LA→TW; rest stay.
        [IV, IG, SR, ES, CW, CW, TW, TW, CL, IG],
        // rst
        [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL],
        // none
        [IV, IV, IV, IV, IV, IV, IV, IV, IV, IV],
    ],
];

/// `IP_CT_TCP_FLAG_*` per-direction flags.
pub mod flag {
    /// Window scale option seen.
    pub const WINDOW_SCALE: u8 = 0x01;
    /// SACK permitted.
    pub const SACK_PERM: u8 = 0x02;
    /// This side sent the first FIN.
    pub const CLOSE_INIT: u8 = 0x04;
    /// Window checks are not enforced for this side.
    pub const BE_LIBERAL: u8 = 0x08;
    /// Data sent and not yet acknowledged.
    pub const DATA_UNACKNOWLEDGED: u8 = 0x10;
    /// `td_maxack` is valid.
    pub const MAXACK_SET: u8 = 0x20;
    /// (in `last_flags`) a challenge ACK may follow.
    pub const EXP_CHALLENGE_ACK: u8 = 0x40;
    /// (in `last_flags`) simultaneous open.
    pub const SIMULTANEOUS_OPEN: u8 = 0x80;
}

/// `struct ip_ct_tcp_state`: what one side has sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Highest `seq + len` sent.
    pub td_end: u32,
    /// Highest `ack + win` seen from the peer (right edge of what we may send).
    pub td_maxend: u32,
    /// Largest window (scaled) advertised.
    pub td_maxwin: u32,
    /// Highest ACK sent.
    pub td_maxack: u32,
    /// Window scale shift.
    pub td_scale: u8,
    /// [`flag`] bits.
    pub flags: u8,
}

/// `struct ip_ct_tcp`: the TCP part of an entry (56 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpConn {
    /// Per direction (0 = original).
    pub seen: [Seen; 2],
    /// Current state.
    pub state: TcpState,
    /// Direction of the last in-window packet.
    pub last_dir: u8,
    /// [`Index`] of the last packet (5 = none).
    pub last_index: u8,
    /// Identical retransmissions counted.
    pub retrans: u8,
    /// Window scale of an ignored SYN.
    pub last_wscale: u8,
    /// Flags of an ignored SYN ([`flag`]).
    pub last_flags: u8,
    /// Raw window of the last packet.
    pub last_win: u16,
    /// Ack of a possible challenge ACK.
    pub last_ack: u32,
    /// `seq + len` of the last packet.
    pub last_end: u32,
}

/// What the TCP tracker decided for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpVerdict {
    /// Accepted; refresh the timeout to this value (None: keep it). `kill`:
    /// delete the entry after this packet (RST before any reply).
    Accept {
        /// New relative timeout.
        timeout: Option<Nanos>,
        /// Set ASSURED.
        assured: bool,
        /// Kill the entry (the packet keeps its ctinfo).
        kill: bool,
    },
    /// Accepted without touching state or timer (`sIG` or window IGNORE).
    Ignore,
    /// INVALID: the packet loses its conntrack; the entry survives.
    Invalid,
    /// SYN reopening a closed entry: kill it and look up again (`-NF_REPEAT`).
    Repeat,
}

/// The packet fields the tracker reads.
#[derive(Clone, Copy, Debug)]
pub struct Seg<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags byte.
    pub flags: u8,
    /// Raw window.
    pub window: u16,
    /// Payload bytes.
    pub payload_len: u32,
    /// TCP options (the bytes between the 20-byte header and data offset).
    pub options: &'a [u8],
    /// NAT sequence adjustment of the receiver's direction at `ack - 1`
    /// (`nf_ct_seq_offset`), taken off ACK and SACK; 0 without NAT helpers.
    pub receiver_offset: i32,
}

impl Seg<'_> {
    fn end(&self) -> u32 {
        self.seq
            .wrapping_add(self.payload_len)
            .wrapping_add(u32::from(self.flags & SYN != 0))
            .wrapping_add(u32::from(self.flags & FIN != 0))
    }
}

#[inline]
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
#[inline]
fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

const MAX_WSCALE: u8 = 14;
const MAXACKWINCONST: u32 = 66000;

/// `tcp_options`: window scale and SACK-permitted of a SYN.
fn parse_options(opts: &[u8], st: &mut Seen) {
    if opts.is_empty() {
        return;
    }
    st.td_scale = 0;
    st.flags &= flag::BE_LIBERAL;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return,
            1 => i += 1,
            kind => {
                let Some(&size) = opts.get(i + 1) else { return };
                let size = usize::from(size);
                if size < 2 || i + size > opts.len() {
                    return;
                }
                if kind == 4 && size == 2 {
                    st.flags |= flag::SACK_PERM;
                } else if kind == 3 && size == 3 {
                    st.td_scale = opts[i + 2].min(MAX_WSCALE);
                    st.flags |= flag::WINDOW_SCALE;
                }
                i += size;
            }
        }
    }
}

/// `tcp_sack`: the highest right edge of the SACK blocks, if any is beyond
/// `sack`.
fn parse_sack(opts: &[u8], sack: &mut u32) {
    // Fast path of the kernel: NOP NOP TIMESTAMP only.
    if opts.len() == 12 && opts[..4] == [1, 1, 8, 10] {
        return;
    }
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return,
            1 => i += 1,
            kind => {
                let Some(&size) = opts.get(i + 1) else { return };
                let size = usize::from(size);
                if size < 2 || i + size > opts.len() {
                    return;
                }
                if kind == 5 && size >= 10 && (size - 2) % 8 == 0 {
                    let mut j = i + 2;
                    while j + 8 <= i + size {
                        let b = &opts[j + 4..j + 8];
                        let edge = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                        if after(edge, *sack) {
                            *sack = edge;
                        }
                        j += 8;
                    }
                    return;
                }
                i += size;
            }
        }
    }
}

fn init_sender(seen: &mut [Seen; 2], dir: usize, seg: &Seg<'_>, end: u32, win: u32) {
    let s = &mut seen[dir];
    s.td_end = end;
    s.td_maxend = end;
    s.td_maxwin = win.max(1);
    parse_options(seg.options, s);
    // RFC 1323: scaling only when both sides offered it.
    if dir == 1
        && !(seen[1].flags & flag::WINDOW_SCALE != 0 && seen[0].flags & flag::WINDOW_SCALE != 0)
    {
        seen[0].td_scale = 0;
        seen[1].td_scale = 0;
    }
}

#[derive(PartialEq, Eq)]
enum Win {
    Ignore,
    Invalid,
    Accept,
}

/// `tcp_in_window`.
fn in_window(
    ct: &mut TcpConn,
    dir: usize,
    index: Index,
    seg: &Seg<'_>,
    liberal_sysctl: bool,
) -> Win {
    let (sd, rd) = (dir, 1 - dir);
    let mut seq = seg.seq;
    let mut ack = seg.ack;
    let mut sack = ack;
    let win_raw = seg.window;
    let mut win = u32::from(win_raw);
    let mut end = seg.end();
    let syn = seg.flags & SYN != 0;
    let has_ack = seg.flags & ACK != 0;
    let rst = seg.flags & RST != 0;
    let liberal = |ct: &TcpConn, r: Win| {
        if liberal_sysctl || ct.seen[sd].flags & flag::BE_LIBERAL != 0 {
            Win::Accept
        } else {
            r
        }
    };

    if ct.seen[rd].flags & flag::SACK_PERM != 0 {
        parse_sack(seg.options, &mut sack);
    }
    // The peer acknowledges the stream as NAT rewrote it.
    ack = ack.wrapping_sub(seg.receiver_offset as u32);
    sack = sack.wrapping_sub(seg.receiver_offset as u32);

    if ct.seen[sd].td_maxwin == 0 {
        if syn {
            init_sender(&mut ct.seen, sd, seg, end, win);
            if !has_ack {
                // Simultaneous open.
                return Win::Accept;
            }
        } else {
            // Mid-connection: the history is lost, trust the packet.
            let s = &mut ct.seen[sd];
            s.td_end = end;
            let swin = win << s.td_scale;
            s.td_maxwin = swin.max(1);
            s.td_maxend = end.wrapping_add(s.td_maxwin);
            let r = &mut ct.seen[rd];
            if r.td_maxwin == 0 {
                // Nothing seen the other way: let III and IV pass until then.
                r.td_end = sack;
                r.td_maxend = sack;
            } else if sack == r.td_end.wrapping_add(1) {
                // Likely a keepalive reply.
                r.td_end = r.td_end.wrapping_add(1);
            }
        }
    } else if syn
        && after(end, ct.seen[sd].td_end)
        && matches!(ct.state, TcpState::SynSent | TcpState::SynRecv)
    {
        // Reinitialised sender (RFC 793): restart tracking of this side.
        init_sender(&mut ct.seen, sd, seg, end, win);
        if dir == 1 && !has_ack {
            return Win::Accept;
        }
    }

    if !has_ack {
        ack = ct.seen[rd].td_end;
        sack = ack;
    } else if rst && ack == 0 {
        // Broken stacks: RST|ACK with a zero ack.
        ack = ct.seen[rd].td_end;
        sack = ack;
    }

    if rst && seq == 0 && ct.state == TcpState::SynSent {
        // RST answering a SYN.
        seq = ct.seen[sd].td_end;
        end = seq;
    }

    let maxackwin = ct.seen[sd].td_maxwin.max(MAXACKWINCONST);
    let seq_ok = before(seq, ct.seen[sd].td_maxend.wrapping_add(1));
    if !seq_ok {
        let overshot = end.wrapping_sub(ct.seen[sd].td_maxend).wrapping_add(1);
        let ack_ok = after(
            sack,
            ct.seen[rd].td_end.wrapping_sub(maxackwin).wrapping_sub(1),
        );
        let r_maxwin = ct.seen[rd].td_maxwin;
        let in_recv_win = r_maxwin != 0
            && after(
                end,
                ct.seen[sd].td_end.wrapping_sub(r_maxwin).wrapping_sub(1),
            );
        if in_recv_win
            && ack_ok
            && overshot <= r_maxwin
            && before(sack, ct.seen[rd].td_end.wrapping_add(1))
        {
            // More bytes than the window allows: let td_end follow so the
            // peer's ACK for them is not over the upper bound later.
            ct.seen[sd].td_end = end;
            ct.seen[sd].flags |= flag::DATA_UNACKNOWLEDGED;
            return liberal(ct, Win::Ignore);
        }
        return liberal(ct, Win::Invalid);
    }
    if !before(sack, ct.seen[rd].td_end.wrapping_add(1)) {
        // ACK is over the upper bound (acks data not seen yet).
        return liberal(ct, Win::Invalid);
    }
    let r_maxwin = ct.seen[rd].td_maxwin;
    let in_recv_win = r_maxwin == 0
        || after(
            end,
            ct.seen[sd].td_end.wrapping_sub(r_maxwin).wrapping_sub(1),
        );
    if !in_recv_win {
        // Already-acked data retransmitted.
        return liberal(ct, Win::Ignore);
    }
    if !after(
        sack,
        ct.seen[rd].td_end.wrapping_sub(maxackwin).wrapping_sub(1),
    ) {
        // ACK under the lower bound (overly delayed).
        return liberal(ct, Win::Ignore);
    }

    if !syn {
        win <<= ct.seen[sd].td_scale;
    }
    let swin = win.wrapping_add(sack.wrapping_sub(ack));
    let s = &mut ct.seen[sd];
    if s.td_maxwin < swin {
        s.td_maxwin = swin;
    }
    if after(end, s.td_end) {
        s.td_end = end;
        s.flags |= flag::DATA_UNACKNOWLEDGED;
    }
    if has_ack {
        if s.flags & flag::MAXACK_SET == 0 {
            s.td_maxack = ack;
            s.flags |= flag::MAXACK_SET;
        } else if after(ack, s.td_maxack) {
            s.td_maxack = ack;
        }
    }
    let s_maxend = s.td_maxend;
    let r = &mut ct.seen[rd];
    if r.td_maxwin != 0 && after(end, s_maxend) {
        r.td_maxwin = r.td_maxwin.wrapping_add(end.wrapping_sub(s_maxend));
    }
    if after(sack.wrapping_add(win), r.td_maxend.wrapping_sub(1)) {
        r.td_maxend = sack.wrapping_add(win);
        if win == 0 {
            r.td_maxend = r.td_maxend.wrapping_add(1);
        }
    }
    if ack == r.td_end {
        r.flags &= !flag::DATA_UNACKNOWLEDGED;
    }

    if index == Index::Ack {
        if usize::from(ct.last_dir) == dir
            && ct.last_end == end
            && ct.last_ack == ack
            && ct.last_win == win_raw
            && ct.last_seq_matches(seq)
        {
            ct.retrans = ct.retrans.saturating_add(1);
        } else {
            ct.last_dir = dir as u8;
            ct.last_ack = ack;
            ct.last_end = end;
            ct.last_win = win_raw;
            ct.retrans = 0;
        }
    }
    Win::Accept
}

impl TcpConn {
    /// The kernel also compares `last_seq`; `last_end` with the same payload
    /// length and flags implies it, so the field is not stored (saves 4 bytes).
    fn last_seq_matches(&self, _seq: u32) -> bool {
        true
    }

    /// Whether the kernel's early-drop may evict this entry even if ASSURED
    /// (`tcp_can_early_drop`).
    pub fn can_early_drop(&self) -> bool {
        matches!(
            self.state,
            TcpState::FinWait
                | TcpState::LastAck
                | TcpState::TimeWait
                | TcpState::Close
                | TcpState::CloseWait
        )
    }

    /// `tcp_new`: initialise a fresh entry from its first packet. `false`
    /// when the packet cannot open an entry (INVALID).
    pub fn new_from(seg: &Seg<'_>, loose: bool) -> Option<TcpConn> {
        let Cell::S(st) = TRANSITIONS[0][index_of(seg.flags) as usize][0] else {
            return None;
        };
        let mut ct = TcpConn::default();
        let s = &mut ct.seen[0];
        s.td_end = seg.end();
        s.td_maxwin = u32::from(seg.window).max(1);
        if st == TcpState::SynSent {
            s.td_maxend = s.td_end;
            parse_options(seg.options, s);
        } else if !loose {
            return None;
        } else {
            s.td_maxend = s.td_end.wrapping_add(s.td_maxwin);
            // Assume SACK and be liberal: the window scale is unknown.
            ct.seen[0].flags = flag::SACK_PERM | flag::BE_LIBERAL;
            ct.seen[1].flags = flag::SACK_PERM | flag::BE_LIBERAL;
        }
        ct.last_index = Index::None as u8;
        Some(ct)
    }

    /// `nf_conntrack_tcp_set_closing` for a confirmed entry: move to CLOSE,
    /// returning the new relative timeout (None when already closed).
    pub fn set_closing(&mut self, cfg: &CtConfig) -> Option<Nanos> {
        let old = self.state;
        self.state = TcpState::Close;
        (old != TcpState::Close).then_some(cfg.tcp.close)
    }

    /// `nf_conntrack_established`: ESTABLISHED state and the first ACK seen.
    fn established(&self, assured: bool) -> bool {
        self.state == TcpState::Established && assured
    }
}

fn state_timeout(cfg: &CtConfig, s: TcpState) -> Nanos {
    let t = &cfg.tcp;
    match s {
        TcpState::None | TcpState::SynSent => t.syn_sent,
        TcpState::SynRecv => t.syn_recv,
        TcpState::Established => t.established,
        TcpState::FinWait => t.fin_wait,
        TcpState::CloseWait => t.close_wait,
        TcpState::LastAck => t.last_ack,
        TcpState::TimeWait => t.time_wait,
        TcpState::Close => t.close,
        TcpState::SynSent2 => t.syn_sent2,
    }
}

/// Context of one packet for [`packet`].
#[derive(Clone, Copy, Debug)]
pub struct PacketCtx {
    /// 0 = original, 1 = reply.
    pub dir: usize,
    /// IPS_SEEN_REPLY was set before this packet.
    pub seen_reply: bool,
    /// IPS_ASSURED is set.
    pub assured: bool,
    /// Remaining lifetime of the entry (for `nf_tcp_handle_invalid`).
    pub remaining: Nanos,
}

/// `nf_conntrack_tcp_packet` after `tcp_error`/`tcp_new` (the caller has run
/// those). Mutates `ct`; `timeout_cut` receives a shortened timeout when an
/// INVALID FIN/RST hits an ASSURED entry (`nf_tcp_handle_invalid`).
#[allow(clippy::collapsible_match)]
pub fn packet(
    ct: &mut TcpConn,
    seg: &Seg<'_>,
    cx: PacketCtx,
    cfg: &CtConfig,
    timeout_cut: &mut Option<Nanos>,
) -> TcpVerdict {
    let dir = cx.dir;
    let mut old = ct.state;
    let index = index_of(seg.flags);
    let mut new = TRANSITIONS[dir][index as usize][old as usize];
    let mut skip_window = false;

    match new {
        Cell::S(TcpState::SynSent) | Cell::Ig => 'ign: {
            let reopen = matches!(new, Cell::S(_)) && old as u8 >= TcpState::TimeWait as u8;
            if matches!(new, Cell::S(_)) && !reopen {
                // SYN_SENT from NONE/SYN_SENT: a normal transition.
                break 'ign;
            }
            if reopen
                && ((ct.seen[dir].flags | ct.seen[1 - dir].flags) & flag::CLOSE_INIT != 0
                    || (usize::from(ct.last_dir) == dir && ct.last_index == Index::Rst as u8))
            {
                // Reopening a closed/aborted connection: delete and look up again.
                return TcpVerdict::Repeat;
            }
            // Ignored packets: our entry may be out of sync with the real
            // connection, so let these through without changing state.
            let last_dir = usize::from(ct.last_dir);
            if index == Index::SynAck
                && ct.last_index == Index::Syn as u8
                && last_dir != dir
                && seg.ack == ct.last_end
            {
                // The SYN-ACK acknowledges a SYN we ignored: client and
                // server are in sync, we are not. Resync from the notes.
                let last_end = ct.last_end;
                let last_win = ct.last_win;
                let last_wscale = ct.last_wscale;
                ct.last_flags &= !flag::EXP_CHALLENGE_ACK;
                let last_flags = ct.last_flags;
                let l = &mut ct.seen[last_dir];
                l.td_end = last_end;
                l.td_maxend = last_end;
                l.td_maxwin = u32::from(last_win).max(1);
                l.td_scale = last_wscale;
                l.flags = last_flags;
                let s = &mut ct.seen[dir];
                *s = Seen {
                    flags: s.flags & flag::BE_LIBERAL,
                    ..Seen::default()
                };
                old = TcpState::SynSent;
                new = SR;
                break 'ign;
            }
            ct.last_index = index as u8;
            ct.last_dir = dir as u8;
            ct.last_end = seg.end();
            ct.last_win = seg.window;
            if index == Index::Syn && dir == 0 {
                // A SYN in ORIGINAL we let through: note its options so a
                // SYN-ACK answering it can resync us.
                let mut seen = Seen::default();
                ct.last_flags = 0;
                ct.last_wscale = 0;
                parse_options(seg.options, &mut seen);
                if seen.flags & flag::WINDOW_SCALE != 0 {
                    ct.last_flags |= flag::WINDOW_SCALE;
                    ct.last_wscale = seen.td_scale;
                }
                if seen.flags & flag::SACK_PERM != 0 {
                    ct.last_flags |= flag::SACK_PERM;
                }
                if old == TcpState::LastAck {
                    // RFC 5961: an ACK may answer this SYN as a challenge.
                    ct.last_flags |= flag::EXP_CHALLENGE_ACK;
                }
            }
            if old == TcpState::SynSent && index == Index::Ack && dir == 1 {
                // Possibly a challenge ACK answering the SYN.
                ct.last_ack = seg.ack;
            }
            return TcpVerdict::Ignore;
        }
        Cell::Iv => return TcpVerdict::Invalid,
        Cell::S(TcpState::TimeWait) => {
            if old == TcpState::LastAck
                && index == Index::Ack
                && usize::from(ct.last_dir) != dir
                && ct.last_index == Index::Syn as u8
                && ct.last_flags & flag::EXP_CHALLENGE_ACK != 0
            {
                // RFC 5961 challenge ACK, not the last ACK of the close.
                ct.last_flags &= !flag::EXP_CHALLENGE_ACK;
                return TcpVerdict::Ignore;
            }
        }
        Cell::S(TcpState::SynSent2) => {
            ct.last_flags |= flag::SIMULTANEOUS_OPEN;
        }
        Cell::S(TcpState::SynRecv) => {
            if dir == 1 && index == Index::Ack && ct.last_flags & flag::SIMULTANEOUS_OPEN != 0 {
                new = ES;
            }
        }
        Cell::S(TcpState::Close) if index == Index::Rst => {
            let last_index = ct.last_index;
            if ct.can_early_drop() {
                // Tuple may already be reused: skip validation.
                skip_window = true;
            } else {
                let peer = &ct.seen[1 - dir];
                if peer.flags & flag::MAXACK_SET != 0 && last_index != Index::Syn as u8 {
                    let seq = seg.seq;
                    let est = ct.established(cx.assured);
                    if seq == 0 && !est {
                        // Answer to a SYN we let through.
                    } else if before(seq, peer.td_maxack) && !cfg.tcp_ignore_invalid_rst {
                        return TcpVerdict::Invalid;
                    } else if !est || seq == peer.td_maxack {
                        // Exact or not established: close.
                    } else if last_index == Index::Ack as u8
                        && usize::from(ct.last_dir) == dir
                        && seq == ct.last_end
                    {
                        // RST following data from the same side: part of a train.
                    } else {
                        // Inexact in-window RST: keep the state so a
                        // challenge ACK can follow.
                        new = Cell::S(old);
                    }
                }
                if !skip_window
                    && ((cx.seen_reply && last_index == Index::Syn as u8)
                        || (!cx.assured && last_index == Index::Ack as u8))
                    && seg.ack == ct.last_end
                {
                    // RST answering a SYN or ACK we let through: delete.
                    skip_window = true;
                }
                if !skip_window
                    && old == TcpState::SynSent
                    && last_index == Index::Ack as u8
                    && ct.last_dir == 1
                    && seg.seq == ct.last_ack
                {
                    // RST answering a challenge ACK we let through.
                    skip_window = true;
                }
            }
        }
        _ => {}
    }

    let Cell::S(new_state) = new else {
        return TcpVerdict::Invalid;
    };
    if !skip_window {
        match in_window(ct, dir, index, seg, cfg.tcp_be_liberal) {
            Win::Ignore => return TcpVerdict::Ignore,
            Win::Invalid => {
                handle_invalid(ct, dir, index, cx, cfg, timeout_cut);
                return TcpVerdict::Invalid;
            }
            Win::Accept => {}
        }
    }
    finish(ct, seg, cx, cfg, index, old, new_state)
}

/// [`packet`] for its commonest case, on the stored form: an ACK segment
/// (no SYN, FIN or RST) on an ESTABLISHED, ASSURED connection whose reply was
/// seen, without NAT sequence adjustment, that passes every `tcp_in_window`
/// bound. Returns the new relative timeout, having made exactly the changes
/// [`packet`] makes; `None` leaves `p` untouched and the caller runs
/// [`packet`]. Written out because the general path (transition table,
/// unpacking the stored state, every special case checked in turn) was
/// half of an established packet's conntrack time; `fast_path_is_packet`
/// checks the two agree on random states and segments.
#[inline(always)]
pub(crate) fn established_ack(
    p: &mut PackedTcp,
    dir: usize,
    seg: &Seg<'_>,
    cfg: &CtConfig,
) -> Option<Nanos> {
    if p.state != TcpState::Established
        || seg.flags & (SYN | FIN | RST | ACK) != ACK
        || seg.receiver_offset != 0
    {
        return None;
    }
    let sd = dir & 1;
    let rd = sd ^ 1;
    // td_end, td_maxend, td_maxwin, td_maxack; sender and receiver.
    let [w0, w1] = &mut p.win;
    let (s, r) = if sd == 0 { (w0, w1) } else { (w1, w0) };
    if s[2] == 0 {
        return None;
    }
    let (seq, ack) = (seg.seq, seg.ack);
    let mut sack = ack;
    if p.flags[rd] & flag::SACK_PERM != 0 {
        parse_sack(seg.options, &mut sack);
    }
    let end = seq.wrapping_add(seg.payload_len);
    let maxackwin = s[2].max(MAXACKWINCONST);
    let in_bounds = before(seq, s[1].wrapping_add(1))
        && before(sack, r[0].wrapping_add(1))
        && (r[2] == 0 || after(end, s[0].wrapping_sub(r[2]).wrapping_sub(1)))
        && after(sack, r[0].wrapping_sub(maxackwin).wrapping_sub(1));
    if !in_bounds {
        return None;
    }
    let win = u32::from(seg.window) << p.scale[sd];
    s[2] = s[2].max(win.wrapping_add(sack.wrapping_sub(ack)));
    let mut sflags = p.flags[sd];
    if after(end, s[0]) {
        s[0] = end;
        sflags |= flag::DATA_UNACKNOWLEDGED;
    }
    if sflags & flag::MAXACK_SET == 0 || after(ack, s[3]) {
        s[3] = ack;
        sflags |= flag::MAXACK_SET;
    }
    if r[2] != 0 && after(end, s[1]) {
        r[2] = r[2].wrapping_add(end.wrapping_sub(s[1]));
    }
    let right = sack.wrapping_add(win);
    if after(right, r[1].wrapping_sub(1)) {
        r[1] = right.wrapping_add(u32::from(win == 0));
    }
    if ack == r[0] {
        p.flags[rd] &= !flag::DATA_UNACKNOWLEDGED;
    }
    p.flags[sd] = sflags;
    if usize::from(p.last_dir) == sd
        && p.last_end == end
        && p.last_ack == ack
        && p.last_win == seg.window
    {
        p.retrans = p.retrans.saturating_add(1);
    } else {
        p.last_dir = sd as u8;
        p.last_ack = ack;
        p.last_end = end;
        p.last_win = seg.window;
        p.retrans = 0;
    }
    p.last_index = Index::Ack as u8;
    // finish(): the state stays ESTABLISHED, already assured.
    let t = &cfg.tcp;
    let st = t.established;
    let timeout = if p.retrans >= cfg.tcp_max_retrans && st > t.max_retrans {
        t.max_retrans
    } else if (p.flags[0] | p.flags[1]) & flag::DATA_UNACKNOWLEDGED != 0 && st > t.unacknowledged {
        t.unacknowledged
    } else if p.last_win == 0 && st > t.max_retrans {
        t.max_retrans
    } else {
        st
    };
    Some(timeout)
}

/// `nf_tcp_handle_invalid`: an out-of-window FIN/RST on an ASSURED entry
/// answering the peer's FIN/RST cuts a long timeout to UNACK.
fn handle_invalid(
    ct: &mut TcpConn,
    dir: usize,
    index: Index,
    cx: PacketCtx,
    cfg: &CtConfig,
    cut: &mut Option<Nanos>,
) {
    if !cx.assured || !matches!(index, Index::Rst | Index::Fin) {
        return;
    }
    if usize::from(ct.last_dir) != dir
        && (ct.last_index == Index::Fin as u8 || ct.last_index == Index::Rst as u8)
    {
        if cx.remaining >= 120 * crate::config::SEC && cx.remaining > cfg.tcp.unacknowledged {
            *cut = Some(cfg.tcp.unacknowledged);
        }
    } else {
        ct.last_index = index as u8;
        ct.last_dir = dir as u8;
    }
}

fn finish(
    ct: &mut TcpConn,
    seg: &Seg<'_>,
    cx: PacketCtx,
    cfg: &CtConfig,
    index: Index,
    old: TcpState,
    new: TcpState,
) -> TcpVerdict {
    let dir = cx.dir;
    ct.last_index = index as u8;
    ct.last_dir = dir as u8;
    ct.state = new;
    if old != new && new == TcpState::FinWait {
        ct.seen[dir].flags |= flag::CLOSE_INIT;
    }
    let t = &cfg.tcp;
    let st = state_timeout(cfg, new);
    let mut timeout = if ct.retrans >= cfg.tcp_max_retrans && st > t.max_retrans {
        t.max_retrans
    } else if index == Index::Rst {
        t.close
    } else if (ct.seen[0].flags | ct.seen[1].flags) & flag::DATA_UNACKNOWLEDGED != 0
        && st > t.unacknowledged
    {
        t.unacknowledged
    } else if ct.last_win == 0 && st > t.max_retrans {
        t.max_retrans
    } else {
        st
    };
    let mut assured = false;
    if !cx.seen_reply {
        if seg.flags & RST != 0 {
            // Only a RST answered: not a connection; delete at once.
            return TcpVerdict::Accept {
                timeout: Some(timeout),
                assured: false,
                kill: true,
            };
        }
        if index == Index::Syn && old == TcpState::SynSent {
            // Retransmitted SYN does not renew the timer, so port reuse
            // cannot keep an entry alive forever.
            return TcpVerdict::Accept {
                timeout: None,
                assured: false,
                kill: false,
            };
        }
        if new == TcpState::Established && timeout > t.unacknowledged {
            // Picked up mid-stream: avoid the 5-day timeout.
            timeout = t.unacknowledged;
        }
    } else if !cx.assured
        && matches!(old, TcpState::SynRecv | TcpState::Established)
        && new == TcpState::Established
    {
        assured = true;
    }
    TcpVerdict::Accept {
        timeout: Some(timeout),
        assured,
        kill: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: a fixed stream, so a failure replays.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        /// `base` moved by up to `spread` either way.
        fn near(&mut self, base: u32, spread: u32) -> u32 {
            let d = self.below(2 * u64::from(spread) + 1) as u32;
            base.wrapping_add(d).wrapping_sub(spread)
        }
        fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
            xs[self.below(xs.len() as u64) as usize]
        }
    }

    /// `established_ack` makes exactly the changes `packet` makes whenever
    /// it answers, and none when it declines; and it answers often enough
    /// on in-window traffic for the comparison to mean something.
    #[test]
    fn fast_path_is_packet() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut taken, mut declined) = (0u32, 0u32);
        let flag_bits = [
            flag::WINDOW_SCALE,
            flag::SACK_PERM,
            flag::CLOSE_INIT,
            flag::BE_LIBERAL,
            flag::DATA_UNACKNOWLEDGED,
            flag::MAXACK_SET,
        ];
        for _ in 0..300_000 {
            let spread = rng.pick(&[0u32, 8, 1500, 70_000, 1 << 31]);
            let base = [rng.next() as u32, rng.next() as u32];
            let mut tc = TcpConn {
                state: if rng.below(8) == 0 {
                    rng.pick(&TcpState::ALL)
                } else {
                    TcpState::Established
                },
                ..TcpConn::default()
            };
            for d in 0..2 {
                let any = rng.next() as u32;
                let maxwin = rng.pick(&[0u32, 1, 512, 65_535, 1 << 20, any]);
                let mut flags = 0;
                for f in flag_bits {
                    if rng.below(2) == 0 {
                        flags |= f;
                    }
                }
                tc.seen[d] = Seen {
                    td_end: rng.near(base[d], spread.min(2000)),
                    td_maxend: rng.near(base[d].wrapping_add(maxwin), spread.min(2000)),
                    td_maxwin: if rng.below(16) == 0 { 0 } else { maxwin },
                    td_maxack: rng.near(base[1 - d], spread.min(3000)),
                    td_scale: rng.pick(&[0u8, 0, 2, 7, 14]),
                    flags,
                };
            }
            let dir = rng.below(2) as usize;
            let payload_len = rng.pick(&[0u32, 0, 1, 100, 1448, 65_000]);
            let window = rng.pick(&[0u16, 1, 512, 29_200, 65_535]);
            let seq = rng.near(tc.seen[dir].td_end, spread);
            let ack = rng.near(tc.seen[1 - dir].td_end, spread);
            let mut flags = ACK;
            if rng.below(2) == 0 {
                flags |= PSH;
            }
            if rng.below(10) == 0 {
                flags = rng.next() as u8;
            }
            let edge = rng.near(ack, 3000).to_be_bytes();
            let sack_block = [1, 1, 5, 10, 0, 0, 0, 0, edge[0], edge[1], edge[2], edge[3]];
            let timestamps = [1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8];
            let options: &[u8] = match rng.below(4) {
                0 => &sack_block,
                1 => &timestamps,
                _ => &[],
            };
            if rng.below(3) == 0 {
                // A segment that exactly repeats the last one (retransmit).
                tc.last_dir = dir as u8;
                tc.last_end = seq.wrapping_add(payload_len);
                tc.last_ack = ack;
                tc.last_win = window;
                tc.retrans = rng.pick(&[0u8, 1, 2, 3, 255]);
            } else {
                tc.last_dir = rng.below(2) as u8;
                tc.last_end = rng.near(seq, 100);
                tc.last_ack = rng.near(ack, 100);
                tc.last_win = rng.pick(&[0u16, 512, window]);
                tc.retrans = rng.pick(&[0u8, 1, 2, 3]);
            }
            tc.last_index = rng.below(6) as u8;
            tc.last_flags = rng.next() as u8;
            tc.last_wscale = rng.below(15) as u8;
            let seg = Seg {
                seq,
                ack,
                flags,
                window,
                payload_len,
                options,
                receiver_offset: if rng.below(20) == 0 { 7 } else { 0 },
            };
            let mut cfg = CtConfig {
                tcp_be_liberal: rng.below(4) == 0,
                tcp_max_retrans: rng.pick(&[0u8, 1, 3, 255]),
                ..CtConfig::default()
            };
            if rng.below(4) == 0 {
                cfg.tcp.established = rng.pick(&[1, 200, 400]) * crate::config::SEC;
            }
            let before_fast = PackedTcp::from(&tc);
            let mut fast = before_fast;
            match established_ack(&mut fast, dir, &seg, &cfg) {
                Some(t) => {
                    taken += 1;
                    let cx = PacketCtx {
                        dir,
                        seen_reply: true,
                        assured: true,
                        remaining: 1000 * crate::config::SEC,
                    };
                    let mut general = tc;
                    let v = packet(&mut general, &seg, cx, &cfg, &mut None);
                    let want = TcpVerdict::Accept {
                        timeout: Some(t),
                        assured: false,
                        kill: false,
                    };
                    assert_eq!(v, want, "{tc:?} {seg:?} dir {dir}");
                    assert_eq!(fast, PackedTcp::from(&general), "{tc:?} {seg:?} dir {dir}");
                }
                None => {
                    declined += 1;
                    assert_eq!(fast, before_fast, "declined but changed");
                }
            }
        }
        assert!(taken > 60_000, "fast path taken {taken} times");
        assert!(declined > 60_000, "fast path declined {declined} times");
    }

    #[test]
    fn table_shape() {
        // Spot checks against the kernel table.
        assert_eq!(TRANSITIONS[0][Index::Ack as usize][0], ES);
        assert_eq!(
            TRANSITIONS[0][Index::Syn as usize][TcpState::TimeWait as usize],
            SS
        );
        assert_eq!(
            TRANSITIONS[1][Index::SynAck as usize][TcpState::SynSent as usize],
            SR
        );
        assert_eq!(
            TRANSITIONS[1][Index::Ack as usize][TcpState::SynSent as usize],
            IG
        );
        assert_eq!(TcpState::ALL.len(), 10);
        assert_eq!(std::mem::size_of::<TcpConn>(), 56);
        assert_eq!(std::mem::size_of::<crate::Conn>(), 152);
    }

    #[test]
    fn flags_table() {
        assert!(flags_valid(SYN));
        assert!(flags_valid(SYN | ECE | CWR));
        assert!(flags_valid(ACK | PSH));
        assert!(!flags_valid(0));
        assert!(!flags_valid(FIN | PSH | URG));
        assert!(!flags_valid(SYN | FIN));
        assert!(!flags_valid(FIN));
        assert!(!flags_valid(SYN | RST));
        for f in 0..=255u8 {
            assert_eq!(
                flags_valid(f),
                VALID_FLAGS.contains(&(f & !(PSH | ECE | CWR))),
                "{f:#04x}"
            );
        }
    }

    #[test]
    fn options() {
        let mut s = Seen::default();
        parse_options(
            &[
                2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
            ],
            &mut s,
        );
        assert_eq!(s.td_scale, 7);
        assert_eq!(s.flags, flag::WINDOW_SCALE | flag::SACK_PERM);
        let mut s = Seen::default();
        parse_options(&[3, 3, 20], &mut s);
        assert_eq!(s.td_scale, 14);
        parse_options(&[3, 1, 20, 99], &mut s);
        let mut sack = 100;
        parse_sack(&[1, 1, 5, 10, 0, 0, 0, 50, 0, 0, 0, 200], &mut sack);
        assert_eq!(sack, 200);
    }
}

//! Kernel: net/netfilter/xt_hashlimit.c (`hashlimit_mt_common`,
//! `hashlimit_init_dst`, `rateinfo_init`, `rateinfo_recalc`, `user2credits`,
//! `user2credits_byte`, `hashlimit_byte_cost`, `user2rate`, `user2rate_bytes`),
//! revision 3.
//!
//! The key holds the addresses the table's mode names (under its masks) and,
//! when a port is in the mode, the two 16-bit words where the protocol keeps
//! its ports (offset 0 for TCP/UDP/UDP-Lite/DCCP/SCTP/ESP, 4 for AH, zeros for
//! anything else). Like the kernel, fragments are not special-cased: whatever
//! sits at the transport offset is read, and a packet too short to hold it is
//! hot-dropped. The protocol itself is not part of the key.
//!
//! Three bucket kinds, chosen by the table's mode:
//! - packets: a bucket of `avg·burst` credits refilled by a power-of-two
//!   credits per jiffy, each packet paying `avg` (both scaled);
//! - bytes: a bucket of one second's worth of credits; a packet pays its
//!   16-byte chunk count times the per-chunk cost, and when it cannot pay the
//!   bucket is topped up to full once per unit of `--hashlimit-burst`;
//! - rate-match: packets (or bytes) are counted per `--hashlimit-rate-interval`;
//!   the key matches while the count stays within `rate + burst` (packets) or
//!   `burst·rate` bytes, and a whole interval is over the limit when the
//!   previous one ran above the configured rate.
//!
//! Over the limit the match fails, unless `--hashlimit-above` inverted it.

use palisade_model::matches::{hashlimit_mode as hm, HashlimitMatch};

use super::limit::pow2_below;
use crate::eval::Pkt;
use crate::host::bits;
use crate::state::hashlimit::{Entry, HashlimitTables, Key, Rate};
use crate::state::{jiffies, HZ};

/// `XT_HASHLIMIT_SCALE_v2`.
const SCALE_V2: u64 = 1_000_000;
const MAX_CPJ: u64 = u64::MAX / (HZ * 60 * 60 * 24);
/// `CREDITS_PER_JIFFY` of revisions ≥ 2.
const CPJ: u64 = pow2_below(MAX_CPJ);
/// `CREDITS_PER_JIFFY_BYTES`.
const CPJ_BYTES: u64 = pow2_below(u32::MAX as u64 / HZ);
/// A full byte bucket: one second of credit.
const BYTES_FULL: u64 = CPJ_BYTES * HZ;

fn user2credits(user: u64) -> u64 {
    if SCALE_V2 >= HZ * CPJ {
        user / (SCALE_V2 / (HZ * CPJ))
    } else {
        user.wrapping_mul((HZ * CPJ) / SCALE_V2)
    }
}

/// Per-16-byte-chunk cost in credits (the kernel passes the value as `u32`).
fn user2credits_byte(user: u64) -> u64 {
    (u64::from(user as u32) * BYTES_FULL) >> 32
}

fn user2rate(user: u64) -> u64 {
    SCALE_V2.checked_div(user).unwrap_or(0)
}

fn user2rate_bytes(user: u64) -> u64 {
    let user = user as u32;
    let r = u32::MAX.checked_div(user).unwrap_or(u32::MAX);
    u64::from(r.saturating_sub(1)) << 4
}

/// Bytes per second a byte-mode `avg` (cost per chunk, as libxt stores it)
/// stands for (`cost_to_bytes`).
fn cost_to_bytes(cost: u64) -> u64 {
    let r = u64::from(u32::MAX)
        .checked_div(cost)
        .unwrap_or(u64::from(u32::MAX));
    r.saturating_sub(1) << 4
}

/// The kernel's byte-mode burst is a count of refills; the model keeps the
/// byte amount written after `--hashlimit-burst`, which libxt_hashlimit turns
/// into that count by rounding up.
fn byte_burst_refills(cfg: &HashlimitMatch) -> u64 {
    if cfg.burst == 0 {
        return 0;
    }
    let per = cost_to_bytes(cfg.avg).max(1);
    cfg.burst.div_ceil(per) & u64::from(u32::MAX)
}

fn mask_bits(v6: bool, len: u8) -> u128 {
    let w = if v6 { 128u32 } else { 32 };
    let l = u32::from(len).min(w);
    if l == 0 {
        0
    } else if v6 {
        !0u128 << (128 - l)
    } else {
        u128::from(!0u32 << (32 - l))
    }
}

/// `proto_ports_offset`.
fn ports_offset(proto: u8) -> Option<usize> {
    match proto {
        6 | 17 | 136 | 33 | 50 | 132 => Some(0),
        51 => Some(4),
        _ => None,
    }
}

/// Builds the key; `None` when the port words are cut off (hotdrop).
fn key(cfg: &HashlimitMatch, pkt: &Pkt) -> Option<Key> {
    let v6 = pkt.meta.src.is_ipv6();
    let mut k = Key {
        src: 0,
        dst: 0,
        sport: 0,
        dport: 0,
    };
    if cfg.mode & hm::DIP != 0 {
        k.dst = bits(pkt.meta.dst) & mask_bits(v6, cfg.dstmask);
    }
    if cfg.mode & hm::SIP != 0 {
        k.src = bits(pkt.meta.src) & mask_bits(v6, cfg.srcmask);
    }
    if cfg.mode & (hm::SPT | hm::DPT) == 0 {
        return Some(k);
    }
    if let Some(poff) = ports_offset(pkt.meta.proto) {
        let off = usize::from(pkt.meta.l4_off) + poff;
        let b = pkt.data.get(off..off + 4)?;
        if cfg.mode & hm::SPT != 0 {
            k.sport = u16::from_be_bytes([b[0], b[1]]);
        }
        if cfg.mode & hm::DPT != 0 {
            k.dport = u16::from_be_bytes([b[2], b[3]]);
        }
    }
    Some(k)
}

/// `rateinfo_init`.
fn init(cfg: &HashlimitMatch) -> Rate {
    let bytes = cfg.mode & hm::BYTES != 0;
    if cfg.mode & hm::RATE_MATCH != 0 {
        let (rate, burst) = if bytes {
            let rate = user2rate_bytes(cfg.avg);
            let b = byte_burst_refills(cfg);
            (rate, if b != 0 { b.wrapping_mul(rate) } else { rate })
        } else {
            let rate = user2rate(cfg.avg);
            (rate, cfg.burst.wrapping_add(rate))
        };
        Rate::Window {
            interval: cfg.interval,
            prev_window: false,
            current_rate: 0,
            rate,
            burst,
        }
    } else if bytes {
        Rate::Bucket {
            credit: BYTES_FULL,
            cap: byte_burst_refills(cfg),
            cost: user2credits_byte(cfg.avg),
        }
    } else {
        let credit = user2credits(cfg.avg.wrapping_mul(cfg.burst));
        Rate::Bucket {
            credit,
            cap: credit,
            cost: user2credits(cfg.avg),
        }
    }
}

/// `rateinfo_recalc`.
fn recalc(e: &mut Entry, now: u64, mode: u32) {
    let delta = now.wrapping_sub(e.prev);
    if delta == 0 {
        return;
    }
    match &mut e.rate {
        Rate::Window {
            interval,
            prev_window,
            current_rate,
            rate,
            ..
        } => {
            let iv = u64::from(*interval) * HZ;
            if delta < iv {
                return;
            }
            e.prev = now;
            *prev_window =
                u128::from(*current_rate) * u128::from(iv) > u128::from(delta) * u128::from(*rate);
            *current_rate = 0;
        }
        Rate::Bucket { credit, cap, .. } => {
            e.prev = now;
            if mode & hm::BYTES != 0 {
                let before = *credit;
                *credit = credit.wrapping_add(CPJ_BYTES.wrapping_mul(delta));
                if before >= *credit {
                    *credit = BYTES_FULL;
                    return;
                }
                *credit = (*credit).min(BYTES_FULL);
            } else {
                *credit = credit.wrapping_add(delta.wrapping_mul(CPJ)).min(*cap);
            }
        }
    }
}

pub(crate) fn mt(
    info: &HashlimitMatch,
    table_id: usize,
    tables: &mut HashlimitTables,
    pkt: &Pkt,
    hotdrop: &mut bool,
) -> bool {
    let Some(t) = tables.tables.get_mut(table_id) else {
        return false;
    };
    let Some(k) = key(&t.cfg, pkt) else {
        *hotdrop = true;
        return false;
    };
    t.gc(pkt.now);
    let now = jiffies(pkt.now);
    let expires = now + t.expire_j;
    let full = t.map.len() >= t.max;
    let mode = t.cfg.mode;
    let e = match t.map.get_mut(&k) {
        Some(e) => {
            e.expires = expires;
            recalc(e, now, mode);
            e
        }
        None if full => {
            *hotdrop = true;
            return false;
        }
        None => t.map.entry(k).or_insert(Entry {
            prev: now,
            expires,
            rate: init(&t.cfg),
        }),
    };
    let under = match &mut e.rate {
        Rate::Window {
            prev_window,
            current_rate,
            burst,
            ..
        } => {
            let cost = if mode & hm::BYTES != 0 {
                u64::from(pkt.meta.len)
            } else {
                1
            };
            *current_rate = current_rate.wrapping_add(cost);
            !*prev_window && *current_rate <= *burst
        }
        Rate::Bucket { credit, cap, cost } => {
            let pay = if mode & hm::BYTES != 0 {
                // hashlimit_byte_cost
                let chunks = u64::from(pkt.meta.len >> 4) + 1;
                let tmp = chunks.saturating_mul(*cost).min(BYTES_FULL);
                if *credit < tmp && *cap != 0 {
                    *cap -= 1;
                    *credit = BYTES_FULL;
                }
                tmp
            } else {
                *cost
            };
            if *credit >= pay {
                *credit -= pay;
                true
            } else {
                false
            }
        }
    };
    under ^ (info.mode & hm::INVERT != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, tcp_v4, udp_v4};
    use palisade_model::Family;

    fn cfg(mode: u32, avg: u64, burst: u64) -> HashlimitMatch {
        HashlimitMatch {
            name: "h".into(),
            mode,
            avg,
            burst,
            size: 0,
            max: 0,
            gc_interval: 1000,
            expire: 10_000,
            srcmask: 32,
            dstmask: 32,
            interval: 1,
        }
    }

    /// Runs `n` packets of the datagram at the given nanosecond times.
    fn run(info: &HashlimitMatch, data: &[u8], times: &[u64]) -> Vec<bool> {
        let mut t = HashlimitTables::default();
        let id = t.register(info, Family::V4);
        let mut hd = false;
        times
            .iter()
            .map(|&now| {
                let mut d = data.to_vec();
                let mut p = pkt_of(&mut d);
                p.now = now;
                let r = mt(info, id, &mut t, &p, &mut hd);
                assert!(!hd);
                r
            })
            .collect()
    }

    #[test]
    fn constants_match_the_kernel_at_hz_250() {
        assert_eq!(CPJ, 1 << 39);
        assert_eq!(CPJ_BYTES, 1 << 24);
        assert_eq!(BYTES_FULL, 4_194_304_000);
        // 1/s: avg 1e6 -> 1e6 * (250·2^39 / 1e6) credits.
        assert_eq!(user2credits(1_000_000), 1_000_000 * 137_438_953);
    }

    #[test]
    fn per_source_buckets() {
        let info = cfg(hm::SIP, 1_000_000, 2);
        let s = 5_000_000_000;
        let r = run(&info, &udp_v4(1, 2, b""), &[s, s, s, s + 1_000_000_000]);
        assert_eq!(r, [true, true, false, true]);
    }

    #[test]
    fn protocol_is_not_part_of_the_key() {
        let info = cfg(hm::SIP, 1_000_000, 1);
        let mut t = HashlimitTables::default();
        let id = t.register(&info, Family::V4);
        let mut hd = false;
        let mut a = udp_v4(1, 2, b"");
        let mut b = tcp_v4(1, 2, 0x02, &[]);
        let pa = pkt_of(&mut a);
        let pb = pkt_of(&mut b);
        assert!(mt(&info, id, &mut t, &pa, &mut hd));
        assert!(!mt(&info, id, &mut t, &pb, &mut hd));
        assert_eq!(t.tables[id].map.len(), 1);
    }

    #[test]
    fn ports_key_and_table_max_hotdrops() {
        let mut info = cfg(hm::SPT, 1_000_000, 5);
        info.max = 2;
        info.size = 1;
        let mut t = HashlimitTables::default();
        let id = t.register(&info, Family::V4);
        for (sport, drop) in [(1, false), (2, false), (1, false), (3, true)] {
            let mut hd = false;
            let mut d = udp_v4(sport, 9, b"");
            let p = pkt_of(&mut d);
            let m = mt(&info, id, &mut t, &p, &mut hd);
            assert_eq!(hd, drop, "sport {sport}");
            assert_eq!(m, !drop);
        }
    }

    #[test]
    fn byte_mode_costs_by_chunks_and_burst_refills() {
        // 1000b/s as libxt stores it: cost = U32_MAX / (1000/16 + 1) = 67_713_024.
        let avg = u64::from(u32::MAX) / (1000 / 16 + 1);
        let cost = user2credits_byte(avg);
        assert_eq!(cost, (avg * BYTES_FULL) >> 32);
        // A 28-byte UDP datagram is 2 chunks; a full second of credit pays
        // floor(BYTES_FULL / (2·cost)) of them.
        let per_packet = 2 * cost;
        let n = (BYTES_FULL / per_packet) as usize;
        let info = cfg(hm::BYTES, avg, 0);
        let s = 4_000_000_000;
        let times = vec![s; n + 2];
        let r = run(&info, &udp_v4(1, 2, b""), &times);
        assert_eq!(r.iter().filter(|m| **m).count(), n);
        assert!(r[..n].iter().all(|m| *m));
        // With a burst of two rates' worth, the bucket refills twice more.
        let info = cfg(hm::BYTES, avg, 2 * cost_to_bytes(avg));
        let times = vec![s; 4 * n];
        let r = run(&info, &udp_v4(1, 2, b""), &times);
        assert_eq!(r.iter().filter(|m| **m).count(), 3 * n);
    }

    #[test]
    fn rate_match_windows() {
        // 3/s rate-match, burst 2, interval 1 s: a key may send rate + burst =
        // 5 packets per window; the window after one that ran above the rate
        // is over the limit entirely.
        let mut info = cfg(hm::RATE_MATCH, 1_000_000 / 3, 2);
        info.interval = 1;
        let s = 4_000_000_000u64;
        let mut times = vec![s; 6];
        times.extend([s + 1_000_000_000; 2]);
        times.extend([s + 2_000_000_000; 1]);
        let r = run(&info, &udp_v4(1, 2, b""), &times);
        assert_eq!(
            r,
            [true, true, true, true, true, false, false, false, true],
            "window 1: 5 of 6; window 2 follows 6 > 3 so fails; window 3 follows 2 ≤ 3"
        );
    }

    #[test]
    fn inverted_and_expired_entries_live_until_gc() {
        let mut info = cfg(hm::SIP | hm::INVERT, 1_000_000, 1);
        info.expire = 100;
        let s = 4_000_000_000u64;
        let r = run(&info, &udp_v4(1, 2, b""), &[s, s, s + 200_000_000]);
        assert_eq!(r, [false, true, true]);
    }
}

//! Kernel: net/netfilter/xt_hashlimit.c (`hashlimit_mt_common`,
//! `hashlimit_init_dst`, `rateinfo_init`, `rateinfo_recalc`, `user2credits`).
//!
//! The key is built from the `--hashlimit-mode` fields (masked addresses,
//! ports of port-carrying protocols; a non-first fragment or unknown protocol
//! leaves ports zero). A new key's bucket starts full (`avg · burst`); each
//! packet recalculates credit from elapsed jiffies and pays `avg` (packet
//! mode) or its length scaled (byte mode). Under the limit matches, unless
//! `--hashlimit-above` inverted it.
//!
//! Byte mode is approximated: credits are bytes with the same jiffy scale;
//! `--hashlimit-rate-match` is treated as the plain mode (TODO).

use palisade_model::matches::{hashlimit_mode as hm, HashlimitMatch};

use super::limit::pow2_below;
use crate::eval::Pkt;
use crate::host::bits;
use crate::state::hashlimit::{Bucket, HashlimitTables};
use crate::state::{jiffies, HZ};

/// `XT_HASHLIMIT_SCALE_v2`.
const SCALE_V2: u64 = 1_000_000;
const MAX_CPJ: u64 = u64::MAX / (HZ * 60 * 60 * 24);
/// `CREDITS_PER_JIFFY` of revisions ≥ 2.
const CPJ: u64 = pow2_below(MAX_CPJ);

fn user2credits(user: u64) -> u64 {
    if SCALE_V2 >= HZ * CPJ {
        user / (SCALE_V2 / (HZ * CPJ))
    } else {
        user.saturating_mul((HZ * CPJ) / SCALE_V2)
    }
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

/// Builds the key; `None` when ports are needed but unreadable (hotdrop).
fn key(info: &HashlimitMatch, pkt: &Pkt) -> Option<[u8; 37]> {
    let mut k = [0u8; 37];
    let v6 = pkt.meta.src.is_ipv6();
    if info.mode & hm::DIP != 0 {
        let d = bits(pkt.meta.dst) & mask_bits(v6, info.dstmask);
        k[0..16].copy_from_slice(&d.to_be_bytes());
    }
    if info.mode & hm::SIP != 0 {
        let s = bits(pkt.meta.src) & mask_bits(v6, info.srcmask);
        k[16..32].copy_from_slice(&s.to_be_bytes());
    }
    if info.mode & (hm::SPT | hm::DPT) != 0 {
        let has_ports = matches!(pkt.meta.proto, 6 | 17 | 132 | 33 | 136);
        if has_ports && pkt.meta.frag_off == 0 {
            let off = usize::from(pkt.meta.l4_off);
            let b = pkt.data.get(off..off + 4)?;
            if info.mode & hm::SPT != 0 {
                k[32..34].copy_from_slice(&b[0..2]);
            }
            if info.mode & hm::DPT != 0 {
                k[34..36].copy_from_slice(&b[2..4]);
            }
        }
    }
    k[36] = pkt.meta.proto;
    Some(k)
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
    let Some(k) = key(info, pkt) else {
        *hotdrop = true;
        return false;
    };
    t.gc(pkt.now);
    let now = jiffies(pkt.now);
    let expires = now + u64::from(t.expire_ms) * HZ / 1000;
    let bytes = info.mode & hm::BYTES != 0;
    let full = t.map.len() >= t.max;
    let b = match t.map.get_mut(&k) {
        Some(b) => {
            b.expires = expires;
            let delta = now.saturating_sub(b.prev);
            if delta > 0 {
                b.prev = now;
                b.credit = b
                    .credit
                    .saturating_add(delta.saturating_mul(CPJ))
                    .min(b.cap);
            }
            b
        }
        None => {
            if full {
                *hotdrop = true;
                return false;
            }
            let (cap, cost) = if bytes {
                let c = info.avg.saturating_mul(info.burst.max(1));
                (c, info.avg)
            } else {
                (
                    user2credits(info.avg.saturating_mul(info.burst)),
                    user2credits(info.avg),
                )
            };
            t.map.entry(k).or_insert(Bucket {
                prev: now,
                credit: cap,
                cap,
                cost,
                expires,
            })
        }
    };
    let cost = if bytes {
        u64::from(pkt.meta.len)
    } else {
        b.cost
    };
    if b.credit >= cost {
        b.credit -= cost;
        return info.mode & hm::INVERT == 0;
    }
    info.mode & hm::INVERT != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, udp_v4};
    use palisade_model::Family;

    #[test]
    fn per_source_buckets() {
        let info = HashlimitMatch {
            name: "h".into(),
            mode: hm::SIP,
            avg: 1_000_000, // 1/s
            burst: 2,
            size: 0,
            max: 0,
            gc_interval: 1000,
            expire: 10_000,
            srcmask: 32,
            dstmask: 32,
            interval: 1,
        };
        let mut t = HashlimitTables::default();
        let id = t.register("h", Family::V4, 0, 0, 10_000, 1000);
        let mut hd = false;
        let mut d = udp_v4(1, 2, b"");
        let mut p = pkt_of(&mut d);
        p.now = 5_000_000_000;
        assert!(mt(&info, id, &mut t, &p, &mut hd));
        assert!(mt(&info, id, &mut t, &p, &mut hd));
        assert!(!mt(&info, id, &mut t, &p, &mut hd));
        p.now += 1_000_000_000;
        assert!(mt(&info, id, &mut t, &p, &mut hd));
        assert!(!hd);
    }
}

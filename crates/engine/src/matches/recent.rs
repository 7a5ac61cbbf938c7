//! Kernel: net/netfilter/xt_recent.c (`recent_mt`).
//!
//! The result starts as `invert` and flips when the command "hits":
//! `--set` always hits (recording the address), `--remove` hits when the
//! address was present (and removes it), `--rcheck`/`--update` hit when the
//! entry has enough stamps (`--hitcount`) within `--seconds`. `--update`
//! refreshes the entry only when the final result is true — with `!` that
//! means when it did *not* hit, the kernel's own quirk, kept. `--reap`
//! removes the list's oldest entry when its newest stamp is out of the
//! window. The address is masked with the list's mask (its creator's).
//! With `--rttl` the entry must also have the same TTL; the TTL of a
//! forwarded packet (has an output device, no local socket) counts one more,
//! as it was before the router decremented it.

use palisade_model::matches::{RecentCmd, RecentMatch};

use crate::eval::Pkt;
use crate::state::recent::RecentTables;
use crate::state::{jiffies, HZ};

pub(crate) fn mt(
    info: &RecentMatch,
    list_id: usize,
    tables: &mut RecentTables,
    pkt: &Pkt,
    hotdrop: &mut bool,
) -> bool {
    let _ = hotdrop;
    let Some(list) = tables.lists.get_mut(list_id) else {
        return info.invert;
    };
    let now = jiffies(pkt.now);
    let addr = if info.rdest {
        pkt.meta.dst
    } else {
        pkt.meta.src
    };
    let masked = list.masked(addr);
    let mut ttl = pkt.meta.ttl;
    if !pkt.oif.is_empty() && !pkt.local_socket {
        ttl = ttl.wrapping_add(1);
    }
    let family = pkt.meta.family;
    let mut ret = info.invert;
    let Some(i) = list.lookup(family, masked, if info.rttl { ttl } else { 0 }) else {
        if info.cmd == RecentCmd::Set {
            list.init(family, masked, ttl, now);
            ret = !ret;
        }
        return ret;
    };
    let mut reap_removed = false;
    match info.cmd {
        RecentCmd::Set => ret = !ret,
        RecentCmd::Remove => {
            list.remove(i);
            return !ret;
        }
        RecentCmd::Check | RecentCmd::Update => {
            let time = now.wrapping_sub(u64::from(info.seconds) * HZ);
            let e = &list.entries[i];
            let mut hits = 0u32;
            for s in &e.stamps[..e.nstamps] {
                if info.seconds != 0 && time_after(time, *s) {
                    continue;
                }
                hits += 1;
                if info.hitcount == 0 || hits >= info.hitcount {
                    ret = !ret;
                    break;
                }
            }
            if info.reap {
                let updating = info.cmd == RecentCmd::Update && ret;
                if let Some(o) = list.oldest() {
                    let oe = &list.entries[o];
                    let newest = oe
                        .stamps
                        .get(oe.index.wrapping_sub(1))
                        .copied()
                        .unwrap_or(0);
                    if !(o == i && updating) && time_after(time, newest) {
                        list.remove(o);
                        reap_removed = o == i;
                    }
                }
            }
        }
    }
    if !reap_removed && (info.cmd == RecentCmd::Set || (info.cmd == RecentCmd::Update && ret)) {
        // After a reap the index may have moved (swap_remove): look it up again.
        if let Some(j) = list.lookup(family, masked, if info.rttl { ttl } else { 0 }) {
            list.update(j, now);
            list.entries[j].ttl = ttl;
        }
    }
    ret
}

/// `time_after(a, b)`: a is later than b (wrapping jiffies arithmetic).
fn time_after(a: u64, b: u64) -> bool {
    (b.wrapping_sub(a) as i64) < 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, tcp_v4};
    use palisade_model::matches::tcp_flags as f;

    fn rule(cmd: RecentCmd, seconds: u32, hitcount: u32) -> RecentMatch {
        RecentMatch {
            cmd,
            name: "SSH".into(),
            seconds,
            reap: false,
            hitcount,
            rttl: false,
            rdest: false,
            mask: "255.255.255.255".parse().unwrap(),
            invert: false,
        }
    }

    #[test]
    fn ssh_bruteforce_pattern() {
        let mut t = RecentTables::default();
        let id = t.register(&rule(RecentCmd::Set, 0, 0));
        let set = rule(RecentCmd::Set, 0, 0);
        let upd = rule(RecentCmd::Update, 60, 4);
        let mut hd = false;
        let mut hits = Vec::new();
        for k in 0..5u64 {
            let mut d = tcp_v4(1000, 22, f::SYN, &[]);
            let mut p = pkt_of(&mut d);
            p.now = 10_000_000_000 + k * 1_000_000_000;
            assert!(mt(&set, id, &mut t, &p, &mut hd));
            hits.push(mt(&upd, id, &mut t, &p, &mut hd));
        }
        // One stamp per --set; the fourth packet reaches --hitcount 4.
        assert_eq!(hits, vec![false, false, false, true, true]);
        // Long after, the window is empty again.
        let mut d = tcp_v4(1000, 22, f::SYN, &[]);
        let mut p = pkt_of(&mut d);
        p.now = 1_000_000_000_000;
        assert!(!mt(&rule(RecentCmd::Check, 60, 1), id, &mut t, &p, &mut hd));
        assert!(mt(&rule(RecentCmd::Remove, 0, 0), id, &mut t, &p, &mut hd));
        assert!(!mt(&rule(RecentCmd::Check, 0, 0), id, &mut t, &p, &mut hd));
    }
}

//! Kernel: net/netfilter/nf_conntrack_core.c (`nf_conntrack_tuple_taken`,
//! `nf_conntrack_alter_reply`), net/netfilter/nf_nat_core.c (the `bysource`
//! table behind `find_appropriate_src`).
//!
//! What NAT asks of the connection table. The NAT engine itself lives in
//! palisade-engine (`nat/`); here are only the table queries it needs:
//!
//! * whether a candidate reply tuple is already used by another connection
//!   (the kernel looks the tuple up in the conntrack hash, both directions);
//! * the existing source mappings of an original source (address, port,
//!   protocol, zone), newest first — the kernel keeps a separate `bysource`
//!   hash of every connection that got a source binding (null bindings
//!   included); we scan the table for entries with `SRC_NAT_DONE`, which is
//!   the same set. This is O(entries) and only runs for a new connection
//!   whose source is out of the SNAT range (MASQUERADE, SNAT to another
//!   address) — TODO: a side index if it shows in profiles;
//! * re-keying a confirmed entry's reply tuple (replay adopting the port the
//!   kernel chose, see palisade-datapath's engine adapter).

use crate::conn::Status;
use crate::{CtHandle, Lookup, Nanos, Tuple};

use super::Conntrack;

impl Conntrack {
    /// `nf_conntrack_tuple_taken`: some live connection other than `ignored`
    /// uses `t` in either direction. A connection whose *reply* tuple is `t`
    /// and whose original tuple equals `ignored`'s is not a clash (the same
    /// flow seen twice before confirmation).
    pub fn tuple_taken(&self, t: &Tuple, ignored: Option<CtHandle>, now: Nanos) -> bool {
        let Lookup::Found(i, d) = self.find(t) else {
            return false;
        };
        let Some(c) = self.slab.get(i as usize).and_then(|c| c.as_ref()) else {
            return false;
        };
        if c.is_expired(now) || c.status.has(Status::DYING) {
            return false;
        }
        if let Some(h) = ignored {
            if h.slot == i && c.gen() == h.gen {
                return false;
            }
            if d == 1 {
                if let Some(me) = self.entry(h) {
                    if me.orig() == c.orig() {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// The source mappings already in use for `orig`'s source (protocol,
    /// source address and port, zone): for each live connection with a
    /// source binding and the same original source, its reply tuple
    /// inverted. Newest connection first, as the kernel's `bysource` chains
    /// (head insertion) are walked.
    pub fn src_mappings(&self, orig: &Tuple, now: Nanos) -> Vec<Tuple> {
        let mut found: Vec<(u32, Tuple)> = self
            .slab
            .iter()
            .flatten()
            .filter(|c| {
                c.status.has(Status::SRC_NAT_DONE)
                    && !c.status.has(Status::DYING)
                    && !c.is_expired(now)
                    && c.proto() == orig.proto
                    && c.zone() == orig.zone
            })
            .filter_map(|c| {
                let o = c.orig();
                if o.src != orig.src || o.sport != orig.sport || o.family != orig.family {
                    return None;
                }
                c.reply().invert().map(|t| (c.gen(), t))
            })
            .collect();
        found.sort_by_key(|b| std::cmp::Reverse(b.0));
        found.into_iter().map(|(_, t)| t).collect()
    }

    /// Changes the reply tuple of an entry, confirmed or not, keeping the
    /// table index consistent. Refused (`false`) for a stale handle, a tuple
    /// of another family/protocol/zone, or one already used by another entry.
    /// The kernel never does this to a confirmed entry; replay uses it to
    /// adopt the binding the captured kernel chose (its random port pick).
    pub fn rebind_reply(&mut self, h: CtHandle, t: &Tuple, now: Nanos) -> bool {
        let Some(c) = self.entry(h) else {
            return false;
        };
        if c.reply() == *t {
            return true;
        }
        if self.tuple_taken(t, Some(h), now) {
            return false;
        }
        let confirmed = c.is_confirmed();
        let i = h.slot;
        if confirmed {
            self.unindex(i);
            if let Some(c) = self.slab[i as usize].as_mut() {
                c.status.clear(Status::CONFIRMED);
            }
        }
        let ok = self.slab[i as usize]
            .as_mut()
            .is_some_and(|c| c.set_reply(t));
        if confirmed {
            let tuples = match self.slab[i as usize].as_mut() {
                Some(c) => {
                    c.status.set(Status::CONFIRMED);
                    [c.tuple(0), c.tuple(1)]
                }
                None => return false,
            };
            for (d, tt) in tuples.iter().enumerate() {
                let hsh = self.hash(tt);
                let key = i << 1 | d as u32;
                let slab = &self.slab;
                let hasher = &self.hasher;
                self.index.insert_unique(hsh, key, |&v| {
                    let (j, dd) = ((v >> 1) as usize, (v & 1) as usize);
                    slab[j]
                        .as_ref()
                        .map_or(0, |c| super::hash_words(hasher, c.words(dd)))
                });
            }
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use palisade_model::Family;
    use palisade_wire::PacketMeta;

    use crate::{CtConfig, CtInfo, Status, Tuple};

    use super::Conntrack;

    fn udp(src: &str, sport: u16, dst: &str, dport: u16) -> Vec<u8> {
        let s: std::net::Ipv4Addr = src.parse().unwrap();
        let d: std::net::Ipv4Addr = dst.parse().unwrap();
        let mut p = vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0];
        p.extend_from_slice(&s.octets());
        p.extend_from_slice(&d.octets());
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0, 8, 0, 0]);
        p
    }

    fn tuple(src: &str, sport: u16, dst: &str, dport: u16) -> Tuple {
        let s: IpAddr = src.parse().unwrap();
        let d: IpAddr = dst.parse().unwrap();
        let mut l4 = sport.to_be_bytes().to_vec();
        l4.extend_from_slice(&dport.to_be_bytes());
        Tuple::from_parts(Family::V4, s, d, 17, &l4, 0).unwrap()
    }

    #[test]
    fn taken_mappings_and_rebind() {
        let mut ct = Conntrack::new(CtConfig::default());
        let p = udp("10.0.0.2", 5000, "192.0.2.1", 53);
        let m = PacketMeta::parse(&p).unwrap();
        let r = ct.packet_in(1, &p, &m, false, None);
        assert_eq!(r.info, CtInfo::New);
        let h = r.handle.unwrap();
        // SNAT to 198.51.100.1:5000 before confirmation.
        let reply = tuple("192.0.2.1", 53, "198.51.100.1", 5000);
        let e = ct.get_mut(h).unwrap();
        assert!(e.set_reply(&reply));
        e.status.set(Status::SRC_NAT | Status::SRC_NAT_DONE);
        assert!(ct.confirm(h, 1));
        assert!(ct.tuple_taken(&reply, None, 2));
        assert!(!ct.tuple_taken(&reply, Some(h), 2));
        assert!(!ct.tuple_taken(&tuple("192.0.2.1", 53, "198.51.100.1", 5001), None, 2));
        let maps = ct.src_mappings(&tuple("10.0.0.2", 5000, "192.0.2.9", 53), 2);
        assert_eq!(maps.len(), 1);
        assert_eq!(maps[0].src_ip(), "198.51.100.1".parse::<IpAddr>().unwrap());
        // Rebind: the reply direction is now found under the new tuple.
        let moved = tuple("192.0.2.1", 53, "198.51.100.1", 6000);
        assert!(ct.rebind_reply(h, &moved, 3));
        assert!(!ct.tuple_taken(&reply, None, 3));
        assert!(ct.tuple_taken(&moved, None, 3));
        let back = udp("192.0.2.1", 53, "198.51.100.1", 6000);
        let m = PacketMeta::parse(&back).unwrap();
        let r = ct.packet_in(4, &back, &m, false, None);
        assert_eq!(r.info, CtInfo::EstablishedReply);
    }
}

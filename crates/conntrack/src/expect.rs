//! Kernel: net/netfilter/nf_conntrack_expect.c (`nf_ct_expect_init`,
//! `nf_ct_expect_related_report` / `__nf_ct_expect_check`,
//! `nf_ct_find_expectation`, `evict_oldest_expect`, `expect_clash`),
//! nf_conntrack_core.c (`init_conntrack`: the expectation lookup).
//!
//! An expectation names the original tuple a future connection will have,
//! with a mask saying which parts must match (the helpers here leave the
//! source port open). The first packet of a new connection that matches a
//! live expectation of a confirmed, living master makes an entry with
//! `IPS_EXPECTED` (its packets are RELATED until a reply is seen), takes the
//! master's ctmark, and consumes the expectation. Such an entry does not get
//! the template's helper: the kernel only assigns a template helper when no
//! expectation matched (`if (!exp && tmpl)`), and the FTP/TFTP expectations
//! carry no helper of their own, so data connections are never helped.
//!
//! Limits: each helper policy caps a master's live expectations
//! (`max_expected`, 1 for FTP and TFTP); a new one then evicts the master's
//! oldest. An identical expectation from the same master replaces the old
//! one; one from another master that could match the same packets is refused
//! (`-EBUSY`), as is any beyond the table limit (`nf_ct_expect_max`). A
//! refused expectation makes the helper drop the packet that asked for it.
//! Expectations die with their master (checked when met) or after the policy
//! timeout (5 minutes for FTP and TFTP).

use crate::tuple::Tuple;
use crate::{CtHandle, HelperId, Nanos};

/// `NAT` part of an expectation (`exp->saved_proto`, `exp->dir`,
/// `nf_nat_follow_master`): the data connection gets mapped like its master.
/// Filled by NAT-aware helpers; `None` without NAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectNat {
    /// Direction of the master the expectation was created for (`exp->dir`).
    pub dir: u8,
    /// Port the endpoint really listens on (before the helper rewrote it).
    pub saved_port: u16,
    /// Address the endpoint really listens on.
    pub saved_addr: [u8; 16],
}

/// One expectation (`struct nf_conntrack_expect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// Wanted original tuple of the expected connection (masked fields are
    /// zero).
    pub tuple: Tuple,
    /// Whether the source address must match (all helpers here: yes).
    pub match_src_addr: bool,
    /// Mask on the source port (0: any).
    pub sport_mask: u16,
    /// Mask on the destination port.
    pub dport_mask: u16,
    /// The connection that asked for it.
    pub master: CtHandle,
    /// The master's helper (selects the policy).
    pub helper: HelperId,
    /// Expectation class (`NF_CT_EXPECT_CLASS_DEFAULT` = 0).
    pub class: u8,
    /// Absolute expiry time.
    pub expires: Nanos,
    /// NAT settings for the expected connection.
    pub nat: Option<ExpectNat>,
    /// Insertion order (older first).
    pub(crate) serial: u64,
}

impl Expectation {
    /// `nf_ct_expect_init` for an exact source/destination address pair, any
    /// source port and the given destination port.
    pub fn new(
        master: CtHandle,
        helper: HelperId,
        mut tuple: Tuple,
        dport: u16,
        expires: Nanos,
    ) -> Expectation {
        tuple.sport = 0;
        tuple.dport = dport;
        Expectation {
            tuple,
            match_src_addr: true,
            sport_mask: 0,
            dport_mask: 0xffff,
            master,
            helper,
            class: 0,
            expires,
            nat: None,
            serial: 0,
        }
    }

    /// `nf_ct_tuple_mask_cmp`: whether `t` is what this expectation waits
    /// for (the zone must be the master's).
    pub fn matches(&self, t: &Tuple) -> bool {
        let e = &self.tuple;
        e.family == t.family
            && e.proto == t.proto
            && e.zone == t.zone
            && e.dst == t.dst
            && (!self.match_src_addr || e.src == t.src)
            && (e.sport ^ t.sport) & self.sport_mask == 0
            && (e.dport ^ t.dport) & self.dport_mask == 0
    }

    /// `expect_matches`: same tuple and mask.
    fn same_as(&self, o: &Expectation) -> bool {
        self.tuple == o.tuple
            && self.match_src_addr == o.match_src_addr
            && self.sport_mask == o.sport_mask
            && self.dport_mask == o.dport_mask
    }

    /// `expect_clash`: some tuple would match both (compared under the
    /// intersection of the masks).
    fn clashes(&self, o: &Expectation) -> bool {
        let (a, b) = (&self.tuple, &o.tuple);
        let sm = self.sport_mask & o.sport_mask;
        let dm = self.dport_mask & o.dport_mask;
        a.family == b.family
            && a.proto == b.proto
            && a.zone == b.zone
            && a.dst == b.dst
            && (!(self.match_src_addr && o.match_src_addr) || a.src == b.src)
            && (a.sport ^ b.sport) & sm == 0
            && (a.dport ^ b.dport) & dm == 0
    }
}

/// Why an expectation was refused (the helper drops the packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectError {
    /// `-EALREADY`/`-EBUSY`: another master expects the same.
    Busy,
    /// `-EMFILE`: the master's policy limit or the table limit.
    Full,
    /// `-ESHUTDOWN`: the master is gone.
    NoMaster,
}

/// The expectation table.
#[derive(Debug, Default)]
pub struct ExpectTable {
    list: Vec<Expectation>,
    serial: u64,
    /// `nf_conntrack_expect_max`.
    pub max: usize,
}

impl ExpectTable {
    /// An empty table with the given limit.
    pub fn new(max: usize) -> ExpectTable {
        ExpectTable {
            list: Vec::new(),
            serial: 0,
            max,
        }
    }

    /// Live and stale expectations (callers filter with `alive`).
    pub fn iter(&self) -> impl Iterator<Item = &Expectation> {
        self.list.iter()
    }

    /// Number of stored expectations.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether no expectation is stored.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Drops expired expectations and those whose master is gone.
    pub fn prune(&mut self, now: Nanos, alive: impl Fn(CtHandle) -> bool) {
        self.list.retain(|e| e.expires > now && alive(e.master));
    }

    /// `nf_ct_expect_related`: inserts `e` with the policy limit
    /// `max_expected` (0: unlimited).
    pub fn insert(&mut self, mut e: Expectation, max_expected: usize) -> Result<(), ExpectError> {
        if let Some(pos) = self
            .list
            .iter()
            .position(|i| i.master == e.master && i.same_as(&e))
        {
            if self.list[pos].class != e.class {
                return Err(ExpectError::Busy);
            }
            self.list.remove(pos);
        } else if self
            .list
            .iter()
            .any(|i| i.master != e.master && i.clashes(&e))
        {
            return Err(ExpectError::Busy);
        }
        if max_expected > 0 {
            let mine = |l: &[Expectation]| {
                l.iter()
                    .filter(|i| i.master == e.master && i.class == e.class)
                    .count()
            };
            if mine(&self.list) >= max_expected {
                // evict_oldest_expect
                if let Some(pos) = self
                    .list
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| i.master == e.master && i.class == e.class)
                    .min_by_key(|(_, i)| i.serial)
                    .map(|(p, _)| p)
                {
                    self.list.remove(pos);
                }
                if mine(&self.list) >= max_expected {
                    return Err(ExpectError::Full);
                }
            }
        }
        if self.max != 0 && self.list.len() >= self.max {
            return Err(ExpectError::Full);
        }
        self.serial += 1;
        e.serial = self.serial;
        self.list.push(e);
        Ok(())
    }

    /// `nf_ct_find_expectation` with unlink: the first live expectation `t`
    /// matches, removed from the table. `alive` says whether a master is
    /// confirmed and not dying (the kernel ignores expectations of
    /// unconfirmed masters).
    pub fn take(
        &mut self,
        t: &Tuple,
        now: Nanos,
        alive: impl Fn(CtHandle) -> bool,
    ) -> Option<Expectation> {
        let pos = self
            .list
            .iter()
            .position(|e| e.expires > now && e.matches(t) && alive(e.master))?;
        Some(self.list.remove(pos))
    }

    /// Removes every expectation of `master`.
    pub fn remove_master(&mut self, master: CtHandle) {
        self.list.retain(|e| e.master != master);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::Family;
    use std::net::IpAddr;

    fn t(src: &str, dst: &str, sp: u16, dp: u16) -> Tuple {
        let s: IpAddr = src.parse().unwrap();
        let d: IpAddr = dst.parse().unwrap();
        let mut l4 = [0u8; 4];
        l4[..2].copy_from_slice(&sp.to_be_bytes());
        l4[2..].copy_from_slice(&dp.to_be_bytes());
        Tuple::from_parts(Family::V4, s, d, 6, &l4, 0).unwrap()
    }

    fn h(slot: u32) -> CtHandle {
        CtHandle { slot, gen: 0 }
    }

    #[test]
    fn masks_source_port_and_consumes() {
        let mut tab = ExpectTable::new(16);
        let e = Expectation::new(
            h(1),
            HelperId(1),
            t("10.0.2.2", "10.0.1.2", 0, 0),
            5000,
            100,
        );
        tab.insert(e, 1).unwrap();
        assert!(tab
            .take(&t("10.0.2.2", "10.0.1.2", 20, 5001), 1, |_| true)
            .is_none());
        assert!(tab
            .take(&t("10.0.2.2", "10.0.1.2", 20, 5000), 1, |_| false)
            .is_none());
        assert!(tab
            .take(&t("10.0.2.2", "10.0.1.2", 20, 5000), 100, |_| true)
            .is_none());
        assert!(tab
            .take(&t("10.0.2.2", "10.0.1.2", 20, 5000), 1, |_| true)
            .is_some());
        assert!(tab.is_empty());
    }

    #[test]
    fn max_expected_evicts_oldest_and_clash_is_busy() {
        let mut tab = ExpectTable::new(16);
        let base = t("10.0.2.2", "10.0.1.2", 0, 0);
        tab.insert(Expectation::new(h(1), HelperId(1), base, 5000, 100), 1)
            .unwrap();
        tab.insert(Expectation::new(h(1), HelperId(1), base, 5001, 100), 1)
            .unwrap();
        assert_eq!(tab.len(), 1);
        assert_eq!(tab.iter().next().unwrap().tuple.dport, 5001);
        assert_eq!(
            tab.insert(Expectation::new(h(2), HelperId(1), base, 5001, 100), 1),
            Err(ExpectError::Busy)
        );
        tab.remove_master(h(1));
        assert!(tab.is_empty());
    }
}

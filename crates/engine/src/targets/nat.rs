//! Kernel: net/netfilter/xt_nat.c (SNAT/DNAT), xt_MASQUERADE.c,
//! xt_REDIRECT.c, xt_NETMAP.c.
//!
//! The NAT targets only say *what* binding the connection should get: the
//! rule's range and flags. Running the target records the request on the
//! packet and ends the nat table walk with ACCEPT (all five are terminal);
//! the pipeline then resolves the request against the host (the outgoing
//! interface's address for MASQUERADE, the incoming one's for REDIRECT,
//! the packet's address for NETMAP) and sets the binding up in conntrack
//! (`nat::setup`), which may still turn the verdict into DROP (MASQUERADE
//! on an interface without an address, REDIRECT on one without any).

use std::net::IpAddr;

use palisade_model::targets::{NatFlags, Target};

use crate::eval::Pkt;

use super::TgResult;

/// Which target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NatKind {
    Snat,
    Dnat,
    Masquerade,
    Redirect,
    Netmap,
}

/// A compiled NAT target (`nf_nat_range2` before resolution).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NatTarget {
    pub kind: NatKind,
    /// Address range (SNAT/DNAT), or NETMAP's (first, last) of the prefix.
    pub addr: Option<(IpAddr, IpAddr)>,
    /// `--to-ports` / the port part of `--to-*`.
    pub ports: Option<(u16, u16)>,
    /// `--random` or `--random-fully` (`NF_NAT_RANGE_PROTO_RANDOM_ALL`).
    pub random_all: bool,
    /// `--persistent`.
    pub persistent: bool,
}

impl NatTarget {
    /// The NAT target of a rule, if it is one.
    pub(crate) fn of(t: &Target) -> Option<NatTarget> {
        let fl = |f: &NatFlags| (f.random || f.random_fully, f.persistent);
        let mk = |kind, addr, ports, f: &NatFlags| {
            let (random_all, persistent) = fl(f);
            NatTarget {
                kind,
                addr,
                ports,
                random_all,
                persistent,
            }
        };
        Some(match t {
            Target::Snat { range, flags } => mk(NatKind::Snat, range.addr, range.ports, flags),
            Target::Dnat { range, flags } => mk(NatKind::Dnat, range.addr, range.ports, flags),
            Target::Masquerade { ports, flags } => mk(NatKind::Masquerade, None, *ports, flags),
            Target::Redirect { ports, flags } => mk(NatKind::Redirect, None, *ports, flags),
            Target::Netmap(am) => {
                let last = match (am.addr, am.mask) {
                    (IpAddr::V4(a), IpAddr::V4(m)) => {
                        IpAddr::V4((u32::from(a) | !u32::from(m)).into())
                    }
                    (IpAddr::V6(a), IpAddr::V6(m)) => {
                        IpAddr::V6((u128::from(a) | !u128::from(m)).into())
                    }
                    _ => am.addr,
                };
                NatTarget {
                    kind: NatKind::Netmap,
                    addr: Some((am.addr, last)),
                    ports: None,
                    random_all: false,
                    persistent: false,
                }
            }
            _ => return None,
        })
    }

    /// Name for traces.
    pub(crate) fn name(&self) -> &'static str {
        match self.kind {
            NatKind::Snat => "SNAT",
            NatKind::Dnat => "DNAT",
            NatKind::Masquerade => "MASQUERADE",
            NatKind::Redirect => "REDIRECT",
            NatKind::Netmap => "NETMAP",
        }
    }
}

/// Records the request; the nat table walk ends here.
pub(crate) fn tg(t: &NatTarget, pkt: &mut Pkt) -> TgResult {
    pkt.nat = Some(*t);
    TgResult::Accept
}

#[cfg(test)]
mod tests {
    use palisade_model::addr::AddrMask;

    use super::*;

    #[test]
    fn netmap_range_spans_the_prefix() {
        let am = AddrMask::from_prefix("10.1.0.0".parse().unwrap(), 16);
        let t = NatTarget::of(&Target::Netmap(am)).unwrap();
        assert_eq!(
            t.addr,
            Some(("10.1.0.0".parse().unwrap(), "10.1.255.255".parse().unwrap()))
        );
        assert_eq!(t.name(), "NETMAP");
    }
}

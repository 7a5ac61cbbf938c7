//! Kernel: net/netfilter/xt_conntrack.c (`conntrack_mt`, `ct_proto_port_check_v3`).
//!
//! Order matters because of one quirk: `--ctstate` is tested first, and when
//! there is no conntrack entry at all (INVALID or UNTRACKED) the match is
//! true only if `--ctstate` was given (and passed) — every other option
//! needs an entry. SNAT/DNAT state bits come from the entry's status. Ports
//! are compared as inclusive ranges (revision 3), `--ctstatus` matches when
//! any listed bit is set, `--ctexpire` compares remaining whole seconds.

use palisade_model::matches::{ct_state, ConntrackMatch, CtDir, Inv};
use palisade_model::AddrMask;

use crate::eval::Pkt;

fn addr_ok(o: &Option<Inv<AddrMask>>, a: std::net::IpAddr) -> bool {
    match o {
        None => true,
        Some(i) => i.value.contains(a) != i.invert,
    }
}

fn port_ok(o: &Option<Inv<palisade_model::matches::PortRange>>, p: u16) -> bool {
    match o {
        None => true,
        Some(i) => i.value.contains(p) != i.invert,
    }
}

pub(crate) fn mt(info: &ConntrackMatch, pkt: &Pkt) -> bool {
    let ct = &pkt.ct;
    let mut statebit = ct.state.state_bit();
    if let Some(st) = &info.state {
        if let Some(c) = &ct.conn {
            if c.snat {
                statebit |= ct_state::SNAT;
            }
            if c.dnat {
                statebit |= ct_state::DNAT;
            }
        }
        if (st.value & statebit != 0) == st.invert {
            return false;
        }
    }
    let Some(c) = ct.conn.as_ref().filter(|_| ct.state.has_entry()) else {
        return info.state.is_some();
    };
    if let Some(dir) = info.dir {
        let orig = !ct.state.is_reply();
        if orig != (dir == CtDir::Original) {
            return false;
        }
    }
    if !addr_ok(&info.orig_src, c.orig.src)
        || !addr_ok(&info.orig_dst, c.orig.dst)
        || !addr_ok(&info.repl_src, c.repl.src)
        || !addr_ok(&info.repl_dst, c.repl.dst)
    {
        return false;
    }
    if let Some(p) = &info.proto {
        if (c.proto == p.value) == p.invert {
            return false;
        }
    }
    if !port_ok(&info.orig_src_port, c.orig.sport)
        || !port_ok(&info.orig_dst_port, c.orig.dport)
        || !port_ok(&info.repl_src_port, c.repl.sport)
        || !port_ok(&info.repl_dst_port, c.repl.dport)
    {
        return false;
    }
    if let Some(s) = &info.status {
        if (s.value & c.status != 0) == s.invert {
            return false;
        }
    }
    if let Some(e) = &info.expire {
        let (lo, hi) = e.value;
        if (c.expire_secs >= lo && c.expire_secs <= hi) == e.invert {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctview::{ConnView, CtState, CtView, TupleView};
    use crate::eval::tests::{pkt_of, udp_v4};

    fn conn() -> ConnView {
        let t = |s: &str, d: &str, sp, dp| TupleView {
            src: s.parse().unwrap(),
            dst: d.parse().unwrap(),
            sport: sp,
            dport: dp,
        };
        ConnView {
            orig: t("10.0.0.1", "10.0.0.2", 1000, 53),
            repl: t("10.0.0.2", "10.0.0.1", 53, 1000),
            proto: 17,
            status: 0,
            snat: false,
            dnat: false,
            expire_secs: 30,
            mark: 0,
            confirmed: true,
            src_nat_done: false,
            dst_nat_done: false,
        }
    }

    #[test]
    fn no_entry_needs_ctstate() {
        let mut d = udp_v4(1000, 53, b"");
        let mut p = pkt_of(&mut d);
        p.ct = CtView::default();
        let m = ConntrackMatch {
            orig_src: Some(Inv {
                value: AddrMask::from_prefix("10.0.0.1".parse().unwrap(), 32),
                invert: true,
            }),
            ..Default::default()
        };
        assert!(!mt(&m, &p));
        let m = ConntrackMatch {
            state: Some(Inv {
                value: ct_state::INVALID,
                invert: false,
            }),
            ..Default::default()
        };
        assert!(mt(&m, &p));
    }

    #[test]
    fn fields() {
        let mut d = udp_v4(1000, 53, b"");
        let mut p = pkt_of(&mut d);
        p.ct = CtView {
            state: CtState::EstablishedReply,
            conn: Some(conn()),
            mark_dirty: false,
        };
        let mut m = ConntrackMatch {
            state: Some(Inv {
                value: ct_state::ESTABLISHED,
                invert: false,
            }),
            dir: Some(CtDir::Reply),
            orig_dst_port: Some(Inv {
                value: palisade_model::matches::PortRange::single(53),
                invert: false,
            }),
            expire: Some(Inv {
                value: (10, 30),
                invert: false,
            }),
            ..Default::default()
        };
        assert!(mt(&m, &p));
        m.dir = Some(CtDir::Original);
        assert!(!mt(&m, &p));
        m.dir = None;
        m.status = Some(Inv {
            value: palisade_model::matches::ct_status::ASSURED,
            invert: false,
        });
        assert!(!mt(&m, &p));
    }
}

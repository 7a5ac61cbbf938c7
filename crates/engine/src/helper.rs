//! Kernel: net/netfilter/nf_conntrack_proto.c (`nf_confirm`), xt_CT.c
//! (`xt_ct_set_helper`), nf_conntrack_helper.c.
//!
//! Engine glue for connection helpers (crates/conntrack/src/helper). A
//! helper reaches a connection only through the raw table's CT target
//! (`-j CT --helper ftp` on a rule with `-p tcp`), and only when the new
//! connection was not expected; the kernel's old automatic assignment by
//! port (`nf_conntrack_helper=1`, removed in Linux 6.0) is not modelled.
//! The helper runs at the confirm point — after every table at the end of
//! INPUT and POSTROUTING — on the packet as it leaves, and may drop it
//! (an incomplete FTP command, or an expectation that cannot be made).

use palisade_conntrack::{helper_by_name, Conntrack, CtInfo, CtResult, HelpVerdict, HelperId};
use palisade_wire::PacketMeta;

use crate::Nanos;

/// The helper a CT template names: `idx` indexes the ruleset's helper
/// names; the kernel resolves the name for the rule's protocol at load
/// time. Unknown helpers (irc, sip, …) attach nothing.
pub(crate) fn resolve(names: &[String], idx: Option<u16>, proto: u8) -> Option<HelperId> {
    let name = names.get(usize::from(idx?))?;
    helper_by_name(name, proto)
}

/// Helpers the kernel registers (`nf_conntrack_helper_register` in the
/// nf_conntrack_* modules): name, layer-4 protocol, IPv6 too. Names are
/// compared exactly (case included). Only ftp and tftp do anything here;
/// the others load (as on a kernel with the module) and attach nothing.
const KERNEL_HELPERS: &[(&str, u8, bool)] = &[
    ("ftp", 6, true),
    ("tftp", 17, true),
    ("irc", 6, false),
    ("sane", 6, true),
    ("amanda", 17, true),
    ("sip", 17, true),
    ("sip", 6, true),
    ("RAS", 17, true),
    ("Q.931", 6, true),
    ("pptp", 6, false),
    ("netbios-ns", 17, false),
    ("snmp", 17, false),
    ("snmp_trap", 17, false),
];

/// `xt_ct_set_helper` at rule load: the rule must name one layer-4
/// protocol (`-p`, not inverted) and a helper registered for it and the
/// family; the kernel refuses the rule otherwise (`-ENOENT`, with these
/// messages in the kernel log).
pub(crate) fn check(
    family: palisade_model::Family,
    proto: u8,
    inv_proto: bool,
    name: &str,
) -> Result<(), &'static str> {
    if proto == 0 || inv_proto {
        return Err("CT: You must specify a L4 protocol and not use inversions on it");
    }
    let v6 = family == palisade_model::Family::V6;
    if KERNEL_HELPERS
        .iter()
        .any(|&(n, p, six)| n == name && p == proto && (six || !v6))
    {
        Ok(())
    } else {
        Err("CT: No such helper")
    }
}

/// `nf_confirm`: run the helper (which may rewrite the payload under NAT,
/// `nf_nat_ftp`, growing or shrinking the datagram), adjust sequence
/// numbers of connections whose stream NAT resized (not for packets that
/// came in on loopback, `nf_is_loopback_packet`), then confirm. `false`:
/// drop the packet.
pub(crate) fn confirm(
    ct: &mut Conntrack,
    r: &CtResult,
    data: &mut Vec<u8>,
    meta: &mut PacketMeta,
    now: Nanos,
    from_loopback: bool,
) -> bool {
    let mut mangle = None;
    if ct.help_mangle(r, now, data, meta, &mut mangle) == HelpVerdict::Drop {
        return false;
    }
    if let (Some(m), Some(h)) = (mangle, r.handle) {
        // "cannot mangle packet": the packet is dropped and the
        // expectation made for the rewritten command removed with it.
        if !crate::nat::seqadj::mangle_tcp(data, meta, &m) {
            ct.unexpect(h, &m, now);
            return false;
        }
        let delta = m.text().len() as i32 - m.len as i32;
        ct.seqadj_set(h, m.dir, m.seq, delta);
    }
    if let Some(h) = r.handle {
        if !from_loopback
            && r.info.has_ct()
            && r.info != CtInfo::RelatedReply
            && ct.seqadj(h).is_some()
        {
            let dir = usize::from(r.info.is_reply());
            if !crate::nat::seqadj::adjust(ct, h, dir, data, meta) {
                return false;
            }
        }
    }
    ct.confirm_packet(r, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_time_check() {
        use palisade_model::Family::{V4, V6};
        assert!(check(V4, 6, false, "ftp").is_ok());
        assert!(check(V6, 17, false, "tftp").is_ok());
        assert!(check(V4, 6, false, "irc").is_ok());
        assert!(check(V6, 6, false, "irc").is_err());
        assert!(check(V4, 17, false, "ftp").is_err());
        assert!(check(V4, 0, false, "ftp").is_err());
        assert!(check(V4, 6, true, "ftp").is_err());
        assert!(check(V4, 6, false, "FTP").is_err());
        assert!(check(V4, 6, false, "nosuch").is_err());
    }

    #[test]
    fn resolves_by_name_and_protocol() {
        let names = vec!["tftp".to_string(), "ftp".to_string(), "irc".to_string()];
        assert_eq!(resolve(&names, Some(1), 6), Some(HelperId::FTP));
        assert_eq!(resolve(&names, Some(0), 17), Some(HelperId::TFTP));
        assert_eq!(resolve(&names, Some(0), 6), None);
        assert_eq!(resolve(&names, Some(2), 6), None);
        assert_eq!(resolve(&names, None, 6), None);
        assert_eq!(resolve(&names, Some(9), 6), None);
    }
}

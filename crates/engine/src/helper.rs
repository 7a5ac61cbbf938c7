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

use palisade_conntrack::{helper_by_name, Conntrack, CtResult, HelpVerdict, HelperId};
use palisade_wire::PacketMeta;

use crate::Nanos;

/// The helper a CT template names: `idx` indexes the ruleset's helper
/// names; the kernel resolves the name for the rule's protocol at load
/// time. Unknown helpers (irc, sip, …) attach nothing.
pub(crate) fn resolve(names: &[String], idx: Option<u16>, proto: u8) -> Option<HelperId> {
    let name = names.get(usize::from(idx?))?;
    helper_by_name(name, proto)
}

/// `nf_confirm`: run the helper, then confirm. `false`: drop the packet.
pub(crate) fn confirm(
    ct: &mut Conntrack,
    r: &CtResult,
    data: &[u8],
    meta: &PacketMeta,
    now: Nanos,
) -> bool {
    if ct.help(r, now, data, meta) == HelpVerdict::Drop {
        return false;
    }
    ct.confirm_packet(r, now)
}

#[cfg(test)]
mod tests {
    use super::*;

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

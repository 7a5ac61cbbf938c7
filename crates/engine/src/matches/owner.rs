//! Kernel: net/netfilter/xt_owner.c (`owner_mt`).
//!
//! Only locally generated packets carry a socket. Without one the match is
//! true exactly when every given option is inverted. With a socket, `!
//! --socket-exists` fails, and uid/gid ranges are compared (gid also against
//! supplementary groups with `--suppl-groups`; the caller gives just the
//! primary gid, so supplementary groups are not modelled).

use palisade_model::matches::OwnerMatch;

use crate::eval::Pkt;

pub(crate) fn mt(info: &OwnerMatch, pkt: &Pkt) -> bool {
    let Some(owner) = pkt.owner else {
        let all_inverted = info.uid.as_ref().is_none_or(|u| u.invert)
            && info.gid.as_ref().is_none_or(|g| g.invert)
            && info.socket_exists.is_none_or(|s| !s);
        return all_inverted;
    };
    if info.socket_exists == Some(false) {
        return false;
    }
    if let Some(u) = &info.uid {
        if (owner.uid >= u.value.0 && owner.uid <= u.value.1) == u.invert {
            return false;
        }
    }
    if let Some(g) = &info.gid {
        if (owner.gid >= g.value.0 && owner.gid <= g.value.1) == g.invert {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::tests::{pkt_of, udp_v4};
    use crate::eval::Owner;
    use palisade_model::matches::Inv;

    #[test]
    fn with_and_without_socket() {
        let mut d = udp_v4(1, 2, b"");
        let mut p = pkt_of(&mut d);
        let m = OwnerMatch {
            uid: Some(Inv {
                value: (0, 0),
                invert: false,
            }),
            ..Default::default()
        };
        assert!(!mt(&m, &p));
        let inv = OwnerMatch {
            uid: Some(Inv {
                value: (0, 0),
                invert: true,
            }),
            ..Default::default()
        };
        assert!(mt(&inv, &p));
        p.owner = Some(Owner { uid: 0, gid: 0 });
        assert!(mt(&m, &p));
        assert!(!mt(&inv, &p));
    }
}

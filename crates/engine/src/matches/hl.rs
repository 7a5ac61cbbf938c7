//! Kernel: net/netfilter/xt_hl.c (`ttl_mt` for IPv4, `hl_mt6` for IPv6):
//! equal, not equal, less than, greater than.

use palisade_model::matches::{TtlMatch, TtlOp};

pub(crate) fn mt(info: &TtlMatch, ttl: u8) -> bool {
    match info.op {
        TtlOp::Eq => ttl == info.value,
        TtlOp::Ne => ttl != info.value,
        TtlOp::Lt => ttl < info.value,
        TtlOp::Gt => ttl > info.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops() {
        assert!(mt(
            &TtlMatch {
                op: TtlOp::Lt,
                value: 10
            },
            9
        ));
        assert!(!mt(
            &TtlMatch {
                op: TtlOp::Gt,
                value: 10
            },
            10
        ));
        assert!(mt(
            &TtlMatch {
                op: TtlOp::Ne,
                value: 10
            },
            11
        ));
    }
}

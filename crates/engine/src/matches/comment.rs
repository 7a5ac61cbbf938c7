//! Kernel: net/netfilter/xt_comment.c (`comment_mt`): always true; the text
//! only lives in the ruleset.

pub(crate) fn mt() -> bool {
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn always() {
        assert!(super::mt());
    }
}

//! iptables-restore input, any bytes: the parser returns a ruleset or diagnostics,
//! never panics, and whatever it accepts can be printed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_model::Family;
use palisade_rules::{parse_restore, save, SaveOptions};

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    for fam in [Family::V4, Family::V6] {
        match parse_restore(&src, "fuzz.rules", fam) {
            Ok(rs) => {
                let _ = save(&rs, &SaveOptions { counters: true, header: None });
            }
            Err(diags) => assert!(!diags.is_empty(), "refused without a diagnostic"),
        }
    }
});

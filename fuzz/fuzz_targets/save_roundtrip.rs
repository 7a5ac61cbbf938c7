//! Whatever the restore parser accepts prints as canonical text: printing it, parsing
//! the print and printing again gives the same bytes (parse ∘ save is the identity on
//! canonical text).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_model::Family;
use palisade_rules::{parse_restore, save, SaveOptions};

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let opts = SaveOptions { counters: false, header: None };
    for fam in [Family::V4, Family::V6] {
        let Ok(rs) = parse_restore(&src, "fuzz.rules", fam) else { continue };
        let once = save(&rs, &opts);
        match parse_restore(&once, "saved.rules", fam) {
            Ok(again) => {
                let twice = save(&again, &opts);
                assert_eq!(once, twice, "save output is not a fixed point");
            }
            Err(d) => panic!("own save output refused: {}\n--- text ---\n{once}", d[0]),
        }
    }
});

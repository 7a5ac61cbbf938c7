//! Scripts of `iptables …` / `ip6tables …` command lines, any bytes: never a panic,
//! and a refusal always carries a diagnostic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_rules::{parse_script, save, SaveOptions};

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let opts = SaveOptions { counters: false, header: None };
    match parse_script(&src, "fuzz.sh") {
        Ok((v4, v6)) => {
            let _ = save(&v4, &opts);
            let _ = save(&v6, &opts);
        }
        Err(diags) => assert!(!diags.is_empty(), "refused without a diagnostic"),
    }
    // The same text as the arguments of one command of each family.
    let one = src.replace('\n', " ");
    let _ = parse_script(&format!("iptables {one}\nip6tables {one}\n"), "fuzz.sh");
});

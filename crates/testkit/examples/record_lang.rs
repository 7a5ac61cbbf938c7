//! (Re)records the kernel's answer for every file of the language corpus
//! (crates/rules/tests/data/lang). Needs root, iptables (nf_tables) and `ip netns`.
//!
//! ```text
//! cargo run -p palisade-testkit --example record_lang [-- [--regen] [NAME-FILTER…]]
//! ```
//! `--regen` first rewrites the generated `gen-*` inputs from gen.rs.

use palisade_testkit::lang_oracle::{self, Answer};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(reason) = palisade_testkit::skip_reason(&[
        "iptables-restore",
        "ip6tables-restore",
        "iptables-save",
        "ip",
    ]) {
        eprintln!("SKIP: {reason}");
        std::process::exit(2);
    }
    if args.iter().any(|a| a == "--regen") {
        match lang_oracle::write_generated() {
            Ok(n) => eprintln!("wrote {n} generated files"),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let cases = match lang_oracle::cases() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.name.contains(f.as_str())))
        .collect();
    let results = lang_oracle::par_map(&cases, 4, lang_oracle::record);
    let mut failed = 0;
    for (c, r) in cases.iter().zip(results) {
        match r {
            Ok(Answer::Accepted { .. }) => println!("ok       {}", c.display()),
            Ok(Answer::Refused { line, .. }) => {
                println!("refused  {} (line {line:?})", c.display())
            }
            Err(e) => {
                failed += 1;
                println!("FAILED   {}: {e}", c.display());
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} file(s) could not be recorded");
        std::process::exit(1);
    }
}

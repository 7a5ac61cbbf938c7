//! Parses a ruleset file (restore text or a script) and prints what Palisade makes
//! of it: the saved ruleset(s), or the diagnostics. `--v6` picks IPv6 for restore
//! text (`--v4` forces IPv4, else it is guessed); `--time N` parses N times and prints the fastest run (for benchmarks).
//!
//!     cargo run --release -p palisade-rules --example parse -- FILE [--v4|--v6] [--time N]

use palisade_model::Family;
use palisade_rules::{parse_auto, save, SaveOptions};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: parse FILE [--v4|--v6] [--time N]");
        std::process::exit(2);
    };
    let fam = if args.iter().any(|a| a == "--v6") {
        Some(Family::V6)
    } else if args.iter().any(|a| a == "--v4") {
        Some(Family::V4)
    } else {
        None
    };
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let opts = SaveOptions::default();
    if let Some(i) = args.iter().position(|a| a == "--time") {
        let n: u32 = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(5);
        let mut best = Duration::MAX;
        let mut rules: Result<usize, usize> = Ok(0);
        for _ in 0..n.max(1) {
            let t = Instant::now();
            let r = parse_auto(&src, path, fam);
            best = best.min(t.elapsed());
            rules = r
                .as_ref()
                .map(|(rs, _)| {
                    rs.tables
                        .iter()
                        .flat_map(|t| &t.chains)
                        .map(|c| c.rules.len())
                        .sum::<usize>()
                })
                .map_err(|d| d.len());
        }
        match rules {
            Ok(n_rules) => println!("{path}: {n_rules} rules, best of {n}: {best:?}"),
            Err(d) => println!("{path}: refused ({d} diagnostics), best of {n}: {best:?}"),
        }
        return;
    }
    match parse_auto(&src, path, fam) {
        Ok((a, b)) => {
            print!("{}", save(&a, &opts));
            if let Some(b) = b {
                println!("# --- {:?}", b.family);
                print!("{}", save(&b, &opts));
            }
        }
        Err(diags) => {
            for d in diags {
                println!("{d}");
            }
            std::process::exit(1);
        }
    }
}

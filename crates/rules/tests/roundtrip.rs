//! Property tests of the language: on canonical text (the kernel's own iptables-save
//! output recorded in tests/data/lang), parse ∘ save is the identity; and no mutation
//! of a corpus line, however malformed, makes either parser panic.

use palisade_model::Family;
use palisade_rules::{parse_restore, parse_script, save, SaveOptions};
use palisade_testkit::lang_oracle;
use proptest::prelude::*;
use std::sync::OnceLock;

fn opts() -> SaveOptions {
    SaveOptions {
        counters: false,
        header: None,
    }
}

/// Every recorded kernel dump (canonical text) with its family, excluding known-pending files.
fn canonical() -> &'static [(String, Family, String)] {
    static CACHE: OnceLock<Vec<(String, Family, String)>> = OnceLock::new();
    CACHE.get_or_init(load_canonical)
}

fn load_canonical() -> Vec<(String, Family, String)> {
    let mut out = Vec::new();
    let dir = lang_oracle::corpus_dir();
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return out;
    };
    let mut paths: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let fam = if name.ends_with(".v6.save") || name.ends_with("-v6.save") {
            Family::V6
        } else if name.ends_with(".save") {
            Family::V4
        } else {
            continue;
        };
        if PENDING_SAVES.iter().any(|s| name.starts_with(s)) {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(&p) {
            if !text.is_empty() {
                out.push((name, fam, text));
            }
        }
    }
    out
}

/// Recorded dumps whose extensions the parser does not implement yet (keep in step
/// with PENDING in oracle_lang.rs).
const PENDING_SAVES: &[&str] = &[];

/// Every line of every corpus input (mutation seeds).
fn corpus_lines() -> &'static [String] {
    static CACHE: OnceLock<Vec<String>> = OnceLock::new();
    CACHE.get_or_init(load_corpus_lines)
}

fn load_corpus_lines() -> Vec<String> {
    let mut out = Vec::new();
    for c in lang_oracle::cases().unwrap_or_default() {
        if let Ok(src) = c.source() {
            out.extend(src.lines().map(str::to_string));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn first_diff(name: &str, expected: &str, got: &str) -> String {
    lang_oracle::first_diff(name, "parse∘save", expected, got).unwrap_or_default()
}

/// Whole recorded dumps are fixed points.
#[test]
fn canonical_files_are_fixed_points() {
    let all = canonical();
    assert!(all.len() > 20, "only {} canonical files", all.len());
    let mut failures = Vec::new();
    for (name, fam, text) in all {
        match parse_restore(text, name, *fam) {
            Ok(rs) => {
                let out = save(&rs, &opts());
                if out != *text {
                    failures.push(first_diff(name, text, &out));
                }
            }
            Err(d) => failures.push(format!(
                "{name}: canonical text refused: {}",
                d.first().map(|d| d.to_string()).unwrap_or_default()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Whether a restore line ends inside a double-quoted word: iptables-save then
/// printed a string holding a newline, and the next line continues the same rule.
fn ends_in_open_quote(line: &str) -> bool {
    let mut open = false;
    let mut escaped = false;
    for ch in line.chars() {
        if open {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                open = false;
            }
        } else if ch == '"' {
            open = true;
        }
    }
    open
}

/// Splits a dump into its tables: (header lines `*t` and `:chain`, rules). A rule is
/// its `-A` line plus any continuation lines of a quoted string holding a newline,
/// joined with `\n`, so a subset keeps or drops them together.
fn tables(text: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut continued = false;
    for l in text.lines() {
        if continued {
            if let Some(r) = out.last_mut().and_then(|t| t.1.last_mut()) {
                r.push('\n');
                r.push_str(l);
                continued = ends_in_open_quote(r);
                continue;
            }
        }
        continued = false;
        if l.starts_with('*') {
            out.push((vec![l.to_string()], Vec::new()));
        } else if let Some(t) = out.last_mut() {
            if l.starts_with("-A ") {
                t.1.push(l.to_string());
                continued = ends_in_open_quote(l);
            } else if l != "COMMIT" {
                t.0.push(l.to_string());
            }
        }
    }
    out
}

#[test]
fn rule_split_keeps_continuation_lines() {
    let t = tables("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"a\n\"\n-A INPUT -j DROP\nCOMMIT\n");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].0, ["*filter", ":INPUT ACCEPT [0:0]"]);
    assert_eq!(
        t[0].1,
        ["-A INPUT -m comment --comment \"a\n\"", "-A INPUT -j DROP"]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    /// Any subset of a canonical dump's rules, in their order, is still canonical.
    #[test]
    fn canonical_subsets_are_fixed_points(file in any::<prop::sample::Index>(), keep in prop::collection::vec(any::<bool>(), 0..600)) {
        let all = canonical();
        prop_assume!(!all.is_empty());
        let (name, fam, text) = &all[file.index(all.len())];
        let mut k = keep.iter().cycle();
        let mut out = String::new();
        for (head, rules) in tables(text) {
            for h in head { out.push_str(&h); out.push('\n'); }
            for r in rules {
                if *k.next().unwrap_or(&true) { out.push_str(&r); out.push('\n'); }
            }
            out.push_str("COMMIT\n");
        }
        let rs = parse_restore(&out, name, *fam);
        prop_assert!(rs.is_ok(), "{name}: subset refused: {:?}", rs.err().and_then(|d| d.first().map(|d| d.to_string())));
        if let Ok(rs) = rs {
            let got = save(&rs, &opts());
            prop_assert!(got == out, "{}", first_diff(name, &out, &got));
        }
    }

    /// Byte and token mutations of corpus lines never panic the parsers.
    #[test]
    fn mutated_lines_never_panic(
        line in any::<prop::sample::Index>(),
        other in any::<prop::sample::Index>(),
        ops in prop::collection::vec((0u8..8, any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let lines = corpus_lines();
        prop_assume!(!lines.is_empty());
        let mut l: Vec<u8> = lines[line.index(lines.len())].clone().into_bytes();
        let donor = lines[other.index(lines.len())].clone();
        let donor_toks: Vec<&str> = donor.split_whitespace().collect();
        for (op, at, byte) in ops {
            let pos = if l.is_empty() { 0 } else { at.index(l.len() + 1) };
            match op {
                0 => { if pos < l.len() { l.remove(pos); } }
                1 => l.insert(pos, byte),
                2 => l.insert(pos, *b" !-:,/\"'\\[]*#".get(byte as usize % 13).unwrap_or(&b' ')),
                3 => l.truncate(pos),
                4 => if pos < l.len() { l[pos] = byte },
                _ => {
                    // Token-level: replace, duplicate, drop or splice in a donor token.
                    let s = String::from_utf8_lossy(&l).into_owned();
                    let mut toks: Vec<String> = s.split(' ').map(str::to_string).collect();
                    let i = at.index(toks.len().max(1)).min(toks.len().saturating_sub(1));
                    let d = donor_toks.get(byte as usize % donor_toks.len().max(1)).copied().unwrap_or("!").to_string();
                    match op {
                        5 if !toks.is_empty() => toks[i] = d,
                        6 if !toks.is_empty() => { let t = toks[i].clone(); toks.insert(i, t) }
                        7 if !toks.is_empty() => { toks.remove(i); }
                        _ => toks.insert(i, d),
                    }
                    l = toks.join(" ").into_bytes();
                }
            }
        }
        let m = String::from_utf8_lossy(&l).into_owned();
        for fam in [Family::V4, Family::V6] {
            let _ = parse_restore(&format!("*filter\n{m}\nCOMMIT\n"), "m.rules", fam);
            let _ = parse_restore(&format!("*nat\n:PREROUTING ACCEPT [0:0]\n{m}\nCOMMIT\n"), "m.rules", fam);
            let _ = parse_restore(&m, "m.rules", fam);
        }
        let _ = parse_script(&m, "m.sh");
        let _ = parse_script(&format!("iptables {m}\nip6tables {m}"), "m.sh");
        // Whatever parses must also print (and printing must not panic).
        if let Ok(rs) = parse_restore(&format!("*filter\n{m}\nCOMMIT\n"), "m.rules", Family::V4) {
            let _ = save(&rs, &opts());
        }
    }
}

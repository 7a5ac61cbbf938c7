//! Kernel-differential proof of the ruleset language (issue 3, "Verified by").
//!
//! The corpus (tests/data/lang, described in its README.md) holds the seeds' rulesets,
//! thousands of generated rules (palisade_testkit::gen) and rejection cases, each with
//! the answer the kernel gave when it was loaded with iptables-restore / iptables and
//! dumped with iptables-save. Here Palisade must give the same answer:
//! - `recorded_*`: against the committed answers (no root needed);
//! - `live_*`: against the running kernel in throw-away namespaces (root only, else SKIP);
//! - `record` (ignored): re-records every answer, e.g. after adding corpus files:
//!   `cargo test -p palisade-rules --test oracle_lang -- --ignored record`.

use palisade_model::Family;
use palisade_rules::{parse_restore, parse_script, save, Diagnostic, SaveOptions};
use palisade_testkit::lang_oracle::{self, Answer, Case, Kind};

/// Corpus files Palisade does not match yet because the extension they exercise is
/// not implemented. Only unimplemented extensions belong here, never a mismatch in a
/// supported one. Each entry: (case name, why).
const PENDING: &[(&str, &str)] = &[];

fn pending(name: &str) -> Option<&'static str> {
    PENDING
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

fn opts() -> SaveOptions {
    SaveOptions {
        counters: false,
        header: None,
    }
}

/// Palisade's answer for a corpus input: the v4 and v6 saves, or its diagnostics.
fn palisade(case: &Case, src: &str) -> Result<(String, String), Vec<Diagnostic>> {
    let file = case.display();
    match case.kind {
        Kind::RestoreV4 => {
            parse_restore(src, &file, Family::V4).map(|rs| (save(&rs, &opts()), String::new()))
        }
        Kind::RestoreV6 => {
            parse_restore(src, &file, Family::V6).map(|rs| (String::new(), save(&rs, &opts())))
        }
        Kind::Script => {
            parse_script(src, &file).map(|(v4, v6)| (save(&v4, &opts()), save(&v6, &opts())))
        }
    }
}

/// Compares Palisade with a kernel answer; `None` when they agree.
fn compare(case: &Case, kernel: &Answer) -> Option<String> {
    let file = case.display();
    let src = match case.source() {
        Ok(s) => s,
        Err(e) => return Some(format!("{file}: cannot read: {e}")),
    };
    let ours = palisade(case, &src);
    match (kernel, ours) {
        (Answer::Accepted { v4, v6 }, Ok((p4, p6))) => {
            let mut msgs = Vec::new();
            if case.kind != Kind::RestoreV6 {
                msgs.extend(lang_oracle::first_diff(
                    &file,
                    "iptables-save (v4)",
                    v4,
                    &p4,
                ));
            }
            if case.kind != Kind::RestoreV4 {
                msgs.extend(lang_oracle::first_diff(
                    &file,
                    "ip6tables-save (v6)",
                    v6,
                    &p6,
                ));
            }
            (!msgs.is_empty()).then(|| msgs.join("\n"))
        }
        (Answer::Accepted { .. }, Err(diags)) => Some(format!(
            "{file}: the kernel accepts it but Palisade refuses it:\n  {}",
            diags
                .iter()
                .take(3)
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n  ")
        )),
        (Answer::Refused { message, line }, Ok(_)) => Some(format!(
            "{file}: the kernel refuses it (line {line:?}: {}) but Palisade accepts it",
            message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("warn") && !l.starts_with("Try `"))
                .collect::<Vec<_>>()
                .join(" / ")
        )),
        (Answer::Refused { .. }, Err(diags)) => {
            if diags.is_empty() {
                return Some(format!("{file}: refused without any diagnostic"));
            }
            let bad: Vec<String> = diags
                .iter()
                .filter(|d| d.line == 0 || d.col == 0 || d.file != file)
                .map(|d| d.to_string())
                .collect();
            (!bad.is_empty()).then(|| {
                format!(
                    "{file}: diagnostics lack file/line/column: {}",
                    bad.join("; ")
                )
            })
        }
    }
}

fn all_cases() -> Vec<Case> {
    let cases = lang_oracle::cases().expect("corpus directory readable");
    assert!(cases.len() > 50, "corpus missing: {} cases", cases.len());
    cases
}

/// Reports failures; pending files that fail are listed, not counted.
fn conclude(results: Vec<(Case, Option<String>)>) {
    let mut failures = Vec::new();
    let mut pending_listed = Vec::new();
    for (case, r) in results {
        match (r, pending(&case.name)) {
            (Some(msg), None) => failures.push(msg),
            (Some(_), Some(why)) => pending_listed.push(format!("{} ({why})", case.display())),
            (None, Some(_)) => eprintln!(
                "NOTE: {} now agrees with the kernel: remove it from PENDING",
                case.display()
            ),
            (None, None) => {}
        }
    }
    if !pending_listed.is_empty() {
        eprintln!(
            "PENDING (known, extension not implemented yet):\n  {}",
            pending_listed.join("\n  ")
        );
    }
    assert!(
        failures.is_empty(),
        "{} corpus file(s) disagree with the kernel:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn recorded_corpus_matches_kernel() {
    let cases: Vec<Case> = all_cases().into_iter().filter(|c| !c.reject).collect();
    let results = lang_oracle::par_map(&cases, 4, |c| match lang_oracle::recorded(c) {
        Ok(a) => compare(c, &a),
        Err(e) => Some(format!(
            "{}: no recorded answer ({e}); run the `record` test as root",
            c.display()
        )),
    });
    conclude(cases.into_iter().zip(results).collect());
}

#[test]
fn recorded_rejections_are_refused_with_positions() {
    let cases: Vec<Case> = all_cases().into_iter().filter(|c| c.reject).collect();
    assert!(cases.len() > 30, "only {} rejection cases", cases.len());
    let results: Vec<Option<String>> = cases
        .iter()
        .map(|c| match lang_oracle::recorded(c) {
            Ok(a) => compare(c, &a),
            Err(e) => Some(format!("{}: no recorded refusal ({e})", c.display())),
        })
        .collect();
    conclude(cases.into_iter().zip(results).collect());
}

/// Golden diagnostics: what Palisade says about each rejection case, next to the
/// kernel's refusal (`reject/NAME.rules.palisade`, `reject/NAME.sh.palisade`). Every diagnostic names file, line,
/// column and what was expected there. After a deliberate wording change, re-bless:
/// `PALISADE_BLESS=1 cargo test -p palisade-rules --test oracle_lang golden`.
#[test]
fn golden_rejection_diagnostics() {
    let bless = std::env::var_os("PALISADE_BLESS").is_some();
    let mut failures = Vec::new();
    for c in all_cases().into_iter().filter(|c| c.reject) {
        let Ok(src) = c.source() else { continue };
        let Err(diags) = palisade(&c, &src) else {
            failures.push(format!("{}: accepted", c.display()));
            continue;
        };
        for d in &diags {
            if d.expected.is_none() {
                failures.push(format!("{}: no `expected` in: {d}", c.display()));
            }
        }
        let text: String = diags.iter().map(|d| format!("{d}\n")).collect();
        let golden = std::path::PathBuf::from(format!("{}.palisade", c.path.display()));
        if bless {
            std::fs::write(&golden, &text).expect("write golden file");
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if want != text {
            failures.push(format!(
                "{}: diagnostics changed (re-bless with PALISADE_BLESS=1 if intended)\n  want: {}\n  got:  {}",
                c.display(),
                want.trim_end().replace('\n', "\n        "),
                text.trim_end().replace('\n', "\n        ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn generated_corpus_is_current() {
    let dir = lang_oracle::corpus_dir();
    for f in palisade_testkit::gen::corpus() {
        let on_disk = std::fs::read_to_string(dir.join(&f.name)).unwrap_or_default();
        assert!(
            on_disk == f.content,
            "{} differs from gen.rs output: re-run the `record` test as root (it regenerates)",
            f.name
        );
    }
}

#[test]
fn live_kernel_agrees() {
    palisade_testkit::require_root_with!(
        "iptables-restore",
        "ip6tables-restore",
        "iptables-save",
        "ip6tables-save",
        "ip"
    );
    let cases = all_cases();
    let results = lang_oracle::par_map(&cases, 4, |c| match lang_oracle::ask_kernel(c) {
        Ok(live) => {
            let mut msg = compare(c, &live);
            // Drift: the kernel (or iptables) now answers differently from the recording.
            let drift = match (lang_oracle::recorded(c), &live) {
                (Ok(Answer::Accepted { v4, v6 }), Answer::Accepted { v4: l4, v6: l6 }) => {
                    lang_oracle::first_diff(&c.display(), "recorded vs live v4", &v4, l4).or_else(
                        || lang_oracle::first_diff(&c.display(), "recorded vs live v6", &v6, l6),
                    )
                }
                (Ok(Answer::Refused { .. }), Answer::Refused { .. }) => None,
                (Ok(_), _) => Some(format!(
                    "{}: live kernel answer differs in kind from the recording",
                    c.display()
                )),
                (Err(e), _) => Some(format!("{}: no recording: {e}", c.display())),
            };
            if let Some(d) = drift {
                msg = Some(match msg {
                    Some(m) => format!("{m}\n(also drift) {d}"),
                    None => format!("drift (re-record?): {d}"),
                });
            }
            msg
        }
        Err(e) => Some(format!("{}: could not ask the kernel: {e}", c.display())),
    });
    conclude(cases.into_iter().zip(results).collect());
}

/// Regenerates gen-* inputs and re-records every kernel answer (root only).
#[test]
#[ignore = "re-records the corpus: run as root with --ignored record"]
fn record() {
    palisade_testkit::require_root_with!(
        "iptables-restore",
        "ip6tables-restore",
        "iptables-save",
        "ip6tables-save",
        "ip"
    );
    lang_oracle::write_generated().expect("write generated corpus");
    let cases = all_cases();
    let results = lang_oracle::par_map(&cases, 4, lang_oracle::record);
    let errors: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    assert!(
        errors.is_empty(),
        "could not record:\n{}",
        errors.join("\n")
    );
}

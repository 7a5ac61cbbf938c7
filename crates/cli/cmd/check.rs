//! `palisade check`: parse every input, report every error, exit 1 if any.

use palisade_rules::Diagnostic;

use crate::input::{self, FamilyArg};
use crate::{EXIT_ERRORS, EXIT_OK};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable lines `file:line:col: error: …`.
    Text,
    /// One JSON document for tools.
    Json,
}

/// `check` flags.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Ruleset files (iptables-save format or iptables command scripts), `-` for
    /// stdin, or a profile name (workstation, server, nat-gateway).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Address family: detected from the content by default.
    #[arg(long, short = 'f', value_enum, default_value = "auto")]
    pub family: FamilyArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Runs `check`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut reports = Vec::new();
    for arg in &args.files {
        let src = input::read_source(arg)?;
        let report = match input::parse(&src, args.family) {
            Ok(loaded) => Report {
                name: loaded.name,
                rules_v4: loaded.v4.as_ref().map(count_rules),
                rules_v6: loaded.v6.as_ref().map(count_rules),
                errors: Vec::new(),
            },
            Err(errors) => Report {
                name: arg.clone(),
                rules_v4: None,
                rules_v6: None,
                errors,
            },
        };
        reports.push(report);
    }
    let failed = reports.iter().any(|r| !r.errors.is_empty());
    match args.format {
        Format::Text => {
            for r in &reports {
                if r.errors.is_empty() {
                    let mut parts = Vec::new();
                    if let Some(n) = r.rules_v4 {
                        parts.push(format!("{n} IPv4 rules"));
                    }
                    if let Some(n) = r.rules_v6 {
                        parts.push(format!("{n} IPv6 rules"));
                    }
                    println!("{}: ok ({})", r.name, parts.join(", "));
                } else {
                    for e in &r.errors {
                        eprintln!("{e}");
                    }
                    eprintln!("{}: {} error(s)", r.name, r.errors.len());
                }
            }
        }
        Format::Json => {
            let doc = serde_json::json!({
                "ok": !failed,
                "files": reports.iter().map(|r| serde_json::json!({
                    "file": r.name,
                    "ok": r.errors.is_empty(),
                    "rules_v4": r.rules_v4,
                    "rules_v6": r.rules_v6,
                    "errors": r.errors.iter().map(|e| serde_json::json!({
                        "file": e.file,
                        "line": e.line,
                        "column": e.col,
                        "word": e.word,
                        "message": e.message,
                        "expected": e.expected,
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(if failed { EXIT_ERRORS } else { EXIT_OK })
}

struct Report {
    name: String,
    rules_v4: Option<usize>,
    rules_v6: Option<usize>,
    errors: Vec<Diagnostic>,
}

fn count_rules(rs: &palisade_model::Ruleset) -> usize {
    rs.tables
        .iter()
        .flat_map(|t| &t.chains)
        .map(|c| c.rules.len())
        .sum()
}

//! The `palisade` command line: a thin layer over the library crates
//! (parse flags → run one subcommand → exit code), as ripgrep's binary is.

mod cmd;
mod input;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the ruleset (or capture) has errors; diagnostics were printed.
pub const EXIT_ERRORS: u8 = 1;
/// Exit code: usage or I/O problem (bad flags, unreadable file).
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "palisade",
    version,
    about = "A stateful firewall that speaks netfilter's language",
    long_about = "Palisade reads iptables-save files and iptables command scripts with the \
meaning the Linux kernel gives them.\n\nWherever a ruleset file is expected, the name of a \
built-in profile may be given instead: workstation, server, nat-gateway.\n\nExit codes: 0 \
success, 1 errors found in the input, 2 usage or I/O error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate rulesets: report every error with file, line and column.
    Check(cmd::check::Args),
    /// Print a ruleset exactly as iptables-save / ip6tables-save would.
    #[command(alias = "save")]
    Fmt(cmd::fmt::Args),
    /// Run a capture through the engine and print the counters the kernel would print.
    Replay(cmd::replay::Args),
    /// List the built-in profiles.
    Profiles,
    /// Enforce a ruleset on this host (NFQUEUE); the workstation policy by default.
    Run(cmd::run::Args),
    /// Make the running daemon re-read its ruleset files.
    Reload(cmd::reload::Args),
    /// Show the running daemon's counters, connections and queue statistics.
    Status(cmd::status::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Check(a) => cmd::check::run(a),
        Command::Fmt(a) => cmd::fmt::run(a),
        Command::Replay(a) => cmd::replay::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Reload(a) => cmd::reload::run(a),
        Command::Status(a) => cmd::status::run(a),
        Command::Profiles => {
            for name in palisade_rules::profiles::NAMES {
                println!("{name}");
            }
            Ok(EXIT_OK)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("palisade: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

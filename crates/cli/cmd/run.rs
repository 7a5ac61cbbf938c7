//! `palisade run`: enforce a ruleset on this host through NFQUEUE (see
//! `palisade_datapath::daemon` for the design). Without a ruleset, the
//! built-in workstation policy (IPv4 and IPv6) is enforced.

use std::path::PathBuf;

use anyhow::Context;
use palisade_datapath::{control, daemon};
use palisade_model::{Family, Ruleset};

use crate::input::{self, FamilyArg};
use crate::EXIT_ERRORS;

/// `run` flags.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// IPv4 ruleset (iptables-save file, command script, or profile name; a
    /// profile or a script with ip6tables lines supplies the IPv6 rules too).
    /// Default: the built-in workstation profile.
    #[arg(value_name = "RULES")]
    pub rules: Option<String>,
    /// IPv6 ruleset.
    #[arg(long, value_name = "RULES.v6")]
    pub rules6: Option<String>,
    /// First NFQUEUE queue number.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub queue: u16,
    /// Workers, one NFQUEUE queue each (default: one per core).
    #[arg(long, value_name = "K")]
    pub workers: Option<u16>,
    /// Let traffic through while Palisade is not answering (NFQUEUE bypass).
    /// Default: fail-closed, queued traffic is dropped.
    #[arg(long)]
    pub fail_open: bool,
    /// Control socket (mode 0600) for `palisade status` and `palisade reload`.
    #[arg(long, value_name = "PATH", default_value = control::DEFAULT_PATH)]
    pub control: PathBuf,
    /// Global limit on LOG target lines written to the log, per second.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub log_rate: u32,
}

/// Loads the rulesets named on the command line; `Err(text)` carries every
/// diagnostic.
fn load(rules: Option<&str>, rules6: Option<&str>) -> Result<(Ruleset, Ruleset), String> {
    let mut v4 = Ruleset::new(Family::V4);
    let mut v6 = Ruleset::new(Family::V6);
    let specs: Vec<(&str, FamilyArg)> = match (rules, rules6) {
        (None, None) => vec![("workstation", FamilyArg::Auto)],
        (a, b) => a
            .into_iter()
            .map(|s| (s, FamilyArg::Auto))
            .chain(b.map(|s| (s, FamilyArg::V6)))
            .collect(),
    };
    let mut errors = String::new();
    for (spec, fam) in specs {
        let src = match input::read_source(spec) {
            Ok(s) => s,
            Err(e) => {
                errors.push_str(&format!("{e:#}\n"));
                continue;
            }
        };
        match input::parse(&src, fam) {
            Ok(l) => {
                if let Some(r) = l.v4 {
                    v4 = r;
                }
                if let Some(r) = l.v6 {
                    v6 = r;
                }
            }
            Err(errs) => {
                for e in errs {
                    errors.push_str(&format!("{e}\n"));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok((v4, v6))
    } else {
        Err(errors)
    }
}

/// Runs the daemon until SIGTERM/SIGINT.
pub fn run(args: Args) -> anyhow::Result<u8> {
    init_logs();
    let (v4, v6) = match load(args.rules.as_deref(), args.rules6.as_deref()) {
        Ok(r) => r,
        Err(text) => {
            eprint!("{text}");
            return Ok(EXIT_ERRORS);
        }
    };
    let mut opts = daemon::Options {
        queue: args.queue,
        fail_open: args.fail_open,
        control: args.control.clone(),
        log_rate: args.log_rate,
        ..Default::default()
    };
    if let Some(k) = args.workers {
        opts.workers = k.max(1);
    }
    let (r4, r6) = (args.rules.clone(), args.rules6.clone());
    let loader: daemon::Loader = Box::new(move || load(r4.as_deref(), r6.as_deref()));
    let lister: daemon::Lister = Box::new(super::status::listing);
    daemon::run(&opts, &v4, &v6, loader, lister).context("palisade run")?;
    Ok(crate::EXIT_OK)
}

fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PALISADE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_workstation_policy_for_both_families() {
        let (v4, v6) = load(None, None).unwrap();
        assert!(!v4.tables.is_empty());
        assert!(!v6.tables.is_empty());
        assert!(load(Some("/nonexistent/rules.v4"), None).is_err());
    }
}

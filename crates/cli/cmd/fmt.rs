//! `palisade fmt` (alias `save`): print the canonical iptables-save form.

use palisade_rules::SaveOptions;

use crate::input::{self, FamilyArg};
use crate::{EXIT_ERRORS, EXIT_OK};

/// `fmt` flags.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Ruleset file, `-` for stdin, or a profile name.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Address family: detected from the content by default. With both families
    /// present, IPv4 is printed first, then IPv6, as `iptables-save; ip6tables-save`.
    #[arg(long, short = 'f', value_enum, default_value = "auto")]
    pub family: FamilyArg,
    /// Print counters as `[packets:bytes]` before each rule (`iptables-save -c`).
    #[arg(long, short = 'c')]
    pub counters: bool,
}

/// Runs `fmt`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let src = input::read_source(&args.file)?;
    let loaded = match input::parse(&src, args.family) {
        Ok(l) => l,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            return Ok(EXIT_ERRORS);
        }
    };
    let opts = SaveOptions {
        counters: args.counters,
        header: None,
    };
    for rs in [loaded.v4.as_ref(), loaded.v6.as_ref()]
        .into_iter()
        .flatten()
    {
        print!("{}", palisade_rules::save(rs, &opts));
    }
    Ok(EXIT_OK)
}

//! `palisade reload`: asks the running daemon to re-read its ruleset files
//! (as SIGHUP does). A ruleset with errors is refused, its diagnostics are
//! printed, and the running ruleset stays; connections survive a reload.

use std::path::PathBuf;

use palisade_datapath::control::{self, Request};

use crate::{EXIT_ERRORS, EXIT_OK};

/// `reload` flags.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH", default_value = control::DEFAULT_PATH)]
    pub control: PathBuf,
}

/// Runs `reload`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let a = control::request(&args.control, Request::Reload)?;
    if a.ok {
        print!("{}", a.text);
        Ok(EXIT_OK)
    } else {
        eprint!("{}", a.text);
        eprintln!("palisade: reload refused; the running ruleset stays");
        Ok(EXIT_ERRORS)
    }
}

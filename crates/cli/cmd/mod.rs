//! One module per subcommand.

pub mod check;
pub mod fmt;
pub mod reload;
pub mod replay;
pub mod run;
pub mod status;

//! Test support for Palisade (dev-only): throw-away network namespaces, root
//! checks that print `SKIP:` instead of passing silently, and the oracle harnesses.

pub mod gen;
pub mod lang_oracle;
pub mod netns;
pub mod replay_case;
pub mod topo;

pub use netns::{have_cmd, is_root, skip_reason, Netns};

/// Returns early from a test, printing `SKIP: <reason>`, unless running as root
/// with every listed command available.
#[macro_export]
macro_rules! require_root_with {
    ($($cmd:expr),* $(,)?) => {
        if let Some(reason) = $crate::skip_reason(&[$($cmd),*]) {
            eprintln!("SKIP: {reason}");
            println!("SKIP: {reason}");
            return;
        }
    };
}

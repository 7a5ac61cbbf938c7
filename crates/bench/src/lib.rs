//! palisade-bench: the `cargo bench` suite for issue 4's performance targets.
//! The benchmarks live in `benches/`; this library is empty.
//!
//! ```sh
//! cargo bench -p palisade-bench                       # full run
//! cargo bench -p palisade-bench -- --warm-up-time 1 --measurement-time 2
//! ```

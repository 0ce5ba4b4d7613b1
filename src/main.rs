//! The `clusterdeck` binary: parse arguments, install error reporting, run.

use std::process::ExitCode;

// Cargo.toml says why: glibc's malloc and free were about half of a fleet's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Without a report handler, errors would lose their context chain.
    if let Err(e) = color_eyre::install() {
        eprintln!("clusterdeck: cannot install error reporting: {e}");
    }
    clusterdeck::run::run(clusterdeck::cli::parse())
}

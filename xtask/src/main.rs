//! `cargo xtask`: sesskey's developer tasks.
//!
//! - `cargo xtask fixtures [--check]`: write (or check) `fixtures/golden/`.
//! - `cargo xtask integration`: the cross-crate suites of the `sesskey-tests` package, then
//!   `sesskey demo`.
//! - `cargo xtask bench`: every benchmark and load generator.
//! - `cargo xtask contracts`: compile `fixtures/contracts/*.sol` with npm's solc into JSON.
//! - `cargo xtask fuzz [--secs N] [--runs N] [TARGET…]`: the fuzz targets of `fuzz/`, seeded
//!   from `fixtures/`.
//! - `cargo xtask clients`: Alchemy's official TypeScript client against `sesskey serve` (needs
//!   Node.js and npm; not part of `ci`).
//! - `cargo xtask ci`: everything CI runs, in order.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod ci;
mod clients;
mod contracts;
mod emulator_fixtures;
mod fixtures;
mod fuzz;
mod postgres;
mod signing_fixtures;

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

const USAGE: &str =
    "usage: cargo xtask <fixtures [--check] | contracts | clients | integration | bench | fuzz [--secs N] [--runs N] [TARGET…] | ci>";

fn main() -> Result<()> {
    let root = repo_root();
    std::env::set_current_dir(&root)?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["fixtures"] => fixtures::generate(&root, fixtures::Mode::Write),
        ["fixtures", "--check"] => fixtures::generate(&root, fixtures::Mode::Check),
        ["contracts"] => contracts::compile(&root),
        ["clients"] => clients::run(&root),
        ["integration"] => ci::integration(),
        ["bench"] => ci::bench(),
        ["ci"] => ci::run(&root),
        ["fuzz", rest @ ..] => fuzz::run(&root, rest),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}

/// The repository root: the parent of this package's folder.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repo root")
        .to_path_buf()
}

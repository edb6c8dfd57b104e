//! The `sesskey` binary: parses arguments and calls the library.
#![allow(clippy::print_stderr)]

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = sesskey_cli::Cli::parse();
    let (message, code) = sesskey_cli::run(&cli);
    eprintln!("{message}");
    ExitCode::from(code)
}

//! The `sesskey` binary: parses arguments, sets up logging, calls the library.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    sesskey_cli::init_logging();
    let cli = sesskey_cli::Cli::parse();
    match sesskey_cli::run(cli).await {
        Ok(code) => ExitCode::from(code),
        // The reader of our output went away (`| head`): nothing more to say.
        Err(e) if sesskey_cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Error messages carry text a server or a contract chose: made terminal-safe.
            eprintln!("error: {}", sesskey_cli::terminal_safe(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

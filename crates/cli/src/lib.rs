#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use clap::{Parser, Subcommand};

/// `sesskey`: session keys for smart wallets.
#[derive(Debug, Parser)]
#[command(name = "sesskey", version, about = "Session keys for smart wallets (Alchemy Wallet API)")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole session-key flow against an in-process emulator (not built yet).
    Demo,
    /// Run the local Wallet API emulator (not built yet).
    Serve,
}

/// The exit code of a command that is not built yet.
pub const NOT_BUILT_EXIT: u8 = 2;

/// Runs a parsed command; answers the message to print and the exit code.
pub fn run(cli: &Cli) -> (String, u8) {
    let what = match cli.command {
        Command::Demo => "sesskey demo",
        Command::Serve => "sesskey serve",
    };
    (
        format!(
            "{what}: not built yet. This release has the wire types only (sesskey-types); \
             the emulator and the session flow are still to come."
        ),
        NOT_BUILT_EXIT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbuilt_commands_say_so_and_fail() {
        for args in [["sesskey", "demo"], ["sesskey", "serve"]] {
            let cli = Cli::parse_from(args);
            let (message, code) = run(&cli);
            assert!(message.contains("not built yet"), "{message}");
            assert_ne!(code, 0);
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![allow(clippy::print_stdout)]

mod demo;
mod serve;

use clap::{Parser, Subcommand};
pub use demo::DemoArgs;
pub use serve::{parse_chain_id, ServeArgs};

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
    /// Run the whole session-key flow: delegation, session, authorization, prepare, sign, send,
    /// status (against an in-process emulator unless `--rpc-url` or `ALCHEMY_API_KEY` is set).
    Demo(DemoArgs),
    /// Run the local Wallet API emulator.
    Serve(ServeArgs),
}

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Runs a parsed command; answers the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Demo(args) => {
            let confirmed = demo::demo(args).await?;
            if confirmed {
                println!("\nThe session's call is confirmed.");
                Ok(0)
            } else {
                println!("\nThe session's call did not confirm.");
                Ok(1)
            }
        }
        Command::Serve(args) => serve::serve(args).await.map(|()| 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_demo_runs_against_the_in_process_emulator() {
        let cli = Cli::parse_from(["sesskey", "demo", "--timeout-secs", "10"]);
        assert_eq!(run(cli).await.unwrap(), 0);
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_flags_parse() {
        let cli = Cli::parse_from([
            "sesskey",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--chain-id",
            "84532",
            "--chain-id",
            "0x66eee",
            "--policy-id",
            "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60",
            "--deterministic",
            "--settle-after-ms",
            "250",
        ]);
        let Command::Serve(args) = cli.command else { panic!() };
        assert_eq!(args.chain_ids, vec![84532, 0x66eee]);
        assert_eq!(args.settle_after_ms, 250);
        assert!(args.deterministic);
        assert!(Cli::try_parse_from(["sesskey", "serve", "--chain-id", "0xzz"]).is_err());
    }
}

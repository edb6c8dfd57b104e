#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![allow(clippy::print_stdout)]

mod demo;
mod serve;

use clap::{Parser, Subcommand};
pub use demo::{DemoArgs, DemoEnv};
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

/// Runs a parsed command with the process environment; answers the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    run_with(cli, DemoEnv::from_process()).await
}

/// Runs a parsed command with `env` for `demo`; answers the process exit code.
pub async fn run_with(cli: Cli, env: DemoEnv) -> anyhow::Result<u8> {
    match cli.command {
        Command::Demo(args) => {
            let confirmed = demo::demo(args, env).await?;
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
        assert_eq!(run_with(cli, DemoEnv::default()).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn the_demo_runs_against_an_endpoint_with_keys_from_the_environment() {
        use sesskey_emulator::{serve, Config, Emulator};
        let policy = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60".to_string();
        let config = Config { policy_ids: vec![policy.clone()], ..Config::default() };
        let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let key = || {
            alloy_primitives::hex::encode(alloy_signer_local::PrivateKeySigner::random().to_bytes())
        };
        let env = DemoEnv::from_pairs([
            ("CHAIN_ID", "31337".to_string()),
            ("POLICY_ID", policy),
            ("OWNER_PRIVATE_KEY", key()),
            ("SESSION_PRIVATE_KEY", key()),
        ]);
        let url = format!("{}/v2/some-key", server.url());
        let cli =
            Cli::parse_from(["sesskey", "demo", "--rpc-url", url.as_str(), "--timeout-secs", "10"]);
        assert_eq!(run_with(cli, env).await.unwrap(), 0);
        // Without the keys: a clear error, no flag fallback.
        let cli = Cli::parse_from(["sesskey", "demo", "--rpc-url", url.as_str()]);
        let env = DemoEnv::from_pairs([("CHAIN_ID", "0x7a69".to_string())]);
        let e = run_with(cli, env).await.unwrap_err();
        assert_eq!(e.to_string(), "set OWNER_PRIVATE_KEY (keys are never taken from flags)");
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

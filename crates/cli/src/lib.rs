#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![allow(clippy::print_stdout)]

#[macro_use]
mod out;
mod accounts;

pub mod calls;
mod demo;
mod explain;
mod mcp;
mod progress;
mod serve;
mod sessions;

use clap::{Parser, Subcommand};
pub use demo::{DemoArgs, Env};
pub use explain::explain_value;
pub use mcp::{CallInput, McpArgs, McpServer};
pub use out::{is_broken_pipe, terminal_safe};
pub use serve::{dev_accounts, parse_chain_id, ServeArgs, ANVIL_MNEMONIC};
pub use sessions::{
    parse_duration, parse_session_id, CreateArgs, DelegateArgs, OwnerArgs, RevokeArgs, SendArgs,
    SessionCommand, SigningArgs, StatusArgs, StoreArgs,
};

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
    /// Delegate the owner's EIP-7702 account (`--owner-keystore`, `--owner-key-file` or
    /// `OWNER_PRIVATE_KEY`), if it is not yet.
    Delegate(DelegateArgs),
    /// The owner's account: `account request` asks the Wallet API for it (an SMA-B account, or
    /// with `--type 7702` the owner's own).
    Account {
        /// What to do.
        #[command(subcommand)]
        command: accounts::AccountCommand,
    },
    /// Create, list, show and remove saved sessions.
    Session {
        /// What to do.
        #[command(subcommand)]
        command: SessionCommand,
        /// Where sessions are kept, and output format.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Serve a saved session's tools to an agent over the Model Context Protocol (stdio, or
    /// streamable HTTP on loopback with `--http`): the agent acts through the session, within
    /// its permissions and your limits, and never holds its key.
    Mcp {
        /// The session and the limits.
        #[command(flatten)]
        args: Box<McpArgs>,
        /// Where sessions are kept.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Send a call through a saved session (pre-flighted, verified, signed by its key).
    Send {
        /// The call.
        #[command(flatten)]
        args: SendArgs,
        /// Where sessions are kept, and output format.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Decode a prepareCalls or createSession answer, recompute its digests and say whether
    /// `rawPayload` matches (exit 1 if not).
    ///
    /// With `--sig`, decode call data instead: `sesskey explain --sig 'transfer(address,uint256)'
    /// 0xa9059cbb…` prints the arguments.
    Explain {
        /// A file, or `-` for standard input (with `--sig`: the call data itself, or a file or
        /// `-` holding it).
        source: String,
        /// A function signature to decode `source` as call data with.
        #[arg(long)]
        sig: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The status of a call id.
    Status {
        /// The call.
        #[command(flatten)]
        args: StatusArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`).
///
/// Whatever `RUST_LOG` says, the JSON-RPC library logs at `info` at most: at `debug` and `trace`
/// it prints whole request and answer bodies, which hold signatures.
pub fn init_logging() {
    // Signatures never reach the log, whoever logs them.
    let writer = sesskey_rpc::redact::Redacting::new(std::io::stderr);
    tracing_subscriber::fmt().with_env_filter(log_filter()).with_writer(writer).init();
}

/// `RUST_LOG` (default `warn`) with the JSON-RPC library's body dumps cut off.
fn log_filter() -> tracing_subscriber::EnvFilter {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // A target directive is a prefix: this covers `jsonrpsee-server`, `jsonrpsee-http`, ….
    filter.add_directive("jsonrpsee=info".parse().expect("a valid directive"))
}

/// The `sesskey` binary, whole: logging, the arguments, the command on a Tokio runtime, the
/// exit code. (Here rather than in `main.rs`, so that the command's code is compiled once, in
/// this crate: a `block_on` in the binary crate had it compiled there again, a minute of a
/// cold release build.)
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    init_logging();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => std::process::ExitCode::from(code),
        // The reader of our output went away (`| head`): nothing more to say.
        Err(e) if is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Error messages carry text a server or a contract chose: made terminal-safe.
            eprintln!("error: {}", terminal_safe(&format!("{e:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command with the process environment; answers the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    run_with(cli, Env::from_process()).await
}

/// Runs a parsed command with `env` for `demo`; answers the process exit code.
pub async fn run_with(cli: Cli, env: Env) -> anyhow::Result<u8> {
    match cli.command {
        Command::Demo(args) => {
            let json = args.json;
            let confirmed = demo::demo(args, env).await?;
            if json {
                Ok(if confirmed { 0 } else { 1 })
            } else if confirmed {
                outln!("\nThe session's call is confirmed.")?;
                Ok(0)
            } else {
                outln!("\nThe session's call did not confirm.")?;
                Ok(1)
            }
        }
        Command::Serve(args) => serve::serve(args).await.map(|()| 0),
        Command::Delegate(args) => sessions::delegate(args, env).await,
        Command::Account { command } => accounts::account(command, env).await.map(|()| 0),
        Command::Session { command, store } => {
            sessions::session(command, store, env).await.map(|()| 0)
        }
        Command::Send { args, store } => sessions::send(args, store, env).await,
        Command::Mcp { args, store } => mcp::mcp(*args, store, env).await,
        Command::Status { args, json } => sessions::status(args, json, env).await,
        Command::Explain { source, sig: Some(sig), json } => {
            explain::explain_call_data(&source, &sig, json)
        }
        Command::Explain { source, sig: None, json } => explain::explain(&source, json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy id the test emulators sponsor.
    const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";

    #[tokio::test]
    async fn the_demo_runs_against_the_in_process_emulator() {
        let cli = Cli::parse_from(["sesskey", "demo", "--timeout-secs", "10"]);
        assert_eq!(run_with(cli, Env::default()).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn the_demo_runs_against_an_endpoint_with_keys_from_the_environment() {
        use sesskey_emulator::{serve, Config, Emulator};
        let policy = POLICY.to_string();
        let config = Config { policy_ids: vec![policy.clone()], ..Config::default() };
        let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let key = || {
            alloy_primitives::hex::encode(alloy_signer_local::PrivateKeySigner::random().to_bytes())
        };
        let env = Env::from_pairs([
            ("CHAIN_ID", "31337".to_string()),
            ("POLICY_ID", policy),
            ("OWNER_PRIVATE_KEY", key()),
            ("SESSION_PRIVATE_KEY", key()),
        ]);
        let url = format!("{}/v2/some-key", server.url());
        let cli =
            Cli::parse_from(["sesskey", "demo", "--rpc-url", url.as_str(), "--timeout-secs", "10"]);
        assert_eq!(run_with(cli, env).await.unwrap(), 0);
        // Without the keys: a clear error naming both, no flag fallback.
        let cli = Cli::parse_from(["sesskey", "demo", "--rpc-url", url.as_str()]);
        let env = Env::from_pairs([("CHAIN_ID", "0x7a69".to_string())]);
        let e = run_with(cli, env).await.unwrap_err();
        assert!(e.to_string().starts_with("set OWNER_PRIVATE_KEY, SESSION_PRIVATE_KEY ("), "{e}");
    }

    /// The sessions in a folder's SQLite store.
    async fn sessions_in(dir: &std::path::Path) -> Vec<sesskey_session::StoredSession> {
        use sesskey_session::SessionStore;
        let store = sesskey_session::SqlStore::sqlite(&dir.join("sessions.db")).await.unwrap();
        store.list().await.unwrap()
    }

    /// A fresh session folder for a test: its path, and the path as the `--store` flag takes it.
    /// (Not made yet; removed with its contents when the first item, the folder it is in, is
    /// dropped, a failed test's too.)
    fn temp_store(tag: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
        let tmp = tempfile::Builder::new().prefix(&format!("sesskey-{tag}-")).tempdir().unwrap();
        let dir = tmp.path().join("sessions");
        let store = dir.to_str().unwrap().to_string();
        (tmp, dir, store)
    }

    /// A loopback emulator sponsoring [`POLICY`] and a fresh owner already delegated on it (the
    /// demo's orchestrator does that step).
    async fn emulator_with_delegated_owner(
    ) -> (sesskey_emulator::Running, String, alloy_signer_local::PrivateKeySigner, String) {
        use sesskey_emulator::{serve, Config, Emulator};
        let policy = POLICY.to_string();
        let config = Config { policy_ids: vec![policy.clone()], ..Config::default() };
        let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = server.url();
        let owner = alloy_signer_local::PrivateKeySigner::random();
        let flow = sesskey_session::Orchestrator::new(
            sesskey_rpc::WalletClient::new(&url).unwrap(),
            Some(policy.clone()),
        );
        flow.ensure_delegated(&owner, 31337, std::time::Duration::from_secs(5)).await.unwrap();
        (server, url, owner, policy)
    }

    /// The saved-session commands, end to end against a loopback emulator.
    #[tokio::test]
    async fn session_create_list_send_status_remove() {
        let (server, url, owner, policy) = emulator_with_delegated_owner().await;
        let chain = alloy_primitives::U64::from(31337);
        server
            .emulator
            .set_balance(chain, owner.address(), alloy_primitives::U256::from(10_000))
            .unwrap();
        let (_tmp, dir, store) = temp_store("cli");
        let env = Env::from_pairs([
            ("OWNER_PRIVATE_KEY", alloy_primitives::hex::encode(owner.to_bytes())),
            ("SESSKEY_PASSWORD", "correct horse".to_string()),
        ]);
        let shop = "0x5151515151515151515151515151515151515151";
        let cli = Cli::parse_from([
            "sesskey",
            "session",
            "create",
            "--rpc-url",
            url.as_str(),
            "--chain-id",
            "31337",
            "--policy-id",
            policy.as_str(),
            "--native",
            "1000",
            "--contract",
            shop,
            "--expires-in",
            "1h",
            "--store",
            store.as_str(),
        ]);
        assert_eq!(run_with(cli, env.clone()).await.unwrap(), 0);
        let sessions = sessions_in(&dir).await;
        assert_eq!(sessions.len(), 1);
        let id = sessions[0].session.session_id.to_string();
        assert!(dir.join(format!("{id}.keystore")).exists(), "the key is in an encrypted keystore");
        let send = |value: &str| {
            Cli::parse_from([
                "sesskey",
                "send",
                "--session",
                id.as_str(),
                "--rpc-url",
                url.as_str(),
                "--policy-id",
                policy.as_str(),
                "--to",
                shop,
                "--value",
                value,
                "--wait",
                "--store",
                store.as_str(),
            ])
        };
        assert_eq!(run_with(send("600"), env.clone()).await.unwrap(), 0);
        let record = sessions_in(&dir).await.remove(0);
        assert_eq!(record.spent_native, alloy_primitives::U256::from(600));
        // Over the allowance: refused before any request.
        let e = run_with(send("600"), env.clone()).await.unwrap_err();
        assert!(e.to_string().starts_with("pre-flight: calls[0] sends"), "{e}");
        // A wrong password cannot unlock the key.
        let wrong = Env::from_pairs([("SESSKEY_PASSWORD", "nope".to_string())]);
        assert!(run_with(send("1"), wrong)
            .await
            .unwrap_err()
            .to_string()
            .contains("cannot unlock"));
        // Revoked on chain by the owner: the store and the account refuse the key from now on.
        let revoke = Cli::parse_from([
            "sesskey",
            "session",
            "revoke",
            id.as_str(),
            "--rpc-url",
            url.as_str(),
            "--policy-id",
            policy.as_str(),
            "--store",
            store.as_str(),
        ]);
        assert_eq!(run_with(revoke, env.clone()).await.unwrap(), 0);
        assert!(sessions_in(&dir).await[0].revoked);
        let e = run_with(send("1"), env.clone()).await.unwrap_err();
        assert!(e.to_string().contains("revoked"), "{e}");
        let cli = Cli::parse_from([
            "sesskey",
            "session",
            "remove",
            id.as_str(),
            "--store",
            store.as_str(),
        ]);
        assert_eq!(run_with(cli, env).await.unwrap(), 0);
        assert!(sessions_in(&dir).await.is_empty(), "the session is removed");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".keystore") || n.ends_with(".key"))
            .collect();
        assert!(left.is_empty(), "key files removed: {left:?}");
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert!(parse_duration("2w").is_err());
    }

    /// `sesskey send` as cast takes calls: a deployed Counter bumped through a session with a
    /// signature and arguments, then two calls in one operation (`--call`), then a calls file;
    /// `explain --sig` reads the call data back.
    #[tokio::test]
    async fn send_takes_signatures_and_arguments() {
        use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
        use alloy_eips::Encodable2718;
        use alloy_primitives::{Address, Bytes, U256, U64};
        use alloy_signer::SignerSync;
        use jsonrpsee::core::client::ClientT;
        use jsonrpsee::rpc_params;
        let (server, url, owner, policy) = emulator_with_delegated_owner().await;
        // Deploy fixtures/contracts/Counter.sol with a plain transaction.
        let deployer = alloy_signer_local::PrivateKeySigner::random();
        server
            .emulator
            .set_balance(U64::from(31337), deployer.address(), U256::from(10u64.pow(18)))
            .unwrap();
        let artifact: serde_json::Value =
            serde_json::from_str(include_str!("../../../fixtures/contracts/Counter.json")).unwrap();
        let code: Bytes = artifact["bytecode"].as_str().unwrap().parse().unwrap();
        let tx = TxEip1559 {
            chain_id: 31337,
            gas_limit: 1_000_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1,
            to: alloy_primitives::TxKind::Create,
            input: code,
            ..Default::default()
        };
        let sig = deployer.sign_hash_sync(&tx.signature_hash()).unwrap();
        let raw = Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718());
        let rpc = jsonrpsee::http_client::HttpClient::builder().build(&url).unwrap();
        let hash: alloy_primitives::B256 =
            rpc.request("eth_sendRawTransaction", rpc_params![raw]).await.unwrap();
        let receipt: serde_json::Value =
            rpc.request("eth_getTransactionReceipt", rpc_params![hash]).await.unwrap();
        let counter: Address = receipt["contractAddress"].as_str().unwrap().parse().unwrap();
        let value = || async {
            let call = serde_json::json!({"to": counter, "data": "0x3fa4f245"}); // value()
            let out: Bytes = rpc.request("eth_call", rpc_params![call, "latest"]).await.unwrap();
            U256::from_be_slice(&out)
        };

        let (_tmp, dir, store) = temp_store("cast");
        let env = Env::from_pairs([
            ("OWNER_PRIVATE_KEY", alloy_primitives::hex::encode(owner.to_bytes())),
            ("SESSKEY_PASSWORD", "correct horse".to_string()),
        ]);
        // The owner is delegated already: `delegate --json` says so and succeeds.
        let cli = Cli::parse_from([
            "sesskey",
            "delegate",
            "--rpc-url",
            &url,
            "--chain-id",
            "31337",
            "--json",
        ]);
        assert_eq!(run_with(cli, env.clone()).await.unwrap(), 0);
        let counter_s = counter.to_string();
        let cli = Cli::parse_from([
            "sesskey",
            "session",
            "create",
            "--rpc-url",
            &url,
            "--chain-id",
            "31337",
            "--policy-id",
            &policy,
            "--contract",
            &counter_s,
            "--store",
            &store,
        ]);
        assert_eq!(run_with(cli, env.clone()).await.unwrap(), 0);
        let id = sessions_in(&dir).await[0].session.session_id.to_string();
        let send = |rest: &[&str]| {
            let mut argv = vec![
                "sesskey",
                "send",
                "--session",
                &id,
                "--rpc-url",
                &url,
                "--policy-id",
                &policy,
                "--store",
                &store,
            ];
            argv.extend_from_slice(rest);
            Cli::parse_from(argv)
        };
        assert_eq!(
            run_with(send(&[&counter_s, "bump(uint256)", "5"]), env.clone()).await.unwrap(),
            0
        );
        assert_eq!(value().await, U256::from(5));
        let two = format!(
            r#"{{"to":"{counter_s}","sig":"function bump(uint256 amount)","args":["1e2"]}}"#
        );
        let raw = format!(
            r#"{{"to":"{counter_s}","data":"0xb20eb4c40000000000000000000000000000000000000000000000000000000000000003"}}"#
        );
        assert_eq!(
            run_with(send(&["--call", &two, "--call", &raw]), env.clone()).await.unwrap(),
            0
        );
        assert_eq!(value().await, U256::from(108), "5 + 100 + 3, in one operation");
        let file = dir.join("calls.json");
        std::fs::write(
            &file,
            format!(r#"[{{"to":"{counter_s}","sig":"bump(uint256)","args":["2"]}}]"#),
        )
        .unwrap();
        let file_s = file.to_str().unwrap().to_string();
        assert_eq!(run_with(send(&["--calls", &file_s]), env.clone()).await.unwrap(), 0);
        assert_eq!(value().await, U256::from(110));
        // Bad input is refused before anything is sent.
        let e = run_with(send(&[&counter_s, "bump(uint256)"]), env.clone()).await.unwrap_err();
        assert!(e.to_string().contains("takes 1 argument(s), 0 given"), "{e}");
        let e = run_with(send(&["nowhere", "bump(uint256)", "1"]), env.clone()).await.unwrap_err();
        assert!(e.to_string().contains("is not an address"), "{e}");
        assert_eq!(value().await, U256::from(110));
        // explain --sig decodes call data.
        let cli = Cli::parse_from([
            "sesskey",
            "explain",
            "--sig",
            "bump(uint256)",
            "0xb20eb4c40000000000000000000000000000000000000000000000000000000000000003",
        ]);
        assert_eq!(run_with(cli, Env::default()).await.unwrap(), 0);
    }

    /// `session request` for an owner who signs elsewhere, then `session complete` with the
    /// owner's signature of the raw digest; a stranger's signature saves nothing.
    #[tokio::test]
    async fn session_request_then_complete() {
        use alloy_signer::SignerSync;
        let (_server, url, owner, _) = emulator_with_delegated_owner().await;
        let (_tmp, dir, store) = temp_store("req");
        // No owner key in this process: only the account.
        let env = Env::from_pairs([("SESSKEY_PASSWORD", "correct horse".to_string())]);
        let account = owner.address().to_string();
        let request = |args: &[&str]| {
            let mut all = vec!["sesskey", "session"];
            all.extend_from_slice(args);
            all.extend_from_slice(&["--store", store.as_str()]);
            Cli::parse_from(all)
        };
        let requested = request(&[
            "request",
            "--rpc-url",
            url.as_str(),
            "--chain-id",
            "31337",
            "--account",
            account.as_str(),
            "--root",
            "--json",
        ]);
        assert_eq!(run_with(requested, env.clone()).await.unwrap(), 0);
        // The request is in the store, under the id its key file is named by.
        let keystore = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "keystore"))
            .expect("the session key's keystore");
        let id = keystore.file_stem().unwrap().to_str().unwrap().to_string();
        let db = sesskey_session::SqlStore::sqlite(&dir.join("sessions.db")).await.unwrap();
        let pending = {
            use sesskey_session::SessionStore;
            db.load_pending(&id.parse().unwrap()).await.unwrap().pending
        };
        let sign = |key: &alloy_signer_local::PrivateKeySigner| {
            alloy_primitives::hex::encode_prefixed(
                key.sign_hash_sync(&pending.raw_payload).unwrap().as_bytes(),
            )
        };
        let stranger = sign(&alloy_signer_local::PrivateKeySigner::random());
        let e = run_with(
            request(&["complete", id.as_str(), "--signature", stranger.as_str()]),
            env.clone(),
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string().contains("signature by") && e.to_string().contains("expected"),
            "{e}"
        );
        assert!(sessions_in(&dir).await.is_empty());
        let good = sign(&owner);
        let done = request(&["complete", id.as_str(), "--signature", good.as_str(), "--json"]);
        assert_eq!(run_with(done, env).await.unwrap(), 0);
        let sessions = sessions_in(&dir).await;
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].session.session_id, pending.session_id);
        let used = {
            use sesskey_session::SessionStore;
            db.load_pending(&pending.session_id).await
        };
        assert!(
            matches!(used, Err(sesskey_session::Error::UnknownPending(_))),
            "the pending request is used up"
        );
    }

    /// `explain` on the seed document's answers and on a tampered one.
    #[test]
    fn explain_checks_raw_payloads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/external/seed-session-keys-api");
        let read = |f: &str| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()
        };
        let (out, ok) = explain_value(read("5-prepare-calls-session.result.json")).unwrap();
        assert!(ok, "{out}");
        assert_eq!(
            out["userOpHash"],
            "0xc69e468aa6fafb5c7298c02841e76f976b433018266af39a5807bc29ea9ad392"
        );
        let (out, ok) = explain_value(read("3-create-session.response.json")).unwrap();
        assert!(ok, "{out}");
        assert_eq!(out["installs"]["permissions"][0]["type"], "root");
        let mut bad = read("5-prepare-calls-session.result.json");
        bad["data"]["callGasLimit"] = serde_json::json!("0x1");
        let (out, ok) = explain_value(bad).unwrap();
        assert!(!ok, "{out}");
    }

    /// The variables the commands read come from the process environment, and `Debug` shows
    /// their names only.
    #[test]
    fn the_process_environment_is_read() {
        let env = Env::from_process();
        let home = std::env::var("HOME").ok().filter(|h| !h.is_empty());
        assert_eq!(env.get("HOME"), home);
        let secret = Env::from_pairs([("OWNER_PRIVATE_KEY", "0xsecretvalue".to_string())]);
        let dbg = format!("{secret:?}");
        assert!(dbg.contains("OWNER_PRIVATE_KEY") && !dbg.contains("secretvalue"), "{dbg}");
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn send_arguments_parse_with_flags_after_them() {
        let parse = |rest: &[&str]| {
            let mut argv = vec![
                "sesskey",
                "send",
                "--session",
                "0x00000000000000000000000000000001",
                "--rpc-url",
                "http://x",
            ];
            argv.extend_from_slice(rest);
            match Cli::try_parse_from(argv).unwrap().command {
                Command::Send { args, .. } => args,
                other => panic!("{other:?}"),
            }
        };
        let a = parse(&[
            "0x5151515151515151515151515151515151515151",
            "f(int256,uint256)",
            "-5",
            "7",
            "--value",
            "1gwei",
        ]);
        assert_eq!(
            a.call,
            ["0x5151515151515151515151515151515151515151", "f(int256,uint256)", "-5", "7"]
        );
        assert_eq!(a.value, Some(alloy_primitives::U256::from(1_000_000_000u64)));
        let calls = a.calls_to_send().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].value, a.value);
        assert_eq!(calls[0].data.as_ref().unwrap().len(), 4 + 64);
    }

    /// `--account` belongs to `session request` (the owner signs elsewhere); `session create`
    /// makes the session for its owner key's account and does not take it.
    #[test]
    fn only_request_takes_an_account() {
        let account = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
        let create = ["sesskey", "session", "create", "--chain-id", "1", "--account", account];
        let e = Cli::try_parse_from(create).unwrap_err().to_string();
        assert!(e.contains("--account"), "{e}");
        let request = ["sesskey", "session", "request", "--chain-id", "1", "--account", account];
        assert!(Cli::try_parse_from(request).is_ok());
    }

    /// A command that talks to a server and is given no endpoint says how to give one.
    #[tokio::test]
    async fn a_missing_endpoint_says_what_to_do() {
        let cli = Cli::parse_from(["sesskey", "status", "0x01"]);
        let e = run_with(cli, Env::default()).await.unwrap_err();
        assert!(e.to_string().starts_with("no endpoint: pass --rpc-url URL"), "{e}");
        assert!(e.to_string().contains("ALCHEMY_API_KEY"), "{e}");
        // A URL without a scheme says what a URL looks like.
        let cli = Cli::parse_from(["sesskey", "status", "0x01", "--rpc-url", "127.0.0.1:8545"]);
        let e = run_with(cli, Env::default()).await.unwrap_err().to_string();
        assert!(e.contains("not an endpoint URL") && e.contains("http://127.0.0.1:8545"), "{e}");
    }

    /// Every command where the owner signs takes the owner's key the same ways; with none, the
    /// error names them all. `delegate` with `--owner-key-file` delegates the file's key.
    #[tokio::test]
    async fn the_owner_key_options_are_everywhere_the_owner_signs() {
        let scratch = tempfile::tempdir().unwrap();
        let store = scratch.path().display().to_string();
        for args in [
            &["sesskey", "delegate", "--chain-id", "31337", "--rpc-url", "http://127.0.0.1:1"][..],
            &[
                "sesskey",
                "session",
                "revoke",
                "00000000000000000000000000000001",
                "--rpc-url",
                "http://127.0.0.1:1",
                "--store",
                &store,
            ][..],
        ] {
            let e = run_with(Cli::parse_from(args), Env::default()).await.unwrap_err().to_string();
            assert!(
                e.contains("--owner-keystore")
                    && e.contains("--owner-key-file")
                    && e.contains("OWNER_PRIVATE_KEY"),
                "{args:?}: {e}"
            );
        }
        let (server, url, _, policy) = emulator_with_delegated_owner().await;
        let owner = alloy_signer_local::PrivateKeySigner::random();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("owner.key");
        std::fs::write(&file, alloy_primitives::hex::encode_prefixed(owner.to_bytes())).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let cli = Cli::parse_from([
            "sesskey",
            "delegate",
            "--chain-id",
            "31337",
            "--rpc-url",
            url.as_str(),
            "--policy-id",
            policy.as_str(),
            "--owner-key-file",
            file.to_str().unwrap(),
        ]);
        assert_eq!(run_with(cli, Env::default()).await.unwrap(), 0);
        let client = sesskey_rpc::WalletClient::new(&url).unwrap();
        let code = sesskey_rpc::EthApiClient::get_code(&client, owner.address(), "latest".into())
            .await
            .unwrap();
        assert_eq!(code.len(), 23, "the file's key delegated its account");
        drop(server);
    }

    /// With a database elsewhere, listing makes no session folder.
    #[tokio::test]
    async fn a_database_url_makes_no_folder() {
        let (_tmp, dir, store) = temp_store("db");
        let db = dir.parent().unwrap().join("elsewhere.db");
        let url = format!("sqlite://{}?mode=rwc", db.display());
        let cli = Cli::parse_from([
            "sesskey",
            "session",
            "list",
            "--store",
            store.as_str(),
            "--database-url",
            url.as_str(),
        ]);
        assert_eq!(run_with(cli, Env::default()).await.unwrap(), 0);
        assert!(!dir.exists(), "the session folder was made for a database elsewhere");
        assert_eq!(
            super::sessions::database_shown("postgres://me:pw@db.example:5432/s?x=1"),
            "the database at postgres://db.example:5432"
        );
    }

    /// The demo against an endpoint names every missing variable at once.
    #[tokio::test]
    async fn the_demo_names_every_missing_variable() {
        let cli = Cli::parse_from(["sesskey", "demo", "--rpc-url", "http://127.0.0.1:1"]);
        let e = run_with(cli, Env::default()).await.unwrap_err().to_string();
        assert!(e.contains("CHAIN_ID, OWNER_PRIVATE_KEY, SESSION_PRIVATE_KEY"), "{e}");
    }

    /// A malformed session id says what an id is and how to list them.
    #[test]
    fn a_malformed_session_id_says_what_an_id_is() {
        for bad in ["abc", "0x123", "zz000000000000000000000000000000"] {
            let e =
                Cli::try_parse_from(["sesskey", "session", "show", bad]).unwrap_err().to_string();
            assert!(
                e.contains("16 bytes of hex") && e.contains("sesskey session list"),
                "{bad}: {e}"
            );
        }
        let ok = parse_session_id("0x000102030405060708090a0b0c0d0e0f").unwrap();
        assert_eq!(ok, parse_session_id("000102030405060708090a0b0c0d0e0f").unwrap());
    }

    /// anvil's accounts, as foundry's cast derives them
    /// (`cast wallet private-key --mnemonic 'test … junk' --mnemonic-index 0`, and `cast wallet
    /// address … --mnemonic-index 9`).
    #[test]
    fn dev_accounts_are_anvils() {
        let keys = dev_accounts(ANVIL_MNEMONIC, 10).unwrap();
        assert_eq!(
            alloy_primitives::hex::encode(keys[0].to_bytes()),
            "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
        );
        assert_eq!(keys[0].address().to_string(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        assert_eq!(keys[9].address().to_string(), "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720");
        let e = dev_accounts("not a mnemonic at all", 1).unwrap_err().to_string();
        assert!(!e.contains("not a mnemonic"), "the error never quotes the mnemonic: {e}");
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
            POLICY,
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

//! `sesskey serve`: the local Wallet API emulator.

use anyhow::Context;
use clap::Args;
use sesskey_emulator::{serve as start, Config, Emulator};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Flags of `sesskey serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub addr: SocketAddr,
    /// A chain to serve, decimal or 0x-hex; repeat for several (default 31337).
    #[arg(long = "chain-id", value_parser = parse_chain_id)]
    pub chain_ids: Vec<u64>,
    /// A paymaster policy id that sponsors gas; repeat for several (default: the ones the data
    /// folder kept, else one generated, and kept with `--data-dir`).
    #[arg(long = "policy-id")]
    pub policy_ids: Vec<String>,
    /// Keep the state in this folder (a redb database): restarts carry on, and every answered call
    /// is durable.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Fixed start time and seeded ids, for reproducible runs.
    #[arg(long)]
    pub deterministic: bool,
    /// Answer CORS preflights and allow any origin, for browser clients.
    #[arg(long)]
    pub cors: bool,
    /// Milliseconds before a sent call reaches its final status (default: at once).
    #[arg(long, default_value_t = 0)]
    pub settle_after_ms: u64,
    /// Fork a chain: read its state lazily from this node's JSON-RPC URL (the chain id comes
    /// from it).
    #[arg(long)]
    pub fork_url: Option<String>,
    /// The block to fork at (default: the upstream's latest).
    #[arg(long, requires = "fork_url")]
    pub fork_block: Option<u64>,
    /// How long one request to the fork's upstream may take, in seconds, before it fails with a
    /// clear error (the start, or the one client call that needed it).
    #[arg(long, requires = "fork_url", default_value_t = 30)]
    pub fork_timeout: u64,
    /// Also accept WebSocket connections (default: HTTP only).
    #[arg(long)]
    pub ws: bool,
    /// The BIP-39 mnemonic the development accounts derive from (default: anvil's public test
    /// mnemonic `test test … junk`, whose private keys are printed; a mnemonic of yours has its
    /// keys left unprinted).
    #[arg(long, env = "SESSKEY_MNEMONIC", hide_env_values = true)]
    pub mnemonic: Option<String>,
    /// How many development accounts to derive and fund.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub accounts: u32,
    /// What each development account holds at genesis, in ETH.
    #[arg(long, default_value = "10000")]
    pub balance: String,
    /// Print the banner as one JSON object (URL, chains, policies, controls, accounts).
    #[arg(long)]
    pub json: bool,
    /// Answer the controls (`emulator_*`, `anvil_*`, `evm_*`) on a non-loopback address too
    /// (on loopback they always answer).
    #[arg(long)]
    pub controls: bool,
    /// With --cors, let browser pages of any origin call the controls too.
    #[arg(long, requires = "cors")]
    pub cors_controls: bool,
    /// A host name clients may use to reach the server, besides its address and `localhost`
    /// (requests naming any other host are refused); repeat for several.
    #[arg(long = "allow-host")]
    pub allowed_hosts: Vec<String>,
    /// A token the paymaster takes for gas (`paymasterService.erc20`) and its price, as
    /// `TOKEN=PRICE`: what 1 ETH of gas costs in whole tokens (read with the token's
    /// `decimals()`), e.g. `0x5FbD…0aa3=3000`; repeat for several. The token is a contract you
    /// deploy on the emulated chain; the paymaster is the one sponsored ops name.
    #[arg(long = "gas-token")]
    pub gas_tokens: Vec<sesskey_emulator::GasToken>,
}

/// anvil's test mnemonic: what tutorials, scripts and the official clients' examples use.
pub const ANVIL_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// The development accounts: `count` keys of `mnemonic` at `m/44'/60'/0'/0/i`, as anvil
/// derives them.
pub fn dev_accounts(
    mnemonic: &str,
    count: u32,
) -> anyhow::Result<Vec<alloy_signer_local::PrivateKeySigner>> {
    use alloy_signer_local::{coins_bip39::English, MnemonicBuilder};
    (0..count)
        .map(|i| {
            MnemonicBuilder::<English>::default()
                .phrase(mnemonic)
                .index(i)
                .and_then(|b| b.build())
                // The error never quotes the mnemonic.
                .map_err(|e| anyhow::anyhow!("deriving development account {i}: {e}"))
        })
        .collect()
}

/// Parses a chain id in decimal or `0x` hex.
pub fn parse_chain_id(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    match parsed {
        Ok(0) | Err(_) => Err(format!("`{s}` is not a chain id (decimal or 0x-hex, above 0)")),
        Ok(n) => Ok(n),
    }
}

/// The fixed start of `--deterministic` runs: 2026-01-01T00:00:00Z.
const DETERMINISTIC_START: u64 = 1_767_225_600;

pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let chain_ids = if args.chain_ids.is_empty() { vec![31337] } else { args.chain_ids };
    let balance = crate::calls::parse_value(&format!("{}ether", args.balance))
        .map_err(|e| anyhow::anyhow!("--balance: {e}"))?;
    let public = args.mnemonic.is_none();
    let mnemonic = args.mnemonic.clone().unwrap_or_else(|| ANVIL_MNEMONIC.to_string());
    let accounts = dev_accounts(&mnemonic, args.accounts)?;
    // sesskey's own development keys (the seed document's test mnemonic) are funded too: the
    // spec's examples and sesskey's tests use them.
    let sesskey_keys: Vec<_> = (0..5).map(sesskey_signing::dev::dev_key).collect();
    let mut genesis: Vec<(alloy_primitives::Address, alloy_primitives::U256)> = vec![];
    for key in accounts.iter().chain(&sesskey_keys) {
        if !genesis.iter().any(|(a, _)| *a == key.address()) {
            genesis.push((key.address(), balance));
        }
    }
    let config = Config {
        chain_ids: chain_ids.clone(),
        // None given: the data folder's, else one made (and kept) by the emulator.
        policy_ids: args.policy_ids.clone(),
        settle_after_ms: args.settle_after_ms,
        deterministic_start: args.deterministic.then_some(DETERMINISTIC_START),
        cors: args.cors,
        genesis: genesis.clone(),
        fork: args.fork_url.clone().map(|url| sesskey_emulator::ForkConfig {
            url,
            block: args.fork_block,
            timeout: Some(std::time::Duration::from_secs(args.fork_timeout.max(1))),
        }),
        ws: args.ws,
        controls: args.controls.then_some(true),
        cors_controls: args.cors_controls,
        allowed_hosts: args.allowed_hosts.clone(),
        gas_tokens: args.gas_tokens.clone(),
    };
    let emulator =
        Emulator::launch(config, args.data_dir.as_deref()).await.map_err(|e| {
            match &args.data_dir {
                Some(dir) => {
                    anyhow::anyhow!("starting with the data folder {}: {e}", dir.display())
                }
                None => anyhow::anyhow!("starting the emulator: {e}"),
            }
        })?;
    let chain_ids = emulator.chain_ids();
    let default = emulator.default_chain_id();
    let policy_ids = emulator.config().policy_ids.clone();
    let running = start(emulator, args.addr).await.context("starting the server")?;
    if args.json {
        let accounts: Vec<serde_json::Value> = accounts
            .iter()
            .map(|k| {
                let key = public.then(|| format!("0x{}", alloy_primitives::hex::encode(k.to_bytes())));
                serde_json::json!({ "address": k.address().to_string(), "privateKey": key, "balance": balance })
            })
            .collect();
        outln!(
            "{}",
            serde_json::json!({
                "url": running.url(),
                "chainIds": chain_ids,
                "defaultChainId": default,
                "policyIds": policy_ids,
                "gasTokens": args.gas_tokens.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "controls": running.controls,
                "accounts": accounts,
                "sesskeyDevAccounts": sesskey_keys.iter().map(|k| k.address().to_string()).collect::<Vec<_>>(),
            })
        )?;
        return wait(running).await;
    }
    outln!("sesskey emulator of Alchemy's Wallet API")?;
    outln!()?;
    outln!("Listening on {} (also /v2/<any key>)", running.url())?;
    outln!(
        "Chain ids:   {}",
        chain_ids.iter().map(|c| format!("{c} ({c:#x})")).collect::<Vec<_>>().join(", ")
    )?;
    outln!("Policy ids:  {}", policy_ids.join(", "))?;
    for t in &args.gas_tokens {
        outln!("Gas token:   {t} (whole tokens per ETH of gas)")?;
    }
    match &args.data_dir {
        Some(dir) => outln!("State:       {} (durable)", dir.display())?,
        None => outln!("State:       in memory")?,
    }
    if let Some(url) = &args.fork_url {
        outln!("Fork:        {}", sesskey_emulator::shown_url(url))?;
    }
    match (running.controls, args.controls) {
        (true, true) => outln!("Controls:    on (--controls)")?,
        (true, false) => outln!("Controls:    on (loopback only)")?,
        (false, _) => outln!(
            "Controls:    off: {} is not loopback (--controls turns them on)",
            args.addr.ip()
        )?,
    }
    if running.controls && args.cors && !args.cors_controls {
        outln!("             refused to browser pages of other origins (--cors-controls)")?;
    }
    if chain_ids.len() > 1 {
        outln!(
            "eth_* on / reach chain {default} (the first --chain-id); each chain's: {}/chain/<chain id>",
            running.url()
        )?;
    }
    outln!()?;
    let eth = alloy_primitives::utils::format_ether(balance);
    let eth =
        if eth.contains('.') { eth.trim_end_matches('0').trim_end_matches('.') } else { &eth };
    outln!("Available accounts ({eth} ETH each)")?;
    outln!("==================")?;
    for (i, key) in accounts.iter().enumerate() {
        outln!("({i}) {}", key.address())?;
    }
    outln!()?;
    if public {
        outln!("Private keys (anvil's public test mnemonic: never hold real funds with them)")?;
        outln!("==================")?;
        for (i, key) in accounts.iter().enumerate() {
            outln!("({i}) 0x{}", alloy_primitives::hex::encode(key.to_bytes()))?;
        }
        outln!()?;
        outln!("Mnemonic:        {ANVIL_MNEMONIC}")?;
    } else {
        outln!("Private keys:    not printed (derived from your --mnemonic)")?;
    }
    outln!("Derivation path: m/44'/60'/0'/0/")?;
    outln!()?;
    outln!("Also funded, {eth} ETH each: sesskey's development keys 0-4 (the seed document's")?;
    outln!("test mnemonic `shallow car worth decorate number cloth strong select organ champion")?;
    outln!(
        "keep race`, used by the spec's examples; `sesskey demo` uses anvil's accounts 0 and 1):"
    )?;
    for (i, key) in sesskey_keys.iter().enumerate() {
        outln!("({i}) {}", key.address())?;
    }
    wait(running).await
}

/// Serves until the server stops, Ctrl-C or SIGTERM.
async fn wait(running: sesskey_emulator::Running) -> anyhow::Result<()> {
    let handle = running.handle.clone();
    tokio::select! {
        () = handle.stopped() => {}
        r = shutdown_signal() => {
            r?;
            tracing::info!("shutting down");
            running.handle.stop().ok();
            running.handle.stopped().await;
        }
    }
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

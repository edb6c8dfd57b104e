//! `sesskey session create|list|show|remove`, `sesskey send`, `sesskey status`.

use crate::demo::Env;
use alloy_primitives::{Address, Bytes, U256, U64};
use alloy_signer_local::PrivateKeySigner;
use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use sesskey_rpc::{WalletApiClient, WalletClient};
use sesskey_session::{
    Account, FeeCaps, JsonFolder, KeyLocation, LocalKeys, Orchestrator, Outcome, SessionService,
    SessionStore, SqlStore, StoredPending, StoredSession,
};
use sesskey_types::*;
use std::path::PathBuf;
use std::time::Duration;

/// Where sessions live, and how to print.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The session folder: session keys' keystores, and the SQLite store `sessions.db` (default:
    /// `$SESSKEY_HOME/sessions`, else `~/.sesskey/sessions`).
    #[arg(long, global = true)]
    pub store: Option<PathBuf>,
    /// The session store's URL instead of the folder's SQLite file, e.g. a PostgreSQL server
    /// shared by several workers (`postgres://…`; also `SESSKEY_DATABASE_URL`).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Print JSON for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

/// What a command that signs an operation accepts from the server, and where it reads the chain.
#[derive(Debug, Clone, Default, Args)]
pub struct SigningArgs {
    /// The most the op's `maxFeePerGas` may be: wei (`20000000000`) or with a unit (`20gwei`);
    /// default 200 gwei.
    #[arg(long, value_parser = crate::calls::parse_value)]
    pub max_fee: Option<U256>,
    /// The most the op's `maxPriorityFeePerGas` may be, as `--max-fee`; default 50 gwei.
    #[arg(long, value_parser = crate::calls::parse_value)]
    pub max_priority_fee: Option<U256>,
    /// The most gas the op's limits may add up to (pre-verification, verification, call and
    /// paymaster gas); default 6000000. With `--max-fee`, the most an op may cost.
    #[arg(long)]
    pub max_gas: Option<u128>,
    /// A paymaster a sponsored op may name besides Alchemy's (repeat).
    #[arg(long = "paymaster", value_name = "ADDRESS")]
    pub paymasters: Vec<Address>,
    /// A node of the chain you trust, for the reads made before signing (an EIP-7702
    /// authorization's nonce, whether the account is delegated); default: the endpoint.
    #[arg(long, value_name = "URL")]
    pub chain_rpc_url: Option<String>,
}

impl SigningArgs {
    /// `flow` with these caps, paymasters and chain node.
    pub(crate) fn apply(
        &self,
        flow: Orchestrator<WalletClient>,
    ) -> anyhow::Result<Orchestrator<WalletClient>> {
        let fee = |v: Option<U256>, default: u128, flag: &str| -> anyhow::Result<u128> {
            v.map_or(Ok(default), |v| {
                u128::try_from(v).map_err(|_| anyhow!("{flag} {v} is more than any chain charges"))
            })
        };
        let defaults = FeeCaps::default();
        let caps = FeeCaps {
            max_fee_per_gas: fee(self.max_fee, defaults.max_fee_per_gas, "--max-fee")?,
            max_priority_fee_per_gas: fee(
                self.max_priority_fee,
                defaults.max_priority_fee_per_gas,
                "--max-priority-fee",
            )?,
            total_gas: self.max_gas.unwrap_or(defaults.total_gas),
            ..defaults
        };
        let mut flow = flow.with_fee_caps(caps);
        for p in &self.paymasters {
            flow = flow.with_paymaster(*p);
        }
        if let Some(url) = &self.chain_rpc_url {
            let node = WalletClient::new(url).context("--chain-rpc-url")?;
            flow = flow.with_chain_rpc(node);
        }
        Ok(flow)
    }
}

/// `sesskey session …`.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Create a session for a new session key (the owner's key: `--owner-keystore`,
    /// `--owner-key-file` or `OWNER_PRIVATE_KEY`).
    Create(Box<CreateArgs>),
    /// Request a session for a new session key, for an owner who signs elsewhere: prints the
    /// verified typed data and its `rawPayload` (with `--json`: `{id, typedData, rawPayload}`).
    Request {
        /// The session asked for.
        #[command(flatten)]
        args: Box<CreateArgs>,
        /// The owner's account (default: the account of the owner key given, if any).
        #[arg(long, conflicts_with = "salt")]
        account: Option<Address>,
    },
    /// Complete a requested session with the owner's signature (of the typed data, or of the
    /// raw digest with no prefix): checked to be the owner's, then saved.
    Complete {
        /// The pending request's id (printed by `session request`).
        #[arg(value_parser = parse_session_id)]
        id: SessionId,
        /// The owner's 65-byte signature, 0x-hex.
        #[arg(long)]
        signature: Bytes,
        /// For an SMA-B account: its owner's address (with `--salt`), whose signature this is.
        #[arg(long, requires = "salt")]
        owner: Option<Address>,
        /// For an SMA-B account: its salt (with `--owner`).
        #[arg(long, requires = "owner")]
        salt: Option<U256>,
    },
    /// List saved sessions: active ones first (newest first), then expired and revoked.
    List {
        /// Only the sessions that can still send (not expired, not revoked).
        #[arg(long)]
        active: bool,
    },
    /// Show a saved session. With an endpoint (`--rpc-url`, or `ALCHEMY_API_KEY`), the calls
    /// of workers that stopped mid-call (killed, or cut off) are settled from the chain first,
    /// so the spend shown counts them.
    Show {
        /// The session id.
        #[arg(value_parser = parse_session_id)]
        id: SessionId,
        /// The Wallet API endpoint (default: Alchemy's, when `ALCHEMY_API_KEY` is set).
        #[arg(long)]
        rpc_url: Option<String>,
    },
    /// Revoke a session on chain: the owner (`--owner-keystore`, `--owner-key-file` or
    /// `OWNER_PRIVATE_KEY`, as for `delegate`) uninstalls
    /// its validation from the account; the store then marks it revoked.
    Revoke(Box<RevokeArgs>),
    /// Print what `sesskey mcp` did with a session: one line per tool call (time, tool,
    /// outcome, call id, the reason of a refusal, the arguments); with `--json`, the log's
    /// JSON lines.
    Audit {
        /// The session id.
        #[arg(value_parser = parse_session_id)]
        id: SessionId,
        /// The audit log (default: `audit/<session id>.jsonl` in the session folder).
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
    },
    /// Remove a saved session and its key file.
    Remove {
        /// The session id.
        #[arg(value_parser = parse_session_id)]
        id: SessionId,
    },
}

/// Flags of `sesskey session revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The session id.
    #[arg(value_parser = parse_session_id)]
    pub id: SessionId,
    /// The Wallet API endpoint (default: Alchemy's, when `ALCHEMY_API_KEY` is set).
    #[arg(long)]
    pub rpc_url: Option<String>,
    /// A paymaster policy id for gas.
    #[arg(long)]
    pub policy_id: Option<String>,
    /// Where the owner's key is.
    #[command(flatten)]
    pub owner: OwnerArgs,
    /// What the owner accepts to sign.
    #[command(flatten)]
    pub signing: SigningArgs,
    /// The session's account is the owner's SMA-B account with this salt.
    #[arg(long)]
    pub salt: Option<U256>,
}

/// Flags of `sesskey session create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The Wallet API endpoint (default: Alchemy's, when `ALCHEMY_API_KEY` is set).
    #[arg(long)]
    pub rpc_url: Option<String>,
    /// The chain, decimal or 0x-hex.
    #[arg(long, env = "CHAIN_ID", value_parser = crate::serve::parse_chain_id)]
    pub chain_id: u64,
    /// A paymaster policy id for gas.
    #[arg(long)]
    pub policy_id: Option<String>,
    /// Grant everything.
    #[arg(long)]
    pub root: bool,
    /// Total native value the key may send, in wei.
    #[arg(long)]
    pub native: Option<U256>,
    /// `<token>:<amount>`: total of an ERC-20 the key may transfer or approve (repeat).
    #[arg(long)]
    pub erc20: Vec<String>,
    /// Any function of this contract (repeat).
    #[arg(long)]
    pub contract: Vec<Address>,
    /// `<address>:<selector,…>`: these functions of this contract (repeat).
    #[arg(long)]
    pub functions: Vec<String>,
    /// These selectors on any contract.
    #[arg(long, value_delimiter = ',')]
    pub all_contracts: Vec<Selector>,
    /// These selectors on the account itself.
    #[arg(long, value_delimiter = ',')]
    pub account_functions: Vec<Selector>,
    /// A cap on gas spending, in wei.
    #[arg(long)]
    pub gas: Option<U256>,
    /// How long the session lasts: `90s`, `30m`, `1h`, `7d` (default: no expiry).
    #[arg(long, value_parser = parse_duration)]
    pub expires_in: Option<u64>,
    /// Keep the session key as a plain hex file instead of an encrypted keystore.
    #[arg(long)]
    pub plain_key: bool,
    /// Where the owner's key is.
    #[command(flatten)]
    pub owner: OwnerArgs,
    /// The owner's SMA-B smart-contract account with this salt (see `sesskey account request`),
    /// instead of the owner's EIP-7702 account; a counterfactual account is deployed by the
    /// session's first op.
    #[arg(long)]
    pub salt: Option<U256>,
}

/// Where the owner's key is, on every command where the owner signs (in this order: a keystore,
/// a key file, `OWNER_PRIVATE_KEY`); never a flag value.
#[derive(Debug, Clone, Default, Args)]
pub struct OwnerArgs {
    /// The owner's key from an encrypted keystore file (password: `SESSKEY_OWNER_PASSWORD`);
    /// default: `OWNER_PRIVATE_KEY` from the environment.
    #[arg(long, conflicts_with = "owner_key_file")]
    pub owner_keystore: Option<PathBuf>,
    /// The owner's key from a file holding it in hex.
    #[arg(long)]
    pub owner_key_file: Option<PathBuf>,
}

/// The owner's key: a keystore, a key file, or `OWNER_PRIVATE_KEY`; never a flag value.
pub(crate) fn owner_key(a: &OwnerArgs, env: &Env) -> anyhow::Result<PrivateKeySigner> {
    if let Some(path) = &a.owner_keystore {
        let password = env
            .get("SESSKEY_OWNER_PASSWORD")
            .ok_or_else(|| anyhow!("set SESSKEY_OWNER_PASSWORD to unlock {}", path.display()))?;
        return PrivateKeySigner::decrypt_keystore(path, password).map_err(|_| {
            anyhow!("cannot unlock {}: wrong SESSKEY_OWNER_PASSWORD?", path.display())
        });
    }
    if let Some(path) = &a.owner_key_file {
        sesskey_session::check_private(path)?;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return text
            .trim()
            .parse()
            .map_err(|_| anyhow!("{} does not hold a private key", path.display()));
    }
    if env.get("OWNER_PRIVATE_KEY").is_none() {
        bail!(
            "no owner key: pass --owner-keystore FILE (password in SESSKEY_OWNER_PASSWORD) or --owner-key-file FILE, or set OWNER_PRIVATE_KEY"
        );
    }
    env.key("OWNER_PRIVATE_KEY")
}

/// Flags of `sesskey delegate`.
#[derive(Debug, Args)]
pub struct DelegateArgs {
    /// The Wallet API endpoint (default: Alchemy's, when `ALCHEMY_API_KEY` is set).
    #[arg(long)]
    pub rpc_url: Option<String>,
    /// The chain, decimal or 0x-hex.
    #[arg(long, env = "CHAIN_ID", value_parser = crate::serve::parse_chain_id)]
    pub chain_id: u64,
    /// A paymaster policy id for gas.
    #[arg(long)]
    pub policy_id: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Where the owner's key is.
    #[command(flatten)]
    pub owner: OwnerArgs,
    /// What the owner accepts to sign.
    #[command(flatten)]
    pub signing: SigningArgs,
}

/// The client for a command: `--rpc-url`, else Alchemy's endpoint with `ALCHEMY_API_KEY`.
pub(crate) fn endpoint(rpc_url: Option<&str>, env: &Env) -> anyhow::Result<WalletClient> {
    match (rpc_url, env.get("ALCHEMY_API_KEY")) {
        (Some(url), _) if !(url.starts_with("http://") || url.starts_with("https://")) => bail!(
            "`{}` is not an endpoint URL: give http://host:port or https://… (`sesskey serve` listens on http://127.0.0.1:8545)",
            sesskey_rpc::redact::redact_text(url)
        ),
        (Some(url), _) => Ok(WalletClient::new(url)?),
        (None, Some(key)) => Ok(WalletClient::alchemy(&key)?),
        (None, None) => bail!(
            "no endpoint: pass --rpc-url URL (`sesskey serve` listens on http://127.0.0.1:8545), \
             or set ALCHEMY_API_KEY to use Alchemy's"
        ),
    }
}

/// Runs `sesskey delegate`: the owner (`OWNER_PRIVATE_KEY`) delegates its EIP-7702 account.
pub(crate) async fn delegate(a: DelegateArgs, env: Env) -> anyhow::Result<u8> {
    let owner = owner_key(&a.owner, &env)?;
    let flow =
        a.signing.apply(Orchestrator::new(endpoint(a.rpc_url.as_deref(), &env)?, a.policy_id))?;
    let account = owner.address();
    let outcome = flow.ensure_delegated(&owner, a.chain_id, Duration::from_secs(120)).await?;
    let confirmed = matches!(outcome, None | Some(Outcome::Confirmed(_)));
    if a.json {
        let status = outcome.as_ref().map(|o| o.status());
        outln!(
            "{}",
            serde_json::json!({
                "account": account.to_string(),
                "alreadyDelegated": outcome.is_none(),
                "callId": status.map(|s| s.id.clone()),
                "status": status.map(|s| s.status),
            })
        )?;
    } else {
        match &outcome {
            None => outln!("{account} is already delegated")?,
            Some(Outcome::Confirmed(s)) => {
                outln!("{account} delegated: call {}, status {}", s.id, s.status)?;
            }
            Some(other) => outln!("delegation failed: status {}", other.status().status)?,
        }
    }
    Ok(if confirmed { 0 } else { 1 })
}

/// Flags of `sesskey send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The session id.
    #[arg(long, value_parser = parse_session_id)]
    pub session: SessionId,
    /// The Wallet API endpoint (default: Alchemy's, when `ALCHEMY_API_KEY` is set).
    #[arg(long)]
    pub rpc_url: Option<String>,
    /// A paymaster policy id for gas.
    #[arg(long)]
    pub policy_id: Option<String>,
    /// The call's target (or give it first among the positional arguments).
    #[arg(long)]
    pub to: Option<Address>,
    /// The value: wei (`1000`) or with a unit (`20gwei`, `0.1ether`).
    #[arg(long, value_parser = crate::calls::parse_value)]
    pub value: Option<U256>,
    /// The call data (hex), instead of a signature and arguments.
    #[arg(long)]
    pub data: Option<Bytes>,
    /// One more call, as JSON: `{"to":"0x…","value":"1gwei","sig":"f(uint256)","args":["1"]}`
    /// or with `"data"`; repeat for several calls in one operation.
    #[arg(long = "call", value_name = "JSON")]
    pub extra_calls: Vec<String>,
    /// A JSON file holding an array of calls (as `--call` takes them).
    #[arg(long, value_name = "FILE")]
    pub calls: Option<std::path::PathBuf>,
    /// `[TO] [SIG] [ARGS…]`, as cast takes them: `0xToken 'transfer(address,uint256)' 0xabc… 100`.
    #[arg(num_args = 0.., allow_negative_numbers = true, value_name = "TO SIG ARGS")]
    pub call: Vec<String>,
    /// Kept for scripts: `send` always follows the call to its final status, since the
    /// session's budgets are settled with it.
    #[arg(long)]
    pub wait: bool,
    /// What the session key accepts to sign.
    #[command(flatten)]
    pub signing: SigningArgs,
}

impl SendArgs {
    /// The calls to send: the one named by `--to`/`TO`, `SIG`, `ARGS`, `--value`, `--data`,
    /// then each `--call`, then the `--calls` file's.
    pub fn calls_to_send(&self) -> anyhow::Result<Vec<Call>> {
        use crate::calls::{CallSpec, Signature};
        let mut positional = self.call.iter();
        let to = match self.to {
            Some(to) => Some(to),
            None => match positional.next() {
                Some(t) => Some(t.parse::<Address>().map_err(|e| {
                    anyhow::anyhow!("`{t}` is not an address (the call's target comes first): {e}")
                })?),
                None => None,
            },
        };
        let mut calls = vec![];
        match (to, positional.next()) {
            (Some(to), sig) => {
                let data = match (sig, &self.data) {
                    (Some(_), Some(_)) => anyhow::bail!("give a signature or --data, not both"),
                    (Some(sig), None) => {
                        let args: Vec<String> = positional.cloned().collect();
                        Some(
                            Signature::parse(sig)
                                .map_err(anyhow::Error::msg)?
                                .encode(&args)
                                .map_err(anyhow::Error::msg)?,
                        )
                    }
                    (None, data) => data.clone(),
                };
                calls.push(Call { to, data, value: self.value });
            }
            (None, _) if self.value.is_some() || self.data.is_some() => {
                anyhow::bail!("--value and --data need a target: --to 0x… (or the first argument)")
            }
            (None, _) => {}
        }
        for spec in &self.extra_calls {
            let spec: CallSpec =
                serde_json::from_str(spec).map_err(|e| anyhow::anyhow!("--call `{spec}`: {e}"))?;
            calls.push(spec.to_call().map_err(anyhow::Error::msg)?);
        }
        if let Some(file) = &self.calls {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
            let specs: Vec<CallSpec> = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for spec in specs {
                calls.push(spec.to_call().map_err(anyhow::Error::msg)?);
            }
        }
        if calls.is_empty() {
            anyhow::bail!(
                "nothing to send: give a target (`sesskey send --session ID 0xTo 'f(uint256)' 1`), --call or --calls"
            );
        }
        Ok(calls)
    }
}

/// Flags of `sesskey status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The call id.
    pub call_id: Bytes,
    /// The Wallet API endpoint (default: Alchemy's, when `ALCHEMY_API_KEY` is set).
    #[arg(long)]
    pub rpc_url: Option<String>,
    /// Wait for the final status.
    #[arg(long)]
    pub wait: bool,
}

/// Parses a session id: 16 bytes of hex, `0x` optional.
pub fn parse_session_id(s: &str) -> Result<SessionId, String> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.len() != 32 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "`{s}` is not a session id: 16 bytes of hex (32 hex digits, `0x` optional); `sesskey session list` shows the saved ones"
        ));
    }
    digits.parse().map_err(|e| format!("`{s}` is not a session id: {e}"))
}

/// Parses `90s`, `30m`, `1h`, `7d` into seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 =
        n.parse().map_err(|_| format!("`{s}` is not a duration like 90s, 30m, 1h or 7d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use s, m, h or d)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("`{s}` is too long"))
}

/// The session folder (keys) and the session store (SQLite in the folder by default).
#[derive(Debug, Clone)]
pub(crate) struct CliStore {
    dir: PathBuf,
    pub(crate) db: SqlStore,
    /// Where the sessions are, as a message may say it (a database URL without its password).
    shown: String,
}

/// A database URL as a message may show it: scheme and host, no user, password, path or query.
pub(crate) fn database_shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "the database".into() };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("the database at {scheme}://{host}")
}

impl CliStore {
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// A saved session; an unknown id says where it looked and how to list what is there.
    pub(crate) async fn load(&self, id: &SessionId) -> anyhow::Result<StoredSession> {
        match self.db.load(id).await {
            Err(sesskey_session::Error::UnknownSession(_)) => bail!(
                "no session {id} in {} (`sesskey session list` shows the saved sessions; --store, --database-url or SESSKEY_HOME picks another store)",
                self.shown
            ),
            other => Ok(other?),
        }
    }
}

pub(crate) async fn store(args: &StoreArgs, env: &Env) -> anyhow::Result<CliStore> {
    let dir = match &args.store {
        Some(d) => d.clone(),
        None => match (env.get("SESSKEY_HOME"), env.get("HOME")) {
            (Some(h), _) => PathBuf::from(h).join("sessions"),
            (None, Some(h)) => PathBuf::from(h).join(".sesskey").join("sessions"),
            (None, None) => bail!("no session folder: pass --store or set SESSKEY_HOME"),
        },
    };
    let (url, shown) = match (&args.database_url, env.get("SESSKEY_DATABASE_URL")) {
        (Some(u), _) => (u.clone(), database_shown(u)),
        (None, Some(u)) => (u.to_string(), database_shown(&u)),
        (None, None) => {
            // The SQLite file lives in the folder: made on first use, the owner's only.
            sesskey_session::make_private_dir(&dir)?;
            let file = dir.join("sessions.db");
            (format!("sqlite://{}", file.display()), file.display().to_string())
        }
    };
    let db = SqlStore::connect(&url).await?;
    // The first version's JSON files in the folder are imported once, then left as they were
    // (a folder that does not exist holds none, and is not made for a database elsewhere).
    if dir.is_dir() {
        let imported = db.import_folder(&JsonFolder::open(&dir)?).await?;
        if imported > 0 {
            eprintln!("imported {imported} session(s) from {}", dir.display());
        }
    }
    Ok(CliStore { dir, db, shown })
}

fn permissions(a: &CreateArgs) -> anyhow::Result<Vec<Permission>> {
    let mut p = vec![];
    if a.root {
        p.push(Permission::Root);
    }
    if let Some(allowance) = a.native {
        p.push(Permission::NativeTokenTransfer(NativeTokenTransfer { allowance }));
    }
    for e in &a.erc20 {
        let (t, amount) =
            e.split_once(':').ok_or_else(|| anyhow!("--erc20 {e}: expected <token>:<amount>"))?;
        p.push(Permission::Erc20TokenTransfer(Erc20TokenTransfer {
            address: t.parse().map_err(|_| anyhow!("--erc20 {e}: bad token address"))?,
            allowance: amount.parse().map_err(|_| anyhow!("--erc20 {e}: bad amount"))?,
        }));
    }
    if let Some(limit) = a.gas {
        p.push(Permission::GasLimit(GasLimit { limit }));
    }
    p.extend(
        a.contract.iter().map(|&address| Permission::ContractAccess(ContractAccess { address })),
    );
    for f in &a.functions {
        let (addr, sels) = f
            .split_once(':')
            .ok_or_else(|| anyhow!("--functions {f}: expected <address>:<selector,…>"))?;
        let functions = sels
            .split(',')
            .map(|s| s.parse())
            .collect::<Result<Vec<Selector>, _>>()
            .map_err(|_| anyhow!("--functions {f}: bad selector"))?;
        p.push(Permission::FunctionsOnContract(FunctionsOnContract {
            address: addr.parse().map_err(|_| anyhow!("--functions {f}: bad address"))?,
            functions,
        }));
    }
    if !a.all_contracts.is_empty() {
        p.push(Permission::FunctionsOnAllContracts(Functions {
            functions: a.all_contracts.clone(),
        }));
    }
    if !a.account_functions.is_empty() {
        p.push(Permission::AccountFunctions(Functions { functions: a.account_functions.clone() }));
    }
    if p.is_empty() {
        bail!("no permission: give --root, or some of --native, --erc20, --gas, --contract, --functions, --all-contracts, --account-functions");
    }
    Ok(p)
}

fn key_paths(store: &CliStore, id: &SessionId) -> (PathBuf, PathBuf) {
    (store.dir().join(format!("{id}.keystore")), store.dir().join(format!("{id}.key")))
}

/// The session key, where the store says it lives (unlocked with `SESSKEY_PASSWORD`).
async fn load_key(store: &CliStore, id: &SessionId, env: &Env) -> anyhow::Result<PrivateKeySigner> {
    load_key_with(store, id, env.get("SESSKEY_PASSWORD")).await
}

/// The session key, where the store says it lives, unlocked with `password`.
pub(crate) async fn load_key_with(
    store: &CliStore,
    id: &SessionId,
    password: Option<String>,
) -> anyhow::Result<PrivateKeySigner> {
    let record = store.load(id).await?;
    let location = record.key.ok_or_else(|| {
        anyhow!("session {id} has no key location (it was saved without its key)")
    })?;
    if let KeyLocation::Keystore { path } = &location {
        if password.is_none() {
            bail!(
                "set SESSKEY_PASSWORD (or give --password-file) to unlock the session key {path}"
            );
        }
    }
    Ok(LocalKeys::new(password).open(&location)?)
}

/// Prints `v` as JSON with every signature (the owner's authorization, in a session) redacted:
/// the CLI never prints one.
fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    outln!("{}", sesskey_rpc::redact::redact_json(&serde_json::to_string(v)?))?;
    Ok(())
}

fn print_session(s: &StoredSession, json: bool) -> anyhow::Result<()> {
    print_session_with(s, json, &std::collections::HashMap::new())
}

/// [`print_session`], with the decimals of the tokens that said them.
fn print_session_with(
    s: &StoredSession,
    json: bool,
    decimals: &std::collections::HashMap<Address, u8>,
) -> anyhow::Result<()> {
    if json {
        return print_json(s);
    }
    let now = unix_now();
    let x = &s.session;
    outln!(
        "{}  account {}  chain {} ({:#x})  key {}  entity {}",
        x.session_id,
        x.account,
        x.chain_id,
        x.chain_id,
        x.session_key,
        x.entity_id
    )?;
    outln!("  state:   {}", state_of(s, now))?;
    outln!("  expiry:  {}", expiry_words(x.expiry, now))?;
    let policy = x.policy();
    if let Some(allowance) = policy.native_allowance() {
        outln!("  native:  {} ETH spent of {} ETH", ether(s.spent_native), ether(allowance))?;
    } else if !s.spent_native.is_zero() {
        outln!("  native:  {} ETH spent (no limit)", ether(s.spent_native))?;
    }
    for p in &x.permissions {
        if let Permission::Erc20TokenTransfer(e) = p {
            let spent = s.spent_erc20.iter().find(|(t, _)| *t == e.address).map(|(_, v)| *v);
            let spent = spent.unwrap_or_default();
            match decimals.get(&e.address) {
                Some(d) => outln!(
                    "  token {}: {} spent of {} (tokens of {d} decimals)",
                    e.address,
                    units(spent, *d),
                    units(e.allowance, *d)
                )?,
                None => {
                    outln!("  token {}: {spent} spent of {} (base units)", e.address, e.allowance)?
                }
            }
        }
        if let Permission::GasLimit(g) = p {
            outln!("  gas:     {} ETH spent of {} ETH", ether(s.spent_gas), ether(g.limit))?;
        }
    }
    outln!("  permissions: {}", serde_json::to_string(&x.permissions)?)?;
    Ok(())
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether a session can still send: revoked, expired, waiting for its first op, or active.
pub(crate) fn state_of(s: &StoredSession, now: u64) -> &'static str {
    let expiry = s.session.expiry;
    if s.revoked {
        "revoked"
    } else if expiry != 0 && now > expiry {
        "expired"
    } else if !s.installed {
        "active (its first call installs it on the account)"
    } else {
        "active"
    }
}

/// The sessions `session list` shows at `now`: the active ones first, each group newest first;
/// with `active_only`, the active ones alone.
fn listed(mut all: Vec<StoredSession>, active_only: bool, now: u64) -> Vec<StoredSession> {
    all.retain(|s| !active_only || is_active(s, now));
    all.sort_by_key(|s| (!is_active(s, now), std::cmp::Reverse(s.created_at)));
    all
}

/// Whether `s` can still send at `now` (not revoked, not expired).
fn is_active(s: &StoredSession, now: u64) -> bool {
    !s.revoked && (s.session.expiry == 0 || now <= s.session.expiry)
}

/// A token amount in whole tokens of `decimals`, with no trailing zeros.
fn units(amount: U256, decimals: u8) -> String {
    match alloy_primitives::utils::format_units(amount, decimals) {
        Ok(text) if text.contains('.') => {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        Ok(text) => text,
        Err(_) => amount.to_string(),
    }
}

/// The decimals each ERC-20 the session may spend says it has (`decimals()`), read through
/// `client`; a token that does not answer is left out (shown in base units).
async fn token_decimals(
    client: &WalletClient,
    s: &StoredSession,
) -> std::collections::HashMap<Address, u8> {
    use sesskey_rpc::EthApiClient;
    let mut out = std::collections::HashMap::new();
    for p in &s.session.permissions {
        let Permission::Erc20TokenTransfer(e) = p else { continue };
        // decimals()
        let call = sesskey_rpc::CallRequest {
            to: e.address,
            data: Bytes::from_static(&[0x31, 0x3c, 0xe5, 0x67]),
        };
        if let Ok(word) = client.call(call, "latest".into()).await {
            let value = (word.len() == 32).then(|| U256::from_be_slice(&word));
            if let Some(d) = value.filter(|v| *v <= U256::from(77u8)) {
                out.insert(e.address, d.to::<u8>());
            }
        }
    }
    out
}

/// Wei as ETH, with no trailing zeros.
fn ether(wei: U256) -> String {
    let text = alloy_primitives::utils::format_ether(wei);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// An expiry as a UTC date and how far it is: `2026-12-06 08:41 UTC (in 59 min)`,
/// `… (expired 3 min ago)`, or `none`.
pub(crate) fn expiry_words(expiry: u64, now: u64) -> String {
    if expiry == 0 {
        return "none".into();
    }
    let span = |secs: u64| match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    };
    let when = if expiry >= now {
        format!("in {}", span(expiry - now))
    } else {
        format!("expired {} ago", span(now - expiry))
    };
    format!("{} ({when})", sesskey_types::utc_date(expiry))
}

/// The session key's password, unless `--plain-key`.
fn key_password(a: &CreateArgs, env: &Env) -> anyhow::Result<Option<String>> {
    if a.plain_key {
        return Ok(None);
    }
    let password = env.get("SESSKEY_PASSWORD").ok_or_else(|| {
        anyhow!("set SESSKEY_PASSWORD to encrypt the session key (or pass --plain-key)")
    })?;
    Ok(Some(password))
}

/// The `wallet_createSession` params of the flags, for `account` and a new key.
fn session_request(
    a: &CreateArgs,
    account: Address,
    key: Address,
) -> anyhow::Result<CreateSessionParams> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    Ok(CreateSessionParams {
        account,
        chain_id: U64::from(a.chain_id),
        expiry_sec: a.expires_in.map(|s| now.saturating_add(s)),
        key: SessionKey { public_key: key, ty: KeyType::Secp256k1 },
        permissions: permissions(a)?,
    })
}

/// Keeps a session key in an encrypted keystore (or, without a password, a 0600 hex file).
fn save_key(
    store: &CliStore,
    id: &SessionId,
    key: &PrivateKeySigner,
    password: Option<&str>,
) -> anyhow::Result<KeyLocation> {
    Ok(LocalKeys::new(password.map(str::to_string)).create(store.dir(), &id.to_string(), key)?)
}

/// Refuses an id the store already holds, or whose key file exists: before anything is signed.
async fn refuse_existing(store: &CliStore, id: &SessionId) -> anyhow::Result<()> {
    match store.db.load(id).await {
        Ok(_) => return Err(sesskey_session::Error::Exists(id.to_string()).into()),
        Err(sesskey_session::Error::UnknownSession(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let (keystore, plain) = key_paths(store, id);
    for f in [keystore, plain] {
        if f.exists() {
            bail!(
                "the server answered session id {id}, whose key file {} exists; refusing to sign or overwrite it",
                f.display()
            );
        }
    }
    Ok(())
}

/// Removes the key file a grant made, when the grant failed after it.
fn remove_key(store: &CliStore, id: &SessionId) {
    let (keystore, plain) = key_paths(store, id);
    for f in [keystore, plain] {
        let _ = std::fs::remove_file(f);
    }
}

/// The owner's account: its SMA-B account with `salt`, or (none) its EIP-7702 account.
fn account_of(owner: Address, salt: Option<U256>) -> Account {
    match salt {
        Some(salt) => Account::SmaB { owner, salt },
        None => Account::Eip7702 { owner },
    }
}

/// Runs `sesskey session …`.
pub(crate) async fn session(cmd: SessionCommand, args: StoreArgs, env: Env) -> anyhow::Result<()> {
    let store = store(&args, &env).await?;
    match cmd {
        SessionCommand::Create(a) => {
            let owner = owner_key(&a.owner, &env)?;
            let account = account_of(owner.address(), a.salt);
            let password = key_password(&a, &env)?;
            let key = PrivateKeySigner::random();
            let request = session_request(&a, account.address(), key.address())?;
            let flow =
                Orchestrator::new(endpoint(a.rpc_url.as_deref(), &env)?, a.policy_id.clone());
            let pending = flow.request_session(&request).await?;
            let id = pending.session_id;
            // Before the owner signs: the id must be new, and the key file is made for it
            // (create-new: an existing file is never overwritten).
            refuse_existing(&store, &id).await?;
            let location = save_key(&store, &id, &key, password.as_deref())?;
            let granted = async {
                let signature =
                    sesskey_signing::sign_request(&owner, &pending.signature_request(), None)
                        .await?;
                let record = StoredSession::new(pending.complete_for(&signature.data, &account)?)
                    .with_key(location.clone());
                store.db.insert(&record).await?;
                anyhow::Ok(record)
            }
            .await;
            match granted {
                Ok(record) => print_session(&record, args.json),
                Err(e) => {
                    remove_key(&store, &id);
                    Err(e)
                }
            }
        }
        SessionCommand::Request { args: a, account } => {
            let account = match account {
                Some(account) => account,
                None => {
                    let owner = owner_key(&a.owner, &env).map_err(|_| {
                        anyhow!("give --account (the owner's account): the owner signs elsewhere")
                    })?;
                    account_of(owner.address(), a.salt).address()
                }
            };
            let password = key_password(&a, &env)?;
            let key = PrivateKeySigner::random();
            let request = session_request(&a, account, key.address())?;
            let flow =
                Orchestrator::new(endpoint(a.rpc_url.as_deref(), &env)?, a.policy_id.clone());
            let pending = flow.request_session(&request).await?;
            let id = pending.session_id;
            refuse_existing(&store, &id).await?;
            let location = save_key(&store, &id, &key, password.as_deref())?;
            let stored = StoredPending { pending: pending.clone(), key: Some(location) };
            if let Err(e) = store.db.save_pending(&stored).await {
                remove_key(&store, &id);
                return Err(e.into());
            }
            let out = serde_json::json!({
                "id": id,
                "typedData": pending.typed_data,
                "rawPayload": pending.raw_payload,
            });
            if args.json {
                outln!("{out}")?;
            } else {
                outln!("requested session {id}; have the owner of {account} sign:")?;
                outln!("{}", serde_json::to_string_pretty(&out)?)?;
                outln!("then: sesskey session complete {id} --signature 0x…")?;
            }
            Ok(())
        }
        SessionCommand::Complete { id, signature, owner, salt } => {
            let stored = match store.db.load_pending(&id).await {
                Err(sesskey_session::Error::UnknownPending(_))
                    if store.dir().join("pending").join(format!("{id}.json")).exists() =>
                {
                    bail!(
                        "{} was written by an earlier sesskey, which kept requests in files; make the request again with `sesskey session request`",
                        store.dir().join("pending").join(format!("{id}.json")).display()
                    )
                }
                Err(sesskey_session::Error::UnknownPending(_)) => {
                    bail!("no pending request {id} (make one with `sesskey session request`)")
                }
                other => other?,
            };
            let session = match (owner, salt) {
                (Some(owner), Some(salt)) => stored
                    .pending
                    .complete_for(&SignatureData::Hex(signature), &Account::SmaB { owner, salt })?,
                _ => stored.pending.complete(&SignatureData::Hex(signature))?,
            };
            let mut record = StoredSession::new(session);
            record.key = stored.key;
            store.db.insert(&record).await?;
            store.db.remove_pending(&id).await?;
            if args.json {
                print_json(&record.session)?;
            } else {
                print_session(&record, false)?;
            }
            Ok(())
        }
        SessionCommand::List { active } => {
            let all = listed(store.db.list().await?, active, unix_now());
            if args.json {
                print_json(&all)?;
            } else if all.is_empty() {
                outln!("no sessions in {}", store.shown)?;
            } else {
                for s in &all {
                    print_session(s, false)?;
                }
            }
            Ok(())
        }
        SessionCommand::Revoke(r) => {
            let RevokeArgs { id, rpc_url, policy_id, owner, signing, salt } = *r;
            let owner = owner_key(&owner, &env)?;
            let account = account_of(owner.address(), salt);
            let flow =
                signing.apply(Orchestrator::new(endpoint(rpc_url.as_deref(), &env)?, policy_id))?;
            let service =
                SessionService::new(flow, store.db.clone()).with_wait(Duration::from_secs(120));
            let outcome = service.revoke_of(&id, &owner, &account).await?;
            let status = outcome.status();
            if args.json {
                outln!(
                    "{}",
                    serde_json::json!({"sessionId": id, "callId": status.id, "status": status.status})
                )?;
            } else {
                outln!("session {id}: uninstall call {}, status {}", status.id, status.status)?;
            }
            if !matches!(outcome, Outcome::Confirmed(_)) {
                bail!("the uninstall did not go through (status {})", status.status);
            }
            Ok(())
        }
        SessionCommand::Show { id, rpc_url } => {
            let mut record = store.load(&id).await?;
            // Without an endpoint given or configured, the store is shown as it is.
            let client = match rpc_url {
                Some(url) => Some(endpoint(Some(&url), &env)?),
                None => endpoint(None, &env).ok(),
            };
            let mut decimals = std::collections::HashMap::new();
            if let Some(client) = client {
                decimals = token_decimals(&client, &record).await;
                let service =
                    SessionService::new(Orchestrator::new(client, None), store.db.clone());
                service.settle_lapsed(&id, unix_now()).await?;
                // With what settling added.
                record = store.load(&id).await?;
            }
            print_session_with(&record, args.json, &decimals)
        }
        SessionCommand::Audit { id, log } => {
            let path = log.unwrap_or_else(|| crate::mcp::audit_path(store.dir(), &id));
            crate::mcp::print_audit(&path, args.json)
        }
        SessionCommand::Remove { id } => {
            let record = store.load(&id).await?;
            store.db.remove(&id).await?;
            if let Some(KeyLocation::Keystore { path } | KeyLocation::PlainFile { path }) =
                record.key
            {
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(e).with_context(|| format!("removing the key file {path}"))
                    }
                    _ => {}
                }
            }
            outln!("removed session {id}")?;
            Ok(())
        }
    }
}

/// Runs `sesskey send`.
pub(crate) async fn send(a: SendArgs, args: StoreArgs, env: Env) -> anyhow::Result<u8> {
    let store = store(&args, &env).await?;
    let key = load_key(&store, &a.session, &env).await?;
    let calls = a.calls_to_send()?;
    let spinner = crate::progress::Spinner::start("sending", !args.json);
    let flow = a
        .signing
        .apply(Orchestrator::new(endpoint(a.rpc_url.as_deref(), &env)?, a.policy_id))?
        .with_progress(spinner.observer());
    let service = SessionService::new(flow, store.db.clone()).with_wait(Duration::from_secs(120));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let signals = tokio::spawn(stop_on_signals(stop_tx));
    let sent = service.send_stored_until(&a.session, &key, calls, now, stop).await;
    signals.abort();
    spinner.finish();
    let sent = match sent {
        Err(sesskey_session::Error::Interrupted) => {
            eprintln!(
                "interrupted before anything was signed: nothing was sent; the session's budget and nonce key were given back"
            );
            return Ok(130);
        }
        other => other?,
    };
    let status = sent.outcome.status();
    if args.json {
        outln!(
            "{}",
            serde_json::json!({"callId": sent.call_id, "status": status.status, "receipts": status.receipts})
        )?;
    } else {
        outln!("sent: call {}", sent.call_id.0)?;
        outln!("status {} ({:?})", status.status, status.status.kind())?;
    }
    Ok(if matches!(sent.outcome, Outcome::Confirmed(_)) { 0 } else { 1 })
}

/// SIGINT or SIGTERM: the first asks the send to stop where that loses nothing (before the op
/// is signed: everything given back; once sent: followed to its final status and settled); a
/// second leaves at once (exit 130; what the call holds lapses with its lease).
async fn stop_on_signals(stop: tokio::sync::watch::Sender<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) =
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return;
    };
    let mut first = true;
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        if !first {
            std::process::exit(130);
        }
        first = false;
        eprintln!(
            "\nstopping: before the op is signed everything is given back; once it is sent, sesskey waits for its final status to settle it (signal again to leave now)"
        );
        let _ = stop.send(true);
    }
}

/// Runs `sesskey status`.
pub(crate) async fn status(a: StatusArgs, json: bool, env: Env) -> anyhow::Result<u8> {
    let client = endpoint(a.rpc_url.as_deref(), &env)?;
    let id = CallId(a.call_id);
    let status = if a.wait {
        let spinner = crate::progress::Spinner::start("waiting", !json);
        let outcome = Orchestrator::new(client, None)
            .with_progress(spinner.observer())
            .wait_for_status(&id, Duration::from_secs(120))
            .await;
        spinner.finish();
        outcome?.status().clone()
    } else {
        client.get_calls_status(id).await.map_err(sesskey_rpc::Error::from)?
    };
    if json {
        outln!("{}", serde_json::to_string(&status)?)?;
    } else {
        outln!("status {} ({:?})", status.status, status.status.kind())?;
    }
    Ok(match status.status.kind() {
        StatusKind::Failure => 1,
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_read_in_words_and_list_active_first() {
        assert_eq!(expiry_words(0, 5), "none");
        assert_eq!(expiry_words(1_800_003_540, 1_800_000_000), "2027-01-15 08:59 UTC (in 59 min)");
        assert_eq!(
            expiry_words(1_800_000_000, 1_800_000_180),
            "2027-01-15 08:00 UTC (expired 3 min ago)"
        );
        assert_eq!(ether(U256::from(10u64.pow(14))), "0.0001");
        let session = |n: u8, expiry: u64, revoked: bool| {
            let mut s = StoredSession::new(sesskey_session::Session {
                session_id: SessionId::repeat_byte(n),
                chain_id: U64::from(31337),
                account: Address::repeat_byte(1),
                session_key: Address::repeat_byte(2),
                entity_id: 1,
                expiry,
                permissions: vec![Permission::Root],
                owner_signature: Default::default(),
            });
            s.revoked = revoked;
            // Made in the order of their numbers.
            s.created_at = u64::from(n);
            s
        };
        let now = 1_000;
        let all = vec![
            session(1, 500, false),   // expired
            session(2, 2_000, false), // active
            session(3, 0, true),      // revoked
            session(4, 0, false),     // active, no expiry
            session(5, 3_000, false), // active, the newest
        ];
        let ids =
            |v: Vec<StoredSession>| v.iter().map(|s| s.session.session_id[0]).collect::<Vec<_>>();
        assert_eq!(ids(listed(all.clone(), false, now)), vec![5, 4, 2, 3, 1]);
        assert_eq!(ids(listed(all, true, now)), vec![5, 4, 2]);
        assert_eq!(ether(U256::from(2) * U256::from(10u64.pow(18))), "2");
    }
}

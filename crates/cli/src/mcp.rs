//! `sesskey mcp`: a Model Context Protocol server that lets an agent act through one saved
//! session without ever holding its key, and `sesskey session audit`, which prints what it did.
//!
//! The key is unlocked when the server starts (password from `SESSKEY_PASSWORD` or
//! `--password-file`, never through a tool) and stays in this process. Every tool answer is JSON
//! whose strings are made terminal-safe (control and bidi characters escaped) and whose
//! signatures are redacted; no answer, error or log line holds a key. A send goes through the
//! same [`SessionService`] as `sesskey send`: pre-flighted by the policy engine before anything
//! is prepared, the prepared op verified before the key signs it, the store's budgets shared
//! exactly with any other worker on the session.

use crate::calls::{CallSpec, Signature};
use crate::demo::Env;
use crate::sessions::{self, CliStore, SigningArgs};
use alloy_primitives::{Address, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use anyhow::{anyhow, bail, Context as _};
use clap::Args;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerInfo};
use rmcp::{schemars, tool, tool_handler, tool_router, ErrorData, ServerHandler, ServiceExt};
use serde::Deserialize;
use serde_json::{json, Value};
use sesskey_rpc::{WalletApiClient, WalletClient};
use sesskey_session::{Orchestrator, Outcome, SessionService, SessionStore, SqlStore};
use sesskey_types::*;
use std::collections::VecDeque;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most calls one `send_calls` or `simulate_calls` takes.
const MAX_CALLS_PER_OP: usize = 16;

/// Flags of `sesskey mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// The session the agent acts through.
    #[arg(long, value_parser = sessions::parse_session_id)]
    pub session: SessionId,
    /// The Wallet API endpoint (default: Alchemy's, when `ALCHEMY_API_KEY` is set).
    #[arg(long)]
    pub rpc_url: Option<String>,
    /// A paymaster policy id for gas.
    #[arg(long)]
    pub policy_id: Option<String>,
    /// Serve MCP's streamable HTTP on this loopback address (e.g. `127.0.0.1:8765`, path
    /// `/mcp`) instead of stdio.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// The most native value one send may move, all its calls together: wei (`1000`) or with a
    /// unit (`0.01ether`).
    #[arg(long, value_parser = crate::calls::parse_value)]
    pub max_value: Option<U256>,
    /// The most `send_calls` the agent may make in any 60 seconds.
    #[arg(long)]
    pub max_calls: Option<u32>,
    /// Let the agent simulate only: `send_calls` is refused, everything else answers.
    #[arg(long)]
    pub allow_simulate_only: bool,
    /// A file holding the password of the session key's keystore (default: `SESSKEY_PASSWORD`).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The audit log, JSON lines (default: `audit/<session id>.jsonl` in the session folder).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// What the session key accepts to sign.
    #[command(flatten)]
    pub signing: SigningArgs,
}

/// The owner's rules on top of the session's on-chain permissions.
#[derive(Debug)]
struct Guardrails {
    max_value: Option<U256>,
    max_calls: Option<u32>,
    simulate_only: bool,
    /// When each `send_calls` of the last minute was let through.
    recent: Mutex<VecDeque<Instant>>,
}

impl Guardrails {
    /// Why `calls` may not be sent now, naming the rule; else the send is counted.
    fn admit(&self, calls: &[Call]) -> Result<(), String> {
        if self.simulate_only {
            return Err(
                "refused by --allow-simulate-only: this server only simulates; use simulate_calls"
                    .into(),
            );
        }
        if let Some(max) = self.max_value {
            // All the op's calls together: splitting a value into several calls gains nothing.
            let total = calls.iter().try_fold(U256::ZERO, |t, c| t.checked_add(c.value_or_zero()));
            match total {
                Some(total) if total <= max => {}
                Some(total) => {
                    return Err(format!(
                        "refused by --max-value: these calls send {total} wei, more than the {max} wei one send may move"
                    ))
                }
                None => return Err("refused by --max-value: the values add up past 2^256".into()),
            }
        }
        if let Some(max) = self.max_calls {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            while recent.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
            {
                recent.pop_front();
            }
            if recent.len() >= max as usize {
                let wait = recent
                    .front()
                    .map_or(60, |t| 60u64.saturating_sub(now.duration_since(*t).as_secs()));
                return Err(format!(
                    "refused by --max-calls: at most {max} send_calls per minute; try again in {wait} s"
                ));
            }
            recent.push_back(now);
        }
        Ok(())
    }

    fn describe(&self) -> Value {
        json!({
            "maxValuePerCallWei": self.max_value.map(|v| v.to_string()),
            "maxSendsPerMinute": self.max_calls,
            "simulateOnly": self.simulate_only,
        })
    }
}

/// The audit log: one JSON line per tool call, on disk before the answer leaves.
#[derive(Debug)]
struct Audit {
    file: Mutex<std::fs::File>,
}

impl Audit {
    fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            sesskey_session::make_private_dir(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file =
            options.open(path).with_context(|| format!("the audit log {}", path.display()))?;
        Ok(Self { file: Mutex::new(file) })
    }

    /// Appends the line of a call of `tool` with `arguments` that answered `body` (its
    /// `outcome`, `callId` and `reason`).
    fn record(&self, tool: &str, arguments: &Value, body: &Value) -> Result<(), ErrorData> {
        let line = json!({
            "time": sessions::unix_now(),
            "tool": tool,
            "arguments": arguments,
            "outcome": body["outcome"],
            "callId": body["callId"],
            "reason": body["reason"],
        });
        let line = sesskey_rpc::redact::redact_json(&line.to_string());
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(format!("{line}\n").as_bytes()).and_then(|()| file.sync_data()).map_err(
            |e| ErrorData::internal_error(format!("the audit log could not be written: {e}"), None),
        )
    }
}

/// What a tool answers: its body, which carries its outcome (and, when it has them, its
/// `callId` and `reason`) to the model and to the audit log.
struct Answer {
    /// `ok`, `refused` (nothing was signed) or `failed`.
    outcome: &'static str,
    body: Value,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self { outcome: "ok", body }
    }

    fn refused(reason: String) -> Self {
        Self {
            outcome: "refused",
            body: json!({ "refused": true, "reason": reason, "signed": false }),
        }
    }

    fn failed(reason: String) -> Self {
        Self { outcome: "failed", body: json!({ "failed": true, "reason": reason }) }
    }

    fn into_result(self) -> CallToolResult {
        let mut body = self.body;
        body["outcome"] = json!(self.outcome);
        let body = model_safe(body);
        if self.outcome == "ok" {
            CallToolResult::structured(body)
        } else {
            CallToolResult::structured_error(body)
        }
    }
}

/// `v` with every string made terminal-safe and every signature redacted: what a contract or a
/// server chose reaches the model as inert text.
fn model_safe(v: Value) -> Value {
    fn walk(v: Value) -> Value {
        match v {
            Value::String(s) => Value::String(crate::terminal_safe(&s).into_owned()),
            Value::Array(a) => Value::Array(a.into_iter().map(walk).collect()),
            Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, walk(v))).collect()),
            other => other,
        }
    }
    let redacted = sesskey_rpc::redact::redact_json(&v.to_string());
    walk(serde_json::from_str(&redacted).unwrap_or(v))
}

/// One call, as the CLI's `--call` takes it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallInput {
    /// The contract (or account) called, a 0x-prefixed 20-byte address.
    pub to: String,
    /// Native value sent with the call: wei as a decimal string ("1000") or with a unit
    /// ("20gwei", "0.01ether"). Default 0.
    #[serde(default)]
    pub value: Option<String>,
    /// A function signature such as "transfer(address,uint256)" or "bump(uint256)"; give `args`
    /// with it. Leave out to send `data` (or nothing).
    #[serde(default)]
    pub sig: Option<String>,
    /// The function's arguments as strings, in order ("0xabc…", "100", "true").
    #[serde(default)]
    pub args: Vec<String>,
    /// Raw call data, 0x-hex, instead of `sig` and `args`.
    #[serde(default)]
    pub data: Option<String>,
}

impl CallInput {
    fn to_call(&self) -> Result<Call, String> {
        let to =
            self.to.trim().parse::<Address>().map_err(|e| format!("`to` {:?}: {e}", self.to))?;
        let data = match &self.data {
            Some(d) => {
                Some(d.trim().parse::<Bytes>().map_err(|e| format!("`data`: not 0x-hex: {e}"))?)
            }
            None => None,
        };
        let spec = CallSpec {
            to,
            value: self.value.clone(),
            data,
            sig: self.sig.clone(),
            args: self.args.clone(),
        };
        spec.to_call()
    }
}

/// `send_calls` and `simulate_calls`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct CallsInput {
    /// The calls, made in order in one operation, all or nothing (1 to 16).
    pub calls: Vec<CallInput>,
}

/// `call_status`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallStatusInput {
    /// The call id `send_calls` answered (0x-hex).
    pub call_id: String,
}

/// `read_contract`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct ReadInput {
    /// The contract read, a 0x-prefixed address.
    pub to: String,
    /// The view function with its return types: "balanceOf(address) returns (uint256)".
    pub sig: String,
    /// Its arguments as strings, in order.
    #[serde(default)]
    pub args: Vec<String>,
}

/// `explain_calldata`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct ExplainInput {
    /// The call data, 0x-hex.
    pub data: String,
    /// The function signature it was made for, e.g. "transfer(address,uint256)"; without it
    /// only the selector is told.
    #[serde(default)]
    pub sig: Option<String>,
}

/// `session_info` takes nothing.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct NoInput {}

struct Inner {
    id: SessionId,
    key: PrivateKeySigner,
    service: SessionService<WalletClient, SqlStore>,
    client: WalletClient,
    guard: Guardrails,
    audit: Audit,
}

/// The MCP server: one session's tools.
#[derive(Clone)]
pub struct McpServer {
    inner: Arc<Inner>,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer").field("session", &self.inner.id).finish_non_exhaustive()
    }
}

fn parse_calls(input: &CallsInput) -> Result<Vec<Call>, String> {
    if input.calls.is_empty() || input.calls.len() > MAX_CALLS_PER_OP {
        return Err(format!("give 1 to {MAX_CALLS_PER_OP} calls, not {}", input.calls.len()));
    }
    input
        .calls
        .iter()
        .enumerate()
        .map(|(i, c)| c.to_call().map_err(|e| format!("call {i}: {e}")))
        .collect()
}

/// Whether a send error came before anything was signed (a refusal) or after.
fn is_refusal(e: &sesskey_session::Error) -> bool {
    use sesskey_session::Error as E;
    matches!(
        e,
        E::Preflight(_) | E::Revoked(_) | E::Mismatch { .. } | E::Account(_) | E::UnknownSession(_)
    )
}

/// The revert reason an EntryPoint's `UserOperationRevertReason` log carries, decoded.
fn revert_reason(status: &CallsStatus) -> Option<String> {
    use alloy_dyn_abi::DynSolType;
    let topic =
        alloy_primitives::keccak256("UserOperationRevertReason(bytes32,address,uint256,bytes)");
    let receipt = status.receipts.as_ref()?.first()?;
    let log = receipt.logs.iter().find(|l| l.topics.first() == Some(&topic))?;
    let ty = DynSolType::Tuple(vec![DynSolType::Uint(256), DynSolType::Bytes]);
    let decoded = ty.abi_decode_params(&log.data).ok()?;
    let reason = decoded.as_tuple()?.get(1)?.as_bytes()?.to_vec();
    Some(sesskey_emulator::describe_revert(&reason).unwrap_or_else(|| "no reason given".into()))
}

fn status_json(call_id: &CallId, status: &CallsStatus) -> Value {
    let receipt = status.receipts.as_ref().and_then(|r| r.first());
    json!({
        "callId": call_id.0,
        "status": status.status.to_string(),
        "statusKind": format!("{:?}", status.status.kind()),
        "transactionHash": receipt.map(|r| r.transaction_hash),
        "blockNumber": receipt.map(|r| r.block_number.to::<u64>()),
        "gasUsed": receipt.map(|r| r.gas_used.to_string()),
        "revertReason": revert_reason(status),
    })
}

fn spend_json(s: &sesskey_account::Spend) -> Value {
    json!({
        "nativeWei": s.native.to_string(),
        "gasWei": s.gas.to_string(),
        "erc20": s.erc20.iter().map(|(t, v)| json!({"token": t, "amount": v.to_string()})).collect::<Vec<_>>(),
    })
}

/// A permission in words.
fn permission_words(p: &Permission) -> String {
    let sels = |f: &[Selector]| f.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ");
    match p {
        Permission::Root => "anything the account can do (root)".into(),
        Permission::NativeTokenTransfer(n) => {
            format!("send at most {} wei of the native token in all", n.allowance)
        }
        Permission::Erc20TokenTransfer(e) => {
            format!(
                "transfer or approve at most {} base units of the ERC-20 {} in all",
                e.allowance, e.address
            )
        }
        Permission::GasLimit(g) => format!("spend at most {} wei on gas in all", g.limit),
        Permission::ContractAccess(c) => format!("call any function of {}", c.address),
        Permission::AccountFunctions(f) => {
            format!("call the account's own functions {}", sels(&f.functions))
        }
        Permission::FunctionsOnAllContracts(f) => {
            format!("call the functions {} on any contract", sels(&f.functions))
        }
        Permission::FunctionsOnContract(f) => {
            format!("call the functions {} of {}", sels(&f.functions), f.address)
        }
    }
}

#[tool_router]
impl McpServer {
    /// A server for `id`, signing with `key`.
    fn new(inner: Inner) -> Self {
        Self { inner: Arc::new(inner), tool_router: Self::tool_router() }
    }

    #[tool(
        description = "What this session may do: the smart account it acts for, the chain, the permissions in words, the expiry, and each budget's spent and left amounts (wei, or a token's base units). Also the extra limits the owner set on this server (max value per call, sends per minute, simulate only). Read this first."
    )]
    async fn session_info(
        &self,
        Parameters(_): Parameters<NoInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let answer = async {
            match self.inner.service.store().load(&self.inner.id).await {
                Ok(s) => Answer::ok(self.info(&s)),
                Err(e) => Answer::failed(e.to_string()),
            }
        }
        .await;
        Ok(answer.into_result())
    }

    #[tool(
        description = "Send one or more calls from the smart account, signed by the session key this server holds (you never see it), in one operation, all or nothing. Each call: `to`, and `sig` with `args` (\"transfer(address,uint256)\", [\"0x…\", \"100\"]) or raw `data`; `value` in wei or with a unit (\"0.01ether\"). Checked against the session's permissions and budgets and the owner's limits before anything is signed; a refusal says which rule refused and nothing is signed. Otherwise the call is sent and followed to its final status: the answer has the call id, the status, the transaction hash, the gas used and, if it reverted, the reason."
    )]
    async fn send_calls(
        &self,
        Parameters(input): Parameters<CallsInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let answer = async {
            let calls = match parse_calls(&input) {
                Ok(c) => c,
                Err(e) => return Answer::refused(e),
            };
            if let Err(rule) = self.inner.guard.admit(&calls) {
                return Answer::refused(rule);
            }
            let now = sessions::unix_now();
            let sent =
                self.inner.service.send_stored(&self.inner.id, &self.inner.key, calls, now).await;
            match sent {
                Ok(sent) => {
                    let mut body = status_json(&sent.call_id, sent.outcome.status());
                    body["confirmed"] = json!(matches!(sent.outcome, Outcome::Confirmed(_)));
                    body["charged"] = spend_json(&sent.spent);
                    if matches!(sent.outcome, Outcome::Confirmed(_)) {
                        return Answer::ok(body);
                    }
                    let status = sent.outcome.status();
                    body["reason"] = json!(revert_reason(status)
                        .unwrap_or_else(|| format!("status {}", status.status)));
                    Answer { outcome: "failed", body }
                }
                Err(e) if is_refusal(&e) => Answer::refused(e.to_string()),
                Err(e) => Answer::failed(e.to_string()),
            }
        }
        .await;
        Ok(answer.into_result())
    }

    #[tool(
        description = "Prepare calls without signing or sending them: would the session's permissions, budgets and the server accept them, and what would the operation cost at most (gas limits and the most it could charge, in wei). Same call form as send_calls. Nothing is signed, nothing is spent."
    )]
    async fn simulate_calls(
        &self,
        Parameters(input): Parameters<CallsInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let answer = async {
            let calls = match parse_calls(&input) {
                Ok(c) => c,
                Err(e) => return Answer::refused(e),
            };
            match self.simulate(calls).await {
                Ok(body) => Answer::ok(body),
                Err(e) if is_refusal(&e) => {
                    let mut a = Answer::refused(e.to_string());
                    a.body["wouldPass"] = json!(false);
                    a
                }
                Err(e) => Answer::failed(e.to_string()),
            }
        }
        .await;
        Ok(answer.into_result())
    }

    #[tool(
        description = "The status of a call this session sent, by the call id send_calls answered: pending, confirmed, or failed, with the transaction hash, gas used and a revert reason."
    )]
    async fn call_status(
        &self,
        Parameters(input): Parameters<CallStatusInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let answer = async {
            let id = match input.call_id.trim().parse::<Bytes>() {
                Ok(id) => CallId(id),
                Err(e) => return Answer::refused(format!("`callId` is not 0x-hex: {e}")),
            };
            match self.inner.client.get_calls_status(id.clone()).await {
                Ok(status) => Answer::ok(status_json(&id, &status)),
                Err(e) => Answer::failed(sesskey_rpc::Error::from(e).to_string()),
            }
        }
        .await;
        Ok(answer.into_result())
    }

    #[tool(
        description = "Read a contract with eth_call (no transaction, nothing signed or spent): `to`, the view function with its return types in `sig` (\"balanceOf(address) returns (uint256)\") and its `args`. Answers the decoded return values as strings."
    )]
    async fn read_contract(
        &self,
        Parameters(input): Parameters<ReadInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let answer = async {
            match self.read(&input).await {
                Ok(body) => Answer::ok(body),
                Err(e) => Answer::failed(e),
            }
        }
        .await;
        Ok(answer.into_result())
    }

    #[tool(
        description = "Decode call data: its 4-byte selector and, given the function signature it was made for (`sig`), its arguments. Reads nothing, signs nothing."
    )]
    async fn explain_calldata(
        &self,
        Parameters(input): Parameters<ExplainInput>,
    ) -> Result<CallToolResult, ErrorData> {
        let answer = async {
            let data = match input.data.trim().parse::<Bytes>() {
                Ok(d) => d,
                Err(e) => return Answer::refused(format!("`data` is not 0x-hex: {e}")),
            };
            let selector = data.get(..4).map(alloy_primitives::hex::encode_prefixed);
            let Some(sig) = &input.sig else {
                return Answer::ok(json!({ "selector": selector, "bytes": data.len() }));
            };
            match Signature::parse(sig).and_then(|s| s.decode(&data).map(|a| (s, a))) {
                Ok((s, args)) => Answer::ok(
                    json!({ "selector": selector, "function": s.canonical(), "args": args }),
                ),
                Err(e) => Answer::refused(e),
            }
        }
        .await;
        Ok(answer.into_result())
    }
}

impl McpServer {
    fn info(&self, s: &sesskey_session::StoredSession) -> Value {
        let now = sessions::unix_now();
        let x = &s.session;
        let policy = x.policy();
        let mut budgets = vec![];
        if let Some(allowance) = policy.native_allowance() {
            budgets.push(json!({
                "kind": "native", "unit": "wei", "allowance": allowance.to_string(),
                "spent": s.spent_native.to_string(),
                "left": allowance.saturating_sub(s.spent_native).to_string(),
            }));
        }
        for p in &x.permissions {
            match p {
                Permission::Erc20TokenTransfer(e) => {
                    let spent = s.spent_erc20.iter().find(|(t, _)| *t == e.address).map(|(_, v)| *v).unwrap_or_default();
                    budgets.push(json!({
                        "kind": "erc20", "token": e.address, "unit": "base units",
                        "allowance": e.allowance.to_string(), "spent": spent.to_string(),
                        "left": e.allowance.saturating_sub(spent).to_string(),
                    }));
                }
                Permission::GasLimit(g) => budgets.push(json!({
                    "kind": "gas", "unit": "wei", "allowance": g.limit.to_string(),
                    "spent": s.spent_gas.to_string(), "left": g.limit.saturating_sub(s.spent_gas).to_string(),
                })),
                _ => {}
            }
        }
        json!({
            "session": x.session_id.to_string(),
            "account": x.account,
            "chainId": x.chain_id.to::<u64>(),
            "sessionKey": x.session_key,
            "state": sessions::state_of(s, now),
            "expiry": sessions::expiry_words(x.expiry, now),
            "expiryUnix": x.expiry,
            "permissions": x.permissions.iter().map(permission_words).collect::<Vec<_>>(),
            "budgets": budgets,
            "ownerLimits": self.inner.guard.describe(),
        })
    }

    async fn simulate(&self, calls: Vec<Call>) -> sesskey_session::Result<Value> {
        let record = self.inner.service.store().load(&self.inner.id).await?;
        if record.revoked {
            return Err(sesskey_session::Error::Revoked(self.inner.id.to_string()));
        }
        let (prepared, charged) = (self.inner.service.orchestrator())
            .prepare_checked(
                &record.session,
                self.inner.key.address(),
                calls,
                &record.spent(),
                sessions::unix_now(),
            )
            .await?;
        let d = &prepared.op.data;
        Ok(json!({
            "wouldPass": true,
            "sponsored": d.paymaster.is_some(),
            "maxGasCostWei": prepared.max_gas_cost.to_string(),
            "gas": {
                "callGasLimit": d.call_gas_limit.to_string(),
                "verificationGasLimit": d.verification_gas_limit.to_string(),
                "preVerificationGas": d.pre_verification_gas.to_string(),
                "maxFeePerGas": d.max_fee_per_gas.to_string(),
            },
            "wouldCharge": spend_json(&charged),
        }))
    }

    async fn read(&self, input: &ReadInput) -> Result<Value, String> {
        use sesskey_rpc::EthApiClient;
        let to =
            input.to.trim().parse::<Address>().map_err(|e| format!("`to` {:?}: {e}", input.to))?;
        let sig = Signature::parse(&input.sig)?;
        let data = sig.encode(&input.args)?;
        let out = self
            .inner
            .client
            .call(sesskey_rpc::CallRequest { to, data }, "latest".into())
            .await
            .map_err(|e| sesskey_rpc::Error::from(e).to_string())?;
        let values = sig.decode_output(&out)?;
        Ok(json!({ "function": sig.canonical(), "returns": values, "raw": out }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerInfo {
        ServerInfo::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("sesskey", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tools to act for a smart account through one session key, within limits its owner set. Call session_info first: it says what you may do and what is left of each budget. simulate_calls before send_calls when unsure. Refusals name the rule that refused; nothing is signed then.",
            )
    }

    /// The router's call, and its audit line, on disk before the answer leaves: every call is
    /// in the log, one that never reached a tool (arguments that do not fit its schema, a tool
    /// that does not exist) too.
    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tool = request.name.to_string();
        let arguments = request.arguments.clone().map_or_else(|| json!({}), Value::Object);
        let context = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
        let result = self.tool_router.call(context).await;
        // Every tool answers structured content; without it (arguments that do not fit the
        // schema), or an error (no such tool), the router refused the call.
        let body = match &result {
            Ok(r) => r.structured_content.clone().unwrap_or_else(|| {
                let text = r.content.iter().find_map(|c| c.as_text()).map(|t| t.text.clone());
                let reason = format!("never reached a tool: {}", text.unwrap_or_default());
                json!({ "outcome": "refused", "reason": reason })
            }),
            Err(e) => {
                let reason = format!("never reached a tool: {}", e.message);
                json!({ "outcome": "refused", "reason": reason })
            }
        };
        self.inner.audit.record(&tool, &arguments, &body)?;
        result
    }
}

/// The session key's password: `--password-file`, else `SESSKEY_PASSWORD`.
fn password(a: &McpArgs, env: &Env) -> anyhow::Result<Option<String>> {
    match &a.password_file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("--password-file {}", f.display()))?;
            Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()))
        }
        None => Ok(env.get("SESSKEY_PASSWORD")),
    }
}

impl McpServer {
    /// The server `sesskey mcp` runs for `a`: the store opened, the session key unlocked
    /// (`--password-file`, else `SESSKEY_PASSWORD`), the audit log opened; and the audit log's
    /// path. Serve it on any rmcp transport (`server.serve(transport)`), as `sesskey mcp` does
    /// on stdio.
    pub async fn open(
        a: &McpArgs,
        store_args: &sessions::StoreArgs,
        env: &Env,
    ) -> anyhow::Result<(Self, PathBuf)> {
        let store: CliStore = sessions::store(store_args, env).await?;
        let key = sessions::load_key_with(&store, &a.session, password(a, env)?).await?;
        let record = store.load(&a.session).await?;
        if key.address() != record.session.session_key {
            bail!("the key unlocked for session {} is not its session key", a.session);
        }
        let audit_path = a.audit_log.clone().unwrap_or_else(|| audit_path(store.dir(), &a.session));
        let client = sessions::endpoint(a.rpc_url.as_deref(), env)?;
        let flow = a.signing.apply(Orchestrator::new(client.clone(), a.policy_id.clone()))?;
        let service =
            SessionService::new(flow, store.db.clone()).with_wait(Duration::from_secs(120));
        let server = Self::new(Inner {
            id: a.session,
            key,
            service,
            client,
            guard: Guardrails {
                max_value: a.max_value,
                max_calls: a.max_calls,
                simulate_only: a.allow_simulate_only,
                recent: Mutex::default(),
            },
            audit: Audit::open(&audit_path)?,
        });
        Ok((server, audit_path))
    }
}

/// Runs `sesskey mcp`.
pub(crate) async fn mcp(
    a: McpArgs,
    store_args: sessions::StoreArgs,
    env: Env,
) -> anyhow::Result<u8> {
    if let Some(addr) = a.http {
        if !addr.ip().is_loopback() {
            bail!("--http {addr}: MCP over HTTP is served on loopback only (127.0.0.1 or [::1]): an agent's tools must not be reachable from the network");
        }
    }
    let (server, audit_path) = McpServer::open(&a, &store_args, &env).await?;
    match a.http {
        None => {
            eprintln!(
                "sesskey mcp: session {} over stdio; audit log {}",
                a.session,
                audit_path.display()
            );
            let running = server
                .serve(rmcp::transport::stdio())
                .await
                .map_err(|e| anyhow!("MCP over stdio: {e}"))?;
            running.waiting().await.map_err(|e| anyhow!("MCP over stdio: {e}"))?;
            Ok(0)
        }
        Some(addr) => serve_http(server, addr, &audit_path).await.map(|()| 0),
    }
}

async fn serve_http(agent: McpServer, addr: SocketAddr, audit: &Path) -> anyhow::Result<()> {
    use rmcp::transport::streamable_http_server::{
        session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    };
    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("--http {addr}"))?;
    let bound = listener.local_addr()?;
    let service = StreamableHttpService::new(
        move || Ok(agent.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    eprintln!("sesskey mcp: listening on http://{bound}/mcp; audit log {}", audit.display());
    loop {
        let (stream, _) = listener.accept().await?;
        let service = service.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper_util::service::TowerToHyperService::new(service);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
        });
    }
}

/// Where `sesskey mcp` keeps the audit log of `id` by default.
pub(crate) fn audit_path(dir: &Path, id: &SessionId) -> PathBuf {
    dir.join("audit").join(format!("{id}.jsonl"))
}

/// `sesskey session audit ID`: the audit log's lines (text: one per tool call; `--json`: the
/// lines as written).
pub(crate) fn print_audit(path: &Path, json_out: bool) -> anyhow::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "no audit log at {}: `sesskey mcp` has not served this session here",
                path.display()
            )
        }
        Err(e) => return Err(e).with_context(|| path.display().to_string()),
    };
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            bail!("{} line {}: not a JSON line (the log is damaged there)", path.display(), n + 1);
        };
        if json_out {
            outln!("{}", crate::terminal_safe(line))?;
            continue;
        }
        let time = v["time"].as_u64().map(sesskey_types::utc_date).unwrap_or_default();
        let mut words = format!(
            "{time}  {:<16} {:<8}",
            v["tool"].as_str().unwrap_or("?"),
            v["outcome"].as_str().unwrap_or("?")
        );
        if let Some(id) = v["callId"].as_str() {
            words.push_str(&format!(" call {id}"));
        }
        if let Some(r) = v["reason"].as_str() {
            words.push_str(&format!("  {r}"));
        }
        words.push_str(&format!("  {}", v["arguments"]));
        outln!("{}", crate::terminal_safe(&words))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a contract or a server chose reaches the model inert: control and bidi characters
    /// escaped, signatures redacted, the rest as it was.
    #[test]
    fn answers_are_model_safe() {
        let signature = format!("0x{}", "ab".repeat(65));
        let v = model_safe(json!({
            "reason": "reverted: \u{1b}]52;c;ZXZpbA==\u{7} pay \u{202e}0001",
            "nested": [{"signature": signature}],
            "amount": 5,
        }));
        assert_eq!(v["reason"], "reverted: \\u001b]52;c;ZXZpbA==\\u0007 pay \\u202e0001");
        assert!(!v.to_string().contains(&"ab".repeat(65)), "{v}");
        assert_eq!(v["amount"], 5);
    }

    /// The owner's limits, each refusal naming its rule; a refused send is not counted.
    #[test]
    fn guardrails_name_the_rule_that_refused() {
        let call = |wei: u64| Call { to: Address::ZERO, data: None, value: Some(U256::from(wei)) };
        let g = Guardrails {
            max_value: Some(U256::from(10)),
            max_calls: Some(2),
            simulate_only: false,
            recent: Mutex::default(),
        };
        assert!(g
            .admit(&[call(11)])
            .unwrap_err()
            .starts_with("refused by --max-value: these calls send 11 wei"));
        // Split into several calls: the same total, the same refusal.
        assert!(g.admit(&[call(6), call(5)]).unwrap_err().starts_with("refused by --max-value"));
        g.admit(&[call(10)]).unwrap();
        g.admit(&[call(1), call(2)]).unwrap();
        assert!(g.admit(&[call(1)]).unwrap_err().starts_with("refused by --max-calls"));
        let only = Guardrails {
            simulate_only: true,
            max_value: None,
            max_calls: None,
            recent: Mutex::default(),
        };
        assert!(only
            .admit(&[call(0)])
            .unwrap_err()
            .starts_with("refused by --allow-simulate-only"));
    }
}

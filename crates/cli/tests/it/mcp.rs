//! `sesskey mcp` driven by rmcp's own MCP client (not ours), over stdio and over streamable
//! HTTP, against a `sesskey serve`: the tools and their schemas; a send within the permissions
//! (confirmed, the contract's state changed, the budget spent); refusals (outside the
//! permissions, over the budget, over `--max-value`, past `--max-calls`, after revocation), each
//! with its rule, nothing sent, an audit line; a key that is not unlocked; no key or signature in
//! any answer, log line or audit line.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};
use std::process::{Command, Stdio};

const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";
const PASSWORD: &str = "an agent never sees this";
/// anvil's account 3: deploys the Counter.
const DEPLOYER: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const OWNER: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

struct World {
    server: std::process::Child,
    url: String,
    home: tempfile::TempDir,
    id: String,
    counter: Address,
}

impl Drop for World {
    fn drop(&mut self) {
        self.server.kill().ok();
        self.server.wait().ok();
    }
}

fn sesskey(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sesskey"))
        .args(args)
        .env_clear()
        .env("SESSKEY_HOME", home)
        .env("OWNER_PRIVATE_KEY", OWNER)
        .env("SESSKEY_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

async fn rpc(url: &str) -> jsonrpsee::http_client::HttpClient {
    jsonrpsee::http_client::HttpClientBuilder::default().build(url).unwrap()
}

/// Deploys `fixtures/contracts/Counter.json` with a signed transaction: its address.
async fn deploy_counter(url: &str) -> Address {
    let artifact: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/contracts/Counter.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let code: Bytes = artifact["bytecode"].as_str().unwrap().parse().unwrap();
    let deployer: PrivateKeySigner = DEPLOYER.parse().unwrap();
    let client = rpc(url).await;
    let nonce: U64 = client
        .request("eth_getTransactionCount", rpc_params![deployer.address(), "latest"])
        .await
        .unwrap();
    let tx = TxEip1559 {
        chain_id: 31337,
        nonce: nonce.to(),
        gas_limit: 3_000_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to: alloy_primitives::TxKind::Create,
        input: code,
        ..Default::default()
    };
    let sig = deployer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let raw = Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718());
    let hash: B256 = client.request("eth_sendRawTransaction", rpc_params![raw]).await.unwrap();
    let receipt: Value =
        client.request("eth_getTransactionReceipt", rpc_params![hash]).await.unwrap();
    receipt["contractAddress"].as_str().unwrap().parse().unwrap()
}

/// A server, a Counter, the owner delegated, and a session on the Counter with 1000 wei of
/// native allowance whose key is in a keystore.
async fn world() -> World {
    let args: [&std::ffi::OsStr; 4] =
        ["--addr".as_ref(), "127.0.0.1:0".as_ref(), "--policy-id".as_ref(), POLICY.as_ref()];
    let (server, url, _) = crate::serve(&args);
    let counter = deploy_counter(&url).await;
    let home = tempfile::tempdir().unwrap();
    let endpoint = ["--rpc-url", url.as_str(), "--policy-id", POLICY, "--chain-id", "31337"];
    let out = sesskey(home.path(), &[&["delegate"][..], &endpoint[..]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let counter_text = counter.to_string();
    let create = [
        &["session", "create"][..],
        &endpoint[..],
        &["--contract", &counter_text, "--native", "1000", "--json"],
    ]
    .concat();
    let out = sesskey(home.path(), &create);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["session"]["sessionId"].as_str().unwrap().to_string();
    World { server, url, home, id, counter }
}

impl World {
    fn mcp_args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args =
            vec!["mcp", "--session", &self.id, "--rpc-url", &self.url, "--policy-id", POLICY];
        args.extend_from_slice(extra);
        args
    }

    /// `sesskey mcp` over stdio, as an agent host starts it; its stderr goes to `log`.
    async fn stdio_agent(
        &self,
        extra: &[&str],
        log: &std::path::Path,
    ) -> RunningService<RoleClient, ()> {
        let args: Vec<String> = self.mcp_args(extra).into_iter().map(String::from).collect();
        let home = self.home.path().to_path_buf();
        let stderr = std::fs::File::create(log).unwrap();
        let (transport, _) = TokioChildProcess::builder(
            tokio::process::Command::new(env!("CARGO_BIN_EXE_sesskey")).configure(|cmd| {
                cmd.args(&args)
                    .env_clear()
                    .env("SESSKEY_HOME", &home)
                    .env("SESSKEY_PASSWORD", PASSWORD);
            }),
        )
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap();
        ().serve(transport).await.unwrap()
    }

    async fn counter_value(&self) -> U256 {
        let call = json!({"to": self.counter, "data": "0x3fa4f245"}); // value()
        let out: Bytes =
            rpc(&self.url).await.request("eth_call", rpc_params![call, "latest"]).await.unwrap();
        U256::from_be_slice(&out)
    }

    async fn head(&self) -> U64 {
        rpc(&self.url).await.request("eth_blockNumber", rpc_params![]).await.unwrap()
    }

    fn audit(&self) -> Vec<Value> {
        let path =
            self.home.path().join("sessions").join("audit").join(format!("{}.jsonl", self.id));
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Calls a tool: its structured answer, and whether it is an error.
async fn tool(
    agent: &RunningService<RoleClient, ()>,
    name: &'static str,
    args: Value,
) -> (Value, bool, String) {
    let params = CallToolRequestParams::new(name).with_arguments(args.as_object().unwrap().clone());
    let result = agent.call_tool(params).await.unwrap();
    let text = serde_json::to_string(&result).unwrap();
    let body = result.structured_content.clone().unwrap_or_default();
    (body, result.is_error == Some(true), text)
}

fn bump(counter: Address, amount: u64, value: &str) -> Value {
    json!({"calls": [{"to": counter, "sig": "bump(uint256)", "args": [amount.to_string()], "value": value}]})
}

/// Every answer the agent got, to search for secrets.
#[derive(Default)]
struct Seen(String);

impl Seen {
    async fn tool(
        &mut self,
        agent: &RunningService<RoleClient, ()>,
        name: &'static str,
        args: Value,
    ) -> (Value, bool) {
        let (body, error, text) = tool(agent, name, args).await;
        self.0.push_str(&text);
        (body, error)
    }
}

/// What an agent does through `agent` (a server started with `--max-value 600 --max-calls 5`),
/// and what it must get; `log` holds the server's stderr.
async fn scenario(w: &World, agent: &RunningService<RoleClient, ()>, log: &std::path::Path) {
    let mut seen = Seen::default();

    // The tools, each with a description and an input schema.
    let tools = agent.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "call_status",
            "explain_calldata",
            "read_contract",
            "send_calls",
            "session_info",
            "simulate_calls"
        ]
    );
    for t in &tools {
        assert!(t.description.as_ref().is_some_and(|d| d.len() > 60), "{}: no description", t.name);
        assert_eq!(t.input_schema.get("type"), Some(&json!("object")), "{}", t.name);
    }
    let send = tools.iter().find(|t| t.name == "send_calls").unwrap();
    let schema = serde_json::to_string(&send.input_schema).unwrap();
    for field in ["calls", "to", "sig", "args", "value", "data"] {
        assert!(
            schema.contains(&format!("\"{field}\"")),
            "send_calls' schema lacks {field}: {schema}"
        );
    }

    let (info, error) = seen.tool(agent, "session_info", json!({})).await;
    assert!(!error, "{info}");
    assert_eq!(info["budgets"][0]["allowance"], "1000");
    assert_eq!(info["budgets"][0]["left"], "1000");
    assert!(
        info["permissions"].to_string().contains(&format!("call any function of {}", w.counter)),
        "{info}"
    );

    // Within the permissions: confirmed, the counter moved, the budget spent.
    let (sent, error) = seen.tool(agent, "send_calls", bump(w.counter, 5, "100")).await;
    assert!(!error, "{sent}");
    assert_eq!(sent["confirmed"], true, "{sent}");
    assert_eq!(sent["status"], "200");
    assert!(sent["transactionHash"].as_str().is_some_and(|h| h.len() == 66), "{sent}");
    assert!(sent["gasUsed"].as_str().is_some(), "{sent}");
    assert_eq!(w.counter_value().await, U256::from(5));
    let call_id = sent["callId"].as_str().unwrap().to_string();
    let (status, error) = seen.tool(agent, "call_status", json!({"callId": call_id})).await;
    assert!(!error && status["status"] == "200", "{status}");
    let (read, error) = seen
        .tool(agent, "read_contract", json!({"to": w.counter, "sig": "value() returns (uint256)"}))
        .await;
    assert!(!error, "{read}");
    assert_eq!(read["returns"], json!(["5"]));
    let (info, _) = seen.tool(agent, "session_info", json!({})).await;
    assert_eq!(info["budgets"][0]["spent"], "100", "{info}");

    // Refusals: each names its rule, and nothing reaches the chain.
    let head = w.head().await;
    let stranger = format!("0x{}", "66".repeat(20));
    let outside = json!({"calls": [{"to": stranger, "value": "1"}]});
    let (r, error) = seen.tool(agent, "send_calls", outside).await;
    assert!(error && r["signed"] == false, "{r}");
    assert!(r["reason"].as_str().unwrap().contains("pre-flight"), "{r}");
    let (r, error) = seen.tool(agent, "send_calls", bump(w.counter, 1, "700")).await;
    assert!(error, "{r}");
    assert!(r["reason"].as_str().unwrap().starts_with("refused by --max-value"), "{r}");
    assert_eq!(w.head().await, head, "a refused call reached the chain");

    // A simulation: would pass, what it would cost; nothing is sent.
    let (sim, error) = seen.tool(agent, "simulate_calls", bump(w.counter, 1, "500")).await;
    assert!(!error && sim["wouldPass"] == true, "{sim}");
    assert_eq!(w.head().await, head, "a simulation reached the chain");

    let (sent, error) = seen.tool(agent, "send_calls", bump(w.counter, 1, "500")).await;
    assert!(!error && sent["confirmed"] == true, "{sent}");
    // 600 of 1000 spent: 500 more is over the budget.
    let head = w.head().await;
    let (r, error) = seen.tool(agent, "send_calls", bump(w.counter, 1, "500")).await;
    assert!(error && r["signed"] == false, "{r}");
    assert!(r["reason"].as_str().unwrap().contains("pre-flight"), "{r}");
    assert_eq!(w.head().await, head, "a refused call reached the chain");
    // The owner revokes the session: the agent's next send is refused, nothing signed.
    let revoke = ["session", "revoke", &w.id, "--rpc-url", &w.url, "--policy-id", POLICY];
    let out = sesskey(w.home.path(), &revoke);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let head = w.head().await;
    let (r, error) = seen.tool(agent, "send_calls", bump(w.counter, 1, "0")).await;
    assert!(error && r["signed"] == false, "{r}");
    assert!(r["reason"].as_str().unwrap().contains("revoked"), "{r}");
    let (sim, error) = seen.tool(agent, "simulate_calls", bump(w.counter, 1, "0")).await;
    assert!(error && sim["reason"].as_str().unwrap().contains("revoked"), "{sim}");
    // Five sends this minute: the sixth is refused by the rate, before anything else.
    let (r, error) = seen.tool(agent, "send_calls", bump(w.counter, 1, "0")).await;
    assert!(error, "{r}");
    assert!(r["reason"].as_str().unwrap().starts_with("refused by --max-calls"), "{r}");
    assert_eq!(w.head().await, head, "a refused call reached the chain");
    assert_eq!(w.counter_value().await, U256::from(6));

    let (explained, error) = seen
        .tool(agent, "explain_calldata", json!({"data": "0xb20eb4c40000000000000000000000000000000000000000000000000000000000000005", "sig": "bump(uint256)"}))
        .await;
    assert!(!error, "{explained}");
    // Arguments that do not fit the schema, and a tool that does not exist: refused by the
    // protocol, and in the audit log too.
    let bad = CallToolRequestParams::new("send_calls")
        .with_arguments(json!({"calls": "everything"}).as_object().unwrap().clone());
    let answer = agent.call_tool(bad).await;
    assert!(answer.as_ref().map_or(true, |r| r.is_error == Some(true)), "{answer:?}");
    let unknown = CallToolRequestParams::new("transfer_everything")
        .with_arguments(json!({"to": stranger}).as_object().unwrap().clone());
    assert!(agent.call_tool(unknown).await.is_err());
    // The audit log: a line for each tool call, refusals with their reasons.
    let audit = w.audit();
    assert_eq!(audit.len(), 16, "{audit:#?}");
    let refused: Vec<&Value> = audit.iter().filter(|l| l["outcome"] == "refused").collect();
    assert_eq!(refused.len(), 8, "{audit:#?}");
    assert!(refused.iter().all(|l| l["reason"].is_string()), "{audit:#?}");
    assert!(audit.iter().any(|l| l["tool"] == "transfer_everything"), "{audit:#?}");
    assert_eq!(
        audit.iter().filter(|l| l["callId"].is_string() && l["tool"] == "send_calls").count(),
        2
    );
    let printed = sesskey(w.home.path(), &["session", "audit", &w.id]);
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let printed = String::from_utf8(printed.stdout).unwrap();
    assert_eq!(printed.lines().count(), 16, "{printed}");
    assert!(printed.contains("refused by --max-calls"), "{printed}");

    // No key, no signature: in no answer, no log line, no audit line.
    let keystore = w.home.path().join("sessions").join(format!("{}.keystore", w.id));
    let key = PrivateKeySigner::decrypt_keystore(keystore, PASSWORD).unwrap();
    let key_hex = alloy_primitives::hex::encode(key.to_bytes());
    let log_text = std::fs::read_to_string(log).unwrap();
    let audit_text = audit.iter().map(Value::to_string).collect::<String>();
    for (what, text) in [("answers", &seen.0), ("stderr", &log_text), ("audit", &audit_text)] {
        assert!(!text.to_lowercase().contains(&key_hex), "the session key is in the {what}");
        assert!(!text.contains(PASSWORD), "the password is in the {what}");
        // A 65-byte signature is 130 hex digits: none appears.
        let long_hex = text.split(|c: char| !c.is_ascii_hexdigit()).any(|run| run.len() >= 130);
        assert!(!long_hex, "a signature-sized hex string is in the {what}");
    }
}

#[tokio::test]
async fn an_agent_acts_through_the_session_within_its_limits_over_stdio() {
    let w = world().await;
    let log = w.home.path().join("mcp-stderr.log");
    let agent = w.stdio_agent(&["--max-value", "600", "--max-calls", "5"], &log).await;
    scenario(&w, &agent, &log).await;
    agent.cancel().await.unwrap();
}

#[tokio::test]
async fn an_agent_acts_through_the_session_within_its_limits_over_http() {
    let w = world().await;
    // Loopback only.
    let out = sesskey(w.home.path(), &w.mcp_args(&["--http", "0.0.0.0:0"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback only"), "{out:?}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let log = w.home.path().join("mcp-stderr.log");
    let server = Command::new(env!("CARGO_BIN_EXE_sesskey"))
        .args(w.mcp_args(&["--http", &addr, "--max-value", "600", "--max-calls", "5"]))
        .env_clear()
        .env("SESSKEY_HOME", w.home.path())
        .env("SESSKEY_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Stopped however the test ends.
    let _server = KillOnDrop(server);
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // rmcp's HTTP client is reqwest, which takes rustls' process provider (ring, as everywhere
    // in sesskey).
    sesskey_emulator::ensure_tls_provider();
    let transport = StreamableHttpClientTransport::from_uri(format!("http://{addr}/mcp"));
    let agent = ().serve(transport).await.unwrap();
    scenario(&w, &agent, &log).await;
    agent.cancel().await.unwrap();
}

#[tokio::test]
async fn a_key_that_is_not_unlocked_stops_the_server_at_start() {
    let w = world().await;
    let out = Command::new(env!("CARGO_BIN_EXE_sesskey"))
        .args(w.mcp_args(&[]))
        .env_clear()
        .env("SESSKEY_HOME", w.home.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing on the MCP channel");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("set SESSKEY_PASSWORD (or give --password-file)"), "{err}");
    // A wrong password: refused too, the password not echoed.
    let wrong = w.home.path().join("wrong");
    std::fs::write(&wrong, "not it\n").unwrap();
    let out = sesskey(w.home.path(), &w.mcp_args(&["--password-file", wrong.to_str().unwrap()]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("not it"), "{err}");
}

#[tokio::test]
async fn a_simulate_only_server_refuses_every_send_by_its_rule() {
    let w = world().await;
    let log = w.home.path().join("mcp-stderr.log");
    let agent = w.stdio_agent(&["--allow-simulate-only"], &log).await;
    let (sim, error, _) = tool(&agent, "simulate_calls", bump(w.counter, 1, "10")).await;
    assert!(!error && sim["wouldPass"] == true, "{sim}");
    let head = w.head().await;
    let (r, error, _) = tool(&agent, "send_calls", bump(w.counter, 1, "10")).await;
    assert!(error && r["signed"] == false, "{r}");
    assert!(r["reason"].as_str().unwrap().starts_with("refused by --allow-simulate-only"), "{r}");
    assert_eq!(w.head().await, head);
    assert_eq!(w.counter_value().await, U256::ZERO);
    let (info, _, _) = tool(&agent, "session_info", json!({})).await;
    assert_eq!(info["ownerLimits"]["simulateOnly"], true, "{info}");
    agent.cancel().await.unwrap();
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

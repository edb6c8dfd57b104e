//! Load generator: `send_calls` through `sesskey mcp` (one server process per agent, over stdio,
//! driven by rmcp's client) against the in-process emulator, and, in the same run, the same
//! sends through the library (`SessionService::send_stored`, one service and store connection
//! per agent, as each `sesskey mcp` process has) as the baseline. 4 agents, each on its own
//! session, send one after another; the runs alternate (library, MCP, library, MCP, …) so that
//! both see the same machine. Prints calls/s and p50 of each, and MCP ÷ library.
//!
//! Run: `cargo bench -p sesskey-cli --bench mcp`
//! (env: `SESSKEY_BENCH_AGENTS` = 4, `SESSKEY_BENCH_SENDS` = 40 per agent and run,
//! `SESSKEY_BENCH_ROUNDS` = 3).
#![allow(missing_docs, clippy::print_stdout, unused_crate_dependencies)]

use rmcp::model::CallToolRequestParams;
use rmcp::service::Peer;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::json;
use sesskey_cli::{Env, McpArgs, McpServer, StoreArgs};
use sesskey_emulator::{serve, Config, Emulator};
use sesskey_session::{LocalKeys, Orchestrator, SessionService, SessionStore, SqlStore};
use sesskey_types::{Call, SessionId};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";
/// anvil's accounts 0 to 7 (public test keys): the agents' owners.
const OWNERS: [&str; 8] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
];
/// Where the agents send (no code there: a plain call).
const SHOP: &str = "0x5151515151515151515151515151515151515151";

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn sesskey(home: &Path, owner: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sesskey"))
        .args(args)
        .env_clear()
        .env("SESSKEY_HOME", home)
        .env("OWNER_PRIVATE_KEY", owner)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Latencies in order: calls/s over `elapsed`, and the median.
fn figures(mut latencies: Vec<Duration>, elapsed: Duration) -> (f64, f64) {
    latencies.sort();
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    (rate, latencies[latencies.len() / 2].as_secs_f64() * 1000.0)
}

/// One agent of the library run: its own service and store connection, as each `sesskey mcp`
/// process has.
type Backend = (
    std::sync::Arc<SessionService<sesskey_rpc::WalletClient, SqlStore>>,
    SessionId,
    alloy_signer_local::PrivateKeySigner,
);

/// Each agent sends `sends` times, one after another, all agents at once: calls/s and p50.
async fn drive<A, F, Fut>(agents: &[A], sends: usize, send: F) -> (f64, f64)
where
    A: Clone + Send + 'static,
    F: Fn(A) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = agents
        .iter()
        .cloned()
        .map(|agent| {
            tokio::spawn(async move {
                let mut lat = vec![];
                for _ in 0..sends {
                    let t = Instant::now();
                    send(agent.clone()).await;
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    figures(all, start.elapsed())
}

async fn library_run(backends: &[Backend], sends: usize) -> (f64, f64) {
    drive(backends, sends, |(service, id, key)| async move {
        let call = Call { to: SHOP.parse().unwrap(), data: None, value: None };
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        service.send_stored(&id, &key, vec![call], now).await.unwrap();
    })
    .await
}

async fn mcp_run(agents: &[Peer<RoleClient>], sends: usize) -> (f64, f64) {
    drive(agents, sends, |agent| async move {
        let args = json!({"calls": [{"to": SHOP}]});
        let params = CallToolRequestParams::new("send_calls")
            .with_arguments(args.as_object().unwrap().clone());
        let result = agent.call_tool(params).await.unwrap();
        assert_ne!(result.is_error, Some(true), "{result:?}");
    })
    .await
}

fn main() {
    let agents: usize = env("SESSKEY_BENCH_AGENTS", "4").parse().unwrap();
    let sends: usize = env("SESSKEY_BENCH_SENDS", "40").parse().unwrap();
    let rounds: usize = env("SESSKEY_BENCH_ROUNDS", "3").parse().unwrap();
    assert!(agents <= OWNERS.len(), "at most {} agents", OWNERS.len());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let config = Config { policy_ids: vec![POLICY.into()], ..Config::default() };
        let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = server.url();
        let home = tempfile::tempdir().unwrap();
        let endpoint = ["--rpc-url", url.as_str(), "--policy-id", POLICY, "--chain-id", "31337"];
        let mut ids = vec![];
        for owner in &OWNERS[..agents] {
            sesskey(home.path(), owner, &[&["delegate"][..], &endpoint[..]].concat());
            let create = [&["session", "create"][..], &endpoint[..], &["--root", "--plain-key", "--json"]].concat();
            let v: serde_json::Value =
                serde_json::from_str(&sesskey(home.path(), owner, &create)).unwrap();
            ids.push(v["session"]["sessionId"].as_str().unwrap().to_string());
        }
        // The library: the same store file and keys the MCP servers use, one service and
        // store connection per agent, as each `sesskey mcp` process has.
        let file = format!("sqlite://{}", home.path().join("sessions/sessions.db").display());
        let mut backends: Vec<Backend> = vec![];
        for id in &ids {
            let db = SqlStore::connect(&file).await.unwrap();
            let client = sesskey_rpc::WalletClient::new(&url).unwrap();
            let service = SessionService::new(Orchestrator::new(client, Some(POLICY.into())), db.clone())
                .with_wait(Duration::from_secs(60));
            let id: SessionId = id.parse().unwrap();
            let record = db.load(&id).await.unwrap();
            let key = LocalKeys::new(None).open(&record.key.unwrap()).unwrap();
            backends.push((std::sync::Arc::new(service), id, key));
        }
        // The agents: one `sesskey mcp` each, over stdio.
        let mut clients = vec![];
        for id in &ids {
            let (url, home, id) = (url.clone(), home.path().to_path_buf(), id.clone());
            let transport = TokioChildProcess::new(
                tokio::process::Command::new(env!("CARGO_BIN_EXE_sesskey")).configure(|cmd| {
                    cmd.args(["mcp", "--session", &id, "--rpc-url", &url, "--policy-id", POLICY])
                        .env_clear()
                        .env("SESSKEY_HOME", &home);
                }),
            )
            .unwrap();
            clients.push(().serve(transport).await.unwrap());
        }
        // Warm both paths (each session's first op installs its key).
        let peers: Vec<Peer<RoleClient>> = clients.iter().map(|c| c.peer().clone()).collect();
        // The same servers in this process, over in-memory pipes: the protocol layer without
        // the process boundary.
        let mut local = vec![];
        for id in &ids {
            let args = McpArgs {
                session: id.parse().unwrap(),
                rpc_url: Some(url.clone()),
                policy_id: Some(POLICY.into()),
                http: None,
                max_value: None,
                max_calls: None,
                allow_simulate_only: false,
                password_file: None,
                audit_log: Some(home.path().join(format!("local-{id}.jsonl"))),
                signing: Default::default(),
            };
            let store = StoreArgs { store: None, database_url: None, json: false };
            let env = Env::from_pairs([("SESSKEY_HOME", home.path().display().to_string())]);
            let (server, _) = McpServer::open(&args, &store, &env).await.unwrap();
            let (ours, theirs) = tokio::io::duplex(1 << 16);
            tokio::spawn(async move {
                let running = server.serve(tokio::io::split(theirs)).await.unwrap();
                running.waiting().await.ok();
            });
            local.push(().serve(tokio::io::split(ours)).await.unwrap());
        }
        let local_peers: Vec<Peer<RoleClient>> = local.iter().map(|c| c.peer().clone()).collect();
        mcp_run(&local_peers, 1).await;
        library_run(&backends, 1).await;
        mcp_run(&peers, 1).await;
        let (mut lib, mut mcp, mut inproc) = (vec![], vec![], vec![]);
        for round in 0..rounds {
            let l = library_run(&backends, sends).await;
            let i = mcp_run(&local_peers, sends).await;
            let m = mcp_run(&peers, sends).await;
            println!(
                "round {round}: library {:7.1} calls/s p50 {:6.2} ms | mcp in-process {:7.1} calls/s p50 {:6.2} ms | mcp processes {:7.1} calls/s p50 {:6.2} ms",
                l.0, l.1, i.0, i.1, m.0, m.1
            );
            lib.push(l);
            mcp.push(m);
            inproc.push(i);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (lr, lp) = (median(&mut lib.iter().map(|x| x.0).collect()), median(&mut lib.iter().map(|x| x.1).collect()));
        let (mr, mp) = (median(&mut mcp.iter().map(|x| x.0).collect()), median(&mut mcp.iter().map(|x| x.1).collect()));
        let (ir, ip) = (median(&mut inproc.iter().map(|x| x.0).collect()), median(&mut inproc.iter().map(|x| x.1).collect()));
        println!(
            "{agents} agents, {sends} sends each per round, medians of {rounds} rounds: library {lr:.1} calls/s p50 {lp:.2} ms"
        );
        println!(
            "  mcp in-process (the protocol layer): {ir:.1} calls/s p50 {ip:.2} ms; ÷ library: calls/s {:.3}, p50 {:.3}",
            ir / lr,
            ip / lp
        );
        println!(
            "  mcp, one `sesskey mcp` process per agent over stdio: {mr:.1} calls/s p50 {mp:.2} ms; ÷ library: calls/s {:.3}, p50 {:.3}",
            mr / lr,
            mp / lp
        );
        // The protocol alone: a tool that touches nothing (explain_calldata), one agent.
        let mut lat = vec![];
        for _ in 0..200 {
            let args = json!({"data": "0xb20eb4c4"});
            let params = CallToolRequestParams::new("explain_calldata")
                .with_arguments(args.as_object().unwrap().clone());
            let t = Instant::now();
            peers[0].call_tool(params).await.unwrap();
            lat.push(t.elapsed());
        }
        let (_, p50) = figures(lat, Duration::from_secs(1));
        println!("an MCP round trip alone (explain_calldata, one agent): p50 {p50:.3} ms");
        for c in clients {
            c.cancel().await.ok();
        }
    });
}

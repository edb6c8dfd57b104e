//! Complete session calls per second by the Rust client against the emulator's HTTP server on
//! loopback, N concurrent workers, each on its own session:
//! - `no store`: the orchestrator alone (pre-flight, prepare, verify, sign, send, status);
//! - `memory`, `sqlite`, `postgres`: the same call through `SessionService::send_stored`
//!   (load, lease a nonce key, reserve, prepare, verify, sign, send, wait, settle, release).
//!
//! Each runs with `root` sessions (no budget, so nothing to reserve) and with `budgets`
//! sessions (contract access, a native allowance and a gas limit; every call sends 1 wei, so
//! every call reserves its value in the store and records it when it ends).
//!
//! The machine is shared and noisy, so the modes take turns, round after round, and each is
//! summed up by its median round, as a ratio to the median of the no-store rounds of the same
//! run, and by the median of its rounds' ratios to the no-store round of the same turn (which
//! the machine's drift over the run does not move), also given as how much longer each call
//! takes. Each round also prints how busy the machine's CPUs were.
//!
//! Run: `cargo xtask bench` or `cargo bench -p sesskey-session --bench flow`
//! (env: `SESSKEY_BENCH_CLIENTS` = 8, `SESSKEY_BENCH_SECS` = 4 per round,
//! `SESSKEY_BENCH_ROUNDS` = 3, `SESSKEY_BENCH_MODES` = `no-store,memory,sqlite,postgres`,
//! `SESSKEY_BENCH_KINDS` = `root,budgets`; the PostgreSQL run needs
//! `SESSKEY_TEST_DATABASE_URL`, which `cargo xtask bench` sets up as `cargo xtask ci` does).
#![allow(missing_docs, clippy::print_stdout)]

use alloy_primitives::{keccak256, Address, U256, U64};
use alloy_signer_local::{PrivateKeySigner, Secp256k1Signer};
use sesskey_emulator::{serve, Config, Emulator, Running};
use sesskey_rpc::{RetryPolicy, WalletClient};
use sesskey_session::{
    MemoryStore, Orchestrator, Outcome, Session, SessionService, SessionStore, SqlStore,
    StoredSession,
};
use sesskey_types::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn key(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_slice(keccak256(i.to_be_bytes()).as_slice()).unwrap()
}

type Flow = Orchestrator<WalletClient>;

/// A fresh server, its owners funded, and each worker's orchestrator, session and key.
async fn setup(
    clients: u64,
    salt: u64,
    kind: &str,
) -> (Running, Vec<(Flow, Session, Secp256k1Signer)>) {
    let owners: Vec<_> = (0..clients).map(|i| key(salt + 10_000 + i).to_secp256k1()).collect();
    let emulator = Emulator::new(Config { policy_ids: vec![POLICY.into()], ..Config::default() });
    for owner in &owners {
        emulator
            .set_balance(U64::from(31337), owner.address(), U256::from(10u128.pow(20)))
            .unwrap();
    }
    let server = serve(emulator, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut out = vec![];
    for (i, owner) in (0..clients).zip(owners) {
        let client =
            WalletClient::builder().url(server.url()).retry(RetryPolicy::NONE).build().unwrap();
        let flow = Orchestrator::new(client, Some(POLICY.into()));
        let session_key = key(salt + 20_000 + i).to_secp256k1();
        flow.ensure_delegated(&owner, 31337, Duration::from_secs(10)).await.unwrap();
        let request = CreateSessionParams {
            account: owner.address(),
            chain_id: U64::from(31337),
            expiry_sec: None,
            key: SessionKey { public_key: session_key.address(), ty: KeyType::Secp256k1 },
            permissions: permissions(kind),
        };
        let session = flow.create_session(&owner, &request).await.unwrap();
        out.push((flow, session, session_key));
    }
    (server, out)
}

const TARGET: Address = Address::repeat_byte(0x42);

/// A run's call: to the target, with 1 wei on `budgets` sessions.
fn call(kind: &str) -> Vec<Call> {
    let value = (kind == "budgets").then_some(U256::from(1));
    vec![Call { to: TARGET, data: None, value }]
}

/// The sessions a run uses: `root` (no budget: nothing to reserve), or `budgets` (access to
/// the target, a native allowance and a gas limit, all far above what the run spends: every
/// call reserves its value, and its gas when it is not sponsored).
fn permissions(kind: &str) -> Vec<Permission> {
    match kind {
        "root" => vec![Permission::Root],
        _ => vec![
            Permission::ContractAccess(ContractAccess { address: TARGET }),
            Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: U256::MAX }),
            Permission::GasLimit(GasLimit { limit: U256::MAX }),
        ],
    }
}

/// One round of one mode.
struct Round {
    calls_per_sec: f64,
    latencies: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// How busy the machine's CPUs were between two readings of `/proc/stat` (Linux), in %.
fn cpu_busy(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> String {
    match (before, after) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            format!("{:.0}%", 100.0 * (b1 - b0) as f64 / (t1 - t0) as f64)
        }
        _ => "n/a".into(),
    }
}

/// Busy and total CPU time so far, from `/proc/stat`.
fn cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> =
        stat.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let idle = fields.get(3)? + fields.get(4)?;
    let total: u64 = fields.iter().sum();
    Some((total - idle, total))
}

/// Runs `call` in a loop on each worker, concurrently, for `secs` seconds: every call's
/// latency, and the seconds it all took.
async fn drive<W, F, Fut>(workers: Vec<W>, secs: u64, call: F) -> (Vec<Duration>, f64)
where
    W: Send + Sync + 'static,
    F: Fn(Arc<W>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|w| {
            let (w, call) = (Arc::new(w), call.clone());
            tokio::spawn(async move {
                let mut lat = vec![];
                while Instant::now() < deadline {
                    let t = Instant::now();
                    call(w.clone()).await;
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = vec![];
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    (lat, start.elapsed().as_secs_f64())
}

/// The orchestrator alone: the baseline.
async fn no_store(kind: &'static str, clients: u64, secs: u64, salt: u64) -> (Vec<Duration>, f64) {
    let (server, setups) = setup(clients, salt, kind).await;
    let result = drive(setups, secs, move |w| async move {
        let (flow, session, key) = &*w;
        let sent = flow.send_calls(session, key, call(kind), &Default::default(), 0).await.unwrap();
        let outcome = flow.wait_for_status(&sent.call_id, Duration::from_secs(10)).await.unwrap();
        assert!(matches!(outcome, Outcome::Confirmed(_)));
    })
    .await;
    server.handle.stop().ok();
    result
}

/// The same calls through the service over `store`.
async fn with_store<St: SessionStore + Clone + 'static>(
    kind: &'static str,
    store: St,
    clients: u64,
    secs: u64,
    salt: u64,
) -> (Vec<Duration>, f64) {
    let (server, setups) = setup(clients, salt, kind).await;
    let mut workers = vec![];
    for (flow, session, key) in setups {
        store.save(&StoredSession::new(session.clone())).await.unwrap();
        let service = SessionService::new(flow, store.clone()).with_wait(Duration::from_secs(10));
        // The first op installs the key (it goes alone on the serial nonce key).
        service.send_stored(&session.session_id, &key, call(kind), 0).await.unwrap();
        workers.push((service, session.session_id, key));
    }
    let result = drive(workers, secs, move |w| async move {
        let (service, id, key) = &*w;
        let sent = service.send_stored(id, key, call(kind), 0).await.unwrap();
        assert!(matches!(sent.outcome, Outcome::Confirmed(_)));
    })
    .await;
    server.handle.stop().ok();
    result
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let clients: u64 = env("SESSKEY_BENCH_CLIENTS", "8").parse().unwrap();
    let secs: u64 = env("SESSKEY_BENCH_SECS", "4").parse().unwrap();
    let rounds: usize = env("SESSKEY_BENCH_ROUNDS", "3").parse().unwrap();
    let modes = env("SESSKEY_BENCH_MODES", "no-store,memory,sqlite,postgres");
    let kinds = env("SESSKEY_BENCH_KINDS", "root,budgets");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let dir = std::env::temp_dir().join(format!("sesskey-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sqlite = SqlStore::sqlite(&dir.join("sessions.db")).await.unwrap();
        let pg = match std::env::var("SESSKEY_TEST_DATABASE_URL") {
            Ok(url) => Some(SqlStore::connect(&url).await.unwrap()),
            Err(_) => {
                println!("postgres  | skipped: SESSKEY_TEST_DATABASE_URL is not set");
                None
            }
        };
        let modes: Vec<&'static str> = ["no-store", "memory", "sqlite", "postgres"]
            .into_iter()
            .filter(|m| modes.split(',').any(|x| x.trim() == *m))
            .filter(|m| *m != "postgres" || pg.is_some())
            .collect();
        // Fresh keys per run (the PostgreSQL server may outlive it).
        let mut salt = 1_000_000 * u64::from(std::process::id());
        for kind in ["root", "budgets"] {
            if !kinds.split(',').any(|k| k.trim() == kind) {
                continue;
            }
            let mut results: Vec<(&str, Vec<Round>)> =
                modes.iter().map(|m| (*m, vec![])).collect();
            for round in 1..=rounds {
                for (mode, rounds_of) in &mut results {
                    salt += 100_000;
                    let before = cpu();
                    let (mut latencies, elapsed) = match *mode {
                        "no-store" => no_store(kind, clients, secs, salt).await,
                        "memory" => {
                            let store = Arc::new(MemoryStore::new());
                            with_store(kind, store, clients, secs, salt).await
                        }
                        "sqlite" => with_store(kind, sqlite.clone(), clients, secs, salt).await,
                        _ => {
                            let Some(pg) = pg.clone() else { continue };
                            with_store(kind, pg, clients, secs, salt).await
                        }
                    };
                    let busy = cpu_busy(before, cpu());
                    latencies.sort();
                    let calls_per_sec = latencies.len() as f64 / elapsed;
                    println!(
                        "{mode:<9} | {kind:<7} | round {round} | clients {clients} | {} calls in {elapsed:.1}s = {calls_per_sec:.0} calls/s | p50 {:.2} ms, p99 {:.2} ms | CPU busy {busy}",
                        latencies.len(),
                        percentile(&latencies, 0.5),
                        percentile(&latencies, 0.99),
                    );
                    rounds_of.push(Round { calls_per_sec, latencies });
                }
            }
            let baseline = results.iter().find(|(m, _)| *m == "no-store").map(|(_, r)| r);
            for (mode, rounds_of) in &results {
                let per_sec = median(rounds_of.iter().map(|r| r.calls_per_sec).collect());
                let mut all: Vec<Duration> =
                    rounds_of.iter().flat_map(|r| r.latencies.iter().copied()).collect();
                all.sort();
                let against = match baseline {
                    Some(base) if *mode != "no-store" => {
                        let b = median(base.iter().map(|r| r.calls_per_sec).collect());
                        // Each round against the no-store round just before it: the machine's
                        // drift over the run cancels out.
                        let paired = median(
                            rounds_of
                                .iter()
                                .zip(base)
                                .map(|(r, b)| r.calls_per_sec / b.calls_per_sec)
                                .collect(),
                        );
                        format!(
                            " = {:+.0}% against no store; round by round {:+.0}%, each call taking {:+.0}% longer",
                            100.0 * (per_sec / b - 1.0),
                            100.0 * (paired - 1.0),
                            100.0 * (1.0 / paired - 1.0)
                        )
                    }
                    _ => String::new(),
                };
                println!(
                    "SUMMARY {mode:<9} | {kind:<7} | median of {rounds} rounds {per_sec:.0} calls/s{against} | p50 {:.2} ms, p99 {:.2} ms",
                    percentile(&all, 0.5),
                    percentile(&all, 0.99),
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

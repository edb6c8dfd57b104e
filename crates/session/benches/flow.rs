//! Complete session calls per second by the Rust client against the emulator's HTTP server on
//! loopback, N concurrent workers, each on its own session:
//! - `no store`: the orchestrator alone (pre-flight, prepare, verify, sign, send, status);
//! - `memory`, `sqlite`, `postgres`: the same call through `SessionService::send_stored`
//!   (load, lease a nonce key, reserve, prepare, verify, sign, send, wait, settle, release).
//!
//! Each runs twice: with `root` sessions (no budget, so nothing to reserve) and with `budgets`
//! sessions (a native allowance and a gas limit: every call reserves its value and its gas).
//!
//! Run: `cargo xtask bench` or `cargo bench -p sesskey-session --bench flow`
//! (env: `SESSKEY_BENCH_CLIENTS` = 8, `SESSKEY_BENCH_SECS` = 5; the PostgreSQL run needs
//! `SESSKEY_TEST_DATABASE_URL`, which `cargo xtask bench` sets up as `cargo xtask ci` does).
#![allow(missing_docs, clippy::print_stdout)]

use alloy_primitives::{keccak256, Address, U256, U64};
use alloy_signer_local::{PrivateKeySigner, Secp256k1Signer};
use sesskey_emulator::{serve, Config, Emulator};
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

/// A worker's orchestrator, session and key, on a fresh server.
async fn setup(
    url: &str,
    clients: u64,
    salt: u64,
    permissions: &[Permission],
) -> Vec<(Flow, Session, Secp256k1Signer)> {
    let mut out = vec![];
    for i in 0..clients {
        let client = WalletClient::builder().url(url).retry(RetryPolicy::NONE).build().unwrap();
        let flow = Orchestrator::new(client, Some(POLICY.into()));
        let owner = key(salt + 10_000 + i).to_secp256k1();
        let session_key = key(salt + 20_000 + i).to_secp256k1();
        flow.ensure_delegated(&owner, 31337, Duration::from_secs(10)).await.unwrap();
        let request = CreateSessionParams {
            account: owner.address(),
            chain_id: U64::from(31337),
            expiry_sec: None,
            key: SessionKey { public_key: session_key.address(), ty: KeyType::Secp256k1 },
            permissions: permissions.to_vec(),
        };
        let session = flow.create_session(&owner, &request).await.unwrap();
        out.push((flow, session, session_key));
    }
    out
}

const TARGET: Address = Address::repeat_byte(0x42);

fn call() -> Vec<Call> {
    vec![Call { to: TARGET, data: None, value: None }]
}

/// The sessions a run uses: `root` (no budget: nothing to reserve), or `budgets` (access to
/// the target, a native allowance and a gas limit, all far above what the run spends: every
/// call reserves its value and its gas).
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

fn report(mode: &str, kind: &str, clients: u64, mut lat: Vec<Duration>, elapsed: f64) {
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{mode:<9} | {kind:<7} | clients {clients} | complete session calls {} in {elapsed:.1}s = {:.0} calls/s | p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        lat.len() as f64 / elapsed,
        pct(0.5),
        pct(0.99)
    );
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
async fn no_store(kind: &str, clients: u64, secs: u64, salt: u64) {
    let config = Config { policy_ids: vec![POLICY.into()], ..Config::default() };
    let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let setups = setup(&server.url(), clients, salt, &permissions(kind)).await;
    let (lat, elapsed) = drive(setups, secs, |w| async move {
        let (flow, session, key) = &*w;
        let sent = flow.send_calls(session, key, call(), &Default::default(), 0).await.unwrap();
        let outcome = flow.wait_for_status(&sent.call_id, Duration::from_secs(10)).await.unwrap();
        assert!(matches!(outcome, Outcome::Confirmed(_)));
    })
    .await;
    report("no store", kind, clients, lat, elapsed);
    server.handle.stop().ok();
}

/// The same calls through the service over `store`.
async fn with_store<St: SessionStore + Clone + 'static>(
    mode: &str,
    kind: &str,
    store: St,
    clients: u64,
    secs: u64,
    salt: u64,
) {
    let config = Config { policy_ids: vec![POLICY.into()], ..Config::default() };
    let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let setups = setup(&server.url(), clients, salt, &permissions(kind)).await;
    let mut workers = vec![];
    for (flow, session, key) in setups {
        store.save(&StoredSession::new(session.clone())).await.unwrap();
        let service = SessionService::new(flow, store.clone()).with_wait(Duration::from_secs(10));
        // The first op installs the key (it goes alone on the serial nonce key).
        service.send_stored(&session.session_id, &key, call(), 0).await.unwrap();
        workers.push((service, session.session_id, key));
    }
    let (lat, elapsed) = drive(workers, secs, |w| async move {
        let (service, id, key) = &*w;
        let sent = service.send_stored(id, key, call(), 0).await.unwrap();
        assert!(matches!(sent.outcome, Outcome::Confirmed(_)));
    })
    .await;
    report(mode, kind, clients, lat, elapsed);
    server.handle.stop().ok();
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let clients: u64 = env("SESSKEY_BENCH_CLIENTS", "8").parse().unwrap();
    let secs: u64 = env("SESSKEY_BENCH_SECS", "5").parse().unwrap();
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
        // Fresh keys per run (the PostgreSQL server may outlive it).
        let mut salt = 1_000_000 * u64::from(std::process::id());
        for kind in ["root", "budgets"] {
            let mut next = || {
                salt += 100_000;
                salt
            };
            no_store(kind, clients, secs, next()).await;
            with_store("memory", kind, Arc::new(MemoryStore::new()), clients, secs, next()).await;
            with_store("sqlite", kind, sqlite.clone(), clients, secs, next()).await;
            if let Some(pg) = &pg {
                with_store("postgres", kind, pg.clone(), clients, secs, next()).await;
            }
            no_store(kind, clients, secs, next()).await;
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

//! The store alone: a call's start and end (`begin_call`, then `end_call` recording what it
//! spent) through each store, by N concurrent workers, each on a session of its own, with no
//! server and no signing: how many calls per second a store carries, and how much CPU this
//! process spends on each (for PostgreSQL, the server's own CPU is not counted).
//!
//! Kinds as in the flow bench: `root` sessions (a call leases and returns a nonce key) and
//! `budgets` sessions (it also reserves 1 wei, then records it as spent).
//!
//! Run: `cargo bench -p sesskey-session --bench store` (env: `SESSKEY_BENCH_CLIENTS` = 8,
//! `SESSKEY_BENCH_SECS` = 2 per round, `SESSKEY_BENCH_ROUNDS` = 3, `SESSKEY_BENCH_MODES` =
//! `memory,sqlite,postgres`, `SESSKEY_BENCH_KINDS` = `root,budgets`; PostgreSQL needs
//! `SESSKEY_TEST_DATABASE_URL`).
#![allow(missing_docs, clippy::print_stdout)]

use alloy_primitives::{Address, FixedBytes, U256, U64};
use sesskey_session::{MemoryStore, Session, SessionStore, SqlStore, StoredSession};
use sesskey_types::{Call, ContractAccess, NativeTokenTransfer, Permission};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

const TARGET: Address = Address::repeat_byte(0x42);

fn session(kind: &str) -> Session {
    let permissions = match kind {
        "root" => vec![Permission::Root],
        _ => vec![
            Permission::ContractAccess(ContractAccess { address: TARGET }),
            Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: U256::MAX }),
        ],
    };
    Session {
        session_id: rand::random::<[u8; 16]>().into(),
        chain_id: U64::from(31337),
        account: Address::from(rand::random::<[u8; 20]>()),
        session_key: Address::repeat_byte(2),
        entity_id: 1,
        expiry: 0,
        permissions,
        owner_signature: FixedBytes::repeat_byte(3),
    }
}

fn call(kind: &str) -> Vec<Call> {
    let value = (kind == "budgets").then_some(U256::from(1));
    vec![Call { to: TARGET, data: None, value }]
}

/// This process's CPU time so far (user and system), from `/proc/self/stat` (Linux).
fn cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Clock ticks are 1/100 s on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// A round's calls per second, and this process's CPU per call (µs).
type Round = (f64, Option<f64>);

/// One round.
async fn round<St: SessionStore + Clone + 'static>(
    store: St,
    kind: &'static str,
    clients: usize,
    secs: u64,
) -> Round {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut ids = vec![];
    for _ in 0..clients {
        let s = session(kind);
        let id = s.session_id;
        store.save(&StoredSession::new(s)).await.unwrap();
        // The first op installs the key and goes alone.
        let start = store.begin_call(&id, &call(kind), now, 600).await.unwrap().unwrap();
        let settled = vec![(start.reservation.clone(), Some(start.reservation.spend.clone()))];
        store.end_call(&settled, &start.lease, Some(&id), now).await.unwrap();
        ids.push(id);
    }
    let (before, started) = (cpu(), Instant::now());
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = vec![];
    for id in ids {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut calls = 0u64;
            while Instant::now() < deadline {
                let start = store.begin_call(&id, &call(kind), now, 600).await.unwrap().unwrap();
                let spent = Some(start.reservation.spend.clone());
                store
                    .end_call(&[(start.reservation, spent)], &start.lease, None, now)
                    .await
                    .unwrap();
                calls += 1;
            }
            calls
        }));
    }
    let mut calls = 0;
    for t in tasks {
        calls += t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let per_call = match (before, cpu()) {
        (Some(b), Some(a)) if calls > 0 => Some((a - b).as_secs_f64() * 1e6 / calls as f64),
        _ => None,
    };
    (calls as f64 / elapsed, per_call)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let clients: usize = env("SESSKEY_BENCH_CLIENTS", "8").parse().unwrap();
    let secs: u64 = env("SESSKEY_BENCH_SECS", "2").parse().unwrap();
    let rounds: usize = env("SESSKEY_BENCH_ROUNDS", "3").parse().unwrap();
    let modes = env("SESSKEY_BENCH_MODES", "memory,sqlite,postgres");
    let kinds = env("SESSKEY_BENCH_KINDS", "root,budgets");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let dir = tempfile::Builder::new().prefix("sesskey-bench-store-").tempdir().unwrap();
        let sqlite = Arc::new(SqlStore::sqlite(&dir.path().join("sessions.db")).await.unwrap());
        let pg = match std::env::var("SESSKEY_TEST_DATABASE_URL") {
            Ok(url) => Some(Arc::new(SqlStore::connect(&url).await.unwrap())),
            Err(_) => {
                println!("postgres  | skipped: SESSKEY_TEST_DATABASE_URL is not set");
                None
            }
        };
        let modes: Vec<&str> = ["memory", "sqlite", "postgres"]
            .into_iter()
            .filter(|m| modes.split(',').any(|x| x.trim() == *m))
            .filter(|m| *m != "postgres" || pg.is_some())
            .collect();
        for kind in ["root", "budgets"] {
            if !kinds.split(',').any(|k| k.trim() == kind) {
                continue;
            }
            let mut results: Vec<(&str, Vec<Round>)> =
                modes.iter().map(|m| (*m, vec![])).collect();
            for n in 1..=rounds {
                for (mode, of) in &mut results {
                    let r = match *mode {
                        "memory" => round(Arc::new(MemoryStore::new()), kind, clients, secs).await,
                        "sqlite" => round(sqlite.clone(), kind, clients, secs).await,
                        _ => match pg.clone() {
                            Some(pg) => round(pg, kind, clients, secs).await,
                            None => continue,
                        },
                    };
                    let cpu = r.1.map_or("?".into(), |c| format!("{c:.0} µs"));
                    println!(
                        "{mode:<9} | {kind:<7} | round {n} | clients {clients} | {:.0} calls/s | CPU per call {cpu}",
                        r.0
                    );
                    of.push(r);
                }
            }
            for (mode, of) in &results {
                let per_sec = median(of.iter().map(|r| r.0).collect());
                let cpu: Vec<f64> = of.iter().filter_map(|r| r.1).collect();
                let cpu = if cpu.is_empty() {
                    "?".to_string()
                } else {
                    format!("{:.0} µs", median(cpu))
                };
                println!(
                    "SUMMARY {mode:<9} | {kind:<7} | median of {rounds} rounds {per_sec:.0} calls/s | CPU per call {cpu}"
                );
            }
        }
    });
}

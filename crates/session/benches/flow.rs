//! Complete session calls per second by the Rust client (the orchestrator: pre-flight, prepare,
//! verify, sign, send, status) against the emulator's HTTP server on loopback, N concurrent.
//!
//! Run: `cargo xtask bench` or `cargo bench -p sesskey-session --bench flow`
//! (env: `SESSKEY_BENCH_CLIENTS` = 8, `SESSKEY_BENCH_SECS` = 5).
#![allow(missing_docs, clippy::print_stdout)]

use alloy_primitives::{keccak256, Address, U64};
use alloy_signer_local::PrivateKeySigner;
use sesskey_emulator::{serve, Config, Emulator};
use sesskey_rpc::{RetryPolicy, WalletClient};
use sesskey_session::{Orchestrator, Outcome};
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

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let clients: u64 = env("SESSKEY_BENCH_CLIENTS", "8").parse().unwrap();
    let secs: u64 = env("SESSKEY_BENCH_SECS", "5").parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let config = Config { chain_ids: vec![31337], policy_ids: vec![POLICY.into()], ..Config::default() };
        let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let mut setups = vec![];
        for i in 0..clients {
            let client = WalletClient::builder().url(server.url()).retry(RetryPolicy::NONE).build().unwrap();
            let flow = Orchestrator::new(client, Some(POLICY.into()));
            let owner = key(10_000 + i).to_secp256k1();
            let session_key = key(20_000 + i).to_secp256k1();
            flow.ensure_delegated(&owner, 31337, Duration::from_secs(10)).await.unwrap();
            let request = CreateSessionParams {
                account: owner.address(),
                chain_id: U64::from(31337),
                expiry_sec: None,
                key: SessionKey { public_key: session_key.address(), ty: KeyType::Secp256k1 },
                permissions: vec![Permission::Root],
            };
            let session = flow.create_session(&owner, &request).await.unwrap();
            setups.push(Arc::new((flow, session, session_key)));
        }
        let deadline = Instant::now() + Duration::from_secs(secs);
        let start = Instant::now();
        let tasks: Vec<_> = setups
            .into_iter()
            .map(|s| {
                tokio::spawn(async move {
                    let (flow, session, key) = &*s;
                    let mut lat = vec![];
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let calls = vec![Call { to: Address::repeat_byte(0x42), data: None, value: None }];
                        let sent = flow.send_calls(session, key, calls, &Default::default(), 0).await.unwrap();
                        let outcome = flow.wait_for_status(&sent.call_id, Duration::from_secs(10)).await.unwrap();
                        assert!(matches!(outcome, Outcome::Confirmed(_)));
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
        let elapsed = start.elapsed().as_secs_f64();
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
        println!(
            "orchestrator | clients {clients} | complete session calls (pre-flight, prepare, verify, sign, send, status) {} in {elapsed:.1}s = {:.0} calls/s | p50 {:.2} ms, p99 {:.2} ms",
            lat.len(),
            lat.len() as f64 / elapsed,
            pct(0.5),
            pct(0.99)
        );
        server.handle.stop().ok();
    });
}

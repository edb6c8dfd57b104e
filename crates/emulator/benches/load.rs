//! Load generator: N concurrent clients running complete session calls (prepare → sign → send
//! → status) against the emulator's HTTP server on loopback, with S other sessions stored.
//! Prints calls/s and p50/p99 latency, and in the same run the raw libsecp256k1 recover rate of
//! one core as the baseline.
//!
//! Run: `cargo bench -p sesskey-emulator --bench load`
//! (env: `SESSKEY_BENCH_CLIENTS` = 8, `SESSKEY_BENCH_SECS` = 5, `SESSKEY_BENCH_SESSIONS` =
//! "10,100000", `SESSKEY_BENCH_FUNDED` = "10,100000" other funded accounts for the sends-only
//! runs, `SESSKEY_BENCH_SENDS` = 2000 per client, `SESSKEY_BENCH_DURABLE` = 1 to keep the state
//! in a redb data folder).
//!
//! The sends-only runs execute real calls on the EVM: a value transfer, and an ERC-20 `transfer`
//! on the `Token` contract of `fixtures/contracts/`, deployed by a signed transaction.
#![allow(missing_docs, clippy::print_stdout)]

use alloy_primitives::{keccak256, Address, B256, U64};
use alloy_signer::SignerSync;
use alloy_signer_local::{PrivateKeySigner, Secp256k1Signer};
use sesskey_emulator::{serve, Config, Emulator};
use sesskey_rpc::{RetryPolicy, WalletApiClient, WalletClient};
use sesskey_signing::*;
use sesskey_types::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHAIN: u64 = 31337;
const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn key(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_slice(keccak256(i.to_be_bytes()).as_slice()).unwrap()
}

/// Raw libsecp256k1 recoveries per second on this thread.
fn recover_rate() -> f64 {
    let signer = key(1).to_secp256k1();
    let digest = B256::repeat_byte(7);
    let sig = signer.sign_hash_sync(&digest).unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        std::hint::black_box(sig.recover_from_prehash_secp256k1(&digest).unwrap());
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

struct Client {
    wallet: WalletClient,
    account: Address,
    session_key: Secp256k1Signer,
    cap: PermissionsCapability,
}

async fn setup_client(emulator: &Emulator, url: &str, i: u64) -> Client {
    let owner = key(1_000_000 + i);
    let session_key = key(2_000_000 + i).to_secp256k1();
    let account = owner.address();
    emulator.set_delegation(U64::from(CHAIN), account, Some(MODULAR_ACCOUNT_V2_7702)).unwrap();
    let created = emulator
        .create_session(CreateSessionParams {
            account,
            chain_id: U64::from(CHAIN),
            expiry_sec: None,
            key: SessionKey { public_key: session_key.address(), ty: KeyType::Secp256k1 },
            permissions: vec![Permission::Root],
        })
        .unwrap();
    let sig = sign_request_sync(&owner, &created.signature_request, None).unwrap();
    let SignatureData::Hex(bytes) = sig.data else { unreachable!() };
    let session = SessionRef {
        session_id: created.session_id,
        signature: alloy_primitives::FixedBytes::from_slice(&bytes),
    };
    let wallet = WalletClient::builder().url(url).retry(RetryPolicy::NONE).build().unwrap();
    Client { wallet, account, session_key, cap: PermissionsCapability::from(&session) }
}

/// One complete session call; answers the latency of `wallet_sendPreparedCalls`.
async fn one_call(c: &Client) -> Duration {
    let caps = PrepareCallsCapabilities {
        permissions: Some(c.cap.clone()),
        paymaster_service: Some(PaymasterService {
            policy: PolicySelector::One { policy_id: POLICY.into() },
            only_estimation: None,
            erc20: None,
            webhook_data: None,
        }),
        ..Default::default()
    };
    let params = PrepareCallsParams {
        calls: Some(vec![Call { to: Address::repeat_byte(0x42), data: None, value: None }]),
        from: c.account,
        chain_id: U64::from(CHAIN),
        capabilities: Some(caps),
        paymaster_permit_signature: None,
    };
    let PreparedCalls::UserOperationV070(op) = c.wallet.prepare_calls(params).await.unwrap() else {
        unreachable!()
    };
    let signature = sign_user_op_v07(&c.session_key, &op, ENTRY_POINT_V07).await.unwrap();
    let send = SendPreparedCallsParams {
        calls: SignedCalls::UserOperationV070(SignedUserOperationV07 {
            data: op.data,
            chain_id: op.chain_id,
            signature,
        }),
        capabilities: Some(SendPreparedCallsCapabilities {
            permissions: Some(c.cap.clone()),
            paymaster_service: None,
        }),
        call_id: None,
    };
    let t = Instant::now();
    let sent = c.wallet.send_prepared_calls(send).await.unwrap();
    let took = t.elapsed();
    let status = c.wallet.get_calls_status(CallId(sent.id)).await.unwrap();
    assert_eq!(status.status, CallStatusCode::Confirmed);
    took
}

/// Session ops built and signed ahead (unsponsored, sequential nonces), so only
/// `wallet_sendPreparedCalls` is timed.
fn presigned(c: &Client, call: &Call, first_seq: u64, n: u64) -> Vec<SendPreparedCallsParams> {
    use sesskey_account::{encode_calls, CallEncoding, Nonce};
    (first_seq..first_seq + n)
        .map(|seq| {
            let nonce = Nonce { entity_id: 1, global: true, seq, ..Default::default() }.encode();
            let calls = [call.clone()];
            let op = UserOperationV07 {
                sender: c.account,
                nonce,
                call_data: encode_calls(c.account, &calls, CallEncoding::Batch, false),
                call_gas_limit: alloy_primitives::U128::from(150_000),
                verification_gas_limit: alloy_primitives::U128::from(120_000),
                pre_verification_gas: alloy_primitives::U256::from(50_000),
                max_fee_per_gas: alloy_primitives::U128::from(1_000_000_000u64),
                max_priority_fee_per_gas: alloy_primitives::U128::from(1_000_000u64),
                ..Default::default()
            };
            let hash = user_op_v07_hash(&op, ENTRY_POINT_V07, CHAIN);
            let sig = c.session_key.sign_hash_sync(&eip191_digest(hash.as_slice())).unwrap();
            SendPreparedCallsParams {
                calls: SignedCalls::UserOperationV070(SignedUserOperationV07 {
                    data: op,
                    chain_id: U64::from(CHAIN),
                    signature: to_wire(&sig),
                }),
                capabilities: Some(SendPreparedCallsCapabilities {
                    permissions: Some(c.cap.clone()),
                    paymaster_service: None,
                }),
                call_id: None,
            }
        })
        .collect()
}

/// What each send does on the EVM.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// 1 wei to a fixed address.
    Value,
    /// `Token.transfer(0x42…, 1)` on a deployed ERC-20.
    Erc20,
}

/// Deploys `fixtures/contracts/Token.json` with a signed `eth_sendRawTransaction` from `from`.
async fn deploy_token(url: &str, from: &PrivateKeySigner) -> Address {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::Encodable2718;
    use alloy_sol_types::SolValue;
    use jsonrpsee::core::client::ClientT;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/contracts/Token.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let code: alloy_primitives::Bytes = doc["bytecode"].as_str().unwrap().parse().unwrap();
    let args = ("Bench", "BEN", alloy_primitives::U256::from(10u64.pow(18))).abi_encode_params();
    let tx = TxEip1559 {
        chain_id: CHAIN,
        nonce: 0,
        gas_limit: 3_000_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to: alloy_primitives::TxKind::Create,
        input: [&code[..], &args[..]].concat().into(),
        ..Default::default()
    };
    let sig = from.sign_hash_sync(&tx.signature_hash()).unwrap();
    let raw = alloy_primitives::Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718());
    let client = WalletClient::new(url).unwrap();
    let _: B256 =
        client.request("eth_sendRawTransaction", jsonrpsee::rpc_params![raw]).await.unwrap();
    from.address().create(0)
}

fn bench_emulator(config: Config, tag: &str) -> Emulator {
    if env("SESSKEY_BENCH_DURABLE", "0") == "1" {
        let dir = std::env::temp_dir().join(format!("sesskey-load-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Emulator::open(config, &dir).unwrap()
    } else {
        Emulator::new(config)
    }
}

/// Only `wallet_sendPreparedCalls`, session-signed, from `clients` concurrent clients, with
/// `funded` other accounts holding a balance.
async fn run_sends(clients: u64, per_client: u64, kind: Kind, funded: u64) {
    let deployer = key(7);
    let config = Config {
        chain_ids: vec![CHAIN],
        policy_ids: vec![POLICY.into()],
        settle_after_ms: 0,
        deterministic_start: None,
        cors: false,
        genesis: vec![(deployer.address(), alloy_primitives::U256::from(10u128.pow(21)))],
        ..Default::default()
    };
    let server = serve(
        bench_emulator(config, &format!("sends-{kind:?}-{funded}")),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let emulator = server.emulator.clone();
    let url = server.url();
    for i in 0..funded {
        let who = Address::from_word(keccak256(i.to_be_bytes()));
        emulator
            .set_balance(U64::from(CHAIN), who, alloy_primitives::U256::from(10u64.pow(18)))
            .unwrap();
    }
    let call = match kind {
        Kind::Value => Call {
            to: Address::repeat_byte(0x42),
            data: None,
            value: Some(alloy_primitives::U256::from(1)),
        },
        Kind::Erc20 => {
            use alloy_sol_types::SolCall;
            let token = deploy_token(&url, &deployer).await;
            let data = sesskey_account::abi::transferCall {
                to: Address::repeat_byte(0x42),
                amount: alloy_primitives::U256::from(1),
            }
            .abi_encode();
            Call { to: token, data: Some(data.into()), value: None }
        }
    };
    let mut work = vec![];
    for i in 0..clients {
        let c = setup_client(&emulator, &url, i).await;
        emulator
            .set_balance(U64::from(CHAIN), c.account, alloy_primitives::U256::from(10u128.pow(24)))
            .unwrap();
        if let Some(token) = matches!(kind, Kind::Erc20).then_some(call.to) {
            emulator
                .set_erc20_balance(
                    U64::from(CHAIN),
                    token,
                    c.account,
                    alloy_primitives::U256::from(10u64.pow(9)),
                )
                .unwrap();
        }
        one_call(&c).await; // installs the session (the deferred key; the installed key starts at 0)
        let ops = presigned(&c, &call, 0, per_client);
        work.push((c, ops));
    }
    let start = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .map(|(c, ops)| {
            tokio::spawn(async move {
                let mut lat = vec![];
                for op in ops {
                    let t = Instant::now();
                    c.wallet.send_prepared_calls(op).await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut latencies = vec![];
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "sends only, {kind:<5?} | funded accounts {funded:>7} | clients {clients:>3} | session-signed sendPreparedCalls {:>6} in {elapsed:.1}s = {:>7.0} sends/s | p50 {:>6.2} ms, p99 {:>6.2} ms",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        pct(&latencies, 0.5).as_secs_f64() * 1e3,
        pct(&latencies, 0.99).as_secs_f64() * 1e3,
    );
    server.handle.stop().ok();
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn run(clients: u64, secs: u64, stored: u64) {
    let config = Config {
        chain_ids: vec![CHAIN],
        policy_ids: vec![POLICY.into()],
        settle_after_ms: 0,
        deterministic_start: None,
        cors: false,
        ..Default::default()
    };
    let emulator = bench_emulator(config, &format!("calls-{stored}"));
    let server = serve(emulator, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let emulator = server.emulator.clone();
    // Other sessions stored in the emulator, to show the per-call cost does not grow with them.
    let filler = key(3);
    emulator
        .set_delegation(U64::from(CHAIN), filler.address(), Some(MODULAR_ACCOUNT_V2_7702))
        .unwrap();
    for _ in 0..stored {
        emulator
            .create_session(CreateSessionParams {
                account: filler.address(),
                chain_id: U64::from(CHAIN),
                expiry_sec: None,
                key: SessionKey { public_key: Address::repeat_byte(9), ty: KeyType::Secp256k1 },
                permissions: vec![Permission::Root],
            })
            .unwrap();
    }
    let url = server.url();
    let mut all = vec![];
    for i in 0..clients {
        all.push(Arc::new(setup_client(&emulator, &url, i).await));
    }
    // Warm up: each client's first op installs its session.
    for c in &all {
        one_call(c).await;
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let tasks: Vec<_> = all
        .iter()
        .cloned()
        .map(|c| {
            tokio::spawn(async move {
                let mut lat = vec![];
                while Instant::now() < deadline {
                    lat.push(one_call(&c).await);
                }
                lat
            })
        })
        .collect();
    let mut latencies = vec![];
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "stored sessions {stored:>7} | clients {clients:>3} | complete session calls {:>6} in {elapsed:.1}s = {:>7.0} calls/s | sendPreparedCalls p50 {:>6.2} ms, p99 {:>6.2} ms",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        pct(&latencies, 0.5).as_secs_f64() * 1e3,
        pct(&latencies, 0.99).as_secs_f64() * 1e3,
    );
    server.handle.stop().ok();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this with no work to do.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let clients: u64 = env("SESSKEY_BENCH_CLIENTS", "8").parse().unwrap();
    let secs: u64 = env("SESSKEY_BENCH_SECS", "5").parse().unwrap();
    let stored: Vec<u64> = env("SESSKEY_BENCH_SESSIONS", "10,100000")
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let baseline = recover_rate();
    println!("baseline: raw libsecp256k1 recover, one core: {baseline:.0} /s");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for s in stored {
        rt.block_on(run(clients, secs, s));
    }
    let per_client: u64 = env("SESSKEY_BENCH_SENDS", "2000").parse().unwrap();
    let funded: Vec<u64> = env("SESSKEY_BENCH_FUNDED", "10,100000")
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    for kind in [Kind::Value, Kind::Erc20] {
        for &f in &funded {
            rt.block_on(run_sends(clients, per_client, kind, f));
        }
    }
    println!("baseline again: raw libsecp256k1 recover, one core: {:.0} /s", recover_rate());
}

//! A backend worker: the owner grants a session once (here, in process), the session goes into
//! a SQLite store, and the worker sends through it with the service: reserved against the
//! session's budget, verified before the session key signs, followed to its final status,
//! settled in the store. Against an in-process emulator, so it runs anywhere.
//!
//! `cargo run -p sesskey-session --example backend_worker`

use alloy_primitives::{Address, U256, U64};
use alloy_signer_local::PrivateKeySigner;
use sesskey_emulator::{serve, Config, Emulator};
use sesskey_rpc::WalletClient;
use sesskey_session::{Orchestrator, SessionService, SessionStore, SqlStore, StoredSession};
use sesskey_types::{
    Call, ContractAccess, CreateSessionParams, KeyType, NativeTokenTransfer, Permission, SessionKey,
};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";
    let owner = PrivateKeySigner::random();
    let key = PrivateKeySigner::random();
    let config = Config {
        policy_ids: vec![policy.into()],
        genesis: vec![(owner.address(), U256::from(10u64.pow(18)))],
        ..Config::default()
    };
    let server = serve(Emulator::new(config), "127.0.0.1:0".parse()?).await?;
    let flow = Orchestrator::new(WalletClient::new(server.url())?, Some(policy.into()));

    // Once, by the owner: delegate the account, grant 0.001 ETH to one shop for an hour.
    flow.ensure_delegated(&owner, 31337, Duration::from_secs(10)).await?;
    let shop = Address::repeat_byte(0x51);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let session = flow
        .create_session(
            &owner,
            &CreateSessionParams {
                account: owner.address(),
                chain_id: U64::from(31337),
                expiry_sec: Some(now + 3600),
                key: SessionKey { public_key: key.address(), ty: KeyType::Secp256k1 },
                permissions: vec![
                    Permission::ContractAccess(ContractAccess { address: shop }),
                    Permission::NativeTokenTransfer(NativeTokenTransfer {
                        allowance: U256::from(10u64.pow(15)),
                    }),
                ],
            },
        )
        .await?;
    let dir = std::env::temp_dir().join(format!("sesskey-worker-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = SqlStore::sqlite(&dir.join("sessions.db")).await?;
    store.insert(&StoredSession::new(session.clone())).await?;
    println!("session {} stored in {}", session.session_id, dir.display());

    // The worker, as often as it likes: each call reserved, verified, signed, settled.
    let service = SessionService::new(flow, store);
    for wei in [4u64, 5, 6].map(|n| n * 10u64.pow(14)) {
        let pay = vec![Call { to: shop, data: None, value: Some(U256::from(wei)) }];
        match service.send_stored(&session.session_id, &key, pay, now).await {
            Ok(call) => println!("sent {wei} wei: {:?}", call.outcome.status().status),
            Err(e) => println!("refused {wei} wei: {e}"),
        }
    }
    let spent = service.store().load(&session.session_id).await?.spent_native;
    println!("spent {spent} wei of {}", 10u64.pow(15));
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

//! With a data folder, a restart mid-flow carries on: sessions, nonces, prepared operations,
//! pending calls and balances survive.

use crate::helpers::*;
use alloy_primitives::{Address, U256, U64};
use sesskey_emulator::{Config, Emulator};
use sesskey_rpc::{EmulatorApiClient, WalletApiClient};
use sesskey_signing::*;
use sesskey_types::*;

fn fresh_dir(name: &str) -> std::path::PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("sesskey-{name}-{}-{nanos}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn a_restart_mid_flow_carries_on() {
    let dir = fresh_dir("restart");
    let config = Config { settle_after_ms: 60_000, ..Env::config() };
    let env = Env::with(Emulator::open(config.clone(), &dir).unwrap()).await;
    env.client.set_time(START).await.unwrap();
    // Delegate with a quick settle, then slow settles from here on.
    env.delegate_pending().await;
    let shop = Address::repeat_byte(0x51);
    let eth = |x: u64| U256::from(x) * U256::from(10u64.pow(15));
    env.fund(env.account(), eth(3000)).await;
    let session = env
        .session(
            vec![
                Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: eth(1000) }),
                Permission::ContractAccess(ContractAccess { address: shop }),
            ],
            None,
        )
        .await;
    let cap = PermissionsCapability::from(&session);
    // One call sent (pending), one prepared but not sent.
    let first = env
        .send_with(
            &env.session_key,
            &cap,
            vec![Call { to: shop, data: None, value: Some(eth(100)) }],
        )
        .await
        .unwrap();
    let caps = PrepareCallsCapabilities { permissions: Some(cap.clone()), ..Env::sponsored() };
    let PreparedCalls::UserOperationV070(op) = env
        .client
        .prepare_calls(
            env.prepare_params(vec![Call { to: shop, data: None, value: Some(eth(200)) }], caps),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        env.client.get_calls_status(CallId(first.id.clone())).await.unwrap().status,
        CallStatusCode::Pending
    );

    // Stop, drop everything, reopen the folder.
    env.server.handle.stop().unwrap();
    env.server.handle.clone().stopped().await;
    let Env { server, owner, session_key, .. } = env;
    drop(server);
    let reopened = Emulator::open(config, &dir).unwrap();
    let mut env = Env::with(reopened).await;
    env.owner = owner;
    env.session_key = session_key;

    assert_eq!(
        env.client.get_calls_status(CallId(first.id.clone())).await.unwrap().status,
        CallStatusCode::Pending
    );
    env.client.settle().await.unwrap();
    assert_eq!(
        env.client.get_calls_status(CallId(first.id)).await.unwrap().status,
        CallStatusCode::Confirmed
    );
    assert_eq!(env.client.get_balance(U64::from(CHAIN), shop).await.unwrap(), eth(100));
    // The op prepared before the restart goes through after it: its nonce and sponsorship held.
    let signature = sign_user_op_v07(&env.session_key, &op, ENTRY_POINT_V07).await.unwrap();
    let sent = env
        .client
        .send_prepared_calls(SendPreparedCallsParams {
            calls: SignedCalls::UserOperationV070(SignedUserOperationV07 {
                data: op.data,
                chain_id: op.chain_id,
                signature,
            }),
            capabilities: Some(SendPreparedCallsCapabilities {
                permissions: Some(cap),
                paymaster_service: None,
            }),
            call_id: None,
        })
        .await
        .unwrap();
    env.client.settle().await.unwrap();
    assert_eq!(
        env.client.get_calls_status(CallId(sent.id)).await.unwrap().status,
        CallStatusCode::Confirmed
    );
    let info = &env.client.list_sessions().await.unwrap()[0];
    assert_eq!(info.native_left, Some(eth(700)));
    assert!(info.installed);
    let _ = std::fs::remove_dir_all(&dir);
}

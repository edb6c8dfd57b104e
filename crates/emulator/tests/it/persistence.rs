//! With a data folder, a restart mid-flow carries on: sessions, nonces, prepared operations,
//! pending calls and balances survive.

use crate::helpers::*;
use alloy_primitives::{Address, U256, U64};
use sesskey_emulator::{Config, Emulator};
use sesskey_rpc::{EmulatorApiClient, WalletApiClient};
use sesskey_types::*;

/// A fresh, empty folder, removed with its contents when dropped (a failed test's too).
fn fresh_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("sesskey-{name}-")).tempdir().unwrap()
}

#[tokio::test]
async fn a_restart_mid_flow_carries_on() {
    let tmp = fresh_dir("restart");
    let dir = tmp.path();
    let config = Config { settle_after_ms: 60_000, ..Env::config() };
    let env = Env::with(Emulator::open(config.clone(), dir).unwrap()).await;
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
    let reopened = Emulator::open(config, dir).unwrap();
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
    let sent = env
        .client
        .send_prepared_calls(signed(&env.session_key, op, Some(cap)).await)
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
}

/// Reopens `dir` after dropping the server of `env`.
async fn restart(env: Env, config: Config, dir: &std::path::Path) -> Env {
    env.server.handle.stop().unwrap();
    env.server.handle.clone().stopped().await;
    drop(env);
    Env::with(Emulator::open(config, dir).unwrap()).await
}

#[tokio::test]
async fn every_kind_of_change_survives_a_restart() {
    use alloy_provider::Provider;
    let tmp = fresh_dir("kinds");
    let dir = tmp.path();
    let config = Env::config();
    let env = Env::with(Emulator::open(config.clone(), dir).unwrap()).await;
    // EVM state from a plain transaction, a session created last, a revoked one, the clock.
    let counter = env.deploy("Counter", &[]).await;
    env.delegate().await;
    let revoked = env.session(vec![Permission::Root], None).await;
    env.client.revoke_session(revoked.session_id).await.unwrap();
    env.client.increase_time(3600).await.unwrap();
    let last = env.session(vec![Permission::Root], None).await;
    let head = env.provider().get_block_number().await.unwrap();
    let code = env.provider().get_code_at(counter).await.unwrap();
    let env = restart(env, config.clone(), dir).await;
    assert_eq!(env.provider().get_code_at(counter).await.unwrap(), code);
    assert_eq!(env.provider().get_block_number().await.unwrap(), head);
    assert_eq!(env.client.now().await.unwrap(), START + 3600);
    let sessions = env.client.list_sessions().await.unwrap();
    assert_eq!(sessions.len(), 2, "the session created last before the stop is kept");
    assert!(sessions.iter().any(|s| s.session_id == revoked.session_id && s.revoked));
    // The revoked session stays revoked; the other one works; a new id is never reused.
    let e = wallet_error(
        env.send_with(
            &env.session_key,
            &PermissionsCapability::from(&revoked),
            vec![Call::default()],
        )
        .await,
    );
    assert!(e.to_string().contains("revoked"), "{e}");
    env.send_with(&env.session_key, &PermissionsCapability::from(&last), vec![Call::default()])
        .await
        .unwrap();
    let another = env.session(vec![Permission::Root], None).await;
    assert!(another.session_id != last.session_id && another.session_id != revoked.session_id);
}

#[test]
fn a_damaged_data_file_is_refused_with_a_clear_message() {
    // Empty.
    let tmp = fresh_dir("empty");
    let dir = tmp.path();
    std::fs::write(dir.join(sesskey_emulator::DATA_FILE), b"").unwrap();
    let e = Emulator::open(Env::config(), dir).unwrap_err();
    assert!(matches!(e, sesskey_emulator::Error::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("is damaged (the file is empty)"), "{e}");
    // Truncated, and with flipped bytes: a real database cut short or altered.
    let good_tmp = fresh_dir("good");
    let good = good_tmp.path();
    drop(Emulator::open(Env::config(), good).unwrap());
    let bytes = std::fs::read(good.join(sesskey_emulator::DATA_FILE)).unwrap();
    let mut damaged = vec![bytes[..bytes.len() / 3].to_vec()];
    for at in [0, 16, 64, 512, 4096, bytes.len() / 2, bytes.len() - 8] {
        let mut b = bytes.clone();
        for x in &mut b[at..(at + 8).min(bytes.len())] {
            *x ^= 0xa5;
        }
        damaged.push(b);
    }
    let mut refused = 0;
    let cases = damaged.len();
    for (i, b) in damaged.into_iter().enumerate() {
        let tmp = fresh_dir("damaged");
        let dir = tmp.path();
        std::fs::write(dir.join(sesskey_emulator::DATA_FILE), &b).unwrap();
        // Either refused with a clear message, or (a flip in unused space) read whole.
        match Emulator::open(Env::config(), dir) {
            Err(e) => assert!(e.to_string().contains("is damaged"), "case {i}: {e}"),
            Ok(emu) => {
                assert!(i != 0, "a truncated file is refused");
                assert_eq!(emu.chain_ids(), vec![CHAIN, 0x66eee], "case {i}");
                refused -= 1;
            }
        }
        refused += 1;
    }
    assert!(refused * 2 > cases, "most damage is detected: {refused} of {cases}");
    // Not an emulator database.
    let tmp = fresh_dir("foreign");
    let dir = tmp.path();
    std::fs::write(dir.join(sesskey_emulator::DATA_FILE), b"hello, world").unwrap();
    assert!(Emulator::open(Env::config(), dir).unwrap_err().to_string().contains("is damaged"));
}

#[tokio::test]
async fn time_controls_never_wrap_and_never_go_back() {
    let env = Env::start().await;
    let now = env.client.now().await.unwrap();
    assert!(env.client.set_time(u64::MAX).await.is_err());
    assert!(env.client.increase_time(u64::MAX).await.is_err());
    assert!(env.client.set_time(now - 10).await.is_err());
    assert_eq!(env.client.now().await.unwrap(), now);
    assert_eq!(env.client.increase_time(5).await.unwrap(), now + 5);
}

/// Every page boundary of a real data folder (state from a whole flow), with 16 bytes flipped:
/// opening it never panics; it is refused as damaged, or read whole.
#[tokio::test(flavor = "multi_thread")]
async fn flipped_bytes_at_every_page_boundary_never_panic() {
    let good_tmp = fresh_dir("pages");
    let good = good_tmp.path();
    {
        let env = Env::with(Emulator::open(Env::config(), good).unwrap()).await;
        env.delegate().await;
        let session = env.session(vec![Permission::Root], None).await;
        env.send_with(
            &env.session_key,
            &PermissionsCapability::from(&session),
            vec![Call::default()],
        )
        .await
        .unwrap();
    }
    let bytes = std::fs::read(good.join(sesskey_emulator::DATA_FILE)).unwrap();
    let mut offsets: Vec<usize> = (0..bytes.len()).step_by(4096).collect();
    offsets.extend((0..bytes.len()).step_by(4096).map(|p| p + 2048));
    let mut panics = vec![];
    for at in offsets.into_iter().filter(|at| *at < bytes.len()) {
        let mut b = bytes.clone();
        for x in &mut b[at..(at + 16).min(bytes.len())] {
            *x ^= 0x5a;
        }
        let tmp = fresh_dir("flipped");
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join(sesskey_emulator::DATA_FILE), &b).unwrap();
        let opened = std::panic::catch_unwind(|| Emulator::open(Env::config(), &dir));
        match opened {
            Err(_) => panics.push(at),
            Ok(Err(e)) => assert!(e.to_string().contains("is damaged"), "flip at {at}: {e}"),
            Ok(Ok(_)) => {}
        }
    }
    assert!(panics.is_empty(), "opening panicked for flips at {panics:?}");
}

/// A policy id is made when none is given, and kept by the data folder: a restart that names
/// none serves the same one; one that names its own serves those.
#[tokio::test]
async fn the_data_folder_keeps_the_policy_it_made() {
    let dir = fresh_dir("policy");
    let config = Config { policy_ids: vec![], ..Env::config() };
    let made = Emulator::launch(config.clone(), Some(dir.path())).await.unwrap();
    let ids = made.config().policy_ids.clone();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].len(), 36, "a UUID: {}", ids[0]);
    drop(made);
    let again = Emulator::launch(config.clone(), Some(dir.path())).await.unwrap();
    assert_eq!(again.config().policy_ids, ids, "the same policy after a restart");
    drop(again);
    let named = Config { policy_ids: vec![POLICY.into()], ..config };
    let named = Emulator::launch(named, Some(dir.path())).await.unwrap();
    assert_eq!(named.config().policy_ids, vec![POLICY.to_string()]);
}

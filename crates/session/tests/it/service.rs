//! The service in the library: many calls in flight on one session, and a fleet of workers
//! sharing sessions through one PostgreSQL store.

use crate::flow::{delegated_owner, request, CHAIN, POLICY};
use crate::store::{postgres, temp_dir};
use alloy_primitives::{Address, U256, U64};
use sesskey_rpc::WalletClient;
use sesskey_session::{
    Error, Orchestrator, Outcome, SessionService, SessionStore, SqlStore, StoredSession,
};
use sesskey_signing::dev::dev_session_key;
use sesskey_types::*;
use std::sync::Arc;
use std::time::Duration;

const NOW: u64 = 1_800_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_concurrent_sends_on_one_session_all_confirm() {
    let (_server, flow, owner) = delegated_owner(Some(POLICY)).await;
    let session =
        flow.create_session(&owner, &request(vec![Permission::Root], None)).await.unwrap();
    let tmp = temp_dir("service");
    let dir = tmp.path();
    let store = SqlStore::sqlite(&dir.join("sessions.db")).await.unwrap();
    store.save(&StoredSession::new(session.clone())).await.unwrap();
    let service = Arc::new(SessionService::new(flow, store).with_wait(Duration::from_secs(30)));
    let tasks: Vec<_> = (0..16u8)
        .map(|i| {
            let service = service.clone();
            let id = session.session_id;
            tokio::spawn(async move {
                let call = Call { to: Address::repeat_byte(0x40 + i), data: None, value: None };
                service.send_stored(&id, &dev_session_key(), vec![call], NOW).await
            })
        })
        .collect();
    let mut confirmed = 0;
    for t in tasks {
        let sent = t.await.unwrap().unwrap();
        assert!(matches!(sent.outcome, Outcome::Confirmed(_)), "{:?}", sent.outcome);
        confirmed += 1;
    }
    assert_eq!(confirmed, 16);
    assert!(service.store().load(&session.session_id).await.unwrap().installed);
}

/// 4 workers (each its own connection pool), one PostgreSQL, one emulator, 2 sessions with a
/// native allowance: every worker sends until refused. The total spent never passes an
/// allowance, no two calls collide on a nonce, and every acknowledged call is recorded once.
#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_of_workers_shares_budgets_through_postgres() {
    if postgres().await.is_none() {
        return;
    }
    let url = std::env::var("SESSKEY_TEST_DATABASE_URL").unwrap();
    let (server, flow, owner) = delegated_owner(Some(POLICY)).await;
    let allowance = 1_000u64;
    let shops = [Address::repeat_byte(0x61), Address::repeat_byte(0x62)];
    let store = SqlStore::connect(&url).await.unwrap();
    let mut sessions = vec![];
    for shop in shops {
        let s = flow
            .create_session(
                &owner,
                &request(
                    vec![
                        Permission::NativeTokenTransfer(NativeTokenTransfer {
                            allowance: U256::from(allowance),
                        }),
                        Permission::ContractAccess(ContractAccess { address: shop }),
                    ],
                    None,
                ),
            )
            .await
            .unwrap();
        store.save(&StoredSession::new(s.clone())).await.unwrap();
        sessions.push((s.session_id, shop));
    }
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let url = url.clone();
            let server_url = server.url();
            let sessions = sessions.clone();
            tokio::spawn(async move {
                let store = SqlStore::connect(&url).await.unwrap();
                let flow =
                    Orchestrator::new(WalletClient::new(server_url).unwrap(), Some(POLICY.into()));
                let service = SessionService::new(flow, store).with_wait(Duration::from_secs(30));
                let mut acknowledged = vec![0u64; 2];
                let mut open = [true, true];
                let mut turn = w;
                while open.iter().any(|o| *o) {
                    turn = (turn + 1) % 2;
                    if !open[turn] {
                        continue;
                    }
                    let (id, shop) = sessions[turn];
                    let call = Call { to: shop, data: None, value: Some(U256::from(30)) };
                    match service.send_stored(&id, &dev_session_key(), vec![call], NOW).await {
                        Ok(sent) => {
                            assert!(
                                matches!(sent.outcome, Outcome::Confirmed(_)),
                                "{:?}",
                                sent.outcome
                            );
                            acknowledged[turn] += 1;
                        }
                        Err(Error::Preflight(_)) => open[turn] = false,
                        Err(e) => panic!("worker {w}: {e}"),
                    }
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged = [0u64; 2];
    for w in workers {
        let a = w.await.unwrap();
        acknowledged[0] += a[0];
        acknowledged[1] += a[1];
    }
    for (i, (id, shop)) in sessions.iter().enumerate() {
        let spent = store.load(id).await.unwrap().spent_native;
        let received = server.emulator.balance(U64::from(CHAIN), *shop).unwrap();
        assert_eq!(
            spent,
            U256::from(acknowledged[i] * 30),
            "every acknowledged call recorded once"
        );
        assert_eq!(received, spent, "the chain agrees with the store");
        assert!(spent <= U256::from(allowance), "never past the allowance");
        assert!(spent > U256::from(allowance - 30), "the budget was used up: {spent}");
        store.remove(id).await.unwrap();
    }
}

/// Revocation on chain: the owner uninstalls the session's validation; the emulator then
/// refuses the key's next op as the account would (not only the store).
#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_session_is_refused_by_the_account() {
    let (_server, flow, owner) = delegated_owner(Some(POLICY)).await;
    let shop = Address::repeat_byte(0x51);
    let session = flow
        .create_session(
            &owner,
            &request(
                vec![Permission::ContractAccess(ContractAccess { address: shop })],
                Some(NOW + 3600),
            ),
        )
        .await
        .unwrap();
    let store = sesskey_session::MemoryStore::new();
    store.save(&StoredSession::new(session.clone())).await.unwrap();
    let service = SessionService::new(flow.clone(), store).with_wait(Duration::from_secs(10));
    let call = Call { to: shop, data: None, value: None };
    let sent = service
        .send_stored(&session.session_id, &dev_session_key(), vec![call.clone()], NOW)
        .await
        .unwrap();
    assert!(matches!(sent.outcome, Outcome::Confirmed(_)));
    let outcome = service.revoke(&session.session_id, &owner).await.unwrap();
    assert!(matches!(outcome, Outcome::Confirmed(_)), "{outcome:?}");
    assert!(service.store().load(&session.session_id).await.unwrap().revoked);
    // Revoking it again signs and sends nothing: it is revoked.
    let counting = crate::Counting::new(owner.clone());
    let e = service.revoke(&session.session_id, &counting).await.unwrap_err();
    assert!(matches!(e, Error::Revoked(_)), "{e}");
    assert_eq!(counting.signed(), 0, "nothing signed for a revoked session");
    // The store refuses first…
    let e = service
        .send_stored(&session.session_id, &dev_session_key(), vec![call.clone()], NOW)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Revoked(_)), "{e}");
    // …and the account refuses too, whoever asks: AA23 ValidationFunctionMissing(executeBatch).
    let e = flow
        .send_calls(&session, &dev_session_key(), vec![call], &Default::default(), NOW)
        .await
        .unwrap_err();
    let Error::Rpc(e) = e else { panic!("{e}") };
    let w = e.wallet_error().unwrap();
    assert_eq!(w.entry_point_code(), Some("AA23"), "{w}");
    alloy_sol_types::sol! { error ValidationFunctionMissing(bytes4 selector); }
    use alloy_sol_types::SolError;
    let missing = ValidationFunctionMissing::abi_decode(w.revert_data().unwrap()).unwrap();
    assert_eq!(
        missing.selector,
        sesskey_account::EXECUTE_BATCH,
        "executeBatch has no validation now"
    );
}

/// Unsponsored calls are charged their maximum gas cost: reserved in the store against a
/// `gas-limit`, or, on a session without budgets (nothing reserved), kept with the call and
/// recorded when it ends. Either way the store's total is the sum of what each call reports.
#[tokio::test(flavor = "multi_thread")]
async fn gas_is_charged_with_or_without_a_gas_budget() {
    let (_server, flow, owner) = delegated_owner(None).await;
    let shop = Address::repeat_byte(0x52);
    let tmp = temp_dir("gas");
    let dir = tmp.path();
    let store = SqlStore::sqlite(&dir.join("sessions.db")).await.unwrap();
    let service = SessionService::new(flow.clone(), store).with_wait(Duration::from_secs(10));
    let limited = vec![
        Permission::ContractAccess(ContractAccess { address: shop }),
        Permission::GasLimit(GasLimit { limit: U256::from(10u64.pow(17)) }),
    ];
    for permissions in [vec![Permission::Root], limited] {
        let session = flow.create_session(&owner, &request(permissions, None)).await.unwrap();
        service.store().save(&StoredSession::new(session.clone())).await.unwrap();
        let mut total = U256::ZERO;
        for _ in 0..3 {
            let call = Call { to: shop, data: None, value: None };
            let sent = service
                .send_stored(&session.session_id, &dev_session_key(), vec![call], NOW)
                .await
                .unwrap();
            assert!(matches!(sent.outcome, Outcome::Confirmed(_)), "{:?}", sent.outcome);
            assert!(!sent.spent.gas.is_zero(), "an unsponsored call costs gas");
            total += sent.spent.gas;
        }
        let record = service.store().load(&session.session_id).await.unwrap();
        assert_eq!(record.spent_gas, total, "{:?}", session.permissions);
    }
}

/// A stop (the CLI's Ctrl-C or SIGTERM) before the op is signed gives back what the call held:
/// nothing is sent, and the next call starts at once on the first op's key (no lease to wait
/// out), and its budget is whole.
#[tokio::test(flavor = "multi_thread")]
async fn a_stop_before_signing_gives_everything_back() {
    let (_server, flow, owner) = delegated_owner(Some(POLICY)).await;
    let shop = Address::repeat_byte(0x51);
    let permissions = vec![
        Permission::ContractAccess(ContractAccess { address: shop }),
        Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: U256::from(100) }),
    ];
    let session = flow.create_session(&owner, &request(permissions, None)).await.unwrap();
    let tmp = temp_dir("stop");
    let store = SqlStore::sqlite(&tmp.path().join("sessions.db")).await.unwrap();
    store.save(&StoredSession::new(session.clone())).await.unwrap();
    let service = SessionService::new(flow, store).with_wait(Duration::from_secs(30));
    let id = session.session_id;
    let pay = |wei: u64| vec![Call { to: shop, data: None, value: Some(U256::from(wei)) }];
    let (stop_tx, stop) = tokio::sync::watch::channel(true);
    let e = service.send_stored_until(&id, &dev_session_key(), pay(100), NOW, stop).await;
    assert!(matches!(e, Err(Error::Interrupted)), "{e:?}");
    drop(stop_tx);
    // Nothing held: the whole allowance, on the first op's key, at once.
    let start = service.store().begin_call(&id, &pay(100), NOW, 60).await.unwrap();
    let start = start.expect("the first op's key is free");
    assert_eq!(start.lease.key, 0);
    service.store().end_call(&[(start.reservation, None)], &start.lease, None, NOW).await.unwrap();
    let sent = service.send_stored(&id, &dev_session_key(), pay(100), NOW).await.unwrap();
    assert!(matches!(sent.outcome, Outcome::Confirmed(_)), "{:?}", sent.outcome);
}

/// A worker killed while its call waits for a final status (its task dropped mid-flight, as
/// `kill -9` leaves it): the next worker on the session waits out at most the lease, settles
/// the dead worker's call from the chain (its spend recorded, the session's key installed),
/// then sends its own. Nothing is forgotten, nothing counted twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_workers_call_is_settled_from_the_chain_by_the_next_call() {
    use sesskey_emulator::{serve, Config, Emulator};
    let config = Config {
        policy_ids: vec![POLICY.into()],
        // The system clock: statuses settle 1.5 s after a send, in real time.
        settle_after_ms: 1500,
        genesis: vec![(sesskey_signing::dev::dev_owner().address(), U256::from(10u64.pow(18)))],
        ..Config::default()
    };
    let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let flow = Orchestrator::new(WalletClient::new(server.url()).unwrap(), Some(POLICY.into()));
    let owner = sesskey_signing::dev::dev_owner();
    flow.ensure_delegated(&owner, CHAIN, Duration::from_secs(10)).await.unwrap();
    let shop = Address::repeat_byte(0x51);
    let permissions = vec![
        Permission::ContractAccess(ContractAccess { address: shop }),
        Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: U256::from(1000) }),
    ];
    let session = flow.create_session(&owner, &request(permissions, None)).await.unwrap();
    let tmp = temp_dir("killed");
    let path = tmp.path().join("sessions.db");
    let store = SqlStore::sqlite(&path).await.unwrap();
    store.save(&StoredSession::new(session.clone())).await.unwrap();
    let id = session.session_id;
    let pay = |wei: u64| vec![Call { to: shop, data: None, value: Some(U256::from(wei)) }];
    let worker = |flow: Orchestrator<WalletClient>, store: SqlStore| {
        SessionService::new(flow, store).with_wait(Duration::from_secs(20)).with_lease_secs(2)
    };
    // The first worker sends the session's first op, and dies while its status is pending.
    let first = worker(flow.clone(), store.clone());
    let dying = tokio::spawn(async move {
        first
            .send_stored(
                &id,
                &dev_session_key(),
                vec![Call {
                    to: Address::repeat_byte(0x51),
                    data: None,
                    value: Some(U256::from(100)),
                }],
                NOW,
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    dying.abort();
    assert!(dying.await.unwrap_err().is_cancelled());
    // The next worker, another store on the same file (another process).
    let other = SqlStore::sqlite(&path).await.unwrap();
    let next = worker(flow.clone(), other);
    let started = std::time::Instant::now();
    let sent = next.send_stored(&id, &dev_session_key(), pay(10), NOW).await.unwrap();
    assert!(matches!(sent.outcome, Outcome::Confirmed(_)), "{:?}", sent.outcome);
    assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}", started.elapsed());
    let record = next.store().load(&id).await.unwrap();
    assert!(record.installed, "the dead worker's first op was settled: the key is installed");
    assert_eq!(record.spent_native, U256::from(110), "both calls counted, each once");
    assert!(next.store().claim_lapsed(&id, u64::MAX).await.unwrap().is_empty());
}

//! One contract suite for every store: memory, SQLite, and PostgreSQL (a real server: its URL in
//! `SESSKEY_TEST_DATABASE_URL`; under CI a missing server fails the test, it never skips).

use alloy_primitives::{Address, FixedBytes, U256, U64};
use sesskey_session::{
    Error, JsonFolder, MemoryStore, Session, SessionStore, SqlStore, StoredSession,
};
use sesskey_types::{Call, ContractAccess, NativeTokenTransfer, Permission, SessionId};
use std::future::Future;
use std::sync::Arc;

fn session(id: u8, allowance: u64) -> Session {
    Session {
        session_id: [id; 16].into(),
        chain_id: U64::from(31337),
        account: Address::repeat_byte(id),
        session_key: Address::repeat_byte(2),
        entity_id: 1,
        expiry: 0,
        permissions: vec![
            Permission::NativeTokenTransfer(NativeTokenTransfer {
                allowance: U256::from(allowance),
            }),
            Permission::ContractAccess(ContractAccess { address: Address::repeat_byte(9) }),
        ],
        owner_signature: FixedBytes::repeat_byte(3),
    }
}

/// A session on a fresh account: a shared server keeps the leases of earlier runs.
fn fresh(id: u8, allowance: u64) -> Session {
    Session { account: Address::from(rand::random::<[u8; 20]>()), ..session(id, allowance) }
}

fn pay(wei: u64) -> Vec<Call> {
    vec![Call { to: Address::repeat_byte(9), data: None, value: Some(U256::from(wei)) }]
}

/// A fresh folder, removed with its contents when dropped (a failed test's too).
pub(crate) fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("sesskey-{name}-")).tempdir().unwrap()
}

/// The PostgreSQL server of the test run, in a fresh schema-less database state: every test
/// uses its own sessions (ids from `salt`), so runs can share the server.
pub(crate) async fn postgres() -> Option<SqlStore> {
    if !cfg!(feature = "postgres") {
        eprintln!(
            "built without the `postgres` feature: the PostgreSQL run of this test is skipped"
        );
        return None;
    }
    match std::env::var("SESSKEY_TEST_DATABASE_URL") {
        Ok(url) => Some(SqlStore::connect(&url).await.expect("the test PostgreSQL server")),
        Err(_) if std::env::var("CI").is_ok() => {
            panic!("CI must provide SESSKEY_TEST_DATABASE_URL (see .ci/run)")
        }
        Err(_) => {
            eprintln!(
                "SESSKEY_TEST_DATABASE_URL unset: the PostgreSQL run of this test is skipped here"
            );
            None
        }
    }
}

/// The contract every store keeps. `salt` keeps runs on a shared server apart.
async fn contract<St: SessionStore + 'static>(store: Arc<St>, salt: u8) {
    let a = session(salt, 100);
    let b = session(salt.wrapping_add(1), 100);
    let _ = store.remove(&a.session_id).await;
    let _ = store.remove(&b.session_id).await;
    for s in [&a, &b] {
        let mut record = StoredSession::new(s.clone());
        record.installed = true;
        store.save(&record).await.unwrap();
    }
    let listed: Vec<SessionId> =
        store.list().await.unwrap().into_iter().map(|s| s.session.session_id).collect();
    assert!(listed.contains(&a.session_id) && listed.contains(&b.session_id));
    assert_eq!(store.load(&a.session_id).await.unwrap().session, a);

    // Reservations count against the allowance until settled or released.
    let c1 = store.begin_call(&a.session_id, &pay(60), 1_000, 60).await.unwrap().unwrap();
    assert_eq!(c1.reservation.spend.native, U256::from(60));
    let over = store.begin_call(&a.session_id, &pay(41), 1_000, 60).await.unwrap_err();
    assert!(matches!(over, Error::Preflight(_)), "{over}");
    let gas = store.reserve(&a.session_id, &[], U256::from(40), 1_000, 60).await.unwrap();
    assert_eq!(gas.spend.gas, U256::from(40), "gas reserved alone");
    store.end_call(&[(c1.reservation, None), (gas, None)], &c1.lease, None, 1_000).await.unwrap();
    let c2 = store.begin_call(&a.session_id, &pay(41), 1_000, 60).await.unwrap().unwrap();
    let spent = Some(c2.reservation.spend.clone());
    store.end_call(&[(c2.reservation, spent)], &c2.lease, None, 1_000).await.unwrap();
    assert_eq!(store.load(&a.session_id).await.unwrap().spent_native, U256::from(41));
    // A grant goes in by insert, which never replaces a session: not its permissions, not its
    // spend, not its key; of racing inserts of one id, exactly one goes in.
    let mut root = StoredSession::new(session(salt, 1_000_000));
    root.session.permissions = vec![Permission::Root];
    let e = store.insert(&root).await.unwrap_err();
    assert!(matches!(&e, Error::Exists(id) if *id == a.session_id.to_string()), "{e}");
    let kept = store.load(&a.session_id).await.unwrap();
    assert_eq!((kept.session, kept.spent_native), (a.clone(), U256::from(41)));
    let fresh = session(salt.wrapping_add(3), 100);
    let _ = store.remove(&fresh.session_id).await;
    let inserts: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let record = StoredSession::new(fresh.clone());
            tokio::spawn(async move { store.insert(&record).await })
        })
        .collect();
    let mut went_in = 0;
    for t in inserts {
        match t.await.unwrap() {
            Ok(()) => went_in += 1,
            Err(Error::Exists(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(went_in, 1, "exactly one racing insert goes in");
    store.remove(&fresh.session_id).await.unwrap();
    // A lapsed reservation no longer counts.
    store.reserve(&a.session_id, &pay(59), U256::ZERO, 1_000, 10).await.unwrap();
    assert!(store.reserve(&a.session_id, &pay(1), U256::ZERO, 1_005, 10).await.is_err());
    store.reserve(&a.session_id, &pay(59), U256::ZERO, 1_011, 10).await.unwrap();

    // Concurrent reservations never exceed the allowance together.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            let id = b.session_id;
            tokio::spawn(async move { store.reserve(&id, &pay(10), U256::ZERO, 2_000, 60).await })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            granted += 1;
        }
    }
    assert_eq!(granted, 10, "exactly the allowance is reserved");

    // Nonce keys: each lease unique among calls in flight; released keys come back.
    // A fresh account each run: a shared server keeps the leases of earlier runs.
    let mut d = StoredSession::new(super::store::fresh(salt.wrapping_add(4), 1_000_000));
    d.installed = true;
    let (d_id, account) = (d.session.session_id, d.session.account);
    let _ = store.remove(&d_id).await;
    store.save(&d).await.unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store.begin_call(&d_id, &pay(1), 3_000, 60).await.unwrap().unwrap()
            })
        })
        .collect();
    let mut starts = vec![];
    for t in tasks {
        starts.push(t.await.unwrap());
    }
    let mut ids: Vec<u64> = starts.iter().map(|s| s.lease.key).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12, "no key leased twice");
    assert!(ids.iter().all(|k| *k >= 1));
    let first = starts.remove(0);
    store.end_call(&[(first.reservation, None)], &first.lease, None, 3_000).await.unwrap();
    let again = store.begin_call(&d_id, &pay(1), 3_000, 60).await.unwrap().unwrap();
    assert_eq!(again.lease.key, first.lease.key, "a returned key comes back");
    // A session's first op takes the serial key 0 of its account, alone, until it lapses.
    let e = Session { session_id: [salt.wrapping_add(5); 16].into(), ..d.session.clone() };
    assert_eq!(e.account, account);
    let _ = store.remove(&e.session_id).await;
    store.save(&StoredSession::new(e.clone())).await.unwrap();
    let zero = store.begin_call(&e.session_id, &pay(1), 3_000, 60).await.unwrap().unwrap();
    assert_eq!(zero.lease.key, 0);
    assert!(store.begin_call(&e.session_id, &pay(1), 3_000, 60).await.unwrap().is_none());
    assert!(
        store.begin_call(&e.session_id, &pay(1), 3_061, 60).await.unwrap().is_some(),
        "a lapsed lease frees its key"
    );
    store.remove(&d_id).await.unwrap();
    store.remove(&e.session_id).await.unwrap();

    // A call's start and end: the first op alone on key 0, then parallel keys.
    let c = session(salt.wrapping_add(2), 100);
    let _ = store.remove(&c.session_id).await;
    store.save(&StoredSession::new(c.clone())).await.unwrap();
    let first = store.begin_call(&c.session_id, &pay(10), 5_000, 60).await.unwrap().unwrap();
    assert_eq!(first.lease.key, 0);
    assert!(store.begin_call(&c.session_id, &pay(10), 5_000, 60).await.unwrap().is_none());
    let spent = first.reservation.spend.clone();
    store
        .end_call(&[(first.reservation, Some(spent))], &first.lease, Some(&c.session_id), 5_000)
        .await
        .unwrap();
    let record = store.load(&c.session_id).await.unwrap();
    assert!(record.installed);
    assert_eq!(record.spent_native, U256::from(10));
    let next = store.begin_call(&c.session_id, &pay(90), 5_001, 60).await.unwrap().unwrap();
    assert!(next.lease.key >= 1);
    assert!(matches!(
        store.begin_call(&c.session_id, &pay(1), 5_001, 60).await,
        Err(Error::Preflight(_))
    ));
    store.end_call(&[(next.reservation, None)], &next.lease, None, 5_001).await.unwrap();
    assert_eq!(store.load(&c.session_id).await.unwrap().spent_native, U256::from(10), "released");
    store.remove(&c.session_id).await.unwrap();

    // Revoked: nothing more is reserved. Installed is kept.
    store.mark_revoked(&a.session_id).await.unwrap();
    let loaded = store.load(&a.session_id).await.unwrap();
    assert!(loaded.revoked && loaded.installed);
    assert!(matches!(
        store.reserve(&a.session_id, &pay(1), U256::ZERO, 4_000, 60).await,
        Err(Error::Revoked(_))
    ));
    store.remove(&a.session_id).await.unwrap();
    assert!(matches!(store.load(&a.session_id).await, Err(Error::UnknownSession(_))));
    store.remove(&b.session_id).await.unwrap();
}

#[tokio::test]
async fn the_memory_store_keeps_the_contract() {
    contract(Arc::new(MemoryStore::new()), 10).await;
}

#[tokio::test]
async fn the_sqlite_store_keeps_the_contract() {
    let tmp = temp_dir("sqlite");
    let dir = tmp.path();
    contract(Arc::new(SqlStore::sqlite(&dir.join("sessions.db")).await.unwrap()), 20).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_postgres_store_keeps_the_contract() {
    if let Some(store) = postgres().await {
        contract(Arc::new(store), 30).await;
    }
}

#[tokio::test]
async fn a_json_folder_is_imported_once() {
    let tmp = temp_dir("import");
    let dir = tmp.path();
    let folder = JsonFolder::open(dir).unwrap();
    let mut old = StoredSession::new(session(40, 100));
    old.spent_native = U256::from(7);
    folder.save(&old).unwrap();
    let store = SqlStore::sqlite(&dir.join("sessions.db")).await.unwrap();
    assert_eq!(store.import_folder(&folder).await.unwrap(), 1);
    assert_eq!(store.load(&old.session.session_id).await.unwrap().spent_native, U256::from(7));
    folder.save(&StoredSession::new(session(41, 100))).unwrap();
    assert_eq!(store.import_folder(&folder).await.unwrap(), 0, "imported once");
    assert!(dir.join(format!("{}.json", old.session.session_id)).exists(), "left as it was");
}

/// The SQL store's writer commits the starts and ends that queue up together: each caller
/// still gets its own answer. Many at once on four sessions: one far over its allowance, one
/// revoked, one unknown, one fine. `salt` keeps runs on a shared server apart.
async fn batched_answers_stay_their_callers(store: Arc<SqlStore>, salt: u8) {
    let ok = fresh(salt, 1_000);
    let poor = fresh(salt.wrapping_add(1), 5);
    let revoked = fresh(salt.wrapping_add(2), 1_000);
    let unknown = fresh(salt.wrapping_add(3), 1_000);
    for s in [&ok, &poor, &revoked, &unknown] {
        let _ = store.remove(&s.session_id).await;
    }
    for s in [&ok, &poor, &revoked] {
        let mut record = StoredSession::new(s.clone());
        record.installed = true;
        store.save(&record).await.unwrap();
    }
    store.mark_revoked(&revoked.session_id).await.unwrap();
    let tasks: Vec<_> = (0..40u64)
        .map(|i| {
            let store = store.clone();
            let id = [&ok, &poor, &revoked, &unknown][(i % 4) as usize].session_id;
            tokio::spawn(async move { (i % 4, store.begin_call(&id, &pay(10), 6_000, 60).await) })
        })
        .collect();
    let mut keys = vec![];
    for t in tasks {
        match t.await.unwrap() {
            (0, Ok(Some(start))) => keys.push(start.lease.key),
            (1, Err(Error::Preflight(_))) | (2, Err(Error::Revoked(_))) => {}
            (3, Err(Error::UnknownSession(e))) => assert_eq!(e, unknown.session_id.to_string()),
            (kind, other) => panic!("session kind {kind}: {other:?}"),
        }
    }
    assert_eq!(keys.len(), 10);
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 10, "every granted call holds its own key");
    // The ten starts reserved 100 of the 1000.
    let over = store.reserve(&ok.session_id, &pay(901), U256::ZERO, 6_000, 60).await;
    assert!(matches!(over, Err(Error::Preflight(_))), "{over:?}");
    store.reserve(&ok.session_id, &pay(900), U256::ZERO, 6_000, 60).await.unwrap();
    for s in [&ok, &poor, &revoked] {
        store.remove(&s.session_id).await.unwrap();
    }
}

/// A caller that goes away while its start is queued gets nothing, and holds nothing: what the
/// writer granted it is given back (here the first op's key, which the next start needs).
async fn a_caller_gone_holds_nothing(store: Arc<SqlStore>, salt: u8) {
    let s = fresh(salt, 1_000);
    let _ = store.remove(&s.session_id).await;
    store.save(&StoredSession::new(s.clone())).await.unwrap();
    // Polled once (which queues the start), then dropped.
    let calls = pay(1);
    let mut gone = Box::pin(store.begin_call(&s.session_id, &calls, 7_000, 600));
    let polled = gone.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    drop(gone);
    if let std::task::Poll::Ready(answered) = polled {
        // Answered within its first poll (the writer was that quick): give it back by hand.
        let start = answered.unwrap().unwrap();
        store.end_call(&[(start.reservation, None)], &start.lease, None, 7_000).await.unwrap();
    }
    // The next start may share the orphan's transaction (and find the key held): it asks
    // again, as the service does. The clock stands still, so only the give-back frees it.
    let mut next = None;
    for _ in 0..50 {
        next = store.begin_call(&s.session_id, &pay(1), 7_000, 600).await.unwrap();
        if next.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let next = next.expect("the first op's key was given back");
    assert_eq!(next.lease.key, 0);
    store.end_call(&[(next.reservation, None)], &next.lease, None, 7_000).await.unwrap();
    store.remove(&s.session_id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sqlite_writer_answers_each_caller() {
    let tmp = temp_dir("sqlite-batch");
    let dir = tmp.path();
    let store = Arc::new(SqlStore::sqlite(&dir.join("sessions.db")).await.unwrap());
    batched_answers_stay_their_callers(store.clone(), 50).await;
    a_caller_gone_holds_nothing(store, 60).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_postgres_writer_answers_each_caller() {
    if let Some(store) = postgres().await {
        let store = Arc::new(store);
        batched_answers_stay_their_callers(store.clone(), 70).await;
        a_caller_gone_holds_nothing(store, 80).await;
    }
}

/// A session row whose text no longer parses fails the calls on that session, with what is
/// wrong, and no other: the other calls of the same transaction go through.
#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_row_fails_only_its_own_calls() {
    let tmp = temp_dir("sqlite-damaged");
    let dir = tmp.path();
    let path = dir.join("sessions.db");
    let store = Arc::new(SqlStore::sqlite(&path).await.unwrap());
    let (good, bad) = (session(90, 1_000), session(91, 1_000));
    for s in [&good, &bad] {
        let mut record = StoredSession::new(s.clone());
        record.installed = true;
        store.save(&record).await.unwrap();
    }
    // Damage one row behind the store's back.
    {
        use sqlx::Connection;
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
        sqlx::query("UPDATE sessions SET record = '{\"session\": 7' WHERE id = $1")
            .bind(bad.session_id.to_string())
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let tasks: Vec<_> = (0..12u64)
        .map(|i| {
            let store = store.clone();
            let id = if i % 2 == 0 { good.session_id } else { bad.session_id };
            tokio::spawn(async move { (i % 2, store.begin_call(&id, &pay(1), 8_000, 60).await) })
        })
        .collect();
    for t in tasks {
        match t.await.unwrap() {
            (0, Ok(Some(_))) => {}
            (1, Err(Error::Store(e))) => assert!(e.contains("damaged session row"), "{e}"),
            (kind, other) => panic!("{kind}: {other:?}"),
        }
    }
}

/// Two stores on one SQLite file, as two processes would be: each writer judges on what it
/// read last only while the other has written nothing since; what one reserves or leases, the
/// other sees.
#[tokio::test(flavor = "multi_thread")]
async fn two_processes_on_one_sqlite_file_share_budgets_and_keys() {
    let tmp = temp_dir("sqlite-two");
    let dir = tmp.path();
    let path = dir.join("sessions.db");
    let a = SqlStore::sqlite(&path).await.unwrap();
    let b = SqlStore::sqlite(&path).await.unwrap();
    let mut record = StoredSession::new(fresh(95, 100));
    record.installed = true;
    let id = record.session.session_id;
    a.save(&record).await.unwrap();
    // `a` has read the session when `b` reserves.
    let c60 = a.begin_call(&id, &pay(60), 9_000, 60).await.unwrap().unwrap();
    let c30 = b.begin_call(&id, &pay(30), 9_000, 60).await.unwrap().unwrap();
    let over = a.begin_call(&id, &pay(20), 9_000, 60).await;
    assert!(matches!(over, Err(Error::Preflight(_))), "60 + 30 + 20 > 100: {over:?}");
    // `b` settles what it reserved: `a` sees the spend.
    let spent = Some(c30.reservation.spend.clone());
    b.end_call(&[(c30.reservation, spent)], &c30.lease, None, 9_000).await.unwrap();
    a.end_call(&[(c60.reservation, None)], &c60.lease, None, 9_000).await.unwrap();
    let c70 = a.begin_call(&id, &pay(70), 9_000, 60).await.unwrap().unwrap();
    let over = a.reserve(&id, &pay(1), U256::ZERO, 9_000, 60).await;
    assert!(matches!(over, Err(Error::Preflight(_))), "30 spent + 70 reserved: {over:?}");
    assert_eq!(b.load(&id).await.unwrap().spent_native, U256::from(30));
    a.end_call(&[(c70.reservation, None)], &c70.lease, None, 9_000).await.unwrap();
    // Calls: one key each.
    let first = a.begin_call(&id, &pay(10), 9_000, 60).await.unwrap().unwrap();
    let second = b.begin_call(&id, &pay(10), 9_000, 60).await.unwrap().unwrap();
    let third = a.begin_call(&id, &pay(10), 9_000, 60).await.unwrap().unwrap();
    let mut keys = vec![first.lease.key, second.lease.key, third.lease.key];
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3, "one key each");
    for (store, start) in [(&a, first), (&b, second), (&a, third)] {
        store.end_call(&[(start.reservation, None)], &start.lease, None, 9_000).await.unwrap();
    }
}

/// An in-memory SQLite database has one connection, which the writer shares with the store's
/// other methods: what they write, the writer sees.
#[tokio::test]
async fn an_in_memory_sqlite_store_sees_its_own_saves() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    let record = StoredSession::new(fresh(97, 100));
    let id = record.session.session_id;
    store.save(&record).await.unwrap();
    let c = store.begin_call(&id, &pay(60), 10_000, 60).await.unwrap().unwrap();
    let spent = Some(c.reservation.spend.clone());
    store.end_call(&[(c.reservation, spent)], &c.lease, Some(&id), 10_000).await.unwrap();
    assert!(store.reserve(&id, &pay(41), U256::ZERO, 10_000, 60).await.is_err());
    // Saved afresh (nothing spent): the whole allowance is there again.
    store.save(&record).await.unwrap();
    store.reserve(&id, &pay(100), U256::ZERO, 10_000, 60).await.unwrap();
}

/// A session saved anew under its id with budgets it did not have: a writer that knew it
/// without budgets still counts what another process reserved on it.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_saved_anew_with_budgets_counts_every_reservation() {
    let tmp = temp_dir("sqlite-anew");
    let dir = tmp.path();
    let path = dir.join("sessions.db");
    let (a, b) = (SqlStore::sqlite(&path).await.unwrap(), SqlStore::sqlite(&path).await.unwrap());
    let budgeted = fresh(96, 100);
    let mut record =
        StoredSession::new(Session { permissions: vec![Permission::Root], ..budgeted.clone() });
    record.installed = true;
    let id = record.session.session_id;
    a.save(&record).await.unwrap();
    // `a`'s writer learns the session as one without budgets.
    let start = a.begin_call(&id, &pay(1), 11_000, 60).await.unwrap().unwrap();
    a.end_call(&[(start.reservation, None)], &start.lease, None, 11_000).await.unwrap();
    // Saved anew with a 100 wei allowance; another process reserves 60 of it.
    record.session = budgeted;
    a.save(&record).await.unwrap();
    b.reserve(&id, &pay(60), U256::ZERO, 11_000, 60).await.unwrap();
    let over = a.reserve(&id, &pay(60), U256::ZERO, 11_000, 60).await;
    assert!(matches!(over, Err(Error::Preflight(_))), "60 + 60 > 100: {over:?}");
}

/// 8 rounds of 8 workers, each a store of its own (as 8 `sesskey send` processes are), begin a
/// call at once on one session whose allowance fits 3: exactly 3 pass each round, whatever the
/// interleaving. (On PostgreSQL a read that shared the lock's statement once saw the
/// reservations as they were before it waited for the lock, and let 2 to 5 of 64 through.)
async fn eight_by_eight(url: &str, salt: u8) {
    let mut stores = vec![];
    for _ in 0..8 {
        stores.push(Arc::new(SqlStore::connect(url).await.unwrap()));
    }
    for round in 0..8u8 {
        let mut record = StoredSession::new(fresh(salt.wrapping_add(round), 300));
        record.installed = true;
        let id = record.session.session_id;
        let _ = stores[0].remove(&id).await;
        stores[0].save(&record).await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = stores
            .iter()
            .map(|s| {
                let (s, barrier) = (s.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    s.begin_call(&id, &pay(100), 9_000, 600).await
                })
            })
            .collect();
        let mut passed = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(Some(_)) => passed += 1,
                Ok(None) | Err(Error::Preflight(_)) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(passed, 3, "round {round}: {passed} of 8 passed an allowance that fits 3");
        stores[0].remove(&id).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn eight_by_eight_on_postgres_never_passes_an_allowance() {
    let Some(_) = postgres().await else { return };
    let url = std::env::var("SESSKEY_TEST_DATABASE_URL").unwrap();
    eight_by_eight(&url, 0x70).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn eight_by_eight_on_sqlite_never_passes_an_allowance() {
    let tmp = temp_dir("sqlite-race");
    let url = format!("sqlite://{}", tmp.path().join("sessions.db").display());
    eight_by_eight(&url, 0x78).await;
}

/// Sent calls: recorded, renewed, claimed once lapsed, by one caller only.
async fn sent_calls_are_claimed_once<St: SessionStore>(store: &St, salt: u8) {
    use sesskey_session::SentCall;
    use sesskey_types::CallId;
    let mut record = StoredSession::new(fresh(salt, 100));
    record.installed = true;
    let id = record.session.session_id;
    let _ = store.remove(&id).await;
    store.save(&record).await.unwrap();
    let start = store.begin_call(&id, &pay(10), 9_000, 60).await.unwrap().unwrap();
    let sent = SentCall {
        call_id: CallId(vec![salt; 64].into()),
        session_id: id,
        reservations: vec![start.reservation.clone()],
        lease: start.lease.clone(),
        installs: false,
    };
    store.record_sent(&sent, 9_060).await.unwrap();
    assert!(store.claim_lapsed(&id, 9_059).await.unwrap().is_empty(), "not lapsed yet");
    let ids = vec![start.reservation.id.clone()];
    store.renew(&start.lease, &ids, Some(&sent.call_id), 9_100).await.unwrap();
    assert!(store.claim_lapsed(&id, 9_099).await.unwrap().is_empty(), "renewed");
    // The renewed reservation still counts at 9_099: 10 reserved, 95 more do not fit.
    let over = store.reserve(&id, &pay(95), U256::ZERO, 9_099, 60).await;
    assert!(matches!(over, Err(Error::Preflight(_))), "{over:?}");
    assert_eq!(store.claim_lapsed(&id, 9_100).await.unwrap(), vec![sent.clone()]);
    assert!(store.claim_lapsed(&id, 9_100).await.unwrap().is_empty(), "claimed once");
    store.record_sent(&sent, 9_200).await.unwrap();
    store.forget_sent(&sent.call_id).await.unwrap();
    assert!(store.claim_lapsed(&id, u64::MAX).await.unwrap().is_empty(), "forgotten");
    store.end_call(&[(start.reservation, None)], &start.lease, None, 9_100).await.unwrap();
    store.remove(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sent_calls_on_every_store() {
    sent_calls_are_claimed_once(&MemoryStore::new(), 0x60).await;
    let tmp = temp_dir("sent");
    let sqlite = SqlStore::sqlite(&tmp.path().join("sessions.db")).await.unwrap();
    sent_calls_are_claimed_once(&sqlite, 0x61).await;
    if let Some(pg) = postgres().await {
        sent_calls_are_claimed_once(&pg, 0x62).await;
    }
}

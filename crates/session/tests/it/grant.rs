//! Two-phase grant: the backend requests and verifies, the owner signs elsewhere (the raw
//! digest, as `cast wallet sign --no-hash` does, or the typed data, as a browser wallet does),
//! the backend completes. A stranger's signature gives no session.

use crate::flow::{delegated_owner, request, POLICY};
use alloy_signer::SignerSync;
use sesskey_session::{Error, Outcome, PendingSession};
use sesskey_signing::dev::{dev_key, dev_session_key};
use sesskey_types::*;
use std::time::Duration;

fn wire(sig: alloy_primitives::Signature) -> SignatureData {
    SignatureData::Hex(sig.as_bytes().to_vec().into())
}

#[tokio::test]
async fn the_owner_signs_elsewhere_and_the_backend_completes() {
    let (_server, flow, owner) = delegated_owner(Some(POLICY)).await;

    // The raw digest, signed with no prefix; the request crosses a process boundary as JSON.
    let pending = flow.request_session(&request(vec![Permission::Root], None)).await.unwrap();
    let text = serde_json::to_string(&pending).unwrap();
    let pending: PendingSession = serde_json::from_str(&text).unwrap();
    let raw_sig = owner.sign_hash_sync(&pending.raw_payload).unwrap();
    let session = pending.complete(&wire(raw_sig)).unwrap();
    let sent = flow
        .send_calls(&session, &dev_session_key(), vec![Call::default()], &Default::default(), 0)
        .await
        .unwrap();
    let outcome = flow.wait_for_status(&sent.call_id, Duration::from_secs(5)).await.unwrap();
    assert!(matches!(outcome, Outcome::Confirmed(_)), "{outcome:?}");

    // The typed data, hashed by alloy's own EIP-712 code (as a wallet does).
    let pending = flow.request_session(&request(vec![Permission::Root], None)).await.unwrap();
    let typed: alloy_dyn_abi::TypedData =
        serde_json::from_value(serde_json::to_value(&pending.typed_data).unwrap()).unwrap();
    let hash = typed.eip712_signing_hash().unwrap();
    assert_eq!(hash, pending.raw_payload);
    let typed_sig = owner.sign_hash_sync(&hash).unwrap();
    pending.complete(&wire(typed_sig)).unwrap();

    // A stranger's signature: refused, naming both addresses; no session.
    let pending = flow.request_session(&request(vec![Permission::Root], None)).await.unwrap();
    let stranger = dev_key(4);
    let forged = wire(stranger.sign_hash_sync(&pending.raw_payload).unwrap());
    let e = pending.complete(&forged);
    match e {
        Err(Error::Signing(sesskey_signing::Error::WrongSigner { expected, recovered })) => {
            assert_eq!(expected, owner.address());
            assert_eq!(recovered, stranger.address());
        }
        other => panic!("{other:?}"),
    }
}

/// A fleet shares pending requests: one worker requests and keeps it in the store, another
/// (another store, another connection) completes it with the owner's signature; the request is
/// then used up, and an id already pending is refused. On every store a fleet can share
/// (SQLite files, PostgreSQL when the run has one).
#[tokio::test(flavor = "multi_thread")]
async fn a_pending_request_made_by_one_worker_is_completed_by_another() {
    use sesskey_session::{KeyLocation, SessionStore, SqlStore, StoredPending, StoredSession};
    let (_server, flow, owner) = delegated_owner(Some(POLICY)).await;
    let tmp = crate::store::temp_dir("pending");
    let file = format!("sqlite://{}", tmp.path().join("sessions.db").display());
    let mut urls = vec![file];
    if crate::store::postgres().await.is_some() {
        urls.push(std::env::var("SESSKEY_TEST_DATABASE_URL").unwrap());
    }
    for url in urls {
        let (a, b) =
            (SqlStore::connect(&url).await.unwrap(), SqlStore::connect(&url).await.unwrap());
        let pending = flow.request_session(&request(vec![Permission::Root], None)).await.unwrap();
        let id = pending.session_id;
        let key = KeyLocation::External { name: "kms:alias/worker".into() };
        let stored = StoredPending { pending: pending.clone(), key: Some(key.clone()) };
        a.save_pending(&stored).await.unwrap();
        assert!(matches!(a.save_pending(&stored).await, Err(Error::Exists(_))));
        // The other worker, with the owner's signature from elsewhere.
        let found = b.load_pending(&id).await.unwrap();
        assert_eq!(found, stored);
        let signature = wire(owner.sign_hash_sync(&found.pending.raw_payload).unwrap());
        let mut record = StoredSession::new(found.pending.complete(&signature).unwrap());
        record.key = found.key;
        b.insert(&record).await.unwrap();
        b.remove_pending(&id).await.unwrap();
        assert!(matches!(a.load_pending(&id).await, Err(Error::UnknownPending(_))));
        assert_eq!(a.load(&id).await.unwrap().key, Some(key));
        a.remove(&id).await.unwrap();
    }
}

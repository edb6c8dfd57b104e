//! The JSON bodies of Alchemy's "Session Keys (API)" page (with concrete values, see
//! `fixtures/external/seed-session-keys-api/README.md`) parse and re-serialize to the same JSON
//! value, byte for byte in every string.

use crate::common::{assert_valid, Part};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use sesskey_types::*;

fn body(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn same_after_round_trip<T: DeserializeOwned + Serialize>(original: &Value) -> T {
    let parsed: T = from_json_value(original.clone()).unwrap();
    let again = serde_json::to_value(&parsed).unwrap();
    assert_eq!(&again, original, "re-serialized value differs");
    parsed
}

#[test]
fn delegation_prepare_calls() {
    let doc = body(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/1-delegation-prepare-calls.request.json"
    ));
    assert_eq!(doc["method"], "wallet_prepareCalls");
    let p: PrepareCallsParams = same_after_round_trip(&doc["params"][0]);
    assert_valid("wallet_prepareCalls", Part::Params, &doc["params"][0]);
    assert_eq!(p.calls.as_ref().map(Vec::len), Some(1));
    let policy = p.capabilities.unwrap().paymaster_service.unwrap().policy;
    assert_eq!(policy.ids(), ["6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60"]);
}

#[test]
fn create_session_request_and_response() {
    let doc = body(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/2-create-session.request.json"
    ));
    assert_eq!(doc["method"], "wallet_createSession");
    let p: CreateSessionParams = same_after_round_trip(&doc["params"][0]);
    assert_valid("wallet_createSession", Part::Params, &doc["params"][0]);
    assert_eq!(p.permissions, [Permission::Root]);
    assert_eq!(p.expiry_sec, Some(1_776_657_600));
    p.validate().unwrap();

    let doc = body(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/3-create-session.response.json"
    ));
    let r: CreateSessionResult = same_after_round_trip(&doc["result"]);
    // The page's answer omits `chainId`, which the current schema requires (older servers).
    assert_eq!(r.chain_id, None);
    assert!(matches!(r.signature_request, SignatureRequest::TypedData { .. }));
}

#[test]
fn prepare_calls_with_the_session() {
    let doc = body(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/4-prepare-calls-session.request.json"
    ));
    let p: PrepareCallsParams = same_after_round_trip(&doc["params"][0]);
    assert_valid("wallet_prepareCalls", Part::Params, &doc["params"][0]);
    let session = p.capabilities.unwrap().permissions.unwrap().session_ref().unwrap();
    assert_eq!(session.to_context().len(), 82);

    let result = body(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/5-prepare-calls-session.result.json"
    ));
    let r: PreparedCalls = same_after_round_trip(&result);
    // The page's answer has no `feePayment`, which the current schema requires.
    let PreparedCalls::UserOperationV070(op) = r else { panic!("not a v0.7 op") };
    assert_eq!(op.fee_payment, None);
    assert!(matches!(op.signature_request, Some(SignatureRequest::PersonalSign { .. })));
}

#[test]
fn send_prepared_calls() {
    let doc = body(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/6-send-prepared-calls.request.json"
    ));
    assert_eq!(doc["method"], "wallet_sendPreparedCalls");
    let p: SendPreparedCallsParams = same_after_round_trip(&doc["params"][0]);
    assert_valid("wallet_sendPreparedCalls", Part::Params, &doc["params"][0]);
    assert!(matches!(p.calls, SignedCalls::UserOperationV070(_)));
    assert!(p.capabilities.unwrap().permissions.is_some());
}

/// An older client echoes `feePayment`, `details` and `signatureRequest` back; they are ignored.
#[test]
fn send_prepared_calls_ignores_echoed_keys() {
    let mut doc = body(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/6-send-prepared-calls.request.json"
    ));
    let params = doc["params"][0].as_object_mut().unwrap();
    params.insert("feePayment".into(), serde_json::json!({"sponsored": true}));
    params.insert("details".into(), serde_json::json!({"type": "user-operation"}));
    let parsed: SendPreparedCallsParams = from_json_value(doc["params"][0].clone()).unwrap();
    assert!(matches!(parsed.calls, SignedCalls::UserOperationV070(_)));
}

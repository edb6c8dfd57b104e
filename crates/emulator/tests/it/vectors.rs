//! `wallet_createSession` answers, for the inputs of `fixtures/external/vectors/mav2-permissions.json`
//! (computed by Alchemy's `@account-kit/smart-contracts@4.88.5`), the SDK's `installValidation`
//! call byte for byte, and its `DeferredAction` digest, wherever the emulator picks the same
//! entity id (a fresh account starts at 1) and nonce (no parallel key, sequence 0).

use alloy_primitives::{Bytes, B256, U256};
use sesskey_emulator::{Config, Emulator};
use sesskey_types::*;

#[test]
fn create_session_matches_the_sdk() {
    let file: serde_json::Value = serde_json::from_str(include_str!(
        "../../../../fixtures/external/vectors/mav2-permissions.json"
    ))
    .unwrap();
    let mut compared = 0;
    for case in file["cases"].as_array().unwrap() {
        if case.get("sdkError").is_some()
            || case["entityId"] != 1
            || case["nonce"].as_str().unwrap().len() > 21
        {
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let params: CreateSessionParams =
            from_json_value(case["createSessionRequest"].clone()).unwrap();
        // The SDK's clock for its expiry check.
        let start = if name.starts_with("anchor") { 1_747_000_000 } else { 1_767_225_600 };
        let emulator = Emulator::new(Config {
            chain_ids: vec![params.chain_id.to()],
            deterministic_start: Some(start),
            ..Config::default()
        });
        emulator
            .set_delegation(params.chain_id, params.account, Some(MODULAR_ACCOUNT_V2_7702))
            .unwrap();
        let created = emulator.create_session(params).unwrap_or_else(|e| panic!("{name}: {e}"));
        let SignatureRequest::TypedData { data, raw_payload } = created.signature_request else {
            panic!("{name}")
        };
        let call: Bytes = data.message["call"].as_str().unwrap().parse().unwrap();
        let expected: Bytes =
            case["installValidation"]["callData"].as_str().unwrap().parse().unwrap();
        assert_eq!(call, expected, "{name}");
        assert_eq!(
            raw_payload,
            case["deferredAction"]["digest"].as_str().unwrap().parse::<B256>().unwrap(),
            "{name}"
        );
        let nonce: U256 = data.message["nonce"].as_str().unwrap().parse().unwrap();
        assert_eq!(nonce, case["nonce"].as_str().unwrap().parse::<U256>().unwrap(), "{name}");
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} cases compared");
}

//! `mav2-permissions.json`, computed by Alchemy's `@account-kit/smart-contracts@4.88.5`: byte
//! for byte the same `installValidation` call, `DeferredAction` typed data and digest, nonce,
//! first user operation and packed signature; decoding gives back the permissions; every refused
//! set is refused with a typed error.

use crate::{bytes, vectors};
use alloy_primitives::{Address, B256, U256};
use alloy_signer::SignerSync;
use serde_json::Value;
use sesskey_account::*;
use sesskey_signing::{eip191_digest, user_op_v07_hash, ENTRY_POINT_V07};
use sesskey_types::{from_json_value, CreateSessionParams, PermissionError, UserOperationV07};

/// Seconds since the Unix epoch of an ISO-8601 UTC instant like `2026-01-01T00:00:00.000Z`.
fn unix(iso: &str) -> u64 {
    let (y, m, d) = (
        iso[0..4].parse::<i64>().unwrap(),
        iso[5..7].parse::<i64>().unwrap(),
        iso[8..10].parse::<i64>().unwrap(),
    );
    let (hh, mm, ss) = (
        iso[11..13].parse::<i64>().unwrap(),
        iso[14..16].parse::<i64>().unwrap(),
        iso[17..19].parse::<i64>().unwrap(),
    );
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    (days * 86400 + hh * 3600 + mm * 60 + ss) as u64
}

#[test]
fn unix_time_helper() {
    assert_eq!(unix("2026-01-01T00:00:00.000Z"), 1_767_225_600);
    assert_eq!(unix("2025-05-11T21:46:40.000Z"), 1_747_000_000);
}

struct Case {
    name: String,
    params: CreateSessionParams,
    entity: u32,
    nonce: U256,
    now: u64,
    case: Value,
}

fn cases() -> Vec<Case> {
    vectors("mav2-permissions")["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            let params: CreateSessionParams =
                from_json_value(c["createSessionRequest"].clone()).unwrap();
            let inputs = &c["sdkInputs"];
            let entity =
                c["entityId"].as_u64().or(inputs["entityIdRequested"].as_u64()).unwrap() as u32;
            let nonce = c["nonce"].as_str().map(|n| n.parse().unwrap()).unwrap_or_default();
            let now = unix(inputs["sdkClock"].as_str().unwrap());
            Case { name, params, entity, nonce, now, case: c.clone() }
        })
        .collect()
}

fn session(c: &Case) -> SessionInstall {
    SessionInstall {
        session_key: c.params.key.public_key,
        entity_id: c.entity,
        expiry: c.params.deadline(),
        permissions: c.params.permissions.clone(),
    }
}

/// The typed data compared as wire values with hex compared as bytes (the SDK prints mixed case).
fn same_typed_data(ours: &sesskey_types::TypedDataJson, theirs: &Value) -> bool {
    let ours = serde_json::to_value(ours).unwrap();
    fn norm(v: &Value) -> Value {
        match v {
            Value::String(s) if s.starts_with("0x") => Value::String(s.to_lowercase()),
            Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), norm(v))).collect())
            }
            other => other.clone(),
        }
    }
    norm(&ours) == norm(theirs)
}

#[test]
fn accepted_sets_match_the_sdk_byte_for_byte() {
    let mut checked = 0;
    for c in cases().iter().filter(|c| c.case.get("sdkError").is_none()) {
        let name = &c.name;
        let account = c.params.account;
        check_deadline(c.params.deadline(), c.now).unwrap_or_else(|e| panic!("{name}: {e}"));
        let call = encode_install(account, &session(c)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            call,
            bytes(&c.case["installValidation"]["callData"]),
            "{name}: installValidation"
        );

        // The nonce of the op that carries the action: entity, global for root, deferred.
        let nonce = Nonce::decode(c.nonce);
        assert_eq!(nonce.entity_id, c.entity, "{name}");
        assert!(nonce.deferred_action, "{name}");
        assert_eq!(
            nonce.global,
            c.params.permissions.contains(&sesskey_types::Permission::Root),
            "{name}"
        );
        assert_eq!(nonce.encode(), c.nonce, "{name}");

        let action = DeferredAction {
            chain_id: c.params.chain_id.to(),
            account,
            nonce: c.nonce,
            deadline: c.params.deadline(),
            call: call.clone(),
        };
        let da = &c.case["deferredAction"];
        assert!(same_typed_data(&action.typed_data(), &da["typedData"]), "{name}: typed data");
        assert_eq!(
            action.digest(),
            da["digest"].as_str().unwrap().parse::<B256>().unwrap(),
            "{name}: digest"
        );
        assert_eq!(
            DeferredAction::from_typed_data(&action.typed_data()).unwrap(),
            action,
            "{name}"
        );

        // Decoding gives back the session.
        let decoded = decode_install(&call).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.session_key, c.params.key.public_key, "{name}");
        assert_eq!(decoded.entity_id, c.entity, "{name}");
        assert_eq!(decoded.expiry, c.params.deadline(), "{name}");
        assert_eq!(
            canonical_permissions(&decoded.permissions),
            canonical_permissions(&c.params.permissions),
            "{name}"
        );
        assert_eq!(
            has_exec_hooks(&c.params.permissions),
            c.case["hasExecHooks"].as_bool().unwrap(),
            "{name}"
        );

        // The local-mode blob carries the same action and the owner's signature.
        let owner_sig: [u8; 65] = bytes(&da["ownerSignature"])[..].try_into().unwrap();
        assert_eq!(
            action.blob(has_exec_hooks(&c.params.permissions), &owner_sig),
            bytes(&da["deferredActionBlob"]),
            "{name}: blob"
        );

        if let Some(first) = c.case.get("firstUserOp") {
            first_user_op(c, &action, &owner_sig, first);
        }
        checked += 1;
    }
    assert_eq!(checked, 33);
}

fn first_user_op(c: &Case, action: &DeferredAction, owner_sig: &[u8; 65], first: &Value) {
    let name = &c.name;
    let op: UserOperationV07 = from_json_value(first["userOp"].clone()).unwrap();
    assert_eq!(op.nonce, c.nonce, "{name}: first op nonce");
    let decoded = decode_calls(c.params.account, &op.call_data).unwrap();
    assert_eq!(decoded.execute_user_op, has_exec_hooks(&c.params.permissions), "{name}");
    let again =
        encode_calls(c.params.account, &decoded.calls, CallEncoding::Sdk, decoded.execute_user_op);
    assert_eq!(again, op.call_data, "{name}: call data");
    let hash = user_op_v07_hash(&op, ENTRY_POINT_V07, c.params.chain_id.to());
    assert_eq!(hash.to_string(), first["userOpHash"].as_str().unwrap().to_lowercase(), "{name}");
    assert_eq!(
        eip191_digest(hash.as_slice()).to_string(),
        first["personalSignDigest"].as_str().unwrap().to_lowercase()
    );
    let key: alloy_signer_local::PrivateKeySigner =
        c.case["sessionKey"]["privateKey"].as_str().unwrap().parse().unwrap();
    let session_sig = key.sign_hash_sync(&eip191_digest(hash.as_slice())).unwrap().as_bytes();
    assert_eq!(session_sig.to_vec(), bytes(&first["sessionKeySignature"]).to_vec(), "{name}");
    let packed = pack_deferred_signature(action, owner_sig, &session_sig);
    assert_eq!(packed, bytes(&first["userOpSignature"]), "{name}: packed signature");
    let unpacked = unpack_signature(&packed, true).unwrap();
    assert_eq!(unpacked.signature, session_sig);
    let (part, owner) = unpacked.deferred.unwrap();
    assert_eq!((&owner, part.deadline, &part.call), (owner_sig, action.deadline, &action.call));
    let mut locator = [0u8; 21];
    locator[20] = 1;
    assert_eq!(part.validation_locator, locator);
}

#[test]
fn refused_sets_are_refused_with_typed_errors() {
    let mut refused = 0;
    for c in cases().iter().filter(|c| c.case.get("sdkError").is_some()) {
        let name = &c.name;
        let sdk = c.case["sdkError"]["name"].as_str().unwrap();
        let result = check_deadline(c.params.deadline(), c.now)
            .and_then(|()| encode_install(c.params.account, &session(c)).map(|_| ()));
        let err = result.expect_err(name);
        let ok = match sdk {
            "InvalidEntityIdError" | "EntityIdOverrideError" => matches!(err, Error::EntityId(_)),
            "ExpiredDeadlineError" => matches!(err, Error::Expired { .. }),
            "DeadlineOverLimitError" => matches!(err, Error::Deadline(_)),
            "ValidationConfigUnsetError" => {
                matches!(err, Error::Permission(PermissionError::NoSelectorGranted))
            }
            _ => matches!(err, Error::Permission(_)),
        };
        assert!(ok, "{name}: SDK {sdk}, sesskey {err:?}");
        refused += 1;
    }
    assert_eq!(refused, 18);
}

/// §9: the root example's install call decodes to validation config `…99de…7d83 00000001 05`,
/// no selectors, install data `(1, 0x647b…4e03)` and one TimeRange hook `(1, 1747969653, 0)`.
#[test]
fn anchor_root_example_decodes() {
    let example: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/external/schemas/wallet_createSession.json"
    ))
    .unwrap();
    let call =
        bytes(&example["examples"][0]["result"]["signatureRequest"]["data"]["message"]["call"]);
    let decoded = decode_install(&call).unwrap();
    assert_eq!(
        decoded,
        SessionInstall {
            session_key: "0x647bbf38CD0E116d1672405aE17a775572a84e03".parse::<Address>().unwrap(),
            entity_id: 1,
            expiry: 1_747_969_653,
            permissions: vec![sesskey_types::Permission::Root],
        }
    );
    let call_abi =
        <sesskey_account::abi::installValidationCall as alloy_sol_types::SolCall>::abi_decode(
            &call,
        )
        .unwrap();
    assert_eq!(
        call_abi.validationConfig.to_string(),
        "0x00000000000099de0bf6fa90deb851e2a2df7d830000000105"
    );
    assert!(call_abi.selectors.is_empty());
    assert_eq!(call_abi.hooks.len(), 1);
    assert_eq!(
        call_abi.hooks[0][..25].to_vec(),
        alloy_primitives::hex::decode("0x00000000000082b8e2012be914dfa4f62a0573ea0000000101")
            .unwrap()
    );
}

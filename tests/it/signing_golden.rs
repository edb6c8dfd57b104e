//! The signing fixtures (`fixtures/golden/signing/`, written by `cargo xtask fixtures` with the
//! fixed development keys) are recomputed here from their inputs: every digest from the data it
//! covers, every signature by signing again and by recovery, every account encoding from the
//! session it describes.

use alloy_primitives::{Address, Bytes, U256};
use alloy_signer::SignerSync;
use serde_json::Value;
use sesskey_account::*;
use sesskey_signing::dev::{dev_owner, dev_session_key};
use sesskey_signing::*;
use sesskey_tests::fixtures_dir;
use sesskey_types::*;

fn load(name: &str) -> Value {
    let path = fixtures_dir().join(format!("golden/signing/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn signer_of(v: &Value) -> Address {
    v["signer"].as_str().unwrap().parse().unwrap()
}

fn check_signed(name: &str) -> (SignatureRequest, Signature) {
    let v = load(name);
    let request: SignatureRequest = from_json_value(v["request"].clone()).unwrap();
    let signature: Signature = from_json_value(v["signature"].clone()).unwrap();
    let tuple = v["authorization"].as_object().map(|a| AuthorizationTuple {
        chain_id: a["chainId"].as_str().unwrap().parse().unwrap(),
        address: a["address"].as_str().unwrap().parse().unwrap(),
        nonce: a["nonce"].as_str().unwrap().parse::<U256>().unwrap().to(),
    });
    let digest = check_request(&request, tuple.as_ref()).unwrap_or_else(|e| panic!("{name}: {e}"));
    verify(digest, &signature.data, signer_of(&v)).unwrap();
    assert_eq!(signer_of(&v), dev_owner().address());
    assert_eq!(
        sign_request_sync(&dev_owner(), &request, tuple.as_ref()).unwrap(),
        signature,
        "{name}"
    );
    (request, signature)
}

#[test]
fn personal_sign_fixtures() {
    check_signed("personal-sign-message");
    check_signed("personal-sign-raw");
}

#[test]
fn eip7702_fixture() {
    check_signed("eip7702-authorization");
}

#[test]
fn deferred_action_fixtures_rebuild_from_their_session() {
    for name in ["deferred-action-root", "deferred-action-seven-types"] {
        let (request, _) = check_signed(name);
        let v = load(name);
        let s = &v["session"];
        let params: CreateSessionParams = from_json_value(json_session(s)).unwrap();
        let entity = s["entityId"].as_u64().unwrap() as u32;
        let install = SessionInstall {
            session_key: params.key.public_key,
            entity_id: entity,
            expiry: params.deadline(),
            permissions: params.permissions.clone(),
        };
        let root = params.permissions.contains(&Permission::Root);
        let nonce =
            Nonce { entity_id: entity, global: root, deferred_action: true, ..Default::default() };
        let action = DeferredAction {
            chain_id: params.chain_id.to(),
            account: params.account,
            nonce: nonce.encode(),
            deadline: params.deadline(),
            call: encode_install(params.account, &install).unwrap(),
        };
        let SignatureRequest::TypedData { data, raw_payload } = &request else { panic!("{name}") };
        assert_eq!(DeferredAction::from_typed_data(data).unwrap(), action, "{name}");
        assert_eq!(*raw_payload, action.digest(), "{name}");
        assert_eq!(decode_install(&action.call).unwrap(), install, "{name}");
    }
}

fn json_session(s: &Value) -> Value {
    let mut v = s.clone();
    v.as_object_mut().unwrap().remove("entityId");
    v
}

#[test]
fn first_session_op_fixture() {
    let v = load("user-operation-v070-first-session-op");
    let prepared: PreparedUserOperationV07 = from_json_value(v["prepared"].clone()).unwrap();
    let digest = check_user_op_v07(&prepared, ENTRY_POINT_V07).unwrap();
    let session_key = dev_session_key();
    assert_eq!(signer_of(&v), session_key.address());
    let signature: Signature = from_json_value(v["signature"].clone()).unwrap();
    verify(digest, &signature.data, session_key.address()).unwrap();
    assert_eq!(to_wire(&session_key.sign_hash_sync(&digest).unwrap()), signature);

    let typed: TypedDataJson = from_json_value(v["deferredAction"].clone()).unwrap();
    let action = DeferredAction::from_typed_data(&typed).unwrap();
    let owner_sig: Signature = from_json_value(v["ownerSignature"].clone()).unwrap();
    verify(action.digest(), &owner_sig.data, dev_owner().address()).unwrap();
    let (SignatureData::Hex(owner_bytes), SignatureData::Hex(session_bytes)) =
        (&owner_sig.data, &signature.data)
    else {
        panic!()
    };
    let packed: Bytes = v["packedSignature"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        pack_deferred_signature(
            &action,
            &owner_bytes[..].try_into().unwrap(),
            &session_bytes[..].try_into().unwrap()
        ),
        packed
    );
    let hash = user_op_v07_hash(&prepared.data, ENTRY_POINT_V07, prepared.chain_id.to());
    assert_eq!(call_id(prepared.chain_id.to(), hash).to_string(), v["callId"].as_str().unwrap());
    let decoded = decode_calls(prepared.data.sender, &prepared.data.call_data).unwrap();
    assert!(decoded.execute_user_op);
    assert_eq!(
        Nonce::decode(prepared.data.nonce).entity_id,
        decode_install(&action.call).unwrap().entity_id
    );
}

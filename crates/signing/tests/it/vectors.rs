//! Every case of the independent vector files.

use crate::{dev_signer, hex_b256, vectors};
use alloy_primitives::{Address, Bytes, U256};
use alloy_signer::SignerSync;
use sesskey_signing::*;
use sesskey_types::*;

fn sign_digest(digest: alloy_primitives::B256) -> Bytes {
    Bytes::from(dev_signer().sign_hash_sync(&digest).unwrap().as_bytes().to_vec())
}

fn sig_data(v: &serde_json::Value) -> SignatureData {
    SignatureData::Hex(v.as_str().unwrap().parse().unwrap())
}

/// userop-v07.json: hashes computed by the real EntryPoint v0.7 (`getUserOpHash` on anvil).
#[test]
fn user_op_v07_hashes_match_the_entry_point() {
    let file = vectors("userop-v07");
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 25);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let op: UserOperationV07 = from_json_value(case["userOp"].clone()).unwrap();
        let chain: alloy_primitives::U64 =
            from_json_value(case["chainId"].clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let entry_point: Address = case["entryPoint"].as_str().unwrap().parse().unwrap();
        assert_eq!(entry_point, ENTRY_POINT_V07);
        let packed = &case["packed"];
        let init: Bytes = packed["initCode"].as_str().unwrap().parse().unwrap();
        assert_eq!(init_code_v07(&op), init, "{name}: initCode");
        let pm: Bytes = packed["paymasterAndData"].as_str().unwrap().parse().unwrap();
        assert_eq!(paymaster_and_data_v07(&op), pm, "{name}: paymasterAndData");
        let hash = user_op_v07_hash(&op, entry_point, chain.to());
        assert_eq!(hash, hex_b256(&case["userOpHash"]), "{name}");
        let digest = eip191_digest(hash.as_slice());
        assert_eq!(digest, hex_b256(&case["personalSignDigest"]), "{name}");
        let signer: Address = case["signer"].as_str().unwrap().parse().unwrap();
        verify(digest, &sig_data(&case["signature"]), signer)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            sign_digest(digest).to_string(),
            case["signature"].as_str().unwrap().to_lowercase(),
            "{name}"
        );
    }
}

/// userop-v06.json: hashes computed by the real EntryPoint v0.6.
#[test]
fn user_op_v06_hashes_match_the_entry_point() {
    let file = vectors("userop-v06");
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 12);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let op: UserOperationV06 = from_json_value(case["userOp"].clone()).unwrap();
        let chain: alloy_primitives::U64 = from_json_value(case["chainId"].clone()).unwrap();
        let entry_point: Address = case["entryPoint"].as_str().unwrap().parse().unwrap();
        assert_eq!(entry_point, ENTRY_POINT_V06);
        let hash = user_op_v06_hash(&op, entry_point, chain.to());
        assert_eq!(hash, hex_b256(&case["userOpHash"]), "{name}");
        let digest = eip191_digest(hash.as_slice());
        assert_eq!(digest, hex_b256(&case["personalSignDigest"]), "{name}");
        let signer: Address = case["signer"].as_str().unwrap().parse().unwrap();
        verify(digest, &sig_data(&case["signature"]), signer).unwrap();
    }
}

/// eip712.json: digests by viem `hashTypedData`, signatures by anvil `eth_signTypedData_v4`.
#[test]
fn eip712_digests_and_signatures() {
    let file = vectors("eip712");
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 20);
    let mut without_domain_type = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let typed: TypedDataJson =
            from_json_value(case["typedData"].clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        if !typed.types.contains_key("EIP712Domain") {
            without_domain_type += 1;
        }
        let digest = typed_data_digest(&typed).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(digest, hex_b256(&case["digest"]), "{name}");
        // Check-before-sign with the server's rawPayload, then sign: anvil's bytes exactly.
        let request = SignatureRequest::TypedData { data: typed, raw_payload: digest };
        let signature = sign_request_sync(&dev_signer(), &request, None).unwrap();
        assert_eq!(signature.data, sig_data(&case["signature"]), "{name}");
    }
    assert!(without_domain_type > 0, "the server's form (no EIP712Domain in types) is covered");
}

/// eip7702.json: digests by viem `hashAuthorization`, signatures by viem and cast.
#[test]
fn eip7702_digests_and_signatures() {
    let file = vectors("eip7702");
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 14);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let a = &case["authorization"];
        let chain_id: U256 = a["chainId"].as_str().unwrap().parse().unwrap();
        let nonce: alloy_primitives::U64 = from_json_value(a["nonce"].clone()).unwrap();
        let tuple = AuthorizationTuple {
            chain_id,
            address: a["address"].as_str().unwrap().parse().unwrap(),
            nonce: nonce.to(),
        };
        let digest = eip7702_digest(&tuple);
        assert_eq!(digest, hex_b256(&case["digest"]), "{name}");
        let request = SignatureRequest::Eip7702Auth { raw_payload: digest };
        let signature = sign_request_sync(&dev_signer(), &request, Some(&tuple)).unwrap();
        assert_eq!(signature.data, sig_data(&case["signature"]), "{name}");
        let split = SignatureData::RsYParity {
            r: case["r"].as_str().unwrap().parse().unwrap(),
            s: case["s"].as_str().unwrap().parse().unwrap(),
            y_parity: alloy_primitives::U8::from(case["yParity"].as_u64().unwrap()),
        };
        verify(digest, &split, dev_signer().address()).unwrap();
    }
}

/// personal-sign.json: digests by viem `hashMessage`, signatures by cast.
#[test]
fn personal_sign_digests_and_signatures() {
    let file = vectors("personal-sign");
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 15);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let data: PersonalSignData =
            serde_json::from_value(case["data"].clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bytes: Bytes = case["messageBytes"].as_str().unwrap().parse().unwrap();
        assert_eq!(data.message_bytes(), &bytes[..], "{name}");
        let digest = personal_sign_digest(&data);
        assert_eq!(digest, hex_b256(&case["digest"]), "{name}");
        let request = SignatureRequest::PersonalSign { data, raw_payload: digest };
        let signature = sign_request_sync(&dev_signer(), &request, None).unwrap();
        assert_eq!(signature.data, sig_data(&case["signature"]), "{name}");
    }
}

/// mav2-permissions.json: the `DeferredAction` typed data of every accepted case (computed by
/// Alchemy's SDK) hashes to its digest, and the owner's signature (anvil) is reproduced.
#[test]
fn deferred_action_digests_and_owner_signatures() {
    let file = vectors("mav2-permissions");
    let owners = file["owners"]["accounts"].as_array().unwrap();
    let mut checked = 0;
    for case in file["cases"].as_array().unwrap() {
        let Some(da) = case.get("deferredAction") else { continue };
        let name = case["name"].as_str().unwrap();
        let typed: TypedDataJson = from_json_value(da["typedData"].clone()).unwrap();
        let digest = typed_data_digest(&typed).unwrap();
        assert_eq!(digest, hex_b256(&da["digest"]), "{name}");
        let owner = owners.iter().find(|o| o["address"] == case["owner"]).unwrap();
        let key: alloy_signer_local::PrivateKeySigner =
            owner["privateKey"].as_str().unwrap().parse().unwrap();
        let request = SignatureRequest::TypedData { data: typed, raw_payload: digest };
        let signature = sign_request_sync(&key, &request, None).unwrap();
        assert_eq!(signature.data, sig_data(&da["ownerSignature"]), "{name}");
        checked += 1;
    }
    assert_eq!(checked, 33);
}

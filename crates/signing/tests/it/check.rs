//! Check before sign: nothing is signed unless the digest is recomputed and matches.

use crate::dev_signer;
use alloy_primitives::{b256, B256};
use alloy_signer::{Signer, SignerSync};
use sesskey_signing::Error;
use sesskey_signing::*;
use sesskey_types::*;

fn typed() -> TypedDataJson {
    serde_json::from_str(
        r#"{
        "domain": {"chainId": 1, "verifyingContract": "0xafdABa1E09e82F780721963eba39bA9e6d9FE4d2"},
        "types": {"DeferredAction": [{"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint48"}, {"name": "call", "type": "bytes"}]},
        "primaryType": "DeferredAction",
        "message": {"nonce": "0x1030000000000000000", "deadline": 1747969653, "call": "0x1bbf564c"}
    }"#,
    )
    .unwrap()
}

#[test]
fn a_wrong_raw_payload_is_refused_with_both_values() {
    let data = typed();
    let recomputed = typed_data_digest(&data).unwrap();
    let claimed = b256!("0x2a80735600000000000000000000000000000000000000000000000000000e39");
    let request = SignatureRequest::TypedData { data, raw_payload: claimed };
    match sign_request_sync(&dev_signer(), &request, None) {
        Err(Error::DigestMismatch { recomputed: r, claimed: c }) => {
            assert_eq!((r, c), (recomputed, claimed));
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    let msg = check_request(&request, None).unwrap_err().to_string();
    assert!(msg.contains(&recomputed.to_string()) && msg.contains(&claimed.to_string()), "{msg}");
}

#[test]
fn tampered_data_is_refused() {
    let data = typed();
    let raw_payload = typed_data_digest(&data).unwrap();
    let mut tampered = data;
    tampered.message.insert("deadline".into(), serde_json::json!(0));
    let request = SignatureRequest::TypedData { data: tampered, raw_payload };
    assert!(matches!(check_request(&request, None), Err(Error::DigestMismatch { .. })));
}

/// The two answers of the seed document's step 3 (sign the typed data; sign `rawPayload` with
/// no prefix) give the same signature.
#[tokio::test]
async fn both_ways_of_signing_typed_data_agree() {
    let signer = dev_signer();
    let data = typed();
    let digest = typed_data_digest(&data).unwrap();
    let request = SignatureRequest::TypedData { data: data.clone(), raw_payload: digest };
    let ours = sign_request(&signer, &request, None).await.unwrap();
    let dyn_typed = to_dyn_typed_data(&data).unwrap();
    let via_typed_data = signer.sign_dynamic_typed_data(&dyn_typed).await.unwrap();
    let via_raw_digest = signer.sign_hash_sync(&digest).unwrap();
    assert_eq!(ours, to_wire(&via_typed_data));
    assert_eq!(ours, to_wire(&via_raw_digest));
    assert_eq!(ours.data, SignatureData::Hex(via_typed_data.as_bytes().to_vec().into()));
}

#[test]
fn wire_signatures_use_v_27_or_28() {
    for i in 0..8u8 {
        let request = SignatureRequest::PersonalSign {
            data: PersonalSignData::Raw { raw: vec![i].into() },
            raw_payload: eip191_digest(&[i]),
        };
        let SignatureData::Hex(bytes) =
            sign_request_sync(&dev_signer(), &request, None).unwrap().data
        else {
            panic!()
        };
        assert_eq!(bytes.len(), 65);
        assert!(bytes[64] == 27 || bytes[64] == 28);
    }
}

#[test]
fn eip7702_requests_need_their_tuple() {
    let request = SignatureRequest::Eip7702Auth { raw_payload: B256::ZERO };
    assert!(matches!(check_request(&request, None), Err(Error::MissingAuthorization)));
    let prepared = PreparedAuthorization {
        data: AuthorizationData {
            address: MODULAR_ACCOUNT_V2_7702,
            nonce: alloy_primitives::U64::from(3),
        },
        chain_id: alloy_primitives::U64::from(0x66eee),
        signature_request: SignatureRequest::Eip7702Auth { raw_payload: B256::ZERO },
    };
    assert!(matches!(check_authorization(&prepared), Err(Error::DigestMismatch { .. })));
    let good = PreparedAuthorization {
        signature_request: SignatureRequest::Eip7702Auth {
            raw_payload: eip7702_digest(&AuthorizationTuple::from_wire(
                &prepared.data,
                prepared.chain_id,
            )),
        },
        ..prepared
    };
    check_authorization(&good).unwrap();
}

fn prepared_op() -> PreparedUserOperationV07 {
    let data = UserOperationV07 { call_data: vec![1, 2, 3].into(), ..Default::default() };
    let hash = user_op_v07_hash(&data, ENTRY_POINT_V07, 1);
    PreparedUserOperationV07 {
        data,
        chain_id: alloy_primitives::U64::from(1),
        signature_request: Some(SignatureRequest::PersonalSign {
            data: PersonalSignData::Raw { raw: hash.to_vec().into() },
            raw_payload: eip191_digest(hash.as_slice()),
        }),
        fee_payment: None,
        details: None,
    }
}

/// A server that swaps the op but keeps a self-consistent request for another hash is caught:
/// the hash is recomputed from the operation itself.
#[tokio::test]
async fn a_user_op_is_checked_against_its_own_hash() {
    let signer = dev_signer();
    let good = prepared_op();
    let sig = sign_user_op_v07(&signer, &good, ENTRY_POINT_V07).await.unwrap();
    let hash = user_op_v07_hash(&good.data, ENTRY_POINT_V07, 1);
    verify(eip191_digest(hash.as_slice()), &sig.data, signer.address()).unwrap();

    let mut swapped = good.clone();
    swapped.data.call_data = vec![9].into();
    assert!(matches!(
        sign_user_op_v07(&signer, &swapped, ENTRY_POINT_V07).await,
        Err(Error::UserOpHashMismatch { .. })
    ));

    let mut other_chain = good.clone();
    other_chain.chain_id = alloy_primitives::U64::from(2);
    assert!(matches!(
        check_user_op_v07(&other_chain, ENTRY_POINT_V07),
        Err(Error::UserOpHashMismatch { .. })
    ));

    let mut no_request = good.clone();
    no_request.signature_request = None;
    assert!(matches!(
        check_user_op_v07(&no_request, ENTRY_POINT_V07),
        Err(Error::MissingSignatureRequest)
    ));

    let mut typed_request = good;
    typed_request.signature_request =
        Some(SignatureRequest::Eip7702Auth { raw_payload: B256::ZERO });
    assert!(matches!(
        check_user_op_v07(&typed_request, ENTRY_POINT_V07),
        Err(Error::UnexpectedRequest { .. })
    ));
}

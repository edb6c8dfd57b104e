//! Benchmarks of digest + check + sign per request type, recovery and EIP-712 from JSON, with the
//! raw `sign_hash` rate of alloy's local signer on the same backend as the baseline.
//!
//! Run: `cargo bench -p sesskey-signing --bench signing`.
#![allow(missing_docs)]

use alloy_primitives::{B256, U64};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use criterion::{criterion_group, criterion_main, Criterion};
use sesskey_signing::*;
use sesskey_types::*;
use std::hint::black_box;

const TYPED: &str = r#"{
    "domain": {"chainId": 1, "verifyingContract": "0xafdABa1E09e82F780721963eba39bA9e6d9FE4d2"},
    "types": {"DeferredAction": [{"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint48"}, {"name": "call", "type": "bytes"}]},
    "primaryType": "DeferredAction",
    "message": {"nonce": "0x1030000000000000000", "deadline": 1747969653, "call": "0x1bbf564c00000000000099de0bf6fa90deb851e2a2df7d83000000010500000000000000000000000000000000000000000000000000000000000000000000000000008000000000000000000000000000000000000000000000000000000000000000a0"}
}"#;

fn key() -> PrivateKeySigner {
    // A published test key (see fixtures/external/vectors/README.md).
    "0x29f8ccda13d5560423ae971c9e604984e6f30debdc1466117675c3d50cedafc1".parse().unwrap()
}

fn sign(c: &mut Criterion) {
    let k256 = key();
    let secp = k256.to_secp256k1();
    let hash = B256::repeat_byte(0x42);
    let personal = SignatureRequest::PersonalSign {
        data: PersonalSignData::Raw { raw: hash.to_vec().into() },
        raw_payload: eip191_digest(hash.as_slice()),
    };
    let typed_data: TypedDataJson = serde_json::from_str(TYPED).unwrap();
    let typed = SignatureRequest::TypedData {
        raw_payload: typed_data_digest(&typed_data).unwrap(),
        data: typed_data,
    };
    let tuple = AuthorizationTuple {
        chain_id: alloy_primitives::U256::from(0x66eee),
        address: MODULAR_ACCOUNT_V2_7702,
        nonce: 7,
    };
    let auth = SignatureRequest::Eip7702Auth { raw_payload: eip7702_digest(&tuple) };
    let op = UserOperationV07 { call_data: vec![0x34; 200].into(), ..Default::default() };
    let op_hash = user_op_v07_hash(&op, ENTRY_POINT_V07, 1);
    let prepared = PreparedUserOperationV07 {
        data: op,
        chain_id: U64::from(1),
        signature_request: Some(SignatureRequest::PersonalSign {
            data: PersonalSignData::Raw { raw: op_hash.to_vec().into() },
            raw_payload: eip191_digest(op_hash.as_slice()),
        }),
        fee_payment: None,
        details: None,
    };

    let mut g = c.benchmark_group("sign");
    g.bench_function("baseline raw sign_hash/k256", |b| {
        b.iter(|| k256.sign_hash_sync(black_box(&hash)).unwrap())
    });
    g.bench_function("baseline raw sign_hash/secp256k1", |b| {
        b.iter(|| secp.sign_hash_sync(black_box(&hash)).unwrap())
    });
    g.bench_function("checked personal_sign/k256", |b| {
        b.iter(|| sign_request_sync(&k256, black_box(&personal), None).unwrap())
    });
    g.bench_function("checked personal_sign/secp256k1", |b| {
        b.iter(|| sign_request_sync(&secp, black_box(&personal), None).unwrap())
    });
    g.bench_function("checked eth_signTypedData_v4/secp256k1", |b| {
        b.iter(|| sign_request_sync(&secp, black_box(&typed), None).unwrap())
    });
    g.bench_function("checked eip7702Auth/secp256k1", |b| {
        b.iter(|| sign_request_sync(&secp, black_box(&auth), Some(&tuple)).unwrap())
    });
    g.bench_function("checked user op v0.7 (hash + personal_sign)/secp256k1", |b| {
        b.iter(|| {
            let digest = check_user_op_v07(black_box(&prepared), ENTRY_POINT_V07).unwrap();
            to_wire(&secp.sign_hash_sync(&digest).unwrap())
        })
    });
    g.finish();
}

fn recovery(c: &mut Criterion) {
    let signer = key();
    let digest = B256::repeat_byte(0x24);
    let sig = signer.sign_hash_sync(&digest).unwrap();
    let wire = to_wire(&sig).data;
    let mut g = c.benchmark_group("recover");
    g.bench_function("k256", |b| {
        b.iter(|| black_box(&sig).recover_from_prehash(black_box(&digest)).unwrap())
    });
    g.bench_function("secp256k1", |b| {
        b.iter(|| black_box(&sig).recover_from_prehash_secp256k1(black_box(&digest)).unwrap())
    });
    g.bench_function("sesskey recover (wire form, checks, address)", |b| {
        b.iter(|| recover(black_box(digest), black_box(&wire)).unwrap())
    });
    g.finish();
}

fn digests(c: &mut Criterion) {
    let mut g = c.benchmark_group("digest");
    g.bench_function("eip712 from JSON text", |b| {
        b.iter(|| {
            let typed: TypedDataJson = serde_json::from_str(black_box(TYPED)).unwrap();
            typed_data_digest(&typed).unwrap()
        })
    });
    let typed: TypedDataJson = serde_json::from_str(TYPED).unwrap();
    g.bench_function("eip712 from parsed typed data", |b| {
        b.iter(|| typed_data_digest(black_box(&typed)).unwrap())
    });
    let op = UserOperationV07 { call_data: vec![0x34; 200].into(), ..Default::default() };
    g.bench_function("user op v0.7 hash", |b| {
        b.iter(|| user_op_v07_hash(black_box(&op), ENTRY_POINT_V07, 1))
    });
    g.finish();
}

criterion_group!(benches, sign, recovery, digests);
criterion_main!(benches);

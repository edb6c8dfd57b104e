//! Property tests: value → JSON → value is the identity for every top-level type.

use alloy_primitives::{Address, Bytes, FixedBytes, B256, U128, U256, U64, U8};
use proptest::collection::vec;
use proptest::prelude::*;
use serde::{de::DeserializeOwned, Serialize};
use sesskey_types::*;
use std::fmt::Debug;

use crate::samples;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(v: &T) {
    let json = serde_json::to_string(v).unwrap();
    let back: T = from_json_str(&json).unwrap_or_else(|e| panic!("{e}\n{json}"));
    assert_eq!(&back, v, "{json}");
}

fn addr() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::from)
}
fn u256() -> impl Strategy<Value = U256> {
    prop_oneof![any::<u64>().prop_map(U256::from), any::<[u8; 32]>().prop_map(U256::from_be_bytes)]
}
fn u128_() -> impl Strategy<Value = U128> {
    any::<u128>().prop_map(U128::from)
}
fn u64_() -> impl Strategy<Value = U64> {
    any::<u64>().prop_map(U64::from)
}
fn bytes() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..80).prop_map(Bytes::from)
}
fn b256() -> impl Strategy<Value = B256> {
    any::<[u8; 32]>().prop_map(B256::from)
}
fn selector() -> impl Strategy<Value = Selector> {
    any::<[u8; 4]>().prop_map(FixedBytes::from)
}

fn call() -> impl Strategy<Value = Call> {
    (addr(), proptest::option::of(bytes()), proptest::option::of(u256()))
        .prop_map(|(to, data, value)| Call { to, data, value })
}

fn permission() -> impl Strategy<Value = Permission> {
    prop_oneof![
        u256().prop_map(|allowance| Permission::NativeTokenTransfer(NativeTokenTransfer {
            allowance
        })),
        (addr(), u256()).prop_map(|(address, allowance)| Permission::Erc20TokenTransfer(
            Erc20TokenTransfer { address, allowance }
        )),
        u256().prop_map(|limit| Permission::GasLimit(GasLimit { limit })),
        addr().prop_map(|address| Permission::ContractAccess(ContractAccess { address })),
        vec(selector(), 0..4)
            .prop_map(|functions| Permission::AccountFunctions(Functions { functions })),
        vec(selector(), 0..4)
            .prop_map(|functions| Permission::FunctionsOnAllContracts(Functions { functions })),
        (addr(), vec(selector(), 0..4)).prop_map(|(address, functions)| {
            Permission::FunctionsOnContract(FunctionsOnContract { address, functions })
        }),
        Just(Permission::Root),
    ]
}

fn signature() -> impl Strategy<Value = Signature> {
    let ty = prop_oneof![Just(SignatureType::Secp256k1), Just(SignatureType::Ecdsa)];
    let data = prop_oneof![
        bytes().prop_map(SignatureData::Hex),
        (u256(), u256(), any::<u8>()).prop_map(|(r, s, y)| SignatureData::RsYParity {
            r,
            s,
            y_parity: U8::from(y)
        }),
        (u256(), u256(), any::<u8>()).prop_map(|(r, s, v)| SignatureData::RsV {
            r,
            s,
            v: U8::from(v)
        }),
    ];
    (ty, data).prop_map(|(ty, data)| Signature { ty, data })
}

fn user_op_v07() -> impl Strategy<Value = UserOperationV07> {
    (
        (addr(), u256(), proptest::option::of((addr(), bytes())), bytes()),
        (u128_(), u128_(), u256(), u128_(), u128_()),
        proptest::option::of((addr(), bytes(), u128_(), u128_())),
    )
        .prop_map(|((sender, nonce, factory, call_data), (cgl, vgl, pvg, mf, mpf), pm)| {
            UserOperationV07 {
                sender,
                nonce,
                factory: factory.as_ref().map(|f| f.0),
                factory_data: factory.map(|f| f.1),
                call_data,
                call_gas_limit: cgl,
                verification_gas_limit: vgl,
                pre_verification_gas: pvg,
                max_fee_per_gas: mf,
                max_priority_fee_per_gas: mpf,
                paymaster: pm.as_ref().map(|p| p.0),
                paymaster_data: pm.as_ref().map(|p| p.1.clone()),
                paymaster_verification_gas_limit: pm.as_ref().map(|p| p.2),
                paymaster_post_op_gas_limit: pm.map(|p| p.3),
            }
        })
}

fn user_op_v06() -> impl Strategy<Value = UserOperationV06> {
    ((addr(), u256(), bytes(), bytes()), (u256(), u256(), u256(), u256(), u256()), bytes())
        .prop_map(|((sender, nonce, init_code, call_data), (a, b, c, d, e), paymaster_and_data)| {
            UserOperationV06 {
                sender,
                nonce,
                init_code,
                call_data,
                call_gas_limit: a,
                verification_gas_limit: b,
                pre_verification_gas: c,
                max_fee_per_gas: d,
                max_priority_fee_per_gas: e,
                paymaster_and_data,
            }
        })
}

fn signature_request() -> impl Strategy<Value = SignatureRequest> {
    prop_oneof![
        (bytes(), b256()).prop_map(|(raw, raw_payload)| SignatureRequest::PersonalSign {
            data: PersonalSignData::Raw { raw },
            raw_payload
        }),
        ("[a-zA-Z0-9 ]{1,20}", b256()).prop_map(|(m, raw_payload)| {
            SignatureRequest::PersonalSign { data: PersonalSignData::Message(m), raw_payload }
        }),
        b256().prop_map(|raw_payload| SignatureRequest::TypedData {
            data: samples::typed_data(),
            raw_payload
        }),
        b256().prop_map(|raw_payload| SignatureRequest::Eip7702Auth { raw_payload }),
    ]
}

fn details() -> impl Strategy<Value = PreparedDetails> {
    (b256(), vec(call(), 0..3)).prop_map(|(hash, calls)| {
        PreparedDetails::UserOperation(UserOperationDetails {
            hash,
            calls: Some(calls),
            pending_bundle: None,
        })
    })
}

fn fee_payment() -> impl Strategy<Value = FeePayment> {
    (any::<bool>(), addr(), u256()).prop_map(|(sponsored, token_address, max_amount)| FeePayment {
        sponsored,
        token_address,
        max_amount,
    })
}

fn prepared_v07() -> impl Strategy<Value = PreparedUserOperationV07> {
    (
        user_op_v07(),
        u64_(),
        proptest::option::of(signature_request()),
        proptest::option::of(fee_payment()),
        proptest::option::of(details()),
    )
        .prop_map(|(data, chain_id, signature_request, fee_payment, details)| {
            PreparedUserOperationV07 { data, chain_id, signature_request, fee_payment, details }
        })
}

fn prepared_v06() -> impl Strategy<Value = PreparedUserOperationV06> {
    (
        user_op_v06(),
        u64_(),
        proptest::option::of(signature_request()),
        proptest::option::of(fee_payment()),
    )
        .prop_map(|(data, chain_id, signature_request, fee_payment)| {
            PreparedUserOperationV06 {
                data,
                chain_id,
                signature_request,
                fee_payment,
                details: None,
            }
        })
}

fn authorization() -> impl Strategy<Value = AuthorizationData> {
    (addr(), u64_()).prop_map(|(address, nonce)| AuthorizationData { address, nonce })
}

fn prepared_auth() -> impl Strategy<Value = PreparedAuthorization> {
    (authorization(), u64_(), b256()).prop_map(|(data, chain_id, raw_payload)| {
        PreparedAuthorization {
            data,
            chain_id,
            signature_request: SignatureRequest::Eip7702Auth { raw_payload },
        }
    })
}

fn prepared_calls() -> impl Strategy<Value = PreparedCalls> {
    let element = prop_oneof![
        prepared_v07().prop_map(PreparedElement::UserOperationV070),
        prepared_v06().prop_map(PreparedElement::UserOperationV060),
        prepared_auth().prop_map(PreparedElement::Authorization),
    ];
    prop_oneof![
        prepared_v07().prop_map(PreparedCalls::UserOperationV070),
        prepared_v06().prop_map(PreparedCalls::UserOperationV060),
        prepared_auth().prop_map(PreparedCalls::Authorization),
        (vec(element, 0..3), proptest::option::of(details()))
            .prop_map(|(data, details)| PreparedCalls::Array(PreparedArray { data, details })),
    ]
}

fn permissions_capability() -> impl Strategy<Value = PermissionsCapability> {
    prop_oneof![
        bytes().prop_map(|context| PermissionsCapability::Context { context }),
        (any::<[u8; 16]>(), bytes()).prop_map(|(id, signature)| PermissionsCapability::Session {
            session_id: id.into(),
            signature
        }),
    ]
}

fn prepare_calls_params() -> impl Strategy<Value = PrepareCallsParams> {
    let caps = (
        proptest::option::of(permissions_capability()),
        proptest::option::of(prop_oneof![Just(1.0f64), Just(1.5), Just(2.25)]),
        proptest::option::of(u256()),
        proptest::option::of(bytes()),
    )
        .prop_map(|(permissions, mult, key, suffix)| PrepareCallsCapabilities {
            permissions,
            paymaster_service: Some(PaymasterService {
                policy: PolicySelector::One { policy_id: samples::POLICY.into() },
                only_estimation: None,
                erc20: None,
                webhook_data: None,
            }),
            gas_params_override: mult.map(|multiplier| GasParamsOverride {
                max_fee_per_gas: Some(GasParam::Multiplier { multiplier }),
                pre_verification_gas: Some(GasParam::Absolute(U256::from(5))),
                ..Default::default()
            }),
            eip7702_auth: None,
            nonce_override: key.map(|nonce_key| NonceOverride { nonce_key }),
            state_override: None,
            experimental_data_suffix: suffix.map(|value| DataSuffix { value }),
        });
    (proptest::option::of(vec(call(), 0..4)), addr(), u64_(), proptest::option::of(caps)).prop_map(
        |(calls, from, chain_id, capabilities)| PrepareCallsParams {
            calls,
            from,
            chain_id,
            capabilities,
            paymaster_permit_signature: None,
        },
    )
}

fn signed_calls() -> impl Strategy<Value = SignedCalls> {
    fn v07() -> impl Strategy<Value = SignedUserOperationV07> {
        (user_op_v07(), u64_(), signature()).prop_map(|(data, chain_id, signature)| {
            SignedUserOperationV07 { data, chain_id, signature }
        })
    }
    fn v06() -> impl Strategy<Value = SignedUserOperationV06> {
        (user_op_v06(), u64_(), signature()).prop_map(|(data, chain_id, signature)| {
            SignedUserOperationV06 { data, chain_id, signature }
        })
    }
    fn auth() -> impl Strategy<Value = SignedAuthorization> {
        (authorization(), u64_(), signature()).prop_map(|(data, chain_id, signature)| {
            SignedAuthorization { data, chain_id, signature }
        })
    }
    let element = prop_oneof![
        v07().prop_map(SignedElement::UserOperationV070),
        v06().prop_map(SignedElement::UserOperationV060),
        auth().prop_map(SignedElement::Authorization),
    ];
    prop_oneof![
        v07().prop_map(SignedCalls::UserOperationV070),
        v06().prop_map(SignedCalls::UserOperationV060),
        auth().prop_map(SignedCalls::Authorization),
        vec(element, 0..3).prop_map(|data| SignedCalls::Array(SignedArray { data })),
    ]
}

fn call_details() -> impl Strategy<Value = CallDetails> {
    prop_oneof![
        (b256(), proptest::option::of(vec(call(), 0..2)), proptest::option::of((b256(), u64_())))
            .prop_map(|(hash, calls, pb)| CallDetails::UserOperation {
                data: UserOperationDetails {
                    hash,
                    calls,
                    pending_bundle: pb
                        .map(|(tx_hash, sent_at_block)| PendingBundle { tx_hash, sent_at_block })
                },
            }),
        proptest::option::of(b256()).prop_map(|tx_hash| CallDetails::Delegation { tx_hash }),
    ]
}

fn calls_status() -> impl Strategy<Value = CallsStatus> {
    let log = (addr(), bytes(), vec(b256(), 0..4)).prop_map(|(address, data, topics)| Log {
        address,
        data,
        topics,
    });
    let receipt = (vec(log, 0..3), any::<bool>(), b256(), u64_(), u256(), b256()).prop_map(
        |(logs, ok, block_hash, block_number, gas_used, transaction_hash)| Receipt {
            logs,
            status: U8::from(ok as u8),
            block_hash,
            block_number,
            gas_used,
            transaction_hash,
        },
    );
    (
        bytes(),
        u64_(),
        any::<bool>(),
        proptest::sample::select(CallStatusCode::ALL.to_vec()),
        proptest::option::of(vec(receipt, 0..2)),
        call_details(),
    )
        .prop_map(|(id, chain_id, atomic, status, receipts, details)| CallsStatus {
            id,
            chain_id,
            atomic,
            status,
            receipts,
            details,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prepare_calls_params_round_trip(v in prepare_calls_params()) { round_trip(&v) }

    #[test]
    fn prepared_calls_round_trip(v in prepared_calls()) { round_trip(&v) }

    #[test]
    fn send_prepared_calls_round_trip(calls in signed_calls(), perms in proptest::option::of(permissions_capability()), call_id in proptest::option::of(bytes())) {
        round_trip(&SendPreparedCallsParams {
            calls,
            capabilities: Some(SendPreparedCallsCapabilities { permissions: perms, paymaster_service: None }),
            call_id,
        })
    }

    #[test]
    fn send_prepared_calls_result_round_trip(id in bytes(), details in call_details()) {
        round_trip(&SendPreparedCallsResult { id: id.clone(), prepared_call_ids: vec![id], details })
    }

    #[test]
    fn create_session_round_trip(
        account in addr(), chain in u64_(), expiry in proptest::option::of(0u64..=MAX_EXPIRY_SEC),
        key in addr(), permissions in vec(permission(), 0..6), session_id in any::<[u8; 16]>(), raw in b256(),
    ) {
        round_trip(&CreateSessionParams {
            account, chain_id: chain, expiry_sec: expiry,
            key: SessionKey { public_key: key, ty: KeyType::Ecdsa }, permissions,
        });
        round_trip(&CreateSessionResult {
            session_id: session_id.into(), chain_id: Some(chain),
            signature_request: SignatureRequest::TypedData { data: samples::typed_data(), raw_payload: raw },
        });
    }

    #[test]
    fn calls_status_round_trip(v in calls_status()) { round_trip(&v) }

    #[test]
    fn accounts_round_trip(a in addr(), b in addr(), n in 1u32..=100, total in any::<u32>()) {
        round_trip(&RequestAccountParams::BySigner { signer_address: a, id: None, creation_hint: Some(CreationHint { initial_owners: Some(vec![a, b]), ..Default::default() }), include_counterfactual_info: Some(false) });
        round_trip(&RequestAccountParams::ByAccount { account_address: b, include_counterfactual_info: None });
        round_trip(&RequestAccountResult { account_address: a, id: "x".into(), counterfactual_info: None, delegation: Some(b) });
        round_trip(&ListAccountsParams { signer_address: a, limit: Some(n), after: None });
        round_trip(&ListAccountsResult { accounts: vec![AccountRef { account_address: b, id: "y".into() }], meta: ListAccountsMeta { total_count: total.into(), after: Some("zz".into()) } });
    }

    #[test]
    fn sign_round_trip(from in addr(), chain in u64_(), sig in signature(), packed in bytes(), raw in bytes()) {
        let request = SignRequest::PersonalSign { data: PersonalSignData::Raw { raw }, raw_payload: None };
        round_trip(&PrepareSignParams { from, chain_id: chain, signature_request: request.clone(), capabilities: Some(samples::sign_capabilities()) });
        round_trip(&PrepareSignResult { chain_id: chain, signature_request: request });
        round_trip(&FormatSignParams { from, chain_id: chain, signature: sig, capabilities: None });
        round_trip(&FormatSignResult { signature: packed });
    }

    #[test]
    fn context_round_trip(id in any::<[u8; 16]>(), sig in any::<[u8; 32]>(), v in any::<u8>()) {
        let mut signature = [0u8; 65];
        signature[..32].copy_from_slice(&sig);
        signature[64] = v;
        let s = SessionRef { session_id: id.into(), signature: signature.into() };
        prop_assert_eq!(&SessionRef::from_context(&s.to_context()).unwrap(), &s);
        prop_assert_eq!(PermissionsCapability::from(&s).to_context_form().unwrap().session_ref().unwrap(), s);
    }
}

#[test]
fn capabilities_round_trip() {
    let caps: Capabilities = serde_json::from_str(
        r#"{"0x0":{"atomic":{"status":"supported"},"paymasterService":{"supported":true}}}"#,
    )
    .unwrap();
    round_trip(&caps);
}

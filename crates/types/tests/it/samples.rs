//! One value of every wire type and union arm, built in Rust.

use alloy_primitives::{address, b256, bytes, fixed_bytes, Address, Bytes, U128, U256, U64, U8};
use sesskey_types::*;
use std::collections::BTreeMap;

pub(crate) const ACCOUNT: Address = address!("0xa363219d7C0b8673df17529D469Db9eFF0f35D2A");
pub(crate) const TOKEN: Address = address!("0x23e5158b00A5a87c9b32a897D109833861453fBB");
pub(crate) const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";

pub(crate) fn sig65() -> Bytes {
    Bytes::from(vec![0x1b; 65])
}

pub(crate) fn permissions_all() -> Vec<Permission> {
    vec![
        Permission::NativeTokenTransfer(NativeTokenTransfer {
            allowance: U256::from(10u64.pow(18)),
        }),
        Permission::Erc20TokenTransfer(Erc20TokenTransfer { address: TOKEN, allowance: U256::MAX }),
        Permission::GasLimit(GasLimit { limit: U256::from(300_000) }),
        Permission::ContractAccess(ContractAccess {
            address: address!("0x91739Af276263bC715cF2B7Af78D9B2eb4636b5a"),
        }),
        Permission::AccountFunctions(Functions { functions: vec![fixed_bytes!("0xdeadbeef")] }),
        Permission::FunctionsOnAllContracts(Functions {
            functions: vec![fixed_bytes!("0xa9059cbb")],
        }),
        Permission::FunctionsOnContract(FunctionsOnContract {
            address: address!("0xBccf2F2BCf17C66a98AB4c73F649BCE125Ce3da2"),
            functions: vec![fixed_bytes!("0xfeaf259f"), fixed_bytes!("0x6c218410")],
        }),
    ]
}

pub(crate) fn create_session_params(permissions: Vec<Permission>) -> CreateSessionParams {
    CreateSessionParams {
        account: ACCOUNT,
        chain_id: U64::from(0x66eee),
        expiry_sec: Some(1_776_657_600),
        key: SessionKey {
            public_key: address!("0x647bbf38CD0E116d1672405aE17a775572a84e03"),
            ty: KeyType::Secp256k1,
        },
        permissions,
    }
}

pub(crate) fn typed_data() -> TypedDataJson {
    serde_json::from_value(serde_json::json!({
        "domain": {"chainId": 1, "verifyingContract": "0xafdABa1E09e82F780721963eba39bA9e6d9FE4d2"},
        "types": {"DeferredAction": [
            {"name": "nonce", "type": "uint256"}, {"name": "deadline", "type": "uint48"},
            {"name": "call", "type": "bytes"}]},
        "primaryType": "DeferredAction",
        "message": {"nonce": "0x1030000000000000000", "deadline": 1747969653, "call": "0x1bbf564c"}
    }))
    .unwrap()
}

pub(crate) fn create_session_result() -> CreateSessionResult {
    CreateSessionResult {
        session_id: fixed_bytes!("0xcd8b2d07a6fa76f1e8a5eaa8f3a7883c"),
        chain_id: Some(U64::from(1)),
        signature_request: SignatureRequest::TypedData {
            data: typed_data(),
            raw_payload: b256!(
                "0x3499a8dd76e13102a22ab786edd127a2ab8a68e1bcf6c748382b83ff886d8003"
            ),
        },
    }
}

pub(crate) fn user_op_v07(paymaster: bool) -> UserOperationV07 {
    UserOperationV07 {
        sender: ACCOUNT,
        nonce: U256::from(1u128 << 64),
        factory: None,
        factory_data: None,
        call_data: bytes!("0x34fcd5be"),
        call_gas_limit: U128::from(0x2bb8),
        verification_gas_limit: U128::from(0xc845),
        pre_verification_gas: U256::from(0x14b74),
        max_fee_per_gas: U128::from(0x1bf52290),
        max_priority_fee_per_gas: U128::from(0x60e4b0),
        paymaster: paymaster.then_some(address!("0x3f222Df6aB18C1E10d0Ec136503c3B0dfd929048")),
        paymaster_data: paymaster.then_some(bytes!("0x0000000000000000682d7e7c")),
        paymaster_verification_gas_limit: paymaster.then_some(U128::from(0x74d3)),
        paymaster_post_op_gas_limit: paymaster.then_some(U128::ZERO),
    }
}

pub(crate) fn user_op_v06() -> UserOperationV06 {
    UserOperationV06 {
        sender: ACCOUNT,
        nonce: U256::from(3),
        init_code: Bytes::new(),
        call_data: bytes!("0xb61d27f6"),
        call_gas_limit: U256::from(21_000),
        verification_gas_limit: U256::from(100_000),
        pre_verification_gas: U256::from(50_000),
        max_fee_per_gas: U256::from(1_000_000_000u64),
        max_priority_fee_per_gas: U256::from(1_000_000u64),
        paymaster_and_data: Bytes::new(),
    }
}

pub(crate) fn personal_sign_request() -> SignatureRequest {
    SignatureRequest::PersonalSign {
        data: PersonalSignData::Raw {
            raw: bytes!("0xc69e468aa6fafb5c7298c02841e76f976b433018266af39a5807bc29ea9ad392"),
        },
        raw_payload: b256!("0xb36d8bcbced37fd84a0d8a3a5724910f0a05638be0f4f3aa328f0d32edddffbb"),
    }
}

pub(crate) fn details() -> PreparedDetails {
    PreparedDetails::UserOperation(UserOperationDetails {
        hash: b256!("0xc69e468aa6fafb5c7298c02841e76f976b433018266af39a5807bc29ea9ad392"),
        calls: Some(vec![Call { to: Address::ZERO, data: None, value: None }]),
        pending_bundle: None,
    })
}

pub(crate) fn fee_payment() -> FeePayment {
    FeePayment { sponsored: true, token_address: Address::ZERO, max_amount: U256::ZERO }
}

pub(crate) fn prepared_v07() -> PreparedUserOperationV07 {
    PreparedUserOperationV07 {
        data: user_op_v07(true),
        chain_id: U64::from(0x66eee),
        signature_request: Some(personal_sign_request()),
        fee_payment: Some(fee_payment()),
        details: Some(details()),
    }
}

pub(crate) fn prepared_v06() -> PreparedUserOperationV06 {
    PreparedUserOperationV06 {
        data: user_op_v06(),
        chain_id: U64::from(1),
        signature_request: Some(SignatureRequest::TypedData {
            data: typed_data(),
            raw_payload: B256_ONE,
        }),
        fee_payment: Some(fee_payment()),
        details: None,
    }
}

const B256_ONE: alloy_primitives::B256 =
    b256!("0x0000000000000000000000000000000000000000000000000000000000000001");

pub(crate) fn prepared_authorization() -> PreparedAuthorization {
    PreparedAuthorization {
        data: AuthorizationData { address: MODULAR_ACCOUNT_V2_7702, nonce: U64::from(0) },
        chain_id: U64::from(0x66eee),
        signature_request: SignatureRequest::Eip7702Auth { raw_payload: B256_ONE },
    }
}

pub(crate) fn prepare_calls_params_full() -> PrepareCallsParams {
    let mut state = BTreeMap::new();
    state.insert(
        ACCOUNT,
        AccountOverride {
            balance: Some(U256::from(5)),
            nonce: Some(U256::from(1)),
            ..Default::default()
        },
    );
    state.insert(
        TOKEN,
        AccountOverride {
            state_diff: Some([(B256_ONE, B256_ONE)].into_iter().collect()),
            ..Default::default()
        },
    );
    PrepareCallsParams {
        calls: Some(vec![
            Call { to: TOKEN, data: Some(bytes!("0xa9059cbb")), value: Some(U256::ZERO) },
            Call { to: Address::ZERO, data: None, value: None },
        ]),
        from: ACCOUNT,
        chain_id: U64::from(0x66eee),
        capabilities: Some(PrepareCallsCapabilities {
            permissions: Some(PermissionsCapability::Session {
                session_id: fixed_bytes!("0xcd8b2d07a6fa76f1e8a5eaa8f3a7883c"),
                signature: sig65(),
            }),
            paymaster_service: Some(PaymasterService {
                policy: PolicySelector::One { policy_id: POLICY.into() },
                only_estimation: Some(false),
                erc20: Some(Erc20Payment {
                    token_address: TOKEN,
                    max_token_amount: Some(U256::from(1000)),
                    pre_op_settings: Some(PreOpSettings::AutoPermit {
                        auto_permit: AutoPermit {
                            below: U256::from(10),
                            amount: U256::from(100),
                            duration_seconds: None,
                        },
                    }),
                    post_op_settings: None,
                }),
                webhook_data: Some("hello".into()),
            }),
            gas_params_override: Some(GasParamsOverride {
                call_gas_limit: Some(GasParam::Absolute(U256::from(100_000))),
                max_fee_per_gas: Some(GasParam::Multiplier { multiplier: 1.5 }),
                ..Default::default()
            }),
            eip7702_auth: Some(Eip7702AuthCapability::Explicit {
                account: Some(ACCOUNT),
                delegation: Delegation::ModularAccountV2,
            }),
            nonce_override: Some(NonceOverride { nonce_key: U256::from(7) }),
            state_override: Some(state),
            experimental_data_suffix: Some(DataSuffix { value: bytes!("0x8021") }),
        }),
        paymaster_permit_signature: Some(Signature {
            ty: SignatureType::Ecdsa,
            data: SignatureData::RsYParity {
                r: U256::from(1),
                s: U256::from(2),
                y_parity: U8::from(1),
            },
        }),
    }
}

pub(crate) fn prepared_calls_all() -> Vec<PreparedCalls> {
    let permit = PaymasterPermit {
        modified_request: PrepareCallsParams {
            calls: Some(vec![]),
            from: ACCOUNT,
            chain_id: U64::from(1),
            capabilities: None,
            paymaster_permit_signature: None,
        },
        data: typed_data(),
        signature_request: SignatureRequest::TypedData {
            data: typed_data(),
            raw_payload: B256_ONE,
        },
        details: None,
    };
    vec![
        PreparedCalls::UserOperationV070(prepared_v07()),
        PreparedCalls::UserOperationV070(PreparedUserOperationV07 {
            data: user_op_v07(false),
            signature_request: None,
            ..prepared_v07()
        }),
        PreparedCalls::UserOperationV060(prepared_v06()),
        PreparedCalls::Authorization(prepared_authorization()),
        PreparedCalls::Array(PreparedArray {
            data: vec![
                PreparedElement::Authorization(prepared_authorization()),
                PreparedElement::UserOperationV070(prepared_v07()),
                PreparedElement::UserOperationV060(prepared_v06()),
            ],
            details: Some(details()),
        }),
        PreparedCalls::PaymasterPermit(Box::new(permit)),
    ]
}

pub(crate) fn signatures_all() -> Vec<Signature> {
    vec![
        Signature::secp256k1([0x1b; 65]),
        Signature {
            ty: SignatureType::Ecdsa,
            data: SignatureData::RsV { r: U256::MAX, s: U256::from(2), v: U8::from(28) },
        },
        Signature {
            ty: SignatureType::Secp256k1,
            data: SignatureData::RsYParity {
                r: U256::from(1),
                s: U256::from(2),
                y_parity: U8::ZERO,
            },
        },
    ]
}

pub(crate) fn send_params_all() -> Vec<SendPreparedCallsParams> {
    let signed_v07 = |signature| SignedUserOperationV07 {
        data: user_op_v07(true),
        chain_id: U64::from(0x66eee),
        signature,
    };
    let auth = SignedAuthorization {
        data: AuthorizationData { address: MODULAR_ACCOUNT_V2_7702, nonce: U64::from(4) },
        chain_id: U64::from(0x66eee),
        signature: Signature::secp256k1([0x1c; 65]),
    };
    let mut out: Vec<SendPreparedCallsParams> = signatures_all()
        .into_iter()
        .map(|s| SendPreparedCallsParams {
            calls: SignedCalls::UserOperationV070(signed_v07(s)),
            capabilities: Some(SendPreparedCallsCapabilities {
                permissions: Some(PermissionsCapability::Context {
                    context: Bytes::from(vec![0; 82]),
                }),
                paymaster_service: Some(SendPaymasterService {
                    policy: PolicySelector::Many { policy_ids: vec![POLICY.into()] },
                    webhook_data: None,
                }),
            }),
            call_id: None,
        })
        .collect();
    out.push(SendPreparedCallsParams {
        calls: SignedCalls::UserOperationV060(SignedUserOperationV06 {
            data: user_op_v06(),
            chain_id: U64::from(1),
            signature: Signature::secp256k1([2; 65]),
        }),
        capabilities: None,
        call_id: Some(bytes!("0x01")),
    });
    out.push(SendPreparedCallsParams {
        calls: SignedCalls::Authorization(auth.clone()),
        capabilities: None,
        call_id: None,
    });
    out.push(SendPreparedCallsParams {
        calls: SignedCalls::Array(SignedArray {
            data: vec![
                SignedElement::Authorization(auth),
                SignedElement::UserOperationV070(signed_v07(Signature::secp256k1([3; 65]))),
                SignedElement::UserOperationV060(SignedUserOperationV06 {
                    data: user_op_v06(),
                    chain_id: U64::from(1),
                    signature: Signature::secp256k1([2; 65]),
                }),
            ],
        }),
        capabilities: None,
        call_id: None,
    });
    out
}

pub(crate) fn call_id() -> Bytes {
    bytes!("0x0000000000000000000000000000000000000000000000000000000000066eeec69e468aa6fafb5c7298c02841e76f976b433018266af39a5807bc29ea9ad392")
}

pub(crate) fn send_results_all() -> Vec<SendPreparedCallsResult> {
    vec![
        SendPreparedCallsResult {
            id: call_id(),
            prepared_call_ids: vec![call_id()],
            details: CallDetails::UserOperation {
                data: UserOperationDetails {
                    hash: B256_ONE,
                    calls: Some(vec![Call::default()]),
                    pending_bundle: None,
                },
            },
        },
        SendPreparedCallsResult {
            id: call_id(),
            prepared_call_ids: vec![],
            details: CallDetails::Delegation { tx_hash: None },
        },
    ]
}

pub(crate) fn statuses_all() -> Vec<CallsStatus> {
    let receipt = Receipt {
        logs: vec![Log { address: Address::ZERO, data: Bytes::new(), topics: vec![B256_ONE] }],
        status: U8::from(1),
        block_hash: B256_ONE,
        block_number: U64::from(0x8ba5f79),
        gas_used: U256::from(0x33c65),
        transaction_hash: B256_ONE,
    };
    let mut out: Vec<CallsStatus> = CallStatusCode::ALL
        .into_iter()
        .map(|status| CallsStatus {
            id: call_id(),
            chain_id: U64::from(0x66eee),
            atomic: true,
            status,
            receipts: (status.kind() != StatusKind::Pending).then(|| vec![receipt.clone()]),
            details: CallDetails::UserOperation {
                data: UserOperationDetails {
                    hash: B256_ONE,
                    calls: None,
                    pending_bundle: (status == CallStatusCode::Pending).then_some(PendingBundle {
                        tx_hash: B256_ONE,
                        sent_at_block: U64::from(5),
                    }),
                },
            },
        })
        .collect();
    out.push(CallsStatus {
        id: call_id(),
        chain_id: U64::from(1),
        atomic: true,
        status: CallStatusCode::Confirmed,
        receipts: None,
        details: CallDetails::Delegation { tx_hash: Some(B256_ONE) },
    });
    out
}

pub(crate) fn request_account_params_all() -> Vec<RequestAccountParams> {
    vec![
        RequestAccountParams::BySigner {
            signer_address: ACCOUNT,
            id: Some("3061cc5f-1f96-48a9-ab45-41faad2dd23b".into()),
            creation_hint: Some(CreationHint {
                account_type: Some("7702".into()),
                ..Default::default()
            }),
            include_counterfactual_info: Some(true),
        },
        RequestAccountParams::BySigner {
            signer_address: ACCOUNT,
            id: None,
            creation_hint: Some(CreationHint {
                account_type: Some("ma-v1-multi-owner".into()),
                create_additional: Some(true),
                salt: Some(U256::from(1)),
                initial_owners: Some(vec![ACCOUNT, TOKEN]),
            }),
            include_counterfactual_info: None,
        },
        RequestAccountParams::ByAccount {
            account_address: ACCOUNT,
            include_counterfactual_info: None,
        },
    ]
}

pub(crate) fn request_account_result() -> RequestAccountResult {
    RequestAccountResult {
        account_address: ACCOUNT,
        id: "3061cc5f-1f96-48a9-ab45-41faad2dd23b".into(),
        counterfactual_info: Some(CounterfactualInfo {
            factory_type: "MAv2.0.0-sma-b".into(),
            factory_address: address!("0x00000000000017c61b5bEe81050EC8eFc9c6fecd"),
            factory_data: bytes!("0x1234"),
        }),
        delegation: Some(MODULAR_ACCOUNT_V2_7702),
    }
}

pub(crate) fn sign_requests_all() -> Vec<SignRequest> {
    vec![
        SignRequest::PersonalSign {
            data: PersonalSignData::Message("hello".into()),
            raw_payload: None,
        },
        SignRequest::PersonalSign {
            data: PersonalSignData::Raw { raw: bytes!("0x1234") },
            raw_payload: Some(B256_ONE),
        },
        SignRequest::TypedData { data: typed_data(), raw_payload: None },
    ]
}

pub(crate) fn sign_capabilities() -> SignCapabilities {
    SignCapabilities {
        permissions: PermissionsCapability::Session {
            session_id: fixed_bytes!("0xcd8b2d07a6fa76f1e8a5eaa8f3a7883c"),
            signature: sig65(),
        },
    }
}

//! `signing/`: digests and signatures sesskey produces with the fixed development keys
//! (`sesskey_signing::dev`). The `sesskey-tests` suite recomputes every one.

use alloy_primitives::{address, Address, U256, U64};
use alloy_signer::SignerSync;
use anyhow::Result;
use serde_json::{json, Value};
use sesskey_account::{
    call_id, encode_calls, encode_install, has_exec_hooks, pack_deferred_signature, CallEncoding,
    DeferredAction, Nonce, SessionInstall,
};
use sesskey_signing::dev::{dev_owner, dev_session_key};
use sesskey_signing::*;
use sesskey_types::*;

const CHAIN_ID: u64 = 0x66eee;
const EXPIRY: u64 = 1_776_657_600;

fn signed(
    name: &str,
    signer: Address,
    request: &SignatureRequest,
    authorization: Option<&AuthorizationTuple>,
    signature: &Signature,
) -> Value {
    json!({
        "name": name,
        "signer": signer,
        "request": request,
        "authorization": authorization.map(|a| json!({"chainId": format!("{:#x}", a.chain_id), "address": a.address, "nonce": format!("{:#x}", a.nonce)})),
        "signature": signature,
    })
}

fn session_permissions() -> Vec<Permission> {
    vec![
        Permission::NativeTokenTransfer(NativeTokenTransfer {
            allowance: U256::from(10u128.pow(17)),
        }),
        Permission::Erc20TokenTransfer(Erc20TokenTransfer {
            address: address!("0x036CbD53842c5426634e7929541eC2318f3dCF7e"),
            allowance: U256::from(5_000_000),
        }),
        Permission::GasLimit(GasLimit { limit: U256::from(10u128.pow(16)) }),
        Permission::ContractAccess(ContractAccess {
            address: address!("0x4200000000000000000000000000000000000006"),
        }),
        Permission::FunctionsOnContract(FunctionsOnContract {
            address: address!("0x1111111111111111111111111111111111111111"),
            functions: vec![[0xd0, 0xe3, 0x0d, 0xb0].into()],
        }),
        Permission::FunctionsOnAllContracts(Functions {
            functions: vec![[0x09, 0x5e, 0xa7, 0xb3].into()],
        }),
        Permission::AccountFunctions(Functions {
            functions: vec![[0x12, 0x34, 0x56, 0x78].into()],
        }),
    ]
}

/// Every signing fixture, by file name.
pub(crate) fn produce() -> Result<Vec<(String, Value)>> {
    let owner = dev_owner();
    let session_key = dev_session_key();
    let account = owner.address();
    let mut out = Vec::new();

    for (name, data) in [
        ("personal-sign-message", PersonalSignData::Message("sesskey: hello".into())),
        ("personal-sign-raw", PersonalSignData::Raw { raw: vec![0xde, 0xad, 0xbe, 0xef].into() }),
    ] {
        let request =
            SignatureRequest::PersonalSign { raw_payload: personal_sign_digest(&data), data };
        let sig = sign_request_sync(&owner, &request, None)?;
        out.push((name.to_string(), signed(name, owner.address(), &request, None, &sig)));
    }

    for (name, entity, permissions) in [
        ("deferred-action-root", 1u32, vec![Permission::Root]),
        ("deferred-action-seven-types", 2u32, session_permissions()),
    ] {
        let root = permissions.contains(&Permission::Root);
        let install = SessionInstall {
            session_key: session_key.address(),
            entity_id: entity,
            expiry: EXPIRY,
            permissions,
        };
        let nonce =
            Nonce { entity_id: entity, global: root, deferred_action: true, ..Default::default() };
        let action = DeferredAction {
            chain_id: CHAIN_ID,
            account,
            nonce: nonce.encode(),
            deadline: EXPIRY,
            call: encode_install(account, &install)?,
        };
        let request =
            SignatureRequest::TypedData { data: action.typed_data(), raw_payload: action.digest() };
        let sig = sign_request_sync(&owner, &request, None)?;
        let mut v = signed(name, owner.address(), &request, None, &sig);
        v["session"] = json!({
            "account": account, "chainId": format!("{CHAIN_ID:#x}"), "entityId": entity, "expirySec": EXPIRY,
            "key": {"publicKey": session_key.address(), "type": "secp256k1"}, "permissions": install.permissions,
        });
        out.push((name.to_string(), v));
    }

    let tuple = AuthorizationTuple {
        chain_id: U256::from(CHAIN_ID),
        address: MODULAR_ACCOUNT_V2_7702,
        nonce: 0,
    };
    let request = SignatureRequest::Eip7702Auth { raw_payload: eip7702_digest(&tuple) };
    let sig = sign_request_sync(&owner, &request, Some(&tuple))?;
    out.push((
        "eip7702-authorization".into(),
        signed("eip7702-authorization", owner.address(), &request, Some(&tuple), &sig),
    ));

    // The first op of the seven-type session: executeUserOp-prefixed call data, the deferred
    // action in its signature.
    let permissions = session_permissions();
    let install = SessionInstall {
        session_key: session_key.address(),
        entity_id: 2,
        expiry: EXPIRY,
        permissions: permissions.clone(),
    };
    let nonce =
        Nonce { entity_id: 2, global: false, deferred_action: true, ..Default::default() }.encode();
    let action = DeferredAction {
        chain_id: CHAIN_ID,
        account,
        nonce,
        deadline: EXPIRY,
        call: encode_install(account, &install)?,
    };
    let calls = [Call {
        to: address!("0x4200000000000000000000000000000000000006"),
        data: None,
        value: Some(U256::from(10u64.pow(15))),
    }];
    let op = UserOperationV07 {
        sender: account,
        nonce,
        call_data: encode_calls(account, &calls, CallEncoding::Batch, has_exec_hooks(&permissions)),
        call_gas_limit: alloy_primitives::U128::from(60_000),
        verification_gas_limit: alloy_primitives::U128::from(300_000),
        pre_verification_gas: U256::from(50_000),
        max_fee_per_gas: alloy_primitives::U128::from(2_000_000_000u64),
        max_priority_fee_per_gas: alloy_primitives::U128::from(1_000_000u64),
        ..Default::default()
    };
    let hash = user_op_v07_hash(&op, ENTRY_POINT_V07, CHAIN_ID);
    let prepared = PreparedUserOperationV07 {
        data: op,
        chain_id: U64::from(CHAIN_ID),
        signature_request: Some(SignatureRequest::PersonalSign {
            data: PersonalSignData::Raw { raw: hash.to_vec().into() },
            raw_payload: eip191_digest(hash.as_slice()),
        }),
        fee_payment: None,
        details: None,
    };
    let digest = check_user_op_v07(&prepared, ENTRY_POINT_V07)?;
    let session_sig = session_key.sign_hash_sync(&digest)?.as_bytes();
    let owner_sig = owner.sign_hash_sync(&action.digest())?.as_bytes();
    out.push((
        "user-operation-v070-first-session-op".into(),
        json!({
            "name": "user-operation-v070-first-session-op",
            "signer": session_key.address(),
            "owner": owner.address(),
            "prepared": prepared,
            "callId": call_id(CHAIN_ID, hash),
            "signature": Signature::secp256k1(session_sig),
            "ownerSignature": Signature::secp256k1(owner_sig),
            "deferredAction": action.typed_data(),
            "packedSignature": pack_deferred_signature(&action, &owner_sig, &session_sig),
        }),
    ));
    Ok(out)
}

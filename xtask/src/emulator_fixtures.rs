//! `emulator/`: a transcript of the seed flow against the emulator in deterministic mode: every
//! request and answer, as JSON-RPC pairs. Fixed clock, seeded ids, fixed dev keys and RFC 6979
//! signatures make it byte for byte reproducible.

use alloy_primitives::{Address, U64};
use anyhow::{anyhow, Result};
use serde::Serialize;
use serde_json::{json, Value};
use sesskey_emulator::{Config, Emulator};
use sesskey_signing::dev::{dev_owner, dev_session_key};
use sesskey_signing::*;
use sesskey_types::*;

const CHAIN: u64 = 31337;
const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";
const START: u64 = 1_767_225_600;

struct Transcript(Vec<Value>);

impl Transcript {
    fn record<P: Serialize, R: Serialize>(&mut self, method: &str, params: &P, result: &R) {
        let n = self.0.len();
        self.0.push(json!({
            "request": {"jsonrpc": "2.0", "id": n, "method": method, "params": [params]},
            "response": {"jsonrpc": "2.0", "id": n, "result": result},
        }));
    }
}

fn wallet<T>(r: Result<T, sesskey_rpc::WalletError>) -> Result<T> {
    r.map_err(|e| anyhow!("emulator refused: {e}"))
}

/// The seed flow, step by step.
pub(crate) fn seed_flow() -> Result<Value> {
    let emulator = Emulator::new(Config {
        chain_ids: vec![CHAIN],
        policy_ids: vec![POLICY.into()],
        settle_after_ms: 0,
        deterministic_start: Some(START),
        cors: false,
        ..Default::default()
    });
    let owner = dev_owner();
    let key = dev_session_key();
    let account = owner.address();
    let mut t = Transcript(vec![]);
    let sponsored = || PrepareCallsCapabilities {
        paymaster_service: Some(PaymasterService {
            policy: PolicySelector::One { policy_id: POLICY.into() },
            only_estimation: None,
            erc20: None,
            webhook_data: None,
        }),
        ..Default::default()
    };

    let p = RequestAccountParams::BySigner {
        signer_address: account,
        id: None,
        creation_hint: Some(CreationHint {
            account_type: Some("7702".into()),
            ..Default::default()
        }),
        include_counterfactual_info: None,
    };
    let r = wallet(emulator.request_account(p.clone()))?;
    t.record("wallet_requestAccount", &p, &r);

    // 1. Delegate: an empty call from the owner.
    let p = PrepareCallsParams {
        calls: Some(vec![Call {
            to: Address::ZERO,
            data: Some(Default::default()),
            value: Some(Default::default()),
        }]),
        from: account,
        chain_id: U64::from(CHAIN),
        capabilities: Some(sponsored()),
        paymaster_permit_signature: None,
    };
    let prepared = wallet(emulator.prepare_calls(p.clone()))?;
    t.record("wallet_prepareCalls", &p, &prepared);
    let PreparedCalls::Array(array) = prepared else { return Err(anyhow!("expected an array")) };
    let mut signed = vec![];
    for e in array.data {
        match e {
            PreparedElement::Authorization(a) => {
                let digest = check_authorization(&a)?;
                let signature =
                    to_wire(&alloy_signer::SignerSync::sign_hash_sync(&owner, &digest)?);
                signed.push(SignedElement::Authorization(SignedAuthorization {
                    data: a.data,
                    chain_id: a.chain_id,
                    signature,
                }));
            }
            PreparedElement::UserOperationV070(op) => {
                let digest = check_user_op_v07(&op, ENTRY_POINT_V07)?;
                let signature =
                    to_wire(&alloy_signer::SignerSync::sign_hash_sync(&owner, &digest)?);
                signed.push(SignedElement::UserOperationV070(SignedUserOperationV07 {
                    data: op.data,
                    chain_id: op.chain_id,
                    signature,
                }));
            }
            PreparedElement::UserOperationV060(_) => return Err(anyhow!("unexpected v0.6 op")),
        }
    }
    let p = SendPreparedCallsParams {
        calls: SignedCalls::Array(SignedArray { data: signed }),
        capabilities: None,
        call_id: None,
    };
    let sent = wallet(emulator.send_prepared_calls(p.clone()))?;
    t.record("wallet_sendPreparedCalls", &p, &sent);
    let status = wallet(emulator.get_calls_status(CallId(sent.id.clone())))?;
    t.record("wallet_getCallsStatus", &CallId(sent.id), &status);

    // 2–3. A root session, authorized by the owner.
    let p = CreateSessionParams {
        account,
        chain_id: U64::from(CHAIN),
        expiry_sec: Some(START + 86_400),
        key: SessionKey { public_key: key.address(), ty: KeyType::Secp256k1 },
        permissions: vec![Permission::Root],
    };
    let created = wallet(emulator.create_session(p.clone()))?;
    t.record("wallet_createSession", &p, &created);
    let owner_sig = sign_request_sync(&owner, &created.signature_request, None)?;
    let SignatureData::Hex(sig) = owner_sig.data else { return Err(anyhow!("hex signature")) };
    let permissions =
        PermissionsCapability::Session { session_id: created.session_id, signature: sig };

    // 4–6. Prepare with the session, sign with the session key, send, status.
    let p = PrepareCallsParams {
        calls: Some(vec![Call { to: Address::ZERO, data: None, value: None }]),
        from: account,
        chain_id: U64::from(CHAIN),
        capabilities: Some(PrepareCallsCapabilities {
            permissions: Some(permissions.clone()),
            ..sponsored()
        }),
        paymaster_permit_signature: None,
    };
    let prepared = wallet(emulator.prepare_calls(p.clone()))?;
    t.record("wallet_prepareCalls", &p, &prepared);
    let PreparedCalls::UserOperationV070(op) = prepared else {
        return Err(anyhow!("expected one op"));
    };
    let digest = check_user_op_v07(&op, ENTRY_POINT_V07)?;
    let signature = to_wire(&alloy_signer::SignerSync::sign_hash_sync(&key, &digest)?);
    let p = SendPreparedCallsParams {
        calls: SignedCalls::UserOperationV070(SignedUserOperationV07 {
            data: op.data,
            chain_id: op.chain_id,
            signature,
        }),
        capabilities: Some(SendPreparedCallsCapabilities {
            permissions: Some(permissions),
            paymaster_service: None,
        }),
        call_id: None,
    };
    let sent = wallet(emulator.send_prepared_calls(p.clone()))?;
    t.record("wallet_sendPreparedCalls", &p, &sent);
    let status = wallet(emulator.get_calls_status(CallId(sent.id.clone())))?;
    t.record("wallet_getCallsStatus", &CallId(sent.id.clone()), &status);
    let packed = wallet(emulator.packed_signature(&CallId(sent.id)))?;
    Ok(json!({
        "about": "the seed flow against `Emulator` in deterministic mode (start 2026-01-01T00:00:00Z), dev keys 0 (owner) and 1 (session key)",
        "calls": t.0,
        "finalUserOpSignature": packed,
    }))
}

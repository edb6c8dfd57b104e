//! `sesskey explain <file|->`: decodes a prepared call or a createSession answer, recomputes its
//! digest and says whether `rawPayload` matches: what a careful user runs before signing by hand.

use anyhow::{anyhow, Context};
use serde_json::{json, Value};
use sesskey_account::{decode_calls, decode_install, DeferredAction, Nonce};
use sesskey_signing::{
    check_authorization, check_user_op_v07, eip191_digest, request_digest, user_op_v07_hash,
    ENTRY_POINT_V07,
};
use sesskey_types::*;
use std::io::Read;

fn nonce_json(n: alloy_primitives::U256) -> Value {
    let d = Nonce::decode(n);
    json!({
        "nonce": format!("{n:#x}"),
        "parallelKey": format!("{:#x}", d.parallel_key),
        "entityId": d.entity_id,
        "global": d.global,
        "deferredAction": d.deferred_action,
        "directCall": d.direct_call,
        "sequence": d.seq,
    })
}

fn verdict<E: std::fmt::Display>(r: Result<alloy_primitives::B256, E>) -> Value {
    match r {
        Ok(d) => json!({"rawPayloadMatches": true, "digest": d}),
        Err(e) => json!({"rawPayloadMatches": false, "problem": e.to_string()}),
    }
}

fn user_op(op: &PreparedUserOperationV07) -> Value {
    let d = &op.data;
    let chain: u64 = op.chain_id.to();
    let hash = user_op_v07_hash(d, ENTRY_POINT_V07, chain);
    let calls = match decode_calls(d.sender, &d.call_data) {
        Ok(c) => json!({"executeUserOp": c.execute_user_op, "calls": c.calls}),
        Err(e) => json!({"undecodable": e.to_string()}),
    };
    json!({
        "type": "user-operation-v070",
        "chainId": op.chain_id,
        "sender": d.sender,
        "nonce": nonce_json(d.nonce),
        "callData": calls,
        "gas": {
            "callGasLimit": d.call_gas_limit, "verificationGasLimit": d.verification_gas_limit,
            "preVerificationGas": d.pre_verification_gas, "maxFeePerGas": d.max_fee_per_gas,
            "maxPriorityFeePerGas": d.max_priority_fee_per_gas,
        },
        "paymaster": d.paymaster,
        "userOpHash": hash,
        "personalSignDigest": eip191_digest(hash.as_slice()),
        "check": verdict(check_user_op_v07(op, ENTRY_POINT_V07)),
    })
}

fn authorization(a: &PreparedAuthorization) -> Value {
    json!({
        "type": "authorization",
        "chainId": a.chain_id,
        "delegateTo": a.data.address,
        "eoaNonce": a.data.nonce,
        "check": verdict(check_authorization(a)),
    })
}

/// Explains a JSON document; answers the explanation and whether every digest matched.
pub fn explain_value(doc: Value) -> anyhow::Result<(Value, bool)> {
    let doc = match doc.get("result") {
        Some(r) if doc.get("jsonrpc").is_some() => r.clone(),
        _ => doc,
    };
    let out = if doc.get("sessionId").is_some() {
        let r: CreateSessionResult = from_json_value(doc).context("a createSession answer")?;
        let SignatureRequest::TypedData { data, raw_payload } = &r.signature_request else {
            return Err(anyhow!("the createSession answer does not ask for eth_signTypedData_v4"));
        };
        let action = DeferredAction::from_typed_data(data)?;
        let install = decode_install(&action.call)?;
        let recomputed = request_digest(&r.signature_request, None)?;
        json!({
            "type": "createSession",
            "sessionId": r.session_id,
            "domain": {"chainId": action.chain_id, "verifyingContract": action.account},
            "deadline": action.deadline,
            "nonce": nonce_json(action.nonce),
            "installs": {"sessionKey": install.session_key, "entityId": install.entity_id, "expiry": install.expiry, "permissions": install.permissions},
            "check": if recomputed == *raw_payload { json!({"rawPayloadMatches": true, "digest": recomputed}) } else { json!({"rawPayloadMatches": false, "problem": format!("rawPayload {raw_payload} but the typed data hashes to {recomputed}")}) },
        })
    } else {
        let prepared: PreparedCalls = from_json_value(doc).context("a prepareCalls answer")?;
        match &prepared {
            PreparedCalls::UserOperationV070(op) => user_op(op),
            PreparedCalls::Authorization(a) => authorization(a),
            PreparedCalls::Array(arr) => json!({
                "type": "array",
                "elements": arr.data.iter().map(|e| match e {
                    PreparedElement::UserOperationV070(op) => user_op(op),
                    PreparedElement::Authorization(a) => authorization(a),
                    PreparedElement::UserOperationV060(_) => json!({"type": "user-operation-v060", "note": "not explained (legacy accounts)"}),
                }).collect::<Vec<_>>(),
            }),
            other => {
                json!({"type": format!("{other:?}").split('(').next().unwrap_or_default(), "note": "not explained"})
            }
        }
    };
    let ok = all_match(&out);
    Ok((out, ok))
}

fn all_match(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            m.get("rawPayloadMatches").is_none_or(|b| b == true) && m.values().all(all_match)
        }
        Value::Array(a) => a.iter().all(all_match),
        _ => true,
    }
}

/// Runs `sesskey explain`.
pub(crate) fn explain(source: &str, json_out: bool) -> anyhow::Result<u8> {
    let text = if source == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(source).with_context(|| format!("reading {source}"))?
    };
    let doc: Value = serde_json::from_str(&text).context("the input is not JSON")?;
    let (out, ok) = explain_value(doc)?;
    if json_out {
        outln!("{}", serde_json::to_string(&out)?)?;
    } else {
        outln!("{}", serde_json::to_string_pretty(&out)?)?;
        outln!()?;
        outln!(
            "{}",
            if ok { "Every digest matches its rawPayload." } else { "MISMATCH: do not sign this." }
        )?;
    }
    Ok(if ok { 0 } else { 1 })
}

/// Runs `sesskey explain --sig SIG SOURCE`: decodes call data with a function signature.
pub(crate) fn explain_call_data(source: &str, sig: &str, json_out: bool) -> anyhow::Result<u8> {
    let text = if source.starts_with("0x") {
        source.to_string()
    } else if source == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(source).with_context(|| format!("reading {source}"))?
    };
    let data = alloy_primitives::hex::decode(text.trim())
        .with_context(|| format!("`{}` is not hex call data", text.trim()))?;
    let sig = crate::calls::Signature::parse(sig).map_err(|e| anyhow!(e))?;
    let args = sig.decode(&data).map_err(|e| anyhow!(e))?;
    if json_out {
        outln!("{}", json!({ "function": sig.canonical(), "args": args }))?;
    } else {
        outln!("{}", sig.canonical())?;
        for a in args {
            outln!("{a}")?;
        }
    }
    Ok(0)
}

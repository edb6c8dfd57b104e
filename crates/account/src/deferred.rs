//! The session authorization the owner signs: a `DeferredAction` (spec §4.1).

use crate::{Error, Result};
use alloy_primitives::{hex, Address, Bytes, B256, U256};
use serde_json::json;
use sesskey_types::{from_json_value, TypedDataJson};

/// A `DeferredAction(uint256 nonce,uint48 deadline,bytes call)` for an account on a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredAction {
    /// The chain.
    pub chain_id: u64,
    /// The account, the domain's `verifyingContract` (for EIP-7702, the owner's EOA).
    pub account: Address,
    /// The full nonce of the user operation that will carry the action.
    pub nonce: U256,
    /// Unix seconds after which the action is void; 0 = none.
    pub deadline: u64,
    /// The call the account runs (an `installValidation` call).
    pub call: Bytes,
}

impl DeferredAction {
    /// The typed data as Alchemy's server sends it: domain `{chainId, verifyingContract}` with
    /// `chainId` a number, no `EIP712Domain` in `types`, `nonce` a hex string, `deadline` a number.
    pub fn typed_data(&self) -> TypedDataJson {
        from_json_value(json!({
            "domain": {"chainId": self.chain_id, "verifyingContract": self.account},
            "types": {"DeferredAction": [
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint48"},
                {"name": "call", "type": "bytes"}
            ]},
            "primaryType": "DeferredAction",
            "message": {
                "nonce": format!("{:#x}", self.nonce),
                "deadline": self.deadline,
                "call": hex::encode_prefixed(&self.call),
            }
        }))
        .expect("the DeferredAction typed data is well formed")
    }

    /// The EIP-712 digest the owner signs (with no further prefix).
    pub fn digest(&self) -> B256 {
        sesskey_signing::typed_data_digest(&self.typed_data())
            .expect("the DeferredAction typed data hashes")
    }

    /// Reads a `DeferredAction` back from typed data, refusing any other shape: extra domain
    /// fields, other types, a missing or malformed field.
    pub fn from_typed_data(typed: &TypedDataJson) -> Result<Self> {
        let bad = |reason: &str| Error::decode("DeferredAction typed data", reason);
        if typed.primary_type != "DeferredAction" {
            return Err(bad("primaryType is not DeferredAction"));
        }
        let expected = [("nonce", "uint256"), ("deadline", "uint48"), ("call", "bytes")];
        let fields =
            typed.types.get("DeferredAction").ok_or_else(|| bad("no DeferredAction type"))?;
        if fields.len() != 3
            || fields.iter().zip(expected).any(|(f, (n, t))| f.name != n || f.ty != t)
        {
            return Err(bad("DeferredAction is not (uint256 nonce,uint48 deadline,bytes call)"));
        }
        if typed.types.keys().any(|k| k != "DeferredAction" && k != "EIP712Domain") {
            return Err(bad("unexpected extra types"));
        }
        // A declared domain type must be exactly the two fields the domain holds: anything else
        // hashes differently from the action (or not at all) in the signer's wallet.
        if let Some(domain_type) = typed.types.get("EIP712Domain") {
            let expected = [("chainId", "uint256"), ("verifyingContract", "address")];
            if domain_type.len() != 2
                || domain_type.iter().zip(expected).any(|(f, (n, t))| f.name != n || f.ty != t)
            {
                return Err(bad("EIP712Domain is not (uint256 chainId,address verifyingContract)"));
            }
        }
        let domain = typed.domain.as_ref().ok_or_else(|| bad("no domain"))?;
        if domain.name.is_some() || domain.version.is_some() || domain.salt.is_some() {
            return Err(bad("the domain has fields other than chainId and verifyingContract"));
        }
        let chain_id = domain.chain_id.ok_or_else(|| bad("no domain.chainId"))?;
        let account =
            domain.verifying_contract.ok_or_else(|| bad("no domain.verifyingContract"))?;
        let m = &typed.message;
        let nonce: U256 = match &m.get("nonce") {
            Some(serde_json::Value::String(s)) => {
                s.parse().map_err(|_| bad("message.nonce is not a number"))?
            }
            Some(serde_json::Value::Number(n)) => {
                U256::from(n.as_u64().ok_or_else(|| bad("message.nonce"))?)
            }
            _ => return Err(bad("no message.nonce")),
        };
        let deadline = match &m.get("deadline") {
            Some(serde_json::Value::Number(n)) => {
                n.as_u64().ok_or_else(|| bad("message.deadline"))?
            }
            Some(serde_json::Value::String(s)) => {
                let v: U256 = s.parse().map_err(|_| bad("message.deadline"))?;
                v.try_into().map_err(|_| bad("message.deadline is above uint48"))?
            }
            _ => return Err(bad("no message.deadline")),
        };
        if deadline >= 1 << 48 {
            return Err(bad("message.deadline is above uint48"));
        }
        let call = match &m.get("call") {
            Some(serde_json::Value::String(s)) if s.starts_with("0x") => {
                hex::decode(s).map_err(|_| bad("message.call is not hex"))?.into()
            }
            _ => return Err(bad("no message.call")),
        };
        if m.len() != 3 {
            return Err(bad("message has extra fields"));
        }
        Ok(Self { chain_id, account, nonce, deadline, call })
    }

    /// `E` of spec §5.3: `uint168 innerValidationLocator(owner entity 0, global) ‖ uint48
    /// deadline ‖ call`.
    pub fn encoded_action(&self) -> Vec<u8> {
        let mut e = Vec::with_capacity(27 + self.call.len());
        e.extend_from_slice(&[0u8; 20]);
        e.push(0x01);
        e.extend_from_slice(&self.deadline.to_be_bytes()[2..]);
        e.extend_from_slice(&self.call);
        e
    }

    /// The SDK's local-mode blob (the `0x01` permissions context payload):
    /// `hasExecHooks(1) ‖ nonce(32) ‖ uint32 len(E) ‖ E ‖ uint32 len(S) ‖ S`, where
    /// `S = 0x00 ‖ ownerSignature`.
    pub fn blob(&self, has_exec_hooks: bool, owner_signature: &[u8; 65]) -> Bytes {
        let mut out = vec![has_exec_hooks as u8];
        out.extend_from_slice(&self.nonce.to_be_bytes::<32>());
        out.extend_from_slice(&crate::signature::deferred_prefix(self, owner_signature));
        out.into()
    }
}

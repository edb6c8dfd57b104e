//! `wallet_sendPreparedCalls`: the signed calls and the call id answered.

use crate::capabilities::SendPreparedCallsCapabilities;
use crate::hex::{wire, wire_opt, wire_seq};
use crate::prepare_calls::{AuthorizationData, CallDetails};
use crate::signature::Signature;
use crate::user_op::{UserOperationV06, UserOperationV07};
use alloy_primitives::{Bytes, U64};
use serde::{Deserialize, Serialize};

/// Params of `wallet_sendPreparedCalls`: a signed call plus `capabilities` and `callId`.
///
/// Extra keys an older client echoes (`feePayment`, `details`, `signatureRequest`) are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendPreparedCallsParams {
    /// The signed call(s).
    #[serde(flatten)]
    pub calls: SignedCalls,
    /// Capabilities; `permissions` is required again for a session-key op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<SendPreparedCallsCapabilities>,
    /// An optional call id (purpose undocumented upstream).
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<Bytes>,
}

/// A signed call: the prepared object minus `signatureRequest` and `feePayment`, plus
/// `signature`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum SignedCalls {
    /// A signed v0.7 user operation.
    #[serde(rename = "user-operation-v070")]
    UserOperationV070(SignedUserOperationV07),
    /// A signed v0.6 user operation.
    #[serde(rename = "user-operation-v060")]
    UserOperationV060(SignedUserOperationV06),
    /// A signed EIP-7702 authorization.
    #[serde(rename = "authorization")]
    Authorization(SignedAuthorization),
    /// Signed elements, in the prepared order.
    #[serde(rename = "array")]
    Array(SignedArray),
}

/// `type: "array"` of signed elements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedArray {
    /// The elements, in the prepared order.
    pub data: Vec<SignedElement>,
}

/// An element of a signed `array`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum SignedElement {
    /// A signed v0.7 user operation.
    #[serde(rename = "user-operation-v070")]
    UserOperationV070(SignedUserOperationV07),
    /// A signed v0.6 user operation.
    #[serde(rename = "user-operation-v060")]
    UserOperationV060(SignedUserOperationV06),
    /// A signed EIP-7702 authorization.
    #[serde(rename = "authorization")]
    Authorization(SignedAuthorization),
}

/// A signed v0.7 user operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedUserOperationV07 {
    /// The operation exactly as prepared.
    pub data: UserOperationV07,
    /// The chain.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// The signature of the request.
    pub signature: Signature,
}

/// A signed v0.6 user operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedUserOperationV06 {
    /// The operation exactly as prepared.
    pub data: UserOperationV06,
    /// The chain.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// The signature of the request.
    pub signature: Signature,
}

/// A signed EIP-7702 authorization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedAuthorization {
    /// The tuple's address and nonce.
    pub data: AuthorizationData,
    /// The tuple's chain id.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// The EOA's signature of the tuple.
    pub signature: Signature,
}

/// The answer of `wallet_sendPreparedCalls`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendPreparedCallsResult {
    /// The call id for `wallet_getCallsStatus` (opaque; documented as
    /// `uint256(chainId) ‖ userOpHash`).
    #[serde(with = "wire")]
    pub id: Bytes,
    /// Deprecated: the same id, in a list.
    #[serde(with = "wire_seq")]
    pub prepared_call_ids: Vec<Bytes>,
    /// What was sent.
    pub details: CallDetails,
}

crate::tagged::tagged_deserialize!(SignedCalls {
    "user-operation-v070" => UserOperationV070(SignedUserOperationV07),
    "user-operation-v060" => UserOperationV060(SignedUserOperationV06),
    "authorization" => Authorization(SignedAuthorization),
    "array" => Array(SignedArray),
});

crate::tagged::tagged_deserialize!(SignedElement {
    "user-operation-v070" => UserOperationV070(SignedUserOperationV07),
    "user-operation-v060" => UserOperationV060(SignedUserOperationV06),
    "authorization" => Authorization(SignedAuthorization),
});

impl<'de> Deserialize<'de> for SendPreparedCallsParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        use serde_json::Value;
        let Value::Object(mut map) = Value::deserialize(d)? else {
            return Err(D::Error::custom("expected an object"));
        };
        let capabilities = match map.remove("capabilities") {
            None | Some(Value::Null) => None,
            Some(v) => Some(crate::tagged::nested_at(v, "capabilities")?),
        };
        let call_id = match map.remove("callId") {
            None | Some(Value::Null) => None,
            Some(v) => {
                Some(crate::tagged::nested_at::<crate::status::CallId, D::Error>(v, "callId")?.0)
            }
        };
        let calls = crate::tagged::nested(Value::Object(map))?;
        Ok(Self { calls, capabilities, call_id })
    }
}

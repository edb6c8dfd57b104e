//! `wallet_prepareCalls`: params and the prepared-call union it answers.

use crate::call::Call;
use crate::capabilities::PrepareCallsCapabilities;
use crate::hex::{wire, wire_opt};
use crate::signature::{Signature, SignatureRequest};
use crate::typed_data::TypedDataJson;
use crate::user_op::{UserOperationV06, UserOperationV07};
use alloy_primitives::{Address, B256, U256, U64};
use serde::{Deserialize, Serialize};

/// Params of `wallet_prepareCalls` (the single positional object).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareCallsParams {
    /// The calls; may be empty (e.g. to delegate an EIP-7702 account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<Vec<Call>>,
    /// The account (for EIP-7702, the owner's address).
    #[serde(with = "wire")]
    pub from: Address,
    /// The chain.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// Capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<PrepareCallsCapabilities>,
    /// The signed permit, when answering a `paymaster-permit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_permit_signature: Option<Signature>,
}

/// The answer of `wallet_prepareCalls`: a union on `type`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum PreparedCalls {
    /// A v0.7 user operation to sign.
    #[serde(rename = "user-operation-v070")]
    UserOperationV070(PreparedUserOperationV07),
    /// A v0.6 user operation to sign (legacy accounts).
    #[serde(rename = "user-operation-v060")]
    UserOperationV060(PreparedUserOperationV06),
    /// A lone EIP-7702 authorization (sponsored undelegation).
    #[serde(rename = "authorization")]
    Authorization(PreparedAuthorization),
    /// Several prepared calls to sign in order (an undelegated EIP-7702 account).
    #[serde(rename = "array")]
    Array(PreparedArray),
    /// An ERC-20 permit to sign before preparing again.
    #[serde(rename = "paymaster-permit")]
    PaymasterPermit(Box<PaymasterPermit>),
}

/// A prepared v0.7 user operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedUserOperationV07 {
    /// The operation, to echo back unchanged.
    pub data: UserOperationV07,
    /// The chain.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// What to sign; absent with `onlyEstimation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_request: Option<SignatureRequest>,
    /// Who pays for gas (required by the current schema, absent from older servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_payment: Option<FeePayment>,
    /// The hash and calls, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<PreparedDetails>,
}

/// A prepared v0.6 user operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedUserOperationV06 {
    /// The operation, to echo back unchanged.
    pub data: UserOperationV06,
    /// The chain.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// What to sign; absent with `onlyEstimation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_request: Option<SignatureRequest>,
    /// Who pays for gas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_payment: Option<FeePayment>,
    /// The hash and calls, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<PreparedDetails>,
}

/// The EIP-7702 tuple's address and nonce (its chain id is the sibling `chainId`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationData {
    /// The delegation target.
    #[serde(with = "wire")]
    pub address: Address,
    /// The EOA's nonce the authorization is valid for.
    #[serde(with = "wire")]
    pub nonce: U64,
}

/// A prepared EIP-7702 authorization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedAuthorization {
    /// The tuple's address and nonce.
    pub data: AuthorizationData,
    /// The tuple's chain id.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// `{type: "eip7702Auth", rawPayload}`.
    pub signature_request: SignatureRequest,
}

/// `type: "array"`: each element keeps its own `chainId`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreparedArray {
    /// The elements, to sign in order.
    pub data: Vec<PreparedElement>,
    /// The hash and calls, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<PreparedDetails>,
}

/// An element of a prepared `array`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum PreparedElement {
    /// A v0.7 user operation.
    #[serde(rename = "user-operation-v070")]
    UserOperationV070(PreparedUserOperationV07),
    /// A v0.6 user operation.
    #[serde(rename = "user-operation-v060")]
    UserOperationV060(PreparedUserOperationV06),
    /// An EIP-7702 authorization.
    #[serde(rename = "authorization")]
    Authorization(PreparedAuthorization),
}

/// `type: "paymaster-permit"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymasterPermit {
    /// The request to send again, with `paymasterPermitSignature`.
    pub modified_request: PrepareCallsParams,
    /// The ERC-20 permit typed data.
    pub data: TypedDataJson,
    /// `eth_signTypedData_v4` of `data`.
    pub signature_request: SignatureRequest,
    /// The hash and calls, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<PreparedDetails>,
}

/// `feePayment`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeePayment {
    /// Whether a policy sponsors the gas.
    pub sponsored: bool,
    /// The token paying (meaning for native payment undocumented upstream).
    #[serde(with = "wire")]
    pub token_address: Address,
    /// The most that will be charged.
    #[serde(with = "wire")]
    pub max_amount: U256,
}

/// `details` of a prepared call: `{type: "user-operation", data: {hash, calls}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum PreparedDetails {
    /// A user operation's hash and calls.
    #[serde(rename = "user-operation")]
    UserOperation(UserOperationDetails),
}

/// `details.data` of a user operation, in prepared calls, sent calls and call status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationDetails {
    /// The user-operation hash.
    #[serde(with = "wire")]
    pub hash: B256,
    /// The calls (required in prepared calls, optional elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<Vec<Call>>,
    /// The bundle carrying it, while pending (call status only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_bundle: Option<PendingBundle>,
}

/// `details.data.pendingBundle` of a call status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingBundle {
    /// The bundle transaction.
    #[serde(with = "wire")]
    pub tx_hash: B256,
    /// The block it was sent at.
    #[serde(with = "wire")]
    pub sent_at_block: U64,
}

/// `details` of sent calls and call status: a user operation, or a delegation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum CallDetails {
    /// A user operation.
    #[serde(rename = "user-operation")]
    UserOperation {
        /// Hash, calls, pending bundle.
        data: UserOperationDetails,
    },
    /// A lone EIP-7702 (un)delegation.
    #[serde(rename = "delegation", rename_all = "camelCase")]
    Delegation {
        /// The transaction, once known.
        #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
        tx_hash: Option<B256>,
    },
}

crate::tagged::tagged_deserialize!(PreparedCalls {
    "user-operation-v070" => UserOperationV070(PreparedUserOperationV07),
    "user-operation-v060" => UserOperationV060(PreparedUserOperationV06),
    "authorization" => Authorization(PreparedAuthorization),
    "array" => Array(PreparedArray),
    "paymaster-permit" => PaymasterPermit(Box<PaymasterPermit>),
});

crate::tagged::tagged_deserialize!(PreparedElement {
    "user-operation-v070" => UserOperationV070(PreparedUserOperationV07),
    "user-operation-v060" => UserOperationV060(PreparedUserOperationV06),
    "authorization" => Authorization(PreparedAuthorization),
});

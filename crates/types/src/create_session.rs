//! `wallet_createSession`.

use crate::context::SessionId;
use crate::hex::{wire, wire_opt};
use crate::permission::{validate_permissions, Permission};
use crate::signature::{KeyType, SignatureRequest};
use crate::{Error, Result};
use alloy_primitives::{Address, U64};
use serde::{Deserialize, Serialize};

/// The largest `expirySec` the schema allows.
pub const MAX_EXPIRY_SEC: u64 = 9_999_999_999;

/// Params of `wallet_createSession`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionParams {
    /// The account (for EIP-7702, the owner's address).
    #[serde(with = "wire")]
    pub account: Address,
    /// The chain.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// Unix seconds after which the session is void; `0` or absent means no expiry.
    /// A JSON number on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_sec: Option<u64>,
    /// The session key.
    pub key: SessionKey,
    /// What the key may do (at least one entry).
    pub permissions: Vec<Permission>,
}

impl CreateSessionParams {
    /// Checks the expiry range and the permission rules (see [`validate_permissions`]).
    ///
    /// ```
    /// use sesskey_types::{from_json_str, CreateSessionParams};
    ///
    /// let params: CreateSessionParams = from_json_str(r#"{
    ///     "account": "0xafdABa1E09e82F780721963eba39bA9e6d9FE4d2", "chainId": "0x1",
    ///     "expirySec": 1776657600,
    ///     "key": {"publicKey": "0x647bbf38CD0E116d1672405aE17a775572a84e03", "type": "secp256k1"},
    ///     "permissions": [{"type": "gas-limit", "data": {"limit": "0x493e0"}}]
    /// }"#)?;
    /// assert_eq!(
    ///     params.validate().unwrap_err().to_string(),
    ///     "permissions grant no function: add one of functions-on-contract, \
    ///      functions-on-all-contracts, account-functions, contract-access or erc20-token-transfer"
    /// );
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn validate(&self) -> Result<()> {
        if let Some(e) = self.expiry_sec.filter(|e| *e > MAX_EXPIRY_SEC) {
            return Err(Error::ExpiryOutOfRange(e));
        }
        validate_permissions(&self.permissions, self.account)?;
        Ok(())
    }

    /// The expiry as the `DeferredAction` deadline: `0` when none.
    pub fn deadline(&self) -> u64 {
        self.expiry_sec.unwrap_or(0)
    }
}

/// `key` of `wallet_createSession`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionKey {
    /// The key's 20-byte address (not the 64-byte public key).
    #[serde(with = "wire")]
    pub public_key: Address,
    /// The key type.
    #[serde(rename = "type")]
    pub ty: KeyType,
}

/// The answer of `wallet_createSession`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionResult {
    /// The 16-byte session id.
    #[serde(with = "wire")]
    pub session_id: SessionId,
    /// The chain (absent from older servers).
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<U64>,
    /// The owner's `eth_signTypedData_v4` of the session's `DeferredAction`.
    pub signature_request: SignatureRequest,
}

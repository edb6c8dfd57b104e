//! `wallet_prepareSign`, `wallet_formatSign` and `wallet_getCapabilities`.

use crate::context::PermissionsCapability;
use crate::hex::wire;
use crate::signature::{SignRequest, Signature};
use alloy_primitives::{Address, Bytes, U64};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `capabilities` of `wallet_prepareSign` / `wallet_formatSign`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignCapabilities {
    /// The session signing, if not the owner.
    pub permissions: PermissionsCapability,
}

/// Params of `wallet_prepareSign`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareSignParams {
    /// The account.
    #[serde(with = "wire")]
    pub from: Address,
    /// The chain.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// The message to sign.
    pub signature_request: SignRequest,
    /// The session, when a session key signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<SignCapabilities>,
}

/// The answer of `wallet_prepareSign`: what the account's signer must sign (for MAv2, the
/// message wrapped as `ReplaySafeHash` typed data).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareSignResult {
    /// The chain.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// What to sign.
    pub signature_request: SignRequest,
}

/// Params of `wallet_formatSign`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FormatSignParams {
    /// The account.
    #[serde(with = "wire")]
    pub from: Address,
    /// The chain.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// The signer's signature of the prepared request.
    pub signature: Signature,
    /// The session, when a session key signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<SignCapabilities>,
}

/// The answer of `wallet_formatSign`: the ERC-1271 signature the account verifies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatSignResult {
    /// The packed signature.
    #[serde(with = "wire")]
    pub signature: Bytes,
}

/// Params of `wallet_getCapabilities`: `[address]` or `[address, [chainId, ...]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetCapabilitiesParams {
    /// The account.
    pub account: Address,
    /// The chains asked about; all when absent.
    pub chain_ids: Option<Vec<U64>>,
}

#[derive(Serialize, Deserialize)]
struct Addr(#[serde(with = "wire")] Address);

#[derive(Serialize, Deserialize)]
struct Chains(#[serde(with = "crate::hex::wire_seq")] Vec<U64>);

impl Serialize for GetCapabilitiesParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(1 + usize::from(self.chain_ids.is_some())))?;
        seq.serialize_element(&Addr(self.account))?;
        if let Some(ids) = &self.chain_ids {
            seq.serialize_element(&Chains(ids.clone()))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for GetCapabilitiesParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Two(Addr, Chains),
            One((Addr,)),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Two(a, c) => Self { account: a.0, chain_ids: Some(c.0) },
            Raw::One((a,)) => Self { account: a.0, chain_ids: None },
        })
    }
}

/// The answer of `wallet_getCapabilities`: by chain id (hex), capability name → value.
pub type Capabilities = BTreeMap<String, BTreeMap<String, serde_json::Value>>;

//! EIP-712 typed data as `eth_signTypedData_v4` carries it.

use crate::hex::wire_opt;
use alloy_primitives::{Address, B256};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// A JSON typed-data object: `{domain?, types, primaryType, message}`.
///
/// `types` may omit `EIP712Domain` (Alchemy's server does): the digest then derives it from the
/// domain fields present, as viem does. Digests live in `sesskey-signing`; this is data only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedDataJson {
    /// The EIP-712 domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Eip712DomainJson>,
    /// Struct definitions by type name.
    pub types: BTreeMap<String, Vec<TypedDataField>>,
    /// The type of `message`.
    pub primary_type: String,
    /// The message, with JSON values as `eth_signTypedData_v4` takes them.
    pub message: serde_json::Map<String, serde_json::Value>,
}

/// One field of a typed-data struct definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedDataField {
    /// The field name.
    pub name: String,
    /// The Solidity type.
    #[serde(rename = "type")]
    pub ty: String,
}

/// The EIP-712 domain of a typed-data object; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Eip712DomainJson {
    /// `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `chainId`: a JSON number on the wire (a `0x` string is accepted on input).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "chain_id_number"
    )]
    pub chain_id: Option<u64>,
    /// `verifyingContract`.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub verifying_contract: Option<Address>,
    /// `salt`.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<B256>,
}

/// The largest integer a JSON number carries exactly (and the schema's maximum).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

fn chain_id_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    use serde::de::Error;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        N(u64),
        S(String),
    }
    let n = match Option::<Num>::deserialize(d)? {
        None => return Ok(None),
        Some(Num::N(n)) => n,
        Some(Num::S(s)) => {
            let q: alloy_primitives::U64 =
                crate::hex::WireHex::from_wire(&s).map_err(D::Error::custom)?;
            q.to::<u64>()
        }
    };
    if n == 0 || n > MAX_SAFE_INTEGER {
        return Err(D::Error::custom(format!("chain id {n} is outside 1..=2^53-1")));
    }
    Ok(Some(n))
}

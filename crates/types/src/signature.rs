//! Signature requests (server → client) and signature objects (client → server).

use crate::hex::{wire, wire_opt};
use crate::typed_data::TypedDataJson;
use alloy_primitives::{Bytes, B256, U256, U8};
use serde::{Deserialize, Serialize};

/// What the server asks to be signed, with `rawPayload`: the final 32-byte digest, which a
/// raw-digest signer signs with no prefix.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum SignatureRequest {
    /// EIP-191 `personal_sign` of `data`.
    #[serde(rename = "personal_sign")]
    PersonalSign {
        /// A message string, or `{raw}` bytes.
        data: PersonalSignData,
        /// EIP-191 digest of `data`.
        #[serde(with = "wire")]
        raw_payload: B256,
    },
    /// EIP-712 `eth_signTypedData_v4` of `data`.
    #[serde(rename = "eth_signTypedData_v4")]
    TypedData {
        /// The typed data.
        data: TypedDataJson,
        /// EIP-712 digest of `data`.
        #[serde(with = "wire")]
        raw_payload: B256,
    },
    /// An EIP-7702 authorization; the tuple is the sibling `data` plus the call's `chainId`.
    #[serde(rename = "eip7702Auth")]
    Eip7702Auth {
        /// `keccak256(0x05 ‖ rlp([chainId, address, nonce]))`.
        #[serde(with = "wire")]
        raw_payload: B256,
    },
}

impl<'de> Deserialize<'de> for SignatureRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::tagged::nested;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Personal {
            data: PersonalSignData,
            #[serde(with = "wire")]
            raw_payload: B256,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Typed {
            data: TypedDataJson,
            #[serde(with = "wire")]
            raw_payload: B256,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Auth {
            #[serde(with = "wire")]
            raw_payload: B256,
        }
        let value = serde_json::Value::deserialize(d)?;
        let (tag, map) = crate::tagged::split_tag::<D::Error>(value, "type")?;
        let value = serde_json::Value::Object(map);
        Ok(match tag.as_str() {
            "personal_sign" => {
                let p: Personal = nested(value)?;
                Self::PersonalSign { data: p.data, raw_payload: p.raw_payload }
            }
            "eth_signTypedData_v4" => {
                let t: Typed = nested(value)?;
                Self::TypedData { data: t.data, raw_payload: t.raw_payload }
            }
            "eip7702Auth" => {
                Self::Eip7702Auth { raw_payload: nested::<Auth, D::Error>(value)?.raw_payload }
            }
            other => {
                return Err(serde::de::Error::unknown_variant(
                    other,
                    &["personal_sign", "eth_signTypedData_v4", "eip7702Auth"],
                ))
            }
        })
    }
}

impl SignatureRequest {
    /// The `rawPayload` digest the server claims.
    pub const fn raw_payload(&self) -> B256 {
        match self {
            Self::PersonalSign { raw_payload, .. }
            | Self::TypedData { raw_payload, .. }
            | Self::Eip7702Auth { raw_payload } => *raw_payload,
        }
    }
}

/// `data` of a `personal_sign` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PersonalSignData {
    /// `{raw: hex}`: sign these bytes.
    Raw {
        /// The bytes (a user-operation hash, for instance).
        #[serde(with = "wire")]
        raw: Bytes,
    },
    /// A UTF-8 message (at least one character).
    Message(String),
}

impl PersonalSignData {
    /// The bytes EIP-191 prefixes and hashes.
    pub fn message_bytes(&self) -> &[u8] {
        match self {
            Self::Raw { raw } => raw,
            Self::Message(m) => m.as_bytes(),
        }
    }
}

/// A request to `wallet_prepareSign`, and its answer: a message to turn into what the account
/// signs. `rawPayload` is optional here (Alchemy's schema does not list it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum SignRequest {
    /// EIP-191 `personal_sign`.
    #[serde(rename = "personal_sign")]
    PersonalSign {
        /// A message string, or `{raw}` bytes.
        data: PersonalSignData,
        /// The digest, when the server gives it.
        #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
        raw_payload: Option<B256>,
    },
    /// EIP-712 `eth_signTypedData_v4`.
    #[serde(rename = "eth_signTypedData_v4")]
    TypedData {
        /// The typed data.
        data: TypedDataJson,
        /// The digest, when the server gives it.
        #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
        raw_payload: Option<B256>,
    },
}

/// The key type of a signature object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureType {
    /// `secp256k1` (what the SDK always sends).
    #[default]
    Secp256k1,
    /// `ecdsa`, an alias.
    Ecdsa,
}

/// A signature sent to the server: `{type, data}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The key type.
    #[serde(rename = "type")]
    pub ty: SignatureType,
    /// The signature.
    pub data: SignatureData,
}

impl Signature {
    /// A `secp256k1` signature from 65 bytes `r ‖ s ‖ v`.
    pub fn secp256k1(bytes: [u8; 65]) -> Self {
        Self { ty: SignatureType::Secp256k1, data: SignatureData::Hex(Bytes::from(bytes.to_vec())) }
    }
}

/// The signature itself, in any of its three wire forms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SignatureData {
    /// 65-byte hex `r ‖ s ‖ v` (the SDK sends v = 27/28).
    Hex(#[serde(with = "wire")] Bytes),
    /// `{r, s, yParity}`.
    #[serde(rename_all = "camelCase")]
    RsYParity {
        /// r.
        #[serde(with = "wire")]
        r: U256,
        /// s.
        #[serde(with = "wire")]
        s: U256,
        /// y parity, 0 or 1.
        #[serde(with = "wire")]
        y_parity: U8,
    },
    /// `{r, s, v}`.
    RsV {
        /// r.
        #[serde(with = "wire")]
        r: U256,
        /// s.
        #[serde(with = "wire")]
        s: U256,
        /// v: 27/28 (or 0/1).
        #[serde(with = "wire")]
        v: U8,
    },
}

/// The type of a session key in `wallet_createSession.key`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// A secp256k1 key, given by its address.
    #[default]
    Secp256k1,
    /// Alias of `secp256k1`.
    Ecdsa,
    /// An ERC-1271 contract key.
    Contract,
}

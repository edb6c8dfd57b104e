//! Gas paid in an ERC-20 token: the EIP-2612 permit a Wallet API server asks the owner to sign
//! (`type: "paymaster-permit"`), and the `approve` call it may add to an op
//! (`postOpSettings.autoApprove`). One model, built by the emulator and checked by the client
//! before anything is signed.

use crate::abi::approveCall;
use crate::error::{Error, Result};
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_sol_types::{sol, Eip712Domain, SolCall, SolStruct};
use serde_json::json;
use sesskey_types::{Eip712DomainJson, TypedDataField, TypedDataJson};
use std::borrow::Cow;

sol! {
    /// EIP-2612's signed approval.
    struct Permit {
        address owner;
        address spender;
        uint256 value;
        uint256 nonce;
        uint256 deadline;
    }
}

/// An EIP-2612 permit of `token`: `owner` lets `spender` take up to `value` until `deadline`
/// (unix seconds), with the token's current `nonce` for `owner`; signed under the token's EIP-712
/// domain (`name`, `version`, chain, token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPermit {
    /// The token (the domain's `verifyingContract`).
    pub token: Address,
    /// The token's EIP-712 name.
    pub name: String,
    /// The token's EIP-712 version ("1" for most tokens, "2" for USDC).
    pub version: String,
    /// The chain.
    pub chain_id: u64,
    /// Whose tokens.
    pub owner: Address,
    /// Who may take them (the paymaster).
    pub spender: Address,
    /// How many, in the token's base units.
    pub value: U256,
    /// The owner's permit nonce at the token.
    pub nonce: U256,
    /// Unix seconds.
    pub deadline: U256,
}

/// The field list of `Permit` as EIP-2612 defines it.
const FIELDS: [(&str, &str); 5] = [
    ("owner", "address"),
    ("spender", "address"),
    ("value", "uint256"),
    ("nonce", "uint256"),
    ("deadline", "uint256"),
];

impl TokenPermit {
    fn domain(&self) -> Eip712Domain {
        Eip712Domain {
            name: Some(Cow::Owned(self.name.clone())),
            version: Some(Cow::Owned(self.version.clone())),
            chain_id: Some(U256::from(self.chain_id)),
            verifying_contract: Some(self.token),
            salt: None,
        }
    }

    /// The token's `DOMAIN_SEPARATOR()` for this name and version.
    pub fn domain_separator(&self) -> B256 {
        self.domain().separator()
    }

    /// The EIP-712 digest the owner signs and the token's `permit` recovers.
    pub fn digest(&self) -> B256 {
        let message = Permit {
            owner: self.owner,
            spender: self.spender,
            value: self.value,
            nonce: self.nonce,
            deadline: self.deadline,
        };
        message.eip712_signing_hash(&self.domain())
    }

    /// The permit as `eth_signTypedData_v4` data (domain, `Permit` type, message).
    pub fn typed_data(&self) -> TypedDataJson {
        let mut types = std::collections::BTreeMap::new();
        types.insert(
            "Permit".to_string(),
            FIELDS
                .iter()
                .map(|(name, ty)| TypedDataField { name: (*name).into(), ty: (*ty).into() })
                .collect(),
        );
        let message = json!({
            "owner": self.owner,
            "spender": self.spender,
            "value": self.value.to_string(),
            "nonce": self.nonce.to_string(),
            "deadline": self.deadline.to_string(),
        });
        TypedDataJson {
            domain: Some(Eip712DomainJson {
                name: Some(self.name.clone()),
                version: Some(self.version.clone()),
                chain_id: Some(self.chain_id),
                verifying_contract: Some(self.token),
                salt: None,
            }),
            types,
            primary_type: "Permit".into(),
            message: match message {
                serde_json::Value::Object(m) => m,
                _ => unreachable!("a JSON object literal"),
            },
        }
    }

    /// Reads a permit from typed data, strictly: primary type `Permit` with exactly EIP-2612's
    /// fields, a domain with name, version, chain id and token and nothing else.
    pub fn from_typed_data(t: &TypedDataJson) -> Result<Self> {
        let bad = |reason: String| Error::decode("permit typed data", reason);
        if t.primary_type != "Permit" {
            return Err(bad(format!("primaryType is {:?}, not \"Permit\"", t.primary_type)));
        }
        let fields: Vec<(&str, &str)> = t
            .types
            .get("Permit")
            .map(|f| f.iter().map(|f| (f.name.as_str(), f.ty.as_str())).collect())
            .unwrap_or_default();
        if fields != FIELDS || t.types.keys().any(|k| k != "Permit" && k != "EIP712Domain") {
            return Err(bad("types are not exactly EIP-2612's Permit".into()));
        }
        let d = t.domain.as_ref().ok_or_else(|| bad("no domain".into()))?;
        let (Some(name), Some(version), Some(chain_id), Some(token), None) =
            (&d.name, &d.version, d.chain_id, d.verifying_contract, d.salt)
        else {
            return Err(bad(
                "the domain must hold name, version, chainId and verifyingContract, and no salt"
                    .into(),
            ));
        };
        if t.message.len() != FIELDS.len() {
            return Err(bad("the message must hold exactly the Permit fields".into()));
        }
        let field = |name: &str| -> Result<&serde_json::Value> {
            t.message.get(name).ok_or_else(|| bad(format!("message.{name} is missing")))
        };
        let address = |name: &str| -> Result<Address> {
            serde_json::from_value(field(name)?.clone())
                .map_err(|e| bad(format!("message.{name}: {e}")))
        };
        let number = |name: &str| -> Result<U256> {
            let v = field(name)?;
            let parsed = match v {
                serde_json::Value::String(s) => s.parse::<U256>().ok(),
                serde_json::Value::Number(n) => n.as_u64().map(U256::from),
                _ => None,
            };
            parsed.ok_or_else(|| bad(format!("message.{name} is not a uint256: {v}")))
        };
        Ok(Self {
            token,
            name: name.clone(),
            version: version.clone(),
            chain_id,
            owner: address("owner")?,
            spender: address("spender")?,
            value: number("value")?,
            nonce: number("nonce")?,
            deadline: number("deadline")?,
        })
    }
}

/// The call data of ERC-20 `approve(spender, amount)`.
pub fn encode_approve(spender: Address, amount: U256) -> Bytes {
    approveCall { spender, amount }.abi_encode().into()
}

/// `approve(spender, amount)` read back from call data, exactly (no trailing bytes).
pub fn decode_approve(data: &[u8]) -> Option<(Address, U256)> {
    if data.len() != 4 + 64 {
        return None;
    }
    approveCall::abi_decode_validate(data).ok().map(|c| (c.spender, c.amount))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    fn permit() -> TokenPermit {
        TokenPermit {
            token: address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
            name: "Gas Dollar".into(),
            version: "1".into(),
            chain_id: 31337,
            owner: address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
            spender: address!("0x3f222Df6aB18C1E10d0Ec136503c3B0dfd929048"),
            value: U256::from(5_000_000u64),
            nonce: U256::ZERO,
            deadline: U256::from(1_900_000_000u64),
        }
    }

    #[test]
    fn typed_data_round_trips_and_hashes_as_the_generic_encoder() {
        let p = permit();
        let t = p.typed_data();
        assert_eq!(TokenPermit::from_typed_data(&t).unwrap(), p);
        // The generic EIP-712 encoder (alloy's dyn-abi, through the wire form) agrees.
        assert_eq!(sesskey_signing::typed_data_digest(&t).unwrap(), p.digest());
    }

    #[test]
    fn anything_but_a_permit_is_refused() {
        let mut t = permit().typed_data();
        t.primary_type = "Transfer".into();
        assert!(TokenPermit::from_typed_data(&t).is_err());
        let mut t = permit().typed_data();
        t.message.insert("extra".into(), json!("1"));
        assert!(TokenPermit::from_typed_data(&t).is_err());
        let mut t = permit().typed_data();
        t.domain.as_mut().unwrap().version = None;
        assert!(TokenPermit::from_typed_data(&t).is_err());
        let mut t = permit().typed_data();
        t.types.get_mut("Permit").unwrap().swap(2, 3);
        assert!(TokenPermit::from_typed_data(&t).is_err());
    }

    #[test]
    fn approve_round_trips_exactly() {
        let data = encode_approve(permit().spender, U256::from(7));
        assert_eq!(decode_approve(&data), Some((permit().spender, U256::from(7))));
        let mut longer = data.to_vec();
        longer.push(0);
        assert_eq!(decode_approve(&longer), None);
    }
}

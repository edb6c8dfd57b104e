//! The `capabilities` object of `wallet_prepareCalls` (spec §2.3) and `wallet_sendPreparedCalls`.

use crate::context::PermissionsCapability;
use crate::hex::{wire, wire_opt};
use alloy_primitives::{Address, Bytes, B256, U256};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `capabilities` of `wallet_prepareCalls`; every key is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareCallsCapabilities {
    /// The session to act through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<PermissionsCapability>,
    /// Gas sponsorship.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_service: Option<PaymasterService>,
    /// Gas parameter overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_params_override: Option<GasParamsOverride>,
    /// EIP-7702 delegation choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip7702_auth: Option<Eip7702AuthCapability>,
    /// A parallel nonce key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce_override: Option<NonceOverride>,
    /// State overrides for simulation, by address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_override: Option<BTreeMap<Address, AccountOverride>>,
    /// An ERC-8021 call-data suffix.
    #[serde(rename = "experimental_dataSuffix", default, skip_serializing_if = "Option::is_none")]
    pub experimental_data_suffix: Option<DataSuffix>,
}

/// `capabilities` of `wallet_sendPreparedCalls`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendPreparedCallsCapabilities {
    /// The session the op was prepared with (must be sent again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<PermissionsCapability>,
    /// The sponsoring policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_service: Option<SendPaymasterService>,
}

/// Policy ids: one or several.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PolicySelector {
    /// `{policyId}`.
    #[serde(rename_all = "camelCase")]
    One {
        /// A UUID v4.
        policy_id: String,
    },
    /// `{policyIds}`.
    #[serde(rename_all = "camelCase")]
    Many {
        /// UUIDs v4.
        policy_ids: Vec<String>,
    },
}

impl PolicySelector {
    /// Every policy id named.
    pub fn ids(&self) -> Vec<&str> {
        match self {
            Self::One { policy_id } => vec![policy_id.as_str()],
            Self::Many { policy_ids } => policy_ids.iter().map(String::as_str).collect(),
        }
    }
}

/// `paymasterService` of `wallet_prepareCalls`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymasterService {
    /// The policy or policies.
    #[serde(flatten)]
    pub policy: PolicySelector,
    /// Estimate only: no signature request and no sponsorship.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_estimation: Option<bool>,
    /// Pay gas in an ERC-20 token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erc20: Option<Erc20Payment>,
    /// Data passed to the policy's webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_data: Option<String>,
}

/// `paymasterService` of `wallet_sendPreparedCalls`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendPaymasterService {
    /// The policy or policies.
    #[serde(flatten)]
    pub policy: PolicySelector,
    /// Data passed to the policy's webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_data: Option<String>,
}

/// `paymasterService.erc20` (strict: unknown keys are refused, as in Alchemy's schema).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Erc20Payment {
    /// The token paying for gas.
    #[serde(with = "wire")]
    pub token_address: Address,
    /// The most the paymaster may take.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub max_token_amount: Option<U256>,
    /// Settings before the op (permit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_op_settings: Option<PreOpSettings>,
    /// Settings after the op (approve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_op_settings: Option<PostOpSettings>,
}

/// `erc20.preOpSettings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PreOpSettings {
    /// `{autoPermit: {below, amount, durationSeconds?}}`.
    #[serde(rename_all = "camelCase")]
    AutoPermit {
        /// The permit policy.
        auto_permit: AutoPermit,
    },
    /// `{permitDetails: {deadline, value}}`.
    #[serde(rename_all = "camelCase")]
    PermitDetails {
        /// The permit.
        permit_details: PermitDetails,
    },
}

/// `autoPermit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoPermit {
    /// Permit when the allowance is below this.
    #[serde(with = "wire")]
    pub below: U256,
    /// The amount to permit.
    #[serde(with = "wire")]
    pub amount: U256,
    /// The permit's duration.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<U256>,
}

/// `permitDetails`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitDetails {
    /// The permit's deadline.
    #[serde(with = "wire")]
    pub deadline: U256,
    /// The permitted value.
    #[serde(with = "wire")]
    pub value: U256,
}

/// `erc20.postOpSettings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostOpSettings {
    /// `true` or `{below, amount}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_approve: Option<AutoApprove>,
    /// Only `false` is allowed: skip the balance check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_check: Option<bool>,
}

/// `postOpSettings.autoApprove`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AutoApprove {
    /// `true`.
    Always(bool),
    /// `{below, amount}`.
    Below {
        /// Approve when the allowance is below this.
        #[serde(with = "wire")]
        below: U256,
        /// The amount to approve.
        #[serde(with = "wire")]
        amount: U256,
    },
}

/// `gasParamsOverride`: each field absolute (hex) or `{multiplier}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GasParamsOverride {
    /// preVerificationGas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_verification_gas: Option<GasParam>,
    /// verificationGasLimit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_gas_limit: Option<GasParam>,
    /// callGasLimit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_gas_limit: Option<GasParam>,
    /// paymasterVerificationGasLimit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_verification_gas_limit: Option<GasParam>,
    /// paymasterPostOpGasLimit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_post_op_gas_limit: Option<GasParam>,
    /// maxFeePerGas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fee_per_gas: Option<GasParam>,
    /// maxPriorityFeePerGas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_priority_fee_per_gas: Option<GasParam>,
}

/// One gas override.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GasParam {
    /// An absolute value.
    Absolute(#[serde(with = "wire")] U256),
    /// A multiplier of the estimate.
    Multiplier {
        /// The factor.
        multiplier: f64,
    },
}

/// `eip7702Auth`: `true` or `{account?, delegation}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Eip7702AuthCapability {
    /// `true`: delegate to the default.
    Default(bool),
    /// A chosen delegation.
    Explicit {
        /// The account, when not `from`.
        #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
        account: Option<Address>,
        /// `"ModularAccountV2"`, its address, or the zero address (undelegate).
        delegation: Delegation,
    },
}

/// The MAv2 EIP-7702 implementation, `SemiModularAccount7702`.
pub const MODULAR_ACCOUNT_V2_7702: Address =
    alloy_primitives::address!("0x69007702764179f14F51cdce752f4f775d74E139");

/// A delegation target of `eip7702Auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delegation {
    /// `"ModularAccountV2"` (alias of its address).
    ModularAccountV2Alias,
    /// `0x69007702764179f14F51cdce752f4f775d74E139`.
    ModularAccountV2,
    /// The zero address: undelegate.
    Undelegate,
}

impl Delegation {
    /// The address code is delegated to (zero to undelegate).
    pub const fn address(self) -> Address {
        match self {
            Self::ModularAccountV2Alias | Self::ModularAccountV2 => MODULAR_ACCOUNT_V2_7702,
            Self::Undelegate => Address::ZERO,
        }
    }
}

impl Serialize for Delegation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::ModularAccountV2Alias => s.serialize_str("ModularAccountV2"),
            other => crate::hex::wire::serialize(&other.address(), s),
        }
    }
}

impl<'de> Deserialize<'de> for Delegation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "ModularAccountV2" {
            return Ok(Self::ModularAccountV2Alias);
        }
        let a: Address = crate::hex::WireHex::from_wire(&s).map_err(serde::de::Error::custom)?;
        if a == MODULAR_ACCOUNT_V2_7702 {
            Ok(Self::ModularAccountV2)
        } else if a.is_zero() {
            Ok(Self::Undelegate)
        } else {
            Err(serde::de::Error::custom(
                "invalid delegation: expected \"ModularAccountV2\", 0x69007702764179f14F51cdce752f4f775d74E139 or the zero address",
            ))
        }
    }
}

/// `nonceOverride`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NonceOverride {
    /// The parallel nonce key.
    #[serde(with = "wire")]
    pub nonce_key: U256,
}

/// One account's state override (strict, as in Alchemy's schema).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountOverride {
    /// Balance.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<U256>,
    /// Nonce.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<U256>,
    /// Code.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Bytes>,
    /// Full storage replacement (exclusive with `stateDiff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<BTreeMap<B256, B256>>,
    /// Storage slots to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_diff: Option<BTreeMap<B256, B256>>,
}

/// `experimental_dataSuffix`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSuffix {
    /// The suffix appended to the call data.
    #[serde(with = "wire")]
    pub value: Bytes,
}

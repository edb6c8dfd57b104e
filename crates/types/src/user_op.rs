//! ERC-4337 user operations as the Wallet API carries them (no `signature` field).

use crate::hex::{wire, wire_opt};
use alloy_primitives::{Address, Bytes, U128, U256};
use serde::{Deserialize, Serialize};

/// A v0.7 user operation (EntryPoint `0x0000000071727De22E5E9d8BAf0edAc6f37da032`), unsigned.
///
/// Gas fields that the v0.7 hash packs into 128 bits are [`U128`], so a larger value is refused
/// when parsed. The client must echo it back unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationV07 {
    /// The account.
    #[serde(with = "wire")]
    pub sender: Address,
    /// The full 256-bit EntryPoint nonce (192-bit key ‖ 64-bit sequence).
    #[serde(with = "wire")]
    pub nonce: U256,
    /// The account factory, absent for EIP-7702 and deployed accounts.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub factory: Option<Address>,
    /// The factory's call data.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub factory_data: Option<Bytes>,
    /// The account's call data.
    #[serde(with = "wire")]
    pub call_data: Bytes,
    /// Gas for the call.
    #[serde(with = "wire")]
    pub call_gas_limit: U128,
    /// Gas for validation.
    #[serde(with = "wire")]
    pub verification_gas_limit: U128,
    /// Gas paid to the bundler up front.
    #[serde(with = "wire")]
    pub pre_verification_gas: U256,
    /// Maximum fee per gas.
    #[serde(with = "wire")]
    pub max_fee_per_gas: U128,
    /// Maximum priority fee per gas.
    #[serde(with = "wire")]
    pub max_priority_fee_per_gas: U128,
    /// The paymaster, if sponsored.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub paymaster: Option<Address>,
    /// The paymaster's data.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub paymaster_data: Option<Bytes>,
    /// Gas for the paymaster's validation.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub paymaster_verification_gas_limit: Option<U128>,
    /// Gas for the paymaster's post-op.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub paymaster_post_op_gas_limit: Option<U128>,
}

/// A v0.6 user operation (EntryPoint `0x5FF137D4b0FDCD49DcA30c7CF57E578a026d2789`), unsigned;
/// legacy Light Account v1.x only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationV06 {
    /// The account.
    #[serde(with = "wire")]
    pub sender: Address,
    /// The EntryPoint nonce.
    #[serde(with = "wire")]
    pub nonce: U256,
    /// `factory ‖ factoryData`, or `0x`.
    #[serde(with = "wire")]
    pub init_code: Bytes,
    /// The account's call data.
    #[serde(with = "wire")]
    pub call_data: Bytes,
    /// Gas for the call.
    #[serde(with = "wire")]
    pub call_gas_limit: U256,
    /// Gas for validation.
    #[serde(with = "wire")]
    pub verification_gas_limit: U256,
    /// Gas paid to the bundler up front.
    #[serde(with = "wire")]
    pub pre_verification_gas: U256,
    /// Maximum fee per gas.
    #[serde(with = "wire")]
    pub max_fee_per_gas: U256,
    /// Maximum priority fee per gas.
    #[serde(with = "wire")]
    pub max_priority_fee_per_gas: U256,
    /// `paymaster ‖ data`, or `0x`.
    #[serde(with = "wire")]
    pub paymaster_and_data: Bytes,
}

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

impl UserOperationV07 {
    /// All the gas the op may use: call, verification, pre-verification and both paymaster
    /// limits; `None` if the sum overflows 256 bits.
    pub fn total_gas(&self) -> Option<U256> {
        U256::from(self.call_gas_limit)
            .checked_add(U256::from(self.verification_gas_limit))?
            .checked_add(self.pre_verification_gas)?
            .checked_add(U256::from(self.paymaster_verification_gas_limit.unwrap_or_default()))?
            .checked_add(U256::from(self.paymaster_post_op_gas_limit.unwrap_or_default()))
    }

    /// The most the op may cost, in wei: all its gas at `maxFeePerGas`; `None` if that
    /// overflows 256 bits (such an op can never be paid for, and must be refused).
    ///
    /// ```
    /// use alloy_primitives::{U128, U256};
    /// use sesskey_types::UserOperationV07;
    ///
    /// let op = UserOperationV07 {
    ///     call_gas_limit: U128::from(100_000),
    ///     verification_gas_limit: U128::from(50_000),
    ///     pre_verification_gas: U256::from(50_000),
    ///     max_fee_per_gas: U128::from(2_000_000_000u64),
    ///     ..Default::default()
    /// };
    /// assert_eq!(op.max_gas_cost(), Some(U256::from(400_000_000_000_000u64)));
    /// let huge = UserOperationV07 { pre_verification_gas: U256::MAX, ..op };
    /// assert_eq!(huge.max_gas_cost(), None);
    /// ```
    pub fn max_gas_cost(&self) -> Option<U256> {
        self.total_gas()?.checked_mul(U256::from(self.max_fee_per_gas))
    }
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

//! Pure digest functions: what each kind of signature request signs.

use crate::{Error, Result};
use alloy_primitives::{address, keccak256, Address, Bytes, B256, U256};
use alloy_sol_types::SolValue;
use sesskey_types::{PersonalSignData, TypedDataJson, UserOperationV06, UserOperationV07};

/// The ERC-4337 EntryPoint v0.7.
pub const ENTRY_POINT_V07: Address = address!("0x0000000071727De22E5E9d8BAf0edAc6f37da032");
/// The ERC-4337 EntryPoint v0.6.
pub const ENTRY_POINT_V06: Address = address!("0x5FF137D4b0FDCD49DcA30c7CF57E578a026d2789");

/// [EIP-191] `personal_sign` digest of `message`:
/// `keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ message)`.
///
/// [EIP-191]: https://eips.ethereum.org/EIPS/eip-191
pub fn eip191_digest(message: &[u8]) -> B256 {
    alloy_primitives::eip191_hash_message(message)
}

/// The `personal_sign` digest of a request's `data`: a string signs its UTF-8 bytes (even when
/// it looks like hex), `{raw}` its bytes.
pub fn personal_sign_digest(data: &PersonalSignData) -> B256 {
    eip191_digest(data.message_bytes())
}

/// Converts wire typed data into alloy's dynamic [`alloy_dyn_abi::TypedData`].
pub fn to_dyn_typed_data(typed: &TypedDataJson) -> Result<alloy_dyn_abi::TypedData> {
    let json = serde_json::to_value(typed).map_err(|e| Error::TypedData(e.to_string()))?;
    serde_json::from_value(json).map_err(|e| Error::TypedData(e.to_string()))
}

/// [EIP-712] digest `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message))` of a JSON
/// typed-data object, with `eth_signTypedData_v4` rules. When `types` has no `EIP712Domain`, it
/// is derived from the domain fields present (as viem does and Alchemy's server expects).
///
/// [EIP-712]: https://eips.ethereum.org/EIPS/eip-712
pub fn typed_data_digest(typed: &TypedDataJson) -> Result<B256> {
    to_dyn_typed_data(typed)?.eip712_signing_hash().map_err(|e| Error::TypedData(e.to_string()))
}

fn concat_u128(high: u128, low: u128) -> B256 {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(&high.to_be_bytes());
    out[16..].copy_from_slice(&low.to_be_bytes());
    B256::from(out)
}

/// The v0.7 `initCode`: `factory ‖ factoryData`, empty without a factory.
pub fn init_code_v07(op: &UserOperationV07) -> Bytes {
    match op.factory {
        Some(factory) => {
            let data = op.factory_data.as_ref().map_or(&[][..], |d| &d[..]);
            [factory.as_slice(), data].concat().into()
        }
        None => Bytes::new(),
    }
}

/// The v0.7 `paymasterAndData`: `paymaster ‖ uint128 verificationGas ‖ uint128 postOpGas ‖
/// paymasterData`, empty without a paymaster.
pub fn paymaster_and_data_v07(op: &UserOperationV07) -> Bytes {
    match op.paymaster {
        Some(paymaster) => {
            let vgl = op.paymaster_verification_gas_limit.unwrap_or_default().to::<u128>();
            let post = op.paymaster_post_op_gas_limit.unwrap_or_default().to::<u128>();
            let data = op.paymaster_data.as_ref().map_or(&[][..], |d| &d[..]);
            [paymaster.as_slice(), &vgl.to_be_bytes(), &post.to_be_bytes(), data].concat().into()
        }
        None => Bytes::new(),
    }
}

/// The ERC-4337 v0.7 user-operation hash, as `EntryPoint.getUserOpHash` computes it:
/// `keccak256(abi.encode(keccak256(pack(op)), entryPoint, chainId))`.
///
/// ```
/// use sesskey_signing::{user_op_v07_hash, ENTRY_POINT_V07};
/// use sesskey_types::UserOperationV07;
///
/// let op = UserOperationV07::default();
/// let hash = user_op_v07_hash(&op, ENTRY_POINT_V07, 1);
/// assert_ne!(hash, user_op_v07_hash(&op, ENTRY_POINT_V07, 2), "the chain id is hashed");
/// ```
pub fn user_op_v07_hash(op: &UserOperationV07, entry_point: Address, chain_id: u64) -> B256 {
    let account_gas_limits =
        concat_u128(op.verification_gas_limit.to::<u128>(), op.call_gas_limit.to::<u128>());
    let gas_fees =
        concat_u128(op.max_priority_fee_per_gas.to::<u128>(), op.max_fee_per_gas.to::<u128>());
    let packed = (
        op.sender,
        op.nonce,
        keccak256(init_code_v07(op)),
        keccak256(&op.call_data),
        account_gas_limits,
        op.pre_verification_gas,
        gas_fees,
        keccak256(paymaster_and_data_v07(op)),
    )
        .abi_encode();
    keccak256((keccak256(packed), entry_point, U256::from(chain_id)).abi_encode())
}

/// The ERC-4337 v0.6 user-operation hash, as `EntryPoint.getUserOpHash` computes it.
pub fn user_op_v06_hash(op: &UserOperationV06, entry_point: Address, chain_id: u64) -> B256 {
    let packed = (
        op.sender,
        op.nonce,
        keccak256(&op.init_code),
        keccak256(&op.call_data),
        op.call_gas_limit,
        op.verification_gas_limit,
        op.pre_verification_gas,
        op.max_fee_per_gas,
        op.max_priority_fee_per_gas,
        keccak256(&op.paymaster_and_data),
    )
        .abi_encode();
    keccak256((keccak256(packed), entry_point, U256::from(chain_id)).abi_encode())
}

/// An [EIP-7702] authorization tuple `(chainId, address, nonce)`.
///
/// [EIP-7702]: https://eips.ethereum.org/EIPS/eip-7702
#[derive(Clone, Copy, Debug, PartialEq, Eq, alloy_rlp::RlpEncodable)]
pub struct AuthorizationTuple {
    /// The chain (0 = any chain).
    pub chain_id: U256,
    /// The delegation target.
    pub address: Address,
    /// The EOA's nonce.
    pub nonce: u64,
}

impl AuthorizationTuple {
    /// The tuple of a prepared or signed authorization: its `data` and its `chainId`.
    pub fn from_wire(
        data: &sesskey_types::AuthorizationData,
        chain_id: alloy_primitives::U64,
    ) -> Self {
        Self {
            chain_id: U256::from(chain_id),
            address: data.address,
            nonce: data.nonce.to::<u64>(),
        }
    }
}

/// The [EIP-7702] authorization digest `keccak256(0x05 ‖ rlp([chainId, address, nonce]))`.
///
/// [EIP-7702]: https://eips.ethereum.org/EIPS/eip-7702
pub fn eip7702_digest(auth: &AuthorizationTuple) -> B256 {
    let mut buf = vec![0x05];
    alloy_rlp::Encodable::encode(auth, &mut buf);
    keccak256(buf)
}

//! ERC-1271 signatures of a ModularAccountV2 account made by its owner (the fallback signer of a
//! semi-modular account: for EIP-7702, the account's own key): the replay-safe hash the owner
//! signs, and the signature the account checks.

use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_sol_types::SolValue;

/// `keccak256("EIP712Domain(uint256 chainId,address verifyingContract)")`.
const DOMAIN_TYPEHASH: B256 =
    alloy_primitives::b256!("0x47e79534a245952e8b16893a336b85a3d9ea9fa8c573f3d803afb92a79469218");
/// `keccak256("ReplaySafeHash(bytes32 hash)")` (spec §9).
pub const REPLAY_SAFE_HASH_TYPEHASH: B256 =
    alloy_primitives::b256!("0x294a8735843d4afb4f017c76faf3b7731def145ed0025fc9b1d5ce30adf113ff");
/// What `isValidSignature` answers for a valid signature.
pub const ERC1271_MAGIC_VALUE: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];
/// What it answers for a well-formed signature of someone else.
pub const ERC1271_INVALID: [u8; 4] = [0xff; 4];

/// The digest the owner signs for the account to accept `hash` through ERC-1271: the EIP-712
/// hash of `ReplaySafeHash(bytes32 hash)` under the account's domain `{chainId,
/// verifyingContract: account}` (what `wallet_prepareSign` asks to be signed).
pub fn replay_safe_hash(chain_id: u64, account: Address, hash: B256) -> B256 {
    let domain = keccak256((DOMAIN_TYPEHASH, U256::from(chain_id), account).abi_encode());
    let message = keccak256((REPLAY_SAFE_HASH_TYPEHASH, hash).abi_encode());
    keccak256([&[0x19, 0x01][..], domain.as_slice(), message.as_slice()].concat())
}

/// The owner's ERC-1271 signature as the account takes it (what `wallet_formatSign` answers):
/// `0x00 ‖ entityId 0 (4 bytes) ‖ 0xFF ‖ 0x00 (an EOA signature) ‖ signature`.
pub fn pack_1271_owner_signature(signature: &[u8; 65]) -> Bytes {
    let mut out = vec![0u8, 0, 0, 0, 0, crate::VALIDATION_SEGMENT, crate::SIGNATURE_TYPE_EOA];
    out.extend_from_slice(signature);
    out.into()
}

/// ERC-6492's suffix: a signature ending with it is `abi.encode(factory, factoryData,
/// signature)` of an account not deployed yet.
pub const ERC6492_MAGIC: [u8; 32] = [
    0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92,
    0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92,
];

/// An ERC-1271 `signature` of a counterfactual account, wrapped for ERC-6492 verifiers (viem's
/// `verifyMessage`, the universal validator): `abi.encode(factory, factoryData, signature) ‖
/// ERC6492_MAGIC`. The verifier deploys the account with the factory call, then asks it.
pub fn erc6492_wrap(factory: Address, factory_data: &[u8], signature: &[u8]) -> Bytes {
    let mut out =
        (factory, Bytes::copy_from_slice(factory_data), Bytes::copy_from_slice(signature))
            .abi_encode_params();
    out.extend_from_slice(&ERC6492_MAGIC);
    out.into()
}

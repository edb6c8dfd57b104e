#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod abi;
mod calls;
mod deferred;
mod erc1271;
mod error;
mod install;
mod nonce;
mod permit;
mod policy;
mod signature;
mod sma_b;
mod uninstall;

pub use calls::{decode_calls, encode_calls, same_call, CallEncoding, DecodedCalls};
pub use deferred::DeferredAction;
pub use erc1271::{
    erc6492_wrap, pack_1271_owner_signature, replay_safe_hash, ERC1271_INVALID,
    ERC1271_MAGIC_VALUE, ERC6492_MAGIC, REPLAY_SAFE_HASH_TYPEHASH,
};
pub use error::{Error, Result};
pub use install::{
    canonical_permissions, check_deadline, decode_install, encode_install, has_exec_hooks,
    SessionInstall, APPROVE, EXECUTE, EXECUTE_BATCH, HOOK_ENTITY_OFFSET, HOOK_POST, HOOK_PRE,
    HOOK_VALIDATION, MAX_ENTITY_ID, TRANSFER, TRANSFER_FROM, VALIDATION_GLOBAL,
    VALIDATION_SIGNATURE, VALIDATION_USER_OP,
};
pub use nonce::{Nonce, OPTION_DEFERRED_ACTION, OPTION_DIRECT_CALL, OPTION_GLOBAL};
pub use permit::{decode_approve, encode_approve, TokenPermit};
pub use policy::{Policy, Spend, Violation};
pub use signature::{
    call_id, pack_deferred_signature, pack_signature, unpack_signature, DeferredPart,
    PackedSignature, SIGNATURE_TYPE_EOA, VALIDATION_SEGMENT,
};
pub use sma_b::{
    decode_sma_b_factory_data, sma_b_address, sma_b_factory_data, sma_b_owner_of_code,
    sma_b_runtime_code, ERC1967_IMPLEMENTATION_SLOT, MODULAR_ACCOUNT_FACTORY,
    SEMI_MODULAR_ACCOUNT_BYTECODE, SMA_B_ACCOUNT_ID,
};
pub use uninstall::{decode_uninstall, encode_uninstall};

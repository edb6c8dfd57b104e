//! Refusals as ModularAccountV2 and the EntryPoint v0.7 give them (spec §12): the readable
//! reason, the `AAxx` code, and the ABI-encoded error the contract reverts with.

use alloy_primitives::{Address, Bytes, FixedBytes};
use alloy_sol_types::{sol, SolError};
use sesskey_account::abi::{ALLOWLIST_MODULE, NATIVE_TOKEN_LIMIT_MODULE};
use sesskey_account::{Violation, HOOK_ENTITY_OFFSET};
use sesskey_rpc::WalletError;
use sesskey_types::Permission;

sol! {
    /// MAv2: the owner's signature over a `DeferredAction` is not the owner's.
    error DeferredActionSignatureInvalid();
    /// MAv2: the deferred install of a session's first op ran again.
    error PreValidationHookDuplicate();
    /// MAv2: a validation hook reverted.
    error PreUserOpValidationHookReverted(bytes24 moduleFunction, bytes revertReason);
    /// MAv2: an execution pre-hook reverted.
    error PreExecHookReverted(bytes24 moduleFunction, bytes revertReason);
    /// MAv2: no validation is installed for this selector.
    error ValidationFunctionMissing(bytes4 selector);
    /// MAv2: the install names a selector the validation already has.
    error ValidationAlreadySet(bytes4 selector, bytes24 validationFunction);
    /// AllowlistModule: the target is not allowed.
    error AddressNotAllowed();
    /// AllowlistModule: the function is not allowed on the target.
    error SelectorNotAllowed();
    /// AllowlistModule: over an ERC-20 spend limit.
    error ExceededTokenLimit();
    /// NativeTokenLimitModule: over a native or gas limit.
    error ExceededNativeTokenLimit();
}

pub(crate) fn invalid(msg: impl Into<String>) -> WalletError {
    WalletError::InvalidParams(msg.into())
}

/// Refuses the list `field` when it holds more than `max` entries (-32602, naming it).
pub(crate) fn at_most(field: &str, len: usize, max: usize) -> Result<(), WalletError> {
    if len > max {
        return Err(invalid(format!("invalid `{field}`: {len} entries; at most {max}")));
    }
    Ok(())
}

/// `bytes24` module address ‖ entity id.
fn module_entity(module: Address, entity: u32) -> FixedBytes<24> {
    let mut b = [0u8; 24];
    b[..20].copy_from_slice(module.as_slice());
    b[20..].copy_from_slice(&entity.to_be_bytes());
    FixedBytes(b)
}

fn aa23(reason: String, data: Vec<u8>) -> WalletError {
    WalletError::ValidationReverted { reason, aa: "AA23 reverted".into(), data: Some(data.into()) }
}

/// AA23 `DeferredActionSignatureInvalid()`: the owner did not sign the session.
pub(crate) fn deferred_signature_invalid() -> WalletError {
    aa23(
        "the DeferredAction is not signed by the account's owner".into(),
        DeferredActionSignatureInvalid {}.abi_encode(),
    )
}

/// A session's first op sent again: the account re-runs the deferred install before the nonce
/// check, so the chain's answer depends on what the install holds (spec §12.1): a root session
/// without hooks installs again without error and the nonce is refused (AA25); a root session
/// with an expiry hook fails on the hook (`PreValidationHookDuplicate()`); a session with
/// selectors fails on the first one (`ValidationAlreadySet(execute, SingleSignerValidation ‖
/// entity)`).
pub(crate) fn first_op_replayed(
    permissions: &[Permission],
    deadline: u64,
    entity: u32,
) -> WalletError {
    let reason =
        "the session's first operation was already included (its deferred install runs again)";
    if permissions.contains(&Permission::Root) {
        if deadline == 0 {
            return bad_nonce();
        }
        return aa23(reason.into(), PreValidationHookDuplicate {}.abi_encode());
    }
    let validation = module_entity(sesskey_account::abi::SINGLE_SIGNER_VALIDATION, entity);
    aa23(
        reason.into(),
        ValidationAlreadySet { selector: sesskey_account::EXECUTE, validationFunction: validation }
            .abi_encode(),
    )
}

/// AA23 `ValidationFunctionMissing(executeBatch)`: the session's validation was uninstalled, so
/// the account has no validation for the call.
pub(crate) fn validation_uninstalled(entity: u32) -> WalletError {
    aa23(
        format!("the session's validation (entity {entity}) was uninstalled by the owner"),
        ValidationFunctionMissing { selector: sesskey_account::EXECUTE_BATCH }.abi_encode(),
    )
}

/// AA25 `invalid account nonce`.
pub(crate) fn bad_nonce() -> WalletError {
    WalletError::ValidationReverted {
        reason: "0x".into(),
        aa: "AA25 invalid account nonce".into(),
        data: None,
    }
}

/// The execution pre-hook revert of an allowance violation, as the account reports it.
pub(crate) fn exec_hook_revert(v: &Violation, entity: u32) -> Option<Bytes> {
    let (module, entity, inner) = match v {
        Violation::NativeAllowance { .. } => {
            (NATIVE_TOKEN_LIMIT_MODULE, entity, ExceededNativeTokenLimit {}.abi_encode())
        }
        Violation::Erc20Allowance { .. } | Violation::MalformedErc20Call { .. } => (
            ALLOWLIST_MODULE,
            entity.saturating_add(HOOK_ENTITY_OFFSET),
            ExceededTokenLimit {}.abi_encode(),
        ),
        _ => return None,
    };
    Some(
        PreExecHookReverted {
            moduleFunction: module_entity(module, entity),
            revertReason: inner.into(),
        }
        .abi_encode()
        .into(),
    )
}

/// A policy violation as the account refuses it at validation, or as simulation sees an
/// execution hook revert (`-32521`).
pub(crate) fn violation(v: &Violation, entity: u32, permissions: &[Permission]) -> WalletError {
    if let Some(data) = exec_hook_revert(v, entity) {
        return WalletError::ExecutionReverted {
            message: format!("execution reverted: {v}"),
            data: Some(data),
        };
    }
    let hook = |module: Address, entity: u32, inner: Vec<u8>| {
        PreUserOpValidationHookReverted {
            moduleFunction: module_entity(module, entity),
            revertReason: inner.into(),
        }
        .abi_encode()
    };
    match v {
        Violation::Expired { .. } => WalletError::ValidationReverted {
            reason: v.to_string(),
            aa: "AA22 expired or not due".into(),
            data: None,
        },
        Violation::NotAllowed { target, .. } => {
            let known = permissions.iter().any(|p| match p {
                Permission::ContractAccess(c) => c.address == *target,
                Permission::FunctionsOnContract(f) => f.address == *target,
                Permission::Erc20TokenTransfer(e) => e.address == *target,
                Permission::FunctionsOnAllContracts(_) => true,
                _ => false,
            });
            let inner = if known {
                SelectorNotAllowed {}.abi_encode()
            } else {
                AddressNotAllowed {}.abi_encode()
            };
            aa23(v.to_string(), hook(ALLOWLIST_MODULE, entity, inner))
        }
        Violation::PrivilegedSelector { selector, .. } => {
            aa23(v.to_string(), ValidationFunctionMissing { selector: *selector }.abi_encode())
        }
        Violation::GasLimit { .. } => aa23(
            v.to_string(),
            hook(
                NATIVE_TOKEN_LIMIT_MODULE,
                entity.saturating_add(HOOK_ENTITY_OFFSET),
                ExceededNativeTokenLimit {}.abi_encode(),
            ),
        ),
        _ => aa23(v.to_string(), vec![]),
    }
}

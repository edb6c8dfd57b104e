//! Revoking a session on chain: the owner's `uninstallValidation` of the session's entity, with
//! the data each of its hooks needs to clear its state.

use crate::abi::{
    installValidationCall, uninstallValidationCall, ALLOWLIST_MODULE, SINGLE_SIGNER_VALIDATION,
};
use crate::error::{Error, Result};
use alloy_primitives::{Address, Bytes, FixedBytes};
use alloy_sol_types::{SolCall, SolValue};

/// The `uninstallValidation` call that removes what `install_call` (an `installValidation` call
/// as [`crate::encode_install`] builds it) installed: the `SingleSignerValidationModule` entity
/// with `abi.encode(entityId)`, then each hook in install order: the `AllowlistModule` gets its
/// install data again (the entries to delete), the `TimeRangeModule` and
/// `NativeTokenLimitModule` get `abi.encode(hookEntityId)`.
pub fn encode_uninstall(install_call: &[u8]) -> Result<Bytes> {
    let install = installValidationCall::abi_decode(install_call)
        .map_err(|e| Error::Decode { what: "installValidation call", reason: e.to_string() })?;
    let config = install.validationConfig.0;
    let module = Address::from_slice(&config[..20]);
    let entity = u32::from_be_bytes(config[20..24].try_into().expect("4 bytes"));
    let hooks = install
        .hooks
        .iter()
        .map(|h| {
            if h.len() < 25 {
                return Err(Error::Decode {
                    what: "hook",
                    reason: "shorter than its config".into(),
                });
            }
            let hook_module = Address::from_slice(&h[..20]);
            let hook_entity = u32::from_be_bytes(h[20..24].try_into().expect("4 bytes"));
            Ok(if hook_module == ALLOWLIST_MODULE {
                Bytes::copy_from_slice(&h[25..])
            } else {
                Bytes::from(hook_entity.abi_encode())
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut function = [0u8; 24];
    function[..20].copy_from_slice(module.as_slice());
    function[20..].copy_from_slice(&entity.to_be_bytes());
    Ok(uninstallValidationCall {
        validationFunction: FixedBytes(function),
        uninstallData: entity.abi_encode().into(),
        hookUninstallData: hooks,
    }
    .abi_encode()
    .into())
}

/// The validation entity an `uninstallValidation` call removes, if `data` is one that removes a
/// `SingleSignerValidationModule` entity (a session key).
pub fn decode_uninstall(data: &[u8]) -> Option<u32> {
    let call = uninstallValidationCall::abi_decode(data).ok()?;
    let f = call.validationFunction.0;
    (Address::from_slice(&f[..20]) == SINGLE_SIGNER_VALIDATION)
        .then(|| u32::from_be_bytes(f[20..].try_into().expect("4 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{encode_install, SessionInstall};
    use alloy_primitives::U256;
    use sesskey_types::*;

    #[test]
    fn an_uninstall_names_the_entity_and_each_hook() {
        let account = Address::repeat_byte(0xaa);
        let install = SessionInstall {
            session_key: Address::repeat_byte(0x5e),
            entity_id: 7,
            expiry: 1_900_000_000,
            permissions: vec![
                Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: U256::from(5) }),
                Permission::ContractAccess(ContractAccess { address: Address::repeat_byte(0x51) }),
            ],
        };
        let call = encode_install(account, &install).unwrap();
        let data = encode_uninstall(&call).unwrap();
        assert_eq!(decode_uninstall(&data), Some(7));
        let decoded = uninstallValidationCall::abi_decode(&data).unwrap();
        assert_eq!(decoded.uninstallData.to_vec(), 7u32.abi_encode());
        // Time range, native limit, allowlist: three hooks, the allowlist's data its entries.
        assert_eq!(decoded.hookUninstallData.len(), 3);
        assert_eq!(decoded.hookUninstallData[0].to_vec(), 7u32.abi_encode());
        assert_eq!(decoded.hookUninstallData[1].to_vec(), 7u32.abi_encode());
        let install_call = installValidationCall::abi_decode(&call).unwrap();
        assert_eq!(decoded.hookUninstallData[2][..], install_call.hooks[2][25..]);
    }
}

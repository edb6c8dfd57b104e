//! The eight permission types of `wallet_createSession` and their rules.

use crate::hex::{wire, wire_seq};
use alloy_primitives::{Address, FixedBytes, U256};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// A 4-byte function selector.
pub type Selector = FixedBytes<4>;

/// One entry of `wallet_createSession.permissions`, tagged by `type` with its `data`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "kebab-case")]
pub enum Permission {
    /// Total native value the key may send.
    NativeTokenTransfer(NativeTokenTransfer),
    /// Total amount of one ERC-20 token the key may `transfer` or `approve`.
    Erc20TokenTransfer(Erc20TokenTransfer),
    /// A cap on what the key may spend on gas.
    GasLimit(GasLimit),
    /// Any function of one contract.
    ContractAccess(ContractAccess),
    /// The listed selectors on the account itself.
    AccountFunctions(Functions),
    /// The listed selectors on any contract.
    FunctionsOnAllContracts(Functions),
    /// The listed selectors on one contract.
    FunctionsOnContract(FunctionsOnContract),
    /// Everything; must be alone and carries no `data`.
    Root,
}

/// The permission types' wire names, in the order Alchemy's `wallet_getCapabilities` lists them.
pub const PERMISSION_TYPES: [&str; 8] = [
    "native-token-transfer",
    "erc20-token-transfer",
    "gas-limit",
    "contract-access",
    "account-functions",
    "functions-on-all-contracts",
    "functions-on-contract",
    "root",
];

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::tagged::nested_at;
        use serde::de::Error as _;
        let value = serde_json::Value::deserialize(d)?;
        let (tag, mut map) = crate::tagged::split_tag::<D::Error>(value, "type")?;
        let data = map.remove("data");
        if tag == "root" {
            return match data {
                None => Ok(Self::Root),
                Some(_) => Err(D::Error::custom("root takes no `data`")),
            };
        }
        let data = data.ok_or_else(|| D::Error::missing_field("data"))?;
        Ok(match tag.as_str() {
            "native-token-transfer" => Self::NativeTokenTransfer(nested_at(data, "data")?),
            "erc20-token-transfer" => Self::Erc20TokenTransfer(nested_at(data, "data")?),
            "gas-limit" => Self::GasLimit(nested_at(data, "data")?),
            "contract-access" => Self::ContractAccess(nested_at(data, "data")?),
            "account-functions" => Self::AccountFunctions(nested_at(data, "data")?),
            "functions-on-all-contracts" => Self::FunctionsOnAllContracts(nested_at(data, "data")?),
            "functions-on-contract" => Self::FunctionsOnContract(nested_at(data, "data")?),
            other => return Err(D::Error::unknown_variant(other, &PERMISSION_TYPES)),
        })
    }
}

/// `data` of `native-token-transfer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeTokenTransfer {
    /// The allowance in wei.
    #[serde(with = "wire")]
    pub allowance: U256,
}

/// `data` of `erc20-token-transfer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erc20TokenTransfer {
    /// The token contract.
    #[serde(with = "wire")]
    pub address: Address,
    /// The allowance in the token's base units.
    #[serde(with = "wire")]
    pub allowance: U256,
}

/// `data` of `gas-limit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasLimit {
    /// The limit (units unresolved upstream: the module tracks wei).
    #[serde(with = "wire")]
    pub limit: U256,
}

/// `data` of `contract-access`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractAccess {
    /// The contract.
    #[serde(with = "wire")]
    pub address: Address,
}

/// `data` of `account-functions` and `functions-on-all-contracts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Functions {
    /// The selectors (at least one).
    #[serde(with = "wire_seq")]
    pub functions: Vec<Selector>,
}

/// `data` of `functions-on-contract`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionsOnContract {
    /// The contract.
    #[serde(with = "wire")]
    pub address: Address,
    /// The selectors (at least one).
    #[serde(with = "wire_seq")]
    pub functions: Vec<Selector>,
}

/// The kebab-case names of the permission types, as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PermissionKind {
    /// `native-token-transfer`
    NativeTokenTransfer,
    /// `erc20-token-transfer`
    Erc20TokenTransfer,
    /// `gas-limit`
    GasLimit,
    /// `contract-access`
    ContractAccess,
    /// `account-functions`
    AccountFunctions,
    /// `functions-on-all-contracts`
    FunctionsOnAllContracts,
    /// `functions-on-contract`
    FunctionsOnContract,
    /// `root`
    Root,
}

impl PermissionKind {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NativeTokenTransfer => "native-token-transfer",
            Self::Erc20TokenTransfer => "erc20-token-transfer",
            Self::GasLimit => "gas-limit",
            Self::ContractAccess => "contract-access",
            Self::AccountFunctions => "account-functions",
            Self::FunctionsOnAllContracts => "functions-on-all-contracts",
            Self::FunctionsOnContract => "functions-on-contract",
            Self::Root => "root",
        }
    }
}

impl fmt::Display for PermissionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Permission {
    /// The type of this permission.
    pub const fn kind(&self) -> PermissionKind {
        match self {
            Self::NativeTokenTransfer(_) => PermissionKind::NativeTokenTransfer,
            Self::Erc20TokenTransfer(_) => PermissionKind::Erc20TokenTransfer,
            Self::GasLimit(_) => PermissionKind::GasLimit,
            Self::ContractAccess(_) => PermissionKind::ContractAccess,
            Self::AccountFunctions(_) => PermissionKind::AccountFunctions,
            Self::FunctionsOnAllContracts(_) => PermissionKind::FunctionsOnAllContracts,
            Self::FunctionsOnContract(_) => PermissionKind::FunctionsOnContract,
            Self::Root => PermissionKind::Root,
        }
    }

    /// Whether this permission lets the session key call some function: every type but
    /// `native-token-transfer` and `gas-limit` (an `erc20-token-transfer` grants the token's
    /// `transfer` and `approve`).
    pub const fn grants_selector(&self) -> bool {
        !matches!(self, Self::NativeTokenTransfer(_) | Self::GasLimit(_))
    }
}

/// Selectors of the ModularAccountV2 functions a session may never be granted through
/// `account-functions` (spec §3), with their Solidity signatures: module management, upgrades,
/// contract creation (both the release and the pre-release forms), the owner's fallback signer,
/// and the execution wrappers.
pub const PRIVILEGED_SELECTORS: [(Selector, &str); 15] = [
    (FixedBytes([0x1b, 0xbf, 0x56, 0x4c]), "installValidation(bytes25,bytes4[],bytes,bytes[])"),
    (FixedBytes([0xb6, 0xb1, 0xcc, 0xfe]), "uninstallValidation(bytes24,bytes,bytes[])"),
    (FixedBytes([0x7b, 0x2c, 0x41, 0x68]), "uninstallValidation(bytes25,bytes,bytes[])"),
    (FixedBytes([0x30, 0x00, 0x9d, 0x52]), "updateFallbackSignerData(address,bool)"),
    (FixedBytes([0x00, 0x1a, 0x63, 0xe9]), "installExecution(address,((bytes4,bool,bool)[],(bytes4,uint32,bool,bool)[],bytes4[]),bytes)"),
    (FixedBytes([0x93, 0xb1, 0xdc, 0x61]), "uninstallExecution(address,((bytes4,bool,bool)[],(bytes4,uint32,bool,bool)[],bytes4[]),bytes)"),
    (FixedBytes([0x4f, 0x1e, 0xf2, 0x86]), "upgradeToAndCall(address,bytes)"),
    (FixedBytes([0x59, 0x98, 0xdb, 0x5c]), "performCreate(uint256,bytes,bool,bytes32)"),
    (FixedBytes([0x4c, 0x8c, 0x9e, 0xa1]), "performCreate(uint256,bytes)"),
    (FixedBytes([0x48, 0x47, 0xbe, 0x6f]), "performCreate2(uint256,bytes,bytes32)"),
    (FixedBytes([0xf2, 0x68, 0x0c, 0x0f]), "executeWithRuntimeValidation(bytes,bytes)"),
    (FixedBytes([0x7d, 0x63, 0xd6, 0xe3]), "invalidateDeferredValidationInstallNonce(uint256)"),
    (FixedBytes([0xb6, 0x1d, 0x27, 0xf6]), "execute(address,uint256,bytes)"),
    (FixedBytes([0x34, 0xfc, 0xd5, 0xbe]), "executeBatch((address,uint256,bytes)[])"),
    (FixedBytes([0x8d, 0xd7, 0x71, 0x2f]), "executeUserOp((address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes),bytes32)"),
];

/// The name of a privileged selector, if `selector` is one.
pub fn privileged_selector_name(selector: Selector) -> Option<&'static str> {
    PRIVILEGED_SELECTORS
        .iter()
        .find(|(s, _)| *s == selector)
        .map(|(_, sig)| sig.split('(').next().unwrap_or(sig))
}

/// Why a permission set is refused. `index` is the position in `permissions` of the entry
/// that breaks the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    /// `permissions` is empty.
    #[error("permissions must not be empty")]
    Empty,
    /// `root` appears with other permissions.
    #[error("permissions[{index}]: root must be the only permission")]
    RootNotAlone {
        /// The entry that conflicts.
        index: usize,
    },
    /// Two `contract-access` / `functions-on-contract` entries name the same target.
    #[error("permissions[{index}] ({kind}): target {address} already has a permission")]
    DuplicateTarget {
        /// The second entry.
        index: usize,
        /// Its type.
        kind: PermissionKind,
        /// The target.
        address: Address,
    },
    /// A target is the account itself (use `account-functions`).
    #[error("permissions[{index}] ({kind}): target is the account itself; use account-functions")]
    AccountAsTarget {
        /// The entry.
        index: usize,
        /// Its type.
        kind: PermissionKind,
    },
    /// A target or token is the zero address.
    #[error("permissions[{index}] ({kind}): zero address")]
    ZeroAddress {
        /// The entry.
        index: usize,
        /// Its type.
        kind: PermissionKind,
    },
    /// More than one `native-token-transfer`.
    #[error("permissions[{index}]: at most one native-token-transfer permission")]
    MultipleNativeTokenTransfer {
        /// The second entry.
        index: usize,
    },
    /// More than one `gas-limit`.
    #[error("permissions[{index}]: at most one gas-limit permission")]
    MultipleGasLimit {
        /// The second entry.
        index: usize,
    },
    /// A functions list is empty.
    #[error("permissions[{index}] ({kind}): no functions provided")]
    NoFunctions {
        /// The entry.
        index: usize,
        /// Its type.
        kind: PermissionKind,
    },
    /// `account-functions` names a privileged selector.
    #[error("permissions[{index}] (account-functions): {name} ({selector}) cannot be granted on the account")]
    SelectorNotAllowed {
        /// The entry.
        index: usize,
        /// The selector.
        selector: Selector,
        /// Its function name.
        name: &'static str,
    },
    /// A non-root set grants no function (only `native-token-transfer` / `gas-limit`).
    #[error(
        "permissions grant no function: add one of functions-on-contract, functions-on-all-contracts, account-functions, contract-access or erc20-token-transfer"
    )]
    NoSelectorGranted,
}

/// Checks `permissions` for `account` against the rules of Alchemy's permission builder
/// (spec §3, §11). Addresses compare as bytes, so case never matters.
///
/// ```
/// use sesskey_types::{validate_permissions, Permission, PermissionError};
/// use alloy_primitives::Address;
///
/// let account = Address::repeat_byte(0x11);
/// assert_eq!(validate_permissions(&[Permission::Root], account), Ok(()));
/// assert_eq!(validate_permissions(&[], account), Err(PermissionError::Empty));
/// ```
pub fn validate_permissions(
    permissions: &[Permission],
    account: Address,
) -> Result<(), PermissionError> {
    if permissions.is_empty() {
        return Err(PermissionError::Empty);
    }
    let mut targets = HashSet::new();
    let (mut native, mut gas) = (false, false);
    if permissions.len() > 1 {
        if let Some(i) = permissions.iter().position(|p| *p == Permission::Root) {
            // The entry that conflicts is the later of the root and its first companion.
            return Err(PermissionError::RootNotAlone { index: i.max(1) });
        }
    }
    for (index, p) in permissions.iter().enumerate() {
        let kind = p.kind();
        match p {
            Permission::Root => {}
            Permission::NativeTokenTransfer(_) => {
                if std::mem::replace(&mut native, true) {
                    return Err(PermissionError::MultipleNativeTokenTransfer { index });
                }
            }
            Permission::GasLimit(_) => {
                if std::mem::replace(&mut gas, true) {
                    return Err(PermissionError::MultipleGasLimit { index });
                }
            }
            Permission::Erc20TokenTransfer(e) => {
                if e.address.is_zero() {
                    return Err(PermissionError::ZeroAddress { index, kind });
                }
            }
            Permission::ContractAccess(ContractAccess { address })
            | Permission::FunctionsOnContract(FunctionsOnContract { address, .. }) => {
                if let Permission::FunctionsOnContract(f) = p {
                    if f.functions.is_empty() {
                        return Err(PermissionError::NoFunctions { index, kind });
                    }
                }
                if address.is_zero() {
                    return Err(PermissionError::ZeroAddress { index, kind });
                }
                if *address == account {
                    return Err(PermissionError::AccountAsTarget { index, kind });
                }
                if !targets.insert(*address) {
                    return Err(PermissionError::DuplicateTarget {
                        index,
                        kind,
                        address: *address,
                    });
                }
            }
            Permission::FunctionsOnAllContracts(f) => {
                if f.functions.is_empty() {
                    return Err(PermissionError::NoFunctions { index, kind });
                }
            }
            Permission::AccountFunctions(f) => {
                if f.functions.is_empty() {
                    return Err(PermissionError::NoFunctions { index, kind });
                }
                if let Some((selector, name)) =
                    f.functions.iter().find_map(|s| privileged_selector_name(*s).map(|n| (*s, n)))
                {
                    return Err(PermissionError::SelectorNotAllowed { index, selector, name });
                }
            }
        }
    }
    if !permissions.iter().any(Permission::grants_selector) {
        return Err(PermissionError::NoSelectorGranted);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn privileged_selectors_match_their_signatures() {
        for (selector, sig) in PRIVILEGED_SELECTORS {
            assert_eq!(keccak256(sig)[..4], selector[..], "{sig}");
        }
    }

    #[test]
    fn root_serializes_without_data() {
        assert_eq!(serde_json::to_string(&Permission::Root).unwrap(), r#"{"type":"root"}"#);
        let p: Permission = serde_json::from_str(r#"{"type":"root"}"#).unwrap();
        assert_eq!(p, Permission::Root);
        assert!(serde_json::from_str::<Permission>(r#"{"type":"root","data":{"a":1}}"#).is_err());
    }
}

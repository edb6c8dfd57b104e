//! Permissions → `installValidation(bytes25,bytes4[],bytes,bytes[])`, and back (spec §3).
//!
//! The encoding follows Alchemy's `PermissionBuilder` (`@account-kit/smart-contracts@4.88.5`),
//! byte for byte on every case of `fixtures/external/vectors/mav2-permissions.json`.

use crate::abi::{
    installValidationCall, AllowlistInput, ALLOWLIST_MODULE, NATIVE_TOKEN_LIMIT_MODULE,
    SINGLE_SIGNER_VALIDATION, TIME_RANGE_MODULE,
};
use crate::{Error, Result};
use alloy_primitives::{aliases::U48, Address, Bytes, FixedBytes, U256};
use alloy_sol_types::{SolCall, SolValue};
use sesskey_types::{
    validate_permissions, ContractAccess, Erc20TokenTransfer, Functions, FunctionsOnContract,
    GasLimit, NativeTokenTransfer, Permission, Selector,
};

/// Validation flag: the validation can validate user operations.
pub const VALIDATION_USER_OP: u8 = 0x01;
/// Validation flag: the validation can validate ERC-1271 signatures (never set for sessions).
pub const VALIDATION_SIGNATURE: u8 = 0x02;
/// Validation flag: the validation is global (root sessions).
pub const VALIDATION_GLOBAL: u8 = 0x04;

/// Hook flag: a validation hook (else an execution hook).
pub const HOOK_VALIDATION: u8 = 0x01;
/// Hook flag: has a post hook.
pub const HOOK_POST: u8 = 0x02;
/// Hook flag: has a pre hook.
pub const HOOK_PRE: u8 = 0x04;

/// Offset of the entity ids of a session's offset hooks (ERC-20 spend limit, gas limit).
pub const HOOK_ENTITY_OFFSET: u32 = (1 << 31) - 1;
/// The largest entity id a session may use.
pub const MAX_ENTITY_ID: u32 = HOOK_ENTITY_OFFSET - 1;

/// ERC-20 `approve(address,uint256)`.
pub const APPROVE: Selector = FixedBytes([0x09, 0x5e, 0xa7, 0xb3]);
/// ERC-20 `transfer(address,uint256)`.
pub const TRANSFER: Selector = FixedBytes([0xa9, 0x05, 0x9c, 0xbb]);
/// ERC-20 `transferFrom(address,address,uint256)`.
pub const TRANSFER_FROM: Selector = FixedBytes([0x23, 0xb8, 0x72, 0xdd]);
/// `execute(address,uint256,bytes)`.
pub const EXECUTE: Selector = FixedBytes([0xb6, 0x1d, 0x27, 0xf6]);
/// `executeBatch((address,uint256,bytes)[])`.
pub const EXECUTE_BATCH: Selector = FixedBytes([0x34, 0xfc, 0xd5, 0xbe]);

/// A session as an `installValidation` call installs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInstall {
    /// The session key's address.
    pub session_key: Address,
    /// The validation entity id.
    pub entity_id: u32,
    /// Unix seconds after which the key is void; 0 = none.
    pub expiry: u64,
    /// What the key may do.
    pub permissions: Vec<Permission>,
}

fn hook(module: Address, entity_id: u32, flags: u8, init: Vec<u8>) -> Bytes {
    let mut out = Vec::with_capacity(25 + init.len());
    out.extend_from_slice(module.as_slice());
    out.extend_from_slice(&entity_id.to_be_bytes());
    out.push(flags);
    out.extend_from_slice(&init);
    out.into()
}

fn allowlist_init(entity_id: u32, entries: Vec<AllowlistInput>) -> Vec<u8> {
    (entity_id, entries).abi_encode_params()
}

fn entry(target: Address, selectors: &[Selector], has_selectors: bool) -> AllowlistInput {
    AllowlistInput {
        target,
        hasSelectorAllowlist: has_selectors,
        hasERC20SpendLimit: false,
        erc20SpendLimit: U256::ZERO,
        selectors: selectors.to_vec(),
    }
}

/// Encodes the `installValidation` call that installs `session` on `account`.
///
/// The permission set is checked first ([`validate_permissions`]); the entity id must be in
/// `1..=2^31-2` and the expiry fit in `uint48`.
pub fn encode_install(account: Address, session: &SessionInstall) -> Result<Bytes> {
    validate_permissions(&session.permissions, account)?;
    let entity = session.entity_id;
    if entity == 0 || entity > MAX_ENTITY_ID {
        return Err(Error::EntityId(entity));
    }
    if session.expiry >= 1 << 48 {
        return Err(Error::Deadline(session.expiry));
    }
    let offset_entity = entity + HOOK_ENTITY_OFFSET;
    let root = session.permissions.contains(&Permission::Root);

    let mut selectors: Vec<Selector> = Vec::new();
    let mut native = None;
    let mut gas = None;
    let mut erc20_entries = Vec::new();
    let mut allow_entries = Vec::new();
    for p in &session.permissions {
        match p {
            Permission::Root => {}
            Permission::NativeTokenTransfer(NativeTokenTransfer { allowance }) => {
                native = Some(*allowance)
            }
            Permission::GasLimit(GasLimit { limit }) => gas = Some(*limit),
            Permission::Erc20TokenTransfer(Erc20TokenTransfer { address, allowance }) => {
                erc20_entries.push(AllowlistInput {
                    target: *address,
                    hasSelectorAllowlist: false,
                    hasERC20SpendLimit: true,
                    erc20SpendLimit: *allowance,
                    selectors: vec![],
                });
                allow_entries.push(entry(*address, &[APPROVE, TRANSFER], true));
            }
            Permission::ContractAccess(ContractAccess { address }) => {
                allow_entries.push(entry(*address, &[], false))
            }
            Permission::FunctionsOnContract(FunctionsOnContract { address, functions }) => {
                allow_entries.push(entry(*address, functions, true))
            }
            Permission::FunctionsOnAllContracts(Functions { functions }) => {
                allow_entries.push(entry(Address::ZERO, functions, false))
            }
            Permission::AccountFunctions(Functions { functions }) => {
                selectors.extend_from_slice(functions)
            }
        }
    }

    let mut hooks = Vec::new();
    if session.expiry != 0 {
        let init = (entity, U48::from(session.expiry), U48::ZERO).abi_encode_params();
        hooks.push(hook(TIME_RANGE_MODULE, entity, HOOK_VALIDATION, init));
    }
    if let Some(limit) = native {
        hooks.push(hook(
            NATIVE_TOKEN_LIMIT_MODULE,
            entity,
            HOOK_PRE,
            (entity, limit).abi_encode_params(),
        ));
    }
    if !erc20_entries.is_empty() {
        let init = allowlist_init(offset_entity, erc20_entries);
        hooks.push(hook(ALLOWLIST_MODULE, offset_entity, HOOK_PRE, init));
    }
    if let Some(limit) = gas {
        let init = (offset_entity, limit).abi_encode_params();
        hooks.push(hook(
            NATIVE_TOKEN_LIMIT_MODULE,
            offset_entity,
            HOOK_VALIDATION | HOOK_PRE,
            init,
        ));
    }
    if !allow_entries.is_empty() {
        selectors.extend_from_slice(&[EXECUTE, EXECUTE_BATCH]);
        let init = allowlist_init(entity, allow_entries);
        hooks.push(hook(ALLOWLIST_MODULE, entity, HOOK_VALIDATION | HOOK_PRE, init));
    }

    let flags = VALIDATION_USER_OP | if root { VALIDATION_GLOBAL } else { 0 };
    let mut config = [0u8; 25];
    config[..20].copy_from_slice(SINGLE_SIGNER_VALIDATION.as_slice());
    config[20..24].copy_from_slice(&entity.to_be_bytes());
    config[24] = flags;
    let call = installValidationCall {
        validationConfig: FixedBytes(config),
        selectors,
        installData: (entity, session.session_key).abi_encode_params().into(),
        hooks,
    };
    Ok(call.abi_encode().into())
}

/// Checks a session's deadline at time `now`: it must fit in `uint48` and, unless 0 (none),
/// not be past.
pub fn check_deadline(deadline: u64, now: u64) -> Result<()> {
    if deadline >= 1 << 48 {
        return Err(Error::Deadline(deadline));
    }
    if deadline != 0 && deadline < now {
        return Err(Error::Expired { deadline, now });
    }
    Ok(())
}

/// Whether a session with these permissions has execution hooks, so that its ops' call data
/// must start with `executeUserOp` (spec §3).
pub fn has_exec_hooks(permissions: &[Permission]) -> bool {
    permissions.iter().any(|p| {
        matches!(p, Permission::NativeTokenTransfer(_) | Permission::Erc20TokenTransfer(_))
    })
}

fn split_hook(raw: &[u8]) -> Result<(Address, u32, u8, &[u8])> {
    if raw.len() < 25 {
        return Err(Error::decode("hook", format!("{} bytes, need at least 25", raw.len())));
    }
    let module = Address::from_slice(&raw[..20]);
    let entity = u32::from_be_bytes(raw[20..24].try_into().expect("4 bytes"));
    Ok((module, entity, raw[24], &raw[25..]))
}

/// Decodes an `installValidation` call back into the session it installs, so that a client can
/// check what it is asked to authorize. Anything sesskey would not have encoded (another
/// validation module, an unknown hook, inconsistent entity ids) is an error.
pub fn decode_install(call_data: &[u8]) -> Result<SessionInstall> {
    let call = installValidationCall::abi_decode_validate(call_data)
        .map_err(|e| Error::decode("installValidation call", e))?;
    if call.abi_encode() != call_data {
        return Err(Error::decode("installValidation call", "not in canonical ABI encoding"));
    }
    let config = call.validationConfig.0;
    let module = Address::from_slice(&config[..20]);
    if module != SINGLE_SIGNER_VALIDATION {
        return Err(Error::decode(
            "validation config",
            format!("module {module} is not SingleSignerValidation"),
        ));
    }
    let entity = u32::from_be_bytes(config[20..24].try_into().expect("4 bytes"));
    let flags = config[24];
    if flags & !(VALIDATION_USER_OP | VALIDATION_GLOBAL) != 0 || flags & VALIDATION_USER_OP == 0 {
        return Err(Error::decode("validation config", format!("unexpected flags {flags:#04x}")));
    }
    let root = flags & VALIDATION_GLOBAL != 0;
    let (install_entity, session_key) =
        <(u32, Address)>::abi_decode_params_validate(&call.installData)
            .map_err(|e| Error::decode("install data", e))?;
    if install_entity != entity {
        return Err(Error::decode(
            "install data",
            format!("entity {install_entity}, config says {entity}"),
        ));
    }
    if entity == 0 || entity > MAX_ENTITY_ID {
        return Err(Error::EntityId(entity));
    }
    let offset_entity = entity + HOOK_ENTITY_OFFSET;

    let mut expiry = 0;
    let mut permissions = Vec::new();
    let mut implied_erc20: Vec<Address> = Vec::new();
    let mut allow_entries = Vec::new();
    for raw in &call.hooks {
        let (module, hook_entity, hook_flags, init) = split_hook(raw)?;
        match (module, hook_flags) {
            (TIME_RANGE_MODULE, HOOK_VALIDATION) if hook_entity == entity => {
                let (e, until, after) = <(u32, U48, U48)>::abi_decode_params_validate(init)
                    .map_err(|e| Error::decode("time range hook", e))?;
                if e != entity || !after.is_zero() || until.is_zero() {
                    return Err(Error::decode(
                        "time range hook",
                        "unexpected entity or validAfter",
                    ));
                }
                expiry = until.to::<u64>();
            }
            (NATIVE_TOKEN_LIMIT_MODULE, HOOK_PRE) if hook_entity == entity => {
                let (e, allowance) = <(u32, U256)>::abi_decode_params_validate(init)
                    .map_err(|e| Error::decode("native token limit hook", e))?;
                if e != entity {
                    return Err(Error::decode("native token limit hook", "entity mismatch"));
                }
                permissions
                    .push(Permission::NativeTokenTransfer(NativeTokenTransfer { allowance }));
            }
            (NATIVE_TOKEN_LIMIT_MODULE, f)
                if f == HOOK_VALIDATION | HOOK_PRE && hook_entity == offset_entity =>
            {
                let (e, limit) = <(u32, U256)>::abi_decode_params_validate(init)
                    .map_err(|e| Error::decode("gas limit hook", e))?;
                if e != offset_entity {
                    return Err(Error::decode("gas limit hook", "entity mismatch"));
                }
                permissions.push(Permission::GasLimit(GasLimit { limit }));
            }
            (ALLOWLIST_MODULE, HOOK_PRE) if hook_entity == offset_entity => {
                let (e, entries) = <(u32, Vec<AllowlistInput>)>::abi_decode_params_validate(init)
                    .map_err(|e| Error::decode("erc20 allowlist hook", e))?;
                if e != offset_entity {
                    return Err(Error::decode("erc20 allowlist hook", "entity mismatch"));
                }
                for x in entries {
                    if x.hasSelectorAllowlist || !x.hasERC20SpendLimit || !x.selectors.is_empty() {
                        return Err(Error::decode(
                            "erc20 allowlist hook",
                            "entry is not a spend limit",
                        ));
                    }
                    implied_erc20.push(x.target);
                    permissions.push(Permission::Erc20TokenTransfer(Erc20TokenTransfer {
                        address: x.target,
                        allowance: x.erc20SpendLimit,
                    }));
                }
            }
            (ALLOWLIST_MODULE, f) if f == HOOK_VALIDATION | HOOK_PRE && hook_entity == entity => {
                let (e, entries) = <(u32, Vec<AllowlistInput>)>::abi_decode_params_validate(init)
                    .map_err(|e| Error::decode("allowlist hook", e))?;
                if e != entity {
                    return Err(Error::decode("allowlist hook", "entity mismatch"));
                }
                allow_entries = entries;
            }
            _ => {
                return Err(Error::decode(
                    "hook",
                    format!(
                    "unknown hook: module {module}, entity {hook_entity}, flags {hook_flags:#04x}"
                ),
                ))
            }
        }
    }
    for x in allow_entries {
        if x.hasERC20SpendLimit || !x.erc20SpendLimit.is_zero() {
            return Err(Error::decode("allowlist hook", "a validation entry with a spend limit"));
        }
        if x.hasSelectorAllowlist && x.selectors == [APPROVE, TRANSFER] {
            if let Some(i) = implied_erc20.iter().position(|t| *t == x.target) {
                implied_erc20.remove(i);
                continue;
            }
        }
        permissions.push(match (x.target.is_zero(), x.hasSelectorAllowlist) {
            (true, false) => {
                Permission::FunctionsOnAllContracts(Functions { functions: x.selectors })
            }
            (false, false) if x.selectors.is_empty() => {
                Permission::ContractAccess(ContractAccess { address: x.target })
            }
            (false, true) => Permission::FunctionsOnContract(FunctionsOnContract {
                address: x.target,
                functions: x.selectors,
            }),
            _ => return Err(Error::decode("allowlist hook", "an entry sesskey cannot express")),
        });
    }
    if !implied_erc20.is_empty() {
        return Err(Error::decode(
            "allowlist hook",
            "an ERC-20 spend limit without its transfer/approve entry",
        ));
    }
    let mut account_functions: Vec<Selector> = call.selectors;
    if permissions.iter().any(|p| {
        matches!(
            p,
            Permission::Erc20TokenTransfer(_)
                | Permission::ContractAccess(_)
                | Permission::FunctionsOnContract(_)
                | Permission::FunctionsOnAllContracts(_)
        )
    }) {
        if account_functions.len() < 2
            || account_functions[account_functions.len() - 2..] != [EXECUTE, EXECUTE_BATCH]
        {
            return Err(Error::decode(
                "selectors",
                "an allowlist without execute and executeBatch",
            ));
        }
        account_functions.truncate(account_functions.len() - 2);
    }
    if !account_functions.is_empty() {
        permissions.push(Permission::AccountFunctions(Functions { functions: account_functions }));
    }
    if root {
        if !permissions.is_empty() {
            return Err(Error::decode(
                "installValidation",
                "a global (root) validation with permissions",
            ));
        }
        permissions.push(Permission::Root);
    }
    Ok(SessionInstall { session_key, entity_id: entity, expiry, permissions })
}

/// A canonical order of a permission set, so that two sets granting the same thing compare
/// equal: `account-functions` entries merged into one, then every entry sorted by type and
/// content. Decoding an install call gives its permissions in this form.
pub fn canonical_permissions(permissions: &[Permission]) -> Vec<Permission> {
    let mut out: Vec<Permission> = Vec::new();
    let mut account_functions: Vec<Selector> = Vec::new();
    for p in permissions {
        match p {
            Permission::AccountFunctions(f) => account_functions.extend_from_slice(&f.functions),
            other => out.push(other.clone()),
        }
    }
    if !account_functions.is_empty() {
        out.push(Permission::AccountFunctions(Functions { functions: account_functions }));
    }
    out.sort_by_cached_key(|p| serde_json::to_string(p).unwrap_or_default());
    out
}

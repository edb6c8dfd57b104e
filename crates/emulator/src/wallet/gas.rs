//! Gas: the limits a prepared operation gets (from simulation, with a margin, as a bundler
//! estimates them), the gas an included operation uses, and checked fee arithmetic.

use super::errors::invalid;
use super::R;
use alloy_primitives::{U128, U256};
use sesskey_types::{GasParam, GasParamsOverride, UserOperationV07};

/// What deploying an SMA-B account adds to the op's validation (the factory's work).
pub(crate) use crate::chain::SMA_B_DEPLOY_GAS;

/// Verification gas limit of an owner's operation (it uses 27,060 on the real account).
pub(crate) const OWNER_VERIFICATION_GAS: u64 = 100_000;
/// Verification gas limit of a later operation of an installed session (spec §12: 120,000 was
/// enough for every permission set measured, sponsored or not).
pub(crate) const SESSION_VERIFICATION_GAS: u64 = 120_000;
/// The paymaster's validation gas limit.
pub(crate) const PAYMASTER_VERIFICATION_GAS: u64 = 30_000;
/// The least call gas limit of an operation.
const MIN_CALL_GAS: u64 = 30_000;
/// The margin of the call gas limit over what the account's path and the calls need, as a
/// bundler's estimate has one.
const CALL_GAS_MARGIN_PERCENT: u64 = 10;

/// What the account spends of the call gas around the calls, measured on ModularAccountV2 2.0.0
/// (spec §12.1, the smallest callGasLimit with which an op still succeeds).
mod path {
    /// `executeBatch` and the EntryPoint's inner call, for one call (18,888).
    pub(super) const BASE: u64 = 19_000;
    /// Each further call of a batch (its loop step and CALL).
    pub(super) const PER_CALL: u64 = 3_000;
    /// The native-token limit hook (a later op needs 44,596, 25,708 over the base).
    pub(super) const NATIVE_HOOK: u64 = 26_000;
    /// The allowlist's ERC-20 spend-limit hook, per limited token (a first op needs 48,638).
    pub(super) const ERC20_HOOK: u64 = 30_000;
    /// A root session's first op with no hook (56,094 on the real account).
    pub(super) const ROOT_FIRST_OP: u64 = 37_500;
}

/// What an included op spends outside its calls, by part (spec §12.1: owner op 107,869;
/// delegation 109,314; sponsored later ops 130,424–163,141; unsponsored 168,650–178,098, each
/// with the 50,000 preVerificationGas the emulator then gave).
mod used {
    /// The owner's validation (measured: 27,060).
    pub(super) const OWNER_VALIDATION: u64 = 27_060;
    /// An installed session's validation with no validation hook (measured from 49,615).
    pub(super) const SESSION_VALIDATION: u64 = 50_000;
    /// Each validation hook of a session: the allowlist, the time range, the gas limit
    /// (measured up to 80,842 with two).
    pub(super) const VALIDATION_HOOK: u64 = 15_000;
    /// The account paying the EntryPoint its prefund when no paymaster does (unsponsored
    /// validation measured at 94,562–102,604).
    pub(super) const PREFUND: u64 = 44_000;
    /// The paymaster's validation.
    pub(super) const PAYMASTER: u64 = 12_000;
    /// The EntryPoint's own work: the op's hash, the nonce, the event, the accounting.
    pub(super) const ENTRY_POINT: u64 = 8_000;
    /// The account's execution path around the calls.
    pub(super) const EXECUTION_PATH: u64 = 12_000;
    /// How much of a hook's call gas need it spends, in percent.
    pub(super) const HOOK_PERCENT: u64 = 80;
}

/// The verification gas limit of a session's first operation, whose validation runs the
/// deferred `installValidation`. Fitted to the smallest limits the real account accepts (spec
/// §12: 192,309 for a root session to 474,804 for an ERC-20 one), which grow with the install
/// call (its storage writes): 110,000 plus 300 per byte of the call, with a 15% margin.
pub(crate) fn first_op_verification_gas(install_call_len: usize) -> u64 {
    install_gas(install_call_len).saturating_mul(23) / 20
}

/// What a first op's validation spends running the install: the fitted minimum itself.
fn install_gas(install_call_len: usize) -> u64 {
    110_000u64.saturating_add((install_call_len as u64).saturating_mul(300))
}

/// Who validates an op, for the gas its validation spends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Validation {
    /// The owner (entity 0).
    Owner,
    /// A session's first op: the deferred install of a call this long.
    SessionFirst { install_call_len: usize },
    /// A later op of an installed session with this many validation hooks.
    SessionLater { hooks: u64 },
}

/// What runs around an op's calls: the account's execution path and the session's execution
/// hooks.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ExecPath {
    pub(crate) calls: usize,
    pub(crate) native_hook: bool,
    pub(crate) erc20_hooks: u64,
    pub(crate) root_first_op: bool,
}

impl ExecPath {
    /// The path of `calls` calls by `permissions` (none for the owner); `first_op` when the op
    /// installs the session, `deadline` its expiry (0: none).
    pub(crate) fn of(
        calls: usize,
        permissions: Option<&[sesskey_types::Permission]>,
        first_op: bool,
        deadline: u64,
    ) -> Self {
        use sesskey_types::Permission;
        let Some(perms) = permissions else { return Self { calls, ..Self::default() } };
        let native_hook = perms.iter().any(|p| matches!(p, Permission::NativeTokenTransfer(_)));
        let erc20_hooks =
            perms.iter().filter(|p| matches!(p, Permission::Erc20TokenTransfer(_))).count() as u64;
        let root = perms.contains(&Permission::Root);
        Self { calls, native_hook, erc20_hooks, root_first_op: root && first_op && deadline == 0 }
    }

    /// Call gas the path needs before the calls' own execution.
    pub(crate) fn overhead(&self) -> u64 {
        let mut gas = path::BASE
            .saturating_add(path::PER_CALL.saturating_mul(self.calls.saturating_sub(1) as u64));
        if self.native_hook {
            gas = gas.saturating_add(path::NATIVE_HOOK);
        }
        gas = gas.saturating_add(path::ERC20_HOOK.saturating_mul(self.erc20_hooks));
        if self.root_first_op {
            gas = gas.saturating_add(path::ROOT_FIRST_OP);
        }
        gas
    }

    /// What the path spends of its call gas when it runs (the hooks' writes, the batch loop).
    fn used(&self) -> u64 {
        let hooks = self.overhead().saturating_sub(path::BASE);
        used::EXECUTION_PATH.saturating_add(hooks.saturating_mul(used::HOOK_PERCENT) / 100)
    }
}

/// The call gas limit for calls that used `used` gas in simulation, on `path`: what they and the
/// path need, with a bundler's margin.
pub(crate) fn call_gas_limit(used: u64, path: &ExecPath) -> u64 {
    let need = path.overhead().saturating_add(used);
    need.saturating_add(need.saturating_mul(CALL_GAS_MARGIN_PERCENT) / 100).max(MIN_CALL_GAS)
}

/// Gas an included operation used, from what ran: its pre-verification gas, its validation (the
/// install of a first op, the prefund when the account pays), the paymaster's, the EntryPoint's
/// own work, the account's path and hooks, and the calls' execution. Never more than its limits
/// allow.
pub(crate) fn gas_used(
    op: &UserOperationV07,
    validation: Validation,
    path: &ExecPath,
    execution: u64,
) -> u64 {
    let sponsored = op.paymaster.is_some();
    let validation = match validation {
        Validation::Owner => used::OWNER_VALIDATION,
        Validation::SessionFirst { install_call_len } => {
            used::SESSION_VALIDATION.saturating_add(install_gas(install_call_len))
        }
        Validation::SessionLater { hooks } => {
            used::SESSION_VALIDATION.saturating_add(used::VALIDATION_HOOK.saturating_mul(hooks))
        }
    }
    .saturating_add(if sponsored { 0 } else { used::PREFUND })
    .saturating_add(if op.factory.is_some() { SMA_B_DEPLOY_GAS } else { 0 })
    .min(op.verification_gas_limit.saturating_to());
    let paymaster = if sponsored {
        used::PAYMASTER.min(op.paymaster_verification_gas_limit.unwrap_or_default().saturating_to())
    } else {
        0
    };
    let calls = path.used().saturating_add(execution).min(op.call_gas_limit.saturating_to::<u64>());
    op.pre_verification_gas
        .saturating_to::<u64>()
        .saturating_add(validation)
        .saturating_add(paymaster)
        .saturating_add(used::ENTRY_POINT)
        .saturating_add(calls)
}

/// The validation hooks of an installed session: the allowlist (a non-root session's targets
/// and selectors), the time range (an expiry), the gas limit.
pub(crate) fn validation_hooks(permissions: &[sesskey_types::Permission], deadline: u64) -> u64 {
    use sesskey_types::Permission;
    let root = permissions.contains(&Permission::Root);
    let gas = permissions.iter().any(|p| matches!(p, Permission::GasLimit(_)));
    u64::from(!root) + u64::from(deadline != 0) + u64::from(gas)
}

/// The reference bundler's `preVerificationGas` (eth-infinitism's `calcPreVerificationGas` for
/// EntryPoint v0.7: 16 per non-zero and 4 per zero byte of the ABI-encoded packed op, 4 per word,
/// 21,000 for the bundle and 18,300 per op), for `op` carrying a final signature of
/// `signature_len` bytes, with a 5% margin so the value written into the op (which changes its
/// own bytes) stays above the formula; never below 51,000, above the smallest overhead measured
/// for a one-op bundle on chain (50,159, spec §12.1).
pub(crate) fn pre_verification_gas(op: &UserOperationV07, signature_len: usize) -> u64 {
    use alloy_sol_types::SolValue;
    let packed = super::bundle::packed_op(op, vec![1u8; signature_len].into());
    let encoded = (packed,).abi_encode();
    let bytes: u64 = encoded.iter().map(|b| if *b == 0 { 4u64 } else { 16 }).sum();
    let words = (encoded.len() as u64).div_ceil(32);
    let formula = bytes + 21_000 + 18_300 + 4 * words;
    formula.saturating_add(formula / 20).max(MIN_PRE_VERIFICATION_GAS)
}

/// The least preVerificationGas of an op.
const MIN_PRE_VERIFICATION_GAS: u64 = 51_000;

/// The op's maximum cost, or a -32602 naming the field whose value makes it overflow.
pub(crate) fn max_cost_checked(op: &UserOperationV07) -> R<U256> {
    op.max_gas_cost().ok_or_else(|| {
        let fields = [
            ("preVerificationGas", op.pre_verification_gas),
            ("callGasLimit", U256::from(op.call_gas_limit)),
            ("verificationGasLimit", U256::from(op.verification_gas_limit)),
            ("paymasterVerificationGasLimit", U256::from(op.paymaster_verification_gas_limit.unwrap_or_default())),
            ("paymasterPostOpGasLimit", U256::from(op.paymaster_post_op_gas_limit.unwrap_or_default())),
        ];
        let (field, _) = fields.iter().max_by_key(|(_, v)| *v).expect("five fields");
        invalid(format!(
            "invalid `{field}`: the operation's maximum cost (its gas limits × maxFeePerGas) overflows 256 bits"
        ))
    })
}

/// The fee an included op pays per gas: `min(maxFeePerGas, baseFee + maxPriorityFeePerGas)`.
pub(crate) fn effective_gas_price(op: &UserOperationV07, base_fee: u64) -> u128 {
    let max = op.max_fee_per_gas.to::<u128>();
    let tip = op.max_priority_fee_per_gas.to::<u128>();
    max.min(u128::from(base_fee).saturating_add(tip))
}

/// Applies `gasParamsOverride`: absolute values, or multipliers of the emulator's estimates.
pub(crate) fn apply_gas_overrides(op: &mut UserOperationV07, o: &GasParamsOverride) -> R<()> {
    fn value(current: U256, p: &GasParam, field: &str) -> R<U256> {
        match p {
            GasParam::Absolute(v) => Ok(*v),
            GasParam::Multiplier { multiplier } if multiplier.is_finite() && *multiplier > 0.0 => {
                let scaled = (current.saturating_to::<u128>() as f64 * multiplier).ceil();
                if scaled >= u128::MAX as f64 {
                    return Err(invalid(format!(
                        "invalid `capabilities.gasParamsOverride.{field}`: too large"
                    )));
                }
                Ok(U256::from(scaled as u128))
            }
            GasParam::Multiplier { .. } => Err(invalid(format!(
                "invalid `capabilities.gasParamsOverride.{field}.multiplier`: must be a positive number"
            ))),
        }
    }
    fn set128(slot: &mut U128, p: &Option<GasParam>, field: &str) -> R<()> {
        if let Some(p) = p {
            let v = value(U256::from(*slot), p, field)?;
            if v.bit_len() > 128 {
                return Err(invalid(format!(
                    "invalid `capabilities.gasParamsOverride.{field}`: above 128 bits"
                )));
            }
            *slot = U128::from(v.to::<u128>());
        }
        Ok(())
    }
    set128(&mut op.call_gas_limit, &o.call_gas_limit, "callGasLimit")?;
    set128(&mut op.verification_gas_limit, &o.verification_gas_limit, "verificationGasLimit")?;
    set128(&mut op.max_fee_per_gas, &o.max_fee_per_gas, "maxFeePerGas")?;
    set128(&mut op.max_priority_fee_per_gas, &o.max_priority_fee_per_gas, "maxPriorityFeePerGas")?;
    if let Some(p) = &o.pre_verification_gas {
        let v = value(op.pre_verification_gas, p, "preVerificationGas")?;
        if v.bit_len() > 128 {
            return Err(invalid(
                "invalid `capabilities.gasParamsOverride.preVerificationGas`: above 128 bits",
            ));
        }
        op.pre_verification_gas = v;
    }
    if let Some(slot) = op.paymaster_verification_gas_limit.as_mut() {
        set128(slot, &o.paymaster_verification_gas_limit, "paymasterVerificationGasLimit")?;
    }
    if let Some(slot) = op.paymaster_post_op_gas_limit.as_mut() {
        set128(slot, &o.paymaster_post_op_gas_limit, "paymasterPostOpGasLimit")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_cost_never_wraps() {
        let op = UserOperationV07 {
            pre_verification_gas: U256::MAX,
            max_fee_per_gas: U128::from(2u8),
            ..Default::default()
        };
        assert_eq!(op.max_gas_cost(), None);
        let err = max_cost_checked(&op).unwrap_err().to_string();
        assert!(err.contains("preVerificationGas"), "{err}");
        let op = UserOperationV07 {
            pre_verification_gas: U256::from(1u64) << 200,
            max_fee_per_gas: U128::MAX,
            ..Default::default()
        };
        let err = max_cost_checked(&op).unwrap_err().to_string();
        assert!(err.contains("`preVerificationGas`") && err.contains("maxFeePerGas"), "{err}");
    }
}

#[cfg(test)]
mod first_op_tests {
    use super::first_op_verification_gas;
    use alloy_primitives::{Address, U256};
    use sesskey_account::{encode_install, SessionInstall};
    use sesskey_types::*;

    /// Spec §12: the smallest `verificationGasLimit` with which the real ModularAccountV2 2.0.0
    /// accepts a session's first op, per permission set (measured on the real contracts).
    #[test]
    fn the_first_op_model_covers_every_measured_minimum() {
        let target = Address::repeat_byte(0x51);
        let contract = Permission::ContractAccess(ContractAccess { address: target });
        let sets: [(&str, Vec<Permission>, u64); 6] = [
            ("root", vec![Permission::Root], 192_309),
            ("contract-access", vec![contract.clone()], 325_903),
            (
                "functions-on-contract",
                vec![Permission::FunctionsOnContract(FunctionsOnContract {
                    address: target,
                    functions: vec![Selector::from([1, 2, 3, 4])],
                })],
                350_951,
            ),
            (
                "gas-limit + contract-access",
                vec![
                    Permission::GasLimit(GasLimit { limit: U256::from(10u64.pow(16)) }),
                    contract.clone(),
                ],
                381_567,
            ),
            (
                "native-token-transfer + contract-access",
                vec![
                    Permission::NativeTokenTransfer(NativeTokenTransfer {
                        allowance: U256::from(10u64.pow(17)),
                    }),
                    contract,
                ],
                397_338,
            ),
            (
                "erc20-token-transfer",
                vec![Permission::Erc20TokenTransfer(Erc20TokenTransfer {
                    address: Address::repeat_byte(0x70),
                    allowance: U256::from(1000),
                })],
                474_804,
            ),
        ];
        for (name, permissions, minimum) in sets {
            for expiry in [0, 1_900_000_000] {
                let install = SessionInstall {
                    session_key: Address::repeat_byte(0x5e),
                    entity_id: 1,
                    expiry,
                    permissions: permissions.clone(),
                };
                let call = encode_install(Address::repeat_byte(0xaa), &install).unwrap();
                let modelled = first_op_verification_gas(call.len());
                assert!(modelled >= minimum, "{name} (expiry {expiry}): {modelled} < {minimum}");
                assert!(
                    modelled * 10 <= minimum * 16,
                    "{name} (expiry {expiry}): {modelled} is over 1.6 × {minimum}"
                );
            }
        }
    }
}

//! Gas: the limits a prepared operation gets (from simulation, with a margin, as a bundler
//! estimates them), the gas an included operation uses, and checked fee arithmetic.

use super::errors::invalid;
use super::R;
use alloy_primitives::{U128, U256};
use sesskey_types::{GasParam, GasParamsOverride, UserOperationV07};

/// Verification gas of an owner's operation (ECDSA check, nonce, account load).
pub(crate) const OWNER_VERIFICATION_GAS: u64 = 100_000;
/// Verification gas of a later operation of an installed session (spec §12: 120,000 was enough
/// for every permission set measured).
pub(crate) const SESSION_VERIFICATION_GAS: u64 = 120_000;
/// Gas the bundler charges outside execution (calldata, bundle overhead).
pub(crate) const PRE_VERIFICATION_GAS: u64 = 50_000;
/// The paymaster's validation gas limit, and what it uses.
pub(crate) const PAYMASTER_VERIFICATION_GAS: u64 = 30_000;
/// The least call gas limit of an operation.
const MIN_CALL_GAS: u64 = 30_000;
/// What the account spends around each call (`executeBatch` loop, CALL, hooks).
const CALL_OVERHEAD: u64 = 9_000;
/// How much of the verification gas limit an op actually uses.
const VERIFICATION_USED_PERCENT: u64 = 70;

/// The verification gas limit of a session's first operation, whose validation runs the
/// deferred `installValidation`. Fitted to the smallest limits the real account accepts (spec
/// §12: 192,309 for a root session to 474,804 for an ERC-20 one), which grow with the install
/// call (its storage writes): 110,000 plus 300 per byte of the call, with a 15% margin.
pub(crate) fn first_op_verification_gas(install_call_len: usize) -> u64 {
    let bytes = install_call_len as u64;
    110_000u64.saturating_add(bytes.saturating_mul(300)).saturating_mul(23) / 20
}

/// The call gas limit for calls that used `used` gas in simulation: 25% margin and overhead.
pub(crate) fn call_gas_limit(used: u64, calls: usize) -> u64 {
    let overhead = CALL_OVERHEAD.saturating_mul(calls as u64 + 1);
    used.saturating_mul(5).div_ceil(4).saturating_add(overhead).max(MIN_CALL_GAS)
}

/// Gas an included operation used: its pre-verification gas, most of its verification, the
/// paymaster's, and its calls' execution.
pub(crate) fn gas_used(op: &UserOperationV07, execution: u64, calls: usize) -> u64 {
    let verification =
        op.verification_gas_limit.saturating_to::<u64>().saturating_mul(VERIFICATION_USED_PERCENT)
            / 100;
    let paymaster = op
        .paymaster_verification_gas_limit
        .map(|g| g.saturating_to::<u64>().min(PAYMASTER_VERIFICATION_GAS))
        .unwrap_or(0);
    op.pre_verification_gas
        .saturating_to::<u64>()
        .saturating_add(verification)
        .saturating_add(paymaster)
        .saturating_add(execution)
        .saturating_add(CALL_OVERHEAD.saturating_mul(calls as u64))
}

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

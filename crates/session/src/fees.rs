//! Bounds on what a prepared operation may ask the key to sign for: a server that raises a fee
//! or a gas limit, and re-hashes consistently, still gets no signature.

use crate::error::{mismatch, Result};
use alloy_primitives::{U128, U256};
use sesskey_types::UserOperationV07;

/// Caps on a prepared operation's fee and gas fields; an op over any is refused before signing.
///
/// The defaults are what the chains Alchemy serves need, with room, and no more:
/// - 200 gwei per gas and a 50 gwei tip (Polygon PoS asks at least 25 gwei of tip; Ethereum's base
///   fee stays far below 200 gwei outside of rare spikes: raise the cap for those);
/// - 5M call gas (a heavy contract call; an ERC-20 transfer needs about 60k);
/// - 1.5M verification gas (a session's first op, which installs it, needs up to 749,444 on the
///   real contracts for a 2.5 kB install, spec §12.1; a server's estimate adds its margin);
/// - 1M pre-verification gas (bundlers charge 50k–75k on L1; L2s fold the L1 data fee into it);
/// - 200k for each paymaster limit (Alchemy's paymaster verifies in about 30k);
/// - 6M for all the op's gas limits together.
///
/// At the defaults an op can never cost more than 1.2 ETH of gas (6M × 200 gwei); a session's
/// native and gas budgets bound an unsponsored op further (see
/// [`sesskey_account::Policy::evaluate_worst_case`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeCaps {
    /// The most `maxFeePerGas` may be, in wei.
    pub max_fee_per_gas: u128,
    /// The most `maxPriorityFeePerGas` may be, in wei.
    pub max_priority_fee_per_gas: u128,
    /// The most `callGasLimit` may be.
    pub call_gas_limit: u128,
    /// The most `verificationGasLimit` may be.
    pub verification_gas_limit: u128,
    /// The most `preVerificationGas` may be.
    pub pre_verification_gas: u128,
    /// The most each paymaster gas limit may be.
    pub paymaster_gas_limit: u128,
    /// The most all the op's gas limits may add up to (pre-verification, verification, call
    /// and paymaster gas): with `max_fee_per_gas`, the most an op may cost.
    pub total_gas: u128,
}

impl Default for FeeCaps {
    fn default() -> Self {
        Self {
            max_fee_per_gas: 200_000_000_000,
            max_priority_fee_per_gas: 50_000_000_000,
            call_gas_limit: 5_000_000,
            verification_gas_limit: 1_500_000,
            pre_verification_gas: 1_000_000,
            paymaster_gas_limit: 200_000,
            total_gas: 6_000_000,
        }
    }
}

impl FeeCaps {
    /// No caps at all (for tests against a server you trust).
    pub const UNBOUNDED: Self = Self {
        max_fee_per_gas: u128::MAX,
        max_priority_fee_per_gas: u128::MAX,
        call_gas_limit: u128::MAX,
        verification_gas_limit: u128::MAX,
        pre_verification_gas: u128::MAX,
        paymaster_gas_limit: u128::MAX,
        total_gas: u128::MAX,
    };

    /// Refuses an op whose fee or gas fields exceed the caps, naming the field.
    pub fn check(&self, op: &UserOperationV07) -> Result<()> {
        let over = |field: &'static str, value: U256, cap: u128| {
            if value > U256::from(cap) {
                Err(mismatch(field, format!("at most {cap}"), value))
            } else {
                Ok(())
            }
        };
        let u = |v: U128| U256::from(v);
        over("data.maxFeePerGas", u(op.max_fee_per_gas), self.max_fee_per_gas)?;
        over(
            "data.maxPriorityFeePerGas",
            u(op.max_priority_fee_per_gas),
            self.max_priority_fee_per_gas,
        )?;
        over("data.callGasLimit", u(op.call_gas_limit), self.call_gas_limit)?;
        over(
            "data.verificationGasLimit",
            u(op.verification_gas_limit),
            self.verification_gas_limit,
        )?;
        over("data.preVerificationGas", op.pre_verification_gas, self.pre_verification_gas)?;
        over(
            "data.paymasterVerificationGasLimit",
            u(op.paymaster_verification_gas_limit.unwrap_or_default()),
            self.paymaster_gas_limit,
        )?;
        over(
            "data.paymasterPostOpGasLimit",
            u(op.paymaster_post_op_gas_limit.unwrap_or_default()),
            self.paymaster_gas_limit,
        )?;
        over("data (sum of the gas limits)", total_gas(op), self.total_gas)
    }
}

/// The sum of an op's gas limits (saturating: a sum past 256 bits is over any cap anyway).
fn total_gas(op: &UserOperationV07) -> U256 {
    [
        U256::from(op.call_gas_limit),
        U256::from(op.verification_gas_limit),
        op.pre_verification_gas,
        U256::from(op.paymaster_verification_gas_limit.unwrap_or_default()),
        U256::from(op.paymaster_post_op_gas_limit.unwrap_or_default()),
    ]
    .into_iter()
    .fold(U256::ZERO, U256::saturating_add)
}

/// The most an op may cost: all its gas at its maximum fee, or `None` if that overflows
/// ([`UserOperationV07::max_gas_cost`]).
pub fn max_gas_cost(op: &UserOperationV07) -> Option<U256> {
    op.max_gas_cost()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_caps_bound_the_cost() {
        let c = FeeCaps::default();
        // Every limit at its cap but the call gas, which takes what the total leaves.
        let op = UserOperationV07 {
            max_fee_per_gas: U128::from(c.max_fee_per_gas),
            max_priority_fee_per_gas: U128::from(c.max_priority_fee_per_gas),
            call_gas_limit: U128::from(3_100_000),
            verification_gas_limit: U128::from(c.verification_gas_limit),
            pre_verification_gas: U256::from(c.pre_verification_gas),
            paymaster_verification_gas_limit: Some(U128::from(c.paymaster_gas_limit)),
            paymaster_post_op_gas_limit: Some(U128::from(c.paymaster_gas_limit)),
            ..Default::default()
        };
        c.check(&op).unwrap();
        assert_eq!(max_gas_cost(&op), Some(U256::from(1_200_000_000_000_000_000u128)));
        let over =
            UserOperationV07 { max_fee_per_gas: U128::from(c.max_fee_per_gas + 1), ..op.clone() };
        let e = c.check(&over).unwrap_err();
        assert!(matches!(e, crate::Error::Mismatch { field: "data.maxFeePerGas", .. }), "{e}");
        let more = UserOperationV07 { call_gas_limit: U128::from(3_100_001), ..op };
        let e = c.check(&more).unwrap_err();
        assert!(
            matches!(e, crate::Error::Mismatch { field: "data (sum of the gas limits)", .. }),
            "{e}"
        );
        let huge = UserOperationV07 { pre_verification_gas: U256::MAX, ..Default::default() };
        assert_eq!(
            max_gas_cost(&UserOperationV07 { max_fee_per_gas: U128::from(2), ..huge }),
            None
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Over the whole range of every fee and gas field and of every cap: an op is refused
        /// exactly when a field is over its cap, naming the first such field.
        #[test]
        fn caps_refuse_exactly_what_is_over(
            fields in proptest::array::uniform7(proptest::prelude::any::<u128>()),
            caps in proptest::array::uniform7(proptest::prelude::any::<u128>()),
            shifts in proptest::array::uniform7(0u32..128),
        ) {
            // Shifted down so that small values are as likely as huge ones.
            let f: Vec<u128> = fields.iter().zip(shifts).map(|(v, s)| v >> s).collect();
            let c = FeeCaps {
                max_fee_per_gas: caps[0],
                max_priority_fee_per_gas: caps[1],
                call_gas_limit: caps[2],
                verification_gas_limit: caps[3],
                pre_verification_gas: caps[4],
                paymaster_gas_limit: caps[5],
                total_gas: caps[6],
            };
            let op = UserOperationV07 {
                max_fee_per_gas: U128::from(f[0]),
                max_priority_fee_per_gas: U128::from(f[1]),
                call_gas_limit: U128::from(f[2]),
                verification_gas_limit: U128::from(f[3]),
                pre_verification_gas: U256::from(f[4]),
                paymaster_verification_gas_limit: Some(U128::from(f[5])),
                paymaster_post_op_gas_limit: Some(U128::from(f[6])),
                ..Default::default()
            };
            let checks = [
                ("data.maxFeePerGas", f[0] > c.max_fee_per_gas),
                ("data.maxPriorityFeePerGas", f[1] > c.max_priority_fee_per_gas),
                ("data.callGasLimit", f[2] > c.call_gas_limit),
                ("data.verificationGasLimit", f[3] > c.verification_gas_limit),
                ("data.preVerificationGas", f[4] > c.pre_verification_gas),
                ("data.paymasterVerificationGasLimit", f[5] > c.paymaster_gas_limit),
                ("data.paymasterPostOpGasLimit", f[6] > c.paymaster_gas_limit),
                (
                    "data (sum of the gas limits)",
                    [f[2], f[3], f[4], f[5], f[6]]
                        .iter()
                        .fold(U256::ZERO, |a, v| a.saturating_add(U256::from(*v)))
                        > U256::from(c.total_gas),
                ),
            ];
            match (c.check(&op), checks.iter().find(|(_, over)| *over)) {
                (Ok(()), None) => {}
                (Err(crate::Error::Mismatch { field, .. }), Some((first, _))) => {
                    proptest::prop_assert_eq!(field, *first);
                }
                (got, want) => proptest::prop_assert!(false, "{got:?} but {want:?}"),
            }
        }
    }
}

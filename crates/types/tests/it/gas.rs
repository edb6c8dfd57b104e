//! `UserOperationV07::max_gas_cost` over the whole range of every gas and fee field, against
//! the same sum and product computed in 512 bits (where nothing can overflow).

use alloy_primitives::{U128, U256, U512};
use proptest::prelude::*;
use sesskey_types::UserOperationV07;

/// Values spread over the whole range: small ones, values near each power of two, and the
/// extremes (uniform draws alone would almost never be small).
fn u256() -> impl Strategy<Value = U256> {
    prop_oneof![
        any::<u64>().prop_map(U256::from),
        (0usize..256, any::<u64>())
            .prop_map(|(shift, low)| (U256::from(1) << shift).saturating_add(U256::from(low))),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
        Just(U256::MAX),
        Just(U256::ZERO),
    ]
}

fn u128_() -> impl Strategy<Value = U128> {
    prop_oneof![
        any::<u64>().prop_map(U128::from),
        (0usize..128, any::<u64>())
            .prop_map(|(shift, low)| (U128::from(1) << shift).saturating_add(U128::from(low))),
        any::<u128>().prop_map(U128::from),
        Just(U128::MAX),
    ]
}

fn op() -> impl Strategy<Value = UserOperationV07> {
    (
        u128_(),
        u128_(),
        u256(),
        u128_(),
        u128_(),
        proptest::option::of(u128_()),
        proptest::option::of(u128_()),
    )
        .prop_map(|(call, verification, pre, fee, tip, pm_v, pm_post)| UserOperationV07 {
            call_gas_limit: call,
            verification_gas_limit: verification,
            pre_verification_gas: pre,
            max_fee_per_gas: fee,
            max_priority_fee_per_gas: tip,
            paymaster_verification_gas_limit: pm_v,
            paymaster_post_op_gas_limit: pm_post,
            ..Default::default()
        })
}

fn wide(v: U256) -> U512 {
    U512::from(v)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn max_gas_cost_is_exact_or_none(op in op()) {
        let u = |v: U128| wide(U256::from(v));
        let total = u(op.call_gas_limit)
            + u(op.verification_gas_limit)
            + wide(op.pre_verification_gas)
            + u(op.paymaster_verification_gas_limit.unwrap_or_default())
            + u(op.paymaster_post_op_gas_limit.unwrap_or_default());
        let cost = total * u(op.max_fee_per_gas);
        let fits = |v: U512| v <= wide(U256::MAX);
        match op.total_gas() {
            Some(t) => prop_assert_eq!(wide(t), total),
            None => prop_assert!(!fits(total)),
        }
        match op.max_gas_cost() {
            Some(c) => prop_assert_eq!(wide(c), cost),
            None => prop_assert!(!fits(cost)),
        }
    }
}

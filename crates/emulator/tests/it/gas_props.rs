//! Gas and fee fields over their whole range, through the server: whatever a client asks in
//! `gasParamsOverride`, prepare answers the op's exact maximum cost or refuses it, an
//! unsponsored op is never included without the funds for that cost, and a session never gets
//! ops through whose maximum costs add up past its `gas-limit`.

use crate::helpers::*;
use alloy_primitives::{U256, U64};
use std::cell::Cell;

const SHOP: alloy_primitives::Address = alloy_primitives::Address::repeat_byte(0x51);
use proptest::prelude::*;
use sesskey_rpc::*;
use sesskey_types::*;

/// A value over the whole 256-bit range (small, a power of two and around it, uniform, the
/// extremes), as an absolute override.
fn param() -> impl Strategy<Value = Option<GasParam>> {
    let value = prop_oneof![
        (0u64..3_000_000).prop_map(U256::from),
        (0usize..256).prop_map(|s| U256::from(1) << s),
        (1usize..256).prop_map(|s| (U256::from(1) << s) - U256::from(1)),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
        Just(U256::MAX),
    ];
    proptest::option::of(value.prop_map(GasParam::Absolute))
}

fn overrides() -> impl Strategy<Value = GasParamsOverride> {
    (param(), param(), param(), param(), param()).prop_map(|(pre, verif, call, fee, tip)| {
        GasParamsOverride {
            pre_verification_gas: pre,
            verification_gas_limit: verif,
            call_gas_limit: call,
            max_fee_per_gas: fee,
            max_priority_fee_per_gas: tip,
            ..Default::default()
        }
    })
}

/// What one try did.
enum Tried {
    Refused,
    Sent { max_cost: U256, confirmed: bool },
}

/// Prepares (with `session`, or as the owner), checks `maxAmount`, signs and sends; waits for
/// the outcome.
async fn attempt(
    env: &Env,
    session: Option<&PermissionsCapability>,
    o: GasParamsOverride,
) -> Tried {
    let caps = PrepareCallsCapabilities {
        gas_params_override: Some(o),
        permissions: session.cloned(),
        ..Default::default()
    };
    let Ok(PreparedCalls::UserOperationV070(op)) = env
        .client
        .prepare_calls(env.prepare_params(vec![Call { to: SHOP, data: None, value: None }], caps))
        .await
    else {
        return Tried::Refused;
    };
    let max_cost = op.data.max_gas_cost().expect("a prepared op's cost fits 256 bits");
    let quoted = op.fee_payment.as_ref().expect("an unsponsored op quotes its fee").max_amount;
    assert_eq!(quoted, max_cost, "feePayment.maxAmount is the op's exact maximum cost");
    let signer = if session.is_some() { &env.session_key } else { &env.owner };
    let Ok(sent) = env.client.send_prepared_calls(signed(signer, op, session.cloned()).await).await
    else {
        return Tried::Refused;
    };
    let status = env.client.get_calls_status(CallId(sent.id)).await.unwrap();
    Tried::Sent { max_cost, confirmed: status.status == CallStatusCode::Confirmed }
}

#[test]
fn no_gas_value_lets_an_op_through_unpaid() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (env, session, gas_limit) = rt.block_on(async {
        let env = Env::start().await;
        env.delegate().await;
        let gas_limit = U256::from(10u64.pow(16));
        let session = env
            .session(
                vec![
                    Permission::ContractAccess(ContractAccess { address: SHOP }),
                    Permission::GasLimit(GasLimit { limit: gas_limit }),
                ],
                None,
            )
            .await;
        (env, PermissionsCapability::from(&session), gas_limit)
    });
    let balance = U256::from(10u64.pow(17));
    let session_spent = Cell::new(U256::ZERO);
    let included = Cell::new(0u32);
    let config = ProptestConfig { cases: 128, failure_persistence: None, ..Default::default() };
    proptest!(config, |(o in overrides(), with_session in any::<bool>())| {
        rt.block_on(async {
            env.fund(env.account(), balance).await;
            let session = with_session.then_some(&session);
            match attempt(&env, session, o).await {
                Tried::Refused => {}
                Tried::Sent { max_cost, confirmed } => {
                    if confirmed {
                        included.set(included.get() + 1);
                        assert!(max_cost <= balance, "included without funds for {max_cost}");
                        let now = env.client.get_balance(U64::from(CHAIN), env.account()).await.unwrap();
                        assert!(balance - now <= max_cost, "charged more than the maximum cost");
                        if session.is_some() {
                            let total = session_spent.get().checked_add(max_cost).unwrap();
                            session_spent.set(total);
                            assert!(total <= gas_limit, "past the session's gas-limit");
                        }
                    }
                }
            }
        });
    });
    // The run is only worth something if some ops got through (about one in ten does).
    assert!(included.get() > 0, "no op was included: the property was never exercised");
}

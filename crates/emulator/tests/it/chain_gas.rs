//! Gas as the chain charges it, against the figures measured on the real ModularAccountV2 2.0.0
//! and EntryPoint v0.7 (spec §12.1, "The same contracts against the emulator at commit 4814a1e"):
//! the call gas limits cover the account's path and hooks, an op whose call gas is short of them
//! is included and fails as on chain, and the gas used lands within 10% of the chain's.

use crate::helpers::*;
use alloy_primitives::{Address, U256, U64};
use alloy_sol_types::SolEvent;
use sesskey_rpc::{EmulatorApiClient, WalletApiClient};
use sesskey_types::*;

alloy_sol_types::sol! {
    event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed);
    event UserOperationRevertReason(bytes32 indexed userOpHash, address indexed sender, uint256 nonce, bytes revertReason);
}

const SHOP: Address = Address::repeat_byte(0x51);

fn unsponsored() -> PrepareCallsCapabilities {
    PrepareCallsCapabilities::default()
}

/// Prepares `calls` (through `session` when given), signs and sends; answers the prepared op and
/// the final status.
async fn run(
    env: &Env,
    session: Option<&PermissionsCapability>,
    calls: Vec<Call>,
    mut caps: PrepareCallsCapabilities,
) -> (UserOperationV07, CallsStatus) {
    caps.permissions = session.cloned();
    let prepared = env.client.prepare_calls(env.prepare_params(calls, caps)).await.unwrap();
    let PreparedCalls::UserOperationV070(op) = prepared else { panic!("one op") };
    let data = op.data.clone();
    let signer = if session.is_some() { &env.session_key } else { &env.owner };
    let sent = env.client.send_prepared_calls(signed(signer, op, session.cloned()).await).await;
    let status = env.client.get_calls_status(CallId(sent.unwrap().id)).await.unwrap();
    (data, status)
}

/// The op's `UserOperationEvent`: (success, actualGasUsed), and whether a revert reason was
/// logged.
fn event(status: &CallsStatus) -> (bool, u64, bool) {
    let logs = &status.receipts.as_ref().expect("included")[0].logs;
    let e = logs
        .iter()
        .find(|l| l.topics.first() == Some(&UserOperationEvent::SIGNATURE_HASH))
        .expect("a UserOperationEvent");
    let decoded = UserOperationEvent::decode_raw_log(e.topics.iter().copied(), &e.data).unwrap();
    let reason =
        logs.iter().any(|l| l.topics.first() == Some(&UserOperationRevertReason::SIGNATURE_HASH));
    (decoded.success, decoded.actualGasUsed.to(), reason)
}

fn within(name: &str, got: u64, low: u64, high: u64) {
    let (lo, hi) = (low * 9 / 10, high * 11 / 10);
    assert!((lo..=hi).contains(&got), "{name}: {got} gas, the chain's {low}–{high} ± 10%");
}

#[tokio::test]
async fn gas_used_is_within_ten_percent_of_the_chains() {
    let env = Env::start().await;
    env.fund(env.account(), U256::from(10u64.pow(18))).await;
    // The delegation (an owner op with the authorization): 109,314 on chain.
    let delegation = env.delegate_with_status().await;
    within("delegation", event(&delegation).1, 109_314, 109_314);

    // An owner op: 107,869.
    let (_, owner) = run(&env, None, vec![Call::default()], Env::sponsored()).await;
    within("owner op", event(&owner).1, 107_869, 107_869);

    // Later ops of installed sessions, sponsored: 130,424–163,141; unsponsored: 168,650–178,098.
    let root = env.session(vec![Permission::Root], None).await;
    let cap = PermissionsCapability::from(&root);
    let call = Call { to: SHOP, data: None, value: None };
    run(&env, Some(&cap), vec![call.clone()], Env::sponsored()).await;
    let (_, later) = run(&env, Some(&cap), vec![call.clone()], Env::sponsored()).await;
    within("sponsored later op", event(&later).1, 130_424, 163_141);
    let (_, paid) = run(&env, Some(&cap), vec![call], unsponsored()).await;
    within("unsponsored later op", event(&paid).1, 168_650, 178_098);
}

/// (session, its permissions and expiry, the call, the smallest callGasLimit of a first op and of
/// a later op on the real account).
type GasCase = (&'static str, Vec<Permission>, Option<u64>, Call, u64, u64);

#[tokio::test]
async fn call_gas_covers_the_accounts_path_and_hooks() {
    let env = Env::start().await;
    env.delegate().await;
    let token = Address::repeat_byte(0x70);
    let native = Permission::NativeTokenTransfer(NativeTokenTransfer {
        allowance: U256::from(10u64.pow(17)),
    });
    let contract = Permission::ContractAccess(ContractAccess { address: SHOP });
    let erc20 = Permission::Erc20TokenTransfer(Erc20TokenTransfer {
        address: token,
        allowance: U256::from(1000),
    });
    let transfer = alloy_sol_types::SolCall::abi_encode(&sesskey_account::abi::transferCall {
        to: SHOP,
        amount: U256::from(5),
    });
    env.client
        .set_erc20_balance(U64::from(CHAIN), token, env.account(), U256::from(1000))
        .await
        .ok();
    // (session, expiry, call, smallest callGasLimit of a first op, of a later op), spec §12.1.
    let cases: Vec<GasCase> = vec![
        (
            "root",
            vec![Permission::Root],
            None,
            Call { to: SHOP, data: None, value: None },
            56_094,
            18_888,
        ),
        (
            "root, 1h",
            vec![Permission::Root],
            Some(START + 3600),
            Call { to: SHOP, data: None, value: None },
            18_888,
            18_888,
        ),
        (
            "native + contract-access, a call with value",
            vec![native.clone(), contract.clone()],
            None,
            Call { to: SHOP, data: None, value: Some(U256::from(7)) },
            35_695,
            44_596,
        ),
        (
            "native + contract-access, 1h",
            vec![native, contract],
            Some(START + 3600),
            Call { to: SHOP, data: None, value: Some(U256::from(7)) },
            35_771,
            44_596,
        ),
        (
            "erc20-token-transfer, a transfer",
            vec![erc20],
            None,
            Call { to: token, data: Some(transfer.into()), value: None },
            48_638,
            39_540,
        ),
    ];
    env.fund(env.account(), U256::from(10u64.pow(18))).await;
    for (name, permissions, expiry, call, first_min, later_min) in cases {
        let session = env.session(permissions, expiry).await;
        let cap = PermissionsCapability::from(&session);
        for (which, min) in [("first", first_min), ("later", later_min)] {
            let (op, status) = run(&env, Some(&cap), vec![call.clone()], Env::sponsored()).await;
            let limit: u64 = op.call_gas_limit.to();
            assert!(limit >= min, "{name}, {which} op: callGasLimit {limit} < {min}");
            assert_eq!(status.status, CallStatusCode::Confirmed, "{name}, {which} op");
        }
    }
}

#[tokio::test]
async fn call_gas_short_of_the_hooks_fails_on_chain_and_spends_nothing() {
    let env = Env::start().await;
    env.delegate().await;
    env.fund(env.account(), U256::from(10u64.pow(18))).await;
    let allowance = U256::from(1000);
    let session = env
        .session(
            vec![
                Permission::NativeTokenTransfer(NativeTokenTransfer { allowance }),
                Permission::ContractAccess(ContractAccess { address: SHOP }),
            ],
            None,
        )
        .await;
    let cap = PermissionsCapability::from(&session);
    let pay = Call { to: SHOP, data: None, value: Some(U256::from(100)) };
    let (_, first) = run(&env, Some(&cap), vec![pay.clone()], Env::sponsored()).await;
    assert_eq!(first.status, CallStatusCode::Confirmed);
    let shop_before = env.client.get_balance(U64::from(CHAIN), SHOP).await.unwrap();
    // 30,000 call gas: enough for a call, short of the native-token limit hook (44,596).
    let caps = PrepareCallsCapabilities {
        gas_params_override: Some(GasParamsOverride {
            call_gas_limit: Some(GasParam::Absolute(U256::from(30_000))),
            ..Default::default()
        }),
        ..Env::sponsored()
    };
    let (_, short) = run(&env, Some(&cap), vec![pay], caps).await;
    assert_eq!(short.status.kind(), StatusKind::Failure, "included, failed: {short:?}");
    let (success, _, reason) = event(&short);
    assert!(!success && !reason, "success = false, no revert reason");
    assert_eq!(env.client.get_balance(U64::from(CHAIN), SHOP).await.unwrap(), shop_before);
    let left = env.client.list_sessions().await.unwrap()[0].native_left;
    assert_eq!(left, Some(allowance - U256::from(100)), "the budget is untouched");
}

//! The seed flow through the orchestrator.

use crate::Counting;
use alloy_primitives::{Address, U256, U64};
use sesskey_emulator::{serve, Config, Emulator, Running};
use sesskey_rpc::{EmulatorApiClient, WalletClient};
use sesskey_session::{Error, Orchestrator, Outcome, Session};
use sesskey_signing::dev::{dev_owner, dev_session_key};
use sesskey_types::*;
use std::time::Duration;

pub(crate) const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";
pub(crate) const CHAIN: u64 = 31337;

pub(crate) async fn emulator() -> Running {
    let config = Config {
        policy_ids: vec![POLICY.into()],
        deterministic_start: Some(1_800_000_000),
        genesis: vec![
            (dev_owner().address(), U256::from(10u64.pow(18))),
            (deployer().address(), U256::from(10u64.pow(18))),
        ],
        ..Config::default()
    };
    serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// The key that deploys test contracts.
pub(crate) fn deployer() -> alloy_signer_local::PrivateKeySigner {
    sesskey_signing::dev::dev_key(3)
}

/// A loopback emulator, an orchestrator on it (sponsored by `policy` when given) and the
/// development owner, already delegated.
pub(crate) async fn delegated_owner(
    policy: Option<&str>,
) -> (Running, Orchestrator<WalletClient>, alloy_signer_local::PrivateKeySigner) {
    let server = emulator().await;
    let flow = Orchestrator::new(WalletClient::new(server.url()).unwrap(), policy.map(Into::into));
    let owner = dev_owner();
    flow.ensure_delegated(&owner, CHAIN, Duration::from_secs(5)).await.unwrap();
    (server, flow, owner)
}

/// Deploys `fixtures/contracts/Token.json` (1,000,000 units to the deployer) with a signed
/// `eth_sendRawTransaction`, and answers its address.
pub(crate) async fn deploy_token(server: &Running) -> Address {
    use alloy_sol_types::SolValue;
    let args = ("Test", "TST", U256::from(1_000_000)).abi_encode_params();
    deploy(server, "Token", &args).await
}

/// Deploys `fixtures/contracts/<name>.json` with ABI-encoded constructor `args`; answers its
/// address.
pub(crate) async fn deploy(server: &Running, name: &str, args: &[u8]) -> Address {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../fixtures/contracts/{name}.json"));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let code: alloy_primitives::Bytes = doc["bytecode"].as_str().unwrap().parse().unwrap();
    let input = [&code[..], args].concat().into();
    deployer_tx(server, alloy_primitives::TxKind::Create, input).await
}

/// A transaction from the deployer, signed and sent with `eth_sendRawTransaction`; answers the
/// address a creation makes (at the deployer's nonce).
pub(crate) async fn deployer_tx(
    server: &Running,
    to: alloy_primitives::TxKind,
    input: alloy_primitives::Bytes,
) -> Address {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::Encodable2718;
    use alloy_signer::SignerSync;
    use jsonrpsee::core::client::ClientT;
    let client = WalletClient::new(server.url()).unwrap();
    let nonce: U64 = client
        .request("eth_getTransactionCount", jsonrpsee::rpc_params![deployer().address()])
        .await
        .unwrap();
    let tx = TxEip1559 {
        chain_id: CHAIN,
        nonce: nonce.to(),
        gas_limit: 3_000_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to,
        input,
        ..Default::default()
    };
    let sig = deployer().sign_hash_sync(&tx.signature_hash()).unwrap();
    let raw = alloy_primitives::Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718());
    let _: alloy_primitives::B256 =
        client.request("eth_sendRawTransaction", jsonrpsee::rpc_params![raw]).await.unwrap();
    deployer().address().create(nonce.to())
}

pub(crate) fn request(permissions: Vec<Permission>, expiry: Option<u64>) -> CreateSessionParams {
    CreateSessionParams {
        account: dev_owner().address(),
        chain_id: U64::from(CHAIN),
        expiry_sec: expiry,
        key: SessionKey { public_key: dev_session_key().address(), ty: KeyType::Secp256k1 },
        permissions,
    }
}

#[tokio::test]
async fn the_whole_flow_both_capability_forms() {
    let server = emulator().await;
    let flow = Orchestrator::new(WalletClient::new(server.url()).unwrap(), Some(POLICY.into()));
    let owner = Counting::new(dev_owner());
    let outcome = flow.ensure_delegated(&owner, CHAIN, Duration::from_secs(5)).await.unwrap();
    assert!(matches!(outcome, Some(Outcome::Confirmed(_))));
    assert_eq!(owner.signed(), 2, "the authorization and the op");
    assert!(
        flow.ensure_delegated(&owner, CHAIN, Duration::from_secs(5)).await.unwrap().is_none(),
        "already delegated"
    );

    let shop = Address::repeat_byte(0x51);
    let session = flow
        .create_session(
            &owner,
            &request(
                vec![Permission::ContractAccess(ContractAccess { address: shop })],
                Some(1_800_003_600),
            ),
        )
        .await
        .unwrap();
    // A session is a value: it round-trips through JSON with its version tag.
    let json = serde_json::to_string(&session).unwrap();
    assert!(json.contains(r#""version":"1""#), "{json}");
    assert_eq!(serde_json::from_str::<Session>(&json).unwrap(), session);
    assert_eq!(
        session.context().session_ref().unwrap(),
        session.capability().session_ref().unwrap()
    );

    let key = Counting::new(dev_session_key());
    let calls = vec![Call { to: shop, data: Some(vec![1, 2, 3, 4].into()), value: None }];
    let sent = flow
        .send_calls(&session, &key, calls.clone(), &Default::default(), 1_800_000_000)
        .await
        .unwrap();
    assert!(matches!(
        flow.wait_for_status(&sent.call_id, Duration::from_secs(5)).await.unwrap(),
        Outcome::Confirmed(_)
    ));
    let sent =
        flow.send_calls(&session, &key, calls, &Default::default(), 1_800_000_000).await.unwrap();
    assert!(matches!(
        flow.wait_for_status(&sent.call_id, Duration::from_secs(5)).await.unwrap(),
        Outcome::Confirmed(_)
    ));
    assert_eq!(key.signed(), 2);
}

#[tokio::test]
async fn preflight_refuses_before_any_request() {
    let server = emulator().await;
    let flow = Orchestrator::new(WalletClient::new(server.url()).unwrap(), Some(POLICY.into()));
    let owner = Counting::new(dev_owner());
    flow.ensure_delegated(&owner, CHAIN, Duration::from_secs(5)).await.unwrap();
    let shop = Address::repeat_byte(0x51);
    let eth = |x: u64| U256::from(x) * U256::from(10u64.pow(15));
    let session = flow
        .create_session(
            &owner,
            &request(
                vec![
                    Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: eth(500) }),
                    Permission::ContractAccess(ContractAccess { address: shop }),
                ],
                Some(1_800_000_100),
            ),
        )
        .await
        .unwrap();
    let key = Counting::new(dev_session_key());
    let over = vec![Call { to: shop, data: None, value: Some(eth(600)) }];
    let e = flow
        .send_calls(&session, &key, over, &Default::default(), 1_800_000_000)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "pre-flight: calls[0] sends 0.6 ETH; 0.5 ETH left of native-token-transfer"
    );
    let outside = vec![Call { to: Address::repeat_byte(0x52), data: None, value: None }];
    assert!(matches!(
        flow.send_calls(&session, &key, outside, &Default::default(), 1_800_000_000).await,
        Err(Error::Preflight(_))
    ));
    let ok = vec![Call { to: shop, data: None, value: Some(eth(100)) }];
    assert!(
        matches!(
            flow.send_calls(&session, &key, ok.clone(), &Default::default(), 1_800_000_101).await,
            Err(Error::Preflight(_))
        ),
        "expired"
    );
    assert_eq!(key.signed(), 0);
    // Expiry passing mid-session on the emulator's clock: the server refuses too.
    flow.send_calls(&session, &key, ok.clone(), &Default::default(), 1_800_000_000).await.unwrap();
    flow.client().increase_time(200).await.unwrap();
    let e =
        flow.send_calls(&session, &key, ok, &Default::default(), 1_800_000_000).await.unwrap_err();
    let Error::Rpc(e) = e else { panic!("{e}") };
    assert_eq!(e.wallet_error().and_then(sesskey_rpc::WalletError::entry_point_code), Some("AA22"));
}

/// Every permission type, through the orchestrator, in both capability forms.
#[tokio::test]
async fn every_permission_type_in_both_forms() {
    use alloy_sol_types::SolCall;
    let shop = Address::repeat_byte(0x51);
    let server = emulator().await;
    let token = deploy_token(&server).await;
    let dex = Address::repeat_byte(0xde);
    let sel = |b: u8| Selector::from([b, b, b, b]);
    let transfer =
        sesskey_account::abi::transferCall { to: shop, amount: U256::from(5) }.abi_encode();
    let account = dev_owner().address();
    let cases: Vec<(&str, Vec<Permission>, Call)> = vec![
        (
            "root",
            vec![Permission::Root],
            Call { to: Address::repeat_byte(9), data: None, value: None },
        ),
        (
            "native-token-transfer",
            vec![
                Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: U256::from(100) }),
                Permission::ContractAccess(ContractAccess { address: shop }),
            ],
            Call { to: shop, data: None, value: Some(U256::from(40)) },
        ),
        (
            "erc20-token-transfer",
            vec![Permission::Erc20TokenTransfer(Erc20TokenTransfer {
                address: token,
                allowance: U256::from(10),
            })],
            Call { to: token, data: Some(transfer.into()), value: None },
        ),
        (
            "gas-limit",
            vec![
                Permission::GasLimit(GasLimit { limit: U256::from(10u64.pow(18)) }),
                Permission::ContractAccess(ContractAccess { address: shop }),
            ],
            Call { to: shop, data: None, value: None },
        ),
        (
            "contract-access",
            vec![Permission::ContractAccess(ContractAccess { address: shop })],
            Call { to: shop, data: Some(vec![1, 2].into()), value: None },
        ),
        (
            "account-functions",
            // `accountId()`, a function the account answers (a selector it does not know
            // reverts, as on chain).
            vec![Permission::AccountFunctions(Functions {
                functions: vec![Selector::from([0x9c, 0xfd, 0x7c, 0xff])],
            })],
            Call { to: account, data: Some(vec![0x9c, 0xfd, 0x7c, 0xff].into()), value: None },
        ),
        (
            "functions-on-all-contracts",
            vec![Permission::FunctionsOnAllContracts(Functions { functions: vec![sel(0x0c)] })],
            Call { to: Address::repeat_byte(3), data: Some(vec![0x0c; 4].into()), value: None },
        ),
        (
            "functions-on-contract",
            vec![Permission::FunctionsOnContract(FunctionsOnContract {
                address: dex,
                functions: vec![sel(0x0d)],
            })],
            Call { to: dex, data: Some(vec![0x0d; 4].into()), value: None },
        ),
    ];
    server.emulator.set_balance(U64::from(CHAIN), account, U256::from(10u64.pow(18))).unwrap();
    server.emulator.set_erc20_balance(U64::from(CHAIN), token, account, U256::from(1000)).unwrap();
    let owner = Counting::new(dev_owner());
    let key = Counting::new(dev_session_key());
    for context in [false, true] {
        let flow = Orchestrator::new(WalletClient::new(server.url()).unwrap(), Some(POLICY.into()))
            .with_context_form(context);
        flow.ensure_delegated(&owner, CHAIN, Duration::from_secs(5)).await.unwrap();
        for (name, permissions, call) in &cases {
            let session = flow
                .create_session(&owner, &request(permissions.clone(), None))
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            for _ in 0..2 {
                let sent = flow
                    .send_calls(
                        &session,
                        &key,
                        vec![call.clone()],
                        &Default::default(),
                        1_800_000_000,
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{name} (context {context}): {e}"));
                let outcome =
                    flow.wait_for_status(&sent.call_id, Duration::from_secs(5)).await.unwrap();
                assert!(
                    matches!(outcome, Outcome::Confirmed(_)),
                    "{name} (context {context}): {outcome:?}"
                );
            }
        }
    }
    assert_eq!(
        server.emulator.erc20_balance(U64::from(CHAIN), token, shop).unwrap(),
        U256::from(20)
    );
}

/// A call that reverts on chain ends as `Outcome::Reverted`, with its receipt: the token
/// balance is taken away between prepare (whose simulation passes) and send.
#[tokio::test]
async fn a_reverting_call_is_reported_as_reverted() {
    use alloy_sol_types::SolCall;
    let server = emulator().await;
    let token = deploy_token(&server).await;
    let account = dev_owner().address();
    server.emulator.set_erc20_balance(U64::from(CHAIN), token, account, U256::from(10)).unwrap();
    let emu = server.emulator.clone();
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trigger = armed.clone();
    let edit: crate::tamper::Edit =
        std::sync::Arc::new(move |method: &str, _: &mut serde_json::Value| {
            if method == "wallet_prepareCalls" && trigger.load(std::sync::atomic::Ordering::SeqCst)
            {
                emu.set_erc20_balance(U64::from(CHAIN), token, account, U256::ZERO).unwrap();
            }
        });
    let client = crate::tamper::Tamper { inner: WalletClient::new(server.url()).unwrap(), edit };
    let flow = Orchestrator::new(client, Some(POLICY.into()));
    let owner = Counting::new(dev_owner());
    flow.ensure_delegated(&owner, CHAIN, Duration::from_secs(5)).await.unwrap();
    let session =
        flow.create_session(&owner, &request(vec![Permission::Root], None)).await.unwrap();
    let transfer =
        sesskey_account::abi::transferCall { to: Address::repeat_byte(1), amount: U256::from(5) }
            .abi_encode();
    let call = Call { to: token, data: Some(transfer.into()), value: None };
    armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = flow
        .send_calls(&session, &Counting::new(dev_session_key()), vec![call], &Default::default(), 0)
        .await
        .unwrap();
    let outcome = flow.wait_for_status(&sent.call_id, Duration::from_secs(5)).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Reverted(s) if s.status == CallStatusCode::ChainRulesFailure),
        "{outcome:?}"
    );
    assert!(outcome.status().receipts.is_some());
}

/// A `gas-limit` permission holds on the client: the pre-flight counts the prepared op's real
/// maximum gas cost when the account pays, and refuses before the key signs. (Here the client's
/// record of what was spent is ahead of the server's, so only the client can refuse.)
#[tokio::test]
async fn the_gas_limit_is_enforced_before_signing() {
    let (_server, flow, owner) = delegated_owner(None).await;
    let shop = Address::repeat_byte(0x51);
    let session = flow
        .create_session(
            &owner,
            &request(
                vec![
                    Permission::GasLimit(GasLimit { limit: U256::from(10u64.pow(16)) }),
                    Permission::ContractAccess(ContractAccess { address: shop }),
                ],
                None,
            ),
        )
        .await
        .unwrap();
    let key = Counting::new(dev_session_key());
    let call = Call { to: shop, data: None, value: None };
    let spent =
        sesskey_account::Spend { gas: U256::from(10u64.pow(16) - 1_000), ..Default::default() };
    let e = flow.send_calls(&session, &key, vec![call], &spent, 1_800_000_000).await.unwrap_err();
    assert!(matches!(e, Error::Preflight(sesskey_account::Violation::GasLimit { .. })), "{e}");
    assert_eq!(key.signed(), 0);
}

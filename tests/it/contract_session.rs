//! A contract compiled from `fixtures/contracts/Counter.sol`, deployed on the emulator with an
//! alloy provider (`eth_sendRawTransaction`), called by a session key through the orchestrator,
//! read back with `eth_call`; its event names the account as `msg.sender`.

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{sol, SolCall, SolEvent};
use sesskey_emulator::{serve, Config, Emulator};
use sesskey_rpc::WalletClient;
use sesskey_session::{Orchestrator, Outcome};
use sesskey_signing::dev::{dev_key, dev_owner, dev_session_key};
use sesskey_types::*;
use std::time::Duration;

sol! {
    function bump(uint256 amount) external payable;
    function value() external view returns (uint256);
    event Bumped(address indexed by, uint256 amount, uint256 newValue);
}

const CHAIN: u64 = 31337;
const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";

#[tokio::test]
async fn a_session_key_calls_a_deployed_contract_through_the_orchestrator() {
    let deployer = dev_key(3);
    let config = Config {
        policy_ids: vec![POLICY.into()],
        genesis: vec![(deployer.address(), U256::from(10u128.pow(21)))],
        ..Config::default()
    };
    let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(deployer))
        .connect_http(server.url().parse().unwrap());
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sesskey_tests::fixtures_dir().join("contracts/Counter.json"))
            .unwrap(),
    )
    .unwrap();
    let code: alloy_primitives::Bytes = doc["bytecode"].as_str().unwrap().parse().unwrap();
    let receipt = provider
        .send_transaction(TransactionRequest::default().with_deploy_code(code))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let counter: Address = receipt.contract_address.unwrap();

    let flow = Orchestrator::new(WalletClient::new(server.url()).unwrap(), Some(POLICY.into()));
    let owner = dev_owner();
    flow.ensure_delegated(&owner, CHAIN, Duration::from_secs(5)).await.unwrap();
    let session = flow
        .create_session(
            &owner,
            &CreateSessionParams {
                account: owner.address(),
                chain_id: alloy_primitives::U64::from(CHAIN),
                expiry_sec: None,
                key: SessionKey { public_key: dev_session_key().address(), ty: KeyType::Secp256k1 },
                permissions: vec![Permission::FunctionsOnContract(FunctionsOnContract {
                    address: counter,
                    functions: vec![Selector::from(bumpCall::SELECTOR)],
                })],
            },
        )
        .await
        .unwrap();
    let call = Call {
        to: counter,
        data: Some(bumpCall { amount: U256::from(3) }.abi_encode().into()),
        value: None,
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let sent = flow
        .send_calls(&session, &dev_session_key(), vec![call], &Default::default(), now)
        .await
        .unwrap();
    let Outcome::Confirmed(status) =
        flow.wait_for_status(&sent.call_id, Duration::from_secs(5)).await.unwrap()
    else {
        panic!("confirmed")
    };
    let out = provider
        .call(TransactionRequest::default().to(counter).input(valueCall {}.abi_encode().into()))
        .await
        .unwrap();
    assert_eq!(valueCall::abi_decode_returns(&out).unwrap(), U256::from(3));
    let logs = &status.receipts.as_ref().unwrap()[0].logs;
    let bumped = logs.iter().find(|l| l.topics[0] == Bumped::SIGNATURE_HASH).unwrap();
    assert_eq!(bumped.address, counter);
    assert_eq!(bumped.topics[1], owner.address().into_word(), "msg.sender is the account");
}

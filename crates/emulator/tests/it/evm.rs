//! Real execution: contracts deployed with plain transactions through an alloy provider, called
//! by a session key, read back with `eth_call`; reverts at prepare and at send; a real ERC-20;
//! the node's refusals of raw transactions; a fork of another emulator.

use crate::helpers::*;
use alloy_primitives::{Address, Bytes, U256, U64};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{sol, SolCall, SolError, SolEvent, SolValue};
use sesskey_rpc::{EmulatorApiClient, WalletApiClient, EXECUTION_REVERTED_CODE};
use sesskey_signing::*;
use sesskey_types::*;

sol! {
    function bump(uint256 amount) external payable;
    function setLimit(uint256 newLimit) external;
    function value() external view returns (uint256);
    function lastCaller() external view returns (address);
    function divide(uint256 by) external view returns (uint256);
    function balanceOf(address) external view returns (uint256);
    event Bumped(address indexed by, uint256 amount, uint256 newValue);
    error TooLarge(uint256 amount, uint256 limit);
    error PreExecHookReverted(bytes24 moduleFunction, bytes revertReason);
    error ExceededTokenLimit();
    error ExceededNativeTokenLimit();
    event UserOperationRevertReason(bytes32 indexed userOpHash, address indexed sender, uint256 nonce, bytes revertReason);
}

async fn read<C: SolCall>(env: &Env, to: Address, call: C) -> C::Return {
    let tx = TransactionRequest::default().to(to).input(call.abi_encode().into());
    let out = env.provider().call(tx).await.unwrap();
    C::abi_decode_returns(&out).unwrap()
}

fn bump_call(to: Address, amount: u64) -> Call {
    Call {
        to,
        data: Some(bumpCall { amount: U256::from(amount) }.abi_encode().into()),
        value: None,
    }
}

#[tokio::test]
async fn a_session_calls_a_deployed_contract_and_its_event_names_the_account() {
    let env = Env::start().await;
    let counter = env.deploy("Counter", &[]).await;
    env.delegate().await;
    let session = env
        .session(vec![Permission::ContractAccess(ContractAccess { address: counter })], None)
        .await;
    let sent = env
        .send_with(
            &env.session_key,
            &PermissionsCapability::from(&session),
            vec![bump_call(counter, 7)],
        )
        .await
        .unwrap();
    let status = env.client.get_calls_status(CallId(sent.id)).await.unwrap();
    assert_eq!(status.status, CallStatusCode::Confirmed);
    assert_eq!(read(&env, counter, valueCall {}).await, U256::from(7));
    assert_eq!(read(&env, counter, lastCallerCall {}).await, env.account());
    let receipt = &status.receipts.unwrap()[0];
    let bumped = receipt.logs.iter().find(|l| l.address == counter).expect("the contract's event");
    assert_eq!(bumped.topics[0], Bumped::SIGNATURE_HASH);
    assert_eq!(bumped.topics[1], env.account().into_word(), "msg.sender is the account");
    // The chain's receipt of the bundle holds the same logs.
    let chain_receipt =
        env.provider().get_transaction_receipt(receipt.transaction_hash).await.unwrap().unwrap();
    assert!(chain_receipt.inner.logs().iter().any(|l| l.address() == counter));
    // The bundle is a real transaction: the bundler's `handleOps` to the EntryPoint.
    let tx =
        env.provider().get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
    assert_eq!(tx.inner.signer(), sesskey_emulator::BUNDLER);
    use alloy_consensus::Transaction as _;
    assert_eq!(tx.inner.to(), Some(ENTRY_POINT_V07));
    assert_eq!(
        tx.inner.input()[..4],
        [0x76, 0x5e, 0x82, 0x7f],
        "handleOps(PackedUserOperation[],address)"
    );
    assert_eq!(
        env.provider().get_block_number().await.unwrap(),
        chain_receipt.block_number.unwrap()
    );
}

/// An `eth_call` asking for more gas than a block holds runs with the block's gas, as geth's
/// `--rpc.gascap` caps it, instead of being refused.
#[tokio::test]
async fn an_eth_call_gets_at_most_a_block_of_gas() {
    let env = Env::start().await;
    let counter = env.deploy("Counter", &[]).await;
    let tx = TransactionRequest::default()
        .to(counter)
        .gas_limit(1 << 48)
        .input(valueCall {}.abi_encode().into());
    let out = env.provider().call(tx).await.unwrap();
    assert_eq!(valueCall::abi_decode_returns(&out).unwrap(), U256::ZERO);
}

#[tokio::test]
async fn a_reverting_call_is_refused_at_prepare_with_its_reason() {
    let env = Env::start().await;
    let counter = env.deploy("Counter", &[]).await;
    env.delegate().await;
    let session = env.session(vec![Permission::Root], None).await;
    let cap = PermissionsCapability::from(&session);
    let e = wallet_error(env.send_with(&env.session_key, &cap, vec![bump_call(counter, 0)]).await);
    assert_eq!(e.code(), EXECUTION_REVERTED_CODE);
    assert!(e.to_string().contains("Counter: zero bump"), "{e}");
    assert_eq!(e.revert_data().unwrap()[..4], [0x08, 0xc3, 0x79, 0xa0], "Error(string)");
    // A custom error: its data in hex.
    let set = Call {
        to: counter,
        data: Some(setLimitCall { newLimit: U256::from(3) }.abi_encode().into()),
        value: None,
    };
    env.send_with(&env.session_key, &cap, vec![set]).await.unwrap();
    let e = wallet_error(env.send_with(&env.session_key, &cap, vec![bump_call(counter, 5)]).await);
    let expected = TooLarge { amount: U256::from(5), limit: U256::from(3) }.abi_encode();
    assert_eq!(e.revert_data().unwrap().to_vec(), expected);
    assert!(e.to_string().contains(&alloy_primitives::hex::encode(&expected)), "{e}");
    // A value the account does not hold: the call cannot start, and the message says why.
    let pay = Call { value: Some(U256::from(1)), ..bump_call(counter, 1) };
    let e = wallet_error(env.send_with(&env.session_key, &cap, vec![pay]).await);
    assert!(e.to_string().contains("the account holds 0 wei, less than the 1 wei"), "{e}");
    // eth_call of a panic: code 3 with the panic's reason.
    let tx = TransactionRequest::default()
        .to(counter)
        .input(divideCall { by: U256::ZERO }.abi_encode().into());
    let err = env.provider().call(tx).await.unwrap_err().to_string();
    assert!(err.contains("division or modulo by zero"), "{err}");
}

#[tokio::test]
async fn a_call_that_reverts_only_at_send_fails_on_chain_and_pays_only_gas() {
    let env = Env::start().await;
    let counter = env.deploy("Counter", &[]).await;
    env.delegate().await;
    env.fund(env.account(), U256::from(10u64.pow(18))).await;
    let session = env.session(vec![Permission::Root], None).await;
    let cap = PermissionsCapability::from(&session);
    // Prepared while it would succeed, unsponsored: the account pays its gas.
    let caps = PrepareCallsCapabilities { permissions: Some(cap.clone()), ..Default::default() };
    let PreparedCalls::UserOperationV070(op) = env
        .client
        .prepare_calls(env.prepare_params(vec![bump_call(counter, 5)], caps))
        .await
        .unwrap()
    else {
        panic!()
    };
    // A plain transaction changes the state in between.
    let tx = TransactionRequest::default()
        .to(counter)
        .input(setLimitCall { newLimit: U256::ZERO }.abi_encode().into());
    env.provider().send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    let before = env.client.get_balance(U64::from(CHAIN), env.account()).await.unwrap();
    let sent = env
        .client
        .send_prepared_calls(signed(&env.session_key, op, Some(cap)).await)
        .await
        .unwrap();
    let status = env.client.get_calls_status(CallId(sent.id)).await.unwrap();
    assert_eq!(status.status, CallStatusCode::ChainRulesFailure);
    let receipt = &status.receipts.unwrap()[0];
    assert_eq!(receipt.status, alloy_primitives::U8::ZERO);
    assert_eq!(read(&env, counter, valueCall {}).await, U256::ZERO, "nothing but gas changed");
    let event = receipt.logs.last().unwrap();
    let (_, success, gas_cost, _): (U256, bool, U256, U256) =
        <(U256, bool, U256, U256)>::abi_decode_params(&event.data).unwrap();
    assert!(!success);
    assert!(gas_cost > U256::ZERO);
    let after = env.client.get_balance(U64::from(CHAIN), env.account()).await.unwrap();
    assert_eq!(after, before - gas_cost, "exactly the gas is paid");
    assert!(receipt.logs.iter().any(|l| l.topics[0] == UserOperationRevertReason::SIGNATURE_HASH));
}

#[tokio::test]
async fn a_real_erc20_moves_balances_within_the_allowance() {
    let env = Env::start().await;
    let token =
        env.deploy("Token", &("Test", "TST", U256::from(1_000_000)).abi_encode_params()).await;
    env.delegate().await;
    // emulator_setErc20Balance finds the balance slot of any standard token.
    env.client
        .set_erc20_balance(U64::from(CHAIN), token, env.account(), U256::from(1000))
        .await
        .unwrap();
    assert_eq!(read(&env, token, balanceOfCall(env.account())).await, U256::from(1000));
    let shop = Address::repeat_byte(0x51);
    let session = env
        .session(
            vec![Permission::Erc20TokenTransfer(Erc20TokenTransfer {
                address: token,
                allowance: U256::from(300),
            })],
            None,
        )
        .await;
    let cap = PermissionsCapability::from(&session);
    let transfer = |amount: u64| Call {
        to: token,
        data: Some(
            sesskey_account::abi::transferCall { to: shop, amount: U256::from(amount) }
                .abi_encode()
                .into(),
        ),
        value: None,
    };
    env.send_with(&env.session_key, &cap, vec![transfer(200)]).await.unwrap();
    assert_eq!(read(&env, token, balanceOfCall(shop)).await, U256::from(200));
    assert_eq!(read(&env, token, balanceOfCall(env.account())).await, U256::from(800));
    let e = wallet_error(env.send_with(&env.session_key, &cap, vec![transfer(200)]).await);
    assert_eq!(e.code(), EXECUTION_REVERTED_CODE);
    let hook = PreExecHookReverted::abi_decode(e.revert_data().unwrap()).unwrap();
    assert_eq!(hook.revertReason.to_vec(), ExceededTokenLimit {}.abi_encode());
    assert_eq!(read(&env, token, balanceOfCall(shop)).await, U256::from(200));
}

#[tokio::test]
async fn a_native_transfer_over_the_limit_at_send_is_included_and_fails() {
    let env = Env::start().await;
    env.delegate().await;
    env.fund(env.account(), U256::from(10u64.pow(18))).await;
    let shop = Address::repeat_byte(0x51);
    let tenth = U256::from(10u64.pow(17));
    let session = env
        .session(
            vec![
                Permission::NativeTokenTransfer(NativeTokenTransfer {
                    allowance: tenth * U256::from(5),
                }),
                Permission::ContractAccess(ContractAccess { address: shop }),
            ],
            None,
        )
        .await;
    let cap = PermissionsCapability::from(&session);
    // The first op installs the session; then two ops of 0.3 ETH prepared side by side.
    env.send_with(&env.session_key, &cap, vec![Call { to: shop, data: None, value: None }])
        .await
        .unwrap();
    let mut sends = vec![];
    for key in [1u64, 2] {
        let caps = PrepareCallsCapabilities {
            permissions: Some(cap.clone()),
            nonce_override: Some(NonceOverride { nonce_key: U256::from(key) }),
            ..Env::sponsored()
        };
        let call = Call { to: shop, data: None, value: Some(tenth * U256::from(3)) };
        let PreparedCalls::UserOperationV070(op) =
            env.client.prepare_calls(env.prepare_params(vec![call], caps)).await.unwrap()
        else {
            panic!()
        };
        sends.push(signed(&env.session_key, op, Some(cap.clone())).await);
    }
    let mut statuses = vec![];
    for s in sends {
        let sent = env.client.send_prepared_calls(s).await.unwrap();
        statuses.push(env.client.get_calls_status(CallId(sent.id)).await.unwrap());
    }
    assert_eq!(statuses[0].status, CallStatusCode::Confirmed);
    assert_eq!(statuses[1].status, CallStatusCode::ChainRulesFailure);
    let logs = &statuses[1].receipts.as_ref().unwrap()[0].logs;
    let reason =
        logs.iter().find(|l| l.topics[0] == UserOperationRevertReason::SIGNATURE_HASH).unwrap();
    let (_, bytes): (U256, Bytes) = <(U256, Bytes)>::abi_decode_params(&reason.data).unwrap();
    let hook = PreExecHookReverted::abi_decode(&bytes).unwrap();
    assert_eq!(hook.revertReason.to_vec(), ExceededNativeTokenLimit {}.abi_encode());
    assert_eq!(
        env.client.get_balance(U64::from(CHAIN), shop).await.unwrap(),
        tenth * U256::from(3)
    );
}

#[tokio::test]
async fn raw_transactions_are_refused_as_a_node_refuses_them() {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::Encodable2718;
    use alloy_signer::SignerSync;
    let env = Env::start().await;
    let key = deployer();
    let raw = |chain_id: u64, nonce: u64, gas: u64| {
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1,
            to: alloy_primitives::TxKind::Call(Address::repeat_byte(9)),
            value: U256::from(1),
            ..Default::default()
        };
        let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
        Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718())
    };
    let p = env.provider();
    let refuse = |r: std::result::Result<_, alloy_provider::transport::TransportError>| {
        r.map(|_: alloy_provider::PendingTransactionBuilder<_>| ()).unwrap_err().to_string()
    };
    assert!(refuse(p.send_raw_transaction(&raw(1, 0, 21_000)).await)
        .contains("invalid chain id for signer"));
    assert!(refuse(p.send_raw_transaction(&raw(CHAIN, 5, 21_000)).await).contains("nonce too high"));
    assert!(refuse(p.send_raw_transaction(&raw(CHAIN, 0, 20_000)).await)
        .contains("intrinsic gas too low"));
    assert!(refuse(p.send_raw_transaction(&raw(CHAIN, 0, 10u64.pow(12))).await)
        .contains("exceeds block gas limit"));
    assert!(refuse(p.send_raw_transaction(&[0xde, 0xad]).await)
        .contains("failed to decode signed transaction"));
    p.send_raw_transaction(&raw(CHAIN, 0, 21_000)).await.unwrap().get_receipt().await.unwrap();
    assert!(refuse(p.send_raw_transaction(&raw(CHAIN, 0, 21_000)).await).contains("nonce too low"));
    assert_eq!(
        p.get_transaction_count(key.address()).await.unwrap(),
        1,
        "the refusals changed nothing"
    );
    // An unfunded sender.
    let poor = alloy_signer_local::PrivateKeySigner::random();
    let tx = TxEip1559 {
        chain_id: CHAIN,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        ..Default::default()
    };
    let sig = poor.sign_hash_sync(&tx.signature_hash()).unwrap();
    let bytes = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
    assert!(refuse(p.send_raw_transaction(&bytes).await)
        .contains("insufficient funds for gas * price + value"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_of_another_emulator_runs_its_contracts() {
    let upstream = Env::start().await;
    let counter = upstream.deploy("Counter", &[]).await;
    let config = sesskey_emulator::Config {
        chain_ids: vec![],
        fork: Some(sesskey_emulator::ForkConfig::new(upstream.server.url())),
        ..Env::config()
    };
    let forked = Env::with(sesskey_emulator::Emulator::launch(config, None).await.unwrap()).await;
    assert_eq!(
        forked.server.emulator.chain_ids(),
        vec![CHAIN],
        "the chain id comes from the upstream"
    );
    forked.delegate().await;
    let session = forked
        .session(vec![Permission::ContractAccess(ContractAccess { address: counter })], None)
        .await;
    forked
        .send_with(
            &forked.session_key,
            &PermissionsCapability::from(&session),
            vec![bump_call(counter, 4)],
        )
        .await
        .unwrap();
    assert_eq!(read(&forked, counter, valueCall {}).await, U256::from(4));
    assert_eq!(
        read(&upstream, counter, valueCall {}).await,
        U256::ZERO,
        "the upstream is untouched"
    );
}

#[tokio::test]
async fn each_chain_has_its_own_eth_url() {
    use jsonrpsee::core::client::ClientT;
    use jsonrpsee::rpc_params;
    let env = Env::start().await;
    let client = |path: &str| {
        jsonrpsee::http_client::HttpClientBuilder::default()
            .build(format!("{}{path}", env.server.url()))
            .unwrap()
    };
    let second = 0x66eee_u64;
    let id: U64 = client("").request("eth_chainId", rpc_params![]).await.unwrap();
    assert_eq!(id, U64::from(CHAIN), "/ reaches the first chain");
    let id: U64 = client("/v2/some-key").request("eth_chainId", rpc_params![]).await.unwrap();
    assert_eq!(id, U64::from(CHAIN));
    let on_second = client(&format!("/chain/{second}"));
    let id: U64 = on_second.request("eth_chainId", rpc_params![]).await.unwrap();
    assert_eq!(id, U64::from(second));
    let who = Address::repeat_byte(0x42);
    let _: () =
        on_second.request("anvil_setBalance", rpc_params![who, U256::from(7)]).await.unwrap();
    let b: U256 = on_second.request("eth_getBalance", rpc_params![who, "latest"]).await.unwrap();
    assert_eq!(b, U256::from(7));
    let b: U256 = client("").request("eth_getBalance", rpc_params![who, "latest"]).await.unwrap();
    assert_eq!(b, U256::ZERO, "chains keep separate state");
    let e = client("/chain/5").request::<U64, _>("eth_chainId", rpc_params![]).await.unwrap_err();
    assert!(e.to_string().contains("chain 5 is not served"), "{e}");

    // `/` reaches the first chain id given, not the lowest.
    let config = sesskey_emulator::Config { chain_ids: vec![second, CHAIN], ..Env::config() };
    let env = Env::with(sesskey_emulator::Emulator::new(config)).await;
    assert_eq!(env.server.emulator.default_chain_id(), second);
    let root =
        jsonrpsee::http_client::HttpClientBuilder::default().build(env.server.url()).unwrap();
    let id: U64 = root.request("eth_chainId", rpc_params![]).await.unwrap();
    assert_eq!(id, U64::from(second), "/ reaches the first chain id given");
}

/// An upstream that accepts connections and never answers: the fork fails within its timeout
/// with a clear error, and the URL's key is not in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_fails_the_fork_quickly() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = vec![];
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket); // accepted, never answered
        }
    });
    let url = format!("http://{addr}/v2/my-secret-key");
    let fork = sesskey_emulator::ForkConfig {
        timeout: Some(std::time::Duration::from_secs(1)),
        ..sesskey_emulator::ForkConfig::new(url)
    };
    let config = sesskey_emulator::Config { fork: Some(fork), ..Env::config() };
    let started = std::time::Instant::now();
    let e = sesskey_emulator::Emulator::launch(config, None).await.unwrap_err().to_string();
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(!e.contains("my-secret-key"), "{e}");
    assert!(e.contains("upstream"), "{e}");
    held.abort();
}

/// An upstream that answers more than `MAX_UPSTREAM_ANSWER` bytes: the request fails at once
/// with a short error naming the cap (the body is neither kept whole nor echoed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_upstream_answer_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                // 8 MB of a JSON string: twice the cap.
                let body = format!(
                    "{{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":\"{}\"}}",
                    "a".repeat(8 * 1024 * 1024)
                );
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    let fork = sesskey_emulator::ForkConfig::new(format!("http://{addr}/v2/my-secret-key"));
    let config = sesskey_emulator::Config { fork: Some(fork), ..Env::config() };
    let e = sesskey_emulator::Emulator::launch(config, None).await.unwrap_err().to_string();
    assert!(e.contains("over 4194304 bytes"), "{}", &e[..e.len().min(500)]);
    assert!(e.len() < 1000, "a short error: {} bytes", e.len());
    assert!(!e.contains("my-secret-key"), "{e}");
    served.abort();
}

/// `evm_snapshot` and `evm_revert`: back to the state of the snapshot (and no later one), with
/// at most `MAX_SNAPSHOTS` held: the oldest is forgotten first.
#[tokio::test]
async fn snapshots_revert_and_are_capped() {
    use jsonrpsee::core::client::ClientT;
    use jsonrpsee::rpc_params;
    let env = Env::start().await;
    let who = Address::repeat_byte(0x42);
    let balance = |env: &Env| {
        let client = env.client.clone();
        async move {
            let b: U256 =
                client.request("eth_getBalance", rpc_params![who, "latest"]).await.unwrap();
            b
        }
    };
    let set = |wei: u64| {
        let client = env.client.clone();
        async move {
            let _: () = client
                .request("anvil_setBalance", rpc_params![who, U256::from(wei)])
                .await
                .unwrap();
        }
    };
    set(1).await;
    let first: U256 = env.client.request("evm_snapshot", rpc_params![]).await.unwrap();
    set(2).await;
    let second: U256 = env.client.request("evm_snapshot", rpc_params![]).await.unwrap();
    set(3).await;
    let reverted: bool = env.client.request("evm_revert", rpc_params![second]).await.unwrap();
    assert!(reverted);
    assert_eq!(balance(&env).await, U256::from(2));
    let again: bool = env.client.request("evm_revert", rpc_params![second]).await.unwrap();
    assert!(!again, "a snapshot reverts once");
    assert!(env.client.request::<bool, _>("evm_revert", rpc_params![first]).await.unwrap());
    assert_eq!(balance(&env).await, U256::from(1));
    // Past the cap, the oldest ids no longer revert; the recent ones do.
    let mut ids = vec![];
    for i in 0..(sesskey_emulator::MAX_SNAPSHOTS + 6) as u64 {
        set(100 + i).await;
        ids.push(env.client.request::<U256, _>("evm_snapshot", rpc_params![]).await.unwrap());
    }
    assert!(!env.client.request::<bool, _>("evm_revert", rpc_params![ids[0]]).await.unwrap());
    assert!(env.client.request::<bool, _>("evm_revert", rpc_params![ids[10]]).await.unwrap());
    assert_eq!(balance(&env).await, U256::from(110));
}

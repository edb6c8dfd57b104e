//! The account and the EntryPoint inside the EVM: what a contract, a plain transaction or
//! `eth_call` gets when it calls a delegated account (token callbacks, ERC-1271, ERC-165,
//! `accountId`) or the EntryPoint (nonces, user-operation hashes, deposits), as
//! ModularAccountV2 2.0.0 and EntryPoint v0.7 answer (spec §12.1).

use crate::helpers::*;
use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{sol, SolCall, SolError, SolValue};
use sesskey_rpc::WalletApiClient;
use sesskey_signing::*;
use sesskey_types::*;

sol! {
    function safeMint(address to, uint256 id);
    function ownerOf(uint256 id) returns (address);
    function mint(address to, uint256 id, uint256 value);
    function mintBatch(address to, uint256[] ids, uint256[] values);
    function balanceOf(uint256 id, address who) returns (uint256);
    function valid(address account, bytes32 hash, bytes signature) returns (bool);
    function enter(address account, bytes32 hash, bytes signature);
    function entered(address account) returns (bool);
    error BadSignature(address account);

    function isValidSignature(bytes32 hash, bytes signature) returns (bytes4);
    function supportsInterface(bytes4 id) returns (bool);
    function accountId() returns (string);
    function entryPoint() returns (address);
    function execute(address target, uint256 value, bytes data) returns (bytes);
    struct AccountCall { address target; uint256 value; bytes data; }
    function executeBatch(AccountCall[] calls) returns (bytes[]);
    error ValidationFunctionMissing(bytes4 selector);
    error UnrecognizedFunction(bytes4 selector);

    function getNonce(address sender, uint192 key) returns (uint256);
    struct PackedUserOperation {
        address sender;
        uint256 nonce;
        bytes initCode;
        bytes callData;
        bytes32 accountGasLimits;
        uint256 preVerificationGas;
        bytes32 gasFees;
        bytes paymasterAndData;
        bytes signature;
    }
    function getUserOpHash(PackedUserOperation userOp) returns (bytes32);
    function depositTo(address account) payable;
    function withdrawTo(address withdrawAddress, uint256 withdrawAmount);
    function epBalanceOf(address account) returns (uint256);
}

/// `balanceOf(address)` of the EntryPoint (named apart from the ERC-1155's).
fn ep_balance_of(who: Address) -> Bytes {
    let mut data = epBalanceOfCall { account: who }.abi_encode();
    data[..4].copy_from_slice(&alloy_primitives::keccak256("balanceOf(address)")[..4]);
    data.into()
}

async fn call(
    env: &Env,
    to: Address,
    data: impl Into<Bytes>,
) -> std::result::Result<Bytes, String> {
    let tx = TransactionRequest::default().to(to).input(data.into().into());
    env.provider().call(tx).await.map_err(|e| e.to_string())
}

/// Sends a plain transaction from the deployer; answers whether it succeeded.
async fn transact(env: &Env, to: Address, data: impl Into<Bytes>, value: U256) -> bool {
    let tx = TransactionRequest::default().to(to).input(data.into().into()).with_value(value);
    let pending = env.provider().send_transaction(tx).await;
    match pending {
        Ok(p) => p.get_receipt().await.unwrap().status(),
        Err(_) => false,
    }
}

/// The owner's ERC-1271 signature of `hash`, made the Wallet API's way: `wallet_prepareSign`,
/// the owner signs the request (after the digest check), `wallet_formatSign`.
async fn owner_1271(env: &Env, signer: &alloy_signer_local::PrivateKeySigner, hash: B256) -> Bytes {
    let message = format!("0x{}", alloy_primitives::hex::encode(hash));
    let prepared = env
        .client
        .prepare_sign(PrepareSignParams {
            from: env.account(),
            chain_id: U64::from(CHAIN),
            signature_request: serde_json::from_value(serde_json::json!({
                "type": "personal_sign", "data": {"raw": message}
            }))
            .unwrap(),
            capabilities: None,
        })
        .await
        .unwrap();
    let request: SignatureRequest =
        serde_json::from_value(serde_json::to_value(&prepared.signature_request).unwrap()).unwrap();
    let signature = sign_request(signer, &request, None).await.unwrap();
    env.client
        .format_sign(FormatSignParams {
            from: env.account(),
            chain_id: U64::from(CHAIN),
            signature,
            capabilities: None,
        })
        .await
        .unwrap()
        .signature
}

#[tokio::test]
async fn tokens_minted_to_the_account_arrive_in_an_op_and_in_a_plain_transaction() {
    let env = Env::start().await;
    env.delegate().await;
    let nft = env.deploy("Nft", &[]).await;
    let multi = env.deploy("Multi", &[]).await;
    let account = env.account();

    // A plain transaction: the NFT contract calls the account's onERC721Received.
    assert!(
        transact(
            &env,
            nft,
            safeMintCall { to: account, id: U256::from(1) }.abi_encode(),
            U256::ZERO
        )
        .await
    );
    let owner = call(&env, nft, ownerOfCall { id: U256::from(1) }.abi_encode()).await.unwrap();
    assert_eq!(Address::abi_decode(&owner).unwrap(), account);

    // In a user operation: a session mints to its own account.
    let session =
        env.session(vec![Permission::ContractAccess(ContractAccess { address: nft })], None).await;
    let mint = Call {
        to: nft,
        data: Some(safeMintCall { to: account, id: U256::from(2) }.abi_encode().into()),
        value: None,
    };
    let sent = env
        .send_with(&env.session_key, &PermissionsCapability::from(&session), vec![mint])
        .await
        .unwrap();
    let status = env.client.get_calls_status(CallId(sent.id)).await.unwrap();
    assert_eq!(status.status, CallStatusCode::Confirmed);
    let owner = call(&env, nft, ownerOfCall { id: U256::from(2) }.abi_encode()).await.unwrap();
    assert_eq!(Address::abi_decode(&owner).unwrap(), account);

    // ERC-1155, single and batch.
    assert!(
        transact(
            &env,
            multi,
            mintCall { to: account, id: U256::from(7), value: U256::from(3) }.abi_encode(),
            U256::ZERO
        )
        .await
    );
    let batch = mintBatchCall {
        to: account,
        ids: vec![U256::from(8), U256::from(9)],
        values: vec![U256::from(4), U256::from(5)],
    };
    assert!(transact(&env, multi, batch.abi_encode(), U256::ZERO).await);
    for (id, want) in [(7, 3), (8, 4), (9, 5)] {
        let got =
            call(&env, multi, balanceOfCall { id: U256::from(id), who: account }.abi_encode())
                .await
                .unwrap();
        assert_eq!(U256::abi_decode(&got).unwrap(), U256::from(want), "id {id}");
    }

    // Plain ETH in: the account's receive().
    let before = env.provider().get_balance(account).await.unwrap();
    assert!(transact(&env, account, Bytes::new(), U256::from(1234)).await);
    assert_eq!(env.provider().get_balance(account).await.unwrap(), before + U256::from(1234));
}

#[tokio::test]
async fn erc1271_accepts_the_owners_signature_and_refuses_others() {
    let env = Env::start().await;
    env.delegate().await;
    let gate = env.deploy("SigGate", &[]).await;
    let account = env.account();
    let message = alloy_primitives::keccak256("sign in to the game");
    let good = owner_1271(&env, &env.owner, message).await;
    let stranger = owner_1271(&env, &Env::stranger(), message).await;
    // What a verifier checks for a signed message (viem's `verifyMessage`): its EIP-191 hash.
    let hash = eip191_digest(message.as_slice());
    let mut tampered = good.to_vec();
    tampered[20] ^= 1;

    let is_valid = |sig: Bytes| isValidSignatureCall { hash, signature: sig }.abi_encode();
    let answer = call(&env, account, is_valid(good.clone())).await.unwrap();
    assert_eq!(answer[..4], [0x16, 0x26, 0xba, 0x7e], "the magic value");
    let answer = call(&env, account, is_valid(stranger.clone())).await.unwrap();
    assert_eq!(answer[..4], [0xff; 4], "a stranger's signature");
    let answer = call(&env, account, is_valid(tampered.clone().into())).await.unwrap();
    assert_eq!(answer[..4], [0xff; 4], "a tampered signature");
    // Another hash than the one signed.
    let other = isValidSignatureCall { hash: B256::repeat_byte(1), signature: good.clone() };
    assert_eq!(call(&env, account, other.abi_encode()).await.unwrap()[..4], [0xff; 4]);

    // A contract that trusts the account's answer.
    let valid = |sig: Bytes| validCall { account, hash, signature: sig }.abi_encode();
    assert!(bool::abi_decode(&call(&env, gate, valid(good.clone())).await.unwrap()).unwrap());
    assert!(!bool::abi_decode(&call(&env, gate, valid(stranger.clone())).await.unwrap()).unwrap());
    assert!(
        !transact(
            &env,
            gate,
            enterCall { account, hash, signature: stranger }.abi_encode(),
            U256::ZERO
        )
        .await
    );
    assert!(
        transact(&env, gate, enterCall { account, hash, signature: good }.abi_encode(), U256::ZERO)
            .await
    );
    let entered = call(&env, gate, enteredCall { account }.abi_encode()).await.unwrap();
    assert!(bool::abi_decode(&entered).unwrap());

    // A session's validation is not a signature validation: the account reverts.
    let mut session_sig = vec![0u8, 0, 0, 0, 1, 0xff, 0x00];
    session_sig.extend_from_slice(&[1u8; 65]);
    assert!(call(&env, account, is_valid(session_sig.into())).await.is_err());
}

#[tokio::test]
async fn the_account_answers_its_views_and_refuses_strangers() {
    let env = Env::start().await;
    env.delegate().await;
    let account = env.account();
    let supports = |id: [u8; 4]| supportsInterfaceCall { id: id.into() }.abi_encode();
    for (id, want) in [
        ([0x01, 0xff, 0xc9, 0xa7], true),
        ([0x15, 0x0b, 0x7a, 0x02], true),
        ([0x4e, 0x23, 0x12, 0xe0], true),
        ([0xff, 0xff, 0xff, 0xff], false),
        ([0x16, 0x26, 0xba, 0x7e], false),
    ] {
        let out = call(&env, account, supports(id)).await.unwrap();
        assert_eq!(bool::abi_decode(&out).unwrap(), want, "{id:02x?}");
    }
    let id = call(&env, account, accountIdCall {}.abi_encode()).await.unwrap();
    assert_eq!(String::abi_decode(&id).unwrap(), "alchemy.sma-7702.1.0.0");
    let ep = call(&env, account, entryPointCall {}.abi_encode()).await.unwrap();
    assert_eq!(Address::abi_decode(&ep).unwrap(), ENTRY_POINT_V07);
    // execute from someone else: no validation applies.
    let exec = executeCall { target: Address::ZERO, value: U256::ZERO, data: Bytes::new() };
    let e = call(&env, account, exec.abi_encode()).await.unwrap_err();
    let missing = ValidationFunctionMissing { selector: executeCall::SELECTOR.into() };
    assert!(e.contains(&alloy_primitives::hex::encode(missing.abi_encode())), "{e}");
    // A selector the account does not know: its fallback reverts.
    let e = call(&env, account, vec![0xab, 0xab, 0xab, 0xab]).await.unwrap_err();
    let unknown = UnrecognizedFunction { selector: [0xab; 4].into() };
    assert!(e.contains(&alloy_primitives::hex::encode(unknown.abi_encode())), "{e}");
    // An account that is not delegated answers nothing (no code).
    let plain = Env::stranger().address();
    assert_eq!(call(&env, plain, accountIdCall {}.abi_encode()).await.unwrap(), Bytes::new());
}

#[tokio::test]
async fn the_entry_point_answers_nonces_hashes_and_deposits() {
    let env = Env::start().await;
    env.delegate().await;
    let account = env.account();
    // getNonce equals the nonce of the next prepared op (the owner's key 1: global, entity 0).
    let prepared = env
        .client
        .prepare_calls(env.prepare_params(vec![Call::default()], Env::sponsored()))
        .await
        .unwrap();
    let PreparedCalls::UserOperationV070(op) = prepared else { panic!("one op") };
    let key: U256 = op.data.nonce >> 64usize;
    let nonce =
        call(&env, ENTRY_POINT_V07, getNonceCall { sender: account, key: key.to() }.abi_encode())
            .await
            .unwrap();
    assert_eq!(U256::abi_decode(&nonce).unwrap(), op.data.nonce);
    assert_eq!(op.data.nonce.as_limbs()[0], 1, "the delegation used sequence 0");
    // getUserOpHash of the packed op equals the hash the Wallet API asks to be signed.
    let word = |high: u128, low: u128| {
        let mut w = [0u8; 32];
        w[..16].copy_from_slice(&high.to_be_bytes());
        w[16..].copy_from_slice(&low.to_be_bytes());
        B256::from(w)
    };
    let d = &op.data;
    let packed = PackedUserOperation {
        sender: d.sender,
        nonce: d.nonce,
        initCode: init_code_v07(d),
        callData: d.call_data.clone(),
        accountGasLimits: word(d.verification_gas_limit.to(), d.call_gas_limit.to()),
        preVerificationGas: d.pre_verification_gas,
        gasFees: word(d.max_priority_fee_per_gas.to(), d.max_fee_per_gas.to()),
        paymasterAndData: paymaster_and_data_v07(d),
        signature: Bytes::new(),
    };
    let hash = call(&env, ENTRY_POINT_V07, getUserOpHashCall { userOp: packed }.abi_encode())
        .await
        .unwrap();
    assert_eq!(B256::abi_decode(&hash).unwrap(), user_op_v07_hash(d, ENTRY_POINT_V07, CHAIN));

    // The sponsored op is paid from the paymaster's deposit.
    let paymaster = op.data.paymaster.expect("sponsored");
    let read_deposit = |who: Address| {
        let env = &env;
        async move {
            U256::abi_decode(&call(env, ENTRY_POINT_V07, ep_balance_of(who)).await.unwrap())
                .unwrap()
        }
    };
    let before = read_deposit(paymaster).await;
    assert!(before > U256::ZERO);
    let sent = env.client.send_prepared_calls(signed(&env.owner, op, None).await).await.unwrap();
    let status = env.client.get_calls_status(CallId(sent.id)).await.unwrap();
    assert_eq!(status.status, CallStatusCode::Confirmed);
    assert!(read_deposit(paymaster).await < before, "the deposit paid the gas");

    // Deposits and withdrawals by plain transactions; a withdrawal over the deposit reverts.
    let me = deployer().address();
    assert!(
        transact(
            &env,
            ENTRY_POINT_V07,
            depositToCall { account: me }.abi_encode(),
            U256::from(5000)
        )
        .await
    );
    assert!(transact(&env, ENTRY_POINT_V07, Bytes::new(), U256::from(1000)).await, "receive()");
    assert_eq!(read_deposit(me).await, U256::from(6000));
    let to = Address::repeat_byte(0x77);
    let over = withdrawToCall { withdrawAddress: to, withdrawAmount: U256::from(6001) };
    assert!(!transact(&env, ENTRY_POINT_V07, over.abi_encode(), U256::ZERO).await);
    let ok = withdrawToCall { withdrawAddress: to, withdrawAmount: U256::from(2500) };
    assert!(transact(&env, ENTRY_POINT_V07, ok.abi_encode(), U256::ZERO).await);
    assert_eq!(read_deposit(me).await, U256::from(3500));
    assert_eq!(env.provider().get_balance(to).await.unwrap(), U256::from(2500));
}

sol! {
    function bump(uint256 amount) payable;
    function value() returns (uint256);
    function lastCaller() returns (address);
}

/// The owner calling its own account's `execute`: in a plain transaction from the EOA to itself,
/// and in an owner op whose call targets the account. The inner call is made by the account.
#[tokio::test]
async fn the_account_executes_for_itself() {
    let env = Env::start().await;
    env.delegate().await;
    let counter = env.deploy("Counter", &[]).await;
    let account = env.account();
    env.fund(account, U256::from(10u64.pow(18))).await;
    let inner = bumpCall { amount: U256::from(5) }.abi_encode();
    let exec = executeCall { target: counter, value: U256::ZERO, data: inner.clone().into() };

    // eth_call of it answers what `execute` returns: the inner call's output as `bytes`.
    let tx =
        TransactionRequest::default().from(account).to(account).input(exec.abi_encode().into());
    let out = env.provider().call(tx).await.unwrap();
    assert_eq!(Bytes::abi_decode(&out).unwrap(), Bytes::new());

    // A plain transaction signed by the owner, to itself.
    let owner = alloy_network::EthereumWallet::from(env.owner.clone());
    let as_owner = alloy_provider::ProviderBuilder::new()
        .wallet(owner)
        .connect_http(env.server.url().parse().unwrap());
    let tx = TransactionRequest::default().to(account).input(exec.abi_encode().into());
    let receipt = as_owner.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    let read = |data: Vec<u8>| call(&env, counter, data);
    assert_eq!(
        U256::abi_decode(&read(valueCall {}.abi_encode()).await.unwrap()).unwrap(),
        U256::from(5)
    );
    let last = read(lastCallerCall {}.abi_encode()).await.unwrap();
    assert_eq!(Address::abi_decode(&last).unwrap(), account, "the account made the inner call");

    // An owner op whose call is the account's own execute.
    let self_call = Call { to: account, data: Some(exec.abi_encode().into()), value: None };
    let prepared = env
        .client
        .prepare_calls(env.prepare_params(vec![self_call], Env::sponsored()))
        .await
        .unwrap();
    let PreparedCalls::UserOperationV070(op) = prepared else { panic!("one op") };
    let sent = env.client.send_prepared_calls(signed(&env.owner, op, None).await).await.unwrap();
    let status = env.client.get_calls_status(CallId(sent.id)).await.unwrap();
    assert_eq!(status.status, CallStatusCode::Confirmed);
    assert_eq!(
        U256::abi_decode(&read(valueCall {}.abi_encode()).await.unwrap()).unwrap(),
        U256::from(10)
    );
}

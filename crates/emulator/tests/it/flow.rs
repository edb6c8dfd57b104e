//! The seed flow end to end: delegate, create a session, authorize it, prepare, sign, send,
//! status; then more ops on the installed session.

use crate::helpers::*;
use alloy_primitives::{Address, U256, U64};
use sesskey_account::{unpack_signature, Nonce};
use sesskey_rpc::{EmulatorApiClient, WalletApiClient};
use sesskey_signing::*;
use sesskey_types::*;

#[tokio::test]
async fn request_account_of_7702_is_the_signer_with_a_stable_id() {
    let env = Env::start().await;
    let params = RequestAccountParams::BySigner {
        signer_address: env.account(),
        id: None,
        creation_hint: Some(CreationHint {
            account_type: Some("7702".into()),
            ..Default::default()
        }),
        include_counterfactual_info: None,
    };
    let a = env.client.request_account(params.clone()).await.unwrap();
    let b = env.client.request_account(params).await.unwrap();
    assert_eq!(a.account_address, env.account());
    assert_eq!(a.id, b.id);
    assert_eq!(a.delegation, Some(MODULAR_ACCOUNT_V2_7702));
    let caps = env.client.get_capabilities(env.account(), None).await.unwrap();
    assert!(caps.contains_key("0x7a69") && caps.contains_key("0x66eee"));
}

#[tokio::test]
async fn the_seed_flow_with_a_root_session() {
    let env = Env::start().await;
    env.delegate().await;
    let session = env.session(vec![Permission::Root], Some(START + 3600)).await;

    // First op: carries the deferred action; the key signs, the owner's signature is in the blob.
    let cap = PermissionsCapability::from(&session);
    let target = Address::repeat_byte(0x42);
    let sent = env
        .send_with(&env.session_key, &cap, vec![Call { to: target, data: None, value: None }])
        .await
        .unwrap();
    let status = env.client.get_calls_status(CallId(sent.id.clone())).await.unwrap();
    assert_eq!(status.status, CallStatusCode::Confirmed);
    let receipt = &status.receipts.unwrap()[0];
    assert_eq!(receipt.logs[0].address, ENTRY_POINT_V07);
    assert_eq!(
        receipt.logs[0].topics[0],
        alloy_primitives::keccak256(sesskey_emulator::USER_OPERATION_EVENT)
    );
    let CallDetails::UserOperation { data } = &sent.details else { panic!() };
    assert_eq!(sent.id, sesskey_account::call_id(CHAIN, data.hash));
    let packed = env.client.packed_signature(CallId(sent.id)).await.unwrap();
    let unpacked = unpack_signature(&packed, true).unwrap();
    assert_eq!(unpacked.deferred.unwrap().1, session.signature.0);

    // Second op, context form: the installed key, a plain signature, the next nonce key.
    let context = PermissionsCapability::Context { context: session.to_context() };
    let sent = env
        .send_with(
            &env.session_key,
            &context,
            vec![Call { to: target, data: Some(vec![1, 2, 3].into()), value: None }],
        )
        .await
        .unwrap();
    let packed = env.client.packed_signature(CallId(sent.id.clone())).await.unwrap();
    assert_eq!(unpack_signature(&packed, false).unwrap().deferred, None);
    let sessions = env.client.list_sessions().await.unwrap();
    assert!(sessions[0].installed);
}

#[tokio::test]
async fn a_limited_session_moves_balances_and_budgets() {
    let env = Env::start().await;
    env.delegate().await;
    let shop = Address::repeat_byte(0x51);
    use alloy_sol_types::SolValue;
    let token =
        env.deploy("Token", &("Test", "TST", U256::from(10u64.pow(6))).abi_encode_params()).await;
    let eth = |x: u64| U256::from(x) * U256::from(10u64.pow(15));
    env.fund(env.account(), eth(2000)).await;
    env.client
        .set_erc20_balance(U64::from(CHAIN), token, env.account(), U256::from(1000))
        .await
        .unwrap();
    let session = env
        .session(
            vec![
                Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: eth(1000) }),
                Permission::ContractAccess(ContractAccess { address: shop }),
                Permission::Erc20TokenTransfer(Erc20TokenTransfer {
                    address: token,
                    allowance: U256::from(300),
                }),
            ],
            None,
        )
        .await;
    let cap = PermissionsCapability::from(&session);
    let transfer = |amount: u64| {
        use alloy_sol_types::SolCall;
        sesskey_account::abi::transferCall { to: shop, amount: U256::from(amount) }.abi_encode()
    };
    env.send_with(
        &env.session_key,
        &cap,
        vec![
            Call { to: shop, data: None, value: Some(eth(600)) },
            Call { to: token, data: Some(transfer(200).into()), value: None },
        ],
    )
    .await
    .unwrap();
    assert_eq!(env.client.get_balance(U64::from(CHAIN), shop).await.unwrap(), eth(600));
    assert_eq!(
        env.client.get_erc20_balance(U64::from(CHAIN), token, shop).await.unwrap(),
        U256::from(200)
    );
    let info = &env.client.list_sessions().await.unwrap()[0];
    assert_eq!(info.native_left, Some(eth(400)));
    assert_eq!(info.erc20_left, vec![(token, U256::from(100))]);

    // Over the native allowance: refused with the engine's reason, nothing moves.
    let e = wallet_error(
        env.send_with(
            &env.session_key,
            &cap,
            vec![Call { to: shop, data: None, value: Some(eth(500)) }],
        )
        .await,
    );
    assert_eq!(e.code(), sesskey_rpc::EXECUTION_REVERTED_CODE);
    assert!(
        e.to_string().contains("calls[0] sends 0.5 ETH; 0.4 ETH left of native-token-transfer"),
        "{e}"
    );
    assert_eq!(env.client.get_balance(U64::from(CHAIN), shop).await.unwrap(), eth(600));
}

#[tokio::test]
async fn calls_settle_after_the_delay_or_on_demand() {
    let config = sesskey_emulator::Config {
        chain_ids: vec![CHAIN],
        policy_ids: vec![POLICY.into()],
        settle_after_ms: 12_000,
        deterministic_start: Some(START),
        cors: false,
        ..Default::default()
    };
    let server = sesskey_emulator::serve(
        sesskey_emulator::Emulator::new(config),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut env = Env::start().await;
    env.client = sesskey_rpc::WalletClient::new(server.url()).unwrap();
    env.server = server;
    env.fund(env.account(), U256::from(10u64.pow(18))).await;
    // An unsponsored owner op: paid from the account's balance.
    let prepared = env
        .client
        .prepare_calls(env.prepare_params(vec![Call::default()], Default::default()))
        .await
        .unwrap();
    let PreparedCalls::Array(array) = prepared else { panic!() };
    let mut signed = vec![];
    for e in array.data {
        match e {
            PreparedElement::Authorization(a) => {
                let signature = sign_authorization(&env.owner, &a).await.unwrap();
                signed.push(SignedElement::Authorization(SignedAuthorization {
                    data: a.data,
                    chain_id: a.chain_id,
                    signature,
                }));
            }
            PreparedElement::UserOperationV070(op) => {
                assert_eq!(op.fee_payment.as_ref().map(|f| f.sponsored), Some(false));
                assert_eq!(op.data.paymaster, None);
                let signature = sign_user_op_v07(&env.owner, &op, ENTRY_POINT_V07).await.unwrap();
                signed.push(SignedElement::UserOperationV070(SignedUserOperationV07 {
                    data: op.data,
                    chain_id: op.chain_id,
                    signature,
                }));
            }
            _ => unreachable!(),
        }
    }
    let sent = env
        .client
        .send_prepared_calls(SendPreparedCallsParams {
            calls: SignedCalls::Array(SignedArray { data: signed }),
            capabilities: None,
            call_id: None,
        })
        .await
        .unwrap();
    let status = env.client.get_calls_status(CallId(sent.id.clone())).await.unwrap();
    assert_eq!(status.status, CallStatusCode::Pending);
    assert!(status.receipts.is_none());
    env.client.increase_time(12).await.unwrap();
    assert_eq!(
        env.client.get_calls_status(CallId(sent.id)).await.unwrap().status,
        CallStatusCode::Confirmed
    );
    assert!(
        env.client.get_balance(U64::from(CHAIN), env.account()).await.unwrap()
            < U256::from(10u64.pow(18)),
        "gas was paid"
    );
}

#[tokio::test]
async fn nonce_and_gas_overrides_are_applied() {
    let env = Env::start().await;
    env.delegate().await;
    let mut caps = Env::sponsored();
    caps.nonce_override = Some(NonceOverride { nonce_key: U256::from(5) });
    caps.gas_params_override = Some(GasParamsOverride {
        call_gas_limit: Some(GasParam::Absolute(U256::from(0x1234))),
        max_fee_per_gas: Some(GasParam::Multiplier { multiplier: 2.0 }),
        ..Default::default()
    });
    let PreparedCalls::UserOperationV070(op) =
        env.client.prepare_calls(env.prepare_params(vec![Call::default()], caps)).await.unwrap()
    else {
        panic!()
    };
    let nonce = Nonce::decode(op.data.nonce);
    assert_eq!(nonce.parallel_key, alloy_primitives::aliases::U152::from(5));
    assert_eq!((nonce.entity_id, nonce.global, nonce.seq), (0, true, 0));
    assert_eq!(op.data.call_gas_limit, alloy_primitives::U128::from(0x1234));
    let PreparedCalls::UserOperationV070(plain) = env
        .client
        .prepare_calls(env.prepare_params(vec![Call::default()], Env::sponsored()))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        op.data.max_fee_per_gas,
        plain.data.max_fee_per_gas * alloy_primitives::U128::from(2)
    );
    // The op on its own nonce key goes through.
    let signature = sign_user_op_v07(&env.owner, &op, ENTRY_POINT_V07).await.unwrap();
    env.client
        .send_prepared_calls(SendPreparedCallsParams {
            calls: SignedCalls::UserOperationV070(SignedUserOperationV07 {
                data: op.data,
                chain_id: op.chain_id,
                signature,
            }),
            capabilities: None,
            call_id: None,
        })
        .await
        .unwrap();
    let mut caps = Env::sponsored();
    caps.nonce_override = Some(NonceOverride { nonce_key: U256::MAX });
    let e = wallet_error(
        env.client.prepare_calls(env.prepare_params(vec![Call::default()], caps)).await,
    );
    assert_eq!(e.to_string(), "invalid `capabilities.nonceOverride.nonceKey`: above 152 bits");
}

/// EIP-7702 (spec §7, §11): undelegate with a lone authorization, then delegate again; the
/// account's storage (sessions, nonces) stays.
#[tokio::test]
async fn undelegate_and_delegate_again() {
    let env = Env::start().await;
    env.delegate().await;
    let session = env.session(vec![Permission::Root], None).await;
    env.send_with(&env.session_key, &PermissionsCapability::from(&session), vec![Call::default()])
        .await
        .unwrap();
    let caps = PrepareCallsCapabilities {
        eip7702_auth: Some(Eip7702AuthCapability::Explicit {
            account: None,
            delegation: Delegation::Undelegate,
        }),
        ..Default::default()
    };
    let mut params = env.prepare_params(vec![], caps);
    params.calls = Some(vec![]);
    let PreparedCalls::Authorization(auth) = env.client.prepare_calls(params).await.unwrap() else {
        panic!("a lone authorization")
    };
    assert_eq!(auth.data.address, Address::ZERO);
    assert_eq!(auth.data.nonce, U64::from(1), "the delegation used nonce 0");
    let signature = sign_authorization(&env.owner, &auth).await.unwrap();
    let sent = env
        .client
        .send_prepared_calls(SendPreparedCallsParams {
            calls: SignedCalls::Authorization(SignedAuthorization {
                data: auth.data.clone(),
                chain_id: auth.chain_id,
                signature: signature.clone(),
            }),
            capabilities: None,
            call_id: None,
        })
        .await
        .unwrap();
    assert!(matches!(sent.details, CallDetails::Delegation { .. }));
    let status = env.client.get_calls_status(CallId(sent.id)).await.unwrap();
    let CallDetails::Delegation { tx_hash: Some(tx_hash) } = status.details else { panic!() };
    // The relayed authorization is a real EIP-7702 transaction on the chain.
    {
        use alloy_consensus::Transaction as _;
        use alloy_provider::Provider;
        let tx = env.provider().get_transaction_by_hash(tx_hash).await.unwrap().unwrap();
        let list = tx.inner.authorization_list().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].address, Address::ZERO);
        assert_eq!(list[0].recover_authority().unwrap(), env.account());
        let code = env.provider().get_code_at(env.account()).await.unwrap();
        assert!(code.is_empty(), "undelegated: no code");
    }
    // Replaying the authorization: its nonce is spent.
    let e = wallet_error(
        env.client
            .send_prepared_calls(SendPreparedCallsParams {
                calls: SignedCalls::Authorization(SignedAuthorization {
                    data: auth.data,
                    chain_id: auth.chain_id,
                    signature,
                }),
                capabilities: None,
                call_id: None,
            })
            .await,
    );
    assert_eq!(e, sesskey_rpc::WalletError::Eip7702NonceMismatch);
    // Undelegated: sessions are refused, and the next prepare delegates again (nonce 2).
    let e = wallet_error(
        env.send_with(
            &env.session_key,
            &PermissionsCapability::from(&session),
            vec![Call::default()],
        )
        .await,
    );
    assert!(e.to_string().contains("not delegated"), "{e}");
    env.delegate().await;
    env.send_with(&env.session_key, &PermissionsCapability::from(&session), vec![Call::default()])
        .await
        .unwrap();
}

/// With `cors`, a browser's preflight is answered; without, it is not.
#[tokio::test]
async fn cors_preflight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for cors in [true, false] {
        let config = sesskey_emulator::Config { cors, ..Env::config() };
        let server = sesskey_emulator::serve(
            sesskey_emulator::Emulator::new(config),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"OPTIONS / HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost:3000\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert_eq!(
            response.to_ascii_lowercase().contains("access-control-allow-origin"),
            cors,
            "{response}"
        );
        server.handle.stop().unwrap();
    }
}

/// The overview the page fetches every second stays bounded however much the emulator holds:
/// lists capped, each entry's lists and data cut, totals stated; installed sessions first.
#[tokio::test]
async fn the_overview_is_bounded() {
    use sesskey_emulator::{OVERVIEW_DATA_BYTES, OVERVIEW_ITEMS, OVERVIEW_SESSIONS};
    let env = Env::start().await;
    env.delegate().await;
    let installed = env.session(vec![Permission::Root], None).await;
    let cap = PermissionsCapability::from(&installed);
    // One op of 30 calls, each with 1 KiB of data.
    let calls: Vec<Call> = (0..30)
        .map(|i| Call {
            to: alloy_primitives::Address::repeat_byte(i + 1),
            data: Some(vec![0xab; 1024].into()),
            value: None,
        })
        .collect();
    env.send_with(&env.session_key, &cap, calls).await.unwrap();
    // 120 sessions requested and never signed, 30 permissions each.
    for n in 0..120u32 {
        let permissions = (0..30u32)
            .map(|i| {
                let mut a = [0u8; 20];
                a[..4].copy_from_slice(&n.to_be_bytes());
                a[4..8].copy_from_slice(&i.to_be_bytes());
                a[19] = 1;
                Permission::ContractAccess(ContractAccess { address: a.into() })
            })
            .collect();
        let params = CreateSessionParams {
            account: env.account(),
            chain_id: U64::from(CHAIN),
            expiry_sec: None,
            key: SessionKey { public_key: env.session_key.address(), ty: KeyType::Secp256k1 },
            permissions,
        };
        env.client.create_session(params).await.unwrap();
    }
    let overview = env.server.emulator.overview();
    assert_eq!(overview.sessions_total, 121);
    assert_eq!(overview.sessions.len(), OVERVIEW_SESSIONS);
    assert!(overview.sessions[0].installed, "installed sessions come first");
    assert!(overview.sessions.iter().all(|s| s.permissions.len() <= OVERVIEW_ITEMS));
    let op = overview.calls.iter().find(|c| c.calls_total == 30).expect("the 30-call op");
    assert_eq!(op.calls.len(), OVERVIEW_ITEMS);
    assert!(op.calls.iter().all(|c| c.data.as_ref().unwrap().len() <= OVERVIEW_DATA_BYTES));
    let size = serde_json::to_string(&overview).unwrap().len();
    assert!(size < 300_000, "the overview is {size} bytes");
    // Each request says when it was made, for which key; an hour later, the requests nobody
    // installed have left the overview, and the installed session stays.
    let requested = overview.sessions.iter().find(|s| !s.installed).unwrap();
    assert_eq!(requested.requested_at, START);
    assert_eq!(requested.session_key, env.session_key.address());
    env.client.increase_time(sesskey_emulator::OVERVIEW_REQUEST_SECS).await.unwrap();
    let later = env.server.emulator.overview();
    assert_eq!(later.sessions_total, 1, "only the installed session is left");
    assert!(later.sessions[0].installed);
}

//! Every refusal of the spec, with its code and message, over loopback.

use crate::helpers::*;
use alloy_primitives::{Address, U256, U64};
use sesskey_rpc::*;
use sesskey_signing::*;
use sesskey_types::*;

alloy_sol_types::sol! {
    error PreValidationHookDuplicate();
    error PreUserOpValidationHookReverted(bytes24 moduleFunction, bytes revertReason);
    error AddressNotAllowed();
    error ValidationFunctionMissing(bytes4 selector);
    error ValidationAlreadySet(bytes4 selector, bytes24 validationFunction);
}

#[tokio::test]
async fn invalid_params_name_the_field() {
    let env = Env::start().await;
    let raw = serde_json::json!([{"calls": [{"to": "0x0000000000000000000000000000000000000000", "value": "12"}],
        "from": env.account(), "chainId": "0x7a69"}]);
    let r: std::result::Result<serde_json::Value, _> = jsonrpsee::core::client::ClientT::request(
        &env.client,
        "wallet_prepareCalls",
        RawParams(raw),
    )
    .await;
    let e = wallet_error(r);
    assert_eq!(e.code(), INVALID_PARAMS_CODE);
    assert_eq!(e.to_string(), "invalid `calls[0].value`: invalid quantity: missing 0x prefix");
}

/// Params passed as they are.
struct RawParams(serde_json::Value);

impl jsonrpsee::core::traits::ToRpcParams for RawParams {
    fn to_rpc_params(
        self,
    ) -> std::result::Result<Option<Box<serde_json::value::RawValue>>, serde_json::Error> {
        serde_json::value::to_raw_value(&self.0).map(Some)
    }
}

#[tokio::test]
async fn wrong_chain_unknown_policy_and_unknown_call_id() {
    let env = Env::start().await;
    let mut p = env.prepare_params(vec![Call::default()], Env::sponsored());
    p.chain_id = U64::from(1);
    let e = wallet_error(env.client.prepare_calls(p).await);
    assert_eq!(e.code(), INVALID_PARAMS_CODE);
    assert!(e.to_string().starts_with("invalid `chainId`: chain 0x1 is not supported"), "{e}");

    let mut caps = Env::sponsored();
    caps.paymaster_service.as_mut().unwrap().policy =
        PolicySelector::One { policy_id: "11111111-1111-4111-8111-111111111111".into() };
    let e = wallet_error(
        env.client.prepare_calls(env.prepare_params(vec![Call::default()], caps)).await,
    );
    assert_eq!(e.code(), INVALID_REQUEST_CODE);
    assert!(
        e.to_string().starts_with("Sponsorship failed: [invalid_argument] Policy ID(s) not found."),
        "{e}"
    );

    let e = wallet_error(env.client.get_calls_status(CallId(vec![7; 64].into())).await);
    assert_eq!(e, WalletError::UnknownCallId);
    assert_eq!(e.code(), 5730);
}

#[tokio::test]
async fn no_sponsorship_and_no_balance_fails_the_precheck() {
    let env = Env::start().await;
    // A prepare answers, saying what the op may cost, so an app can tell its user what to fund.
    let prepared = env
        .client
        .prepare_calls(env.prepare_params(vec![Call::default()], Default::default()))
        .await
        .unwrap();
    let PreparedCalls::Array(array) = prepared else { panic!("an undelegated account") };
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
                let fee = op.fee_payment.clone().unwrap();
                assert!(!fee.sponsored);
                assert!(fee.max_amount > alloy_primitives::U256::ZERO);
                let signature = sign_user_op_v07(&env.owner, &op, ENTRY_POINT_V07).await.unwrap();
                signed.push(SignedElement::UserOperationV070(SignedUserOperationV07 {
                    data: op.data,
                    chain_id: op.chain_id,
                    signature,
                }));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The funds are checked at send, as a bundler does.
    let e = wallet_error(
        env.client
            .send_prepared_calls(SendPreparedCallsParams {
                calls: SignedCalls::Array(SignedArray { data: signed }),
                capabilities: None,
                call_id: None,
            })
            .await,
    );
    assert_eq!(e.code(), SERVER_ERROR_CODE);
    assert!(
        e.to_string().starts_with("precheck failed: sender balance and deposit together is 0"),
        "{e}"
    );
}

#[tokio::test]
async fn sessions_need_a_delegated_account() {
    let env = Env::start().await;
    let params = CreateSessionParams {
        account: env.account(),
        chain_id: U64::from(CHAIN),
        expiry_sec: None,
        key: SessionKey { public_key: env.session_key.address(), ty: KeyType::Secp256k1 },
        permissions: vec![Permission::Root],
    };
    let e = wallet_error(env.client.create_session(params.clone()).await);
    assert_eq!(e.code(), INVALID_PARAMS_CODE);
    assert!(e.to_string().contains("is not delegated"), "{e}");
    env.delegate().await;
    let mut past = params.clone();
    past.expiry_sec = Some(START - 1);
    let e = wallet_error(env.client.create_session(past).await);
    assert!(e.to_string().starts_with("invalid `expirySec`"), "{e}");
    let mut bad = params;
    bad.permissions = vec![Permission::GasLimit(GasLimit { limit: U256::from(1) })];
    let e = wallet_error(env.client.create_session(bad).await);
    assert!(
        e.to_string().starts_with("invalid `permissions`: permissions grant no function"),
        "{e}"
    );
}

#[tokio::test]
async fn wrong_signers_are_refused() {
    let env = Env::start().await;
    env.delegate().await;
    let session = env.session(vec![Permission::Root], None).await;
    let cap = PermissionsCapability::from(&session);
    // The op signed by someone else than the session key.
    let e = wallet_error(env.send_with(&Env::stranger(), &cap, vec![Call::default()]).await);
    assert_eq!(e, WalletError::InvalidAccountSignature);
    assert_eq!(e.code(), -32507);
    // A session authorization not signed by the owner.
    let forged = SessionRef { session_id: session.session_id, signature: [1u8; 65].into() };
    let mut sig = [0u8; 65];
    let digest = alloy_primitives::B256::repeat_byte(9);
    sig.copy_from_slice(
        &alloy_signer::SignerSync::sign_hash_sync(&Env::stranger(), &digest).unwrap().as_bytes(),
    );
    let forged2 = SessionRef { signature: sig.into(), ..forged.clone() };
    // As the account refuses it (spec §12): AA23 with `DeferredActionSignatureInvalid()`.
    for bad in [forged, forged2] {
        let e = wallet_error(
            env.send_with(
                &env.session_key,
                &PermissionsCapability::from(&bad),
                vec![Call::default()],
            )
            .await,
        );
        assert_eq!(e.code(), VALIDATION_REVERTED_CODE, "{e:?}");
        assert_eq!(e.entry_point_code(), Some("AA23"));
        assert_eq!(e.revert_data().map(|d| d.to_vec()), Some(vec![0x01, 0x33, 0x4f, 0x77]));
    }
}

/// (session, its permissions and expiry, the revert data expected: `None` for AA25, empty for
/// `ValidationAlreadySet` of the session's entity).
type ReplayCase = (&'static str, Vec<Permission>, Option<u64>, Option<Vec<u8>>);

#[tokio::test]
async fn reused_nonces_are_refused_with_aa25() {
    let env = Env::start().await;
    env.delegate().await;
    // A session's first op replayed: the account re-runs the deferred install before the nonce
    // check, so the chain's answer depends on the install (spec §12.1).
    use alloy_sol_types::SolError;
    let shop = Address::repeat_byte(0x51);
    let cases: [ReplayCase; 3] = [
        (
            "root, no expiry: the install runs again, the nonce is refused",
            vec![Permission::Root],
            None,
            None,
        ),
        (
            "root with an expiry hook",
            vec![Permission::Root],
            Some(START + 3600),
            Some(PreValidationHookDuplicate {}.abi_encode()),
        ),
        (
            "a session with selectors",
            vec![Permission::ContractAccess(ContractAccess { address: shop })],
            None,
            Some(Vec::new()),
        ),
    ];
    for (entity, (name, permissions, expiry, want)) in (1u32..).zip(cases) {
        let session = env.session(permissions, expiry).await;
        let cap = PermissionsCapability::from(&session);
        let caps = PrepareCallsCapabilities { permissions: Some(cap.clone()), ..Env::sponsored() };
        let call = Call { to: shop, data: Some(vec![1, 2, 3, 4].into()), value: None };
        let prepared = env.client.prepare_calls(env.prepare_params(vec![call], caps)).await;
        let PreparedCalls::UserOperationV070(op) = prepared.unwrap() else { panic!() };
        let send = signed(&env.session_key, op, Some(cap)).await;
        env.client.send_prepared_calls(send.clone()).await.unwrap();
        let e = wallet_error(env.client.send_prepared_calls(send).await);
        assert_eq!(e.code(), VALIDATION_REVERTED_CODE, "{name}");
        match want {
            None => assert_eq!(e.entry_point_code(), Some("AA25"), "{name}"),
            Some(data) => {
                assert_eq!(e.entry_point_code(), Some("AA23"), "{name}");
                let data = if data.is_empty() {
                    let mut validation = [0u8; 24];
                    validation[..20]
                        .copy_from_slice(sesskey_account::abi::SINGLE_SIGNER_VALIDATION.as_slice());
                    validation[20..].copy_from_slice(&entity.to_be_bytes());
                    ValidationAlreadySet {
                        selector: [0xb6, 0x1d, 0x27, 0xf6].into(),
                        validationFunction: validation.into(),
                    }
                    .abi_encode()
                } else {
                    data
                };
                assert_eq!(e.revert_data().map(|d| d.to_vec()), Some(data), "{name}");
            }
        }
    }
    // An owner op replayed: AA25.
    let PreparedCalls::UserOperationV070(op) = env
        .client
        .prepare_calls(env.prepare_params(vec![Call::default()], Env::sponsored()))
        .await
        .unwrap()
    else {
        panic!()
    };
    let send = signed(&env.owner, op, None).await;
    env.client.send_prepared_calls(send.clone()).await.unwrap();
    let e = wallet_error(env.client.send_prepared_calls(send).await);
    assert_eq!(e.entry_point_code(), Some("AA25"));
    assert_eq!(e.kind(), ErrorKind::Reprepare);
}

#[tokio::test]
async fn expired_unknown_foreign_and_revoked_sessions() {
    let env = Env::start().await;
    env.delegate().await;
    let session = env.session(vec![Permission::Root], Some(START + 60)).await;
    let cap = PermissionsCapability::from(&session);
    env.send_with(&env.session_key, &cap, vec![Call::default()]).await.unwrap();
    sesskey_rpc::EmulatorApiClient::increase_time(&env.client, 61).await.unwrap();
    let e = wallet_error(env.send_with(&env.session_key, &cap, vec![Call::default()]).await);
    assert_eq!(e.entry_point_code(), Some("AA22"));
    assert!(e.to_string().contains("the session expired at"), "{e}");

    let unknown = SessionRef { session_id: [9u8; 16].into(), ..session.clone() };
    let e = wallet_error(
        env.send_with(
            &env.session_key,
            &PermissionsCapability::from(&unknown),
            vec![Call::default()],
        )
        .await,
    );
    assert!(e.to_string().contains("unknown session"), "{e}");

    // Another account's request with this session.
    let mut p = env.prepare_params(
        vec![Call::default()],
        PrepareCallsCapabilities { permissions: Some(cap.clone()), ..Env::sponsored() },
    );
    p.from = Address::repeat_byte(0x99);
    let e = wallet_error(env.client.prepare_calls(p).await);
    assert!(
        e.to_string().contains("is not delegated") || e.to_string().contains("another account"),
        "{e}"
    );

    let fresh = env.session(vec![Permission::Root], None).await;
    sesskey_rpc::EmulatorApiClient::revoke_session(&env.client, fresh.session_id).await.unwrap();
    let e = wallet_error(
        env.send_with(
            &env.session_key,
            &PermissionsCapability::from(&fresh),
            vec![Call::default()],
        )
        .await,
    );
    assert!(e.to_string().contains("was revoked"), "{e}");
}

#[tokio::test]
async fn calls_outside_the_permissions_are_refused_with_the_reason() {
    let env = Env::start().await;
    env.delegate().await;
    let shop = Address::repeat_byte(0x51);
    let session =
        env.session(vec![Permission::ContractAccess(ContractAccess { address: shop })], None).await;
    let cap = PermissionsCapability::from(&session);
    env.send_with(&env.session_key, &cap, vec![Call { to: shop, data: None, value: None }])
        .await
        .unwrap();
    let other = Address::repeat_byte(0x52);
    let e = wallet_error(
        env.send_with(
            &env.session_key,
            &cap,
            vec![
                Call { to: shop, data: None, value: None },
                Call { to: other, data: Some(vec![1, 2, 3, 4].into()), value: None },
            ],
        )
        .await,
    );
    assert_eq!(e.entry_point_code(), Some("AA23"));
    assert!(e.to_string().contains("calls[1]: a call of 0x01020304 to"), "{e}");
    // error.data: PreUserOpValidationHookReverted(AllowlistModule ‖ entity 1, AddressNotAllowed()).
    {
        use alloy_sol_types::SolError;
        let hook = PreUserOpValidationHookReverted::abi_decode(e.revert_data().unwrap()).unwrap();
        let mut module = [0u8; 24];
        module[..20].copy_from_slice(sesskey_account::abi::ALLOWLIST_MODULE.as_slice());
        module[23] = 1;
        assert_eq!(hook.moduleFunction.0, module);
        assert_eq!(hook.revertReason.to_vec(), AddressNotAllowed {}.abi_encode());
    }
    // The account's own privileged functions, never.
    let e = wallet_error(
        env.send_with(
            &env.session_key,
            &cap,
            vec![Call {
                to: env.account(),
                data: Some(vec![0x1b, 0xbf, 0x56, 0x4c].into()),
                value: None,
            }],
        )
        .await,
    );
    assert!(
        e.to_string().contains("installValidation (0x1bbf564c) on the account is never allowed"),
        "{e}"
    );
    use alloy_sol_types::SolError;
    assert_eq!(
        e.revert_data().unwrap().to_vec(),
        ValidationFunctionMissing { selector: [0x1b, 0xbf, 0x56, 0x4c].into() }.abi_encode()
    );
}

#[tokio::test]
async fn an_injected_failure_hits_the_next_call_only() {
    let env = Env::start().await;
    sesskey_rpc::EmulatorApiClient::fail_next(
        &env.client,
        "wallet_getCapabilities".into(),
        -32603,
        "boom".into(),
    )
    .await
    .unwrap();
    let e = env.client.get_capabilities(env.account(), None).await.unwrap_err();
    assert_eq!(e.wallet_error(), Some(&WalletError::Internal("boom".into())));
    env.client.get_capabilities(env.account(), None).await.unwrap();
    // Only methods the server answers, and a long message is cut to 1,000 bytes.
    let e = sesskey_rpc::EmulatorApiClient::fail_next(
        &env.client,
        "wallet_noSuchMethod".into(),
        -32603,
        "boom".into(),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("has no method") && e.to_string().contains("wallet_noSuchMethod"),
        "{e}"
    );
    sesskey_rpc::EmulatorApiClient::fail_next(
        &env.client,
        "wallet_getCapabilities".into(),
        -32603,
        "x".repeat(5_000),
    )
    .await
    .unwrap();
    let e = env.client.get_capabilities(env.account(), None).await.unwrap_err();
    assert_eq!(e.to_string().len(), 1_000, "{}", e.to_string().len());
}

#[tokio::test]
async fn list_accounts_refuses_a_cursor_it_never_issued() {
    let env = Env::start().await;
    let params = ListAccountsParams {
        signer_address: env.account(),
        limit: None,
        after: Some("!!!".into()),
    };
    let e = wallet_error(env.client.list_accounts(params).await);
    assert_eq!(e.code(), INVALID_PARAMS_CODE);
    assert!(e.to_string().contains("invalid `after`"), "{e}");
}

#[tokio::test]
async fn websocket_only_when_asked() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn upgrade(addr: std::net::SocketAddr) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 256];
        let n = s.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_string()
    }
    let env = Env::start().await;
    let line = upgrade(env.server.addr).await;
    assert!(!line.contains("101"), "no WebSocket by default: {line}");
    let config = sesskey_emulator::Config { ws: true, ..Env::config() };
    let ws = Env::with(sesskey_emulator::Emulator::new(config)).await;
    let line = upgrade(ws.server.addr).await;
    assert!(line.contains("101"), "WebSocket when enabled: {line}");
}

/// Two clients race to spend one session's allowance: exactly one wins.
#[tokio::test]
async fn racing_spends_never_overspend() {
    let env = Env::start().await;
    env.delegate().await;
    let shop = Address::repeat_byte(0x51);
    let eth = |x: u64| U256::from(x) * U256::from(10u64.pow(15));
    env.fund(env.account(), eth(5000)).await;
    let session = env
        .session(
            vec![
                Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: eth(1000) }),
                Permission::ContractAccess(ContractAccess { address: shop }),
            ],
            None,
        )
        .await;
    let cap = PermissionsCapability::from(&session);
    env.send_with(&env.session_key, &cap, vec![Call { to: shop, data: None, value: Some(eth(1)) }])
        .await
        .unwrap();
    let pay = || {
        env.send_with(
            &env.session_key,
            &cap,
            vec![Call { to: shop, data: None, value: Some(eth(600)) }],
        )
    };
    let (a, b) = tokio::join!(pay(), pay());
    assert_eq!(a.is_ok() as u8 + b.is_ok() as u8, 1, "{a:?} {b:?}");
    assert_eq!(
        sesskey_rpc::EmulatorApiClient::get_balance(&env.client, U64::from(CHAIN), shop)
            .await
            .unwrap(),
        eth(601)
    );
    let info = &sesskey_rpc::EmulatorApiClient::list_sessions(&env.client).await.unwrap()[0];
    assert_eq!(info.native_left, Some(eth(399)));
}

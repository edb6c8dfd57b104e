//! SMA-B smart-contract accounts (ModularAccountV2's `SemiModularAccountBytecode`, the SDK's
//! default account): `wallet_requestAccount` as Alchemy answers it, the first op deploying the
//! account through the factory, owner ops and sessions on it, ERC-1271 through its owner, and
//! the factory answering a plain transaction.

use crate::helpers::*;
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{sol, SolCall};
use sesskey_account::*;
use sesskey_rpc::{WalletApiClient, WalletError};
use sesskey_signing::*;
use sesskey_types::*;

sol! {
    function bump(uint256 amount);
    function value() returns (uint256);
    function accountId() returns (string);
    function getFallbackSignerData() returns (address, bool);
    function valid(address account, bytes32 hash, bytes signature) returns (bool);
    function createSemiModularAccount(address owner, uint256 salt) returns (address);
}

fn by_signer(signer: Address, id: Option<&str>, hint: serde_json::Value) -> RequestAccountParams {
    let mut v = serde_json::json!({"signerAddress": signer, "creationHint": hint,
        "includeCounterfactualInfo": true});
    if let Some(id) = id {
        v["id"] = id.into();
    }
    serde_json::from_value(v).unwrap()
}

/// The owner's default SMA-B account (salt 0), requested.
async fn request(env: &Env) -> Address {
    let params = by_signer(env.owner.address(), None, serde_json::json!({}));
    env.client.request_account(params).await.unwrap().account_address
}

fn params(from: Address, calls: Vec<Call>, caps: PrepareCallsCapabilities) -> PrepareCallsParams {
    PrepareCallsParams {
        calls: Some(calls),
        from,
        chain_id: U64::from(CHAIN),
        capabilities: Some(caps),
        paymaster_permit_signature: None,
    }
}

/// Prepares `calls` from `from` (with the session `cap` if any), signs with `signer`, sends;
/// answers the prepared op and the final status.
async fn send(
    env: &Env,
    from: Address,
    signer: &alloy_signer_local::PrivateKeySigner,
    cap: Option<PermissionsCapability>,
    calls: Vec<Call>,
) -> (UserOperationV07, CallsStatus) {
    let caps = PrepareCallsCapabilities { permissions: cap.clone(), ..Env::sponsored() };
    let prepared = env.client.prepare_calls(params(from, calls, caps)).await.unwrap();
    let PreparedCalls::UserOperationV070(op) = prepared else {
        panic!("an SMA-B account gets one op, no authorization: {prepared:?}")
    };
    let data = op.data.clone();
    let sent = env.client.send_prepared_calls(signed(signer, op, cap).await).await.unwrap();
    let status = env.client.get_calls_status(CallId(sent.id)).await.unwrap();
    (data, status)
}

/// `data` signed by `signer` as the account's owner signs an op (personal_sign of its hash),
/// with no check: what a client that signs whatever it is given would send.
async fn signed_blindly(
    signer: &alloy_signer_local::PrivateKeySigner,
    data: UserOperationV07,
) -> SendPreparedCallsParams {
    use alloy_signer::Signer;
    let hash = user_op_v07_hash(&data, ENTRY_POINT_V07, CHAIN);
    let sig = signer.sign_message(hash.as_slice()).await.unwrap();
    SendPreparedCallsParams {
        calls: SignedCalls::UserOperationV070(SignedUserOperationV07 {
            data,
            chain_id: U64::from(CHAIN),
            signature: Signature {
                ty: SignatureType::Secp256k1,
                data: SignatureData::Hex(sig.as_bytes().to_vec().into()),
            },
        }),
        capabilities: None,
        call_id: None,
    }
}

async fn code(env: &Env, at: Address) -> Bytes {
    env.provider().get_code_at(at).await.unwrap()
}

async fn eth_call(env: &Env, to: Address, data: Vec<u8>) -> Bytes {
    env.provider().call(TransactionRequest::default().to(to).input(data.into())).await.unwrap()
}

#[tokio::test]
async fn request_account_answers_as_alchemy_does() {
    let env = Env::start().await;
    let signer = env.owner.address();
    let first = env.client.request_account(by_signer(signer, None, serde_json::json!({})));
    let first = first.await.unwrap();
    assert_eq!(first.account_address, sma_b_address(signer, U256::ZERO));
    assert_eq!(first.delegation, None);
    let info = first.counterfactual_info.clone().expect("counterfactual info was asked for");
    assert_eq!(info.factory_type, "MAv2.0.0-sma-b");
    assert_eq!(info.factory_address, MODULAR_ACCOUNT_FACTORY);
    assert_eq!(info.factory_data, sma_b_factory_data(signer, U256::ZERO));
    // The same inputs: the same account and id.
    let again = env.client.request_account(by_signer(signer, None, serde_json::json!({})));
    assert_eq!(again.await.unwrap(), first);

    // A salt written as Alchemy's schema allows ("0x1", a number) with an id.
    let id = "26b375e3-c94a-4e98-b6b7-5a97121aa583";
    let one = by_signer(signer, Some(id), serde_json::json!({"salt": "0x1"}));
    let one = env.client.request_account(one).await.unwrap();
    assert_eq!(one.account_address, sma_b_address(signer, U256::from(1)));
    assert_eq!(one.id, id);
    let two = by_signer(
        signer,
        Some("2a3320b4-6ed2-4833-a488-5188e9bdd9d2"),
        serde_json::json!({"salt": "0x2", "accountType": "sma-b", "createAdditional": true}),
    );
    let two = env.client.request_account(two).await.unwrap();
    assert_eq!(two.account_address, sma_b_address(signer, U256::from(2)));
    assert_ne!(two.account_address, first.account_address);
    // An id already answered keeps its account, whatever the hint says now.
    let same = by_signer(signer, Some(id), serde_json::json!({"salt": "0x9"}));
    assert_eq!(
        env.client.request_account(same).await.unwrap().account_address,
        one.account_address
    );

    // With no id (the v4 client never sends one), the salt says which account: the salted one
    // (the address Alchemy answered its v4 test), the same again, and the default one for none.
    let salted = by_signer(signer, None, serde_json::json!({"salt": "0x1"}));
    let salted = env.client.request_account(salted).await.unwrap();
    assert_eq!(salted.account_address, sma_b_address(signer, U256::from(1)));
    let again = by_signer(signer, None, serde_json::json!({"salt": "0x1"}));
    assert_eq!(env.client.request_account(again).await.unwrap(), salted);
    let default = by_signer(signer, None, serde_json::json!({}));
    assert_eq!(env.client.request_account(default).await.unwrap(), first);

    // By address: the SMA-B account as it was answered.
    let by_address: RequestAccountParams = serde_json::from_value(
        serde_json::json!({"accountAddress": first.account_address, "includeCounterfactualInfo": true}),
    )
    .unwrap();
    assert_eq!(env.client.request_account(by_address).await.unwrap(), first);

    // 7702: the signer itself.
    let eoa = by_signer(signer, None, serde_json::json!({"accountType": "7702"}));
    let eoa = env.client.request_account(eoa).await.unwrap();
    assert_eq!(eoa.account_address, signer);
    assert_eq!(eoa.delegation, Some(MODULAR_ACCOUNT_V2_7702));

    // listAccounts: the three SMA-B accounts, then the 7702 one.
    let listed = env
        .client
        .list_accounts(ListAccountsParams { signer_address: signer, limit: Some(2), after: None })
        .await
        .unwrap();
    assert_eq!(listed.meta.total_count, 4);
    assert_eq!(listed.accounts.len(), 2);
    let rest = env
        .client
        .list_accounts(ListAccountsParams {
            signer_address: signer,
            limit: None,
            after: listed.meta.after.clone(),
        })
        .await
        .unwrap();
    assert_eq!(rest.accounts.len(), 2);
    assert_eq!(rest.accounts.last().unwrap().account_address, signer);
    assert_eq!(rest.meta.after, None);

    // Refused: an id that is not a UUID v4, an account type the emulator does not serve.
    let bad_id = by_signer(signer, Some("not-a-uuid"), serde_json::json!({}));
    let e = wallet_error(env.client.request_account(bad_id).await);
    assert!(matches!(&e, WalletError::InvalidParams(m) if m.contains("`id`")), "{e:?}");
    let light = by_signer(signer, None, serde_json::json!({"accountType": "la-v2"}));
    let e = wallet_error(env.client.request_account(light).await);
    assert!(matches!(&e, WalletError::InvalidParams(m) if m.contains("la-v2")), "{e:?}");
}

#[tokio::test]
async fn the_first_owner_op_deploys_the_account_and_later_ops_use_it() {
    let env = Env::start().await;
    let counter = env.deploy("Counter", &[]).await;
    let account = request(&env).await;
    assert!(code(&env, account).await.is_empty(), "counterfactual before its first op");

    let inc = Call {
        to: counter,
        data: Some(bumpCall { amount: U256::from(1) }.abi_encode().into()),
        value: None,
    };
    let (op, status) = send(&env, account, &env.owner, None, vec![inc.clone()]).await;
    assert_eq!(op.factory, Some(MODULAR_ACCOUNT_FACTORY));
    assert_eq!(op.factory_data, Some(sma_b_factory_data(env.owner.address(), U256::ZERO)));
    assert_eq!(status.status, CallStatusCode::Confirmed, "{status:?}");
    // The account is deployed as the factory deploys it, and answers as the account.
    assert_eq!(code(&env, account).await, sma_b_runtime_code(env.owner.address()));
    let id = eth_call(&env, account, accountIdCall {}.abi_encode()).await;
    assert_eq!(accountIdCall::abi_decode_returns(&id).unwrap(), SMA_B_ACCOUNT_ID);
    let signer = eth_call(&env, account, getFallbackSignerDataCall {}.abi_encode()).await;
    assert_eq!(
        getFallbackSignerDataCall::abi_decode_returns(&signer).unwrap()._0,
        env.owner.address()
    );
    // The deployment's logs: the factory's and the EntryPoint's.
    let receipt = &status.receipts.as_ref().unwrap()[0];
    let topics: Vec<B256> = receipt.logs.iter().filter_map(|l| l.topics.first().copied()).collect();
    let deployed = alloy_primitives::keccak256("AccountDeployed(bytes32,address,address,address)");
    assert!(topics.contains(&deployed), "{topics:?}");

    // A second op: no factory, the counter moves again.
    let (op, status) = send(&env, account, &env.owner, None, vec![inc]).await;
    assert_eq!(op.factory, None);
    assert_eq!(status.status, CallStatusCode::Confirmed);
    let count = eth_call(&env, counter, valueCall {}.abi_encode()).await;
    assert_eq!(U256::from_be_slice(&count), U256::from(2));
}

#[tokio::test]
async fn an_op_signed_by_anyone_but_the_owner_or_deploying_another_account_is_refused() {
    let env = Env::start().await;
    let account = request(&env).await;
    let prepared = env
        .client
        .prepare_calls(params(account, vec![Call::default()], Env::sponsored()))
        .await
        .unwrap();
    let PreparedCalls::UserOperationV070(op) = prepared else { panic!() };
    // Signed by the account's address as if it were a 7702 account: nobody's key.
    let e = wallet_error(
        env.client.send_prepared_calls(signed(&Env::stranger(), op.clone(), None).await).await,
    );
    assert!(matches!(e, WalletError::InvalidAccountSignature), "{e:?}");

    // Another owner's factory call (the op re-signed by the owner, as a hostile server would
    // have it): the EntryPoint's AA14.
    let mut other = op.data.clone();
    other.factory_data = Some(sma_b_factory_data(Env::stranger().address(), U256::ZERO));
    let e =
        wallet_error(env.client.send_prepared_calls(signed_blindly(&env.owner, other).await).await);
    assert!(
        matches!(&e, WalletError::ValidationReverted { aa, .. } if aa.starts_with("AA14")),
        "{e:?}"
    );
    // No factory at all: not deployed.
    let mut none = op.data;
    none.factory = None;
    none.factory_data = None;
    let e =
        wallet_error(env.client.send_prepared_calls(signed_blindly(&env.owner, none).await).await);
    assert!(
        matches!(&e, WalletError::ValidationReverted { aa, .. } if aa.starts_with("AA20")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_session_on_a_counterfactual_account_deploys_it_installs_and_is_revoked() {
    let env = Env::start().await;
    let counter = env.deploy("Counter", &[]).await;
    let account = request(&env).await;
    let permissions = vec![Permission::FunctionsOnContract(FunctionsOnContract {
        address: counter,
        functions: vec![alloy_primitives::FixedBytes(bumpCall::SELECTOR)],
    })];
    let created = env
        .client
        .create_session(CreateSessionParams {
            account,
            chain_id: U64::from(CHAIN),
            expiry_sec: Some(START + 3600),
            key: SessionKey { public_key: env.session_key.address(), ty: KeyType::Secp256k1 },
            permissions,
        })
        .await
        .unwrap();
    // A DeferredAction signed by anyone but the owner is refused at the first op.
    let forged = sign_request(&Env::stranger(), &created.signature_request, None).await.unwrap();
    let owner_sig = sign_request(&env.owner, &created.signature_request, None).await.unwrap();
    let cap = |sig: SignatureData| {
        let SignatureData::Hex(bytes) = sig else { panic!() };
        PermissionsCapability::Session { session_id: created.session_id, signature: bytes }
    };
    let inc = Call {
        to: counter,
        data: Some(bumpCall { amount: U256::from(1) }.abi_encode().into()),
        value: None,
    };
    let caps = PrepareCallsCapabilities { permissions: Some(cap(forged.data)), ..Env::sponsored() };
    let e = wallet_error(env.client.prepare_calls(params(account, vec![inc.clone()], caps)).await);
    assert!(
        matches!(&e, WalletError::ValidationReverted { aa, .. } if aa.starts_with("AA23")),
        "{e:?}"
    );

    let session = cap(owner_sig.data);
    let (op, status) =
        send(&env, account, &env.session_key, Some(session.clone()), vec![inc.clone()]).await;
    assert_eq!(op.factory, Some(MODULAR_ACCOUNT_FACTORY), "the first op deploys the account");
    assert_eq!(status.status, CallStatusCode::Confirmed, "{status:?}");
    assert!(!code(&env, account).await.is_empty());
    let (_, status) =
        send(&env, account, &env.session_key, Some(session.clone()), vec![inc.clone()]).await;
    assert_eq!(status.status, CallStatusCode::Confirmed);
    let count = eth_call(&env, counter, valueCall {}.abi_encode()).await;
    assert_eq!(U256::from_be_slice(&count), U256::from(2));

    // Outside its permissions: refused before anything is signed.
    let other = Call { to: Env::stranger().address(), data: None, value: None };
    let caps = PrepareCallsCapabilities { permissions: Some(session.clone()), ..Env::sponsored() };
    assert!(env.client.prepare_calls(params(account, vec![other], caps)).await.is_err());

    // The owner uninstalls the session's validation: the session is refused from then on.
    let SignatureRequest::TypedData { data: action, .. } = &created.signature_request else {
        panic!("a DeferredAction to sign")
    };
    let install: Bytes = serde_json::from_value(action.message["call"].clone()).unwrap();
    let uninstall =
        Call { to: account, data: Some(encode_uninstall(&install).unwrap()), value: None };
    let (_, status) = send(&env, account, &env.owner, None, vec![uninstall]).await;
    assert_eq!(status.status, CallStatusCode::Confirmed);
    let caps = PrepareCallsCapabilities { permissions: Some(session), ..Env::sponsored() };
    assert!(env.client.prepare_calls(params(account, vec![inc], caps)).await.is_err());
}

#[tokio::test]
async fn the_owner_signs_for_the_account_through_erc1271_and_erc6492_before_deployment() {
    let env = Env::start().await;
    let gate = env.deploy("SigGate", &[]).await;
    let account = request(&env).await;
    let hash = alloy_primitives::keccak256("hello world");
    let message = format!("0x{}", alloy_primitives::hex::encode(hash));
    let sign = || async {
        let prepared = env
            .client
            .prepare_sign(PrepareSignParams {
                from: account,
                chain_id: U64::from(CHAIN),
                signature_request: serde_json::from_value(
                    serde_json::json!({"type": "personal_sign", "data": {"raw": message}}),
                )
                .unwrap(),
                capabilities: None,
            })
            .await
            .unwrap();
        let request: SignatureRequest =
            serde_json::from_value(serde_json::to_value(&prepared.signature_request).unwrap())
                .unwrap();
        let signature = sign_request(&env.owner, &request, None).await.unwrap();
        env.client
            .format_sign(FormatSignParams {
                from: account,
                chain_id: U64::from(CHAIN),
                signature,
                capabilities: None,
            })
            .await
            .unwrap()
            .signature
    };
    // Counterfactual: the owner's signature wrapped for ERC-6492 (factory, its call, the
    // signature the account will check).
    let wrapped = sign().await;
    assert!(wrapped.ends_with(&ERC6492_MAGIC));
    let digest = personal_sign_digest(&PersonalSignData::Raw { raw: hash.to_vec().into() });
    let inner = {
        let body = &wrapped[..wrapped.len() - 32];
        let (factory, data, sig) =
            <(Address, Bytes, Bytes) as alloy_sol_types::SolValue>::abi_decode_params(body)
                .unwrap();
        assert_eq!(
            (factory, data),
            (MODULAR_ACCOUNT_FACTORY, sma_b_factory_data(env.owner.address(), U256::ZERO))
        );
        sig
    };

    // What an ERC-6492 verifier does: deploy with the factory call (a plain transaction to the
    // factory here), then ask the account.
    let deploy = createSemiModularAccountCall { owner: env.owner.address(), salt: U256::ZERO };
    let tx = TransactionRequest::default()
        .to(MODULAR_ACCOUNT_FACTORY)
        .input(Bytes::from(deploy.abi_encode()).into());
    let receipt = env.provider().send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    assert_eq!(code(&env, account).await, sma_b_runtime_code(env.owner.address()));
    let env = &env;
    let ok = |sig: Bytes| async move {
        let check = validCall { account, hash: digest, signature: sig };
        validCall::abi_decode_returns(&eth_call(env, gate, check.abi_encode()).await).unwrap()
    };
    assert!(ok(inner.clone()).await, "the owner's signature is valid for the deployed account");
    // Deployed now: the signature comes unwrapped, and still checks.
    let plain = sign().await;
    assert_eq!(plain, inner);
    // Someone else's signature of the same request is not.
    let mut forged = inner.to_vec();
    let n = forged.len();
    forged[n - 2] ^= 1;
    assert!(!ok(forged.into()).await);
}

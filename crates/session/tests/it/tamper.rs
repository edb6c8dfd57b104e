//! A client that alters one field of the server's answers: the orchestrator refuses each
//! alteration with a typed error and signs nothing.

use crate::flow::{emulator, request, CHAIN, POLICY};
use crate::Counting;
use jsonrpsee::core::client::{BatchResponse, ClientT};
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::core::ClientError;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sesskey_rpc::WalletClient;
use sesskey_session::{Error, Orchestrator};
use sesskey_signing::dev::{dev_owner, dev_session_key};
use sesskey_types::*;
use std::sync::Arc;
use std::time::Duration;

pub(crate) type Edit = Arc<dyn Fn(&str, &mut Value) + Send + Sync>;

/// Delegates to a real client and edits answers on the way back.
#[derive(Clone)]
pub(crate) struct Tamper {
    pub(crate) inner: WalletClient,
    pub(crate) edit: Edit,
}

impl std::fmt::Debug for Tamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tamper")
    }
}

impl ClientT for Tamper {
    async fn notification<P: ToRpcParams + Send>(
        &self,
        method: &str,
        params: P,
    ) -> Result<(), ClientError> {
        self.inner.notification(method, params).await
    }

    async fn request<R: DeserializeOwned, P: ToRpcParams + Send>(
        &self,
        method: &str,
        params: P,
    ) -> Result<R, ClientError> {
        let mut v: Value = self.inner.request(method, params).await?;
        (self.edit)(method, &mut v);
        serde_json::from_value(v).map_err(ClientError::ParseError)
    }

    async fn batch_request<'a, R: DeserializeOwned + std::fmt::Debug + 'a>(
        &self,
        batch: BatchRequestBuilder<'a>,
    ) -> Result<BatchResponse<'a, R>, ClientError> {
        self.inner.batch_request(batch).await
    }
}

/// Which check refused: the `Mismatch` field, or the signing or decoding error's kind.
fn fired(e: &Error) -> String {
    match e {
        Error::Mismatch { field, .. } => (*field).to_string(),
        Error::Signing(s) => {
            format!("signing: {}", format!("{s:?}").split([' ', '(', '{']).next().unwrap_or(""))
        }
        Error::Account(a) => {
            format!("account: {}", format!("{a:?}").split([' ', '(', '{']).next().unwrap_or(""))
        }
        other => format!("other: {other}"),
    }
}

fn flip_hex_byte(v: &mut Value, at_char: usize) {
    let s = v.as_str().unwrap().to_string();
    let mut chars: Vec<char> = s.chars().collect();
    chars[at_char] = if chars[at_char] == '1' { '2' } else { '1' };
    *v = Value::String(chars.into_iter().collect());
}

async fn refused_create_session(
    name: &str,
    expected: &str,
    edit: impl Fn(&mut Value) + Send + Sync + 'static,
) {
    let server = emulator().await;
    let honest = Orchestrator::new(WalletClient::new(server.url()).unwrap(), Some(POLICY.into()));
    honest.ensure_delegated(&dev_owner(), CHAIN, Duration::from_secs(5)).await.unwrap();
    let edit: Edit = Arc::new(move |m, v| {
        if m == "wallet_createSession" {
            edit(v)
        }
    });
    let flow = Orchestrator::new(
        Tamper { inner: WalletClient::new(server.url()).unwrap(), edit },
        Some(POLICY.into()),
    );
    let owner = Counting::new(dev_owner());
    let shop = alloy_primitives::Address::repeat_byte(0x51);
    let e = flow
        .create_session(
            &owner,
            &request(
                vec![Permission::ContractAccess(ContractAccess { address: shop })],
                Some(1_800_003_600),
            ),
        )
        .await
        .expect_err(name);
    assert_eq!(fired(&e), expected, "{name}: {e}");
    assert_eq!(owner.signed(), 0, "{name}: the owner signed");
}

#[tokio::test]
async fn create_session_answers_are_verified() {
    refused_create_session("rawPayload", "signing: DigestMismatch", |v| {
        flip_hex_byte(&mut v["signatureRequest"]["rawPayload"], 10)
    })
    .await;
    refused_create_session("deadline", "message.deadline", |v| {
        v["signatureRequest"]["data"]["message"]["deadline"] = Value::from(1_900_000_000u64)
    })
    .await;
    refused_create_session("domain.chainId", "domain.chainId", |v| {
        v["signatureRequest"]["data"]["domain"]["chainId"] = Value::from(1)
    })
    .await;
    refused_create_session("verifyingContract", "domain.verifyingContract", |v| {
        flip_hex_byte(&mut v["signatureRequest"]["data"]["domain"]["verifyingContract"], 5)
    })
    .await;
    refused_create_session("nonce", "message.call (entity id)", |v| {
        v["signatureRequest"]["data"]["message"]["nonce"] = Value::from("0x2020000000000000000")
    })
    .await;
    // The installed key (install data sits after the config word, selectors and offsets).
    refused_create_session("session key in call", "message.call (session key)", |v| {
        let call = v["signatureRequest"]["data"]["message"]["call"].as_str().unwrap().to_string();
        let key = format!("{:x}", dev_session_key().address());
        let evil = call.to_lowercase().replace(&key, &"ab".repeat(20));
        v["signatureRequest"]["data"]["message"]["call"] = Value::from(evil);
    })
    .await;
    // Permissions: another target in the allowlist entry.
    refused_create_session("permissions in call", "message.call (permissions)", |v| {
        let call =
            v["signatureRequest"]["data"]["message"]["call"].as_str().unwrap().to_lowercase();
        let evil = call.replace(&"51".repeat(20), &"66".repeat(20));
        v["signatureRequest"]["data"]["message"]["call"] = Value::from(evil);
    })
    .await;
}

async fn refused_send(
    name: &str,
    expected: &str,
    edit: impl Fn(&mut Value) + Send + Sync + 'static,
) {
    let server = emulator().await;
    let honest = Orchestrator::new(WalletClient::new(server.url()).unwrap(), Some(POLICY.into()));
    let owner = dev_owner();
    honest.ensure_delegated(&owner, CHAIN, Duration::from_secs(5)).await.unwrap();
    let shop = alloy_primitives::Address::repeat_byte(0x51);
    let session = honest
        .create_session(
            &owner,
            &request(vec![Permission::ContractAccess(ContractAccess { address: shop })], None),
        )
        .await
        .unwrap();
    let edit: Edit = Arc::new(move |m, v| {
        if m == "wallet_prepareCalls" {
            edit(v)
        }
    });
    let flow = Orchestrator::new(
        Tamper { inner: WalletClient::new(server.url()).unwrap(), edit },
        Some(POLICY.into()),
    );
    let key = Counting::new(dev_session_key());
    let calls = vec![Call { to: shop, data: Some(vec![9, 9, 9, 9].into()), value: None }];
    let e = flow
        .send_calls(&session, &key, calls, &Default::default(), 1_800_000_000)
        .await
        .expect_err(name);
    assert_eq!(fired(&e), expected, "{name}: {e}");
    assert_eq!(key.signed(), 0, "{name}: the session key signed");
}

#[tokio::test]
async fn prepared_ops_are_verified() {
    refused_send("callData target", "data.callData", |v| {
        let data = v["data"]["callData"].as_str().unwrap().to_lowercase();
        v["data"]["callData"] = Value::from(data.replace(&"51".repeat(20), &"66".repeat(20)));
    })
    .await;
    refused_send("sender", "data.sender", |v| flip_hex_byte(&mut v["data"]["sender"], 7)).await;
    refused_send("nonce", "data.nonce (entity)", |v| {
        v["data"]["nonce"] = Value::from("0x3010000000000000000")
    })
    .await;
    refused_send("chainId", "chainId", |v| v["chainId"] = Value::from("0x1")).await;
    refused_send("paymaster removed", "data.paymaster", |v| {
        let d = v["data"].as_object_mut().unwrap();
        for k in [
            "paymaster",
            "paymasterData",
            "paymasterVerificationGasLimit",
            "paymasterPostOpGasLimit",
        ] {
            d.remove(k);
        }
    })
    .await;
    refused_send("gas raised, request kept", "signing: UserOpHashMismatch", |v| {
        v["data"]["callGasLimit"] = Value::from("0x30000")
    })
    .await;
    refused_send("rawPayload", "signing: DigestMismatch", |v| {
        flip_hex_byte(&mut v["signatureRequest"]["rawPayload"], 12)
    })
    .await;
    refused_send("hash to sign", "signing: UserOpHashMismatch", |v| {
        flip_hex_byte(&mut v["signatureRequest"]["data"]["raw"], 12)
    })
    .await;
    // A raised fee, re-hashed consistently (hash, rawPayload, details): only the cap stops it.
    refused_send("maxFeePerGas raised and re-hashed", "data.maxFeePerGas", |v| {
        rehash_op(v, |op| op.max_fee_per_gas = alloy_primitives::U128::from(10u128.pow(13)))
    })
    .await;
    refused_send("an authorization in a session's answer", "authorization", |v| {
        wrap(v, vec![an_authorization(0)], vec![])
    })
    .await;
    refused_send("the session's op twice", "type", |v| {
        let op = v.clone();
        wrap(v, vec![], vec![op])
    })
    .await;
    refused_send("the gas limits' sum over its cap", "data (sum of the gas limits)", |v| {
        rehash_op(v, |op| {
            op.call_gas_limit = alloy_primitives::U128::from(4_900_000);
            op.verification_gas_limit = alloy_primitives::U128::from(900_000);
            op.pre_verification_gas = alloy_primitives::U256::from(900_000);
        })
    })
    .await;
}

/// Recomputes an authorization element's `rawPayload` from its (edited) data and chain.
fn rehash_authorization(v: &mut Value) {
    let a: PreparedAuthorization = serde_json::from_value(v.clone()).unwrap();
    let digest = sesskey_signing::eip7702_digest(&sesskey_signing::AuthorizationTuple::from_wire(
        &a.data, a.chain_id,
    ));
    v["signatureRequest"]["rawPayload"] = Value::from(digest.to_string());
}

/// Edits a prepared op's `data` and re-hashes it consistently (hash, rawPayload, details): only
/// a semantic check can catch the edit.
pub(crate) fn rehash_op(v: &mut Value, edit: impl FnOnce(&mut UserOperationV07)) {
    let mut op: UserOperationV07 = serde_json::from_value(v["data"].clone()).unwrap();
    edit(&mut op);
    let chain =
        u64::from_str_radix(v["chainId"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let hash = sesskey_signing::user_op_v07_hash(&op, sesskey_signing::ENTRY_POINT_V07, chain);
    v["data"] = serde_json::to_value(&op).unwrap();
    v["signatureRequest"]["data"]["raw"] = Value::from(hash.to_string());
    v["signatureRequest"]["rawPayload"] =
        Value::from(sesskey_signing::eip191_digest(hash.as_slice()).to_string());
    if v.get("details").is_some() {
        v["details"]["data"]["hash"] = Value::from(hash.to_string());
    }
}

/// What the owner is asked to do against a tampering server.
#[derive(Clone, Copy, Debug)]
enum OwnerStep {
    /// Delegate an account that is not delegated yet.
    Delegate,
    /// Revoke a session (an owner op on a delegated account).
    Revoke,
    /// An app's own call as the owner (`send_as_owner`) on a delegated account.
    Transfer,
}

async fn refused_owner(
    name: &str,
    step: OwnerStep,
    expected: &str,
    edit: impl Fn(&mut Value) + Send + Sync + 'static,
) {
    let server = emulator().await;
    let honest = Orchestrator::new(WalletClient::new(server.url()).unwrap(), Some(POLICY.into()));
    let owner = Counting::new(dev_owner());
    let shop = alloy_primitives::Address::repeat_byte(0x51);
    let session = match step {
        OwnerStep::Delegate => None,
        OwnerStep::Revoke | OwnerStep::Transfer => {
            honest.ensure_delegated(&owner.inner, CHAIN, Duration::from_secs(5)).await.unwrap();
            let perms = vec![Permission::ContractAccess(ContractAccess { address: shop })];
            Some(honest.create_session(&owner.inner, &request(perms, None)).await.unwrap())
        }
    };
    let edit: Edit = Arc::new(move |m, v| {
        if m == "wallet_prepareCalls" {
            edit(v)
        }
    });
    let flow = Orchestrator::new(
        Tamper { inner: WalletClient::new(server.url()).unwrap(), edit },
        Some(POLICY.into()),
    );
    let wait = Duration::from_secs(5);
    let e = match (step, session) {
        (OwnerStep::Delegate, _) => flow.ensure_delegated(&owner, CHAIN, wait).await.map(|_| ()),
        (OwnerStep::Revoke, Some(s)) => flow.revoke_session(&owner, &s, wait).await.map(|_| ()),
        (OwnerStep::Transfer, _) => {
            let pay = Call { to: shop, data: None, value: Some(alloy_primitives::U256::from(7)) };
            flow.send_as_owner(&owner, CHAIN, vec![pay]).await.map(|_| ())
        }
        (_, None) => unreachable!(),
    }
    .expect_err(name);
    assert_eq!(fired(&e), expected, "{name}: {e}");
    assert_eq!(owner.signed(), 0, "{name}: the owner signed");
}

/// An authorization as the server would add it to any owner answer: the legitimate delegate, a
/// nonce of its choosing, a consistent `rawPayload`.
fn an_authorization(nonce: u64) -> Value {
    let mut a = serde_json::json!({
        "type": "authorization",
        "data": {"address": MODULAR_ACCOUNT_V2_7702.to_string(), "nonce": format!("{nonce:#x}")},
        "chainId": format!("{CHAIN:#x}"),
        "signatureRequest": {"type": "eip7702Auth", "rawPayload": format!("0x{}", "00".repeat(32))},
    });
    rehash_authorization(&mut a);
    a
}

/// Turns a lone op answer into an array of `before` + the op + `after`.
fn wrap(v: &mut Value, before: Vec<Value>, after: Vec<Value>) {
    let mut op = v.clone();
    op["type"] = Value::from("user-operation-v070");
    let mut data = before;
    data.push(op);
    data.extend(after);
    *v = serde_json::json!({"type": "array", "data": data});
}

#[tokio::test]
async fn owner_answers_carry_exactly_what_was_asked() {
    use OwnerStep::*;
    // An authorization nobody asked for, added to an owner op's answer.
    for step in [Revoke, Transfer] {
        refused_owner("revoke with an authorization", step, "authorization", |v| {
            wrap(v, vec![an_authorization(0x64)], vec![])
        })
        .await;
        refused_owner("the op twice", step, "type", |v| {
            let op = v.clone();
            wrap(v, vec![], vec![op])
        })
        .await;
    }
    // A first delegation: exactly one authorization, to the delegate, for this chain, with the
    // account's nonce as the chain reports it (0 for the development owner).
    refused_owner(
        "authorization nonce chosen by the server",
        Delegate,
        "authorization data.nonce",
        |v| {
            v["data"][0]["data"]["nonce"] = Value::from("0x5");
            rehash_authorization(&mut v["data"][0]);
        },
    )
    .await;
    refused_owner("two authorizations", Delegate, "type", |v| {
        let list = v["data"].as_array_mut().unwrap();
        let mut second = list[0].clone();
        second["data"]["nonce"] = Value::from("0x1");
        rehash_authorization(&mut second);
        list.insert(1, second);
    })
    .await;
    refused_owner("the op twice, with the authorization", Delegate, "type", |v| {
        let list = v["data"].as_array_mut().unwrap();
        let op = list[1].clone();
        list.push(op);
    })
    .await;
    refused_owner("another delegate", Delegate, "authorization data.address", |v| {
        v["data"][0]["data"]["address"] = Value::from(format!("0x{}", "66".repeat(20)));
        rehash_authorization(&mut v["data"][0]);
    })
    .await;
    refused_owner("chain id 0", Delegate, "authorization chainId", |v| {
        v["data"][0]["chainId"] = Value::from("0x0");
        rehash_authorization(&mut v["data"][0]);
    })
    .await;
    refused_owner("no authorization for a first delegation", Delegate, "type", |v| {
        let op = v["data"][1].clone();
        *v = op;
    })
    .await;
    refused_owner("the attacker's paymaster on the owner's op", Transfer, "data.paymaster", |v| {
        rehash_op(v, |op| op.paymaster = Some(alloy_primitives::Address::repeat_byte(0x42)))
    })
    .await;
}

#[tokio::test]
async fn paymasters_are_pinned_and_factories_refused() {
    refused_send("the attacker's paymaster", "data.paymaster", |v| {
        rehash_op(v, |op| op.paymaster = Some(alloy_primitives::Address::repeat_byte(0x42)))
    })
    .await;
    refused_send("a factory for a 7702 account", "data.factory", |v| {
        rehash_op(v, |op| {
            op.factory = Some(alloy_primitives::Address::repeat_byte(0x66));
            op.factory_data = Some(vec![1, 2, 3].into());
        })
    })
    .await;
    refused_send("factoryData alone", "data.factory", |v| {
        rehash_op(v, |op| op.factory_data = Some(vec![1, 2, 3].into()))
    })
    .await;
    // The emulator names a paymaster of the pinned table, on any chain it serves.
    for chain in [CHAIN, 1, 84532] {
        let pinned = sesskey_session::alchemy_paymasters(chain);
        assert!(pinned.contains(&sesskey_emulator::EMULATOR_PAYMASTER), "{chain}");
    }
    // A paymaster the caller added is accepted: the untampered control, through a pin of its own.
    let server = emulator().await;
    let honest = Orchestrator::new(WalletClient::new(server.url()).unwrap(), Some(POLICY.into()));
    let owner = dev_owner();
    honest.ensure_delegated(&owner, CHAIN, Duration::from_secs(5)).await.unwrap();
    let shop = alloy_primitives::Address::repeat_byte(0x51);
    let session = honest
        .create_session(
            &owner,
            &request(vec![Permission::ContractAccess(ContractAccess { address: shop })], None),
        )
        .await
        .unwrap();
    let theirs = alloy_primitives::Address::repeat_byte(0x42);
    let edit: Edit = Arc::new(move |m, v| {
        if m == "wallet_prepareCalls" {
            rehash_op(v, |op| op.paymaster = Some(theirs))
        }
    });
    let flow = Orchestrator::new(
        Tamper { inner: WalletClient::new(server.url()).unwrap(), edit },
        Some(POLICY.into()),
    )
    .with_paymaster(theirs);
    let prepared = flow
        .prepare_for_session(&session, dev_session_key().address(), vec![shop_call(shop)], None)
        .await
        .unwrap();
    assert_eq!(prepared.op.data.paymaster, Some(theirs));
}

fn shop_call(shop: alloy_primitives::Address) -> Call {
    Call { to: shop, data: Some(vec![9, 9, 9, 9].into()), value: None }
}

/// An unsponsored op whose worst case (all its gas at its maximum fee) would burn more than the
/// session's native allowance is refused, though every fee is under its cap.
#[tokio::test]
async fn unsponsored_gas_counts_against_the_native_allowance() {
    let server = emulator().await;
    let honest = Orchestrator::new(WalletClient::new(server.url()).unwrap(), None);
    let owner = dev_owner();
    honest.ensure_delegated(&owner, CHAIN, Duration::from_secs(5)).await.unwrap();
    let shop = alloy_primitives::Address::repeat_byte(0x51);
    let milli = alloy_primitives::U256::from(10u64.pow(15));
    let session = honest
        .create_session(
            &owner,
            &request(
                vec![
                    Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: milli }),
                    Permission::ContractAccess(ContractAccess { address: shop }),
                ],
                None,
            ),
        )
        .await
        .unwrap();
    // 150 gwei per gas, under the 200 gwei cap: with the op's gas, far over 0.001 ETH.
    let edit: Edit = Arc::new(|m, v| {
        if m == "wallet_prepareCalls" {
            rehash_op(v, |op| {
                op.max_fee_per_gas = alloy_primitives::U128::from(150_000_000_000u128);
                op.max_priority_fee_per_gas = alloy_primitives::U128::from(1_000_000_000u128);
            })
        }
    });
    let flow =
        Orchestrator::new(Tamper { inner: WalletClient::new(server.url()).unwrap(), edit }, None);
    let key = Counting::new(dev_session_key());
    let e = flow
        .send_calls(&session, &key, vec![shop_call(shop)], &Default::default(), 1_800_000_000)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Preflight(sesskey_account::Violation::GasOverNativeAllowance { left, .. }) if left == milli),
        "{e}"
    );
    assert!(e.to_string().contains("native-token-transfer"), "{e}");
    assert_eq!(key.signed(), 0);
    // The untampered op fits: the session key signs it.
    let sent = honest
        .send_calls(&session, &key, vec![shop_call(shop)], &Default::default(), 1_800_000_000)
        .await
        .unwrap();
    assert!(sent.spend.gas > alloy_primitives::U256::ZERO && sent.spend.gas <= milli);
    assert_eq!(key.signed(), 1);
}

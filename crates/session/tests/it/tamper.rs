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
        let mut op: UserOperationV07 = serde_json::from_value(v["data"].clone()).unwrap();
        op.max_fee_per_gas = alloy_primitives::U128::from(10u128.pow(13));
        let chain =
            u64::from_str_radix(v["chainId"].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap();
        let hash = sesskey_signing::user_op_v07_hash(&op, sesskey_signing::ENTRY_POINT_V07, chain);
        v["data"] = serde_json::to_value(&op).unwrap();
        v["signatureRequest"]["data"]["raw"] = Value::from(hash.to_string());
        v["signatureRequest"]["rawPayload"] =
            Value::from(sesskey_signing::eip191_digest(hash.as_slice()).to_string());
        v["details"]["data"]["hash"] = Value::from(hash.to_string());
    })
    .await;
}

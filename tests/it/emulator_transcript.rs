//! The emulator transcript (`fixtures/golden/emulator/seed-flow.json`, written by
//! `cargo xtask fixtures` from the core) replayed over HTTP against `sesskey serve`'s server in
//! deterministic mode: the same answers, byte for byte, and every request and answer valid
//! against Alchemy's JSON Schemas (`fixtures/external/schemas/`).

use jsonrpsee::core::client::ClientT;
use serde_json::Value;
use sesskey_emulator::{serve, Config, Emulator};
use sesskey_tests::fixtures_dir;

struct Raw(Value);

impl jsonrpsee::core::traits::ToRpcParams for Raw {
    fn to_rpc_params(self) -> Result<Option<Box<serde_json::value::RawValue>>, serde_json::Error> {
        serde_json::value::to_raw_value(&self.0).map(Some)
    }
}

fn schema(method: &str, part: &str) -> jsonschema::Validator {
    let path = fixtures_dir().join(format!("external/schemas/{method}.json"));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&file[part]).unwrap()
}

#[tokio::test]
async fn the_transcript_replays_over_http_and_matches_the_schemas() {
    let text =
        std::fs::read_to_string(fixtures_dir().join("golden/emulator/seed-flow.json")).unwrap();
    let transcript: Value = serde_json::from_str(&text).unwrap();
    let config = Config {
        chain_ids: vec![31337],
        policy_ids: vec!["6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60".into()],
        settle_after_ms: 0,
        deterministic_start: Some(1_767_225_600),
        cors: false,
        ..Default::default()
    };
    let server = serve(Emulator::new(config), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = sesskey_rpc::WalletClient::new(format!("{}/v2/any-key", server.url())).unwrap();
    let calls = transcript["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 8);
    for call in calls {
        let method = call["request"]["method"].as_str().unwrap();
        let params = call["request"]["params"].clone();
        let expected = &call["response"]["result"];
        let errors: Vec<String> =
            schema(method, "params").iter_errors(&params).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{method} request: {errors:?}");
        let errors: Vec<String> =
            schema(method, "result").iter_errors(expected).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{method} answer: {errors:?}");
        let answer: Value =
            client.request(method, Raw(params)).await.unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(&answer, expected, "{method} answered differently over HTTP");
    }
    server.handle.stop().unwrap();
}

/// Answers from the transcript, in order, and checks every request the client sends against the
/// recorded one.
struct Replayer {
    calls: std::sync::Mutex<std::collections::VecDeque<Value>>,
}

impl ClientT for Replayer {
    async fn notification<P: jsonrpsee::core::traits::ToRpcParams + Send>(
        &self,
        _: &str,
        _: P,
    ) -> Result<(), jsonrpsee::core::ClientError> {
        Ok(())
    }

    async fn request<
        R: serde::de::DeserializeOwned,
        P: jsonrpsee::core::traits::ToRpcParams + Send,
    >(
        &self,
        method: &str,
        params: P,
    ) -> Result<R, jsonrpsee::core::ClientError> {
        // The transcript records the Wallet API; the chain reads made before the owner signs
        // the delegation are answered as the chain stood then: chain 31337, a fresh account.
        let chain = match method {
            "eth_chainId" => Some(Value::from("0x7a69")),
            "eth_getCode" => Some(Value::from("0x")),
            "eth_getTransactionCount" => Some(Value::from("0x0")),
            _ => None,
        };
        if let Some(answer) = chain {
            return Ok(serde_json::from_value(answer).unwrap());
        }
        let next = self
            .calls
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("an unexpected {method}"));
        let sent: Value = params
            .to_rpc_params()
            .unwrap()
            .map(|raw| serde_json::from_str(raw.get()).unwrap())
            .unwrap_or(Value::Null);
        assert_eq!(method, next["request"]["method"], "method");
        assert_eq!(
            sent, next["request"]["params"],
            "{method}: the client's request differs from the transcript"
        );
        Ok(serde_json::from_value(next["response"]["result"].clone()).unwrap())
    }

    async fn batch_request<'a, R: serde::de::DeserializeOwned + std::fmt::Debug + 'a>(
        &self,
        _: jsonrpsee::core::params::BatchRequestBuilder<'a>,
    ) -> Result<jsonrpsee::core::client::BatchResponse<'a, R>, jsonrpsee::core::ClientError> {
        Err(jsonrpsee::core::ClientError::Custom("the recorded flow sends no batch".into()))
    }
}

/// The orchestrator, fed the transcript's answers, sends exactly the transcript's requests:
/// the same params, digests and signatures (RFC 6979 with the fixed dev keys), byte for byte.
#[tokio::test]
async fn the_client_reproduces_the_transcript() {
    use alloy_primitives::{Address, U64};
    use sesskey_signing::dev::{dev_owner, dev_session_key};
    use sesskey_types::*;
    let text =
        std::fs::read_to_string(fixtures_dir().join("golden/emulator/seed-flow.json")).unwrap();
    let transcript: Value = serde_json::from_str(&text).unwrap();
    // The orchestrator does not call wallet_requestAccount.
    let calls = transcript["calls"].as_array().unwrap().iter().skip(1).cloned().collect();
    let replayer = Replayer { calls: std::sync::Mutex::new(calls) };
    let flow = sesskey_session::Orchestrator::new(
        replayer,
        Some("6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60".into()),
    );
    let owner = dev_owner();
    let delegated =
        flow.ensure_delegated(&owner, 31337, std::time::Duration::from_secs(1)).await.unwrap();
    assert!(matches!(delegated, Some(sesskey_session::Outcome::Confirmed(_))));
    let request = CreateSessionParams {
        account: owner.address(),
        chain_id: U64::from(31337),
        expiry_sec: Some(1_767_225_600 + 86_400),
        key: SessionKey { public_key: dev_session_key().address(), ty: KeyType::Secp256k1 },
        permissions: vec![Permission::Root],
    };
    let session = flow.create_session(&owner, &request).await.unwrap();
    let sent = flow
        .send_calls(
            &session,
            &dev_session_key(),
            vec![Call { to: Address::ZERO, data: None, value: None }],
            &Default::default(),
            1_767_225_600,
        )
        .await
        .unwrap();
    let outcome =
        flow.wait_for_status(&sent.call_id, std::time::Duration::from_secs(1)).await.unwrap();
    assert!(matches!(outcome, sesskey_session::Outcome::Confirmed(_)));
    assert!(flow.client().calls.lock().unwrap().is_empty(), "every recorded call was replayed");
}

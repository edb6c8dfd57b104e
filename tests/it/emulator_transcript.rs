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

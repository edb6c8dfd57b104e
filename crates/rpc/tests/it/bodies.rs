//! The client sends exactly the bodies of Alchemy's "Session Keys (API)" page
//! (`fixtures/external/seed-session-keys-api/`): method, one positional object, same JSON.

use crate::mock::{Mock, Reply};
use serde_json::{json, Value};
use sesskey_rpc::{WalletApiClient, WalletClient};
use sesskey_types::*;

fn seed(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn assert_same_call(sent: &Value, page: &Value) {
    assert_eq!(sent["jsonrpc"], "2.0");
    assert_eq!(sent["method"], page["method"]);
    assert_eq!(sent["params"], page["params"], "params differ from the page's");
}

#[tokio::test]
async fn seed_bodies_go_out_unchanged() {
    let prepared = seed(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/5-prepare-calls-session.result.json"
    ));
    let created = seed(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/3-create-session.response.json"
    ));
    let answers = [prepared.clone(), created["result"].clone(), prepared.clone()];
    let sent_id = json!({"id": "0x01", "preparedCallIds": ["0x01"], "details": {"type": "user-operation", "data": {"hash": "0xc69e468aa6fafb5c7298c02841e76f976b433018266af39a5807bc29ea9ad392"}}});
    let mock =
        Mock::start(move |n, _| Reply::Result(answers.get(n).cloned().unwrap_or(sent_id.clone())))
            .await;
    let client = WalletClient::new(&mock.url).unwrap();

    let page = seed(include_str!("../../../../fixtures/external/seed-session-keys-api/1-delegation-prepare-calls.request.json"));
    let params: PrepareCallsParams = from_json_value(page["params"][0].clone()).unwrap();
    let answer = client.prepare_calls(params).await.unwrap();
    assert_eq!(serde_json::to_value(answer).unwrap(), prepared);
    assert_same_call(&mock.last().body, &page);

    let page = seed(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/2-create-session.request.json"
    ));
    let params: CreateSessionParams = from_json_value(page["params"][0].clone()).unwrap();
    let answer = client.create_session(params).await.unwrap();
    assert_eq!(serde_json::to_value(answer).unwrap(), created["result"]);
    assert_same_call(&mock.last().body, &page);

    let page = seed(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/4-prepare-calls-session.request.json"
    ));
    let params: PrepareCallsParams = from_json_value(page["params"][0].clone()).unwrap();
    client.prepare_calls(params).await.unwrap();
    assert_same_call(&mock.last().body, &page);

    let page = seed(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/6-send-prepared-calls.request.json"
    ));
    let params: SendPreparedCallsParams = from_json_value(page["params"][0].clone()).unwrap();
    client.send_prepared_calls(params).await.unwrap();
    assert_same_call(&mock.last().body, &page);
    assert_eq!(mock.count(), 4);
}

#[tokio::test]
async fn positional_shapes_of_status_and_capabilities() {
    let status = json!({"id": "0x01", "chainId": "0x1", "atomic": true, "status": 100, "details": {"type": "delegation"}});
    let caps = json!({"0x1": {"atomic": {"status": "supported"}}});
    let mock =
        Mock::start(move |n, _| Reply::Result(if n == 0 { status.clone() } else { caps.clone() }))
            .await;
    let client = WalletClient::new(&mock.url).unwrap();
    let id = CallId(alloy_primitives::Bytes::from(vec![0xab; 64]));
    client.get_calls_status(id.clone()).await.unwrap();
    assert_eq!(mock.last().body["params"], json!([id]));
    assert_eq!(mock.last().body["method"], "wallet_getCallsStatus");

    let account = alloy_primitives::Address::repeat_byte(0x11);
    client.get_capabilities(account, None).await.unwrap();
    assert_eq!(mock.last().body["params"].as_array().unwrap().len(), 1);
    client.get_capabilities(account, Some(vec![alloy_primitives::U64::from(1)])).await.unwrap();
    assert_eq!(mock.last().body["params"][1], json!(["0x1"]));
}

#[tokio::test]
async fn user_agent_and_bearer_header() {
    let mock = Mock::start(|_, _| Reply::Result(json!({"signature": "0x00"}))).await;
    let client = WalletClient::builder().url(&mock.url).bearer("the-key").build().unwrap();
    let params: FormatSignParams = from_json_value(json!({
        "from": "0x0000000000000000000000000000000000000001", "chainId": "0x1",
        "signature": {"type": "secp256k1", "data": "0x00"}
    }))
    .unwrap();
    client.format_sign(params).await.unwrap();
    let r = mock.last();
    assert_eq!(r.header("authorization"), Some("Bearer the-key"));
    assert_eq!(r.header("user-agent"), Some(sesskey_rpc::USER_AGENT));
    assert!(sesskey_rpc::USER_AGENT.starts_with("sesskey/"));
    assert_eq!(r.path, "/");
}

//! Retries, counted at the server: only where a repeat is safe, bounded in count and time.

use crate::mock::{Mock, Reply};
use serde_json::{json, Value};
use sesskey_rpc::{ErrorKind, RetryPolicy, WalletApiClient, WalletClient};
use sesskey_types::*;
use std::time::Duration;

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(5),
    }
}

fn status_reply() -> Value {
    json!({"id": "0x01", "chainId": "0x1", "atomic": true, "status": 200, "details": {"type": "delegation"}})
}

fn call_id() -> CallId {
    CallId(alloy_primitives::Bytes::from(vec![1; 64]))
}

fn send_params() -> SendPreparedCallsParams {
    let page: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/6-send-prepared-calls.request.json"
    ))
    .unwrap();
    from_json_value(page["params"][0].clone()).unwrap()
}

#[tokio::test]
async fn a_flaky_server_is_retried_until_it_answers() {
    let mock =
        Mock::start(
            |n, _| if n < 2 { Reply::Status(503, vec![]) } else { Reply::Result(status_reply()) },
        )
        .await;
    let client = WalletClient::builder().url(&mock.url).retry(fast()).build().unwrap();
    let status = client.get_calls_status(call_id()).await.unwrap();
    assert_eq!(status.status, CallStatusCode::Confirmed);
    assert_eq!(mock.count(), 3);
}

#[tokio::test]
async fn retries_stop_at_the_count() {
    let mock = Mock::start(|_, _| Reply::Status(500, vec![])).await;
    let client = WalletClient::builder().url(&mock.url).retry(fast()).build().unwrap();
    let err = client.get_calls_status(call_id()).await.unwrap_err();
    let err = sesskey_rpc::Error::from(err);
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert_eq!(mock.count(), 4, "one attempt and three retries");
}

/// A 429 with `Retry-After: 0` is retried at once: were the header ignored, the 10 s backoff
/// would outlast the 3 s request timeout and the call would fail.
#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let mock = Mock::start(|n, _| {
        if n == 0 {
            Reply::Status(429, vec![("Retry-After", "0".into())])
        } else {
            Reply::Result(status_reply())
        }
    })
    .await;
    let policy = RetryPolicy {
        initial_backoff: Duration::from_secs(10),
        max_backoff: Duration::from_secs(10),
        ..fast()
    };
    let client = WalletClient::builder()
        .url(&mock.url)
        .retry(policy)
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    client.get_calls_status(call_id()).await.unwrap();
    assert_eq!(mock.count(), 2);
}

#[tokio::test]
async fn send_prepared_calls_is_never_repeated_once_received() {
    for reply in [Reply::Status(500, vec![]), Reply::Status(429, vec![("Retry-After", "0".into())])]
    {
        let mock = Mock::start(move |_, _| reply.clone()).await;
        let client = WalletClient::builder().url(&mock.url).retry(fast()).build().unwrap();
        assert!(client.send_prepared_calls(send_params()).await.is_err());
        assert_eq!(mock.count(), 1, "sendPreparedCalls was repeated");
    }
    let mock = Mock::start(|_, _| Reply::Status(502, vec![])).await;
    let client = WalletClient::builder().url(&mock.url).retry(fast()).build().unwrap();
    let params: CreateSessionParams = from_json_value(json!({
        "account": "0x0000000000000000000000000000000000000001", "chainId": "0x1",
        "key": {"publicKey": "0x0000000000000000000000000000000000000002", "type": "secp256k1"},
        "permissions": [{"type": "root"}]
    }))
    .unwrap();
    assert!(client.create_session(params).await.is_err());
    assert_eq!(mock.count(), 1, "createSession was repeated");
}

/// A refused connection never reached the server, so even `sendPreparedCalls` is tried again:
/// the server comes up on the port after the first attempts, and the call goes through once.
#[tokio::test]
async fn refused_connections_are_retried_for_every_method() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let url = format!("http://{addr}");
    let sent =
        json!({"id": "0x01", "preparedCallIds": ["0x01"], "details": {"type": "delegation"}});
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        crate::mock::Mock::serve(
            listener,
            addr,
            std::sync::Arc::new(move |_, _| Reply::Result(sent.clone())),
        )
    });
    // Generous bounds, so a loaded machine that starts the server late still passes.
    let policy = RetryPolicy {
        max_retries: 400,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(20),
    };
    let client = WalletClient::builder()
        .url(url)
        .retry(policy)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    client.send_prepared_calls(send_params()).await.unwrap();
    let mock = server.await.unwrap();
    assert_eq!(mock.count(), 1);
}

/// The time bound holds: with 1000 retries allowed but 300 ms of retrying, a failing server
/// sees a handful of requests, not a thousand.
#[tokio::test]
async fn retries_stop_at_the_time_bound() {
    let mock = Mock::start(|_, _| Reply::Status(503, vec![])).await;
    let policy = RetryPolicy {
        max_retries: 1000,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(50),
        max_elapsed: Duration::from_millis(300),
    };
    let client = WalletClient::builder().url(&mock.url).retry(policy).build().unwrap();
    assert!(client.get_calls_status(call_id()).await.is_err());
    let n = mock.count();
    assert!((2..=12).contains(&n), "{n} requests");
}

#[tokio::test]
async fn no_retry_policy_means_one_attempt() {
    let mock = Mock::start(|_, _| Reply::Status(503, vec![])).await;
    let client = WalletClient::builder().url(&mock.url).retry(RetryPolicy::NONE).build().unwrap();
    assert!(client.get_calls_status(call_id()).await.is_err());
    assert_eq!(mock.count(), 1);
}

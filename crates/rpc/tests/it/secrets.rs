//! The API key is absent from every Debug and Display string.

use crate::mock::{Mock, Reply};
use sesskey_rpc::{WalletApiClient, WalletClient};
use sesskey_types::CallId;
use std::time::Duration;

const PATH_KEY: &str = "path-key-5f1c9e";
const BEARER_KEY: &str = "bearer-key-77ad02";

fn clean(text: &str) {
    assert!(!text.contains(PATH_KEY) && !text.contains(BEARER_KEY), "a key leaked: {text}");
}

#[test]
fn keys_never_print() {
    let builder = WalletClient::builder()
        .alchemy(PATH_KEY)
        .bearer(BEARER_KEY)
        .timeout(Duration::from_millis(500));
    clean(&format!("{builder:?}"));
    let client = builder.build().unwrap();
    clean(&format!("{client:?}"));
    clean(client.url());
    assert_eq!(client.url(), "https://api.g.alchemy.com/v2/***");
}

/// The key in the URL path reaches the server, but no error or printout (loopback only).
#[tokio::test]
async fn keys_stay_out_of_transport_errors() {
    let mock = Mock::start(|_, _| Reply::Status(503, vec![])).await;
    let client = WalletClient::builder()
        .keyed_url(format!("{}/v2/", mock.url), PATH_KEY)
        .bearer(BEARER_KEY)
        .retry(sesskey_rpc::RetryPolicy::NONE)
        .build()
        .unwrap();
    clean(&format!("{client:?}"));
    let err = client.get_calls_status(CallId(vec![1u8; 64].into())).await.unwrap_err();
    assert_eq!(mock.last().path, format!("/v2/{PATH_KEY}"));
    let err = sesskey_rpc::Error::from(err);
    clean(&err.to_string());
    clean(&format!("{err:?}"));
    // A refused connection's error, too.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let client = WalletClient::builder()
        .keyed_url(format!("http://{addr}/v2/"), PATH_KEY)
        .retry(sesskey_rpc::RetryPolicy::NONE)
        .build()
        .unwrap();
    let err = sesskey_rpc::Error::from(
        client.get_calls_status(CallId(vec![1u8; 64].into())).await.unwrap_err(),
    );
    clean(&err.to_string());
    clean(&format!("{err:?}"));
}

#[tokio::test]
async fn keys_stay_out_of_server_errors() {
    let mock = Mock::start(|_, _| Reply::Status(500, vec![])).await;
    let client = WalletClient::builder()
        .url(&mock.url)
        .bearer(BEARER_KEY)
        .retry(sesskey_rpc::RetryPolicy::NONE)
        .build()
        .unwrap();
    let err = client.get_calls_status(CallId(vec![1u8; 64].into())).await.unwrap_err();
    clean(&err.to_string());
    clean(&format!("{err:?}"));
    clean(&format!("{client:?}"));
}

#[test]
fn a_missing_url_is_a_clear_error() {
    let err = WalletClient::builder().build().unwrap_err();
    assert_eq!(err.to_string(), "invalid client configuration: no URL: call `alchemy` or `url`");
}

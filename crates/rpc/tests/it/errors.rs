//! The error table, both ways, through a real jsonrpsee server implementing the trait: every
//! `WalletError` the server answers comes back as the same variant, with the same code.

use jsonrpsee::core::{async_trait, RpcResult};
use jsonrpsee::server::Server;
use sesskey_rpc::*;
use sesskey_rpc::{Error, Result};
use sesskey_types::*;

fn table() -> Vec<(WalletError, i32, &'static str, ErrorKind)> {
    use ErrorKind::*;
    vec![
        (
            WalletError::InvalidParams(
                "invalid `chainId`: invalid quantity: missing 0x prefix".into(),
            ),
            -32602,
            "invalid `chainId`: invalid quantity: missing 0x prefix",
            FixRequest,
        ),
        (WalletError::ReplacementUnderpriced, -32602, "replacement underpriced", Reprepare),
        (WalletError::Eip7702NotEnabled, -32602, "EIP-7702 not enabled", FixRequest),
        (
            WalletError::MethodNotFound("wallet_sendCalls".into()),
            -32601,
            "the method wallet_sendCalls does not exist/is not available",
            FixRequest,
        ),
        (
            WalletError::ExecutionReverted {
                message: "ERC20: transfer amount exceeds balance".into(),
                data: None,
            },
            -32521,
            "ERC20: transfer amount exceeds balance",
            Reverted,
        ),
        (
            WalletError::ValidationReverted {
                reason: "0x".into(),
                aa: "AA25 invalid account nonce".into(),
                data: None,
            },
            -32500,
            "validation reverted: [0x]: AA25 invalid account nonce",
            Reprepare,
        ),
        (
            WalletError::ValidationReverted {
                reason: "session expired".into(),
                aa: "AA22 expired or not due".into(),
                data: None,
            },
            -32500,
            "validation reverted: [session expired]: AA22 expired or not due",
            Reverted,
        ),
        (
            WalletError::SponsorshipFailed("[invalid_argument] Policy ID(s) not found.".into()),
            -32600,
            "Sponsorship failed: [invalid_argument] Policy ID(s) not found.",
            SponsorshipRefused,
        ),
        (
            WalletError::InvalidAccountSignature,
            -32507,
            "invalid account signature",
            SignatureRejected,
        ),
        (
            WalletError::PrecheckFailed("sender balance and deposit together is 0".into()),
            -32000,
            "precheck failed: sender balance and deposit together is 0",
            FixRequest,
        ),
        (
            WalletError::FeeTooLow("maxFeePerGas too low".into()),
            -32000,
            "maxFeePerGas too low",
            Reprepare,
        ),
        (WalletError::GasLimitTooHigh, -32000, "total gas limit too high", FixRequest),
        (
            WalletError::Eip7702AuthInvalid,
            -32000,
            "EIP-7702 authorization signature is invalid",
            SignatureRejected,
        ),
        (WalletError::Eip7702NonceMismatch, -32000, "EIP-7702 nonce mismatch", Reprepare),
        (WalletError::UnknownCallId, 5730, "unknown bundle id", UnknownCallId),
        (WalletError::Internal("boom".into()), -32603, "boom", Retryable),
    ]
}

#[test]
fn every_error_has_its_code_message_and_kind() {
    for (e, code, message, kind) in table() {
        assert_eq!(e.code(), code, "{e:?}");
        assert_eq!(e.to_string(), message, "{e:?}");
        assert_eq!(e.kind(), kind, "{e:?}");
        let obj: jsonrpsee::types::ErrorObjectOwned = e.clone().into();
        assert_eq!((obj.code(), obj.message()), (code, message));
        assert_eq!(WalletError::from_error_object(code, message), e, "read back");
    }
    assert_eq!(
        entry_point_code("validation reverted: [0x]: AA25 invalid account nonce"),
        Some("AA25")
    );
    assert_eq!(entry_point_code("validation reverted: AA23 reverted"), Some("AA23"));
    assert_eq!(entry_point_code("execution reverted"), None);
    let e = WalletError::from_error_object(-32500, "validation reverted: AA23 reverted");
    assert_eq!(e.entry_point_code(), Some("AA23"));
}

/// A server that answers every call with the error chosen by the call id's first byte.
struct Refuser;

#[async_trait]
impl WalletApiServer for Refuser {
    async fn request_account(&self, _: RequestAccountParams) -> RpcResult<RequestAccountResult> {
        Err(WalletError::Internal("not here".into()).into())
    }
    async fn create_session(&self, _: CreateSessionParams) -> RpcResult<CreateSessionResult> {
        Err(WalletError::InvalidAccountSignature.into())
    }
    async fn prepare_calls(&self, _: PrepareCallsParams) -> RpcResult<PreparedCalls> {
        Err(WalletError::SponsorshipFailed("[invalid_argument] Policy ID(s) not found.".into())
            .into())
    }
    async fn send_prepared_calls(
        &self,
        _: SendPreparedCallsParams,
    ) -> RpcResult<SendPreparedCallsResult> {
        Err(WalletError::ValidationReverted {
            reason: "0x".into(),
            aa: "AA25 invalid account nonce".into(),
            data: None,
        }
        .into())
    }
    async fn get_calls_status(&self, id: CallId) -> RpcResult<CallsStatus> {
        let (e, ..) = table().swap_remove(id.0[0] as usize);
        Err(e.into())
    }
    async fn list_accounts(&self, _: ListAccountsParams) -> RpcResult<ListAccountsResult> {
        Ok(ListAccountsResult {
            accounts: vec![],
            meta: ListAccountsMeta { total_count: 0, after: None },
        })
    }
    async fn prepare_sign(&self, _: PrepareSignParams) -> RpcResult<PrepareSignResult> {
        Err(WalletError::Eip7702NotEnabled.into())
    }
    async fn format_sign(&self, _: FormatSignParams) -> RpcResult<FormatSignResult> {
        Err(WalletError::UnknownCallId.into())
    }
    async fn get_capabilities(
        &self,
        _: alloy_primitives::Address,
        ids: Option<Vec<alloy_primitives::U64>>,
    ) -> RpcResult<Capabilities> {
        let mut caps = Capabilities::new();
        for id in ids.unwrap_or_default() {
            caps.insert(format!("{id:#x}"), Default::default());
        }
        Ok(caps)
    }
}

#[tokio::test]
async fn errors_cross_a_real_jsonrpsee_server_intact() {
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.start(Refuser.into_rpc());
    let client = WalletClient::builder()
        .url(format!("http://{addr}"))
        .retry(RetryPolicy::NONE)
        .build()
        .unwrap();
    for (i, (expected, ..)) in table().into_iter().enumerate() {
        let mut id = vec![0u8; 64];
        id[0] = i as u8;
        let err = Error::from(client.get_calls_status(CallId(id.into())).await.unwrap_err());
        assert_eq!(err.wallet_error(), Some(&expected));
    }
    let caps = client
        .get_capabilities(
            alloy_primitives::Address::ZERO,
            Some(vec![alloy_primitives::U64::from(0x66eee)]),
        )
        .await
        .unwrap();
    assert!(caps.contains_key("0x66eee"));
    let accounts = client
        .list_accounts(ListAccountsParams {
            signer_address: alloy_primitives::Address::ZERO,
            limit: None,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(accounts.meta.total_count, 0);
    // A malformed param is refused by the server with -32602.
    let raw: Result<serde_json::Value, _> = jsonrpsee::core::client::ClientT::request(
        &client,
        "wallet_getCallsStatus",
        jsonrpsee::rpc_params!["not hex"],
    )
    .await;
    let err = Error::from(raw.unwrap_err());
    assert_eq!(err.wallet_error().map(WalletError::code), Some(INVALID_PARAMS_CODE));
    handle.stop().unwrap();
}

/// An error object from any server maps to its variant and kind.
#[tokio::test]
async fn error_objects_from_the_wire_are_classified() {
    let mock = crate::mock::Mock::start(|_, _| {
        crate::mock::Reply::Error(
            -32500,
            "validation reverted: [0x]: AA25 invalid account nonce".into(),
        )
    })
    .await;
    let client = WalletClient::builder().url(&mock.url).build().unwrap();
    let err = Error::from(client.get_calls_status(CallId(vec![1u8; 64].into())).await.unwrap_err());
    assert_eq!(err.kind(), ErrorKind::Reprepare);
    assert_eq!(err.wallet_error().and_then(WalletError::entry_point_code), Some("AA25"));
    assert_eq!(mock.count(), 1, "a JSON-RPC error is an answer, not a transport failure: no retry");
}

//! The `wallet` namespace: one jsonrpsee trait for the client and the server.

use alloy_primitives::{Address, U64};
// Only the server side names it (the client side rewrites the return types).
#[cfg_attr(not(feature = "server"), allow(unused_imports))]
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use sesskey_types::{
    CallId, CallsStatus, Capabilities, CreateSessionParams, CreateSessionResult, FormatSignParams,
    FormatSignResult, ListAccountsParams, ListAccountsResult, PrepareCallsParams,
    PrepareSignParams, PrepareSignResult, PreparedCalls, RequestAccountParams,
    RequestAccountResult, SendPreparedCallsParams, SendPreparedCallsResult,
};

/// Alchemy's Wallet API (spec §2). Every method takes one positional object, except
/// `wallet_getCallsStatus` (`["0x<id>"]`) and `wallet_getCapabilities` (`[address]` or
/// `[address, [chainId…]]`). Parameter names are the wire API's; do not rename them.
#[cfg_attr(feature = "server", rpc(server, client, namespace = "wallet"))]
#[cfg_attr(not(feature = "server"), rpc(client, namespace = "wallet"))]
pub trait WalletApi {
    /// `wallet_requestAccount`: the account of a signer (for EIP-7702, the signer itself).
    #[method(name = "requestAccount")]
    async fn request_account(
        &self,
        params: RequestAccountParams,
    ) -> RpcResult<RequestAccountResult>;

    /// `wallet_createSession`: a session for a key, with permissions and an expiry; answers the
    /// session id and the `DeferredAction` the owner must sign.
    #[method(name = "createSession")]
    async fn create_session(&self, params: CreateSessionParams) -> RpcResult<CreateSessionResult>;

    /// `wallet_prepareCalls`: a user operation (or an EIP-7702 authorization and one) to sign.
    #[method(name = "prepareCalls")]
    async fn prepare_calls(&self, params: PrepareCallsParams) -> RpcResult<PreparedCalls>;

    /// `wallet_sendPreparedCalls`: sends signed prepared calls; answers the call id.
    #[method(name = "sendPreparedCalls")]
    async fn send_prepared_calls(
        &self,
        params: SendPreparedCallsParams,
    ) -> RpcResult<SendPreparedCallsResult>;

    /// `wallet_getCallsStatus`: the status of a call id.
    #[method(name = "getCallsStatus")]
    async fn get_calls_status(&self, call_id: CallId) -> RpcResult<CallsStatus>;

    /// `wallet_listAccounts`: the accounts of a signer, a page at a time.
    #[method(name = "listAccounts")]
    async fn list_accounts(&self, params: ListAccountsParams) -> RpcResult<ListAccountsResult>;

    /// `wallet_prepareSign`: turns a message into what the account's signer signs.
    #[method(name = "prepareSign")]
    async fn prepare_sign(&self, params: PrepareSignParams) -> RpcResult<PrepareSignResult>;

    /// `wallet_formatSign`: packs a signature into what the account verifies (ERC-1271).
    #[method(name = "formatSign")]
    async fn format_sign(&self, params: FormatSignParams) -> RpcResult<FormatSignResult>;

    /// `wallet_getCapabilities`: what the wallet supports, by chain. The generated client sends
    /// `null` for absent `chain_ids`; [`crate::WalletClient::get_capabilities`] omits it, as the
    /// schema requires.
    #[method(name = "getCapabilities")]
    async fn get_capabilities(
        &self,
        account: Address,
        chain_ids: Option<Vec<U64>>,
    ) -> RpcResult<Capabilities>;
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;
    use jsonrpsee::types::ErrorObjectOwned;
    use sesskey_types::Method;
    use std::collections::BTreeSet;

    /// A server that answers nothing: only its generated method names are read.
    struct Nothing;

    fn no<T>() -> RpcResult<T> {
        Err(ErrorObjectOwned::owned(-32601, "not implemented", None::<()>))
    }

    #[jsonrpsee::core::async_trait]
    impl WalletApiServer for Nothing {
        async fn request_account(
            &self,
            _: RequestAccountParams,
        ) -> RpcResult<RequestAccountResult> {
            no()
        }
        async fn create_session(&self, _: CreateSessionParams) -> RpcResult<CreateSessionResult> {
            no()
        }
        async fn prepare_calls(&self, _: PrepareCallsParams) -> RpcResult<PreparedCalls> {
            no()
        }
        async fn send_prepared_calls(
            &self,
            _: SendPreparedCallsParams,
        ) -> RpcResult<SendPreparedCallsResult> {
            no()
        }
        async fn get_calls_status(&self, _: CallId) -> RpcResult<CallsStatus> {
            no()
        }
        async fn list_accounts(&self, _: ListAccountsParams) -> RpcResult<ListAccountsResult> {
            no()
        }
        async fn prepare_sign(&self, _: PrepareSignParams) -> RpcResult<PrepareSignResult> {
            no()
        }
        async fn format_sign(&self, _: FormatSignParams) -> RpcResult<FormatSignResult> {
            no()
        }
        async fn get_capabilities(
            &self,
            _: Address,
            _: Option<Vec<U64>>,
        ) -> RpcResult<Capabilities> {
            no()
        }
    }

    /// The trait's `#[method]` names are exactly the table's ([`Method::ALL`]).
    #[test]
    fn the_trait_is_the_table() {
        let names: BTreeSet<&str> = Nothing.into_rpc().method_names().collect();
        let table: BTreeSet<&str> = Method::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names, table);
    }
}

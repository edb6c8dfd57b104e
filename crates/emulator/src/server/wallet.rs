//! The Wallet API methods.
//!
//! They are registered by hand rather than through the generated `WalletApiServer`, so that a
//! malformed param is refused with -32602 and a message naming the field (``invalid
//! `calls[0].value`: …``), as Alchemy does, instead of jsonrpsee's generic "Invalid params".

use crate::Emulator;
use jsonrpsee::server::RpcModule;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::de::DeserializeOwned;
use sesskey_rpc::WalletError;
use sesskey_types::from_json_value;
use std::sync::Arc;

pub(crate) fn one<T: DeserializeOwned>(params: &Params<'_>) -> Result<T, ErrorObjectOwned> {
    let bad = || WalletError::InvalidParams("params must be an array holding one object".into());
    let list: Vec<serde_json::Value> = params.parse().map_err(|_| bad())?;
    let [value]: [serde_json::Value; 1] = list.try_into().map_err(|_| bad())?;
    from_json_value(value).map_err(|e| WalletError::InvalidParams(e.to_string()).into())
}

macro_rules! wallet_method {
    ($module:ident, $name:literal, |$emu:ident, $params:ident: $ty:ty| $body:expr) => {
        $module
            .register_blocking_method($name, |raw, emu, _| {
                let $emu: &Emulator = &emu;
                $emu.injected_failure($name)?;
                let $params: $ty = one(&raw)?;
                $body.map_err(ErrorObjectOwned::from)
            })
            .expect("method names are unique");
    };
}

/// The Wallet API methods over `emulator`.
pub fn wallet_module(emulator: Arc<Emulator>) -> RpcModule<Emulator> {
    use sesskey_types::*;
    let mut m = RpcModule::from_arc(emulator);
    wallet_method!(m, "wallet_requestAccount", |e, p: RequestAccountParams| e.request_account(p));
    wallet_method!(m, "wallet_createSession", |e, p: CreateSessionParams| e.create_session(p));
    wallet_method!(m, "wallet_prepareCalls", |e, p: PrepareCallsParams| e.prepare_calls(p));
    wallet_method!(m, "wallet_sendPreparedCalls", |e, p: SendPreparedCallsParams| e
        .send_prepared_calls(p));
    wallet_method!(m, "wallet_listAccounts", |e, p: ListAccountsParams| e.list_accounts(p));
    wallet_method!(m, "wallet_prepareSign", |e, p: PrepareSignParams| e.prepare_sign(p));
    wallet_method!(m, "wallet_formatSign", |e, p: FormatSignParams| e.format_sign(p));
    wallet_method!(m, "wallet_getCallsStatus", |e, id: CallId| e.get_calls_status(id));
    m.register_blocking_method("wallet_getCapabilities", |raw, e, _| {
        e.injected_failure("wallet_getCapabilities")?;
        let list: Vec<serde_json::Value> = raw.parse().map_err(|_| {
            WalletError::InvalidParams("params must be [address] or [address, chainIds]".into())
        })?;
        let parsed: GetCapabilitiesParams = from_json_value(serde_json::Value::Array(list))
            .map_err(|e| WalletError::InvalidParams(e.to_string()))?;
        e.get_capabilities(parsed.chain_ids).map_err(ErrorObjectOwned::from)
    })
    .expect("unique");
    m
}

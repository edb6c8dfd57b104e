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
    ($module:ident, $method:expr, |$emu:ident, $params:ident: $ty:ty| $body:expr) => {
        $module
            .register_blocking_method($method.name(), move |raw, emu, _| {
                let $emu: &Emulator = &emu;
                $emu.injected_failure($method.name())?;
                let $params: $ty = one(&raw)?;
                $body.map_err(ErrorObjectOwned::from)
            })
            .expect("method names are unique");
    };
}

/// The Wallet API methods over `emulator`: each of [`sesskey_types::Method::ALL`], registered under its name
/// (a test checks the two lists stay the same).
pub fn wallet_module(emulator: Arc<Emulator>) -> RpcModule<Emulator> {
    use sesskey_types::*;
    let mut m = RpcModule::from_arc(emulator);
    for method in Method::ALL {
        match method {
            Method::RequestAccount => {
                wallet_method!(m, method, |e, p: RequestAccountParams| e.request_account(p));
            }
            Method::CreateSession => {
                wallet_method!(m, method, |e, p: CreateSessionParams| e.create_session(p));
            }
            Method::PrepareCalls => {
                wallet_method!(m, method, |e, p: PrepareCallsParams| e.prepare_calls(p));
            }
            Method::SendPreparedCalls => {
                wallet_method!(m, method, |e, p: SendPreparedCallsParams| e.send_prepared_calls(p));
            }
            Method::ListAccounts => {
                wallet_method!(m, method, |e, p: ListAccountsParams| e.list_accounts(p));
            }
            Method::PrepareSign => {
                wallet_method!(m, method, |e, p: PrepareSignParams| e.prepare_sign(p));
            }
            Method::FormatSign => {
                wallet_method!(m, method, |e, p: FormatSignParams| e.format_sign(p));
            }
            Method::GetCallsStatus => {
                wallet_method!(m, method, |e, id: CallId| e.get_calls_status(id));
            }
            Method::GetCapabilities => register_get_capabilities(&mut m),
        }
    }
    m
}

/// `wallet_getCapabilities`, whose params are the array itself: `[address]` or
/// `[address, chainIds]`.
fn register_get_capabilities(m: &mut RpcModule<Emulator>) {
    use sesskey_types::*;
    m.register_blocking_method(Method::GetCapabilities.name(), |raw, e, _| {
        e.injected_failure(Method::GetCapabilities.name())?;
        let list: Vec<serde_json::Value> = raw.parse().map_err(|_| {
            WalletError::InvalidParams("params must be [address] or [address, chainIds]".into())
        })?;
        let parsed: GetCapabilitiesParams = from_json_value(serde_json::Value::Array(list))
            .map_err(|e| WalletError::InvalidParams(e.to_string()))?;
        e.get_capabilities(parsed.chain_ids).map_err(ErrorObjectOwned::from)
    })
    .expect("unique");
}

#[cfg(test)]
mod tests {
    use sesskey_types::Method;
    use std::collections::BTreeSet;

    /// The emulator serves exactly the methods of the table, under their names.
    #[test]
    fn the_served_methods_are_the_table() {
        let emulator = std::sync::Arc::new(crate::Emulator::new(Default::default()));
        let served: BTreeSet<&str> = super::wallet_module(emulator).method_names().collect();
        let table: BTreeSet<&str> = Method::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(served, table);
    }
}

//! The JSON-RPC server: the Wallet API and the `emulator_*` controls over HTTP.
//!
//! Wallet methods are registered by hand rather than through the generated
//! `WalletApiServer`, so that a malformed param is refused with -32602 and a message naming the
//! field (``invalid `calls[0].value`: …``), as Alchemy does, instead of jsonrpsee's generic
//! "Invalid params".

use crate::core::Emulator;
use alloy_primitives::{Address, Bytes, U256, U64};
use jsonrpsee::core::{async_trait, RpcResult};
use jsonrpsee::server::{RpcModule, Server, ServerConfig, ServerHandle};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sesskey_rpc::{EmulatorApiServer, SessionInfo, WalletError};
use sesskey_types::{from_json_value, CallId, SessionId};
use std::net::SocketAddr;
use std::sync::Arc;

/// The largest request body accepted.
pub const MAX_REQUEST_BYTES: u32 = 1 << 20;

fn one<T: DeserializeOwned>(params: &Params<'_>) -> Result<T, ErrorObjectOwned> {
    let list: Vec<serde_json::Value> = params.parse().map_err(|_| {
        WalletError::InvalidParams("params must be an array holding one object".into())
    })?;
    let [value]: [serde_json::Value; 1] = list.try_into().map_err(|_| {
        WalletError::InvalidParams("params must be an array holding one object".into())
    })?;
    from_json_value(value).map_err(|e| WalletError::InvalidParams(e.to_string()).into())
}

fn answer<T: Serialize>(r: Result<T, WalletError>) -> Result<T, ErrorObjectOwned> {
    r.map_err(ErrorObjectOwned::from)
}

macro_rules! wallet_method {
    ($module:ident, $name:literal, |$emu:ident, $params:ident| $body:expr) => {
        $module
            .register_method($name, |raw, emu, _| {
                let $emu: &Emulator = emu;
                $emu.injected_failure($name)?;
                let $params = one(&raw)?;
                answer($body)
            })
            .expect("method names are unique");
    };
}

/// The Wallet API methods over `emulator`.
pub fn wallet_module(emulator: Arc<Emulator>) -> RpcModule<Emulator> {
    let mut m = RpcModule::from_arc(emulator);
    wallet_method!(m, "wallet_requestAccount", |e, p| e.request_account(p));
    wallet_method!(m, "wallet_createSession", |e, p| e.create_session(p));
    wallet_method!(m, "wallet_prepareCalls", |e, p| e.prepare_calls(p));
    wallet_method!(m, "wallet_sendPreparedCalls", |e, p| e.send_prepared_calls(p));
    wallet_method!(m, "wallet_listAccounts", |e, p| e.list_accounts(p));
    wallet_method!(m, "wallet_prepareSign", |e, p| e.prepare_sign(p));
    wallet_method!(m, "wallet_formatSign", |e, p| e.format_sign(p));
    m.register_method("wallet_getCallsStatus", |raw, e, _| {
        e.injected_failure("wallet_getCallsStatus")?;
        let id: CallId = one(&raw)?;
        answer(e.get_calls_status(id))
    })
    .expect("unique");
    m.register_method("wallet_getCapabilities", |raw, e, _| {
        e.injected_failure("wallet_getCapabilities")?;
        let list: Vec<serde_json::Value> = raw.parse().map_err(|_| {
            WalletError::InvalidParams("params must be [address] or [address, chainIds]".into())
        })?;
        let parsed: sesskey_types::GetCapabilitiesParams =
            from_json_value(serde_json::Value::Array(list))
                .map_err(|e| WalletError::InvalidParams(e.to_string()))?;
        answer(e.get_capabilities(parsed.chain_ids))
    })
    .expect("unique");
    m
}

/// The `emulator_*` controls, through the `sesskey-rpc` trait.
#[derive(Debug, Clone)]
pub struct Controls(pub Arc<Emulator>);

#[async_trait]
impl EmulatorApiServer for Controls {
    async fn now(&self) -> RpcResult<u64> {
        Ok(self.0.now())
    }
    async fn set_time(&self, unix_seconds: u64) -> RpcResult<u64> {
        Ok(self.0.set_time(unix_seconds))
    }
    async fn increase_time(&self, seconds: u64) -> RpcResult<u64> {
        Ok(self.0.increase_time(seconds))
    }
    async fn set_balance(&self, chain_id: U64, account: Address, wei: U256) -> RpcResult<()> {
        Ok(self.0.set_balance(chain_id, account, wei)?)
    }
    async fn get_balance(&self, chain_id: U64, account: Address) -> RpcResult<U256> {
        Ok(self.0.balance(chain_id, account)?)
    }
    async fn set_erc20_balance(
        &self,
        chain_id: U64,
        token: Address,
        account: Address,
        amount: U256,
    ) -> RpcResult<()> {
        Ok(self.0.set_erc20_balance(chain_id, token, account, amount)?)
    }
    async fn get_erc20_balance(
        &self,
        chain_id: U64,
        token: Address,
        account: Address,
    ) -> RpcResult<U256> {
        Ok(self.0.erc20_balance(chain_id, token, account)?)
    }
    async fn settle(&self) -> RpcResult<usize> {
        Ok(self.0.settle())
    }
    async fn list_sessions(&self) -> RpcResult<Vec<SessionInfo>> {
        Ok(self.0.list_sessions())
    }
    async fn revoke_session(&self, session_id: SessionId) -> RpcResult<()> {
        Ok(self.0.revoke_session(session_id)?)
    }
    async fn fail_next(&self, method: String, code: i32, message: String) -> RpcResult<()> {
        self.0.fail_next(method, code, message);
        Ok(())
    }
    async fn packed_signature(&self, call_id: CallId) -> RpcResult<Bytes> {
        Ok(self.0.packed_signature(&call_id)?)
    }
}

/// A running emulator server.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its handle: `stop()` it, or await `stopped()`.
    pub handle: ServerHandle,
    /// The core, for in-process inspection.
    pub emulator: Arc<Emulator>,
}

impl Running {
    /// The URL clients use (`/` and `/v2/<any key>` both answer).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts the emulator on `addr` (port 0 picks a free port).
pub async fn serve(emulator: Emulator, addr: SocketAddr) -> std::io::Result<Running> {
    let emulator = Arc::new(emulator);
    let mut module = wallet_module(emulator.clone());
    module
        .merge(Controls(emulator.clone()).into_rpc())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let config = ServerConfig::builder().max_request_body_size(MAX_REQUEST_BYTES).build();
    let (addr, handle) = if emulator.config().cors {
        let cors = tower_http::cors::CorsLayer::permissive();
        let server = Server::builder()
            .set_config(config)
            .set_http_middleware(tower::ServiceBuilder::new().layer(cors))
            .build(addr)
            .await?;
        (server.local_addr()?, server.start(module))
    } else {
        let server = Server::builder().set_config(config).build(addr).await?;
        (server.local_addr()?, server.start(module))
    };
    tracing::info!(%addr, "emulator listening");
    Ok(Running { addr, handle, emulator })
}

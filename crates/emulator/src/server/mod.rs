//! The JSON-RPC server: a thin adapter that decodes params, calls one [`Emulator`] method on a
//! blocking thread (EVM runs and fsyncs stay off the async workers), and encodes the answer.
//!
//! Every chain's `eth_*` methods are on the same server: `/` (and `/v2/<any key>`, so Alchemy
//! URLs work with only the host changed) reach the first chain served, and `/chain/<id>` (or
//! `/chain/<id>/v2/<key>`) reaches chain `<id>`. The Wallet API methods name their chain in
//! their params and answer on every path.

mod controls;
mod eth;
mod wallet;

pub use controls::Controls;
pub use wallet::wallet_module;

use crate::Emulator;
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use std::net::SocketAddr;
use std::sync::Arc;

/// The largest request body accepted.
pub const MAX_REQUEST_BYTES: u32 = 1 << 20;

/// The chain a request's path names (`/chain/<id>`), put in the request's extensions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChainRoute(pub(crate) u64);

/// Reads `/chain/<id>` (decimal or 0x-hex) off the front of a path.
fn route(path: &str) -> Option<u64> {
    let rest = path.strip_prefix("/chain/")?;
    let id = rest.split('/').next()?;
    match id.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => id.parse().ok(),
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

    /// The URL of one chain's `eth_*` methods.
    pub fn chain_url(&self, chain_id: u64) -> String {
        format!("http://{}/chain/{chain_id}", self.addr)
    }
}

/// Starts the emulator on `addr` (port 0 picks a free port).
pub async fn serve(emulator: Emulator, addr: SocketAddr) -> std::io::Result<Running> {
    let emulator = Arc::new(emulator);
    let mut module = wallet_module(emulator.clone());
    let merge = |m: &mut jsonrpsee::RpcModule<_>, other| {
        m.merge(other)
            .map_err(|e: jsonrpsee::core::RegisterMethodError| std::io::Error::other(e.to_string()))
    };
    merge(&mut module, eth::eth_module(emulator.clone()).remove_context())?;
    merge(&mut module, controls::anvil_module(emulator.clone()).remove_context())?;
    {
        use sesskey_rpc::EmulatorApiServer;
        merge(&mut module, Controls(emulator.clone()).into_rpc().remove_context())?;
    }
    let mut config = ServerConfig::builder().max_request_body_size(MAX_REQUEST_BYTES);
    if !emulator.config().ws {
        config = config.http_only();
    }
    let config = config.build();
    emulator.set_methods(module.method_names().map(str::to_string).collect());
    let cors = emulator.config().cors.then(tower_http::cors::CorsLayer::permissive);
    let middleware = tower::ServiceBuilder::new().option_layer(cors).map_request(
        |mut req: hyper::Request<_>| {
            if let Some(id) = route(req.uri().path()) {
                req.extensions_mut().insert(ChainRoute(id));
            }
            req
        },
    );
    let server =
        Server::builder().set_config(config).set_http_middleware(middleware).build(addr).await?;
    let addr = server.local_addr()?;
    let handle = server.start(module);
    tracing::info!(%addr, "emulator listening");
    Ok(Running { addr, handle, emulator })
}

#[cfg(test)]
mod tests {
    #[test]
    fn chain_routes() {
        assert_eq!(super::route("/chain/31337"), Some(31337));
        assert_eq!(super::route("/chain/0x7a69/v2/key"), Some(31337));
        assert_eq!(super::route("/v2/key"), None);
        assert_eq!(super::route("/chain/x"), None);
    }
}

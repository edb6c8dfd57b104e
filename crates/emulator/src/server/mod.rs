//! The JSON-RPC server: a thin adapter that decodes params, calls one [`Emulator`] method on a
//! blocking thread (EVM runs and fsyncs stay off the async workers), and encodes the answer.
//!
//! Every chain's `eth_*` methods are on the same server: `/` (and `/v2/<any key>`, so Alchemy
//! URLs work with only the host changed) reach the first chain configured, and `/chain/<id>` (or
//! `/chain/<id>/v2/<key>`) reaches chain `<id>`. The Wallet API methods name their chain in
//! their params and answer on every path.

mod controls;
mod eth;
mod guard;
mod log;
mod wallet;

pub use controls::Controls;
pub use guard::{is_control, BODY_TIMEOUT, MAX_BATCH, MAX_BATCH_ANSWER_BYTES};
pub use wallet::wallet_module;

use crate::Emulator;
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use std::net::SocketAddr;
use std::sync::Arc;

/// The largest request body accepted.
pub const MAX_REQUEST_BYTES: u32 = 1 << 20;

/// The most requests handled at once (more wait for a slot, or get HTTP 429).
pub const MAX_IN_FLIGHT: u32 = 1000;

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
    /// Whether the controls answer (see [`crate::Config::controls`]).
    pub controls: bool,
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
    let controls = emulator.config().controls.unwrap_or(addr.ip().is_loopback());
    // Controls that are off are not even registered (WebSocket messages never pass the guard).
    if controls {
        use sesskey_rpc::EmulatorApiServer;
        merge(&mut module, controls::anvil_module(emulator.clone()).remove_context())?;
        merge(&mut module, Controls(emulator.clone()).into_rpc().remove_context())?;
    }
    // Requests take a slot only once their body is in (the guard reads it first), so slots
    // are held by work, not by slow senders; a connection must send its first request soon.
    let mut config = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BYTES)
        .max_connections(MAX_IN_FLIGHT)
        .set_first_request_timeout(Some(guard::BODY_TIMEOUT))
        .set_batch_request_config(jsonrpsee::server::BatchRequestConfig::Limit(
            guard::MAX_BATCH as u32,
        ));
    if !emulator.config().ws {
        config = config.http_only();
    }
    let config = config.build();
    emulator.set_methods(module.method_names().map(str::to_string).collect());
    let cors = emulator.config().cors.then(tower_http::cors::CorsLayer::permissive);
    let rules = guard::Rules {
        bound: addr.ip(),
        hosts: emulator.config().allowed_hosts.clone(),
        controls,
        cors_controls: emulator.config().cors_controls,
        body_timeout: guard::BODY_TIMEOUT,
        emulator: Some(emulator.clone()),
    };
    let middleware = tower::ServiceBuilder::new()
        .option_layer(cors)
        .layer(guard::GuardLayer(Arc::new(rules)))
        .map_request(|mut req: hyper::Request<_>| {
            if let Some(id) = route(req.uri().path()) {
                req.extensions_mut().insert(ChainRoute(id));
            }
            req
        });
    let rpc_middleware =
        jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new().layer_fn(log::BodyLog);
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(middleware)
        .set_rpc_middleware(rpc_middleware)
        .build(addr)
        .await?;
    let addr = server.local_addr()?;
    let handle = server.start(module);
    tracing::info!(%addr, controls, "emulator listening");
    Ok(Running { addr, handle, emulator, controls })
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

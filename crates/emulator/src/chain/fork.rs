//! A fork: the state of an upstream node at a fixed block, read lazily through revm's
//! [`AlloyDB`] adapter over an alloy provider and cached for the life of the process.

use super::db::ChainDbError;
use alloy_eips::BlockId;
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use revm::bytecode::Bytecode;
use revm::database::AlloyDB;
use revm::state::AccountInfo;
use revm::{DatabaseRef, WrapDatabaseAsync};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long one request to the upstream may take before it fails (connecting: a third of it).
pub const UPSTREAM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The most of an upstream's error message that is kept (its body can be anything, of any size).
const MAX_UPSTREAM_MESSAGE: usize = 300;
/// The most bytes one upstream answer may hold; a longer one fails its request (the reads a
/// fork makes, an account, a slot, a block header with its transaction hashes, are far smaller).
pub const MAX_UPSTREAM_ANSWER: usize = 4 * 1024 * 1024;

/// The fork's transport: JSON-RPC over HTTP (reqwest, with its timeouts), reading an answer
/// only up to [`MAX_UPSTREAM_ANSWER`] bytes.
#[derive(Clone)]
struct CappedHttp {
    client: reqwest::Client,
    url: reqwest::Url,
    max: usize,
}

impl CappedHttp {
    async fn send(
        self,
        req: alloy_json_rpc::RequestPacket,
    ) -> alloy_transport::TransportResult<alloy_json_rpc::ResponsePacket> {
        use alloy_transport::{TransportError, TransportErrorKind};
        let body = serde_json::to_vec(&req).map_err(TransportError::ser_err)?;
        let mut resp = self
            .client
            .post(self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(TransportErrorKind::custom)?;
        let status = resp.status();
        let mut answer = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(TransportErrorKind::custom)? {
            if answer.len().saturating_add(chunk.len()) > self.max {
                return Err(TransportErrorKind::custom_str(&format!(
                    "the upstream's answer is over {} bytes (MAX_UPSTREAM_ANSWER): refused",
                    self.max
                )));
            }
            answer.extend_from_slice(&chunk);
        }
        let shown = || {
            String::from_utf8_lossy(&answer[..answer.len().min(MAX_UPSTREAM_MESSAGE)]).into_owned()
        };
        if !status.is_success() {
            return Err(TransportErrorKind::http_error(status.as_u16(), shown()));
        }
        serde_json::from_slice(&answer).map_err(|e| TransportError::deser_err(e, shown()))
    }
}

impl tower::Service<alloy_json_rpc::RequestPacket> for CappedHttp {
    type Response = alloy_json_rpc::ResponsePacket;
    type Error = alloy_transport::TransportError;
    type Future = alloy_transport::TransportFut<'static>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: alloy_json_rpc::RequestPacket) -> Self::Future {
        Box::pin(self.clone().send(req))
    }
}

/// Where a fork reads its state.
#[derive(Clone, PartialEq, Eq)]
pub struct ForkConfig {
    /// The upstream node's JSON-RPC URL (its path and query may hold an API key: they are never
    /// shown, see [`ForkConfig::shown_url`]).
    pub url: String,
    /// The block to fork at (default: the upstream's latest when the emulator starts).
    pub block: Option<u64>,
    /// How long one upstream request may take (default [`UPSTREAM_TIMEOUT`]).
    pub timeout: Option<std::time::Duration>,
}

impl std::fmt::Debug for ForkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForkConfig")
            .field("url", &self.shown_url())
            .field("block", &self.block)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ForkConfig {
    /// A fork of `url` at the upstream's latest block, with the default timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), block: None, timeout: None }
    }

    /// The URL as it may be shown: scheme, host and port; a path or a query (where node
    /// providers put API keys) becomes `/***`.
    pub fn shown_url(&self) -> String {
        shown_url(&self.url)
    }
}

/// `url` without its path, query or credentials: `https://node.example/***`
/// ([`sesskey_rpc::shown_url`]); `<not a URL>` without a scheme.
pub fn shown_url(url: &str) -> String {
    if !url.contains("://") {
        return "<not a URL>".into();
    }
    sesskey_rpc::shown_url(url)
}

/// An upstream's error as it may be shown: the URL in every form it appears in made
/// [`shown_url`], and cut to [`MAX_UPSTREAM_MESSAGE`] characters.
fn clean(message: &str, url: &str) -> String {
    let shown = shown_url(url);
    let mut text = message.replace(url, &shown);
    // However the URL was written back (normalized, percent-encoded), its path and query (where
    // a key lives) never stay.
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let secret = &rest[authority.len()..];
        if secret.len() > 1 {
            text = text.replace(secret, "/***");
        }
        if let Some((credentials, _)) = authority.rsplit_once('@') {
            text = text.replace(credentials, "***");
        }
    }
    if text.chars().count() > MAX_UPSTREAM_MESSAGE {
        text = text.chars().take(MAX_UPSTREAM_MESSAGE).collect::<String>() + "… (cut)";
    }
    text
}

#[derive(Default)]
struct Cache {
    accounts: HashMap<Address, Option<AccountInfo>>,
    code: HashMap<B256, Bytecode>,
    storage: HashMap<(Address, U256), U256>,
    hashes: HashMap<u64, B256>,
}

/// The upstream node of a forked chain.
pub(crate) struct Upstream {
    db: WrapDatabaseAsync<AlloyDB<alloy_network::Ethereum, DynProvider>>,
    /// The upstream's chain id.
    pub(crate) chain_id: u64,
    /// The fork block.
    pub(crate) block: u64,
    /// Its hash and timestamp.
    pub(crate) block_hash: B256,
    pub(crate) timestamp: u64,
    pub(crate) base_fee: u64,
    cache: Mutex<Cache>,
    /// The URL, to clean errors of.
    url: String,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("chain_id", &self.chain_id)
            .field("block", &self.block)
            .finish_non_exhaustive()
    }
}

/// Makes ring rustls' process-wide crypto provider, unless the program installed one: reqwest
/// (built here without a provider of its own, so that the workspace has one TLS stack) takes it.
pub fn ensure_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may install one meanwhile: then that one stays, as it should.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl Upstream {
    /// Connects to the upstream and fixes the fork block. Must run inside a multi-threaded
    /// tokio runtime; reads later block on it from the emulator's blocking threads.
    pub(crate) async fn connect(config: &ForkConfig) -> crate::Result<Self> {
        let fork = |e: String| crate::Error::Fork(clean(&e, &config.url));
        let url = config
            .url
            .parse()
            .map_err(|e| fork(format!("`{}` is not a URL: {e}", config.shown_url())))?;
        let timeout = config.timeout.unwrap_or(UPSTREAM_TIMEOUT);
        ensure_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout / 3)
            .build()
            .map_err(|e| fork(format!("the upstream's HTTP client: {e}")))?;
        let local = alloy_transport::utils::guess_local_url(config.url.as_str());
        let transport = CappedHttp { client, url, max: MAX_UPSTREAM_ANSWER };
        let provider = ProviderBuilder::new()
            .connect_client(alloy_rpc_client::RpcClient::new(transport, local))
            .erased();
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| fork(format!("eth_chainId at the upstream failed: {e}")))?;
        let block = match config.block {
            Some(b) => b,
            None => provider
                .get_block_number()
                .await
                .map_err(|e| fork(format!("eth_blockNumber at the upstream failed: {e}")))?,
        };
        let header = provider
            .get_block_by_number(block.into())
            .await
            .map_err(|e| {
                fork(format!("eth_getBlockByNumber({block}) at the upstream failed: {e}"))
            })?
            .ok_or_else(|| fork(format!("the upstream has no block {block}")))?
            .header;
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| fork("a fork needs a tokio runtime".into()))?;
        let db =
            WrapDatabaseAsync::with_handle(AlloyDB::new(provider, BlockId::number(block)), handle);
        Ok(Self {
            db,
            chain_id,
            block,
            block_hash: header.hash,
            timestamp: header.inner.timestamp,
            base_fee: header.inner.base_fee_per_gas.unwrap_or(super::INITIAL_BASE_FEE),
            cache: Mutex::new(Cache::default()),
            url: config.url.clone(),
        })
    }

    /// A failed upstream read, as it may be shown.
    fn error(&self, e: &dyn std::fmt::Display) -> ChainDbError {
        ChainDbError(clean(&e.to_string(), &self.url))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn basic(&self, address: Address) -> Result<Option<AccountInfo>, ChainDbError> {
        if let Some(a) = self.cache().accounts.get(&address) {
            return Ok(a.clone());
        }
        let info = self.db.basic_ref(address).map_err(|e| self.error(&e))?;
        let mut cache = self.cache();
        if let Some(code) = info.as_ref().and_then(|i| i.code.clone()) {
            cache.code.insert(info.as_ref().map(|i| i.code_hash).unwrap_or_default(), code);
        }
        cache.accounts.insert(address, info.clone());
        Ok(info)
    }

    pub(crate) fn code_by_hash(&self, hash: B256) -> Result<Bytecode, ChainDbError> {
        // AlloyDB serves code only with the account; every code hash the EVM sees came from one.
        Ok(self.cache().code.get(&hash).cloned().unwrap_or_default())
    }

    pub(crate) fn storage(&self, address: Address, slot: U256) -> Result<U256, ChainDbError> {
        if let Some(v) = self.cache().storage.get(&(address, slot)) {
            return Ok(*v);
        }
        let v = self.db.storage_ref(address, slot).map_err(|e| self.error(&e))?;
        self.cache().storage.insert((address, slot), v);
        Ok(v)
    }

    pub(crate) fn block_hash(&self, number: u64) -> Result<B256, ChainDbError> {
        if number == self.block {
            return Ok(self.block_hash);
        }
        if let Some(h) = self.cache().hashes.get(&number) {
            return Ok(*h);
        }
        let h = self.db.block_hash_ref(number).map_err(|e| self.error(&e))?;
        self.cache().hashes.insert(number, h);
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_secrets() {
        let key = "https://eth-mainnet.g.alchemy.com/v2/AbCdEfSecretKey123";
        assert_eq!(shown_url(key), "https://eth-mainnet.g.alchemy.com/***");
        assert_eq!(shown_url("https://node.example/?apikey=s3cret"), "https://node.example/***");
        assert_eq!(
            shown_url("https://user:pw@node.example:8545/"),
            "https://node.example:8545/***"
        );
        assert_eq!(shown_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(shown_url("http://127.0.0.1:8545/"), "http://127.0.0.1:8545");
        let message =
            format!("error sending request for url ({key}/): timed out {}", "x".repeat(5000));
        let cleaned = clean(&message, key);
        assert!(!cleaned.contains("AbCdEfSecretKey123"), "{cleaned}");
        assert!(cleaned
            .starts_with("error sending request for url (https://eth-mainnet.g.alchemy.com/***"));
        assert!(cleaned.chars().count() < 320, "{}", cleaned.len());
        let debug = format!("{:?}", ForkConfig::new(key));
        assert!(!debug.contains("Secret"), "{debug}");
    }

    /// An `https://` upstream gets a TLS client (rustls on ring, installed when the app has
    /// installed no provider): nothing listening is a fork error, never a panic.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_https_upstream_gets_a_tls_client() {
        let mut config = ForkConfig::new("https://127.0.0.1:1/v2/key");
        config.timeout = Some(std::time::Duration::from_secs(3));
        match Upstream::connect(&config).await {
            Err(crate::Error::Fork(e)) => assert!(e.contains("eth_chainId"), "{e}"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("nothing listens on port 1"),
        }
    }
}

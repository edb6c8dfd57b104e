//! The HTTP client: Alchemy's endpoint or any URL, API key kept out of every printout.

use crate::retry::{RetryLayer, RetryPolicy, RetryService};
use crate::{Error, Result};
use alloy_primitives::{Address, U64};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::{ArrayParams, BatchRequestBuilder};
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::{
    HeaderMap, HeaderValue, HttpBackend, HttpClient, HttpClientBuilder, RpcLogger, RpcService,
};
use serde::de::DeserializeOwned;
use sesskey_types::Capabilities;
use std::fmt;
use std::time::Duration;

/// Alchemy's Wallet API endpoint; the API key is appended as the last path segment.
pub const ALCHEMY_URL: &str = "https://api.g.alchemy.com/v2/";

/// The user agent sent with every request.
pub const USER_AGENT: &str = concat!("sesskey/", env!("CARGO_PKG_VERSION"));

/// The default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A secret that prints as `***`.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Builds a [`WalletClient`].
///
/// ```
/// use sesskey_rpc::WalletClient;
/// use std::time::Duration;
///
/// let client = WalletClient::builder()
///     .alchemy("my-secret-key")
///     .timeout(Duration::from_secs(10))
///     .build()?;
/// // The key never shows.
/// assert!(!format!("{client:?}").contains("my-secret-key"));
/// assert_eq!(client.url(), "https://api.g.alchemy.com/v2/***");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct WalletClientBuilder {
    url: Option<String>,
    path_key: Option<Secret>,
    bearer: Option<Secret>,
    timeout: Duration,
    retry: RetryPolicy,
}

impl Default for WalletClientBuilder {
    fn default() -> Self {
        Self {
            url: None,
            path_key: None,
            bearer: None,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

impl WalletClientBuilder {
    /// Alchemy's endpoint, `https://api.g.alchemy.com/v2/<api_key>`.
    pub fn alchemy(mut self, api_key: impl Into<String>) -> Self {
        self.url = Some(ALCHEMY_URL.to_string());
        self.path_key = Some(Secret(api_key.into()));
        self
    }

    /// Any endpoint whose last path segment is the API key, as Alchemy's is (a compatible proxy,
    /// an emulator): `base` ends with `/`, and the key is kept out of every printout.
    pub fn keyed_url(mut self, base: impl Into<String>, api_key: impl Into<String>) -> Self {
        self.url = Some(base.into());
        self.path_key = Some(Secret(api_key.into()));
        self
    }

    /// Any endpoint (an emulator, a proxy).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self.path_key = None;
        self
    }

    /// Sends `Authorization: Bearer <api_key>` with every request, as Alchemy's own client does.
    pub fn bearer(mut self, api_key: impl Into<String>) -> Self {
        self.bearer = Some(Secret(api_key.into()));
        self
    }

    /// The timeout of one call, retries included (default 30 s).
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry policy (default: 3 retries, 200 ms doubling to 5 s, within 20 s).
    pub const fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<WalletClient> {
        let base =
            self.url.ok_or_else(|| Error::Config("no URL: call `alchemy` or `url`".into()))?;
        let secrets: Vec<String> = self
            .path_key
            .iter()
            .chain(&self.bearer)
            .map(|s| s.0.clone())
            .filter(|s| !s.is_empty())
            .collect();
        if !base.contains("://") {
            return Err(Error::Config(format!(
                "`{}` is not a URL: give it with its scheme, e.g. http://{}",
                shown_url(&base),
                shown_url(&base)
            )));
        }
        let target = match &self.path_key {
            Some(key) => format!("{base}{}", key.0),
            None => base,
        };
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", HeaderValue::from_static(USER_AGENT));
        if let Some(key) = &self.bearer {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", key.0))
                .map_err(|_| Error::Config("the API key is not a valid header value".into()))?;
            value.set_sensitive(true);
            headers.insert("authorization", value);
        }
        let inner = HttpClientBuilder::default()
            .set_headers(headers)
            .request_timeout(self.timeout)
            .set_http_middleware(tower::ServiceBuilder::new().layer(RetryLayer::new(self.retry)))
            .build(&target)
            .map_err(|e| Error::Config(redact(&e.to_string(), &secrets)))?;
        let url = redact(&target, &secrets);
        Ok(WalletClient { inner, url, secrets: secrets.into_iter().map(Secret).collect() })
    }
}

/// A URL as errors and logs may show it: scheme, host and port; a path or a query (where node
/// providers put API keys) becomes `/***`, and credentials go.
///
/// ```
/// assert_eq!(
///     sesskey_rpc::shown_url("https://eth-mainnet.g.alchemy.com/v2/KEY"),
///     "https://eth-mainnet.g.alchemy.com/***"
/// );
/// ```
pub fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let hidden = (rest.len() > authority.len() && rest[authority.len()..] != *"/")
        || authority.contains('@');
    let scheme = if scheme.is_empty() { String::new() } else { format!("{scheme}://") };
    format!("{scheme}{host}{}", if hidden { "/***" } else { "" })
}

fn redact(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
}

type Inner = HttpClient<RpcLogger<RpcService<RetryService<HttpBackend>>>>;

/// A Wallet API client over HTTP. It implements jsonrpsee's `ClientT`, so every method of
/// [`crate::WalletApiClient`] is available on it; errors and `Debug` never show the API key.
#[derive(Clone)]
pub struct WalletClient {
    inner: Inner,
    url: String,
    secrets: Vec<Secret>,
}

impl fmt::Debug for WalletClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalletClient").field("url", &self.url).finish_non_exhaustive()
    }
}

impl WalletClient {
    /// A builder.
    pub fn builder() -> WalletClientBuilder {
        WalletClientBuilder::default()
    }

    /// A client of Alchemy's endpoint with default settings.
    pub fn alchemy(api_key: impl Into<String>) -> Result<Self> {
        Self::builder().alchemy(api_key).build()
    }

    /// A client of any endpoint with default settings.
    pub fn new(url: impl Into<String>) -> Result<Self> {
        Self::builder().url(url).build()
    }

    /// The endpoint, with any API key shown as `***`.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn scrub(&self, e: ClientError) -> ClientError {
        let secrets: Vec<String> = self.secrets.iter().map(|s| s.0.clone()).collect();
        match e {
            ClientError::Transport(t) => {
                let text = redact(&t.to_string(), &secrets);
                // hyper's "client error (Connect)" says neither where nor why.
                let text = if text.contains("(Connect)") {
                    format!(
                        "{text}: nothing answered at {} (is the server running, and is this its address?)",
                        shown_url(&self.url)
                    )
                } else {
                    text
                };
                ClientError::Transport(text.into())
            }
            ClientError::Custom(m) => ClientError::Custom(redact(&m, &secrets)),
            other => other,
        }
    }

    /// `wallet_getCapabilities` with exactly the params the schema allows: `[account]` or
    /// `[account, chainIds]`.
    pub async fn get_capabilities(
        &self,
        account: Address,
        chain_ids: Option<Vec<U64>>,
    ) -> Result<Capabilities> {
        let mut params = ArrayParams::new();
        params.insert(account).map_err(|e| Error::Config(e.to_string()))?;
        if let Some(ids) = chain_ids {
            params.insert(ids).map_err(|e| Error::Config(e.to_string()))?;
        }
        Ok(self.request("wallet_getCapabilities", params).await?)
    }
}

impl ClientT for WalletClient {
    async fn notification<Params>(&self, method: &str, params: Params) -> Result<(), ClientError>
    where
        Params: ToRpcParams + Send,
    {
        self.inner.notification(method, params).await.map_err(|e| self.scrub(e))
    }

    async fn request<R, Params>(&self, method: &str, params: Params) -> Result<R, ClientError>
    where
        R: DeserializeOwned,
        Params: ToRpcParams + Send,
    {
        tracing::debug!(method, "wallet request");
        self.inner.request(method, params).await.map_err(|e| self.scrub(e))
    }

    async fn batch_request<'a, R>(
        &self,
        batch: BatchRequestBuilder<'a>,
    ) -> Result<jsonrpsee::core::client::BatchResponse<'a, R>, ClientError>
    where
        R: DeserializeOwned + fmt::Debug + 'a,
    {
        self.inner.batch_request(batch).await.map_err(|e| self.scrub(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_keys() {
        assert_eq!(
            shown_url("https://api.g.alchemy.com/v2/SECRET"),
            "https://api.g.alchemy.com/***"
        );
        assert_eq!(shown_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(shown_url("127.0.0.1:8545"), "127.0.0.1:8545");
    }

    #[test]
    fn a_url_without_a_scheme_says_how_to_write_it() {
        let e = WalletClient::new("127.0.0.1:8545").unwrap_err().to_string();
        assert!(e.contains("http://127.0.0.1:8545"), "{e}");
    }

    /// Nothing listens: the error names the address (not its key) and what to check.
    #[tokio::test]
    async fn nothing_listening_is_said_with_the_address() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let client = WalletClient::builder()
            .url(format!("http://127.0.0.1:{port}/v2/SECRET"))
            .retry(RetryPolicy::NONE)
            .build()
            .unwrap();
        let e = crate::Error::from(
            client
                .request::<serde_json::Value, _>("eth_chainId", ArrayParams::new())
                .await
                .unwrap_err(),
        );
        let text = e.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.contains("is the server running"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
    }
}

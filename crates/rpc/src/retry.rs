//! Retries at the HTTP layer, only where a repeat is safe.
//!
//! A tower layer under jsonrpsee's HTTP client: it reads the JSON-RPC method from the request
//! body, and on a transport failure, HTTP 429 (honouring `Retry-After`) or 5xx repeats the
//! request with exponential backoff and jitter, bounded in count and in time. Methods that are
//! not safe to repeat (`wallet_sendPreparedCalls`, `wallet_createSession`) are repeated only when
//! the connection was refused, so the server provably never received them.

use http_body_util::BodyExt;
use jsonrpsee::http_client::transport::Error as TransportError;
use jsonrpsee::http_client::{HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Whether a repeat of `method` cannot harm: a Wallet API method whose
/// [`sesskey_types::Method::idempotent`] says so (reads and preparation). Anything else, an
/// unknown method included, is repeated only when the connection was refused.
pub fn is_idempotent(method: &str) -> bool {
    method.parse::<sesskey_types::Method>().is_ok_and(sesskey_types::Method::idempotent)
}

/// How often and how long to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retries).
    pub max_retries: u32,
    /// The first backoff; it doubles with each retry.
    pub initial_backoff: Duration,
    /// The largest backoff, and the largest `Retry-After` honoured.
    pub max_backoff: Duration,
    /// No retry starts after this much time since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub const NONE: Self = Self {
        max_retries: 0,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        max_elapsed: Duration::ZERO,
    };

    /// The backoff before retry `n` (1-based): `initial · 2^(n-1)`, capped, with up to 25 %
    /// jitter taken off so that clients do not retry in lockstep.
    pub fn backoff(&self, n: u32) -> Duration {
        let base = self.initial_backoff.saturating_mul(1 << (n - 1).min(16)).min(self.max_backoff);
        let jitter = jitter_fraction();
        base.mul_f64(1.0 - 0.25 * jitter)
    }
}

/// A number in `[0, 1)` from the standard library's random hasher keys.
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The tower layer.
#[derive(Clone, Copy, Debug)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// A layer with `policy`.
    pub const fn new(policy: RetryPolicy) -> Self {
        Self { policy }
    }
}

impl<S> tower::Layer<S> for RetryLayer {
    type Service = RetryService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService { inner, policy: self.policy }
    }
}

/// The tower service of [`RetryLayer`].
#[derive(Clone, Debug)]
pub struct RetryService<S> {
    inner: S,
    policy: RetryPolicy,
}

/// Whether the chain of `e` holds a refused connection: the request never left this machine.
fn connection_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// The JSON-RPC method(s) of a request body; `None` if it cannot be read.
fn methods(body: &[u8]) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let one = |v: &serde_json::Value| v.get("method").and_then(|m| m.as_str()).map(str::to_string);
    match &v {
        serde_json::Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|m| vec![m]),
    }
}

impl<S, B> tower::Service<HttpRequest> for RetryService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse<B>, Error = TransportError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = HttpResponse<B>;
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let policy = self.policy;
        let mut inner = self.inner.clone();
        // The service that was polled ready goes to this call; clones serve the retries.
        std::mem::swap(&mut inner, &mut self.inner);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let bytes = body
                .collect()
                .await
                .map_err(|e| {
                    TransportError::Http(jsonrpsee::core::http_helpers::HttpError::Stream(e))
                })?
                .to_bytes();
            let idempotent = methods(&bytes).is_some_and(|ms| ms.iter().all(|m| is_idempotent(m)));
            let start = Instant::now();
            let mut attempt = 0u32;
            loop {
                let req = HttpRequest::from_parts(parts.clone(), bytes.to_vec().into());
                let result = tower::ServiceExt::ready(&mut inner).await?.call(req).await;
                attempt += 1;
                let can_retry =
                    attempt <= policy.max_retries && start.elapsed() < policy.max_elapsed;
                let wait = match &result {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        if !(idempotent && can_retry && (status == 429 || status >= 500)) {
                            return result;
                        }
                        let hinted = resp
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .map(Duration::from_secs);
                        tracing::debug!(status, attempt, "retrying after an HTTP error status");
                        hinted
                            .map_or_else(|| policy.backoff(attempt), |d| d.min(policy.max_backoff))
                    }
                    Err(e) => {
                        let refused = connection_refused(e);
                        if !(can_retry && (idempotent || refused)) {
                            return result;
                        }
                        tracing::debug!(attempt, refused, "retrying after a transport error");
                        policy.backoff(attempt)
                    }
                };
                let left = policy.max_elapsed.saturating_sub(start.elapsed());
                tokio::time::sleep(wait.min(left)).await;
            }
        })
    }
}

#[cfg(test)]
mod idempotence {
    use super::is_idempotent;

    #[test]
    fn only_the_tables_idempotent_methods_repeat() {
        assert!(is_idempotent("wallet_prepareCalls"));
        assert!(is_idempotent("wallet_getCallsStatus"));
        assert!(!is_idempotent("wallet_sendPreparedCalls"));
        assert!(!is_idempotent("wallet_createSession"));
        assert!(!is_idempotent("wallet_unknown"));
    }
}

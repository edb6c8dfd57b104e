//! The HTTP guard in front of the JSON-RPC service: what reaches a method and what never does.
//!
//! - **Host**: a request whose `Host` names anything but the bound address, `localhost` or a
//!   name given with `--allow-host` is refused with 403 (a web page that rebinds its own domain
//!   to 127.0.0.1 cannot reach the server). Bound to an unspecified address (`0.0.0.0`), any IP
//!   literal is accepted (an IP cannot be rebound).
//! - **Body**: read whole, before the request takes one of the server's request slots, within
//!   [`BODY_TIMEOUT`] (408 after) and [`MAX_REQUEST_BYTES`] (413 over, whatever the transfer
//!   encoding), so slow senders cannot hold the slots other clients need.
//! - **Envelope**: an `id` that is not a string, a 64-bit integer or null is refused with -32600; a
//!   notification (no `id`) is run and answered with an empty body; a batch is answered entry by
//!   entry (at most [`MAX_BATCH`] entries), without the notifications' answers.
//! - **Controls** (`emulator_*`, `anvil_*`, `evm_*`): refused with -32601 when the server's
//!   controls are off, and to browser pages of another origin unless `--cors-controls` is given.
//!   A WebSocket upgrade from another origin is refused while the controls are on for the server
//!   and off for browsers (its messages could not be told apart).
//! - **The page**: `GET /` serves the embedded page and `GET /overview` its data, under the
//!   controls' rules (they show the emulator's sessions).

use super::MAX_REQUEST_BYTES;
use http_body_util::BodyExt;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN, UPGRADE};
use hyper::{Method, StatusCode};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long a client may take to send a request's body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The most requests one batch may hold.
pub const MAX_BATCH: usize = 1000;

/// The most bytes a batch's answers may add up to (beyond, the batch is refused).
pub const MAX_BATCH_ANSWER_BYTES: usize = 10 << 20;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the guard lets through.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    /// The address the server is bound to.
    pub(crate) bound: IpAddr,
    /// Host names accepted besides the bound address and `localhost`.
    pub(crate) hosts: Vec<String>,
    /// Whether the controls answer at all.
    pub(crate) controls: bool,
    /// Whether the controls answer browser pages of another origin.
    pub(crate) cors_controls: bool,
    /// How long a body may take.
    pub(crate) body_timeout: Duration,
    /// The emulator, for the page's overview.
    pub(crate) emulator: Option<Arc<crate::Emulator>>,
}

/// Whether `method` is one of the controls (the emulator's own, or anvil-style).
pub fn is_control(method: &str) -> bool {
    method.starts_with("emulator_") || method.starts_with("anvil_") || method.starts_with("evm_")
}

impl Rules {
    /// Whether the `Host` header (`name[:port]`) names this server.
    fn host_allowed(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => match host.rsplit_once(':') {
                Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
                _ => host,
            },
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        if self.hosts.iter().any(|h| h.eq_ignore_ascii_case(&name)) {
            return true;
        }
        match name.parse::<IpAddr>() {
            Ok(ip) => {
                ip == self.bound
                    || self.bound.is_unspecified()
                    || (ip.is_loopback() && self.bound.is_loopback())
            }
            Err(_) => false,
        }
    }

    /// Why `method` is refused to this request, if it is.
    fn refuse_control(&self, method: &str, cross_origin: bool) -> Option<String> {
        if !is_control(method) {
            return None;
        }
        if !self.controls {
            return Some(format!(
                "`{method}` is a control, and the controls are off on this server: it listens on \
                 {}, not on loopback (start `sesskey serve` with --controls to allow them)",
                self.bound
            ));
        }
        if cross_origin && !self.cors_controls {
            return Some(format!(
                "`{method}` is a control, refused to a page of another origin (start `sesskey \
                 serve` with --cors-controls to allow it)"
            ));
        }
        None
    }
}

/// The guard as a tower layer.
#[derive(Clone, Debug)]
pub(crate) struct GuardLayer(pub(crate) Arc<Rules>);

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Guard { inner, rules: self.0.clone() }
    }
}

/// The guard around the JSON-RPC service `S`.
#[derive(Clone, Debug)]
pub(crate) struct Guard<S> {
    inner: S,
    rules: Arc<Rules>,
}

type Answer = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

impl<S> tower::Service<HttpRequest> for Guard<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        // The ready service handles this request; a clone waits for the next one.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let rules = self.rules.clone();
        Box::pin(async move { Ok(guard(rules, inner, req).await) })
    }
}

fn text(status: StatusCode, body: &'static str) -> HttpResponse {
    let mut r = HttpResponse::new(HttpBody::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

fn json(status: StatusCode, body: String) -> HttpResponse {
    let mut r = HttpResponse::new(HttpBody::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

/// A JSON-RPC error answer (`id` as raw JSON).
fn error_object(id: &str, code: i32, message: &str) -> String {
    let id = serde_json::from_str::<&RawValue>(id).map_or("null", RawValue::get);
    let message = serde_json::Value::from(message);
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message}}}}}"#)
}

/// Whether a browser page of another origin sent the request (`Origin` set, and not the
/// origin of the `Host` it asks).
fn cross_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let host = req.headers().get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let same = origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest.eq_ignore_ascii_case(host));
    !same
}

async fn guard<S>(rules: Arc<Rules>, inner: S, req: HttpRequest) -> HttpResponse
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError> + Clone,
{
    let host = req
        .headers()
        .get(HOST)
        .map(|h| h.to_str().unwrap_or("\u{0}").to_string())
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    if let Some(host) = host {
        if !rules.host_allowed(&host) {
            return text(StatusCode::FORBIDDEN, "invalid host specified\n");
        }
    }
    let cross = cross_origin(&req);
    if req.method() == Method::GET && !req.headers().contains_key(UPGRADE) {
        match req.uri().path() {
            "/" | "/index.html" | "/overview" => {
                return page(&rules, req.uri().path(), cross).await
            }
            _ => {}
        }
    }
    if req.method() != Method::POST {
        if req.headers().contains_key(UPGRADE) && cross && rules.controls && !rules.cors_controls {
            return text(
                StatusCode::FORBIDDEN,
                "WebSocket from another origin refused while the controls are on (start with \
                 --cors-controls to allow it)\n",
            );
        }
        return call(inner, req).await;
    }
    let limit = MAX_REQUEST_BYTES as usize;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let read = http_body_util::Limited::new(body, limit).collect();
    let body = match tokio::time::timeout(rules.body_timeout, read).await {
        Err(_) => {
            return text(StatusCode::REQUEST_TIMEOUT, "the request body took too long to arrive\n")
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Ok(Err(_)) => return text(StatusCode::BAD_REQUEST, "the request body was cut off\n"),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    // The body as read, handed on without a copy.
    let rebuild = |body: Bytes| {
        let mut r = HttpRequest::new(HttpBody::new(http_body_util::Full::new(body)));
        *r.method_mut() = parts.method.clone();
        *r.uri_mut() = parts.uri.clone();
        *r.headers_mut() = parts.headers.clone();
        r.headers_mut().remove(CONTENT_LENGTH);
        *r.extensions_mut() = parts.extensions.clone();
        r
    };
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| body[i]) {
        Some(b'[') => batch(&rules, inner, &body, cross, rebuild).await,
        Some(b'{') => match single(&rules, &body, cross) {
            Single::Pass => call(inner, rebuild(body)).await,
            Single::Notification(with_id) => {
                let answer = call(inner, rebuild(with_id.into())).await;
                if answer.status().is_success() {
                    empty()
                } else {
                    answer
                }
            }
            Single::Refuse(answer) => json(StatusCode::OK, answer),
        },
        // Not JSON-RPC at all: the service answers it (a parse error).
        _ => call(inner, rebuild(body)).await,
    }
}

/// The page, embedded in the binary (no network needed).
const PAGE: &str = include_str!("page.html");

/// `GET /` (the page) and `GET /overview` (what it shows, as JSON), under the controls' rules:
/// they show the emulator's sessions.
async fn page(rules: &Rules, path: &str, cross: bool) -> HttpResponse {
    if !rules.controls {
        return text(
            StatusCode::NOT_FOUND,
            "the page is off with the controls (start `sesskey serve` with --controls, or on loopback)\n",
        );
    }
    if cross && !rules.cors_controls {
        return text(StatusCode::FORBIDDEN, "the page is not served to other origins\n");
    }
    if path != "/overview" {
        let mut r = HttpResponse::new(HttpBody::from(PAGE));
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        return r;
    }
    let Some(emulator) = rules.emulator.clone() else {
        return text(StatusCode::NOT_FOUND, "no overview here\n");
    };
    match tokio::task::spawn_blocking(move || serde_json::to_string(&emulator.overview())).await {
        Ok(Ok(body)) => {
            let mut r = json(StatusCode::OK, body);
            r.headers_mut()
                .insert(hyper::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        _ => jsonrpsee::server::http::response::internal_error(),
    }
}

fn too_large() -> HttpResponse {
    jsonrpsee::server::http::response::too_large(MAX_REQUEST_BYTES)
}

fn empty() -> HttpResponse {
    let mut r = HttpResponse::new(HttpBody::empty());
    *r.status_mut() = StatusCode::OK;
    r
}

async fn call<S>(inner: S, req: HttpRequest) -> HttpResponse
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError> + Clone,
{
    use tower::ServiceExt;
    match inner.oneshot(req).await {
        Ok(r) => r,
        Err(_) => jsonrpsee::server::http::response::internal_error(),
    }
}

/// The part of a request the guard reads.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    /// `Some` whenever the member is there, `null` included (only a missing `id` makes a
    /// notification).
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

enum Single {
    /// Hand it to the service as it is.
    Pass,
    /// A notification, with an id added so that the service runs it.
    Notification(Vec<u8>),
    /// Answered here.
    Refuse(String),
}

/// The id a notification is run under (its answer is dropped).
const NOTIFICATION_ID: &str = "\"notification\"";

fn single(rules: &Rules, body: &[u8], cross: bool) -> Single {
    let Ok(env) = serde_json::from_slice::<Envelope<'_>>(body) else {
        return Single::Pass;
    };
    let id = match env.id {
        None => None,
        Some(raw) => match raw.get().as_bytes().first() {
            // A number must be one the JSON-RPC layer keeps as an id: an integer of 64 bits.
            Some(b'-' | b'0'..=b'9') if raw.get().parse::<u64>().is_err() => {
                return Single::Refuse(error_object(
                    "null",
                    -32600,
                    "Invalid Request: a numeric `id` must be an integer from 0 to 18446744073709551615 (or use a string)",
                ))
            }
            Some(b'"' | b'-' | b'0'..=b'9') | Some(b'n') => Some(raw.get()),
            _ => {
                return Single::Refuse(error_object(
                    "null",
                    -32600,
                    "Invalid Request: `id` must be a string, a number or null",
                ))
            }
        },
    };
    if let Some(method) = env.method.as_deref() {
        if let Some(why) = rules.refuse_control(method, cross) {
            return match id {
                Some(id) => Single::Refuse(error_object(id, -32601, &why)),
                // A refused notification is not answered.
                None => Single::Refuse(String::new()),
            };
        }
    }
    match (id, env.method) {
        (None, Some(_)) => {
            // `{` … → `{"id":"notification",` …
            let open = body.iter().position(|b| *b == b'{').unwrap_or(0);
            let mut with_id = Vec::with_capacity(body.len() + 20);
            with_id.extend_from_slice(&body[..=open]);
            with_id.extend_from_slice(b"\"id\":");
            with_id.extend_from_slice(NOTIFICATION_ID.as_bytes());
            with_id.push(b',');
            with_id.extend_from_slice(&body[open + 1..]);
            Single::Notification(with_id)
        }
        _ => Single::Pass,
    }
}

/// A batch, entry by entry: each is guarded as a single request and handed to the service on
/// its own; the answers (notifications' left out) are joined in order.
async fn batch<S>(
    rules: &Rules,
    inner: S,
    body: &[u8],
    cross: bool,
    rebuild: impl Fn(Bytes) -> HttpRequest,
) -> HttpResponse
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError> + Clone,
{
    let Ok(entries) = serde_json::from_slice::<Vec<&RawValue>>(body) else {
        return call(inner, rebuild(Bytes::copy_from_slice(body))).await;
    };
    if entries.is_empty() {
        return json(StatusCode::OK, error_object("null", -32600, "Invalid Request: empty batch"));
    }
    if entries.len() > MAX_BATCH {
        return json(
            StatusCode::OK,
            error_object(
                "null",
                -32600,
                &format!(
                    "Invalid Request: a batch of {} requests; at most {MAX_BATCH}",
                    entries.len()
                ),
            ),
        );
    }
    let mut answers: Vec<String> = vec![];
    let mut size = 0usize;
    for entry in entries {
        if size > MAX_BATCH_ANSWER_BYTES {
            return json(
                StatusCode::OK,
                error_object(
                    "null",
                    -32600,
                    &format!("Invalid Request: the batch's answers exceed {MAX_BATCH_ANSWER_BYTES} bytes; send fewer requests at once"),
                ),
            );
        }
        let raw = entry.get().as_bytes();
        let (req, keep) = match single(rules, raw, cross) {
            Single::Refuse(answer) => {
                if !answer.is_empty() {
                    answers.push(answer);
                }
                continue;
            }
            Single::Pass if raw.first() == Some(&b'{') => (Bytes::copy_from_slice(raw), true),
            Single::Pass => {
                answers.push(error_object("null", -32600, "Invalid Request"));
                continue;
            }
            Single::Notification(with_id) => (with_id.into(), false),
        };
        let answer = call(inner.clone(), rebuild(req)).await;
        if !keep {
            continue;
        }
        let status = answer.status();
        match answer.into_body().collect().await {
            Ok(b) if status.is_success() => {
                let text = String::from_utf8_lossy(&b.to_bytes()).into_owned();
                size = size.saturating_add(text.len());
                answers.push(text);
            }
            _ => answers.push(error_object("null", -32603, "Internal error")),
        }
    }
    if answers.is_empty() {
        return empty();
    }
    json(StatusCode::OK, format!("[{}]", answers.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(bound: &str) -> Rules {
        Rules {
            bound: bound.parse().unwrap(),
            hosts: vec!["devbox".into()],
            controls: true,
            cors_controls: false,
            body_timeout: BODY_TIMEOUT,
            emulator: None,
        }
    }

    #[test]
    fn hosts() {
        let loopback = rules("127.0.0.1");
        for ok in [
            "localhost",
            "localhost:8545",
            "127.0.0.1:8545",
            "[::1]:8545",
            "DevBox:1",
            "a.localhost",
        ] {
            assert!(loopback.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example", "evil.example:8545", "10.0.0.2:8545", "localhost.evil", ""] {
            assert!(!loopback.host_allowed(bad), "{bad}");
        }
        let any = rules("0.0.0.0");
        assert!(any.host_allowed("10.0.0.2:8545"));
        assert!(any.host_allowed("[fe80::1]:8545"));
        assert!(!any.host_allowed("rebound.example:8545"));
        let one = rules("10.0.0.2");
        assert!(one.host_allowed("10.0.0.2:8545"));
        assert!(!one.host_allowed("10.0.0.3:8545"));
    }

    #[test]
    fn envelopes() {
        let r = rules("127.0.0.1");
        let refuse = |body: &str| match single(&r, body.as_bytes(), false) {
            Single::Refuse(a) => a,
            _ => panic!("{body} passed"),
        };
        assert!(refuse(r#"{"jsonrpc":"2.0","id":{},"method":"eth_chainId"}"#).contains("-32600"));
        assert!(refuse(r#"{"jsonrpc":"2.0","id":[1],"method":"eth_chainId"}"#).contains("-32600"));
        assert!(refuse(r#"{"jsonrpc":"2.0","id":true,"method":"eth_chainId"}"#).contains("-32600"));
        for ok in [
            r#"{"id":1,"method":"eth_chainId"}"#,
            r#"{"id":"a","method":"x"}"#,
            r#"{"id":null,"method":"x"}"#,
        ] {
            assert!(matches!(single(&r, ok.as_bytes(), false), Single::Pass), "{ok}");
        }
        let Single::Notification(with_id) =
            single(&r, br#" {"jsonrpc":"2.0","method":"evm_mine"}"#, false)
        else {
            panic!("not a notification")
        };
        let v: serde_json::Value = serde_json::from_slice(&with_id).unwrap();
        assert_eq!(v["id"], "notification");
        assert_eq!(v["method"], "evm_mine");
        // Controls: refused to a page of another origin, and everywhere when off.
        let set_time = br#"{"id":7,"method":"emulator_setTime","params":[1]}"#;
        assert!(matches!(single(&r, set_time, false), Single::Pass));
        let Single::Refuse(a) = single(&r, set_time, true) else { panic!("cross-origin passed") };
        assert!(
            a.contains("-32601") && a.contains("--cors-controls") && a.contains("\"id\":7"),
            "{a}"
        );
        let off = Rules { controls: false, ..rules("0.0.0.0") };
        let Single::Refuse(a) = single(&off, set_time, false) else {
            panic!("controls off passed")
        };
        assert!(a.contains("-32601") && a.contains("--controls"), "{a}");
        assert!(matches!(single(&off, br#"{"id":1,"method":"eth_chainId"}"#, false), Single::Pass));
        let cors = Rules { cors_controls: true, ..rules("127.0.0.1") };
        assert!(matches!(single(&cors, set_time, true), Single::Pass));
    }
}

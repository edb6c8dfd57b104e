//! Every call in the log: at `debug` its method and outcome, at `trace` its params and answer
//! with signatures and secret members redacted ([`sesskey_rpc::redact`]). Target
//! `sesskey_emulator::rpc`.

use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::server::MethodResponse;
use jsonrpsee::types::Request;
use sesskey_rpc::redact::redact_json;
use std::future::Future;

const TARGET: &str = "sesskey_emulator::rpc";

/// The logging layer around the server's method calls.
#[derive(Clone, Debug)]
pub(crate) struct BodyLog<S>(pub(crate) S);

impl<S> RpcServiceT for BodyLog<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let service = self.0.clone();
        // Nothing is copied or redacted unless someone listens.
        let method = tracing::enabled!(target: TARGET, tracing::Level::DEBUG)
            .then(|| request.method_name().to_string());
        let bodies = method.is_some() && tracing::enabled!(target: TARGET, tracing::Level::TRACE);
        if let (true, Some(method)) = (bodies, &method) {
            let params = request.params().as_str().map(redact_json).unwrap_or_default();
            tracing::trace!(target: TARGET, %method, %params, "request");
        }
        async move {
            let rp = service.call(request).await;
            if let Some(method) = method {
                match rp.as_error_code() {
                    Some(code) => tracing::debug!(target: TARGET, %method, code, "refused"),
                    None => tracing::debug!(target: TARGET, %method, "answered"),
                }
                if bodies {
                    let answer = redact_json(rp.as_json().get());
                    tracing::trace!(target: TARGET, %method, %answer, "answer");
                }
            }
            rp
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.0.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.0.notification(n)
    }
}

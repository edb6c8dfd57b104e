//! The crate's error type.

use sesskey_account::Violation;

/// Errors of the orchestrator. Whenever one is returned, nothing was signed after the step that
/// failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server refused, or the transport failed.
    #[error(transparent)]
    Rpc(#[from] sesskey_rpc::Error),
    /// A digest did not match, a signer failed, or a signature is invalid.
    #[error(transparent)]
    Signing(#[from] sesskey_signing::Error),
    /// An account encoding could not be decoded.
    #[error(transparent)]
    Account(#[from] sesskey_account::Error),
    /// The calls do not fit the session; nothing was sent.
    #[error("pre-flight: {0}")]
    Preflight(Violation),
    /// The server's answer differs from what was asked: nothing was signed.
    #[error("the server's answer differs from the request at `{field}`: expected {expected}, got {found}; refusing to sign")]
    Mismatch {
        /// Which field.
        field: &'static str,
        /// What was asked.
        expected: String,
        /// What the server answered.
        found: String,
    },
    /// A session key could not be stored or opened (a missing or unreadable file, a wrong
    /// password, a file others may read).
    #[error("session key: {0}")]
    Key(String),
    /// The orchestrator's settings cannot serve this request: nothing was sent.
    #[error("{0}")]
    Unsupported(String),
    /// The server answered with a shape this step does not expect.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// A read of the chain before signing (its id, an account's nonce or code) failed or
    /// answered for another chain: nothing was signed.
    #[error("reading the chain: {0}")]
    ChainRead(String),
    /// A session of this id is already stored: nothing was signed or overwritten.
    #[error("session {0} already exists in the store; refusing to sign or overwrite it")]
    Exists(String),
    /// The store holds no pending request of this id.
    #[error("session store: no pending request {0}")]
    UnknownPending(String),
    /// The store holds no session of this id.
    #[error("session store: no session {0}")]
    UnknownSession(String),
    /// The session store failed (a file could not be read, written or parsed).
    #[error("session store: {0}")]
    Store(String),
    /// The session was revoked: nothing more is sent on it.
    #[error("session {0} was revoked")]
    Revoked(String),
    /// Stopped (a Ctrl-C, a SIGTERM) before anything was signed: what the call had reserved
    /// and leased was given back.
    #[error("interrupted before anything was signed; nothing was sent")]
    Interrupted,
    /// No final status within the timeout.
    #[error("call {call_id} has no final status after {waited_ms} ms")]
    Timeout {
        /// The call id.
        call_id: String,
        /// How long it waited.
        waited_ms: u128,
    },
}

impl From<Violation> for Error {
    fn from(v: Violation) -> Self {
        // Not a `source`: the message already says it, and chains would print it twice.
        Self::Preflight(v)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn mismatch(
    field: &'static str,
    expected: impl std::fmt::Display,
    found: impl std::fmt::Display,
) -> Error {
    Error::Mismatch { field, expected: expected.to_string(), found: found.to_string() }
}

//! The crate's error type.

use crate::permission::PermissionError;

/// Errors of the wire-types layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A JSON document did not match the wire shape; `path` names the field (`.` for the root).
    #[error("invalid `{path}`: {message}")]
    Json {
        /// Where in the document the problem is, e.g. `calls[0].value`.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A permission set breaks a rule of the Wallet API.
    #[error(transparent)]
    Permission(#[from] PermissionError),
    /// A permissions capability could not be decoded.
    #[error(transparent)]
    Context(#[from] crate::context::ContextError),
    /// A method name (or part) that is not one of the Wallet API's.
    #[error("unknown Wallet API method {0}")]
    UnknownMethod(String),
    /// `wallet_createSession.expirySec` is outside `0..=9999999999`.
    #[error("invalid `expirySec`: {0} is above the maximum 9999999999")]
    ExpiryOutOfRange(u64),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The Wallet API's error codes, in one table, both ways (spec §6).
//!
//! [`WalletError`] is what the server refuses with; `From<WalletError> for ErrorObjectOwned`
//! gives the exact code and message the emulator answers, and [`WalletError::from_error_object`]
//! reads an answer back into the same variant on the client.

use alloy_primitives::Bytes;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use std::fmt;

/// JSON-RPC "invalid request"; Alchemy uses it for refused sponsorship.
pub const INVALID_REQUEST_CODE: i32 = -32600;
/// JSON-RPC "method not found".
pub const METHOD_NOT_FOUND_CODE: i32 = -32601;
/// JSON-RPC "invalid params": schema errors, `replacement underpriced`, `EIP-7702 not enabled`.
pub const INVALID_PARAMS_CODE: i32 = -32602;
/// JSON-RPC "internal error".
pub const INTERNAL_ERROR_CODE: i32 = -32603;
/// Server errors: prechecks, stale fees, oversized ops, EIP-7702 authorization problems.
pub const SERVER_ERROR_CODE: i32 = -32000;
/// `validation reverted: …: AAxx …` (ERC-4337 validation failed, e.g. AA25 for a bad nonce).
pub const VALIDATION_REVERTED_CODE: i32 = -32500;
/// `invalid account signature`.
pub const INVALID_SIGNATURE_CODE: i32 = -32507;
/// `execution reverted` (the calls revert in simulation).
pub const EXECUTION_REVERTED_CODE: i32 = -32521;
/// EIP-5792 "unknown bundle id" for `wallet_getCallsStatus`.
pub const UNKNOWN_BUNDLE_ID_CODE: i32 = 5730;

/// What a caller should do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Try the same request again later (rate limits, server trouble).
    Retryable,
    /// The request is wrong: fix it before sending it again.
    FixRequest,
    /// Fees went stale or a nonce moved: prepare the calls again.
    Reprepare,
    /// A signature was refused.
    SignatureRejected,
    /// The paymaster policy refused to sponsor.
    SponsorshipRefused,
    /// The call id is not known.
    UnknownCallId,
    /// The calls revert.
    Reverted,
}

/// A refusal of the Wallet API, with the code and message Alchemy's server uses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// -32602: a param is malformed (the message names it).
    #[error("{0}")]
    InvalidParams(String),
    /// -32602 `replacement underpriced`: an op from the same sender is pending.
    #[error("replacement underpriced")]
    ReplacementUnderpriced,
    /// -32602 `EIP-7702 not enabled`.
    #[error("EIP-7702 not enabled")]
    Eip7702NotEnabled,
    /// -32601: no such method.
    #[error("the method {0} does not exist/is not available")]
    MethodNotFound(String),
    /// -32521: the calls revert (the decoded revert reason, or `execution reverted`).
    #[error("{message}")]
    ExecutionReverted {
        /// The readable reason.
        message: String,
        /// The raw revert bytes (`error.data`), when known.
        data: Option<Bytes>,
    },
    /// -32500 `validation reverted: [reason]: AAxx …`.
    #[error("validation reverted: [{reason}]: {aa}")]
    ValidationReverted {
        /// The account's reason.
        reason: String,
        /// The EntryPoint code and text, e.g. `AA25 invalid account nonce`.
        aa: String,
        /// The ABI-encoded error the contract reverts with (`error.data`), when there is one.
        data: Option<Bytes>,
    },
    /// -32600 `Sponsorship failed: …`.
    #[error("Sponsorship failed: {0}")]
    SponsorshipFailed(String),
    /// -32507 `invalid account signature`.
    #[error("invalid account signature")]
    InvalidAccountSignature,
    /// -32000 `precheck failed: …`.
    #[error("precheck failed: {0}")]
    PrecheckFailed(String),
    /// -32000 `maxFeePerGas too low` and the like: prepare again.
    #[error("{0}")]
    FeeTooLow(String),
    /// -32000 `total gas limit too high`.
    #[error("total gas limit too high")]
    GasLimitTooHigh,
    /// -32000 `EIP-7702 authorization signature is invalid`.
    #[error("EIP-7702 authorization signature is invalid")]
    Eip7702AuthInvalid,
    /// -32000 `EIP-7702 nonce mismatch`.
    #[error("EIP-7702 nonce mismatch")]
    Eip7702NonceMismatch,
    /// 5730: `wallet_getCallsStatus` with an unknown call id.
    #[error("unknown bundle id")]
    UnknownCallId,
    /// -32603: the server failed.
    #[error("{0}")]
    Internal(String),
    /// Any other code, kept as received.
    #[error("{message} (code {code})")]
    Other {
        /// The code.
        code: i32,
        /// The message.
        message: String,
    },
}

impl WalletError {
    /// The JSON-RPC code of this error.
    pub const fn code(&self) -> i32 {
        match self {
            Self::InvalidParams(_) | Self::ReplacementUnderpriced | Self::Eip7702NotEnabled => {
                INVALID_PARAMS_CODE
            }
            Self::MethodNotFound(_) => METHOD_NOT_FOUND_CODE,
            Self::ExecutionReverted { .. } => EXECUTION_REVERTED_CODE,
            Self::ValidationReverted { .. } => VALIDATION_REVERTED_CODE,
            Self::SponsorshipFailed(_) => INVALID_REQUEST_CODE,
            Self::InvalidAccountSignature => INVALID_SIGNATURE_CODE,
            Self::PrecheckFailed(_)
            | Self::FeeTooLow(_)
            | Self::GasLimitTooHigh
            | Self::Eip7702AuthInvalid
            | Self::Eip7702NonceMismatch => SERVER_ERROR_CODE,
            Self::UnknownCallId => UNKNOWN_BUNDLE_ID_CODE,
            Self::Internal(_) => INTERNAL_ERROR_CODE,
            Self::Other { code, .. } => *code,
        }
    }

    /// What the caller should do.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidParams(_)
            | Self::Eip7702NotEnabled
            | Self::MethodNotFound(_)
            | Self::GasLimitTooHigh
            | Self::PrecheckFailed(_) => ErrorKind::FixRequest,
            Self::ReplacementUnderpriced | Self::FeeTooLow(_) | Self::Eip7702NonceMismatch => {
                ErrorKind::Reprepare
            }
            Self::ValidationReverted { aa, .. } if aa.starts_with("AA25") => ErrorKind::Reprepare,
            Self::ValidationReverted { .. } | Self::ExecutionReverted { .. } => ErrorKind::Reverted,
            Self::SponsorshipFailed(_) => ErrorKind::SponsorshipRefused,
            Self::InvalidAccountSignature | Self::Eip7702AuthInvalid => {
                ErrorKind::SignatureRejected
            }
            Self::UnknownCallId => ErrorKind::UnknownCallId,
            Self::Internal(_) => ErrorKind::Retryable,
            Self::Other { code, .. } if (-32099..=-32000).contains(code) => ErrorKind::Retryable,
            Self::Other { .. } => ErrorKind::FixRequest,
        }
    }

    /// The EntryPoint `AAxx` code of a validation failure, e.g. `AA25`.
    pub fn entry_point_code(&self) -> Option<&str> {
        match self {
            Self::ValidationReverted { aa, .. } => aa_code(aa),
            _ => None,
        }
    }

    /// The raw revert data (`error.data`) of a revert, if the server gave it.
    pub const fn revert_data(&self) -> Option<&Bytes> {
        match self {
            Self::ExecutionReverted { data, .. } | Self::ValidationReverted { data, .. } => {
                data.as_ref()
            }
            _ => None,
        }
    }

    /// Reads a JSON-RPC error, with its `data` when it is hex bytes, back into its variant.
    pub fn from_error_object_with_data(code: i32, message: &str, data: Option<Bytes>) -> Self {
        match Self::from_error_object(code, message) {
            Self::ExecutionReverted { message, .. } => Self::ExecutionReverted { message, data },
            Self::ValidationReverted { reason, aa, .. } => {
                Self::ValidationReverted { reason, aa, data }
            }
            other => other,
        }
    }

    /// Reads a JSON-RPC error back into the variant that produces it.
    pub fn from_error_object(code: i32, message: &str) -> Self {
        let m = message.to_string();
        match code {
            INVALID_PARAMS_CODE if message == "replacement underpriced" => {
                Self::ReplacementUnderpriced
            }
            INVALID_PARAMS_CODE if message == "EIP-7702 not enabled" => Self::Eip7702NotEnabled,
            INVALID_PARAMS_CODE => Self::InvalidParams(m),
            METHOD_NOT_FOUND_CODE => Self::MethodNotFound(
                message
                    .strip_prefix("the method ")
                    .and_then(|s| s.strip_suffix(" does not exist/is not available"))
                    .unwrap_or(message)
                    .to_string(),
            ),
            EXECUTION_REVERTED_CODE => Self::ExecutionReverted { message: m, data: None },
            VALIDATION_REVERTED_CODE => match parse_validation_reverted(message) {
                Some((reason, aa)) => Self::ValidationReverted { reason, aa, data: None },
                None => Self::Other { code, message: m },
            },
            INVALID_REQUEST_CODE => match message.strip_prefix("Sponsorship failed: ") {
                Some(rest) => Self::SponsorshipFailed(rest.to_string()),
                None => Self::Other { code, message: m },
            },
            INVALID_SIGNATURE_CODE => Self::InvalidAccountSignature,
            SERVER_ERROR_CODE => match message {
                "total gas limit too high" => Self::GasLimitTooHigh,
                "EIP-7702 authorization signature is invalid" => Self::Eip7702AuthInvalid,
                "EIP-7702 nonce mismatch" => Self::Eip7702NonceMismatch,
                m if m.ends_with(" too low") => Self::FeeTooLow(m.to_string()),
                m => match m.strip_prefix("precheck failed: ") {
                    Some(rest) => Self::PrecheckFailed(rest.to_string()),
                    None => Self::Other { code, message: m.to_string() },
                },
            },
            UNKNOWN_BUNDLE_ID_CODE => Self::UnknownCallId,
            INTERNAL_ERROR_CODE => Self::Internal(m),
            _ => Self::Other { code, message: m },
        }
    }
}

/// `validation reverted: [reason]: AAxx text` → (reason, `AAxx text`).
fn parse_validation_reverted(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("validation reverted: ")?;
    let (reason, aa) = match rest.strip_prefix('[') {
        Some(r) => {
            let end = r.rfind("]: ")?;
            (r[..end].to_string(), r[end + 3..].to_string())
        }
        None => {
            let i = rest.find("AA")?;
            (rest[..i].trim_end_matches(": ").to_string(), rest[i..].to_string())
        }
    };
    aa_code(&aa)?;
    Some((reason, aa))
}

/// The `AAxx` code at the start of `text`.
fn aa_code(text: &str) -> Option<&str> {
    let code = text.get(..4)?;
    (code.starts_with("AA") && code[2..].bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// Pulls the EntryPoint `AAxx` code out of any `validation reverted` message.
pub fn entry_point_code(message: &str) -> Option<&str> {
    let i = message.find("AA")?;
    aa_code(&message[i..])
}

impl From<WalletError> for ErrorObjectOwned {
    fn from(e: WalletError) -> Self {
        let data = e.revert_data().cloned();
        ErrorObject::owned(e.code(), e.to_string(), data)
    }
}

/// Errors of the RPC layer: the transport failed, or the server answered with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server refused the request.
    #[error(transparent)]
    Rpc(#[from] WalletError),
    /// The request never got an answer: connection refused, reset, TLS, HTTP status.
    #[error("transport error: {0}")]
    Transport(String),
    /// No answer within the request timeout.
    #[error("request timed out")]
    Timeout,
    /// The answer is not what the method returns.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// The client could not be built (bad URL, bad header).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl Error {
    /// What the caller should do about this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Rpc(source) => source.kind(),
            Self::Transport(_) | Self::Timeout => ErrorKind::Retryable,
            Self::InvalidResponse(_) | Self::Config(_) => ErrorKind::FixRequest,
        }
    }

    /// The server's refusal, if this is one.
    pub fn wallet_error(&self) -> Option<&WalletError> {
        match self {
            Self::Rpc(source) => Some(source),
            _ => None,
        }
    }
}

impl From<jsonrpsee::core::ClientError> for Error {
    fn from(e: jsonrpsee::core::ClientError) -> Self {
        use jsonrpsee::core::ClientError as C;
        match e {
            C::Call(obj) => {
                let data = obj.data().and_then(|d| serde_json::from_str::<Bytes>(d.get()).ok());
                Self::Rpc(WalletError::from_error_object_with_data(obj.code(), obj.message(), data))
            }
            C::RequestTimeout => Self::Timeout,
            C::ParseError(e) => Self::InvalidResponse(e.to_string()),
            C::Transport(e) => Self::Transport(e.to_string()),
            other => Self::Transport(other.to_string()),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod client;
mod emulator;
mod error;
mod eth;
pub mod redact;
mod retry;
mod wallet;

pub use client::{
    shown_url, WalletClient, WalletClientBuilder, ALCHEMY_URL, DEFAULT_TIMEOUT, USER_AGENT,
};
#[cfg(feature = "server")]
pub use emulator::EmulatorApiServer;
pub use emulator::{EmulatorApiClient, SessionInfo};
pub use error::{
    entry_point_code, Error, ErrorKind, Result, WalletError, EXECUTION_REVERTED_CODE,
    INTERNAL_ERROR_CODE, INVALID_PARAMS_CODE, INVALID_REQUEST_CODE, INVALID_SIGNATURE_CODE,
    METHOD_NOT_FOUND_CODE, SERVER_ERROR_CODE, UNKNOWN_BUNDLE_ID_CODE, VALIDATION_REVERTED_CODE,
};
pub use eth::{CallRequest, EthApiClient};
pub use retry::{is_idempotent, RetryLayer, RetryPolicy, RetryService};
pub use wallet::WalletApiClient;
#[cfg(feature = "server")]
pub use wallet::WalletApiServer;

#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod chain;
mod clock;
mod emulator;
mod error;
mod server;
mod state;
mod store;
mod table;
mod wallet;

pub use chain::{
    describe_revert, ensure_tls_provider, shown_url, EthError, ForkConfig, CALL_TIME_CAP,
    ESTIMATE_TIME_CAP, MAX_LOG_RANGE, MAX_UPSTREAM_ANSWER, UPSTREAM_TIMEOUT,
};
pub use clock::{uuid_v4, Clock, Ids, TimeError};
pub use emulator::Emulator;
pub use error::{Error, Result};
pub use server::{
    is_control, serve, wallet_module, Controls, Running, BODY_TIMEOUT, MAX_BATCH,
    MAX_BATCH_ANSWER_BYTES, MAX_IN_FLIGHT, MAX_REQUEST_BYTES,
};
pub use store::DATA_FILE;
pub use wallet::overview::{
    AccountView, CallView, Overview, OVERVIEW_ACCOUNTS, OVERVIEW_CALLS, OVERVIEW_DATA_BYTES,
    OVERVIEW_ITEMS, OVERVIEW_REQUEST_SECS, OVERVIEW_SESSIONS,
};
pub use wallet::{
    Config, GasToken, BUNDLER, EMULATOR_PAYMASTER, MAX_CALLS, MAX_CHAIN_IDS, MAX_PERMISSIONS,
    MAX_SIGNED_ELEMENTS, MAX_SNAPSHOTS, USER_OPERATION_EVENT,
};

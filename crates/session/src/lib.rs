#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod deploy;
mod error;
mod fees;
#[cfg(feature = "keystore")]
mod keys;
mod orchestrator;
mod paymaster;
mod pending;
mod service;
mod session;
mod store;
mod token_gas;

pub use deploy::{check_sma_b_deployment, Account};
pub use error::{Error, Result};
pub use fees::{max_gas_cost, FeeCaps};
#[cfg(feature = "keystore")]
pub use keys::{check_private, make_private_dir, KeySource, LocalKeys};
pub use orchestrator::{Orchestrator, Outcome, PreparedSessionOp, ProgressFn, SentCalls};
pub use paymaster::{
    alchemy_paymasters, GAS_MANAGER_V07_MAINNET, GAS_MANAGER_V07_TESTNET, WALLET_API_PAYMASTER,
};
pub use pending::PendingSession;
pub use service::{SessionService, StoredCall, DEFAULT_LEASE_SECS};
pub use session::Session;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use store::SqlStore;
pub use store::{
    CallStart, JsonFolder, KeyLocation, MemoryStore, NonceLease, Reservation, SentCall,
    SessionStore, StoredPending, StoredSession,
};
pub use token_gas::{TokenGas, TokenGasMode};

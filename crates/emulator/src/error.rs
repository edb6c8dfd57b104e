//! The emulator's own errors: starting it, its data folder, its fork. A refused Wallet API call
//! is a [`sesskey_rpc::WalletError`], and a refused chain call an [`crate::EthError`].

use std::path::PathBuf;

/// Why the emulator could not start or keep its state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data file exists but cannot be read as an emulator database: it is empty, truncated,
    /// corrupt, or from another program. Nothing was changed.
    #[error("the data file {path} is damaged ({reason}); move it away to start afresh, or restore a backup")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file-system error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The database refused a read or a write.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The upstream node of a fork could not be reached or answered wrongly.
    #[error("fork: {0}")]
    Fork(String),
    /// The configuration cannot be served.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

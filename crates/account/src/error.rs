//! The crate's error type.

use sesskey_types::PermissionError;

/// Errors of the ModularAccountV2 encodings.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The permission set breaks a rule.
    #[error(transparent)]
    Permission(#[from] PermissionError),
    /// An entity id outside `1..=2^31-2` (0 is the owner's; the top ids are hook offsets).
    #[error("entity id {0} is invalid: it must be between 1 and 2147483646")]
    EntityId(u32),
    /// A deadline above `uint48`.
    #[error("deadline {0} does not fit in uint48")]
    Deadline(u64),
    /// A deadline already past.
    #[error("deadline {deadline} is already past (now {now})")]
    Expired {
        /// The deadline.
        deadline: u64,
        /// The time of the check.
        now: u64,
    },
    /// Bytes that do not decode as the expected structure.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

impl Error {
    pub(crate) fn decode(what: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Decode { what, reason: reason.to_string() }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The crate's error type.

use alloy_primitives::{Address, Bytes, B256};

/// Errors of digests, checks, signing and recovery.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server's `rawPayload` is not the digest of the request's `data`: nothing was signed.
    #[error("rawPayload {claimed} does not match the digest {recomputed} of the request data; refusing to sign")]
    DigestMismatch {
        /// The digest recomputed from `data`.
        recomputed: B256,
        /// The `rawPayload` the server sent.
        claimed: B256,
    },
    /// A user operation's `personal_sign` data is not the hash of the operation: nothing was signed.
    #[error("the request asks to sign {claimed}, but the user operation hashes to {recomputed}; refusing to sign")]
    UserOpHashMismatch {
        /// The hash recomputed from the operation.
        recomputed: B256,
        /// The bytes the request asks to sign.
        claimed: Bytes,
    },
    /// The request is not of the kind this item needs.
    #[error("expected a {expected} signature request, got {found}")]
    UnexpectedRequest {
        /// The kind needed.
        expected: &'static str,
        /// The kind found.
        found: &'static str,
    },
    /// A prepared call carries no signature request (e.g. `onlyEstimation`).
    #[error("the prepared call has no signature request")]
    MissingSignatureRequest,
    /// An `eip7702Auth` request was given without its authorization tuple.
    #[error("an eip7702Auth request needs its authorization tuple (address, nonce, chain id)")]
    MissingAuthorization,
    /// The typed data cannot be hashed.
    #[error("invalid typed data: {0}")]
    TypedData(String),
    /// A signature is not 65 bytes.
    #[error("invalid signature: expected 65 bytes, got {0}")]
    SignatureLength(usize),
    /// A signature's `v` or `yParity` is not 0, 1, 27 or 28.
    #[error("invalid signature: v = {0} (expected 0, 1, 27 or 28)")]
    InvalidV(u64),
    /// `r` or `s` is zero or not below the curve order.
    #[error("invalid signature: r or s out of range")]
    ScalarOutOfRange,
    /// `s` is in the upper half of the curve order (a malleable signature).
    #[error("invalid signature: high s (malleable); use the low-s form")]
    HighS,
    /// No public key recovers from the signature.
    #[error("invalid signature: no key recovers from it")]
    Unrecoverable,
    /// The signature is valid, but by another key.
    #[error("signature by {recovered}, expected {expected}")]
    WrongSigner {
        /// Who should have signed.
        expected: Address,
        /// Who did.
        recovered: Address,
    },
    /// The signer failed.
    #[error(transparent)]
    Signer(#[from] alloy_signer::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The `permissions` capability in its two wire forms.

use crate::hex::wire;
use alloy_primitives::{Bytes, FixedBytes};
use serde::{Deserialize, Serialize};

/// A session id: 16 bytes (`SESSION_ID_LENGTH_BYTES` of Alchemy's types).
pub type SessionId = FixedBytes<16>;

/// The first byte of a remote-mode context: the session lives on the server, behind its id.
pub const REMOTE_MODE_DEFERRED_ACTION: u8 = 0x00;
/// The first byte of a local-mode context (a full deferred-action blob); sesskey does not use it.
pub const LOCAL_MODE_DEFERRED_ACTION: u8 = 0x01;
/// The first byte of a non-deferred context (key already installed); sesskey does not use it.
pub const NON_DEFERRED_ACTION: u8 = 0x02;

/// Errors decoding a permissions capability.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// The context is empty.
    #[error("invalid permissions context: empty")]
    Empty,
    /// The context uses a mode other than remote (`0x00`).
    #[error("unsupported permissions context mode 0x{0:02x}: only remote mode 0x00 is supported")]
    UnsupportedMode(u8),
    /// The context or signature has the wrong length.
    #[error("invalid permissions {what}: expected {expected} bytes, got {actual}")]
    Length {
        /// Which part: "context" or "signature".
        what: &'static str,
        /// The expected length.
        expected: usize,
        /// The actual length.
        actual: usize,
    },
}

/// `capabilities.permissions` of `wallet_prepareCalls` and `wallet_sendPreparedCalls`:
/// `{context}` or `{sessionId, signature}`, carrying the same data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PermissionsCapability {
    /// `{sessionId, signature}`: the session id and the owner's 65-byte signature.
    #[serde(rename_all = "camelCase")]
    Session {
        /// The session id from `wallet_createSession`.
        #[serde(with = "wire")]
        session_id: SessionId,
        /// The owner's signature of the session's `DeferredAction`.
        #[serde(with = "wire")]
        signature: Bytes,
    },
    /// `{context}` = `0x00 ‖ sessionId(16) ‖ signature(65)`.
    Context {
        /// The encoded context.
        #[serde(with = "wire")]
        context: Bytes,
    },
}

/// A decoded remote-mode session reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRef {
    /// The session id.
    pub session_id: SessionId,
    /// The owner's 65-byte signature.
    pub signature: FixedBytes<65>,
}

impl SessionRef {
    /// Encodes the `context` form: `0x00 ‖ sessionId ‖ signature`.
    pub fn to_context(&self) -> Bytes {
        let mut out = Vec::with_capacity(82);
        out.push(REMOTE_MODE_DEFERRED_ACTION);
        out.extend_from_slice(self.session_id.as_slice());
        out.extend_from_slice(self.signature.as_slice());
        out.into()
    }

    /// Decodes the `context` form.
    pub fn from_context(context: &[u8]) -> Result<Self, ContextError> {
        let (&mode, rest) = context.split_first().ok_or(ContextError::Empty)?;
        if mode != REMOTE_MODE_DEFERRED_ACTION {
            return Err(ContextError::UnsupportedMode(mode));
        }
        if rest.len() != 16 + 65 {
            return Err(ContextError::Length {
                what: "context",
                expected: 82,
                actual: context.len(),
            });
        }
        Ok(Self {
            session_id: SessionId::from_slice(&rest[..16]),
            signature: FixedBytes::from_slice(&rest[16..]),
        })
    }
}

impl PermissionsCapability {
    /// Decodes either form into the session id and owner signature.
    ///
    /// ```
    /// use sesskey_types::{PermissionsCapability, SessionRef};
    ///
    /// let session = SessionRef { session_id: [7u8; 16].into(), signature: [1u8; 65].into() };
    /// let context = PermissionsCapability::Context { context: session.to_context() };
    /// assert_eq!(context.session_ref()?, session);
    /// assert_eq!(PermissionsCapability::from(&session).session_ref()?, session);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn session_ref(&self) -> Result<SessionRef, ContextError> {
        match self {
            Self::Context { context } => SessionRef::from_context(context),
            Self::Session { session_id, signature } => {
                if signature.len() != 65 {
                    return Err(ContextError::Length {
                        what: "signature",
                        expected: 65,
                        actual: signature.len(),
                    });
                }
                Ok(SessionRef {
                    session_id: *session_id,
                    signature: FixedBytes::from_slice(signature),
                })
            }
        }
    }

    /// The `context` form of the same data.
    pub fn to_context_form(&self) -> Result<Self, ContextError> {
        Ok(Self::Context { context: self.session_ref()?.to_context() })
    }
}

impl From<&SessionRef> for PermissionsCapability {
    /// The `{sessionId, signature}` form.
    fn from(s: &SessionRef) -> Self {
        Self::Session {
            session_id: s.session_id,
            signature: Bytes::copy_from_slice(&s.signature[..]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_contexts_are_refused() {
        assert_eq!(SessionRef::from_context(&[]), Err(ContextError::Empty));
        assert_eq!(SessionRef::from_context(&[1; 82]), Err(ContextError::UnsupportedMode(1)));
        assert_eq!(
            SessionRef::from_context(&[0; 81]),
            Err(ContextError::Length { what: "context", expected: 82, actual: 81 })
        );
        assert_eq!(
            SessionRef::from_context(&[0; 83]),
            Err(ContextError::Length { what: "context", expected: 82, actual: 83 })
        );
        let short = PermissionsCapability::Session {
            session_id: SessionId::ZERO,
            signature: Bytes::from(vec![0; 64]),
        };
        assert_eq!(
            short.session_ref(),
            Err(ContextError::Length { what: "signature", expected: 65, actual: 64 })
        );
    }

    #[test]
    fn both_forms_parse() {
        let s: PermissionsCapability = serde_json::from_str(
            r#"{"sessionId":"0xcd8b2d07a6fa76f1e8a5eaa8f3a7883c","signature":"0x00"}"#,
        )
        .unwrap();
        assert!(matches!(s, PermissionsCapability::Session { .. }));
        let c: PermissionsCapability = serde_json::from_str(r#"{"context":"0x00"}"#).unwrap();
        assert!(matches!(c, PermissionsCapability::Context { .. }));
        assert!(serde_json::from_str::<PermissionsCapability>(r#"{"sessionId":"0x00"}"#).is_err());
    }
}

//! An authorized session, as a value: serializable, versioned, both capability forms.

use alloy_primitives::{Address, FixedBytes, U64};
use serde::{Deserialize, Serialize};
use sesskey_account::Policy;
use sesskey_types::{Permission, PermissionsCapability, SessionId, SessionRef};

/// A session the owner authorized: what a session key needs to act.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version", rename = "1", rename_all = "camelCase")]
pub struct Session {
    /// The session id.
    pub session_id: SessionId,
    /// The chain.
    pub chain_id: U64,
    /// The account.
    pub account: Address,
    /// The session key's address.
    pub session_key: Address,
    /// The validation entity the session installs.
    pub entity_id: u32,
    /// Unix seconds after which the session is void; 0 = none.
    pub expiry: u64,
    /// What the key may do.
    pub permissions: Vec<Permission>,
    /// The owner's signature of the session's `DeferredAction`.
    pub owner_signature: FixedBytes<65>,
}

impl Session {
    /// The session id and owner signature.
    pub fn session_ref(&self) -> SessionRef {
        SessionRef { session_id: self.session_id, signature: self.owner_signature }
    }

    /// The `{sessionId, signature}` form of the permissions capability.
    pub fn capability(&self) -> PermissionsCapability {
        PermissionsCapability::from(&self.session_ref())
    }

    /// The `{context}` form: `0x00 ‖ sessionId ‖ signature`.
    pub fn context(&self) -> PermissionsCapability {
        PermissionsCapability::Context { context: self.session_ref().to_context() }
    }

    /// The session's rules, for the policy engine.
    pub fn policy(&self) -> Policy {
        Policy { account: self.account, permissions: self.permissions.clone(), expiry: self.expiry }
    }
}

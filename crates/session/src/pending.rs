//! A session granted in two steps: the backend requests and verifies it, the owner signs
//! wherever their key lives (a browser wallet, a hardware wallet, a KMS), the backend completes it.

use crate::deploy::Account;
use crate::error::{mismatch, Error, Result};
use crate::session::Session;
use alloy_primitives::{FixedBytes, B256};
use serde::{Deserialize, Serialize};
use sesskey_signing::{typed_data_digest, verify};
use sesskey_types::{
    CreateSessionParams, SessionId, SignatureData, SignatureRequest, TypedDataJson,
};

/// A session the server created and the client verified (its `DeferredAction` installs exactly
/// the requested key, entity, expiry and permissions), waiting for the owner's signature.
/// Serializable, so it can cross a process or an HTTP boundary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingSession {
    /// What was asked.
    pub request: CreateSessionParams,
    /// The server's session id (also the pending request's id).
    pub session_id: SessionId,
    /// The validation entity the session installs.
    pub entity_id: u32,
    /// The EIP-712 `DeferredAction` the owner signs (`eth_signTypedData_v4`).
    pub typed_data: TypedDataJson,
    /// Its digest: signing it with no prefix gives the same signature.
    pub raw_payload: B256,
}

impl PendingSession {
    /// What to hand the owner's wallet.
    pub fn signature_request(&self) -> SignatureRequest {
        SignatureRequest::TypedData { data: self.typed_data.clone(), raw_payload: self.raw_payload }
    }

    /// Completes the grant of an EIP-7702 account with the owner's signature, accepted only if
    /// the owner (the account itself) made it. Any other signer is [`Error::Signing`] with
    /// `WrongSigner`, and no session results. For an SMA-B account, see
    /// [`Self::complete_for`].
    pub fn complete(self, signature: &SignatureData) -> Result<Session> {
        let account = Account::Eip7702 { owner: self.request.account };
        self.complete_for(signature, &account)
    }

    /// Completes the grant for `account` (of either kind: it must be the account the session
    /// was requested for) with the signature of its owner, accepted only if its owner made it.
    pub fn complete_for(self, signature: &SignatureData, account: &Account) -> Result<Session> {
        if account.address() != self.request.account {
            return Err(mismatch("account", self.request.account, account.address()));
        }
        let digest = typed_data_digest(&self.typed_data)?;
        if digest != self.raw_payload {
            return Err(Error::Signing(sesskey_signing::Error::DigestMismatch {
                recomputed: digest,
                claimed: self.raw_payload,
            }));
        }
        verify(digest, signature, account.owner())?;
        let bytes = sesskey_signing::parse_signature(signature)?.as_bytes();
        Ok(Session {
            session_id: self.session_id,
            chain_id: self.request.chain_id,
            account: self.request.account,
            session_key: self.request.key.public_key,
            entity_id: self.entity_id,
            expiry: self.request.deadline(),
            permissions: self.request.permissions,
            owner_signature: FixedBytes::<65>::from(bytes),
        })
    }
}

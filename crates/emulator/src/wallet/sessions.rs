//! `wallet_createSession`, and resolving a permissions capability to a checked session.

use super::errors::{deferred_signature_invalid, invalid};
use super::{Core, R};
use crate::state::{DeferredActionRecord, Session};
use alloy_primitives::{Address, Bytes, U64};
use sesskey_account::{check_deadline, encode_install, Nonce, SessionInstall};
use sesskey_rpc::WalletError;
use sesskey_signing::parse_signature;
use sesskey_types::*;

/// A 65-byte signature of any wire form, or the -32507 a malformed one gets.
pub(crate) fn sig65(data: &SignatureData) -> R<[u8; 65]> {
    let sig = parse_signature(data).map_err(|_| WalletError::InvalidAccountSignature)?;
    Ok(sig.as_bytes())
}

/// A session resolved from a permissions capability and checked against its owner signature.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub(crate) id: SessionId,
    pub(crate) session: Session,
    pub(crate) owner_signature: [u8; 65],
    /// The owner's signature was recovered now (not found checked already): worth remembering
    /// with [`Core::remember_verified`].
    pub(crate) newly_verified: bool,
}

impl Core {
    /// `wallet_createSession`.
    pub(crate) fn create_session(&mut self, params: CreateSessionParams) -> R<CreateSessionResult> {
        super::errors::at_most("permissions", params.permissions.len(), super::MAX_PERMISSIONS)?;
        let chain = self.check_chain(params.chain_id)?;
        params.validate().map_err(|e| match e {
            Error::Permission(p) => invalid(format!("invalid `permissions`: {p}")),
            other => invalid(other.to_string()),
        })?;
        if params.key.ty == KeyType::Contract {
            return Err(invalid("invalid `key.type`: contract (ERC-1271) session keys are not supported by the emulator"));
        }
        let now = self.clock.now();
        check_deadline(params.deadline(), now)
            .map_err(|e| invalid(format!("invalid `expirySec`: {e}")))?;
        // A 7702 account must be delegated; an SMA-B account may still be counterfactual (the
        // session's first op deploys it).
        if self.kind(chain, params.account) == super::accounts::Kind::Eip7702
            && self.chain(chain).delegation(params.account).is_none()
        {
            return Err(invalid(format!(
                "account {} is not delegated on chain {chain:#x}: send a first call (wallet_prepareCalls with the owner) to delegate it",
                params.account
            )));
        }
        let acct = self.wallet.account(chain, params.account);
        let entity = acct.next_entity;
        let root = params.permissions.contains(&Permission::Root);
        let mut nonce =
            Nonce { entity_id: entity, global: root, deferred_action: true, ..Default::default() };
        nonce.seq = self.chain(chain).nonce_sequence(params.account, nonce.key());
        let install = SessionInstall {
            session_key: params.key.public_key,
            entity_id: entity,
            expiry: params.deadline(),
            permissions: params.permissions.clone(),
        };
        let call = encode_install(params.account, &install).map_err(|e| invalid(e.to_string()))?;
        let session_id = SessionId::from_slice(&self.ids.next_id()[..16]);
        let deadline = params.deadline();
        self.wallet.account_mut(chain, params.account).next_entity = entity.saturating_add(1);
        let session = Session {
            chain_id: chain,
            session_key: params.key.public_key,
            permissions: params.permissions,
            entity_id: entity,
            action: DeferredActionRecord {
                account: params.account,
                nonce: nonce.encode(),
                deadline,
                call,
            },
            installed: false,
            revoked: false,
            spent: Default::default(),
            verified_owner_signature: None,
            requested_at: now,
        };
        let action = session.action();
        self.wallet.sessions.put(session_id, session);
        Ok(CreateSessionResult {
            session_id,
            chain_id: Some(U64::from(chain)),
            signature_request: SignatureRequest::TypedData {
                data: action.typed_data(),
                raw_payload: action.digest(),
            },
        })
    }

    /// Resolves and checks a permissions capability for `from` on `chain`. A signature the
    /// owner did not make is refused as the account refuses it: AA23
    /// `DeferredActionSignatureInvalid()`.
    pub(crate) fn resolve_session(
        &self,
        cap: &PermissionsCapability,
        from: Address,
        chain: u64,
    ) -> R<Resolved> {
        let sref = cap
            .session_ref()
            .map_err(|e| invalid(format!("invalid `capabilities.permissions`: {e}")))?;
        let id = sref.session_id;
        let session = self.wallet.sessions.get(&id).ok_or_else(|| {
            invalid(format!("invalid `capabilities.permissions`: unknown session {id}"))
        })?;
        if session.action.account != from {
            return Err(invalid(format!(
                "invalid `capabilities.permissions`: session {id} belongs to another account"
            )));
        }
        if session.chain_id != chain {
            return Err(invalid(format!(
                "invalid `capabilities.permissions`: session {id} is for chain {:#x}",
                session.chain_id
            )));
        }
        if session.revoked {
            return Err(invalid(format!(
                "invalid `capabilities.permissions`: session {id} was revoked"
            )));
        }
        if self.wallet.account(chain, from).uninstalled.contains(&session.entity_id) {
            return Err(super::errors::validation_uninstalled(session.entity_id));
        }
        let signature = sref.signature.0;
        let newly_verified =
            session.verified_owner_signature.as_ref().map(|b| &b[..]) != Some(&signature[..]);
        if newly_verified {
            let owner_sig = SignatureData::Hex(Bytes::copy_from_slice(&signature[..]));
            let signer = sesskey_signing::recover(session.action().digest(), &owner_sig)
                .map_err(|_| deferred_signature_invalid())?;
            if signer != self.kind(chain, from).owner(session.action.account) {
                return Err(deferred_signature_invalid());
            }
        }
        Ok(Resolved { id, session: session.clone(), owner_signature: signature, newly_verified })
    }

    /// Keeps the owner's signature of a session as checked, so the next resolve does not
    /// recover it again.
    pub(crate) fn remember_verified(&mut self, r: &Resolved) {
        if r.newly_verified {
            if let Some(s) = self.wallet.sessions.get_mut(&r.id) {
                s.verified_owner_signature = Some(Bytes::copy_from_slice(&r.owner_signature));
            }
        }
    }
}

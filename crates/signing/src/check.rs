//! Check before sign: recompute every digest from the data it claims to cover.

use crate::digest::{
    eip7702_digest, personal_sign_digest, typed_data_digest, user_op_v06_hash, user_op_v07_hash,
    AuthorizationTuple,
};
use crate::{Error, Result};
use alloy_primitives::{Address, B256};
use sesskey_types::{
    PersonalSignData, PreparedAuthorization, PreparedUserOperationV06, PreparedUserOperationV07,
    SignatureRequest,
};

/// The wire name of a request's kind, for errors.
pub fn request_kind(request: &SignatureRequest) -> &'static str {
    match request {
        SignatureRequest::PersonalSign { .. } => "personal_sign",
        SignatureRequest::TypedData { .. } => "eth_signTypedData_v4",
        SignatureRequest::Eip7702Auth { .. } => "eip7702Auth",
    }
}

/// The digest `request` asks to be signed, recomputed from its `data` alone (`rawPayload` is
/// ignored). An `eip7702Auth` request needs its `authorization` tuple.
pub fn request_digest(
    request: &SignatureRequest,
    authorization: Option<&AuthorizationTuple>,
) -> Result<B256> {
    match request {
        SignatureRequest::PersonalSign { data, .. } => Ok(personal_sign_digest(data)),
        SignatureRequest::TypedData { data, .. } => typed_data_digest(data),
        SignatureRequest::Eip7702Auth { .. } => {
            authorization.map(eip7702_digest).ok_or(Error::MissingAuthorization)
        }
    }
}

/// Recomputes the digest of `request` and answers it only if it equals `rawPayload`.
///
/// ```
/// use alloy_primitives::B256;
/// use sesskey_signing::{check_request, Error};
/// use sesskey_types::{PersonalSignData, SignatureRequest};
///
/// let request = SignatureRequest::PersonalSign {
///     data: PersonalSignData::Message("hello".into()),
///     raw_payload: B256::ZERO, // a lying server
/// };
/// assert!(matches!(check_request(&request, None), Err(Error::DigestMismatch { .. })));
/// ```
pub fn check_request(
    request: &SignatureRequest,
    authorization: Option<&AuthorizationTuple>,
) -> Result<B256> {
    let recomputed = request_digest(request, authorization)?;
    let claimed = request.raw_payload();
    if recomputed != claimed {
        return Err(Error::DigestMismatch { recomputed, claimed });
    }
    Ok(recomputed)
}

fn check_user_op_request(request: Option<&SignatureRequest>, hash: B256) -> Result<B256> {
    let request = request.ok_or(Error::MissingSignatureRequest)?;
    let SignatureRequest::PersonalSign { data, .. } = request else {
        return Err(Error::UnexpectedRequest {
            expected: "personal_sign",
            found: request_kind(request),
        });
    };
    match data {
        PersonalSignData::Raw { raw } if raw.as_ref() == hash.as_slice() => {}
        PersonalSignData::Raw { raw } => {
            return Err(Error::UserOpHashMismatch { recomputed: hash, claimed: raw.clone() })
        }
        PersonalSignData::Message(m) => {
            return Err(Error::UserOpHashMismatch {
                recomputed: hash,
                claimed: m.as_bytes().to_vec().into(),
            })
        }
    }
    check_request(request, None)
}

/// Checks a prepared v0.7 user operation: its request must be `personal_sign` of `{raw}` =
/// the hash recomputed from the operation and its `chainId`, and `rawPayload` its EIP-191
/// digest. Answers the EIP-191 digest to sign.
pub fn check_user_op_v07(
    prepared: &PreparedUserOperationV07,
    entry_point: Address,
) -> Result<B256> {
    let hash = user_op_v07_hash(&prepared.data, entry_point, prepared.chain_id.to::<u64>());
    check_user_op_request(prepared.signature_request.as_ref(), hash)
}

/// Checks a prepared v0.6 user operation, as [`check_user_op_v07`] does.
pub fn check_user_op_v06(
    prepared: &PreparedUserOperationV06,
    entry_point: Address,
) -> Result<B256> {
    let hash = user_op_v06_hash(&prepared.data, entry_point, prepared.chain_id.to::<u64>());
    check_user_op_request(prepared.signature_request.as_ref(), hash)
}

/// Checks a prepared EIP-7702 authorization: `rawPayload` must be the digest of its tuple.
pub fn check_authorization(prepared: &PreparedAuthorization) -> Result<B256> {
    let tuple = AuthorizationTuple::from_wire(&prepared.data, prepared.chain_id);
    match &prepared.signature_request {
        r @ SignatureRequest::Eip7702Auth { .. } => check_request(r, Some(&tuple)),
        other => {
            Err(Error::UnexpectedRequest { expected: "eip7702Auth", found: request_kind(other) })
        }
    }
}

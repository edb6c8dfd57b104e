//! Signing through the alloy-signer traits, only after the check.

use crate::check::{check_authorization, check_request, check_user_op_v07};
use crate::digest::AuthorizationTuple;
use crate::Result;
use alloy_primitives::{Address, B256};
use alloy_signer::{Signer, SignerSync};
use sesskey_types::{PreparedAuthorization, PreparedUserOperationV07, Signature, SignatureRequest};

/// The wire signature object of an alloy signature: `{type: "secp256k1", data: r ‖ s ‖ v}` with
/// v = 27/28, as Alchemy's SDK sends it.
pub fn to_wire(signature: &alloy_primitives::Signature) -> Signature {
    Signature::secp256k1(signature.as_bytes())
}

/// Checks `request` ([`check_request`]) and signs the verified digest with no further prefix.
/// Signing the typed data itself and signing its digest this way give the same signature.
pub async fn sign_request<S: Signer + ?Sized>(
    signer: &S,
    request: &SignatureRequest,
    authorization: Option<&AuthorizationTuple>,
) -> Result<Signature> {
    let digest = check_request(request, authorization)?;
    Ok(to_wire(&signer.sign_hash(&digest).await?))
}

/// [`sign_request`] for a synchronous signer.
///
/// ```
/// use alloy_signer_local::PrivateKeySigner;
/// use sesskey_signing::{eip191_digest, recover, sign_request_sync};
/// use sesskey_types::{PersonalSignData, SignatureRequest};
///
/// let signer = PrivateKeySigner::random();
/// let data = PersonalSignData::Message("hello".into());
/// let request = SignatureRequest::PersonalSign { raw_payload: eip191_digest(b"hello"), data };
/// let signature = sign_request_sync(&signer, &request, None)?;
/// assert_eq!(recover(eip191_digest(b"hello"), &signature.data)?, signer.address());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn sign_request_sync<S: SignerSync + ?Sized>(
    signer: &S,
    request: &SignatureRequest,
    authorization: Option<&AuthorizationTuple>,
) -> Result<Signature> {
    let digest = check_request(request, authorization)?;
    Ok(to_wire(&signer.sign_hash_sync(&digest)?))
}

/// Checks a prepared v0.7 user operation ([`check_user_op_v07`]) and signs it.
pub async fn sign_user_op_v07<S: Signer + ?Sized>(
    signer: &S,
    prepared: &PreparedUserOperationV07,
    entry_point: Address,
) -> Result<Signature> {
    let digest = check_user_op_v07(prepared, entry_point)?;
    Ok(to_wire(&signer.sign_hash(&digest).await?))
}

/// Checks a prepared EIP-7702 authorization ([`check_authorization`]) and signs it.
pub async fn sign_authorization<S: Signer + ?Sized>(
    signer: &S,
    prepared: &PreparedAuthorization,
) -> Result<Signature> {
    let digest: B256 = check_authorization(prepared)?;
    Ok(to_wire(&signer.sign_hash(&digest).await?))
}

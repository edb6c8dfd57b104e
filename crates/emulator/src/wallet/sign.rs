//! `wallet_prepareSign` and `wallet_formatSign` for the owner (spec §2.7).

use super::{Core, R};
use alloy_primitives::{Bytes, B256, U64};
use serde_json::json;
use sesskey_rpc::WalletError;
use sesskey_signing::{personal_sign_digest, typed_data_digest};
use sesskey_types::*;

const NO_SESSION_SIGNING: &str = "invalid `capabilities.permissions`: session keys cannot sign messages (a session's validation is never a signature validation)";

impl Core {
    /// `wallet_prepareSign`: the message wrapped as MAv2's `ReplaySafeHash(bytes32 hash)` typed
    /// data, domain `{chainId, verifyingContract: account}`, for a ModularAccountV2 account (a
    /// delegated 7702 account, an SMA-B account deployed or not). An EIP-7702 account not
    /// delegated yet is a plain EOA: the request comes back as it is, to be signed as such.
    pub(crate) fn prepare_sign(&self, params: PrepareSignParams) -> R<PrepareSignResult> {
        let chain = self.check_chain(params.chain_id)?;
        if params.capabilities.is_some() {
            return Err(WalletError::InvalidParams(NO_SESSION_SIGNING.into()));
        }
        let hash: B256 = match &params.signature_request {
            SignRequest::PersonalSign { data, .. } => personal_sign_digest(data),
            SignRequest::TypedData { data, .. } => typed_data_digest(data).map_err(|e| {
                WalletError::InvalidParams(format!("invalid `signatureRequest.data`: {e}"))
            })?,
        };
        if self.plain_eoa(chain, params.from) {
            let signature_request = match params.signature_request {
                SignRequest::PersonalSign { data, .. } => {
                    SignRequest::PersonalSign { data, raw_payload: Some(hash) }
                }
                SignRequest::TypedData { data, .. } => {
                    SignRequest::TypedData { data, raw_payload: Some(hash) }
                }
            };
            return Ok(PrepareSignResult { chain_id: U64::from(chain), signature_request });
        }
        let wrapped: TypedDataJson = from_json_value(json!({
            "domain": {"chainId": chain, "verifyingContract": params.from},
            "types": {"ReplaySafeHash": [{"name": "hash", "type": "bytes32"}]},
            "primaryType": "ReplaySafeHash",
            "message": {"hash": hash},
        }))
        .map_err(|e| WalletError::Internal(e.to_string()))?;
        let digest =
            typed_data_digest(&wrapped).map_err(|e| WalletError::Internal(e.to_string()))?;
        Ok(PrepareSignResult {
            chain_id: U64::from(chain),
            signature_request: SignRequest::TypedData { data: wrapped, raw_payload: Some(digest) },
        })
    }

    /// `wallet_formatSign`: `0x00 ‖ entityId(4) = 0 ‖ 0xFF ‖ 0x00 ‖ signature` (MAv2 ERC-1271
    /// packing for the owner), wrapped for ERC-6492 when the account is an SMA-B account not
    /// deployed yet (a verifier deploys it first); the signature itself for a plain EOA (an
    /// EIP-7702 account not delegated yet).
    pub(crate) fn format_sign(&self, params: FormatSignParams) -> R<FormatSignResult> {
        let chain = self.check_chain(params.chain_id)?;
        if params.capabilities.is_some() {
            return Err(WalletError::InvalidParams(NO_SESSION_SIGNING.into()));
        }
        let sig = super::sessions::sig65(&params.signature.data).map_err(|_| {
            WalletError::InvalidParams(
                "invalid `signature.data`: not a 65-byte low-s signature".into(),
            )
        })?;
        if self.plain_eoa(chain, params.from) {
            return Ok(FormatSignResult { signature: Bytes::copy_from_slice(&sig) });
        }
        let packed = sesskey_account::pack_1271_owner_signature(&sig);
        let signature = match self.deployment(chain, params.from) {
            Some((factory, data)) => sesskey_account::erc6492_wrap(factory, &data, &packed),
            None => packed,
        };
        Ok(FormatSignResult { signature })
    }

    /// Whether `from` is an EIP-7702 account with no delegation yet (an EOA as any other).
    fn plain_eoa(&self, chain: u64, from: alloy_primitives::Address) -> bool {
        let kind = self.kind(chain, from);
        kind == super::accounts::Kind::Eip7702 && !self.is_deployed(chain, from, kind)
    }
}

//! The bundler's transaction: `EntryPoint.handleOps([op], beneficiary)`, signed by the
//! emulator's bundler key, so an included op has a real transaction behind its receipt
//! (`eth_getTransactionByHash`, `cast tx`).

use crate::chain::{handleOpsCall, Chain, PackedUserOperation};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEip7702, TxEnvelope};
use alloy_eips::eip7702::{Authorization, SignedAuthorization};
use alloy_primitives::{address, keccak256, Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::{PrivateKeySigner, Secp256k1Signer};
use alloy_sol_types::SolCall;
use sesskey_signing::{init_code_v07, paymaster_and_data_v07};
use sesskey_types::UserOperationV07;
use std::sync::LazyLock;

/// The address the emulator's bundle transactions come from (its bundler key's).
pub const BUNDLER: Address = address!("0x5DE146F949677bCE765C4D0932e4C0DB07707859");

/// The bundler's key: derived from a fixed phrase, public, holding nothing of value (signing
/// with libsecp256k1: it signs under the state lock, once per included op).
static BUNDLER_KEY: LazyLock<Secp256k1Signer> = LazyLock::new(|| {
    PrivateKeySigner::from_bytes(&keccak256(b"sesskey emulator bundler"))
        .expect("a valid key")
        .to_secp256k1()
});

fn concat_u128(high: u128, low: u128) -> B256 {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(&high.to_be_bytes());
    out[16..].copy_from_slice(&low.to_be_bytes());
    B256::from(out)
}

/// The `handleOps` call data of one op with its final (packed) signature.
pub(crate) fn handle_ops_call(op: &UserOperationV07, signature: Bytes) -> Bytes {
    handleOpsCall { ops: vec![packed_op(op, signature)], beneficiary: BUNDLER }.abi_encode().into()
}

/// An op in the EntryPoint's packed form, with `signature`.
pub(crate) fn packed_op(op: &UserOperationV07, signature: Bytes) -> PackedUserOperation {
    PackedUserOperation {
        sender: op.sender,
        nonce: op.nonce,
        initCode: init_code_v07(op),
        callData: op.call_data.clone(),
        accountGasLimits: concat_u128(
            op.verification_gas_limit.to::<u128>(),
            op.call_gas_limit.to::<u128>(),
        ),
        preVerificationGas: op.pre_verification_gas,
        gasFees: concat_u128(
            op.max_priority_fee_per_gas.to::<u128>(),
            op.max_fee_per_gas.to::<u128>(),
        ),
        paymasterAndData: paymaster_and_data_v07(op),
        signature,
    }
}

/// An EIP-7702 authorization of the wire as the chain carries it.
pub(crate) fn signed_authorization(
    a: &sesskey_types::SignedAuthorization,
) -> Option<SignedAuthorization> {
    let sig = sesskey_signing::parse_signature(&a.signature.data).ok()?;
    let auth = Authorization {
        chain_id: U256::from(a.chain_id),
        address: a.data.address,
        nonce: a.data.nonce.saturating_to(),
    };
    Some(auth.into_signed(sig))
}

/// Signs the bundler's transaction carrying `input` to `to`, with the bundler's next nonce on
/// `chain` (which it uses up): EIP-1559, or EIP-7702 when it relays authorizations.
pub(crate) fn bundle_transaction(
    chain: &mut Chain,
    to: Address,
    input: Bytes,
    authorizations: Vec<SignedAuthorization>,
    gas: u64,
    price: u128,
) -> TxEnvelope {
    let nonce = chain.account(BUNDLER).nonce;
    chain.set_nonce(BUNDLER, nonce.saturating_add(1));
    let tip = price.min(u128::from(crate::chain::PRIORITY_FEE));
    let sign = |hash: B256| BUNDLER_KEY.sign_hash_sync(&hash).expect("signing a hash cannot fail");
    if authorizations.is_empty() {
        let tx = TxEip1559 {
            chain_id: chain.id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: price,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(to),
            value: U256::ZERO,
            input,
            access_list: Default::default(),
        };
        let sig = sign(tx.signature_hash());
        TxEnvelope::from(tx.into_signed(sig))
    } else {
        let tx = TxEip7702 {
            chain_id: chain.id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: price,
            max_priority_fee_per_gas: tip,
            to,
            value: U256::ZERO,
            access_list: Default::default(),
            authorization_list: authorizations,
            input,
        };
        let sig = sign(tx.signature_hash());
        TxEnvelope::from(tx.into_signed(sig))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bundler_address_is_its_keys() {
        assert_eq!(super::BUNDLER_KEY.address(), super::BUNDLER);
    }
}

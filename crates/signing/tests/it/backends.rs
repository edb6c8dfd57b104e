//! libsecp256k1 (`alloy-signer-local`'s `secp256k1` feature) and k256 give byte-identical
//! signatures (RFC 6979), and recovery agrees with both.

use crate::dev_signer;
use alloy_primitives::B256;
use alloy_signer::SignerSync;
use proptest::prelude::*;
use sesskey_signing::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn k256_and_libsecp256k1_sign_the_same_bytes(digest in any::<[u8; 32]>(), key in any::<[u8; 32]>()) {
        let digest = B256::from(digest);
        let Ok(k256) = alloy_signer_local::PrivateKeySigner::from_slice(&key) else { return Ok(()) };
        let secp = k256.to_secp256k1();
        let a = k256.sign_hash_sync(&digest).unwrap();
        let b = secp.sign_hash_sync(&digest).unwrap();
        prop_assert_eq!(a.as_bytes(), b.as_bytes());
        prop_assert_eq!(recover(digest, &to_wire(&b).data).unwrap(), k256.address());
    }
}

#[test]
fn the_dev_key_agrees_on_both_backends() {
    let k256 = dev_signer();
    let secp = k256.to_secp256k1();
    assert_eq!(k256.address(), secp.address());
    let digest = eip191_digest(b"sesskey");
    assert_eq!(k256.sign_hash_sync(&digest).unwrap(), secp.sign_hash_sync(&digest).unwrap());
}

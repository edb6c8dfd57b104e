//! Recovery accepts every wire form and refuses malformed or malleable signatures.

use crate::dev_signer;
use alloy_primitives::{Bytes, B256, U256, U8};
use alloy_signer::SignerSync;
use proptest::prelude::*;
use sesskey_signing::*;
use sesskey_types::SignatureData;

const N: U256 = U256::from_limbs([
    0xBFD25E8CD0364141,
    0xBAAEDCE6AF48A03B,
    0xFFFFFFFFFFFFFFFE,
    0xFFFFFFFFFFFFFFFF,
]);

fn forms(sig: &alloy_primitives::Signature) -> Vec<SignatureData> {
    let mut rsv = sig.as_bytes();
    let mut forms = vec![SignatureData::Hex(Bytes::from(rsv.to_vec()))];
    rsv[64] -= 27;
    forms.push(SignatureData::Hex(Bytes::from(rsv.to_vec())));
    let y = U8::from(sig.v() as u8);
    forms.push(SignatureData::RsYParity { r: sig.r(), s: sig.s(), y_parity: y });
    forms.push(SignatureData::RsV { r: sig.r(), s: sig.s(), v: y });
    forms.push(SignatureData::RsV { r: sig.r(), s: sig.s(), v: U8::from(27 + sig.v() as u8) });
    forms
}

#[test]
fn every_wire_form_recovers() {
    let signer = dev_signer();
    let digest = B256::repeat_byte(7);
    let sig = signer.sign_hash_sync(&digest).unwrap();
    for form in forms(&sig) {
        assert_eq!(recover(digest, &form).unwrap(), signer.address(), "{form:?}");
    }
}

#[test]
fn malformed_and_malleable_signatures_are_refused() {
    let signer = dev_signer();
    let digest = B256::repeat_byte(7);
    let sig = signer.sign_hash_sync(&digest).unwrap();
    let bytes = sig.as_bytes();
    for len in [0, 64, 66, 130] {
        let data = SignatureData::Hex(vec![1; len].into());
        assert!(matches!(recover(digest, &data), Err(Error::SignatureLength(l)) if l == len));
    }
    let mut bad_v = bytes;
    bad_v[64] = 29;
    assert!(matches!(
        recover(digest, &SignatureData::Hex(bad_v.to_vec().into())),
        Err(Error::InvalidV(29))
    ));
    let bad_y = SignatureData::RsYParity { r: sig.r(), s: sig.s(), y_parity: U8::from(2) };
    assert!(matches!(recover(digest, &bad_y), Err(Error::InvalidV(2))));
    // The same signature with s' = n - s is valid ECDSA but malleable: refused.
    let high =
        SignatureData::RsYParity { r: sig.r(), s: N - sig.s(), y_parity: U8::from(!sig.v() as u8) };
    assert!(matches!(recover(digest, &high), Err(Error::HighS)));
    let zero = SignatureData::RsV { r: U256::ZERO, s: sig.s(), v: U8::from(27) };
    assert!(matches!(recover(digest, &zero), Err(Error::ScalarOutOfRange)));
    let too_big = SignatureData::RsV { r: N, s: sig.s(), v: U8::from(27) };
    assert!(matches!(recover(digest, &too_big), Err(Error::ScalarOutOfRange)));
}

#[test]
fn verify_names_both_signers() {
    let signer = dev_signer();
    let digest = B256::repeat_byte(1);
    let sig = to_wire(&signer.sign_hash_sync(&digest).unwrap());
    let other = alloy_primitives::Address::repeat_byte(0x11);
    match verify(digest, &sig.data, other) {
        Err(Error::WrongSigner { expected, recovered }) => {
            assert_eq!((expected, recovered), (other, signer.address()));
        }
        r => panic!("{r:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn sign_then_recover(digest in any::<[u8; 32]>()) {
        let signer = dev_signer();
        let digest = B256::from(digest);
        let sig = to_wire(&signer.sign_hash_sync(&digest).unwrap());
        prop_assert_eq!(recover(digest, &sig.data).unwrap(), signer.address());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100), digest in any::<[u8; 32]>()) {
        let _ = recover(B256::from(digest), &SignatureData::Hex(bytes.into()));
    }
}

//! Recovery and verification of wire signatures.

use crate::{Error, Result};
use alloy_primitives::{Address, B256, U256};
use sesskey_types::SignatureData;

/// The order n of secp256k1.
const SECP256K1_N: U256 = U256::from_limbs([
    0xBFD25E8CD0364141,
    0xBAAEDCE6AF48A03B,
    0xFFFFFFFFFFFFFFFE,
    0xFFFFFFFFFFFFFFFF,
]);

fn parity(v: u64) -> Result<bool> {
    match v {
        0 | 27 => Ok(false),
        1 | 28 => Ok(true),
        other => Err(Error::InvalidV(other)),
    }
}

/// Parses any wire form (65-byte hex with v 0/1/27/28, `{r,s,yParity}`, `{r,s,v}`) into an
/// alloy signature, refusing malformed lengths, out-of-range scalars and high-s (malleable)
/// signatures.
pub fn parse_signature(data: &SignatureData) -> Result<alloy_primitives::Signature> {
    let (r, s, y) = match data {
        SignatureData::Hex(bytes) => {
            if bytes.len() != 65 {
                return Err(Error::SignatureLength(bytes.len()));
            }
            (
                U256::from_be_slice(&bytes[..32]),
                U256::from_be_slice(&bytes[32..64]),
                parity(u64::from(bytes[64]))?,
            )
        }
        SignatureData::RsYParity { r, s, y_parity } => {
            let y = y_parity.to::<u64>();
            if y > 1 {
                return Err(Error::InvalidV(y));
            }
            (*r, *s, y == 1)
        }
        SignatureData::RsV { r, s, v } => (*r, *s, parity(v.to::<u64>())?),
    };
    if r.is_zero() || s.is_zero() || r >= SECP256K1_N || s >= SECP256K1_N {
        return Err(Error::ScalarOutOfRange);
    }
    if s > SECP256K1_N >> 1 {
        return Err(Error::HighS);
    }
    Ok(alloy_primitives::Signature::new(r, s, y))
}

/// Recovers the address that signed `digest` (a prehash: no prefix is added).
pub fn recover(digest: B256, data: &SignatureData) -> Result<Address> {
    parse_signature(data)?.recover_address_from_prehash(&digest).map_err(|_| Error::Unrecoverable)
}

/// Checks that `expected` signed `digest`; addresses compare as bytes, so case never matters.
pub fn verify(digest: B256, data: &SignatureData, expected: Address) -> Result<()> {
    let recovered = recover(digest, data)?;
    if recovered != expected {
        return Err(Error::WrongSigner { expected, recovered });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_order_constant() {
        assert_eq!(
            SECP256K1_N,
            "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"
                .parse::<U256>()
                .unwrap()
        );
    }
}

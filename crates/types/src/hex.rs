//! Strict `0x`-hex encoding of wire values.
//!
//! Alchemy's schemas require every hex string to match `^0x.*$`.
//! The serde `with` modules here refuse a missing `0x` prefix or a non-hex digit, and never echo
//! the offending value (it may be a secret pasted into the wrong field).
//! Quantities ([`Uint`]) are emitted as minimal lower-case hex, byte strings as lower-case hex,
//! and addresses in their [EIP-55] checksummed form.
//!
//! [EIP-55]: https://eips.ethereum.org/EIPS/eip-55

use alloy_primitives::{hex, Address, Bytes, FixedBytes, Uint};
use std::fmt;

/// A value carried on the wire as a `0x`-prefixed hex string.
pub trait WireHex: Sized {
    /// What the value is, for error messages ("quantity", "20-byte address", ...).
    const KIND: &'static str;

    /// Encodes the value as it goes on the wire.
    fn to_wire(&self) -> String;

    /// Decodes the hex digits that follow the `0x` prefix.
    fn from_hex_digits(digits: &str) -> Result<Self, String>;

    /// Decodes a wire string, prefix included.
    fn from_wire(s: &str) -> Result<Self, String> {
        let digits = s
            .strip_prefix("0x")
            .ok_or_else(|| format!("invalid {}: missing 0x prefix", Self::KIND))?;
        if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!("invalid {}: non-hex digit {bad:?}", Self::KIND));
        }
        Self::from_hex_digits(digits)
    }
}

impl<const BITS: usize, const LIMBS: usize> WireHex for Uint<BITS, LIMBS> {
    const KIND: &'static str = "quantity";

    fn to_wire(&self) -> String {
        format!("{self:#x}")
    }

    fn from_hex_digits(digits: &str) -> Result<Self, String> {
        if digits.is_empty() {
            return Err("invalid quantity: no digits after 0x".into());
        }
        Self::from_str_radix(digits, 16)
            .map_err(|_| format!("invalid quantity: does not fit in {BITS} bits"))
    }
}

impl WireHex for Address {
    const KIND: &'static str = "address";

    fn to_wire(&self) -> String {
        self.to_checksum(None)
    }

    fn from_hex_digits(digits: &str) -> Result<Self, String> {
        decode_fixed::<20>(digits, "address").map(Self::from)
    }
}

impl<const N: usize> WireHex for FixedBytes<N> {
    const KIND: &'static str = "fixed-length hex";

    fn to_wire(&self) -> String {
        hex::encode_prefixed(self)
    }

    fn from_hex_digits(digits: &str) -> Result<Self, String> {
        decode_fixed::<N>(digits, "hex").map(Self::from)
    }
}

impl WireHex for Bytes {
    const KIND: &'static str = "hex data";

    fn to_wire(&self) -> String {
        hex::encode_prefixed(self)
    }

    fn from_hex_digits(digits: &str) -> Result<Self, String> {
        hex::decode(digits).map(Self::from).map_err(|e| format!("invalid hex data: {e}"))
    }
}

fn decode_fixed<const N: usize>(digits: &str, what: &str) -> Result<[u8; N], String> {
    if digits.len() != 2 * N {
        return Err(format!("invalid {what}: expected {N} bytes, got {} hex digits", digits.len()));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|e| format!("invalid {what}: {e}"))?;
    Ok(out)
}

struct WireVisitor<T>(std::marker::PhantomData<T>);

impl<T: WireHex> serde::de::Visitor<'_> for WireVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a 0x-prefixed hex {}", T::KIND)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        T::from_wire(v).map_err(E::custom)
    }
}

/// `#[serde(with = "wire")]` for a [`WireHex`] value.
pub mod wire {
    use super::*;
    use serde::{Deserializer, Serializer};

    /// Serializes `v` as its wire string.
    pub fn serialize<T: WireHex, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_wire())
    }

    /// Deserializes a wire string strictly.
    pub fn deserialize<'de, T: WireHex, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        d.deserialize_str(WireVisitor(std::marker::PhantomData))
    }
}

/// A newtype used to (de)serialize [`WireHex`] values inside containers.
struct W<T>(T);

impl<T: WireHex> serde::Serialize for W<&T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wire::serialize(self.0, s)
    }
}

impl<'de, T: WireHex> serde::Deserialize<'de> for W<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        wire::deserialize(d).map(W)
    }
}

/// `#[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]` for an
/// optional [`WireHex`] value.
pub mod wire_opt {
    use super::*;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes `Some(v)` as its wire string and `None` as `null`.
    pub fn serialize<T: WireHex, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(W).serialize(s)
    }

    /// Deserializes an optional wire string strictly.
    pub fn deserialize<'de, T: WireHex, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        Ok(Option::<W<T>>::deserialize(d)?.map(|w| w.0))
    }
}

/// `#[serde(with = "wire_seq")]` for a list of [`WireHex`] values.
pub mod wire_seq {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes each element as its wire string.
    pub fn serialize<T: WireHex, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(W))
    }

    /// Deserializes a list of wire strings strictly.
    pub fn deserialize<'de, T: WireHex, D: Deserializer<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Ok(Vec::<W<T>>::deserialize(d)?.into_iter().map(|w| w.0).collect())
    }
}

/// `#[serde(with = "wire_seq_opt", default, skip_serializing_if = "Option::is_none")]` for an
/// optional list of [`WireHex`] values.
pub mod wire_seq_opt {
    use super::*;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes `Some(list)` element by element and `None` as `null`.
    pub fn serialize<T: WireHex, S: Serializer>(
        v: &Option<Vec<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|v| v.iter().map(W).collect::<Vec<_>>()).serialize(s)
    }

    /// Deserializes an optional list of wire strings strictly.
    pub fn deserialize<'de, T: WireHex, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<T>>, D::Error> {
        Ok(Option::<Vec<W<T>>>::deserialize(d)?.map(|v| v.into_iter().map(|w| w.0).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, U256, U64};

    #[test]
    fn quantities_accept_leading_zeros_and_upper_case() {
        assert_eq!(U64::from_wire("0x01").unwrap(), U64::from(1));
        assert_eq!(U64::from_wire("0x66EEE").unwrap(), U64::from(0x66eee));
        assert_eq!(U256::from_wire("0x10000000000000000").unwrap(), U256::from(1u128 << 64));
    }

    #[test]
    fn quantities_are_emitted_minimal_lower_case() {
        assert_eq!(U64::from(0x66eee).to_wire(), "0x66eee");
        assert_eq!(U256::ZERO.to_wire(), "0x0");
    }

    #[test]
    fn bad_quantities_are_refused() {
        assert_eq!(U64::from_wire("12").unwrap_err(), "invalid quantity: missing 0x prefix");
        assert_eq!(U64::from_wire("0X12").unwrap_err(), "invalid quantity: missing 0x prefix");
        assert_eq!(U64::from_wire("0x1g").unwrap_err(), "invalid quantity: non-hex digit 'g'");
        assert_eq!(U64::from_wire("0x").unwrap_err(), "invalid quantity: no digits after 0x");
        assert_eq!(
            U64::from_wire("0x10000000000000000").unwrap_err(),
            "invalid quantity: does not fit in 64 bits"
        );
    }

    #[test]
    fn addresses_are_checksummed_and_strict() {
        let a = address!("0xa363219d7C0b8673df17529D469Db9eFF0f35D2A");
        assert_eq!(Address::from_wire("0xa363219d7c0b8673df17529d469db9eff0f35d2a").unwrap(), a);
        assert_eq!(a.to_wire(), "0xa363219d7C0b8673df17529D469Db9eFF0f35D2A");
        assert!(Address::from_wire("a363219d7c0b8673df17529d469db9eff0f35d2a").is_err());
        assert_eq!(
            Address::from_wire("0x1234").unwrap_err(),
            "invalid address: expected 20 bytes, got 4 hex digits"
        );
    }

    #[test]
    fn bytes_are_strict() {
        assert_eq!(Bytes::from_wire("0x").unwrap(), Bytes::new());
        assert!(Bytes::from_wire("0x123").is_err());
        assert!(Bytes::from_wire("1234").is_err());
    }
}

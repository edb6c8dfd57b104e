//! Integration tests of `sesskey-account` against Alchemy's SDK vectors
//! (`fixtures/external/vectors/`, see `fixtures/README.md` for their provenance).

mod bad_input;
mod calls;
mod permissions;
mod policy;
mod roundtrip;
mod sma_b;

use serde_json::Value;

pub(crate) fn vectors(name: &str) -> Value {
    let text = match name {
        "mav2-permissions" => {
            include_str!("../../../../fixtures/external/vectors/mav2-permissions.json")
        }
        "mav2-nonce-and-calls" => {
            include_str!("../../../../fixtures/external/vectors/mav2-nonce-and-calls.json")
        }
        other => panic!("no vectors file {other}"),
    };
    serde_json::from_str(text).unwrap()
}

pub(crate) fn bytes(v: &Value) -> alloy_primitives::Bytes {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).parse().unwrap()
}

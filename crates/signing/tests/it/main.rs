//! Integration tests of `sesskey-signing` against independent vectors
//! (`fixtures/external/vectors/`, see `fixtures/README.md` for their provenance).

mod anchors;
mod backends;
mod check;
mod recover;
mod vectors;

use serde_json::Value;

/// A vectors file from `fixtures/external/vectors/`.
pub(crate) fn vectors(name: &str) -> Value {
    let text = match name {
        "userop-v07" => include_str!("../../../../fixtures/external/vectors/userop-v07.json"),
        "userop-v06" => include_str!("../../../../fixtures/external/vectors/userop-v06.json"),
        "eip712" => include_str!("../../../../fixtures/external/vectors/eip712.json"),
        "eip7702" => include_str!("../../../../fixtures/external/vectors/eip7702.json"),
        "personal-sign" => include_str!("../../../../fixtures/external/vectors/personal-sign.json"),
        "mav2-permissions" => {
            include_str!("../../../../fixtures/external/vectors/mav2-permissions.json")
        }
        other => panic!("no vectors file {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// The test key every signing vector uses (BIP-39 account 0 of the vectors' mnemonic; a
/// published test key, never a real one).
pub(crate) fn dev_signer() -> alloy_signer_local::PrivateKeySigner {
    "0x29f8ccda13d5560423ae971c9e604984e6f30debdc1466117675c3d50cedafc1".parse().unwrap()
}

pub(crate) fn hex_b256(v: &Value) -> alloy_primitives::B256 {
    v.as_str().unwrap().parse().unwrap()
}

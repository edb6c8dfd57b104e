//! Fixed development keys (feature `test-utils`): accounts 0–4 of the BIP-39 test mnemonic
//! `shallow car worth decorate number cloth strong select organ champion keep race`, published
//! with the project's test vectors (`fixtures/external/vectors/README.md`).
//!
//! **Never hold funds with these keys**: they are public.

use alloy_signer_local::PrivateKeySigner;

const KEYS: [&str; 5] = [
    "0x29f8ccda13d5560423ae971c9e604984e6f30debdc1466117675c3d50cedafc1",
    "0x2829223d27c872411709676b787590003f23e9cdf31140310ab7aabfd1daab3d",
    "0x18a244ba8b439a1f423612bdc310b50901d12bc61d687bf98912c07772d23a0c",
    "0xe4c5e91591ac1ed87e4aa93a35a4c6e97804bba784e847838dab469c1f3ca24a",
    "0x35bfc1e3490eef70b032ae0bab8ce43b728884daad19dc43f8194283fb180034",
];

/// Development key `index` (0–4) of the test mnemonic.
///
/// # Panics
///
/// If `index` is above 4.
pub fn dev_key(index: usize) -> PrivateKeySigner {
    KEYS[index].parse().expect("the development keys are valid")
}

/// The development owner: account 0 (`0xb608EdF5893D118C2FCb56F866f0692D4545Fd5F`).
pub fn dev_owner() -> PrivateKeySigner {
    dev_key(0)
}

/// The development session key: account 1 (`0x358d21340F36AbDDa7EfC7395f1Ab4Ce8F74d014`).
pub fn dev_session_key() -> PrivateKeySigner {
    dev_key(1)
}

//! Fuzz target `wallet_api`: see `sesskey_fuzz::wallet_api`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sesskey_fuzz::wallet_api(data));

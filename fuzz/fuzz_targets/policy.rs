//! Fuzz target `policy`: see `sesskey_fuzz::policy`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sesskey_fuzz::policy(data));

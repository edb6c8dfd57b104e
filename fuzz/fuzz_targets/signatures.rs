//! Fuzz target `signatures`: see `sesskey_fuzz::signatures`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sesskey_fuzz::signatures(data));

//! Fuzz target `typed_data`: see `sesskey_fuzz::typed_data`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sesskey_fuzz::typed_data(data));

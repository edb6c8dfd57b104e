//! Fuzz target `decoders`: see `sesskey_fuzz::decoders`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sesskey_fuzz::decoders(data));

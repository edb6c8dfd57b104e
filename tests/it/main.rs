//! sesskey's cross-crate suites.

mod emulator_transcript;
mod golden;
mod signing_golden;

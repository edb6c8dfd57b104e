//! sesskey's cross-crate suites.

mod contract_session;
mod emulator_transcript;
mod golden;
mod signing_golden;

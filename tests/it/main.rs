//! sesskey's cross-crate suites.

mod golden;
mod signing_golden;

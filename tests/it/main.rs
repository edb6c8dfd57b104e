//! sesskey's cross-crate suites.

mod golden;

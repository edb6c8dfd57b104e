//! Integration tests of `sesskey-types`: Alchemy's JSON Schemas, the seed document's bodies,
//! the schemas' own examples, serde round trips and bad input.

mod bad_input;
mod common;
mod gas;
mod roundtrip;
mod samples;
mod schema;
mod seed;

//! Integration tests of `sesskey-rpc`: the client against a raw HTTP mock (exact bodies,
//! retries, secrets) and against a jsonrpsee server implementing the trait (round trips, the
//! error table both ways). Loopback only.

mod bodies;
#[cfg(feature = "server")]
mod errors;
mod mock;
mod retries;
mod secrets;

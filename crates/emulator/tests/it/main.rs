//! The emulator through the real HTTP client over loopback: the whole flow, and every refusal.

mod account;
mod evm;
mod flow;
mod gas_props;
mod helpers;
mod persistence;
mod refusals;
mod vectors;

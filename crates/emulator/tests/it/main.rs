//! The emulator through the real HTTP client over loopback: the whole flow, and every refusal.

mod account;
mod chain_gas;
mod evm;
mod flow;
mod gas_props;
mod helpers;
mod persistence;
mod refusals;
mod sma_b;
mod token_gas;
mod vectors;

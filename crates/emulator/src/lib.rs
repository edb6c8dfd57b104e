#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod clock;
mod core;
mod persist;
mod send;
mod server;
mod sign;
mod state;

pub use crate::core::{Config, Emulator, EMULATOR_PAYMASTER, USER_OPERATION_EVENT};
pub use clock::{uuid_v4, Clock, Ids};
pub use server::{serve, wallet_module, Controls, Running, MAX_REQUEST_BYTES};

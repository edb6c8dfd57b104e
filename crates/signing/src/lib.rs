#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod check;
#[cfg(feature = "test-utils")]
pub mod dev;
mod digest;
mod error;
mod recover;
mod sign;

pub use check::{
    check_authorization, check_request, check_user_op_v06, check_user_op_v07, request_digest,
    request_kind,
};
pub use digest::{
    eip191_digest, eip7702_digest, init_code_v07, paymaster_and_data_v07, personal_sign_digest,
    to_dyn_typed_data, typed_data_digest, user_op_v06_hash, user_op_v07_hash, AuthorizationTuple,
    ENTRY_POINT_V06, ENTRY_POINT_V07,
};
pub use error::{Error, Result};
pub use recover::{parse_signature, recover, verify};
pub use sign::{sign_authorization, sign_request, sign_request_sync, sign_user_op_v07, to_wire};

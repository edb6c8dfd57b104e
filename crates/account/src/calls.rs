//! Account call data: `execute`, `executeBatch` and the `executeUserOp` prefix, both ways.

use crate::abi::{executeBatchCall, executeCall, BatchCall, EXECUTE_USER_OP_SELECTOR};
use crate::{Error, Result};
use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolCall;
use sesskey_types::Call;

/// How a batch is encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CallEncoding {
    /// As Alchemy's SDK does: one call as `execute` (or, when its target is the account itself,
    /// its data unwrapped), several as `executeBatch`.
    #[default]
    Sdk,
    /// Always `executeBatch`, as Alchemy's server does even for one call.
    Batch,
}

fn batch_call(c: &Call) -> BatchCall {
    BatchCall { target: c.to, value: c.value_or_zero(), data: c.data_or_empty() }
}

/// Encodes `calls` as the account's call data, prefixed with `executeUserOp` when the
/// session's validation has execution hooks (spec §3).
pub fn encode_calls(
    account: Address,
    calls: &[Call],
    encoding: CallEncoding,
    exec_hooks: bool,
) -> Bytes {
    let inner: Vec<u8> = match (encoding, calls) {
        (CallEncoding::Sdk, [c]) if c.to == account => c.data_or_empty().to_vec(),
        (CallEncoding::Sdk, [c]) => {
            executeCall { target: c.to, value: c.value_or_zero(), data: c.data_or_empty() }
                .abi_encode()
        }
        _ => executeBatchCall { calls: calls.iter().map(batch_call).collect() }.abi_encode(),
    };
    if exec_hooks {
        [&EXECUTE_USER_OP_SELECTOR[..], &inner].concat().into()
    } else {
        inner.into()
    }
}

/// Call data decoded back into calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedCalls {
    /// Whether the data starts with the `executeUserOp` prefix.
    pub execute_user_op: bool,
    /// The calls, with `data` and `value` always present.
    pub calls: Vec<Call>,
}

/// Decodes account call data: `execute`, `executeBatch`, optionally behind `executeUserOp`;
/// anything else is a call of the account to itself.
pub fn decode_calls(account: Address, call_data: &[u8]) -> Result<DecodedCalls> {
    let (execute_user_op, inner) = match call_data.strip_prefix(&EXECUTE_USER_OP_SELECTOR[..]) {
        Some(rest) => (true, rest),
        None => (false, call_data),
    };
    let full =
        |to: Address, value: U256, data: Bytes| Call { to, data: Some(data), value: Some(value) };
    let calls = match inner.get(..4) {
        Some(s) if s == executeCall::SELECTOR => {
            let c = executeCall::abi_decode_validate(inner)
                .map_err(|e| Error::decode("execute call", e))?;
            if c.abi_encode() != inner {
                return Err(Error::decode("execute call", "not in canonical ABI encoding"));
            }
            vec![full(c.target, c.value, c.data)]
        }
        Some(s) if s == executeBatchCall::SELECTOR => {
            let c = executeBatchCall::abi_decode_validate(inner)
                .map_err(|e| Error::decode("executeBatch call", e))?;
            if c.abi_encode() != inner {
                return Err(Error::decode("executeBatch call", "not in canonical ABI encoding"));
            }
            c.calls.into_iter().map(|c| full(c.target, c.value, c.data)).collect()
        }
        _ => vec![full(account, U256::ZERO, Bytes::copy_from_slice(inner))],
    };
    Ok(DecodedCalls { execute_user_op, calls })
}

/// Whether two calls are the same call, reading absent `data`/`value` as empty/zero.
pub fn same_call(a: &Call, b: &Call) -> bool {
    a.to == b.to && a.data_or_empty() == b.data_or_empty() && a.value_or_zero() == b.value_or_zero()
}

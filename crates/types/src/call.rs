//! A call of a batch: `{to, data?, value?}`.

use crate::hex::{wire, wire_opt};
use alloy_primitives::{Address, Bytes, U256};
use serde::{Deserialize, Serialize};

/// One call of `wallet_prepareCalls.calls` (and of `details.data.calls`).
///
/// Absent `data` means empty call data and absent `value` means zero; both stay absent when
/// re-serialized, so a request round-trips unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    /// The target.
    #[serde(with = "wire")]
    pub to: Address,
    /// The call data.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Bytes>,
    /// The native value sent, in wei.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<U256>,
}

impl Call {
    /// The call data, empty when absent.
    pub fn data_or_empty(&self) -> Bytes {
        self.data.clone().unwrap_or_default()
    }

    /// The value, zero when absent.
    pub fn value_or_zero(&self) -> U256 {
        self.value.unwrap_or_default()
    }
}

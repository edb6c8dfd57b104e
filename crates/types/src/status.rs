//! `wallet_getCallsStatus`.

use crate::hex::{wire, wire_seq};
use crate::prepare_calls::CallDetails;
use alloy_primitives::{Address, Bytes, B256, U256, U64, U8};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A call status code (spec §2.6); EIP-5792's 100/200/400/500/600 plus Alchemy's additions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallStatusCode {
    /// 100: pending.
    Pending,
    /// 110: preconfirmed.
    Preconfirmed,
    /// 115: preconfirmed, full revert on chain.
    PreconfirmedChainRulesFailure,
    /// 116: preconfirmed, partial revert on chain.
    PreconfirmedPartialChainRulesFailure,
    /// 120: cross-chain in progress.
    CrossChainInProgress,
    /// 200: confirmed.
    Confirmed,
    /// 400: failed off chain; will not be retried.
    OffchainFailure,
    /// 410: cross-chain refunded.
    CrossChainRefund,
    /// 500: reverted on chain (only gas charged).
    ChainRulesFailure,
    /// 600: partially reverted on chain.
    PartialChainRulesFailure,
}

/// What a status code means to a caller waiting on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKind {
    /// 1xx: not final yet.
    Pending,
    /// 2xx: done.
    Success,
    /// Anything else: failed.
    Failure,
}

impl CallStatusCode {
    /// Every code, in numeric order.
    pub const ALL: [Self; 10] = [
        Self::Pending,
        Self::Preconfirmed,
        Self::PreconfirmedChainRulesFailure,
        Self::PreconfirmedPartialChainRulesFailure,
        Self::CrossChainInProgress,
        Self::Confirmed,
        Self::OffchainFailure,
        Self::CrossChainRefund,
        Self::ChainRulesFailure,
        Self::PartialChainRulesFailure,
    ];

    /// The numeric code.
    pub const fn code(self) -> u16 {
        match self {
            Self::Pending => 100,
            Self::Preconfirmed => 110,
            Self::PreconfirmedChainRulesFailure => 115,
            Self::PreconfirmedPartialChainRulesFailure => 116,
            Self::CrossChainInProgress => 120,
            Self::Confirmed => 200,
            Self::OffchainFailure => 400,
            Self::CrossChainRefund => 410,
            Self::ChainRulesFailure => 500,
            Self::PartialChainRulesFailure => 600,
        }
    }

    /// The status for a numeric code, if it is one.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Pending (1xx), success (2xx) or failure (anything else), as viem reads them.
    pub const fn kind(self) -> StatusKind {
        match self.code() {
            100..=199 => StatusKind::Pending,
            200..=299 => StatusKind::Success,
            _ => StatusKind::Failure,
        }
    }
}

impl fmt::Display for CallStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl Serialize for CallStatusCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.code())
    }
}

impl<'de> Deserialize<'de> for CallStatusCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = u16::deserialize(d)?;
        Self::from_code(code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown call status code {code}")))
    }
}

/// A call id, the only param of `wallet_getCallsStatus` (`["0x<id>"]`): opaque bytes, documented
/// as `uint256(chainId) ‖ userOpHash`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(#[serde(with = "wire")] pub Bytes);

/// The EIP-5792 error code for an unknown call id (`UNKNOWN_BUNDLE_ID`).
pub const UNKNOWN_BUNDLE_ID: i32 = 5730;

/// The answer of `wallet_getCallsStatus`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallsStatus {
    /// The call id.
    #[serde(with = "wire")]
    pub id: Bytes,
    /// The chain.
    #[serde(with = "wire")]
    pub chain_id: U64,
    /// Whether the calls execute atomically.
    pub atomic: bool,
    /// The status code (a JSON number).
    pub status: CallStatusCode,
    /// Receipts, once included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipts: Option<Vec<Receipt>>,
    /// What the call is.
    pub details: CallDetails,
}

/// A receipt of a call status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Logs emitted.
    pub logs: Vec<Log>,
    /// `0x1` on success, `0x0` on failure.
    #[serde(with = "wire")]
    pub status: U8,
    /// The block.
    #[serde(with = "wire")]
    pub block_hash: B256,
    /// The block number.
    #[serde(with = "wire")]
    pub block_number: U64,
    /// Gas used.
    #[serde(with = "wire")]
    pub gas_used: U256,
    /// The transaction.
    #[serde(with = "wire")]
    pub transaction_hash: B256,
}

/// A log of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    /// The emitting contract.
    #[serde(with = "wire")]
    pub address: Address,
    /// Non-indexed data.
    #[serde(with = "wire")]
    pub data: Bytes,
    /// Indexed topics.
    #[serde(with = "wire_seq")]
    pub topics: Vec<B256>,
}

//! The Wallet API methods, and each one's params and result types by name.

use crate::{Error, Result};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// A Wallet API method in sesskey's scope (spec §2; swaps and cross-chain status are not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `wallet_requestAccount`.
    RequestAccount,
    /// `wallet_createSession`.
    CreateSession,
    /// `wallet_prepareCalls`.
    PrepareCalls,
    /// `wallet_sendPreparedCalls`.
    SendPreparedCalls,
    /// `wallet_getCallsStatus`.
    GetCallsStatus,
    /// `wallet_listAccounts`.
    ListAccounts,
    /// `wallet_prepareSign`.
    PrepareSign,
    /// `wallet_formatSign`.
    FormatSign,
    /// `wallet_getCapabilities`.
    GetCapabilities,
}

/// Which half of a method a JSON value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// The params: the single positional object, or the whole params array for
    /// `wallet_getCallsStatus` and `wallet_getCapabilities`.
    Params,
    /// The result.
    Result,
}

impl Method {
    /// Every method.
    pub const ALL: [Self; 9] = [
        Self::RequestAccount,
        Self::CreateSession,
        Self::PrepareCalls,
        Self::SendPreparedCalls,
        Self::GetCallsStatus,
        Self::ListAccounts,
        Self::PrepareSign,
        Self::FormatSign,
        Self::GetCapabilities,
    ];

    /// The JSON-RPC method name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RequestAccount => "wallet_requestAccount",
            Self::CreateSession => "wallet_createSession",
            Self::PrepareCalls => "wallet_prepareCalls",
            Self::SendPreparedCalls => "wallet_sendPreparedCalls",
            Self::GetCallsStatus => "wallet_getCallsStatus",
            Self::ListAccounts => "wallet_listAccounts",
            Self::PrepareSign => "wallet_prepareSign",
            Self::FormatSign => "wallet_formatSign",
            Self::GetCapabilities => "wallet_getCapabilities",
        }
    }

    /// Whether a repeat cannot harm: reads, and preparation (nothing is sent on chain, and the
    /// same request gives the same account or the same digests). `wallet_createSession` (a new
    /// session id each time) and `wallet_sendPreparedCalls` (a second send) are not.
    pub const fn idempotent(self) -> bool {
        !matches!(self, Self::CreateSession | Self::SendPreparedCalls)
    }

    /// Whether the params are one positional object (all but `wallet_getCallsStatus` and
    /// `wallet_getCapabilities`, whose params are the array itself).
    pub const fn takes_one_object(self) -> bool {
        !matches!(self, Self::GetCallsStatus | Self::GetCapabilities)
    }

    /// Parses `value` as this method's `part` and serializes it again: sesskey's canonical wire
    /// form (minimal quantities, checksummed addresses), or an error naming the bad field.
    ///
    /// ```
    /// use sesskey_types::{Method, Part};
    ///
    /// let v = serde_json::json!(["0x00000000000000000000000000000000000000000000000000000000000000ff"]);
    /// assert_eq!(Method::GetCallsStatus.canonical(Part::Params, v.clone())?, v);
    /// assert!(Method::GetCallsStatus.canonical(Part::Params, serde_json::json!(["ff"])).is_err());
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn canonical(self, part: Part, value: Value) -> Result<Value> {
        use crate::*;
        fn via<T: DeserializeOwned + Serialize>(v: Value) -> Result<Value> {
            let parsed: T = from_json_value(v)?;
            serde_json::to_value(parsed)
                .map_err(|e| Error::Json { path: ".".into(), message: e.to_string() })
        }
        match (self, part) {
            (Self::RequestAccount, Part::Params) => via::<RequestAccountParams>(value),
            (Self::RequestAccount, Part::Result) => via::<RequestAccountResult>(value),
            (Self::CreateSession, Part::Params) => via::<CreateSessionParams>(value),
            (Self::CreateSession, Part::Result) => via::<CreateSessionResult>(value),
            (Self::PrepareCalls, Part::Params) => via::<PrepareCallsParams>(value),
            (Self::PrepareCalls, Part::Result) => via::<PreparedCalls>(value),
            (Self::SendPreparedCalls, Part::Params) => via::<SendPreparedCallsParams>(value),
            (Self::SendPreparedCalls, Part::Result) => via::<SendPreparedCallsResult>(value),
            (Self::GetCallsStatus, Part::Params) => via::<(CallId,)>(value),
            (Self::GetCallsStatus, Part::Result) => via::<CallsStatus>(value),
            (Self::ListAccounts, Part::Params) => via::<ListAccountsParams>(value),
            (Self::ListAccounts, Part::Result) => via::<ListAccountsResult>(value),
            (Self::PrepareSign, Part::Params) => via::<PrepareSignParams>(value),
            (Self::PrepareSign, Part::Result) => via::<PrepareSignResult>(value),
            (Self::FormatSign, Part::Params) => via::<FormatSignParams>(value),
            (Self::FormatSign, Part::Result) => via::<FormatSignResult>(value),
            (Self::GetCapabilities, Part::Params) => via::<GetCapabilitiesParams>(value),
            (Self::GetCapabilities, Part::Result) => via::<Capabilities>(value),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| Error::UnknownMethod(s.into()))
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Params => "params",
            Self::Result => "result",
        })
    }
}

impl FromStr for Part {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "params" => Ok(Self::Params),
            "result" => Ok(Self::Result),
            other => Err(Error::UnknownMethod(format!("part {other:?}"))),
        }
    }
}

//! `wallet_requestAccount` and `wallet_listAccounts`.

use crate::hex::{wire, wire_opt, wire_seq_opt};
use alloy_primitives::{Address, Bytes, U256};
use serde::{Deserialize, Serialize};

/// Params of `wallet_requestAccount`: by signer, or by account address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestAccountParams {
    /// `{signerAddress, id?, creationHint?, includeCounterfactualInfo?}`.
    #[serde(rename_all = "camelCase")]
    BySigner {
        /// The owner.
        #[serde(with = "wire")]
        signer_address: Address,
        /// A UUID v4 naming the account, to get a second one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Which kind of account.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        creation_hint: Option<CreationHint>,
        /// Whether to include `counterfactualInfo`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        include_counterfactual_info: Option<bool>,
    },
    /// `{accountAddress, includeCounterfactualInfo?}`.
    #[serde(rename_all = "camelCase")]
    ByAccount {
        /// The account.
        #[serde(with = "wire")]
        account_address: Address,
        /// Whether to include `counterfactualInfo`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        include_counterfactual_info: Option<bool>,
    },
}

/// `creationHint` of `wallet_requestAccount`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationHint {
    /// `"7702"`, `"sma-b"`, `"la-v2"`, `"la-v1.0.1"`, `"la-v1.0.2"`, `"la-v1.1.0"`,
    /// `"la-v2-multi-owner"` or `"ma-v1-multi-owner"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    /// Create another account for the same signer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_additional: Option<bool>,
    /// The factory salt, a hex number as Alchemy's schema takes it (`"0x1"`; leading zeros
    /// allowed).
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<U256>,
    /// Owners of a multi-owner account.
    #[serde(with = "wire_seq_opt", default, skip_serializing_if = "Option::is_none")]
    pub initial_owners: Option<Vec<Address>>,
}

/// The answer of `wallet_requestAccount`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestAccountResult {
    /// The account (for EIP-7702, the signer itself).
    #[serde(with = "wire")]
    pub account_address: Address,
    /// A UUID naming the account.
    pub id: String,
    /// How the account would be deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterfactual_info: Option<CounterfactualInfo>,
    /// The EIP-7702 delegation target.
    #[serde(with = "wire_opt", default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<Address>,
}

/// `counterfactualInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterfactualInfo {
    /// E.g. `"MAv2.0.0-sma-b"`.
    pub factory_type: String,
    /// The factory.
    #[serde(with = "wire")]
    pub factory_address: Address,
    /// The factory call.
    #[serde(with = "wire")]
    pub factory_data: Bytes,
}

/// Params of `wallet_listAccounts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAccountsParams {
    /// The owner.
    #[serde(with = "wire")]
    pub signer_address: Address,
    /// Page size, 1..=100 (default 100); a JSON number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The cursor of the previous page (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// The answer of `wallet_listAccounts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAccountsResult {
    /// The accounts of this page.
    pub accounts: Vec<AccountRef>,
    /// Paging.
    pub meta: ListAccountsMeta,
}

/// One account of `wallet_listAccounts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRef {
    /// The account.
    #[serde(with = "wire")]
    pub account_address: Address,
    /// Its UUID.
    pub id: String,
}

/// `meta` of `wallet_listAccounts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAccountsMeta {
    /// How many accounts the signer has.
    pub total_count: u64,
    /// The next page's cursor, or `null`.
    pub after: Option<String>,
}

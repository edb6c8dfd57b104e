//! The Wallet API's own state (what the EVM does not hold): accounts' EntryPoint nonces and
//! validation entities, sessions, prepared operations, sent calls.

use crate::table::{Table, Tables};
use alloy_primitives::{Address, Bytes, B256, U256};
use serde::{Deserialize, Serialize};
use sesskey_account::{DeferredAction, Spend};
use sesskey_types::{Call, Permission, SessionId};
use std::collections::BTreeMap;

/// The Wallet API's view of one account on one chain.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct WalletAccount {
    /// EntryPoint sequences by 192-bit key, as data folders of earlier versions kept them: moved
    /// into the EntryPoint's storage when such a folder is opened ([`crate::wallet`]'s
    /// `migrate`), empty otherwise.
    #[serde(default)]
    pub(crate) sequences: BTreeMap<U256, u64>,
    /// The next free validation entity id.
    pub(crate) next_entity: u32,
    /// Validation entities the owner uninstalled (revoked sessions).
    #[serde(default)]
    pub(crate) uninstalled: std::collections::BTreeSet<u32>,
}

impl WalletAccount {
    pub(crate) fn new() -> Self {
        Self { sequences: BTreeMap::new(), next_entity: 1, uninstalled: Default::default() }
    }
}

/// A session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) chain_id: u64,
    pub(crate) session_key: Address,
    pub(crate) permissions: Vec<Permission>,
    pub(crate) entity_id: u32,
    pub(crate) action: DeferredActionRecord,
    pub(crate) installed: bool,
    /// Revoked by the control (the account's validation stays installed).
    pub(crate) revoked: bool,
    pub(crate) spent: SpendRecord,
    /// The owner signature already checked against the action's digest (a cache: recovering it
    /// again gives the same answer).
    pub(crate) verified_owner_signature: Option<Bytes>,
    /// When `wallet_createSession` made it (unix seconds; 0 in data folders of earlier
    /// versions).
    #[serde(default)]
    pub(crate) requested_at: u64,
}

/// [`DeferredAction`] as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct DeferredActionRecord {
    pub(crate) account: Address,
    pub(crate) nonce: U256,
    pub(crate) deadline: u64,
    pub(crate) call: Bytes,
}

impl Session {
    pub(crate) fn action(&self) -> DeferredAction {
        DeferredAction {
            chain_id: self.chain_id,
            account: self.action.account,
            nonce: self.action.nonce,
            deadline: self.action.deadline,
            call: self.action.call.clone(),
        }
    }
}

/// [`Spend`] as stored.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct SpendRecord {
    pub(crate) native: U256,
    pub(crate) erc20: BTreeMap<Address, U256>,
    pub(crate) gas: U256,
}

impl From<&SpendRecord> for Spend {
    fn from(s: &SpendRecord) -> Self {
        Self { native: s.native, erc20: s.erc20.clone(), gas: s.gas }
    }
}

impl From<Spend> for SpendRecord {
    fn from(s: Spend) -> Self {
        Self { native: s.native, erc20: s.erc20, gas: s.gas }
    }
}

/// A prepared operation the emulator issued, by user-operation hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Prepared {
    pub(crate) sponsored: bool,
    /// Gas paid in a token: how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<crate::wallet::TokenPayment>,
}

/// A sent call and how it ended.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CallRecord {
    pub(crate) chain_id: u64,
    /// The user-operation hash (the authorization digest for a lone delegation).
    pub(crate) hash: B256,
    pub(crate) calls: Vec<Call>,
    /// Unix milliseconds.
    pub(crate) settle_at: u64,
    /// Whether the calls ran to the end.
    pub(crate) success: bool,
    pub(crate) packed_signature: Bytes,
    /// The transaction that included it: its receipt is the chain's.
    pub(crate) tx_hash: B256,
    /// A lone EIP-7702 (un)delegation, not a user operation.
    pub(crate) delegation: bool,
}

/// An SMA-B account this wallet answered `wallet_requestAccount` with (deployed or not).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SmaAccount {
    pub(crate) owner: Address,
    pub(crate) salt: U256,
    /// The UUID it was answered with.
    pub(crate) id: String,
}

/// A `wallet_requestAccount` by signer (and `id`) answered with an SMA-B account: the same
/// request answers the same account, whatever its `creationHint` says then.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct AccountRequest {
    pub(crate) account: Address,
}

/// The Wallet API's state: tables whose overlay is each call's change set.
#[derive(Clone, Debug, Default)]
pub(crate) struct WalletState {
    pub(crate) accounts: Table<(u64, Address), WalletAccount>,
    pub(crate) sessions: Table<SessionId, Session>,
    pub(crate) prepared: Table<B256, Prepared>,
    pub(crate) calls: Table<Bytes, CallRecord>,
    /// SMA-B accounts by address (the same on every chain).
    pub(crate) sma_accounts: Table<Address, SmaAccount>,
    /// Requests by `keccak256(signer ‖ id)` (no id: the signer's default account).
    pub(crate) account_requests: Table<B256, AccountRequest>,
}

impl WalletState {
    /// An account's wallet view (a fresh one if never seen).
    pub(crate) fn account(&self, chain: u64, account: Address) -> WalletAccount {
        self.accounts.get(&(chain, account)).cloned().unwrap_or_else(WalletAccount::new)
    }

    /// An account's wallet view, to change.
    pub(crate) fn account_mut(&mut self, chain: u64, account: Address) -> &mut WalletAccount {
        self.accounts.entry((chain, account), WalletAccount::new)
    }

    pub(crate) fn is_changed(&self) -> bool {
        self.tables_changed()
    }

    pub(crate) fn apply(&mut self) {
        self.apply_tables();
    }

    pub(crate) fn rollback(&mut self) {
        self.rollback_tables();
    }
}

// Every table of the wallet, once: what apply, rollback, snapshots and the store go through.
crate::table::tables!(WalletState {
    accounts: "wallet_accounts",
    sessions: "sessions",
    prepared: "prepared",
    calls: "calls",
    sma_accounts: "sma_accounts",
    account_requests: "account_requests",
});

//! What the page (`GET /`) shows: chains, accounts and their delegation, sessions with their
//! budgets, and the recent calls with their receipts.

use super::Core;
use alloy_primitives::{Address, Bytes};
use serde::Serialize;
use sesskey_rpc::SessionInfo;
use sesskey_types::{Call, CallId, CallsStatus};

/// How many calls the overview lists (the most recent).
pub const OVERVIEW_CALLS: usize = 25;

/// Everything the page shows, at one moment.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// The emulator's clock, unix seconds.
    pub now: u64,
    /// The chains served.
    pub chains: Vec<u64>,
    /// Accounts the Wallet API has seen, with their EIP-7702 delegation.
    pub accounts: Vec<AccountView>,
    /// Every session and what is left of its budgets.
    pub sessions: Vec<SessionInfo>,
    /// The most recent calls, newest first.
    pub calls: Vec<CallView>,
}

/// An account on a chain.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    /// The chain.
    pub chain_id: u64,
    /// The account.
    pub address: Address,
    /// The contract its code delegates to, if any.
    pub delegation: Option<Address>,
}

/// A sent call, decoded, with its status and receipt.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallView {
    /// The call id.
    pub id: Bytes,
    /// A lone EIP-7702 (un)delegation rather than a user operation.
    pub delegation: bool,
    /// The calls the operation made.
    pub calls: Vec<Call>,
    /// Its status and receipts, as `wallet_getCallsStatus` answers.
    pub status: Option<CallsStatus>,
}

impl Core {
    pub(crate) fn overview(&self) -> Overview {
        let accounts = self
            .wallet
            .accounts
            .iter()
            .map(|((chain_id, address), _)| AccountView {
                chain_id: *chain_id,
                address: *address,
                delegation: self.chains.get(chain_id).and_then(|c| c.delegation(*address)),
            })
            .collect();
        let mut calls: Vec<(&Bytes, &crate::state::CallRecord)> =
            self.wallet.calls.iter().collect();
        calls.sort_by(|a, b| b.1.settle_at.cmp(&a.1.settle_at).then_with(|| a.0.cmp(b.0)));
        let calls = calls
            .into_iter()
            .take(OVERVIEW_CALLS)
            .map(|(id, r)| CallView {
                id: id.clone(),
                delegation: r.delegation,
                calls: r.calls.clone(),
                status: self.get_calls_status(CallId(id.clone())).ok(),
            })
            .collect();
        Overview {
            now: self.clock.now(),
            chains: self.chains.keys().copied().collect(),
            accounts,
            sessions: self.list_sessions(),
            calls,
        }
    }
}

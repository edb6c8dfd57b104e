//! What the page (`GET /`) shows: chains, accounts and their delegation, sessions with their
//! budgets, and the recent calls with their receipts.

use super::Core;
use alloy_primitives::{Address, Bytes};
use serde::Serialize;
use sesskey_rpc::SessionInfo;
use sesskey_types::{Call, CallId, CallsStatus};

/// How many calls the overview lists (the most recent).
pub const OVERVIEW_CALLS: usize = 25;
/// How many accounts the overview lists.
pub const OVERVIEW_ACCOUNTS: usize = 100;
/// How many sessions the overview lists (installed ones first).
pub const OVERVIEW_SESSIONS: usize = 100;
/// How long a session only requested (never installed by an op carrying its owner's
/// signature) stays on the overview, in seconds from its request: anyone may request one, for
/// any account, with their own key.
pub const OVERVIEW_REQUEST_SECS: u64 = 3600;
/// How many permissions of a session, calls of an op and logs of a receipt the overview shows.
pub const OVERVIEW_ITEMS: usize = 10;
/// How many bytes of a call's data or a log's data the overview shows.
pub const OVERVIEW_DATA_BYTES: usize = 256;

/// Everything the page shows, at one moment.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// The emulator's clock, unix seconds.
    pub now: u64,
    /// The chains served.
    pub chains: Vec<u64>,
    /// Accounts the Wallet API has seen, with their EIP-7702 delegation (at most
    /// [`OVERVIEW_ACCOUNTS`]).
    pub accounts: Vec<AccountView>,
    /// How many accounts there are in all.
    pub accounts_total: usize,
    /// Sessions and what is left of their budgets: installed ones (an op carried the owner's
    /// signature) first, then those only requested (`installed: false`: no owner signature has
    /// been seen); at most [`OVERVIEW_SESSIONS`], each with at most [`OVERVIEW_ITEMS`]
    /// permissions.
    pub sessions: Vec<SessionInfo>,
    /// How many sessions there are in all.
    pub sessions_total: usize,
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
    /// The calls the operation made (at most [`OVERVIEW_ITEMS`], their data cut to
    /// [`OVERVIEW_DATA_BYTES`]).
    pub calls: Vec<Call>,
    /// How many calls the operation made in all.
    pub calls_total: usize,
    /// Its status and receipts, as `wallet_getCallsStatus` answers.
    pub status: Option<CallsStatus>,
}

impl Core {
    pub(crate) fn overview(&self) -> Overview {
        let mut keys: Vec<&(u64, Address)> = self.wallet.accounts.iter().map(|(k, _)| k).collect();
        let accounts_total = keys.len();
        keys.sort();
        let accounts = keys
            .into_iter()
            .take(OVERVIEW_ACCOUNTS)
            .map(|(chain_id, address)| AccountView {
                chain_id: *chain_id,
                address: *address,
                delegation: self.chains.get(chain_id).and_then(|c| c.delegation(*address)),
            })
            .collect();
        let now = self.clock.now();
        let mut sessions = self.list_sessions();
        // Requests nobody installed leave the page after a while, or once past their expiry.
        sessions.retain(|s| {
            s.installed
                || (now < s.requested_at.saturating_add(OVERVIEW_REQUEST_SECS)
                    && (s.expiry == 0 || now <= s.expiry))
        });
        let sessions_total = sessions.len();
        sessions.sort_by_key(|s| !s.installed);
        sessions.truncate(OVERVIEW_SESSIONS);
        for s in &mut sessions {
            s.permissions.truncate(OVERVIEW_ITEMS);
            s.erc20_left.truncate(OVERVIEW_ITEMS);
        }
        let mut calls: Vec<(&Bytes, &crate::state::CallRecord)> =
            self.wallet.calls.iter().collect();
        calls.sort_by(|a, b| b.1.settle_at.cmp(&a.1.settle_at).then_with(|| a.0.cmp(b.0)));
        let calls = calls
            .into_iter()
            .take(OVERVIEW_CALLS)
            .map(|(id, r)| CallView {
                id: id.clone(),
                delegation: r.delegation,
                calls: r.calls.iter().take(OVERVIEW_ITEMS).map(cut_call).collect(),
                calls_total: r.calls.len(),
                status: self.get_calls_status(CallId(id.clone())).ok().map(cut_status),
            })
            .collect();
        Overview {
            now,
            chains: self.chains.keys().copied().collect(),
            accounts,
            accounts_total,
            sessions,
            sessions_total,
            calls,
        }
    }
}

fn cut(data: &Bytes) -> Bytes {
    data.slice(..data.len().min(OVERVIEW_DATA_BYTES))
}

fn cut_call(c: &Call) -> Call {
    Call { to: c.to, value: c.value, data: c.data.as_ref().map(cut) }
}

/// A status with each receipt's logs cut to [`OVERVIEW_ITEMS`], their data to
/// [`OVERVIEW_DATA_BYTES`].
fn cut_status(mut status: CallsStatus) -> CallsStatus {
    for r in status.receipts.iter_mut().flatten() {
        r.logs.truncate(OVERVIEW_ITEMS);
        for l in &mut r.logs {
            l.data = cut(&l.data);
        }
    }
    status
}

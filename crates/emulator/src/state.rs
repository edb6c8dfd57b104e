//! The emulator's state: accounts, sessions, calls.

use alloy_primitives::{Address, Bytes, B256, U256};
use sesskey_account::{DeferredAction, Spend};
use sesskey_types::{Call, Permission, SessionId};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One account on one chain.
#[derive(Clone, Debug, Default)]
pub(crate) struct AccountState {
    /// The EOA's transaction nonce (EIP-7702 authorizations).
    pub(crate) eoa_nonce: u64,
    /// The EIP-7702 delegation target, if delegated.
    pub(crate) delegation: Option<Address>,
    /// Native balance.
    pub(crate) native: U256,
    /// ERC-20 balances by token.
    pub(crate) erc20: BTreeMap<Address, U256>,
    /// ERC-20 allowances by (token, spender).
    pub(crate) allowances: BTreeMap<(Address, Address), U256>,
    /// EntryPoint sequences by 192-bit key.
    pub(crate) sequences: HashMap<U256, u64>,
    /// The next free validation entity id.
    pub(crate) next_entity: u32,
}

/// A session.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) chain_id: u64,
    pub(crate) session_key: Address,
    pub(crate) permissions: Vec<Permission>,
    pub(crate) entity_id: u32,
    pub(crate) action: DeferredAction,
    pub(crate) installed: bool,
    pub(crate) revoked: bool,
    pub(crate) spent: Spend,
    /// The owner signature already checked against the action's digest (a cache: recovering it
    /// again gives the same answer).
    pub(crate) verified_owner_signature: Option<[u8; 65]>,
}

/// A prepared operation the emulator issued, by user-operation hash.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    pub(crate) sponsored: bool,
}

/// A sent call and its outcome.
#[derive(Clone, Debug)]
pub(crate) struct CallRecord {
    pub(crate) chain_id: u64,
    pub(crate) hash: B256,
    pub(crate) sender: Address,
    pub(crate) nonce: U256,
    pub(crate) paymaster: Address,
    pub(crate) calls: Vec<Call>,
    /// Unix milliseconds.
    pub(crate) settle_at: u64,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) packed_signature: Bytes,
    pub(crate) gas_used: u64,
    pub(crate) gas_cost: U256,
    pub(crate) block: u64,
    /// A lone EIP-7702 (un)delegation, not a user operation.
    pub(crate) delegation: bool,
}

/// How a call ended once settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Reverted,
}

/// The whole state, and what changed since the last commit to the store.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) accounts: HashMap<(u64, Address), AccountState>,
    pub(crate) sessions: HashMap<SessionId, Session>,
    pub(crate) prepared: HashMap<B256, Prepared>,
    pub(crate) calls: HashMap<Bytes, CallRecord>,
    pub(crate) fail_next: HashMap<String, (i32, String)>,
    pub(crate) block: u64,
    pub(crate) dirty: Dirty,
}

/// Keys changed since the last commit.
#[derive(Debug, Default)]
pub(crate) struct Dirty {
    pub(crate) accounts: HashSet<(u64, Address)>,
    pub(crate) sessions: HashSet<SessionId>,
    pub(crate) prepared: HashSet<B256>,
    pub(crate) calls: HashSet<Bytes>,
}

impl State {
    /// An account, marked as changed.
    pub(crate) fn account(&mut self, chain_id: u64, account: Address) -> &mut AccountState {
        self.dirty.accounts.insert((chain_id, account));
        self.accounts
            .entry((chain_id, account))
            .or_insert_with(|| AccountState { next_entity: 1, ..Default::default() })
    }

    /// Replaces an account.
    pub(crate) fn put_account(&mut self, chain_id: u64, account: Address, state: AccountState) {
        self.dirty.accounts.insert((chain_id, account));
        self.accounts.insert((chain_id, account), state);
    }

    /// A session, marked as changed.
    pub(crate) fn session_mut(&mut self, id: &SessionId) -> Option<&mut Session> {
        let s = self.sessions.get_mut(id)?;
        self.dirty.sessions.insert(*id);
        Some(s)
    }

    /// Adds a session.
    pub(crate) fn put_session(&mut self, id: SessionId, session: Session) {
        self.dirty.sessions.insert(id);
        self.sessions.insert(id, session);
    }

    /// Adds a prepared operation.
    pub(crate) fn put_prepared(&mut self, hash: B256, prepared: Prepared) {
        self.dirty.prepared.insert(hash);
        self.prepared.insert(hash, prepared);
    }

    /// Adds a sent call.
    pub(crate) fn put_call(&mut self, id: Bytes, call: CallRecord) {
        self.dirty.calls.insert(id.clone());
        self.calls.insert(id, call);
    }
}

//! What a transaction reads, and the SQLite writer's cache of it.

use super::{Done, Sessions};
use crate::store::StoredSession;
use alloy_primitives::Address;
use sesskey_account::Spend;
use sesskey_types::SessionId;
use std::collections::{BTreeSet, HashMap, HashSet};

/// SQLite: sessions, reservations and leases as the writer last read and wrote them, which is
/// how the database holds them while no other connection commits (`PRAGMA data_version`
/// stays `version`). It is judged on only once the transaction holding the write lock has
/// read that version again.
pub(super) struct Cache {
    pub(super) version: i64,
    pub(super) sessions: HashMap<SessionId, StoredSession>,
    /// Every reservation of these sessions.
    pub(super) reserved: HashMap<SessionId, Vec<Reserved>>,
    /// Accounts whose every lease is in `held` (by account, then chain).
    pub(super) accounts: HashSet<Address>,
    pub(super) held: HashMap<Address, HashMap<u64, Vec<Held>>>,
}

impl Cache {
    pub(super) fn new(version: Option<i64>) -> Self {
        Self {
            version: version.unwrap_or_default(),
            sessions: HashMap::new(),
            reserved: HashMap::new(),
            accounts: HashSet::new(),
            held: HashMap::new(),
        }
    }

    /// Whether it holds all a transaction reads.
    pub(super) fn covers(
        &self,
        ids: &BTreeSet<SessionId>,
        judged: &BTreeSet<SessionId>,
        accounts: &BTreeSet<Address>,
    ) -> bool {
        ids.iter().all(|id| self.sessions.contains_key(id))
            && judged.iter().all(|id| self.reserved.contains_key(id))
            && accounts.iter().all(|a| self.accounts.contains(a))
    }

    /// What a transaction would read.
    pub(super) fn read_of(
        &self,
        ids: &BTreeSet<SessionId>,
        judged: &BTreeSet<SessionId>,
        accounts: &BTreeSet<Address>,
    ) -> Read {
        let mut read = Read::default();
        for id in ids {
            if let Some(record) = self.sessions.get(id) {
                read.sessions.insert(*id, Ok(record.clone()));
            }
        }
        for id in judged {
            if let Some(list) = self.reserved.get(id) {
                read.reserved.insert(*id, Ok(list.clone()));
            }
        }
        for account in accounts {
            for (chain, list) in self.held.get(account).into_iter().flatten() {
                read.held.insert((*account, *chain), list.clone());
            }
        }
        read
    }

    /// Takes in what a committed transaction left: the rows it read whole (the sessions, the
    /// reservations of those `judged`, the leases of `accounts`) as it changed them.
    pub(super) fn absorb(
        &mut self,
        done: &Done,
        judged: &BTreeSet<SessionId>,
        accounts: &BTreeSet<Address>,
    ) {
        for (id, row) in &done.read.sessions {
            match row {
                Ok(row) => {
                    self.sessions.insert(*id, row.clone());
                }
                Err(_) => {
                    self.sessions.remove(id);
                }
            }
        }
        for id in judged {
            self.reserved.entry(*id).or_default();
        }
        // What the ends freed, on sessions and accounts this transaction may not have read.
        let (lapsed, by) = &done.lapsed;
        for id in lapsed {
            if let Some(list) = self.reserved.get_mut(id) {
                list.retain(|r| !done.gone.contains(&r.id) && r.expires > *by);
            }
        }
        for (account, chain, token) in &done.released {
            if let Some(list) = self.held.get_mut(account).and_then(|c| c.get_mut(chain)) {
                list.retain(|h| &h.token != token);
            }
        }
        for (id, list) in &done.read.reserved {
            match list {
                Ok(list) => {
                    self.reserved.insert(*id, list.clone());
                }
                Err(_) => {
                    self.reserved.remove(id);
                }
            }
        }
        self.accounts.extend(accounts.iter().copied());
        for ((account, chain), list) in &done.read.held {
            if self.accounts.contains(account) {
                self.held.entry(*account).or_default().insert(*chain, list.clone());
            }
        }
        for (lease, expires) in &done.granted {
            if self.accounts.contains(&lease.account) {
                let chains = self.held.entry(lease.account).or_default();
                let list = chains.entry(lease.chain_id).or_default();
                list.retain(|h| h.key != lease.key);
                list.push(Held { key: lease.key, token: lease.token.clone(), expires: *expires });
            }
        }
    }
}

/// What one transaction read.
#[derive(Default)]
pub(super) struct Read {
    pub(super) sessions: Sessions,
    /// Reservations by session, or why their rows are damaged.
    pub(super) reserved: HashMap<SessionId, std::result::Result<Vec<Reserved>, String>>,
    /// Leased keys by account and chain.
    pub(super) held: HashMap<(Address, u64), Vec<Held>>,
}

/// A reservation row.
#[derive(Clone)]
pub(super) struct Reserved {
    pub(super) id: String,
    pub(super) spend: Spend,
    pub(super) expires: u64,
}

/// A nonce lease row.
#[derive(Clone)]
pub(super) struct Held {
    pub(super) key: u64,
    pub(super) token: String,
    pub(super) expires: u64,
}

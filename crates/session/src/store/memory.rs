//! An in-memory [`SessionStore`]: one process, nothing durable. For tests and benchmarks.

use super::{
    judge, random_id, CallStart, NonceLease, Reservation, SentCall, SessionStore, StoredPending,
    StoredSession,
};
use crate::error::{Error, Result};
use alloy_primitives::{Address, U256};
use sesskey_account::Spend;
use sesskey_types::{Call, CallId, SessionId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

#[derive(Debug, Default)]
struct State {
    sessions: BTreeMap<SessionId, StoredSession>,
    reservations: HashMap<String, (Reservation, u64)>,
    leases: HashMap<(Address, u64, u64), (String, u64)>,
    sent: HashMap<CallId, (SentCall, u64)>,
    pending: HashMap<SessionId, StoredPending>,
}

/// Sessions in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl State {
    /// Reserves what `calls` and `gas` spend on `record`'s session until `now + ttl`.
    fn reserve(
        &mut self,
        record: &StoredSession,
        calls: &[Call],
        gas: U256,
        now: u64,
        ttl: u64,
    ) -> Result<Reservation> {
        let id = record.session.session_id;
        self.reservations.retain(|_, (_, expires)| *expires > now);
        let outstanding: Vec<Spend> = self
            .reservations
            .values()
            .filter(|(r, _)| r.session_id == id)
            .map(|(r, _)| r.spend.clone())
            .collect();
        let spend = judge(record, &outstanding, calls, gas, now)?;
        let reservation = Reservation { id: random_id(), session_id: id, spend };
        self.reservations
            .insert(reservation.id.clone(), (reservation.clone(), now.saturating_add(ttl)));
        Ok(reservation)
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn unknown(id: &SessionId) -> Error {
    Error::UnknownSession(id.to_string())
}

impl SessionStore for MemoryStore {
    async fn insert(&self, record: &StoredSession) -> Result<()> {
        let id = record.session.session_id;
        match self.lock().sessions.entry(id) {
            std::collections::btree_map::Entry::Occupied(_) => Err(Error::Exists(id.to_string())),
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(record.clone());
                Ok(())
            }
        }
    }

    async fn save(&self, record: &StoredSession) -> Result<()> {
        self.lock().sessions.insert(record.session.session_id, record.clone());
        Ok(())
    }

    async fn load(&self, id: &SessionId) -> Result<StoredSession> {
        self.lock().sessions.get(id).cloned().ok_or_else(|| unknown(id))
    }

    async fn list(&self) -> Result<Vec<StoredSession>> {
        Ok(self.lock().sessions.values().cloned().collect())
    }

    async fn remove(&self, id: &SessionId) -> Result<()> {
        let mut s = self.lock();
        s.reservations.retain(|_, (r, _)| r.session_id != *id);
        s.sessions.remove(id).map(|_| ()).ok_or_else(|| unknown(id))
    }

    async fn mark_revoked(&self, id: &SessionId) -> Result<()> {
        let mut s = self.lock();
        s.sessions.get_mut(id).ok_or_else(|| unknown(id))?.revoked = true;
        Ok(())
    }

    async fn reserve(
        &self,
        id: &SessionId,
        calls: &[Call],
        gas: U256,
        now: u64,
        ttl: u64,
    ) -> Result<Reservation> {
        let mut s = self.lock();
        let record = s.sessions.get(id).ok_or_else(|| unknown(id))?.clone();
        s.reserve(&record, calls, gas, now, ttl)
    }

    async fn begin_call(
        &self,
        id: &SessionId,
        calls: &[Call],
        now: u64,
        ttl: u64,
    ) -> Result<Option<CallStart>> {
        let mut s = self.lock();
        let record = s.sessions.get(id).ok_or_else(|| unknown(id))?.clone();
        // Judged first (a refusal leases nothing), as the SQL store does.
        let reservation = s.reserve(&record, calls, U256::ZERO, now, ttl)?;
        let (account, chain) = (record.session.account, record.session.chain_id.to());
        s.leases.retain(|_, (_, expires)| *expires > now);
        let free = |k: &u64| !s.leases.contains_key(&(account, chain, *k));
        let key = if record.installed {
            (1u64..).find(free).unwrap_or(u64::MAX)
        } else if free(&0) {
            0
        } else {
            s.reservations.remove(&reservation.id);
            return Ok(None);
        };
        let token = random_id();
        s.leases.insert((account, chain, key), (token.clone(), now.saturating_add(ttl)));
        let lease = NonceLease { account, chain_id: chain, key, token };
        Ok(Some(CallStart { record, reservation, lease }))
    }

    async fn end_call(
        &self,
        settled: &[(Reservation, Option<Spend>)],
        lease: &NonceLease,
        installed: Option<&SessionId>,
        _now: u64,
    ) -> Result<()> {
        let mut s = self.lock();
        for (r, spent) in settled {
            if spent.is_some() && !s.sessions.contains_key(&r.session_id) {
                return Err(unknown(&r.session_id));
            }
        }
        if let Some(id) = installed {
            s.sessions.get_mut(id).ok_or_else(|| unknown(id))?.installed = true;
        }
        for (r, spent) in settled {
            s.reservations.remove(&r.id);
            if let (Some(spent), Some(record)) = (spent, s.sessions.get_mut(&r.session_id)) {
                record.add_spend(spent);
            }
        }
        let k = (lease.account, lease.chain_id, lease.key);
        if s.leases.get(&k).is_some_and(|(t, _)| *t == lease.token) {
            s.leases.remove(&k);
        }
        Ok(())
    }

    async fn renew(
        &self,
        lease: &NonceLease,
        reservations: &[String],
        sent: Option<&CallId>,
        until: u64,
    ) -> Result<()> {
        let mut s = self.lock();
        let k = (lease.account, lease.chain_id, lease.key);
        if let Some((token, expires)) = s.leases.get_mut(&k) {
            if *token == lease.token {
                *expires = until;
            }
        }
        for id in reservations {
            if let Some((_, expires)) = s.reservations.get_mut(id) {
                *expires = until;
            }
        }
        if let Some((_, expires)) = sent.and_then(|c| s.sent.get_mut(c)) {
            *expires = until;
        }
        Ok(())
    }

    async fn save_pending(&self, pending: &StoredPending) -> Result<()> {
        let id = pending.pending.session_id;
        match self.lock().pending.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => Err(Error::Exists(id.to_string())),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(pending.clone());
                Ok(())
            }
        }
    }

    async fn load_pending(&self, id: &SessionId) -> Result<StoredPending> {
        self.lock().pending.get(id).cloned().ok_or_else(|| Error::UnknownPending(id.to_string()))
    }

    async fn remove_pending(&self, id: &SessionId) -> Result<()> {
        self.lock().pending.remove(id);
        Ok(())
    }

    async fn record_sent(&self, sent: &SentCall, until: u64) -> Result<()> {
        self.lock().sent.insert(sent.call_id.clone(), (sent.clone(), until));
        Ok(())
    }

    async fn forget_sent(&self, call_id: &CallId) -> Result<()> {
        self.lock().sent.remove(call_id);
        Ok(())
    }

    async fn claim_lapsed(&self, id: &SessionId, now: u64) -> Result<Vec<SentCall>> {
        let mut s = self.lock();
        let lapsed: Vec<CallId> = s
            .sent
            .iter()
            .filter(|(_, (c, expires))| c.session_id == *id && *expires <= now)
            .map(|(k, _)| k.clone())
            .collect();
        Ok(lapsed.iter().filter_map(|k| s.sent.remove(k)).map(|(c, _)| c).collect())
    }
}

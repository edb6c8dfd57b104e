//! Where sessions live: the [`SessionStore`] trait, and its implementations — [`SqlStore`] on
//! SQLite (embedded, the default) or PostgreSQL (shared by a fleet of workers), and
//! [`MemoryStore`] for tests and benchmarks.
//!
//! A store keeps each session, what it has spent, and where its key lives (never the key). It
//! reserves a call's spend atomically against the session's allowances, so workers sharing a
//! session can never pre-flight past an allowance together, and it leases the parallel nonce
//! keys of calls in flight, so two workers never send on the same key at once.
//!
//! A call's lease and reservations lapse unless its worker renews them
//! ([`SessionStore::renew`], every third of [`crate::DEFAULT_LEASE_SECS`] in
//! [`crate::SessionService`]); once the server acknowledged the call, the store also holds it as
//! a [`SentCall`] until it is settled. A worker killed mid-call therefore holds its session for
//! at most one lease, and the next call on the session takes its lapsed [`SentCall`]
//! ([`SessionStore::claim_lapsed`]) and settles it by its status on chain: the spend is never
//! forgotten. (A worker killed in the milliseconds between the server's acknowledgement and the
//! record leaves a call the store never learns of; one killed between settling and forgetting it
//! has it counted twice.)

mod folder;
mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

pub use folder::JsonFolder;
pub use memory::MemoryStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::SqlStore;

use crate::error::{Error, Result};
use crate::session::Session;
use alloy_primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use sesskey_account::Spend;
use sesskey_types::{Call, CallId, SessionId};
use std::future::Future;

/// Where a session key lives: the store names it, the caller resolves it to a signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum KeyLocation {
    /// An encrypted keystore file.
    Keystore {
        /// Its path.
        path: String,
    },
    /// A plain key file (0600): for tests and development only.
    PlainFile {
        /// Its path.
        path: String,
    },
    /// A signer outside the process (a KMS, a hardware wallet), by the caller's name for it.
    External {
        /// The name.
        name: String,
    },
}

/// A saved session, what it has spent, and where its key lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSession {
    /// The session.
    pub session: Session,
    /// Native value spent, in wei.
    pub spent_native: U256,
    /// ERC-20 amounts spent, by token.
    pub spent_erc20: Vec<(Address, U256)>,
    /// Gas spent, in wei.
    pub spent_gas: U256,
    /// Where the session key lives.
    #[serde(default)]
    pub key: Option<KeyLocation>,
    /// Revoked on chain: the store sends nothing more on its account.
    #[serde(default)]
    pub revoked: bool,
    /// Its first operation (which installs the key) was included.
    #[serde(default)]
    pub installed: bool,
    /// When the record was made (unix seconds; 0: not known, a record of an earlier version).
    #[serde(default)]
    pub created_at: u64,
}

impl StoredSession {
    /// A fresh record, made now: nothing spent yet.
    pub fn new(session: Session) -> Self {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        Self {
            created_at: now.map_or(0, |d| d.as_secs()),
            session,
            spent_native: U256::ZERO,
            spent_erc20: vec![],
            spent_gas: U256::ZERO,
            key: None,
            revoked: false,
            installed: false,
        }
    }

    /// With the key's location.
    pub fn with_key(mut self, key: KeyLocation) -> Self {
        self.key = Some(key);
        self
    }

    /// What was spent, for the policy engine.
    pub fn spent(&self) -> Spend {
        Spend {
            native: self.spent_native,
            erc20: self.spent_erc20.iter().copied().collect(),
            gas: self.spent_gas,
        }
    }

    /// Adds a batch's spend (saturating: budgets are bounded by their allowances anyway).
    pub fn add_spend(&mut self, spend: &Spend) {
        let mut total = self.spent();
        total.add(spend);
        self.set_spent(total);
    }

    fn set_spent(&mut self, total: Spend) {
        self.spent_native = total.native;
        self.spent_gas = total.gas;
        self.spent_erc20 = total.erc20.into_iter().collect();
    }
}

/// A call's spend, reserved against its session's allowances until settled or expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// Its id.
    pub id: String,
    /// The session.
    pub session_id: SessionId,
    /// What it reserves.
    pub spend: Spend,
}

/// A parallel nonce key leased to one call in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonceLease {
    /// The account.
    pub account: Address,
    /// The chain.
    pub chain_id: u64,
    /// The ModularAccountV2 parallel nonce key (never 0, the key of serial calls).
    pub key: u64,
    /// Proves the lease is this holder's.
    pub token: String,
}

/// A two-phase grant waiting for its owner's signature, and where its session key lives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPending {
    /// The verified request.
    pub pending: crate::PendingSession,
    /// Where its session key lives.
    #[serde(default)]
    pub key: Option<KeyLocation>,
}

/// A call its worker sent and has not settled yet ([`SessionStore::record_sent`]): what the
/// next call on the session needs to settle it from the chain if that worker stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentCall {
    /// The call id the server answered.
    pub call_id: CallId,
    /// The session.
    pub session_id: SessionId,
    /// What the call reserved.
    pub reservations: Vec<Reservation>,
    /// Its nonce key.
    pub lease: NonceLease,
    /// It is the session's first operation (which installs its key).
    pub installs: bool,
}

/// Sessions, budgets and nonce keys, shared by everything that sends on them.
///
/// Every method is atomic; a store that is unreachable or fails mid-call answers
/// [`Error::Store`], and the caller then signs and sends nothing.
pub trait SessionStore: Send + Sync {
    /// Stores a new session; refused with [`Error::Exists`] (nothing changed) when one of the
    /// same id is stored. A session just granted goes in this way, never through
    /// [`SessionStore::save`], so a server that answers an id already in use cannot replace a
    /// session, its key or its spend.
    fn insert(&self, record: &StoredSession) -> impl Future<Output = Result<()>> + Send;
    /// Saves a session (replacing one of the same id, spent budgets included).
    fn save(&self, record: &StoredSession) -> impl Future<Output = Result<()>> + Send;
    /// Loads a session.
    fn load(&self, id: &SessionId) -> impl Future<Output = Result<StoredSession>> + Send;
    /// Every session, by id.
    fn list(&self) -> impl Future<Output = Result<Vec<StoredSession>>> + Send;
    /// Removes a session and its reservations.
    fn remove(&self, id: &SessionId) -> impl Future<Output = Result<()>> + Send;
    /// Marks a session revoked: nothing more is reserved on it.
    fn mark_revoked(&self, id: &SessionId) -> impl Future<Output = Result<()>> + Send;
    /// Reserves what `calls` spend, and `gas` wei of gas, against the session's allowances,
    /// counting what it spent and every reservation outstanding; refused with
    /// [`Error::Preflight`] when they do not fit. The reservation lapses at `now + ttl`.
    fn reserve(
        &self,
        id: &SessionId,
        calls: &[Call],
        gas: U256,
        now: u64,
        ttl: u64,
    ) -> impl Future<Output = Result<Reservation>> + Send;
    /// Keeps a requested session until its owner signs it, where any worker can complete it;
    /// refused with [`Error::Exists`] when a request of the same id is pending.
    fn save_pending(&self, pending: &StoredPending) -> impl Future<Output = Result<()>> + Send;
    /// A pending request ([`Error::UnknownPending`] if none).
    fn load_pending(&self, id: &SessionId) -> impl Future<Output = Result<StoredPending>> + Send;
    /// Forgets a pending request (completed, or abandoned).
    fn remove_pending(&self, id: &SessionId) -> impl Future<Output = Result<()>> + Send;

    /// Keeps a call in flight alive until `until`: its nonce lease, its reservations and, once
    /// sent, its record. A worker renews them while it works on the call; one that stops lets
    /// them lapse within a lease.
    fn renew(
        &self,
        lease: &NonceLease,
        reservations: &[String],
        sent: Option<&CallId>,
        until: u64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Records a call the server acknowledged, until `until` unless renewed (and until
    /// [`SessionStore::forget_sent`] once settled).
    fn record_sent(&self, sent: &SentCall, until: u64) -> impl Future<Output = Result<()>> + Send;
    /// Forgets a sent call once it is settled.
    fn forget_sent(&self, call_id: &CallId) -> impl Future<Output = Result<()>> + Send;
    /// Takes the sent calls of session `id` whose worker stopped renewing them by `now`: each
    /// is the caller's alone to settle from the chain (another caller never gets it).
    fn claim_lapsed(
        &self,
        id: &SessionId,
        now: u64,
    ) -> impl Future<Output = Result<Vec<SentCall>>> + Send;

    /// Starts a call, atomically: loads the session, reserves what `calls` move, and leases a
    /// nonce key (the serial key 0 for a session's first op, which installs its key; else the
    /// smallest free parallel key from 1). `None`, with nothing changed, while another call
    /// holds the first op's key. The reservation and the lease lapse at `now + ttl` unless
    /// renewed ([`SessionStore::renew`]).
    fn begin_call(
        &self,
        id: &SessionId,
        calls: &[Call],
        now: u64,
        ttl: u64,
    ) -> impl Future<Output = Result<Option<CallStart>>> + Send;

    /// Ends a call, atomically: settles each reservation (`Some`: what it really spent, added
    /// to the session's; `None`: released), returns the nonce key, and marks the session
    /// installed when its first op was included (`installed`). `now` is the caller's clock.
    fn end_call(
        &self,
        settled: &[(Reservation, Option<Spend>)],
        lease: &NonceLease,
        installed: Option<&SessionId>,
        now: u64,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// What [`SessionStore::begin_call`] answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallStart {
    /// The session, as it was when the call began.
    pub record: StoredSession,
    /// What the calls move, reserved.
    pub reservation: Reservation,
    /// The call's nonce key.
    pub lease: NonceLease,
}

/// What `calls` spend given what was `spent` and `outstanding` reservations: the policy engine's
/// verdict, shared by every store.
pub(crate) fn judge(
    record: &StoredSession,
    outstanding: &[Spend],
    calls: &[Call],
    gas: U256,
    now: u64,
) -> Result<Spend> {
    if record.revoked {
        return Err(Error::Revoked(record.session.session_id.to_string()));
    }
    let mut used = record.spent();
    for r in outstanding {
        used.add(r);
    }
    Ok(record.session.policy().evaluate_worst_case(&used, now, calls, gas)?)
}

/// A fresh random id (reservations, lease tokens).
pub(crate) fn random_id() -> String {
    alloy_primitives::hex::encode(rand::random::<[u8; 16]>())
}

/// [`Spend`] as JSON text.
#[derive(Serialize, Deserialize)]
pub(crate) struct SpendJson {
    native: U256,
    erc20: Vec<(Address, U256)>,
    gas: U256,
}

impl From<&Spend> for SpendJson {
    fn from(s: &Spend) -> Self {
        Self {
            native: s.native,
            erc20: s.erc20.iter().map(|(k, v)| (*k, *v)).collect(),
            gas: s.gas,
        }
    }
}

impl From<SpendJson> for Spend {
    fn from(s: SpendJson) -> Self {
        Self { native: s.native, erc20: s.erc20.into_iter().collect(), gas: s.gas }
    }
}

/// A shared store is a store.
impl<T: SessionStore> SessionStore for std::sync::Arc<T> {
    async fn insert(&self, record: &StoredSession) -> Result<()> {
        (**self).insert(record).await
    }
    async fn save(&self, record: &StoredSession) -> Result<()> {
        (**self).save(record).await
    }
    async fn load(&self, id: &SessionId) -> Result<StoredSession> {
        (**self).load(id).await
    }
    async fn list(&self) -> Result<Vec<StoredSession>> {
        (**self).list().await
    }
    async fn remove(&self, id: &SessionId) -> Result<()> {
        (**self).remove(id).await
    }
    async fn mark_revoked(&self, id: &SessionId) -> Result<()> {
        (**self).mark_revoked(id).await
    }
    async fn reserve(
        &self,
        id: &SessionId,
        calls: &[Call],
        gas: U256,
        now: u64,
        ttl: u64,
    ) -> Result<Reservation> {
        (**self).reserve(id, calls, gas, now, ttl).await
    }
    async fn renew(
        &self,
        lease: &NonceLease,
        reservations: &[String],
        sent: Option<&CallId>,
        until: u64,
    ) -> Result<()> {
        (**self).renew(lease, reservations, sent, until).await
    }
    async fn record_sent(&self, sent: &SentCall, until: u64) -> Result<()> {
        (**self).record_sent(sent, until).await
    }
    async fn save_pending(&self, pending: &StoredPending) -> Result<()> {
        (**self).save_pending(pending).await
    }
    async fn load_pending(&self, id: &SessionId) -> Result<StoredPending> {
        (**self).load_pending(id).await
    }
    async fn remove_pending(&self, id: &SessionId) -> Result<()> {
        (**self).remove_pending(id).await
    }
    async fn forget_sent(&self, call_id: &CallId) -> Result<()> {
        (**self).forget_sent(call_id).await
    }
    async fn claim_lapsed(&self, id: &SessionId, now: u64) -> Result<Vec<SentCall>> {
        (**self).claim_lapsed(id, now).await
    }
    async fn begin_call(
        &self,
        id: &SessionId,
        calls: &[Call],
        now: u64,
        ttl: u64,
    ) -> Result<Option<CallStart>> {
        (**self).begin_call(id, calls, now, ttl).await
    }
    async fn end_call(
        &self,
        settled: &[(Reservation, Option<Spend>)],
        lease: &NonceLease,
        installed: Option<&SessionId>,
        now: u64,
    ) -> Result<()> {
        (**self).end_call(settled, lease, installed, now).await
    }
}

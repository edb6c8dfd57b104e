//! [`SessionService`]: the whole call for an app's backend, with the session in a store shared
//! by any number of workers: load → lease a nonce key → prepare → verify → reserve the spend →
//! sign → send → wait → settle → return the key.

use crate::error::{Error, Result};
use crate::orchestrator::{Orchestrator, Outcome};
use crate::store::{NonceLease, Reservation, SessionStore};
use alloy_primitives::U256;
use alloy_signer::Signer;
use sesskey_account::Spend;
use sesskey_rpc::WalletApiClient;
use sesskey_types::{Call, CallId, SessionId};
use std::time::Duration;
use tracing::Instrument;

/// How long a reservation or a nonce lease outlives a call that never comes back (seconds).
pub const DEFAULT_LEASE_SECS: u64 = 600;

/// What a stored call did.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredCall {
    /// The call id.
    pub call_id: CallId,
    /// How it ended.
    pub outcome: Outcome,
    /// What it was charged against the session's budgets.
    pub spent: Spend,
}

/// The service an app's backend runs: sessions in a [`SessionStore`], calls through an
/// [`Orchestrator`].
#[derive(Debug, Clone)]
pub struct SessionService<C, St> {
    flow: Orchestrator<C>,
    store: St,
    wait: Duration,
    lease_secs: u64,
}

impl<C: WalletApiClient + Send + Sync, St: SessionStore> SessionService<C, St> {
    /// A service over `flow` and `store`, waiting up to 60 s for a call's final status.
    pub const fn new(flow: Orchestrator<C>, store: St) -> Self {
        Self { flow, store, wait: Duration::from_secs(60), lease_secs: DEFAULT_LEASE_SECS }
    }

    /// How long to wait for a call's final status.
    pub const fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The store.
    pub const fn store(&self) -> &St {
        &self.store
    }

    /// The orchestrator.
    pub const fn orchestrator(&self) -> &Orchestrator<C> {
        &self.flow
    }

    /// Sends `calls` through the stored session `id`, signed by `key`, at time `now` (unix
    /// seconds), and waits for the outcome. The spend is reserved in the store before the key
    /// signs, so workers sharing the session never exceed an allowance together; each call in
    /// flight holds its own parallel nonce key. On any error nothing more is signed, and what
    /// was reserved or leased is given back (or lapses, if the outcome is unknown).
    pub async fn send_stored<S: Signer + Send + Sync>(
        &self,
        id: &SessionId,
        key: &S,
        calls: Vec<Call>,
        now: u64,
    ) -> Result<StoredCall> {
        let span = tracing::info_span!("send_stored", session = %id, call_id = tracing::field::Empty, user_op = tracing::field::Empty);
        async move {
            let record = self.store.load(id).await?;
            if record.revoked {
                return Err(Error::Revoked(id.to_string()));
            }
            let session = &record.session;
            // Quick refusal before any request (the store's reservation is the binding one).
            session.policy().evaluate(&record.spent(), now, &calls, U256::ZERO)?;
            let lease = self.lease(&record, now).await?;
            let result = self.send_leased(&record, key, calls, now, &lease).await;
            let released = self.store.release_nonce_key(&lease).await;
            let sent = result?;
            released?;
            Ok(sent)
        }
        .instrument(span)
        .await
    }

    /// Revokes the stored session `id` on chain ([`Orchestrator::revoke_session`], signed by
    /// `owner`) and marks it revoked in the store once the uninstall is confirmed.
    pub async fn revoke<S: Signer + Send + Sync>(
        &self,
        id: &SessionId,
        owner: &S,
    ) -> Result<Outcome> {
        let record = self.store.load(id).await?;
        let outcome = self.flow.revoke_session(owner, &record.session, self.wait).await?;
        if matches!(outcome, Outcome::Confirmed(_)) {
            self.store.mark_revoked(id).await?;
        }
        Ok(outcome)
    }

    /// A nonce key for this call: the session's first op (which installs the key) goes alone on
    /// the serial key 0; later ones each get a free parallel key.
    async fn lease(&self, record: &crate::StoredSession, now: u64) -> Result<NonceLease> {
        let s = &record.session;
        let chain: u64 = s.chain_id.to();
        if record.installed {
            return self
                .store
                .lease_nonce_key(s.account, chain, None, now, self.lease_secs)
                .await?
                .ok_or_else(|| Error::Store("no free nonce key".into()));
        }
        let start = std::time::Instant::now();
        let mut delay = Duration::from_millis(20);
        loop {
            if let Some(l) =
                self.store.lease_nonce_key(s.account, chain, Some(0), now, self.lease_secs).await?
            {
                return Ok(l);
            }
            // Another worker sends the first op; once it is in, parallel keys are open.
            if self.store.load(&s.session_id).await?.installed {
                return self
                    .store
                    .lease_nonce_key(s.account, chain, None, now, self.lease_secs)
                    .await?
                    .ok_or_else(|| Error::Store("no free nonce key".into()));
            }
            if start.elapsed() > self.wait {
                return Err(Error::Store(
                    "the session's first operation is still in flight".into(),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    async fn send_leased<S: Signer + Send + Sync>(
        &self,
        record: &crate::StoredSession,
        key: &S,
        calls: Vec<Call>,
        now: u64,
        lease: &NonceLease,
    ) -> Result<StoredCall> {
        let session = &record.session;
        let id = &session.session_id;
        let ttl = self.lease_secs;
        // What the calls move is reserved before anything is asked of the server; the gas the
        // account may pay is reserved once the prepared op says how much.
        let mut reserved = vec![self.store.reserve(id, &calls, U256::ZERO, now, ttl).await?];
        let result = async {
            let nonce_key = (lease.key != 0).then_some(lease.key);
            let prepared =
                self.flow.prepare_for_session(session, key.address(), calls, nonce_key).await?;
            if !prepared.max_gas_cost.is_zero() {
                reserved.push(self.store.reserve(id, &[], prepared.max_gas_cost, now, ttl).await?);
            }
            tracing::Span::current()
                .record("user_op", tracing::field::display(prepared.user_op_hash));
            self.flow.sign_and_send(session, key, prepared).await
        }
        .await;
        let (call_id, _) = match result {
            Ok(sent) => sent,
            Err(e) => {
                for r in &reserved {
                    self.store.settle(r, None).await?;
                }
                return Err(e);
            }
        };
        tracing::Span::current().record("call_id", tracing::field::display(&call_id.0));
        tracing::info!("sent");
        // Unknown outcome (a timeout): the reservations are kept until they lapse.
        let outcome = self.flow.wait_for_status(&call_id, self.wait).await?;
        let mut spent = Spend::default();
        for r in &reserved {
            spent.add(&self.settle(r, &outcome).await?);
        }
        if !record.installed && !matches!(outcome, Outcome::Dropped(_)) {
            self.store.mark_installed(id).await?;
        }
        tracing::info!(outcome = outcome_name(&outcome), "final");
        Ok(StoredCall { call_id, outcome, spent })
    }

    /// Confirmed: the reserved spend; reverted: its gas only (the execution hooks rolled back);
    /// dropped: nothing.
    async fn settle(&self, reservation: &Reservation, outcome: &Outcome) -> Result<Spend> {
        let spent = match outcome {
            Outcome::Confirmed(_) => reservation.spend.clone(),
            Outcome::Reverted(_) => Spend { gas: reservation.spend.gas, ..Default::default() },
            Outcome::Dropped(_) => {
                self.store.settle(reservation, None).await?;
                return Ok(Spend::default());
            }
        };
        self.store.settle(reservation, Some(&spent)).await?;
        Ok(spent)
    }
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Confirmed(_) => "confirmed",
        Outcome::Reverted(_) => "reverted",
        Outcome::Dropped(_) => "dropped",
    }
}

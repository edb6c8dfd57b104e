//! [`SessionService`]: the whole call for an app's backend, with the session in a store shared
//! by any number of workers: load → lease a nonce key → prepare → verify → reserve the spend →
//! sign → send → wait → settle → return the key.

use crate::error::{Error, Result};
use crate::orchestrator::{Orchestrator, Outcome};
use crate::store::{CallStart, Reservation, SessionStore};
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
    /// seconds), and waits for the outcome. The spend is reserved in the store before anything
    /// is asked of the server, so workers sharing the session never exceed an allowance
    /// together; each call in flight holds its own parallel nonce key (a session's first op,
    /// which installs its key, goes alone). On any error nothing more is signed, and what was
    /// reserved or leased is given back (or lapses, if the outcome is unknown).
    pub async fn send_stored<S: Signer + Send + Sync>(
        &self,
        id: &SessionId,
        key: &S,
        calls: Vec<Call>,
        now: u64,
    ) -> Result<StoredCall> {
        let (_keep, never) = tokio::sync::watch::channel(false);
        self.send_stored_until(id, key, calls, now, never).await
    }

    /// [`Self::send_stored`], stopped when `stop` turns `true` (a Ctrl-C, a SIGTERM) wherever
    /// stopping loses nothing: before the operation is signed, what the call reserved and
    /// leased is given back at once and [`Error::Interrupted`] answered; once it is signed and
    /// being sent, the call goes on to its final status and is settled as usual (the op may be
    /// on chain: giving its reservation back would forget a spend).
    pub async fn send_stored_until<S: Signer + Send + Sync>(
        &self,
        id: &SessionId,
        key: &S,
        calls: Vec<Call>,
        now: u64,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<StoredCall> {
        let span = tracing::info_span!(
            "send_stored",
            session = %id,
            call_id = tracing::field::Empty,
            user_op = tracing::field::Empty
        );
        async move {
            let mut stop = stop;
            let start = tokio::select! {
                start = self.begin(id, &calls, now) => start?,
                () = stopped(&mut stop) => return Err(Error::Interrupted),
            };
            let mut reserved = vec![start.reservation.clone()];
            let result = self.send_started(&start, key, calls, now, &mut reserved, &mut stop).await;
            let (call_id, outcome) = match result {
                Ok(done) => done,
                Err(e) => {
                    let released: Vec<_> = reserved.into_iter().map(|r| (r, None)).collect();
                    self.store.end_call(&released, &start.lease, None, now).await?;
                    return Err(e);
                }
            };
            let spent_each: Vec<(Reservation, Option<Spend>)> = reserved
                .into_iter()
                .map(|r| {
                    let s = charged(&r, &outcome);
                    (r, s)
                })
                .collect();
            let mut spent = Spend::default();
            for (_, s) in &spent_each {
                if let Some(s) = s {
                    spent.add(s);
                }
            }
            let installed =
                (!start.record.installed && !matches!(outcome, Outcome::Dropped(_))).then_some(id);
            self.store.end_call(&spent_each, &start.lease, installed, now).await?;
            tracing::info!(outcome = outcome_name(&outcome), "final");
            Ok(StoredCall { call_id, outcome, spent })
        }
        .instrument(span)
        .await
    }

    /// Revokes the stored session `id` on chain ([`Orchestrator::revoke_session`], signed by
    /// `owner`) and marks it revoked in the store once the uninstall is confirmed. A session the
    /// store already holds as revoked is [`Error::Revoked`], and nothing is signed or sent.
    pub async fn revoke<S: Signer + Send + Sync>(
        &self,
        id: &SessionId,
        owner: &S,
    ) -> Result<Outcome> {
        let account = crate::Account::Eip7702 { owner: owner.address() };
        self.revoke_of(id, owner, &account).await
    }

    /// [`Self::revoke`] for a session of `account`, of either kind (`owner` its owner).
    pub async fn revoke_of<S: Signer + Send + Sync>(
        &self,
        id: &SessionId,
        owner: &S,
        account: &crate::Account,
    ) -> Result<Outcome> {
        let record = self.store.load(id).await?;
        if record.revoked {
            return Err(Error::Revoked(id.to_string()));
        }
        let outcome =
            self.flow.revoke_session_of(owner, account, &record.session, self.wait).await?;
        if matches!(outcome, Outcome::Confirmed(_)) {
            self.store.mark_revoked(id).await?;
        }
        Ok(outcome)
    }

    /// Starts the call in the store; while another worker sends the session's first op, waits
    /// (the first op installs the key; parallel nonce keys open after it).
    async fn begin(&self, id: &SessionId, calls: &[Call], now: u64) -> Result<CallStart> {
        let started = std::time::Instant::now();
        let mut delay = Duration::from_millis(20);
        loop {
            if let Some(start) = self.store.begin_call(id, calls, now, self.lease_secs).await? {
                return Ok(start);
            }
            if started.elapsed() > self.wait {
                return Err(Error::Store(
                    "the session's first operation is still in flight".into(),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    /// Prepare, verify, reserve the gas, sign, send, wait.
    async fn send_started<S: Signer + Send + Sync>(
        &self,
        start: &CallStart,
        key: &S,
        calls: Vec<Call>,
        now: u64,
        reserved: &mut Vec<Reservation>,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<(CallId, Outcome)> {
        let session = &start.record.session;
        let nonce_key = (start.lease.key != 0).then_some(start.lease.key);
        // Nothing is signed while preparing: a stop gives everything back.
        let prepared = tokio::select! {
            p = self.flow.prepare_for_session(session, key.address(), calls, nonce_key) => p?,
            () = stopped(stop) => return Err(Error::Interrupted),
        };
        // The account pays the gas: held against the gas budget and, with the value, the native
        // allowance, atomically with every other worker's reservations.
        let policy = session.policy();
        let budgeted = policy.limits_gas() || policy.native_allowance().is_some();
        if !prepared.max_gas_cost.is_zero() && budgeted {
            let gas = self
                .store
                .reserve(&session.session_id, &[], prepared.max_gas_cost, now, self.lease_secs)
                .await?;
            reserved.push(gas);
        } else if let Some(first) = reserved.first_mut() {
            // No gas budget to hold it against: charged when the call ends, like the rest.
            first.spend.gas = first.spend.gas.saturating_add(prepared.max_gas_cost);
        }
        tracing::Span::current().record("user_op", tracing::field::display(prepared.user_op_hash));
        // The last moment a stop loses nothing: from here the op is signed and sent.
        if *stop.borrow() {
            return Err(Error::Interrupted);
        }
        let (call_id, _) = self.flow.sign_and_send(session, key, prepared).await?;
        tracing::Span::current().record("call_id", tracing::field::display(&call_id.0));
        tracing::info!("sent");
        let outcome = self.flow.wait_for_status(&call_id, self.wait).await?;
        Ok((call_id, outcome))
    }
}

/// Resolves once `stop` is `true` (never, if its sender is gone while it is `false`).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What a reservation is charged: confirmed, all of it; reverted, its gas only (the execution
/// hooks rolled back with the calls); dropped, nothing.
fn charged(r: &Reservation, outcome: &Outcome) -> Option<Spend> {
    match outcome {
        Outcome::Confirmed(_) => Some(r.spend.clone()),
        Outcome::Reverted(_) => Some(Spend { gas: r.spend.gas, ..Default::default() }),
        Outcome::Dropped(_) => None,
    }
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Confirmed(_) => "confirmed",
        Outcome::Reverted(_) => "reverted",
        Outcome::Dropped(_) => "dropped",
    }
}

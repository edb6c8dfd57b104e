//! [`SessionService`]: the whole call for an app's backend, with the session in a store shared
//! by any number of workers: load → lease a nonce key → prepare → verify → reserve the spend →
//! sign → send → wait → settle → return the key.

use crate::error::{Error, Result};
use crate::orchestrator::{Orchestrator, Outcome};
use crate::store::{CallStart, NonceLease, Reservation, SentCall, SessionStore};
use alloy_signer::Signer;
use sesskey_account::Spend;
use sesskey_rpc::WalletApiClient;
use sesskey_types::{Call, CallId, SessionId};
use std::time::Duration;
use tracing::Instrument;

/// How long a call's nonce lease, reservations and sent record outlive a worker that stopped
/// renewing them (seconds). A worker renews them every third of it while it works on the call
/// (waiting for its final status included), so a live call never lapses; one whose worker was
/// killed holds its session at most this long, and the next call then settles it from the chain.
pub const DEFAULT_LEASE_SECS: u64 = 30;

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

    /// How long a call outlives a worker that stopped ([`DEFAULT_LEASE_SECS`]; at least 1 s).
    pub const fn with_lease_secs(mut self, secs: u64) -> Self {
        self.lease_secs = if secs == 0 { 1 } else { secs };
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
    ///
    /// A worker killed outright (or whose wait times out) after the server acknowledged the
    /// call leaves it recorded in the store ([`SentCall`]); once its lease lapses, the next
    /// call on the session settles it from the chain by its call id before it starts.
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
            let clock = std::time::Instant::now();
            let mut stop = stop;
            let start = tokio::select! {
                start = self.begin(id, &calls, now) => start?,
                () = stopped(&mut stop) => return Err(Error::Interrupted),
            };
            let flight = Flight {
                reserved: std::sync::Mutex::new(vec![start.reservation.clone()]),
                sent: std::sync::Mutex::new(None),
            };
            let work = self.send_started(&start, key, calls, now, &flight, &mut stop);
            let result = tokio::select! {
                r = work => r,
                () = self.keep_alive(&start.lease, &flight, now, clock) => {
                    unreachable!("the heartbeat never ends")
                }
            };
            let (reserved, sent) = flight.into_parts();
            let now = now.saturating_add(clock.elapsed().as_secs());
            let (call_id, outcome) = match result {
                Ok(done) => done,
                Err(e) if sent.is_none() => {
                    // Nothing was sent: everything is given back.
                    let released: Vec<_> = reserved.into_iter().map(|r| (r, None)).collect();
                    self.store.end_call(&released, &start.lease, None, now).await?;
                    return Err(e);
                }
                // Sent, its outcome unknown: recorded, it lapses within a lease and the next
                // call on the session settles it from the chain.
                Err(e) => return Err(e),
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
            self.store.forget_sent(&call_id).await?;
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

    /// Starts the call in the store, after settling what stopped workers left on the session;
    /// while another worker sends the session's first op, waits (the first op installs the
    /// key; parallel nonce keys open after it) at most a lease more than the wait for a status.
    async fn begin(&self, id: &SessionId, calls: &[Call], now: u64) -> Result<CallStart> {
        let started = std::time::Instant::now();
        let mut delay = Duration::from_millis(20);
        let patience = self.wait.saturating_add(Duration::from_secs(self.lease_secs));
        loop {
            let at = now.saturating_add(started.elapsed().as_secs());
            self.settle_lapsed(id, at).await?;
            if let Some(start) = self.store.begin_call(id, calls, at, self.lease_secs).await? {
                return Ok(start);
            }
            if started.elapsed() > patience {
                return Err(Error::Store(
                    "the session's first operation is still in flight".into(),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    /// Settles the calls of session `id` whose workers stopped before settling them (their
    /// records lapsed by `now`): each by its final status on chain, as its worker would have.
    /// One still pending is renewed and left for later (its key stays held). Every call on a
    /// session does this first; a program that shows a session's spend does it too, so that
    /// what it shows counts what a killed worker spent.
    pub async fn settle_lapsed(&self, id: &SessionId, now: u64) -> Result<()> {
        for call in self.store.claim_lapsed(id, now).await? {
            let outcome = match self.flow.wait_for_status(&call.call_id, Duration::ZERO).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    // Not final yet, or not readable now: kept, held, for a later call.
                    let until = now.saturating_add(self.lease_secs);
                    let ids: Vec<String> = call.reservations.iter().map(|r| r.id.clone()).collect();
                    self.store.record_sent(&call, until).await?;
                    self.store.renew(&call.lease, &ids, Some(&call.call_id), until).await?;
                    tracing::info!(call_id = %call.call_id.0, error = %e, "a stopped worker's call is not final yet");
                    continue;
                }
            };
            let settled: Vec<(Reservation, Option<Spend>)> =
                call.reservations.iter().map(|r| (r.clone(), charged(r, &outcome))).collect();
            let installed =
                (call.installs && !matches!(outcome, Outcome::Dropped(_))).then_some(id);
            self.store.end_call(&settled, &call.lease, installed, now).await?;
            tracing::info!(
                call_id = %call.call_id.0,
                outcome = outcome_name(&outcome),
                "settled a call its worker left"
            );
        }
        Ok(())
    }

    /// Renews the call's lease, reservations and sent record every third of a lease, for as
    /// long as the call is worked on. Never ends.
    async fn keep_alive(
        &self,
        lease: &NonceLease,
        flight: &Flight,
        now: u64,
        clock: std::time::Instant,
    ) {
        let every = Duration::from_millis((self.lease_secs * 1000 / 3).max(200));
        loop {
            tokio::time::sleep(every).await;
            let until =
                now.saturating_add(clock.elapsed().as_secs()).saturating_add(self.lease_secs);
            let (ids, call) = flight.ids();
            if let Err(e) = self.store.renew(lease, &ids, call.as_ref(), until).await {
                tracing::warn!(error = %e, "renewing the call's lease");
            }
        }
    }

    /// Prepare, verify, reserve the gas, sign, send (recorded), wait.
    async fn send_started<S: Signer + Send + Sync>(
        &self,
        start: &CallStart,
        key: &S,
        calls: Vec<Call>,
        now: u64,
        flight: &Flight,
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
            flight.lock_reserved().push(gas);
        } else if let Some(first) = flight.lock_reserved().first_mut() {
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
        // Recorded at once: if this worker dies now, the next call settles it from the chain.
        let sent = SentCall {
            call_id: call_id.clone(),
            session_id: session.session_id,
            reservations: flight.lock_reserved().clone(),
            lease: start.lease.clone(),
            installs: !start.record.installed,
        };
        *flight.sent.lock().unwrap_or_else(|p| p.into_inner()) = Some(sent.clone());
        let until = now.saturating_add(self.lease_secs);
        if let Err(e) = self.store.record_sent(&sent, until).await {
            tracing::warn!(error = %e, "recording the sent call (it is settled here all the same)");
        }
        tracing::info!("sent");
        let outcome = self.flow.wait_for_status(&call_id, self.wait).await?;
        Ok((call_id, outcome))
    }
}

/// What a call in flight holds, shared with its heartbeat: its reservations, and the call once
/// sent.
struct Flight {
    reserved: std::sync::Mutex<Vec<Reservation>>,
    sent: std::sync::Mutex<Option<SentCall>>,
}

impl Flight {
    fn lock_reserved(&self) -> std::sync::MutexGuard<'_, Vec<Reservation>> {
        self.reserved.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The reservations' ids and the sent call's id.
    fn ids(&self) -> (Vec<String>, Option<CallId>) {
        let ids = self.lock_reserved().iter().map(|r| r.id.clone()).collect();
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        (ids, sent.as_ref().map(|s| s.call_id.clone()))
    }

    fn into_parts(self) -> (Vec<Reservation>, Option<SentCall>) {
        (
            self.reserved.into_inner().unwrap_or_else(|p| p.into_inner()),
            self.sent.into_inner().unwrap_or_else(|p| p.into_inner()),
        )
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

//! Group commit. The calls' starts and ends that reach a [`SqlStore`] while its writer task is
//! busy wait in a queue, then go together in one transaction of a few statements, however many
//! there are: one read of the sessions (locked), one of their reservations, one of the
//! accounts' leases, one insert of each kind, one delete of each kind, one update of the
//! sessions. Each caller gets its own answer after the commit (so what it was told is durable),
//! and a refusal (an allowance, a revoked session, a held key) is that caller's alone.
//!
//! A lease that another process took between our read and our insert (PostgreSQL, several
//! workers) sends its start round again, in the next transaction; a transaction that
//! PostgreSQL aborted for a deadlock or a serialization failure is run again whole.

use super::{
    account_text, judge, no_free_key, random_id, record_from, store, unknown, Db, Engine, Error,
    NonceLease, Reservation, Result, SpendJson, SqlStore, StoredSession, LEASE_TRIES,
};
use alloy_primitives::{Address, U256};
use sesskey_account::Spend;
use sesskey_types::{Call, SessionId};
use sqlx::{AnyConnection, Connection, Row};
use std::collections::{BTreeSet, HashMap, HashSet};
use tokio::sync::{mpsc, oneshot};

/// At most this many starts and ends in one transaction.
const MAX_BATCH: usize = 64;

/// How many times a transaction PostgreSQL aborted (deadlock, serialization) is run again.
const TRANSIENT_TRIES: usize = 3;

/// A call's start ([`SqlStore::begin_call`]), or a reservation alone ([`SqlStore::reserve`]).
#[derive(Debug)]
pub(super) struct Begin {
    id: SessionId,
    calls: Vec<Call>,
    gas: U256,
    now: u64,
    ttl: u64,
    /// Lease a nonce key too.
    lease: bool,
    /// Transactions it already went through without getting its key.
    tries: usize,
}

impl Begin {
    pub(super) const fn new(
        id: SessionId,
        calls: Vec<Call>,
        gas: U256,
        now: u64,
        ttl: u64,
        lease: bool,
    ) -> Self {
        Self { id, calls, gas, now, ttl, lease, tries: 0 }
    }
}

/// A call's end ([`SqlStore::end_call`]), or a settlement alone ([`SqlStore::settle`]).
#[derive(Debug)]
pub(super) struct End {
    pub(super) settled: Vec<(Reservation, Option<Spend>)>,
    pub(super) lease: Option<NonceLease>,
    pub(super) installed: Option<SessionId>,
    /// The caller's clock: the session's reservations lapsed by then are deleted.
    pub(super) now: u64,
}

/// What a begin got.
#[derive(Debug)]
pub(super) struct Started {
    pub(super) record: StoredSession,
    pub(super) reservation: Reservation,
    pub(super) lease: Option<NonceLease>,
}

/// `None`: the first op's key (0) is held by another call.
type BeginReply = oneshot::Sender<Result<Option<Started>>>;

/// A request to the writer task.
#[derive(Debug)]
pub(super) enum Op {
    Begin(Begin, BeginReply),
    End(End, oneshot::Sender<Result<()>>),
}

/// What a transaction did for one op.
enum Outcome {
    Began(Result<Option<Box<Started>>>),
    Ended(Result<()>),
    /// Another writer took the key chosen for it: go round again.
    Retry,
}

/// Why a whole transaction failed.
struct Failure {
    message: String,
    /// PostgreSQL aborted it (deadlock, serialization): running it again may succeed.
    transient: bool,
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.to_string());
        let transient = matches!(code.as_deref(), Some("40P01" | "40001"));
        Self { message: e.to_string(), transient }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self { message: e.to_string(), transient: false }
    }
}

fn stopped() -> Error {
    Error::Store("the store's writer has stopped".into())
}

/// Starts the writer of `db`; it ends when every sender is dropped.
///
/// With `own` (the database's URL), the writer runs on a thread of its own, with its own
/// connection: its turns never wait behind the process's other tasks (on a busy runtime, each
/// statement's answer would otherwise queue for a worker), and the transaction it holds is
/// short. Without, it is a task on the current runtime over `db`'s pool.
pub(super) async fn start(db: Db, own: Option<&str>) -> Result<mpsc::Sender<Op>> {
    let (tx, rx) = mpsc::channel(1024);
    let Some(url) = own else {
        tokio::spawn(writer(db, rx, false));
        return Ok(tx);
    };
    let url = url.to_string();
    let (ready, opened) = oneshot::channel();
    std::thread::Builder::new()
        .name("sesskey-store-writer".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    drop(ready.send(Err(Error::Store(format!("the store's writer: {e}")))));
                    return;
                }
            };
            rt.block_on(async move {
                match super::open_pool(&url, db.engine, Some(1)).await {
                    Ok(pool) => {
                        drop(ready.send(Ok(())));
                        writer(Db { pool, ..db }, rx, true).await;
                    }
                    Err(e) => drop(ready.send(Err(e))),
                }
            });
        })
        .map_err(|e| Error::Store(format!("the store's writer: {e}")))?;
    opened.await.map_err(|_| stopped())??;
    Ok(tx)
}

/// The writer's loop. With `keep`, it keeps its connection between transactions (it is the
/// only user of its pool).
async fn writer(db: Db, mut rx: mpsc::Receiver<Op>, keep: bool) {
    let mut again: Vec<Op> = vec![];
    let mut state = State {
        known: Known::new(),
        conn: None,
        keep,
        used: std::time::Instant::now(),
        statements: Statements::new(db.engine, false),
        guarded: Statements::new(db.engine, true),
        cache: None,
        prepared: false,
    };
    loop {
        if again.is_empty() {
            match rx.recv().await {
                Some(op) => again.push(op),
                None => return,
            }
        }
        let mut ops = std::mem::take(&mut again);
        while ops.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        again = db.run(ops, &mut state).await;
    }
}

impl SqlStore {
    pub(super) async fn submit_begin(&self, begin: Begin) -> Result<Option<Started>> {
        let (reply, answer) = oneshot::channel();
        self.ops.send(Op::Begin(begin, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    pub(super) async fn submit_end(&self, end: End) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.ops.send(Op::End(end, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// A session row read by the transaction, and what it changed in it.
struct Locked {
    record: StoredSession,
    spent_changed: bool,
    record_changed: bool,
}

type Sessions = HashMap<SessionId, std::result::Result<Locked, String>>;

fn is_zero(s: &Spend) -> bool {
    s.native.is_zero() && s.gas.is_zero() && s.erc20.values().all(U256::is_zero)
}

/// A time or a key as the database keeps it; times past `i64::MAX` (never, in practice) are
/// kept as `i64::MAX`.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn session_of<'a>(sessions: &'a Sessions, id: &SessionId) -> Result<&'a Locked> {
    match sessions.get(id) {
        Some(Ok(row)) => Ok(row),
        Some(Err(damaged)) => Err(Error::Store(damaged.clone())),
        None => Err(unknown(id)),
    }
}

/// What a transaction reads: the sessions judged or changed (every start's, every end's that
/// charges or installs, and those not yet known), the reservations of the sessions judged
/// (those with budgets), and the keys leased on the accounts of the starts (when known).
fn to_read(
    ops: &[Op],
    known: &Known,
) -> (BTreeSet<SessionId>, BTreeSet<SessionId>, BTreeSet<Address>) {
    let mut ids = BTreeSet::new();
    let mut judged = BTreeSet::new();
    let mut accounts = BTreeSet::new();
    for op in ops {
        match op {
            Op::Begin(b, _) => {
                ids.insert(b.id);
                match known.get(&b.id) {
                    Some(k) => {
                        if k.budgets {
                            judged.insert(b.id);
                        }
                        if b.lease {
                            accounts.insert(k.account);
                        }
                    }
                    None => {
                        judged.insert(b.id);
                    }
                }
            }
            Op::End(e, _) => {
                for (r, spent) in &e.settled {
                    let charged = spent.as_ref().is_some_and(|s| !is_zero(s));
                    if charged || !known.contains_key(&r.session_id) {
                        ids.insert(r.session_id);
                    }
                }
                ids.extend(e.installed);
            }
        }
    }
    (ids, judged, accounts)
}

/// What the ends of a transaction give back.
#[derive(Default)]
struct Freed<'a> {
    /// Reservation rows to delete.
    gone: HashSet<String>,
    /// Sessions whose lapsed reservations go too, lapsed by `by`.
    lapsed: BTreeSet<SessionId>,
    by: u64,
    released: Vec<&'a NonceLease>,
}

/// Applies the ends of `ops` to `sessions` (their spend and installed flag): each end's
/// outcome, in `outcomes`, and what they give back.
fn settle_ends<'a>(
    ops: &'a [Op],
    sessions: &mut Sessions,
    known: &Known,
    outcomes: &mut [Option<Outcome>],
) -> Freed<'a> {
    let mut freed = Freed { by: u64::MAX, ..Freed::default() };
    for (i, op) in ops.iter().enumerate() {
        let Op::End(end, _) = op else { continue };
        let checked: Result<()> = (|| {
            for (r, spent) in &end.settled {
                if spent.as_ref().is_some_and(|s| !is_zero(s)) {
                    session_of(sessions, &r.session_id)?;
                }
            }
            if let Some(id) = &end.installed {
                session_of(sessions, id)?;
            }
            Ok(())
        })();
        if checked.is_ok() {
            for (r, spent) in &end.settled {
                if let Some(spent) = spent.as_ref().filter(|s| !is_zero(s)) {
                    if let Some(Ok(row)) = sessions.get_mut(&r.session_id) {
                        row.record.add_spend(spent);
                        row.spent_changed = true;
                    }
                }
                // A session without budgets has no reservation rows.
                if known.get(&r.session_id).is_none_or(|k| k.budgets) {
                    freed.gone.insert(r.id.clone());
                    freed.lapsed.insert(r.session_id);
                    freed.by = freed.by.min(end.now);
                }
            }
            if let Some(Ok(row)) = end.installed.and_then(|id| sessions.get_mut(&id)) {
                if !row.record.installed {
                    row.record.installed = true;
                    row.record_changed = true;
                }
            }
            freed.released.extend(end.lease.iter());
        }
        outcomes[i] = Some(Outcome::Ended(checked));
    }
    freed
}

impl Db {
    /// Runs `ops` in one transaction and answers each; what must go round again is returned.
    async fn run(&self, ops: Vec<Op>, state: &mut State) -> Vec<Op> {
        let mut tries = 0;
        let outcomes = loop {
            match self.apply(&ops, state).await {
                Ok(outcomes) => break Ok(outcomes),
                Err(f) if f.transient && tries + 1 < TRANSIENT_TRIES => tries += 1,
                Err(f) => break Err(f.message),
            }
        };
        let outcomes = match outcomes {
            Ok(outcomes) => outcomes,
            Err(message) => {
                for op in ops {
                    match op {
                        Op::Begin(_, reply) => drop(reply.send(Err(Error::Store(message.clone())))),
                        Op::End(_, reply) => drop(reply.send(Err(Error::Store(message.clone())))),
                    }
                }
                return vec![];
            }
        };
        let mut again = vec![];
        for (op, outcome) in ops.into_iter().zip(outcomes) {
            match (op, outcome) {
                (Op::Begin(mut begin, reply), Outcome::Retry) => {
                    begin.tries += 1;
                    if begin.tries >= LEASE_TRIES {
                        drop(reply.send(Err(no_free_key())));
                    } else {
                        again.push(Op::Begin(begin, reply));
                    }
                }
                (Op::Begin(begin, reply), Outcome::Began(result)) => {
                    if let Err(Ok(Some(started))) = reply.send(result.map(|s| s.map(|s| *s))) {
                        // Its caller is gone: give back what it was granted.
                        let (orphan, _) = oneshot::channel();
                        let end = End {
                            settled: vec![(started.reservation, None)],
                            lease: started.lease,
                            installed: None,
                            now: begin.now,
                        };
                        again.push(Op::End(end, orphan));
                    }
                }
                (Op::End(_, reply), Outcome::Ended(result)) => drop(reply.send(result)),
                (Op::Begin(_, reply), Outcome::Ended(_)) => {
                    drop(reply.send(Err(Error::Store("a start answered as an end".into()))));
                }
                (Op::End(_, reply), _) => {
                    drop(reply.send(Err(Error::Store("an end answered as a start".into()))));
                }
            }
        }
        again
    }

    /// One transaction for all of `ops`: an outcome for each, in order.
    ///
    /// It reads once, judges in memory, then writes once. On SQLite each of those is one
    /// command to the connection's thread, `BEGIN IMMEDIATE` riding with the read and `COMMIT`
    /// with the writes; on PostgreSQL the statements go one by one inside a transaction.
    async fn apply(
        &self,
        ops: &[Op],
        state: &mut State,
    ) -> std::result::Result<Vec<Outcome>, Failure> {
        let mut conn = match state.conn.take() {
            // Idle a while, it may have been closed under us (a server restart): looked at
            // first, as the pool does, rather than failing the batch.
            Some(mut conn) if state.used.elapsed() > IDLE_CHECK => match conn.ping().await {
                Ok(()) => conn,
                Err(_) => {
                    conn.close_on_drop();
                    drop(conn);
                    state.prepared = false;
                    self.pool.acquire().await?
                }
            },
            Some(conn) => conn,
            None => {
                state.prepared = false;
                self.pool.acquire().await?
            }
        };
        let _turn = match self.engine {
            Engine::Sqlite => Some(self.writer.lock().await),
            Engine::Postgres => None,
        };
        let result = async {
            if !state.prepared && self.engine == Engine::Postgres {
                let sql = sqlx::AssertSqlSafe(state.statements.prepare());
                sqlx::raw_sql(sql).execute(&mut *conn).await?;
            }
            state.prepared = true;
            self.apply_on(&mut conn, ops, state).await
        }
        .await;
        if result.is_err() {
            // A transaction may be left open on it: never reuse it.
            conn.close_on_drop();
            state.prepared = false;
        } else if !state.keep {
            state.prepared = false;
        } else {
            state.conn = Some(conn);
            state.used = std::time::Instant::now();
        }
        result
    }

    async fn apply_on(
        &self,
        conn: &mut AnyConnection,
        ops: &[Op],
        state: &mut State,
    ) -> std::result::Result<Vec<Outcome>, Failure> {
        let sqlite = self.engine == Engine::Sqlite;
        // What to read: the sessions judged or changed (locked), the reservations of those
        // judged, and the keys leased on their accounts. A session seen before is known: its
        // account and whether it has budgets never change.
        let (ids, judged, accounts) = to_read(ops, &state.known);

        // SQLite, all of it in the writer's cache: judged on it, written in one command that
        // applies only if no other connection has committed since the cache was read. (Only
        // a writer with a connection of its own keeps a cache: the data version does not move
        // for commits on the writer's own connection, which an in-memory database shares with
        // the store's other methods.)
        if let Some(cache) = state.cache.as_ref().filter(|c| c.covers(&ids, &judged, &accounts)) {
            let version = cache.version;
            let read = cache.read_of(&ids, &judged, &accounts);
            let mut script = Script::guarded(version);
            script.plain("BEGIN IMMEDIATE");
            script.plain(VERSION);
            let done = self
                .decide(conn, &state.guarded, ops, &state.known, read, script, (true, true))
                .await?;
            if done.version == Some(version) {
                if let Some(cache) = state.cache.as_mut() {
                    cache.absorb(&done, &BTreeSet::new(), &BTreeSet::new());
                }
                if done.retried {
                    state.cache = None;
                }
                return Ok(done.outcomes);
            }
            // Another connection wrote: nothing was; read it all again.
            state.cache = None;
        }

        let mut begun = false;
        let mut read = Read::default();
        let mut version = None;
        if !(ids.is_empty() && judged.is_empty() && accounts.is_empty()) {
            let mut script = Script::new(self.engine);
            script.plain(if sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" });
            if sqlite {
                script.plain(VERSION);
            }
            begun = true;
            read_rows(&mut script, &state.statements, &ids, &judged, &accounts)?;
            let mut rows = script.fetch_all(conn).await?;
            if sqlite && !rows.is_empty() {
                version = Some(rows.remove(0).try_get::<i64, _>("v")?);
            }
            read = parse_read(rows, &ids, &judged, &accounts)?;
        }
        if state.known.len() > MAX_KNOWN {
            state.known.clear();
            state.cache = None;
        }
        for (id, row) in &read.sessions {
            if let Ok(row) = row {
                let s = &row.record.session;
                state
                    .known
                    .insert(*id, Session { account: s.account, budgets: s.policy().has_budgets() });
            }
        }
        // The keys of accounts seen for the first time.
        let first_seen: BTreeSet<Address> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Begin(b, _) if b.lease => state.known.get(&b.id).map(|k| k.account),
                _ => None,
            })
            .filter(|a| !accounts.contains(a))
            .collect();
        if !first_seen.is_empty() {
            let mut script = Script::new(self.engine);
            let none = BTreeSet::new();
            read_rows(&mut script, &state.statements, &none, &none, &first_seen)?;
            let rows = script.fetch_all(conn).await?;
            read.held.extend(parse_read(rows, &none, &none, &first_seen)?.held);
        }
        let script = Script::new(self.engine);
        let mut done = self
            .decide(conn, &state.statements, ops, &state.known, read, script, (begun, false))
            .await?;
        if sqlite {
            done.version = version;
            let mut cache = match state.cache.take() {
                Some(cache) if Some(cache.version) == version => cache,
                _ => Cache::new(version),
            };
            if cache.sessions.len() > MAX_KNOWN || done.retried || version.is_none() {
                cache = Cache::new(version);
            }
            let accounts: BTreeSet<Address> = accounts.union(&first_seen).copied().collect();
            cache.absorb(&done, &judged, &accounts);
            state.cache = version.filter(|_| state.keep).map(|_| cache);
        }
        Ok(done.outcomes)
    }

    /// Judges `ops` on `read` and writes what they do with `statements`, after what `script`
    /// holds already: the ends first (what they give back is free for the starts), then the
    /// starts one after the other, then the writes and the commit, as one command. With
    /// `begun`, the transaction is open (or opens in `script`); with `versioned`, `script`
    /// reads the data version first.
    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        conn: &mut AnyConnection,
        statements: &Statements,
        ops: &[Op],
        known: &Known,
        mut read: Read,
        mut script: Script,
        (mut begun, versioned): (bool, bool),
    ) -> std::result::Result<Done, Failure> {
        let mut outcomes: Vec<Option<Outcome>> = ops.iter().map(|_| None).collect();
        let freed = settle_ends(ops, &mut read.sessions, known, &mut outcomes);
        let tokens: HashSet<&str> = freed.released.iter().map(|l| l.token.as_str()).collect();
        for keys in read.held.values_mut() {
            keys.retain(|k| !tokens.contains(k.token.as_str()));
        }
        for (id, list) in read.reserved.iter_mut() {
            if let Ok(list) = list {
                let lapsed = freed.lapsed.contains(id);
                list.retain(|r| !(freed.gone.contains(&r.id) || lapsed && r.expires <= freed.by));
            }
        }
        let planned = start_calls(ops, &mut read, &mut outcomes);

        // The writes: what the ends free, the leases (a key another writer took since our
        // read is not ours: that start goes round again), the reservations (only of starts
        // that got their key), the sessions' spend and installed flag.
        write_rows(&mut script, statements, &freed, &planned, &read.sessions)?;
        if !begun && !script.is_empty() {
            script.prepend(match self.engine {
                Engine::Sqlite => "BEGIN IMMEDIATE",
                Engine::Postgres => "BEGIN",
            });
            begun = true;
        }
        let mut leased = HashSet::new();
        let mut version = None;
        if begun {
            script.plain("COMMIT");
            let mut rows = script.fetch_all(conn).await?.into_iter();
            if versioned {
                version = rows.next().map(|r| r.try_get::<i64, _>("v")).transpose()?;
            }
            for row in rows {
                leased.insert(row.try_get::<String, _>("token")?);
            }
        }
        let mut granted = vec![];
        let mut retried = false;
        for p in planned {
            let got = p.started.lease.as_ref().is_none_or(|l| leased.contains(&l.token));
            if got {
                if let Some(l) = &p.started.lease {
                    granted.push((l.clone(), p.expires));
                }
            } else {
                retried = true;
            }
            outcomes[p.op] = Some(if got {
                Outcome::Began(Ok(Some(Box::new(p.started))))
            } else {
                Outcome::Retry
            });
        }
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::Ended(Err(Error::Store("an op went unanswered".into())))))
            .collect();
        let released =
            freed.released.iter().map(|l| (l.account, l.chain_id, l.token.clone())).collect();
        Ok(Done {
            outcomes,
            read,
            granted,
            retried,
            version,
            gone: freed.gone,
            lapsed: (freed.lapsed, freed.by),
            released,
        })
    }
}

/// A start judged and granted a key, to be written.
struct Planned {
    /// Its op's index.
    op: usize,
    started: Started,
    /// When its reservation and lease lapse.
    expires: u64,
    /// Its caller's clock.
    now: u64,
}

/// Judges the starts of `ops`, one after the other, against what is spent, reserved and
/// leased in `read`, the earlier starts of this transaction included; refusals go to
/// `outcomes`.
fn start_calls(ops: &[Op], read: &mut Read, outcomes: &mut [Option<Outcome>]) -> Vec<Planned> {
    let mut taken: HashSet<(Address, u64, u64)> = HashSet::new();
    let mut planned = vec![];
    for (i, op) in ops.iter().enumerate() {
        let Op::Begin(begin, _) = op else { continue };
        let row = match session_of(&read.sessions, &begin.id) {
            Ok(row) => row,
            Err(e) => {
                outcomes[i] = Some(Outcome::Began(Err(e)));
                continue;
            }
        };
        let record = &row.record;
        let budgets = record.session.policy().has_budgets();
        let outstanding: Vec<Spend> = match read.reserved.get(&begin.id) {
            _ if !budgets => vec![],
            Some(Err(damaged)) => {
                outcomes[i] = Some(Outcome::Began(Err(Error::Store(damaged.clone()))));
                continue;
            }
            Some(Ok(list)) => {
                list.iter().filter(|r| r.expires > begin.now).map(|r| r.spend.clone()).collect()
            }
            None => vec![],
        };
        let spend = match judge(record, &outstanding, &begin.calls, begin.gas, begin.now) {
            Ok(spend) => spend,
            Err(e) => {
                outcomes[i] = Some(Outcome::Began(Err(e)));
                continue;
            }
        };
        let expires = begin.now.saturating_add(begin.ttl);
        let lease = if begin.lease {
            let s = &record.session;
            let chain: u64 = s.chain_id.to();
            let keys = read.held.entry((s.account, chain)).or_default();
            let busy = |k: u64| {
                taken.contains(&(s.account, chain, k))
                    || keys.iter().any(|h| h.key == k && h.expires > begin.now)
            };
            let key = if record.installed {
                (1..).find(|k| !busy(*k)).unwrap_or(u64::MAX)
            } else if busy(0) {
                outcomes[i] = Some(Outcome::Began(Ok(None)));
                continue;
            } else {
                0
            };
            taken.insert((s.account, chain, key));
            Some(NonceLease { account: s.account, chain_id: chain, key, token: random_id() })
        } else {
            None
        };
        let reservation = Reservation { id: random_id(), session_id: begin.id, spend };
        if budgets {
            if let Ok(list) = read.reserved.entry(begin.id).or_insert_with(|| Ok(vec![])) {
                list.push(Reserved {
                    id: reservation.id.clone(),
                    spend: reservation.spend.clone(),
                    expires,
                });
            }
        }
        let started = Started { record: record.clone(), reservation, lease };
        planned.push(Planned { op: i, started, expires, now: begin.now });
    }
    planned
}

/// The writer's statements, fixed text for each engine. Each takes its lists as one JSON
/// array: SQLite reads it with `json_each`, PostgreSQL with `json_array_elements`. SQLite
/// runs them with bound values (numbered across a command of several); PostgreSQL prepares
/// them once per connection and runs them by name, as a simple query of several.
struct Statements {
    /// The sessions (`$1`, locked), the reservations of the sessions `$2`, and the leases of
    /// the accounts `$3`, as one result (`kind`, then columns `a`, `b`, `c`, `x`, `y`, `z`).
    read: String,
    /// Deletes the reservations `$1`, and those of the sessions `$2` lapsed by `$3`.
    free: String,
    /// Returns the leases `$1` (`a`ccount, `c`hain, `k`ey, `t`oken), each only while it is
    /// still its holder's: the row stays, lapsed, for the key's next lease to take over.
    release: String,
    /// Leases the keys `$1` (with when each lapses, `e`), taking over any lapsed by `$2`:
    /// the tokens of those that are now ours.
    lease: String,
    /// Inserts the reservations `$1` (`i`d, `s`ession, s`p`end, `e`xpiry), each only if the
    /// lease it names (if any) is its own.
    reserve: String,
    /// Sets the spent amounts `$1` (`i`d, s`p`ent) and, where given, the record (`r`).
    spend: String,
}

/// The PostgreSQL names of the statements, in [`Statements::all`] order.
const NAMES: [&str; 6] = ["sk_read", "sk_free", "sk_release", "sk_lease", "sk_reserve", "sk_spend"];

impl Statements {
    fn new(engine: Engine, guarded: bool) -> Self {
        // `guard(n)`: SQLite, the writes of a transaction judged on the writer's cache apply
        // only if no other connection has committed since (`$n`: the data version then).
        let guard = |n: usize| {
            if guarded {
                format!(" AND (SELECT data_version FROM pragma_data_version) = ${n}")
            } else {
                String::new()
            }
        };
        // `list`: in a JSON array of text; `field_list`: in one field of a JSON array of
        // objects; `each`: the objects. PostgreSQL compares against an array, so that its
        // prepared (generic) plans look the keys up in the index whatever the table's size.
        type Render = fn(&str) -> String;
        type RenderField = fn(&str, &str) -> String;
        let (list, field_list, each, lock): (Render, RenderField, Render, &str) = match engine {
            Engine::Sqlite => (
                |p| format!("IN (SELECT value FROM json_each({p}))"),
                |p, f| format!("IN (SELECT value->>'{f}' FROM json_each({p}))"),
                |p| format!("json_each({p})"),
                "",
            ),
            Engine::Postgres => (
                |p| {
                    format!(
                        "= ANY(ARRAY(SELECT value FROM json_array_elements_text(CAST({p} AS json)) AS j(value)))"
                    )
                },
                |p, f| {
                    format!(
                        "= ANY(ARRAY(SELECT value->>'{f}' FROM json_array_elements(CAST({p} AS json)) AS j(value)))"
                    )
                },
                |p| format!("json_array_elements(CAST({p} AS json)) AS j(value)"),
                " FOR UPDATE",
            ),
        };
        Self {
            read: format!(
                "WITH s AS (SELECT id, record, spent, revoked FROM sessions WHERE id {} ORDER BY id{lock}) \
                 SELECT 's' AS kind, id AS a, record AS b, spent AS c, revoked AS x, \
                 CAST(0 AS BIGINT) AS y, CAST(0 AS BIGINT) AS z FROM s \
                 UNION ALL SELECT 'r', id, session_id, spend, expires_at, CAST(0 AS BIGINT), \
                 CAST(0 AS BIGINT) FROM reservations WHERE session_id {} \
                 UNION ALL SELECT 'l', account, token, CAST(NULL AS TEXT), chain_id, nonce_key, \
                 expires_at FROM nonce_leases WHERE account {}",
                list("$1"),
                list("$2"),
                list("$3")
            ),
            free: format!(
                "DELETE FROM reservations WHERE (id {} OR (session_id {} AND expires_at <= $3)){}",
                list("$1"),
                list("$2"),
                guard(4)
            ),
            release: format!(
                "UPDATE nonce_leases SET expires_at = 0 WHERE account {} \
                 AND (account, chain_id, nonce_key, token) IN \
                 (SELECT value->>'a', CAST(value->>'c' AS BIGINT), CAST(value->>'k' AS BIGINT), \
                 value->>'t' FROM {}){}",
                field_list("$1", "a"),
                each("$1"),
                guard(2)
            ),
            lease: format!(
                "INSERT INTO nonce_leases (account, chain_id, nonce_key, token, expires_at) \
                 SELECT value->>'a', CAST(value->>'c' AS BIGINT), CAST(value->>'k' AS BIGINT), \
                 value->>'t', CAST(value->>'e' AS BIGINT) FROM {} WHERE true{} \
                 ON CONFLICT (account, chain_id, nonce_key) \
                 DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at \
                 WHERE nonce_leases.expires_at <= $2 RETURNING token",
                each("$1"),
                guard(3)
            ),
            reserve: format!(
                "INSERT INTO reservations (id, session_id, spend, expires_at) \
                 SELECT value->>'i', value->>'s', value->>'p', CAST(value->>'e' AS BIGINT) FROM {} \
                 WHERE (value->>'t' IS NULL OR EXISTS (SELECT 1 FROM nonce_leases l \
                 WHERE l.account = value->>'a' AND l.chain_id = CAST(value->>'c' AS BIGINT) \
                 AND l.nonce_key = CAST(value->>'k' AS BIGINT) AND l.token = value->>'t')){}",
                each("$1"),
                guard(2)
            ),
            spend: format!(
                "UPDATE sessions SET \
                 spent = COALESCE((SELECT value->>'p' FROM {each} WHERE value->>'i' = sessions.id), spent), \
                 record = COALESCE((SELECT value->>'r' FROM {each} WHERE value->>'i' = sessions.id), record) \
                 WHERE id {}{}",
                field_list("$1", "i"),
                guard(2),
                each = each("$1")
            ),
        }
    }

    fn all(&self) -> [&str; 6] {
        [&self.read, &self.free, &self.release, &self.lease, &self.reserve, &self.spend]
    }

    /// PostgreSQL: prepares every statement on a connection, as one simple query.
    fn prepare(&self) -> String {
        NAMES
            .iter()
            .zip(self.all())
            .map(|(name, sql)| format!("PREPARE {name} AS {sql}"))
            .collect::<Vec<_>>()
            .join(";\n")
    }
}

/// A value a statement takes.
enum Arg {
    Text(String),
    Int(i64),
}

/// Statements and their values, run as one command.
///
/// On SQLite the values are bound (the statements' `$n` numbered across the command). On PostgreSQL the command is a simple query of `EXECUTE`s of the prepared
/// statements, each text value written in dollar quotes under a tag drawn at random for the
/// script (a value that holds the tag refuses the script), each integer as its digits.
struct Script {
    sql: String,
    binds: Vec<Arg>,
    /// PostgreSQL: the dollar-quote tag.
    tag: Option<String>,
    /// A value held the tag.
    tainted: bool,
    /// SQLite: the data version the writes are guarded by (they take it last).
    guard: Option<i64>,
}

impl Script {
    fn new(engine: Engine) -> Self {
        let tag = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(format!("$sk{}$", random_id())),
        };
        Self { sql: String::new(), binds: vec![], tag, tainted: false, guard: None }
    }

    /// SQLite: writes that apply only while the data version is `version`.
    fn guarded(version: i64) -> Self {
        Self { guard: Some(version), ..Self::new(Engine::Sqlite) }
    }

    /// Appends a statement without values.
    fn plain(&mut self, sql: &str) {
        if !self.sql.is_empty() {
            self.sql.push_str(";\n");
        }
        self.sql.push_str(sql);
    }

    /// Appends statement `which` of `statements` with `args`.
    fn run(&mut self, statements: &Statements, which: usize, args: Vec<Arg>) {
        match self.tag.clone() {
            Some(tag) => {
                let args: Vec<String> = args
                    .into_iter()
                    .map(|a| match a {
                        Arg::Text(v) => {
                            self.tainted |= v.contains(tag.as_str());
                            format!("{tag}{v}{tag}")
                        }
                        Arg::Int(v) => v.to_string(),
                    })
                    .collect();
                self.plain(&format!("EXECUTE {}({})", NAMES[which], args.join(", ")));
            }
            None => {
                let sql = numbered(statements.all()[which], self.binds.len());
                self.plain(&sql);
                self.binds.extend(args);
                if let (Some(version), true) = (self.guard, which > 0) {
                    self.binds.push(Arg::Int(version));
                }
            }
        }
    }

    /// Puts a statement without values first.
    fn prepend(&mut self, sql: &str) {
        self.sql = format!("{sql};\n{}", self.sql);
    }

    fn is_empty(&self) -> bool {
        self.sql.is_empty()
    }

    /// Runs it: the rows of every statement.
    async fn fetch_all(
        self,
        conn: &mut AnyConnection,
    ) -> std::result::Result<Vec<sqlx::any::AnyRow>, Failure> {
        if self.tainted {
            return Err(Failure {
                message: "a value holds the script's quoting tag".into(),
                transient: false,
            });
        }
        let sql = sqlx::AssertSqlSafe(self.sql);
        if self.tag.is_some() {
            return Ok(sqlx::raw_sql(sql).fetch_all(&mut *conn).await?);
        }
        let mut q = sqlx::query(sql);
        for b in self.binds {
            q = match b {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
            };
        }
        Ok(q.fetch_all(&mut *conn).await?)
    }
}

/// A statement's `$1`, `$2`, … renumbered from `offset + 1`: the values of all the statements
/// of one SQLite command are numbered together. (`$NNN` is a name to SQLite, which sqlx reads
/// as the value's number; `?NNN` would be a slot number, and leave the slots before it
/// unnamed, which sqlx fills in order.)
fn numbered(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = 0usize;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n * 10 + d as usize;
                chars.next();
            }
            out.push_str(&format!("${}", n + offset));
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON array of `items`.
fn json_list<T: serde::Serialize>(items: &[T]) -> std::result::Result<Arg, Failure> {
    Ok(Arg::Text(serde_json::to_string(items).map_err(store)?))
}

/// The read of a transaction: the sessions `ids` (locked), the reservations of the sessions
/// `judged`, and the keys leased on `accounts`.
fn read_rows(
    s: &mut Script,
    statements: &Statements,
    ids: &BTreeSet<SessionId>,
    judged: &BTreeSet<SessionId>,
    accounts: &BTreeSet<Address>,
) -> std::result::Result<(), Failure> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let judged: Vec<String> = judged.iter().map(ToString::to_string).collect();
    let accounts: Vec<String> = accounts.iter().map(account_text).collect();
    s.run(statements, 0, vec![json_list(&ids)?, json_list(&judged)?, json_list(&accounts)?]);
    Ok(())
}

/// What [`read_rows`] read. A row that does not parse is kept as the error it is, for the ops
/// that need it.
fn parse_read(
    rows: Vec<sqlx::any::AnyRow>,
    ids: &BTreeSet<SessionId>,
    judged: &BTreeSet<SessionId>,
    accounts: &BTreeSet<Address>,
) -> std::result::Result<Read, Failure> {
    let mut read = Read::default();
    let session_ids: HashMap<String, SessionId> =
        ids.iter().chain(judged).map(|id| (id.to_string(), *id)).collect();
    let account_of: HashMap<String, Address> =
        accounts.iter().map(|a| (account_text(a), *a)).collect();
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let a: String = row.try_get("a")?;
        let b: String = row.try_get("b")?;
        let c: Option<String> = row.try_get("c")?;
        let x: i64 = row.try_get("x")?;
        let (y, z): (i64, i64) = (row.try_get("y")?, row.try_get("z")?);
        match kind.as_str() {
            "s" => {
                let Some(id) = session_ids.get(&a) else { continue };
                let parsed = record_from(&b, c.as_deref().unwrap_or_default(), x)
                    .map(|record| Locked { record, spent_changed: false, record_changed: false })
                    .map_err(|e| e.to_string());
                read.sessions.insert(*id, parsed);
            }
            "r" => {
                let Some(id) = session_ids.get(&b) else { continue };
                let spend =
                    super::parse::<SpendJson>(c.as_deref().unwrap_or_default(), "reservation");
                let entry = read.reserved.entry(*id).or_insert_with(|| Ok(vec![]));
                match (spend, entry.as_mut()) {
                    (Ok(spend), Ok(list)) => {
                        list.push(Reserved { id: a, spend: spend.into(), expires: time(x) });
                    }
                    (Err(e), Ok(_)) => *entry = Err(e.to_string()),
                    (_, Err(_)) => {}
                }
            }
            _ => {
                let Some(account) = account_of.get(&a) else { continue };
                // Chains and keys are written from u64s: a negative one is not ours.
                let (Ok(chain), Ok(key)) = (u64::try_from(x), u64::try_from(y)) else {
                    continue;
                };
                read.held.entry((*account, chain)).or_default().push(Held {
                    key,
                    token: b,
                    expires: time(z),
                });
            }
        }
    }
    Ok(read)
}

#[derive(serde::Serialize)]
struct LeaseRow<'a> {
    a: String,
    c: i64,
    k: i64,
    t: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<i64>,
}

impl<'a> LeaseRow<'a> {
    fn of(l: &'a NonceLease, expires: Option<u64>) -> Self {
        Self {
            a: account_text(&l.account),
            c: int(l.chain_id),
            k: int(l.key),
            t: &l.token,
            e: expires.map(int),
        }
    }
}

/// The writes of a transaction, in order: what the ends free, the leases (a key another
/// writer took since our read is not ours: that start goes round again), the reservations
/// (only of starts that got their key), the sessions' spend and installed flag.
fn write_rows(
    s: &mut Script,
    statements: &Statements,
    freed: &Freed<'_>,
    planned: &[Planned],
    sessions: &Sessions,
) -> std::result::Result<(), Failure> {
    if !freed.gone.is_empty() {
        let gone: Vec<&String> = freed.gone.iter().collect();
        let lapsed: Vec<String> = freed.lapsed.iter().map(ToString::to_string).collect();
        s.run(statements, 1, vec![json_list(&gone)?, json_list(&lapsed)?, Arg::Int(int(freed.by))]);
    }
    if !freed.released.is_empty() {
        let rows: Vec<LeaseRow<'_>> =
            freed.released.iter().map(|l| LeaseRow::of(l, None)).collect();
        s.run(statements, 2, vec![json_list(&rows)?]);
    }
    // In key order, so that two writers never wait on each other's rows crosswise.
    let mut leases: Vec<(&NonceLease, u64, u64)> = planned
        .iter()
        .filter_map(|p| p.started.lease.as_ref().map(|l| (l, p.expires, p.now)))
        .collect();
    leases.sort_by_key(|(l, _, _)| (l.account, l.chain_id, l.key));
    if let Some(now) = leases.iter().map(|(_, _, now)| *now).min() {
        let rows: Vec<LeaseRow<'_>> =
            leases.iter().map(|(l, expires, _)| LeaseRow::of(l, Some(*expires))).collect();
        s.run(statements, 3, vec![json_list(&rows)?, Arg::Int(int(now))]);
    }
    let mut reservations = vec![];
    for p in planned.iter().filter(|p| p.started.record.session.policy().has_budgets()) {
        let r = &p.started.reservation;
        let mut row = serde_json::json!({
            "i": r.id,
            "s": r.session_id.to_string(),
            "p": serde_json::to_string(&SpendJson::from(&r.spend)).map_err(store)?,
            "e": int(p.expires),
        });
        if let (Some(l), Some(obj)) = (&p.started.lease, row.as_object_mut()) {
            obj.insert("a".into(), account_text(&l.account).into());
            obj.insert("c".into(), int(l.chain_id).into());
            obj.insert("k".into(), int(l.key).into());
            obj.insert("t".into(), l.token.clone().into());
        }
        reservations.push(row);
    }
    if !reservations.is_empty() {
        s.run(statements, 4, vec![json_list(&reservations)?]);
    }
    let mut changed = vec![];
    for (id, row) in sessions.iter().filter_map(|(id, r)| r.as_ref().ok().map(|r| (id, r))) {
        if !(row.spent_changed || row.record_changed) {
            continue;
        }
        let mut entry = serde_json::json!({
            "i": id.to_string(),
            "p": serde_json::to_string(&SpendJson::from(&row.record.spent())).map_err(store)?,
        });
        if let (true, Some(obj)) = (row.record_changed, entry.as_object_mut()) {
            obj.insert("r".into(), serde_json::to_string(&row.record).map_err(store)?.into());
        }
        changed.push(entry);
    }
    if !changed.is_empty() {
        s.run(statements, 5, vec![json_list(&changed)?]);
    }
    Ok(())
}

/// SQLite: the data version (the first row of a command that reads it).
const VERSION: &str = "SELECT data_version AS v FROM pragma_data_version";

/// What a transaction did.
struct Done {
    outcomes: Vec<Outcome>,
    /// What it read, as it left it.
    read: Read,
    /// The leases it took, with when each lapses.
    granted: Vec<(NonceLease, u64)>,
    /// A start did not get the key it was judged to get.
    retried: bool,
    /// SQLite: the data version it was judged at.
    version: Option<i64>,
    /// The reservations the ends freed: these ids, and those of the sessions `lapsed` by
    /// `by`; and the leases they returned (account, chain, token).
    gone: HashSet<String>,
    lapsed: (BTreeSet<SessionId>, u64),
    released: Vec<(Address, u64, String)>,
}

/// SQLite: sessions, reservations and leases as the writer last read and wrote them, which is
/// how the database holds them while no other connection commits (`PRAGMA data_version`
/// stays `version`). Writes judged on it are guarded by that version.
struct Cache {
    version: i64,
    sessions: HashMap<SessionId, StoredSession>,
    /// Every reservation of these sessions.
    reserved: HashMap<SessionId, Vec<Reserved>>,
    /// Accounts whose every lease is in `held`.
    accounts: HashSet<Address>,
    held: HashMap<(Address, u64), Vec<Held>>,
}

impl Cache {
    fn new(version: Option<i64>) -> Self {
        Self {
            version: version.unwrap_or_default(),
            sessions: HashMap::new(),
            reserved: HashMap::new(),
            accounts: HashSet::new(),
            held: HashMap::new(),
        }
    }

    /// Whether it holds all a transaction reads.
    fn covers(
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
    fn read_of(
        &self,
        ids: &BTreeSet<SessionId>,
        judged: &BTreeSet<SessionId>,
        accounts: &BTreeSet<Address>,
    ) -> Read {
        let mut read = Read::default();
        for id in ids {
            if let Some(record) = self.sessions.get(id) {
                let locked =
                    Locked { record: record.clone(), spent_changed: false, record_changed: false };
                read.sessions.insert(*id, Ok(locked));
            }
        }
        for id in judged {
            if let Some(list) = self.reserved.get(id) {
                read.reserved.insert(*id, Ok(list.clone()));
            }
        }
        for ((account, chain), list) in &self.held {
            if accounts.contains(account) {
                read.held.insert((*account, *chain), list.clone());
            }
        }
        read
    }

    /// Takes in what a committed transaction left: the rows it read whole (the sessions, the
    /// reservations of those `judged`, the leases of `accounts`) as it changed them.
    fn absorb(&mut self, done: &Done, judged: &BTreeSet<SessionId>, accounts: &BTreeSet<Address>) {
        for (id, row) in &done.read.sessions {
            match row {
                Ok(row) => {
                    self.sessions.insert(*id, row.record.clone());
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
            if let Some(list) = self.held.get_mut(&(*account, *chain)) {
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
                self.held.insert((*account, *chain), list.clone());
            }
        }
        for (lease, expires) in &done.granted {
            if self.accounts.contains(&lease.account) {
                let list = self.held.entry((lease.account, lease.chain_id)).or_default();
                list.retain(|h| h.key != lease.key);
                list.push(Held { key: lease.key, token: lease.token.clone(), expires: *expires });
            }
        }
    }
}

/// What one transaction read.
#[derive(Default)]
struct Read {
    sessions: Sessions,
    /// Reservations by session, or why their rows are damaged.
    reserved: HashMap<SessionId, std::result::Result<Vec<Reserved>, String>>,
    /// Leased keys by account and chain.
    held: HashMap<(Address, u64), Vec<Held>>,
}

/// A reservation row.
#[derive(Clone)]
struct Reserved {
    id: String,
    spend: Spend,
    expires: u64,
}

/// A nonce lease row.
#[derive(Clone)]
struct Held {
    key: u64,
    token: String,
    expires: u64,
}

/// What never changes in a session: its account, and whether it has budgets.
struct Session {
    account: Address,
    budgets: bool,
}

/// What the writer keeps between transactions.
struct State {
    known: Known,
    /// Its connection, when it keeps it.
    conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    keep: bool,
    /// The statements, and whether the connection has them prepared (PostgreSQL).
    statements: Statements,
    prepared: bool,
    /// SQLite: the writes guarded by the data version, and what they are judged on.
    guarded: Statements,
    cache: Option<Cache>,
    /// When it last used its connection.
    used: std::time::Instant,
}

/// How long the writer's connection may sit idle before it is checked before use.
const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// The sessions the writer has seen (forgotten past [`MAX_KNOWN`]).
type Known = HashMap<SessionId, Session>;

/// How many sessions the writer remembers before it starts afresh.
const MAX_KNOWN: usize = 100_000;

/// A time as the database keeps it (a negative one is long past).
fn time(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{numbered, Arg, Engine, Script, Statements};

    #[test]
    fn postgres_values_are_quoted_under_the_scripts_tag() {
        let statements = Statements::new(Engine::Postgres, false);
        let mut s = Script::new(Engine::Postgres);
        let tag = s.tag.clone().unwrap();
        assert!(tag.starts_with("$sk") && tag.ends_with('$'));
        s.run(
            &statements,
            1,
            vec![Arg::Text("it's $1; DROP".into()), Arg::Text("[]".into()), Arg::Int(-7)],
        );
        assert_eq!(s.sql, format!("EXECUTE sk_free({tag}it's $1; DROP{tag}, {tag}[]{tag}, -7)"));
        assert!(s.binds.is_empty() && !s.tainted);
        // A value that holds the tag would end the quote: the script is refused.
        s.run(&statements, 2, vec![Arg::Text(format!("x{tag}; DELETE FROM sessions; --"))]);
        assert!(s.tainted);
        assert_ne!(Script::new(Engine::Postgres).tag, Some(tag), "a tag per script");
        assert!(statements.prepare().starts_with("PREPARE sk_read AS WITH s AS"));
    }

    #[test]
    fn sqlite_values_are_bound_in_order() {
        let statements = Statements::new(Engine::Sqlite, false);
        let mut s = Script::new(Engine::Sqlite);
        s.plain("BEGIN IMMEDIATE");
        s.run(&statements, 3, vec![Arg::Text("[]".into()), Arg::Int(5)]);
        assert!(s.sql.starts_with("BEGIN IMMEDIATE;\nINSERT INTO nonce_leases"));
        s.run(&statements, 5, vec![Arg::Text("[]".into())]);
        assert!(s.sql.contains("<= $2 RETURNING") && s.sql.matches("json_each($3)").count() == 3);
        assert_eq!(s.binds.len(), 3);
        assert_eq!(numbered("a = $1 AND b <= $12, '$x' $1", 4), "a = $5 AND b <= $16, '$x' $5");
    }
}

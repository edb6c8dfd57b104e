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
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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
    let mut state =
        State { known: Known::new(), conn: None, keep, used: std::time::Instant::now() };
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
                    self.pool.acquire().await?
                }
            },
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        let _turn = match self.engine {
            Engine::Sqlite => Some(self.writer.lock().await),
            Engine::Postgres => None,
        };
        let result = self.apply_on(&mut conn, ops, &mut state.known).await;
        if result.is_err() {
            // A transaction may be left open on it: never reuse it.
            conn.close_on_drop();
        } else if state.keep {
            state.conn = Some(conn);
            state.used = std::time::Instant::now();
        }
        result
    }

    async fn apply_on(
        &self,
        conn: &mut AnyConnection,
        ops: &[Op],
        known: &mut Known,
    ) -> std::result::Result<Vec<Outcome>, Failure> {
        let mut outcomes: Vec<Option<Outcome>> = ops.iter().map(|_| None).collect();
        let begin = match self.engine {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            Engine::Postgres => "BEGIN",
        };

        // One read: the sessions judged or changed (locked), the reservations of those
        // judged, and the keys leased on their accounts. A session seen before is known: its
        // account and whether it has budgets never change.
        let (ids, judged, accounts) = to_read(ops, known);
        let mut begun = false;
        let mut read = Read::default();
        if !(ids.is_empty() && judged.is_empty() && accounts.is_empty()) {
            let mut script = Script::new(self.engine);
            script.statement(begin.into());
            begun = true;
            read_rows(&mut script, self.engine, &ids, &judged, &accounts);
            read = parse_read(script.fetch_all(conn).await?, &ids, &judged, &accounts)?;
        }
        if known.len() > MAX_KNOWN {
            known.clear();
        }
        for (id, row) in &read.sessions {
            if let Ok(row) = row {
                let s = &row.record.session;
                known
                    .insert(*id, Session { account: s.account, budgets: s.policy().has_budgets() });
            }
        }
        // The keys of accounts seen for the first time.
        let first_seen: BTreeSet<Address> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Begin(b, _) if b.lease => known.get(&b.id).map(|k| k.account),
                _ => None,
            })
            .filter(|a| !accounts.contains(a))
            .collect();
        if !first_seen.is_empty() {
            let mut script = Script::new(self.engine);
            let none = BTreeSet::new();
            read_rows(&mut script, self.engine, &none, &none, &first_seen);
            let rows = script.fetch_all(conn).await?;
            read.held.extend(parse_read(rows, &none, &none, &first_seen)?.held);
        }

        // Ends first: what they give back is free for the starts.
        let freed = settle_ends(ops, &mut read.sessions, known, &mut outcomes);
        let tokens: HashSet<&str> = freed.released.iter().map(|l| l.token.as_str()).collect();
        for keys in read.held.values_mut() {
            keys.retain(|k| !tokens.contains(k.token.as_str()));
        }
        for list in read.reserved.values_mut().filter_map(|l| l.as_mut().ok()) {
            list.retain(|r| !freed.gone.contains(&r.id));
        }
        let planned = start_calls(ops, &mut read, &mut outcomes);

        // The writes, in order, and the commit, as one command: what the ends free, the
        // leases (a key another writer took since our read is not ours: that start goes
        // round again), the reservations (only of starts that got their key), the sessions'
        // spend and installed flag.
        let mut script = Script::new(self.engine);
        delete_reservations(&mut script, &freed);
        release_leases(&mut script, &freed.released);
        let lease_now = planned.iter().filter(|p| p.started.lease.is_some()).map(|p| p.now).min();
        insert_leases(&mut script, &planned, lease_now.unwrap_or(0));
        insert_reservations(&mut script, &planned);
        update_sessions(&mut script, &read.sessions)?;
        if !begun && !script.is_empty() {
            script.prepend(begin);
            begun = true;
        }
        let mut leased = HashSet::new();
        if begun {
            script.statement("COMMIT".into());
            for row in script.fetch_all(conn).await? {
                leased.insert(row.try_get::<String, _>("token")?);
            }
        }
        for p in planned {
            let got = p.started.lease.as_ref().is_none_or(|l| leased.contains(&l.token));
            outcomes[p.op] = Some(if got {
                Outcome::Began(Ok(Some(Box::new(p.started))))
            } else {
                Outcome::Retry
            });
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::Ended(Err(Error::Store("an op went unanswered".into())))))
            .collect())
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

/// A value bound to a statement.
enum Bind {
    Text(String),
    Int(i64),
}

/// SQL text and its values: one statement, or several run as one command.
///
/// On SQLite the values are bound (`$n` placeholders, numbered across the statements). On
/// PostgreSQL, whose bound statements go one per round trip, the script is sent as one simple
/// query instead, each text value written inside dollar quotes under a tag drawn at random for
/// the script (a value that holds the tag refuses the script), each integer as its digits.
struct Script {
    sql: String,
    binds: Vec<Bind>,
    /// PostgreSQL: the dollar-quote tag.
    tag: Option<String>,
    /// A value held the tag.
    tainted: bool,
}

impl Script {
    fn new(engine: Engine) -> Self {
        let tag = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(format!("$sk{}$", random_id())),
        };
        Self { sql: String::new(), binds: vec![], tag, tainted: false }
    }

    /// A text value: its placeholder, or its quoted literal.
    fn text(&mut self, v: String) -> String {
        match &self.tag {
            Some(tag) => {
                self.tainted |= v.contains(tag.as_str());
                format!("{tag}{v}{tag}")
            }
            None => {
                self.binds.push(Bind::Text(v));
                format!("${}", self.binds.len())
            }
        }
    }

    /// An integer: its placeholder, or its digits.
    fn int(&mut self, v: i64) -> String {
        if self.tag.is_some() {
            return v.to_string();
        }
        self.binds.push(Bind::Int(v));
        format!("${}", self.binds.len())
    }

    /// Text values, comma-separated.
    fn texts(&mut self, vs: impl IntoIterator<Item = String>) -> String {
        vs.into_iter().map(|v| self.text(v)).collect::<Vec<_>>().join(", ")
    }

    /// Appends a statement (built from fixed text and what [`text`](Self::text) and
    /// [`int`](Self::int) answered).
    fn statement(&mut self, sql: String) {
        if !self.sql.is_empty() {
            self.sql.push_str(";\n");
        }
        self.sql.push_str(&sql);
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
                Bind::Text(v) => q.bind(v),
                Bind::Int(v) => q.bind(v),
            };
        }
        Ok(q.fetch_all(&mut *conn).await?)
    }
}

/// The read of a transaction: the sessions `ids` (locked, in id order), the reservations of
/// the sessions `judged`, and the keys leased on `accounts` (every chain), as one result.
fn read_rows(
    s: &mut Script,
    engine: Engine,
    ids: &BTreeSet<SessionId>,
    judged: &BTreeSet<SessionId>,
    accounts: &BTreeSet<Address>,
) {
    let mut with = String::new();
    let mut branches = vec![];
    if !ids.is_empty() {
        let lock = if engine == Engine::Postgres { " FOR UPDATE" } else { "" };
        let list = s.texts(ids.iter().map(ToString::to_string));
        with = format!(
            "WITH s AS (SELECT id, record, spent, revoked FROM sessions WHERE id IN ({list}) ORDER BY id{lock}) "
        );
        branches.push(
            "SELECT 's' AS kind, id AS a, record AS b, spent AS c, revoked AS x, \
             CAST(0 AS BIGINT) AS y, CAST(0 AS BIGINT) AS z FROM s"
                .to_string(),
        );
    }
    if !judged.is_empty() {
        let list = s.texts(judged.iter().map(ToString::to_string));
        branches.push(format!(
            "SELECT 'r' AS kind, id AS a, session_id AS b, spend AS c, expires_at AS x, \
             CAST(0 AS BIGINT) AS y, CAST(0 AS BIGINT) AS z FROM reservations WHERE session_id IN ({list})"
        ));
    }
    if !accounts.is_empty() {
        let list = s.texts(accounts.iter().map(account_text));
        branches.push(format!(
            "SELECT 'l' AS kind, account AS a, token AS b, CAST(NULL AS TEXT) AS c, \
             chain_id AS x, nonce_key AS y, expires_at AS z FROM nonce_leases WHERE account IN ({list})"
        ));
    }
    if !branches.is_empty() {
        s.statement(format!("{with}{}", branches.join(" UNION ALL ")));
    }
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

/// Deletes the reservations the ends gave back, and their sessions' lapsed ones.
fn delete_reservations(s: &mut Script, freed: &Freed<'_>) {
    if freed.gone.is_empty() {
        return;
    }
    let mut sql =
        format!("DELETE FROM reservations WHERE id IN ({})", s.texts(freed.gone.iter().cloned()));
    if !freed.lapsed.is_empty() {
        let list = s.texts(freed.lapsed.iter().map(ToString::to_string));
        let by = s.int(int(freed.by));
        sql.push_str(&format!(" OR (session_id IN ({list}) AND expires_at <= {by})"));
    }
    s.statement(sql);
}

/// Returns the leases `released` (each only while it is still its holder's). The row stays,
/// lapsed, for the key's next lease to take over: updated in place, never a new index entry.
fn release_leases(s: &mut Script, released: &[&NonceLease]) {
    if released.is_empty() {
        return;
    }
    let mut conds = vec![];
    for l in released {
        conds.push(format!(
            "(account = {} AND chain_id = {} AND nonce_key = {} AND token = {})",
            s.text(account_text(&l.account)),
            s.int(int(l.chain_id)),
            s.int(int(l.key)),
            s.text(l.token.clone())
        ));
    }
    s.statement(format!("UPDATE nonce_leases SET expires_at = 0 WHERE {}", conds.join(" OR ")));
}

/// Inserts the planned leases, taking over any that lapsed by `now`; answers the tokens of
/// those that are now ours.
fn insert_leases(s: &mut Script, planned: &[Planned], now: u64) {
    let mut leases: Vec<(&NonceLease, u64)> =
        planned.iter().filter_map(|p| p.started.lease.as_ref().map(|l| (l, p.expires))).collect();
    if leases.is_empty() {
        return;
    }
    // In key order, so that two writers never wait on each other's rows crosswise.
    leases.sort_by_key(|(l, _)| (l.account, l.chain_id, l.key));
    let mut rows = vec![];
    for (l, expires) in leases {
        rows.push(format!(
            "({}, {}, {}, {}, {})",
            s.text(account_text(&l.account)),
            s.int(int(l.chain_id)),
            s.int(int(l.key)),
            s.text(l.token.clone()),
            s.int(int(expires))
        ));
    }
    let now = s.int(int(now));
    s.statement(format!(
        "INSERT INTO nonce_leases (account, chain_id, nonce_key, token, expires_at) VALUES {} \
         ON CONFLICT (account, chain_id, nonce_key) \
         DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at \
         WHERE nonce_leases.expires_at <= {now} RETURNING token",
        rows.join(", ")
    ));
}

/// Inserts the reservations of the planned starts with budgets, each only if its start got
/// its key.
fn insert_reservations(s: &mut Script, planned: &[Planned]) {
    let mut rows = vec![];
    for p in planned.iter().filter(|p| p.started.record.session.policy().has_budgets()) {
        let r = &p.started.reservation;
        let Ok(spend) = serde_json::to_string(&SpendJson::from(&r.spend)) else { continue };
        let mut row = format!(
            "SELECT {}, {}, {}, {}",
            s.text(r.id.clone()),
            s.text(r.session_id.to_string()),
            s.text(spend),
            s.int(int(p.expires))
        );
        if let Some(l) = &p.started.lease {
            row.push_str(&format!(
                " WHERE EXISTS (SELECT 1 FROM nonce_leases WHERE account = {} AND chain_id = {} \
                 AND nonce_key = {} AND token = {})",
                s.text(account_text(&l.account)),
                s.int(int(l.chain_id)),
                s.int(int(l.key)),
                s.text(l.token.clone())
            ));
        }
        rows.push(row);
    }
    if !rows.is_empty() {
        s.statement(format!(
            "INSERT INTO reservations (id, session_id, spend, expires_at) {}",
            rows.join(" UNION ALL ")
        ));
    }
}

/// Writes back what the ends changed: the spent amounts, and the record where a key got
/// installed. One statement for every session.
fn update_sessions(s: &mut Script, sessions: &Sessions) -> std::result::Result<(), Failure> {
    let changed: BTreeMap<SessionId, &Locked> = sessions
        .iter()
        .filter_map(|(id, r)| r.as_ref().ok().map(|r| (*id, r)))
        .filter(|(_, r)| r.spent_changed || r.record_changed)
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let mut spent_cases = String::new();
    let mut record_cases = String::new();
    let mut ids = vec![];
    for (id, row) in &changed {
        let at = s.text(id.to_string());
        let spent =
            s.text(serde_json::to_string(&SpendJson::from(&row.record.spent())).map_err(store)?);
        spent_cases.push_str(&format!(" WHEN {at} THEN {spent}"));
        if row.record_changed {
            let record = s.text(serde_json::to_string(&row.record).map_err(store)?);
            record_cases.push_str(&format!(" WHEN {at} THEN {record}"));
        }
        ids.push(at);
    }
    let mut sql = format!("UPDATE sessions SET spent = CASE id{spent_cases} ELSE spent END");
    if !record_cases.is_empty() {
        sql.push_str(&format!(", record = CASE id{record_cases} ELSE record END"));
    }
    sql.push_str(&format!(" WHERE id IN ({})", ids.join(", ")));
    s.statement(sql);
    Ok(())
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
struct Reserved {
    id: String,
    spend: Spend,
    expires: u64,
}

/// A nonce lease row.
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
    use super::{Engine, Script};

    #[test]
    fn postgres_values_are_quoted_under_the_scripts_tag() {
        let mut s = Script::new(Engine::Postgres);
        let tag = s.tag.clone().unwrap();
        assert!(tag.starts_with("$sk") && tag.ends_with('$'));
        assert_eq!(s.text("it's $1; DROP".into()), format!("{tag}it's $1; DROP{tag}"));
        assert_eq!(s.int(-7), "-7");
        assert!(s.binds.is_empty() && !s.tainted);
        // A value that holds the tag would end the quote: the script is refused.
        s.text(format!("x{tag}; DELETE FROM sessions; --"));
        assert!(s.tainted);
        assert_ne!(Script::new(Engine::Postgres).tag, Some(tag), "a tag per script");
    }

    #[test]
    fn sqlite_values_are_bound() {
        let mut s = Script::new(Engine::Sqlite);
        assert_eq!(s.text("a".into()), "$1");
        assert_eq!(s.int(2), "$2");
        assert_eq!(s.texts(["b".to_string(), "c".to_string()]), "$3, $4");
        s.statement("SELECT 1".into());
        s.statement("SELECT 2".into());
        s.prepend("BEGIN IMMEDIATE");
        assert_eq!(s.sql, "BEGIN IMMEDIATE;\nSELECT 1;\nSELECT 2");
    }
}

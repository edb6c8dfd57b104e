//! Group commit. The calls' starts and ends that reach a [`SqlStore`] while its writer is busy
//! wait in a queue, then go together in one transaction, however many there are: one read
//! (the sessions, locked; their reservations; their accounts' leases), judged in memory (ends
//! first, then each start against what the earlier ones took), then the writes and the commit
//! as one command. Each caller gets its own answer after the commit (so what it was told is
//! durable), and a refusal (an allowance, a revoked session, a held key, a damaged row) is that
//! caller's alone. A caller gone before its answer holds nothing: what it was granted is given
//! back in the next transaction.
//!
//! On SQLite, the writer calls a connection of its own on its own thread, keeps what it read
//! and wrote ([`cache`]) and judges on it while no other connection has committed (the data
//! version, read once the transaction holds the write lock), so that a transaction reads
//! nothing but that version. On PostgreSQL its statements are prepared once per connection
//! ([`statements`]). A lease that another process took between our read and our insert sends
//! its start round again, in the next transaction; a transaction that PostgreSQL aborted for a
//! deadlock or a serialization failure is run again whole.

use super::{
    no_free_key, Db, Engine, Error, NonceLease, Reservation, Result, SqlStore, StoredSession,
    LEASE_TRIES,
};
use alloy_primitives::{Address, U256};
use sesskey_account::Spend;
use sesskey_types::{Call, SessionId};
use sqlx::Connection;
use std::collections::{BTreeSet, HashMap, HashSet};
use tokio::sync::{mpsc, oneshot};

mod cache;
mod judge;
mod statements;

use cache::{Cache, Read};
pub(super) use judge::int;
use judge::{settle_ends, start_calls, to_read, Freed, Planned, Wants};
use statements::{open_lite, parse_read, read_rows, write_rows, Conn, Script, Statements, VERSION};

/// At most this many starts and ends in one transaction.
const MAX_BATCH: usize = 64;

/// How many times a transaction PostgreSQL aborted (deadlock, serialization) is run again.
const TRANSIENT_TRIES: usize = 3;

/// A call's start ([`SessionStore::begin_call`](crate::SessionStore::begin_call)), or a reservation alone ([`SessionStore::reserve`](crate::SessionStore::reserve)).
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

/// A call's end ([`SessionStore::end_call`](crate::SessionStore::end_call)), or a settlement alone ([`SessionStore::settle`](crate::SessionStore::settle)).
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
/// short. On SQLite that connection is called directly on the writer's thread (rusqlite, on
/// the same SQLite library as sqlx's), with no hop to a connection thread per command. Without
/// `own`, the writer is a task on the current runtime over `db`'s pool.
pub(super) async fn start(db: Db, own: Option<&str>) -> Result<mpsc::Sender<Op>> {
    let (tx, rx) = mpsc::channel(1024);
    let Some(url) = own else {
        tokio::spawn(writer(db, rx, false, None));
        return Ok(tx);
    };
    let lite = match db.engine {
        Engine::Sqlite => Some(sqlite_path(url)?),
        Engine::Postgres => None,
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
                if let Some(path) = lite {
                    // Opened once here, so that a file it cannot open fails the store's
                    // opening rather than its first call.
                    match open_lite(&path) {
                        Ok(conn) => {
                            drop(ready.send(Ok(())));
                            writer(db, rx, true, Some((path, conn))).await;
                        }
                        Err(e) => {
                            drop(ready.send(Err(Error::Store(format!(
                                "the store's writer: {}",
                                e.message
                            )))))
                        }
                    }
                    return;
                }
                match super::open_pool(&url, db.engine, Some(1)).await {
                    Ok(pool) => {
                        drop(ready.send(Ok(())));
                        writer(Db { pool, ..db }, rx, true, None).await;
                    }
                    Err(e) => drop(ready.send(Err(e))),
                }
            });
        })
        .map_err(|e| Error::Store(format!("the store's writer: {e}")))?;
    opened.await.map_err(|_| stopped())??;
    Ok(tx)
}

/// The file of a SQLite URL, as sqlx reads it.
#[cfg(feature = "sqlite")]
fn sqlite_path(url: &str) -> Result<std::path::PathBuf> {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| Error::Store(format!("the SQLite URL: {e}")))?;
    Ok(options.get_filename().to_path_buf())
}

/// Without the `sqlite` feature a SQLite URL never gets this far ([`super::SqlStore::connect`]).
#[cfg(not(feature = "sqlite"))]
fn sqlite_path(url: &str) -> Result<std::path::PathBuf> {
    Err(Error::Store(format!("this build has no SQLite (the `sqlite` feature): {url}")))
}

/// The writer's loop. With `keep`, it keeps its connection between transactions (it is the
/// only user of its pool).
/// With `lite`, the writer's own SQLite connection (and the file's path, to open it again).
async fn writer(
    db: Db,
    mut rx: mpsc::Receiver<Op>,
    keep: bool,
    lite: Option<(std::path::PathBuf, Conn)>,
) {
    let mut again: Vec<Op> = vec![];
    let (lite, conn) = lite.map_or((None, None), |(path, conn)| (Some(path), Some(conn)));
    let mut state = State {
        known: Known::new(),
        conn,
        lite,
        keep,
        used: std::time::Instant::now(),
        statements: Statements::new(db.engine),
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

/// What a session row held when the transaction read it: its spend and its installed flag.
type AsRead = HashMap<SessionId, (Spend, bool)>;

/// The session rows a transaction read (locked), or why each is damaged.
type Sessions = HashMap<SessionId, std::result::Result<StoredSession, String>>;

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
    /// It reads once, judges in memory, then writes once, `BEGIN` riding with the read and
    /// `COMMIT` with the writes: on PostgreSQL each is one round trip; on the writer's own
    /// SQLite connection, statements called one after the other on its thread.
    async fn apply(
        &self,
        ops: &[Op],
        state: &mut State,
    ) -> std::result::Result<Vec<Outcome>, Failure> {
        let mut conn = match state.conn.take() {
            // Idle a while, it may have been closed under us (a server restart): looked at
            // first, as the pool does, rather than failing the batch.
            Some(Conn::Pool(mut conn)) if state.used.elapsed() > IDLE_CHECK => {
                match conn.ping().await {
                    Ok(()) => Conn::Pool(conn),
                    Err(_) => {
                        conn.close_on_drop();
                        drop(conn);
                        state.prepared = false;
                        self.connect(state.lite.clone().as_deref()).await?
                    }
                }
            }
            Some(conn) => conn,
            None => {
                state.prepared = false;
                self.connect(state.lite.clone().as_deref()).await?
            }
        };
        let _turn = match self.engine {
            Engine::Sqlite => Some(self.writer.lock().await),
            Engine::Postgres => None,
        };
        let result = async {
            if let (false, Engine::Postgres, Conn::Pool(conn)) =
                (state.prepared, self.engine, &mut conn)
            {
                let sql = sqlx::AssertSqlSafe(state.statements.prepare());
                sqlx::raw_sql(sql).execute(&mut **conn).await?;
            }
            state.prepared = true;
            self.apply_on(&mut conn, ops, state).await
        }
        .await;
        if result.is_err() {
            // A transaction may be left open on it: never reuse it (a connection of our own
            // closed rolls back what it left open).
            #[cfg_attr(not(feature = "sqlite"), allow(irrefutable_let_patterns))]
            if let Conn::Pool(conn) = &mut conn {
                conn.close_on_drop();
            }
            state.prepared = false;
        } else if !state.keep {
            state.prepared = false;
        } else {
            state.conn = Some(conn);
            state.used = std::time::Instant::now();
        }
        result
    }

    /// A connection for the writer: its own SQLite connection, or one from the pool.
    async fn connect(&self, lite: Option<&std::path::Path>) -> std::result::Result<Conn, Failure> {
        match lite {
            Some(path) => open_lite(path),
            None => Ok(Conn::Pool(self.pool.acquire().await?)),
        }
    }

    async fn apply_on(
        &self,
        conn: &mut Conn,
        ops: &[Op],
        state: &mut State,
    ) -> std::result::Result<Vec<Outcome>, Failure> {
        // What to read: the sessions judged or changed (locked), the reservations of those
        // judged, and the keys leased on their accounts. A session seen before is known: its
        // account and whether it has budgets never change.
        let wants = to_read(ops, &state.known);
        if let Some(outcomes) = self.on_cache(conn, ops, state, &wants).await? {
            return Ok(outcomes);
        }
        self.read_and_decide(conn, ops, state, wants).await
    }

    /// SQLite, with all `wants` in the writer's cache: once the transaction holds the write
    /// lock, judged on the cache if no other connection has committed since it was read.
    /// `None` when the cache does not cover it, or turns out stale (then the transaction is
    /// rolled back untouched, and the cache dropped).
    async fn on_cache(
        &self,
        conn: &mut Conn,
        ops: &[Op],
        state: &mut State,
        (ids, judged, accounts): &Wants,
    ) -> std::result::Result<Option<Vec<Outcome>>, Failure> {
        let Some(cache) = state.cache.as_ref().filter(|c| c.covers(ids, judged, accounts)) else {
            return Ok(None);
        };
        let version = cache.version;
        let read = cache.read_of(ids, judged, accounts);
        let mut script = Script::new(Engine::Sqlite);
        script.plain("BEGIN IMMEDIATE");
        script.plain(VERSION);
        let now =
            script.fetch_all(conn).await?.first().map(|r| r.int("data_version")).transpose()?;
        if now != Some(version) {
            let mut script = Script::new(Engine::Sqlite);
            script.plain("ROLLBACK");
            script.fetch_all(conn).await?;
            state.cache = None;
            return Ok(None);
        }
        let script = Script::new(Engine::Sqlite);
        let done =
            self.decide(conn, &state.statements, ops, &state.known, read, script, true).await?;
        if done.retried {
            // A key was not where the cache said: read it all again next time.
            state.cache = None;
        } else if let Some(cache) = state.cache.as_mut() {
            cache.absorb(&done, &BTreeSet::new(), &BTreeSet::new());
        }
        Ok(Some(done.outcomes))
    }

    /// Reads what `ops` need (in the transaction it opens), judges and writes; on SQLite,
    /// keeps what it read and wrote as the writer's cache. (Only a writer with a connection of
    /// its own keeps one: the data version does not move for commits on the writer's own
    /// connection, which an in-memory database shares with the store's other methods.)
    async fn read_and_decide(
        &self,
        conn: &mut Conn,
        ops: &[Op],
        state: &mut State,
        (ids, judged, accounts): Wants,
    ) -> std::result::Result<Vec<Outcome>, Failure> {
        let sqlite = self.engine == Engine::Sqlite;
        // Only a writer that keeps a cache needs the data version it read at.
        let caches = sqlite && state.keep;
        let mut begun = false;
        let mut read = Read::default();
        let mut version = None;
        if !(ids.is_empty() && judged.is_empty() && accounts.is_empty()) {
            let mut script = Script::new(self.engine);
            script.plain(if sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" });
            if caches {
                script.plain(VERSION);
            }
            begun = true;
            read_rows(&mut script, &state.statements, &ids, &judged, &accounts)?;
            let mut rows = script.fetch_all(conn).await?;
            if caches && !rows.is_empty() {
                version = Some(rows.remove(0).int("data_version")?);
            }
            read = parse_read(rows, &ids, &judged, &accounts)?;
        }
        if state.known.len() > MAX_KNOWN {
            state.known.clear();
            state.cache = None;
        }
        for (id, record) in read.sessions.iter().filter_map(|(id, r)| Some((id, r.as_ref().ok()?)))
        {
            let s = &record.session;
            let budgets = s.policy().has_budgets();
            state.known.insert(*id, Session { account: s.account, budgets });
        }
        // What the rows tell that the writer did not know when it chose what to read: the
        // keys of accounts seen for the first time, and the reservations of sessions that
        // have budgets though it knew them without (a session saved anew under its id).
        let first_seen: BTreeSet<Address> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Begin(b, _) if b.lease => state.known.get(&b.id).map(|k| k.account),
                _ => None,
            })
            .filter(|a| !accounts.contains(a))
            .collect();
        let missed: BTreeSet<SessionId> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Begin(b, _) => Some(b.id),
                Op::End(..) => None,
            })
            .filter(|id| !judged.contains(id))
            .filter(|id| state.known.get(id).is_some_and(|k| k.budgets))
            .collect();
        if !(first_seen.is_empty() && missed.is_empty()) {
            let mut script = Script::new(self.engine);
            let none = BTreeSet::new();
            read_rows(&mut script, &state.statements, &none, &missed, &first_seen)?;
            let rows = script.fetch_all(conn).await?;
            let more = parse_read(rows, &none, &missed, &first_seen)?;
            read.held.extend(more.held);
            read.reserved.extend(more.reserved);
            for id in &missed {
                read.reserved.entry(*id).or_insert_with(|| Ok(vec![]));
            }
        }
        let judged: BTreeSet<SessionId> = judged.union(&missed).copied().collect();
        let script = Script::new(self.engine);
        let done =
            self.decide(conn, &state.statements, ops, &state.known, read, script, begun).await?;
        if caches {
            let mut cache = match state.cache.take() {
                Some(cache) if Some(cache.version) == version => cache,
                _ => Cache::new(version),
            };
            if cache.sessions.len() > MAX_KNOWN || done.retried {
                cache = Cache::new(version);
            }
            let accounts: BTreeSet<Address> = accounts.union(&first_seen).copied().collect();
            cache.absorb(&done, &judged, &accounts);
            state.cache = version.map(|_| cache);
        }
        Ok(done.outcomes)
    }

    /// Judges `ops` on `read` and writes what they do with `statements`, after what `script`
    /// holds already: the ends first (what they give back is free for the starts), then the
    /// starts one after the other, then the writes and the commit, as one command. With
    /// `begun`, the transaction is open (or opens in `script`).
    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        conn: &mut Conn,
        statements: &Statements,
        ops: &[Op],
        known: &Known,
        mut read: Read,
        mut script: Script,
        mut begun: bool,
    ) -> std::result::Result<Done, Failure> {
        let mut outcomes: Vec<Option<Outcome>> = ops.iter().map(|_| None).collect();
        // What the rows held as read (spent, installed): what the writes change is what
        // differs from it.
        let read_as: AsRead = read
            .sessions
            .iter()
            .filter_map(|(id, r)| r.as_ref().ok().map(|r| (*id, (r.spent(), r.installed))))
            .collect();
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
        write_rows(&mut script, statements, &freed, &planned, (&read_as, &read.sessions))?;
        if !begun && !script.is_empty() {
            script.prepend(match self.engine {
                Engine::Sqlite => "BEGIN IMMEDIATE",
                Engine::Postgres => "BEGIN",
            });
            begun = true;
        }
        let mut leased = HashSet::new();
        if begun {
            script.plain("COMMIT");
            for row in script.fetch_all(conn).await? {
                leased.insert(row.text("token")?);
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
            gone: freed.gone,
            lapsed: (freed.lapsed, freed.by),
            released,
        })
    }
}

/// What a transaction did.
struct Done {
    outcomes: Vec<Outcome>,
    /// What it read, as it left it.
    read: Read,
    /// The leases it took, with when each lapses.
    granted: Vec<(NonceLease, u64)>,
    /// A start did not get the key it was judged to get.
    retried: bool,
    /// The reservations the ends freed: these ids, and those of the sessions `lapsed` by
    /// `by`; and the leases they returned (account, chain, token).
    gone: HashSet<String>,
    lapsed: (BTreeSet<SessionId>, u64),
    released: Vec<(Address, u64, String)>,
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
    conn: Option<Conn>,
    /// SQLite: the file its own connection opens (else it takes one from the pool).
    lite: Option<std::path::PathBuf>,
    keep: bool,
    /// The statements, and whether the connection has them prepared (PostgreSQL).
    statements: Statements,
    prepared: bool,
    /// SQLite: what the writer last read and wrote, as of a data version.
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

//! [`SqlStore`]: sessions in SQLite (one file, the embedded default) or PostgreSQL (shared by a
//! fleet of workers), through sqlx, with embedded migrations.
//!
//! The same SQL runs on both engines; only how a transaction takes its lock differs: SQLite
//! begins `IMMEDIATE` (one writer at a time, across processes); PostgreSQL, at its default
//! READ COMMITTED, locks the sessions' rows `FOR UPDATE` in a statement of its own, in id order,
//! and reads the reservations and leases in the next statement, whose snapshot is taken after
//! the lock is held: a transaction that judges a session sees every reservation committed before
//! it (the race test runs 8 stores × 8 rounds on both engines).
//!
//! The calls' starts and ends go through a writer of the store's own (see `batch`): it
//! commits whatever queued up while it was busy in one transaction, on a connection and a
//! thread of its own.

use super::{
    random_id, CallStart, NonceLease, Reservation, SentCall, SessionStore, SpendJson,
    StoredPending, StoredSession,
};
use crate::error::{Error, Result};
use alloy_primitives::{Address, U256};
use sesskey_account::Spend;
use sesskey_types::{Call, CallId, SessionId};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::sync::Once;

mod batch;

/// The migrations of both engines.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// SQLite's own, run after the shared ones.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-sqlite");

/// The page size of a new SQLite file. The store's hot rows (leases, reservations, spent
/// amounts) are small and each commit writes the pages it changed to the WAL whole: smaller
/// pages write less (a probe of a call's two transactions: 36 µs with 1 KiB pages, 53 µs with
/// SQLite's default 4 KiB). A file made before keeps its pages.
const SQLITE_PAGE_SIZE: u32 = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

/// Sessions in SQLite or PostgreSQL.
///
/// Calls' starts and ends (and [`reserve`](SessionStore::reserve) and
/// [`settle`](SessionStore::settle)) go through the store's writer task, which commits
/// whatever has queued up while it was busy in one transaction (group commit): each caller is
/// answered after the commit, and is refused or failed on its own.
#[derive(Clone, Debug)]
pub struct SqlStore {
    db: Db,
    ops: tokio::sync::mpsc::Sender<batch::Op>,
}

/// The database, as the writer task and the store's other methods use it.
#[derive(Clone, Debug)]
struct Db {
    pool: AnyPool,
    engine: Engine,
    /// SQLite has one writer at a time: this process's writers queue here rather than in
    /// SQLite's busy loop (which sleeps); other processes still wait on SQLite's lock.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction, with this process's writer turn for SQLite.
struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// How often a call looks again for a free nonce key after another worker took the one it
/// found, before it gives up.
const LEASE_TRIES: usize = 32;

fn no_free_key() -> Error {
    Error::Store(format!("no free nonce key after {LEASE_TRIES} tries"))
}

impl std::ops::Deref for Tx {
    type Target = sqlx::Transaction<'static, sqlx::Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl Tx {
    async fn commit(self) -> Result<()> {
        self.tx.commit().await.map_err(store)
    }
}

fn store(e: impl std::fmt::Display) -> Error {
    Error::Store(e.to_string())
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(store)
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Store(format!("a damaged {what} row: {e}")))
}

/// The secret parts of a database URL hidden: the password of `user:password@`, and the value
/// of any query parameter that names a password, a secret or a key (`?password=…`,
/// `sslpassword=…`).
fn redact(url: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &base[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &base[..s + 3], &creds[..c], &base[at..]),
                None => base.to_string(),
            }
        }
        _ => base.to_string(),
    };
    let Some(query) = query else { return base };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _))
                if ["pass", "secret", "key", "token"]
                    .iter()
                    .any(|w| k.to_lowercase().contains(w)) =>
            {
                format!("{k}=***")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

/// The tables a sesskey SQLite file holds (besides SQLite's own).
const OUR_TABLES: [&str; 7] = [
    "_sqlx_migrations",
    "sessions",
    "imports",
    "reservations",
    "nonce_leases",
    "sent_calls",
    "pending_sessions",
];

/// The file of a `sqlite:` URL (none for an in-memory database).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if url.contains(":memory:") {
        return None;
    }
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty()).then(|| std::path::PathBuf::from(path))
}

/// Before anything writes to it: a SQLite file that is missing is made, readable by its owner
/// only (0600); one that is there must be a SQLite database whose pages read back (`PRAGMA
/// quick_check`) and that holds sesskey's tables or none. A damaged file, or a database of
/// something else, is refused at once, untouched (not switched to WAL, no table added).
async fn check_sqlite_file(path: &std::path::Path) -> Result<()> {
    use sqlx::Connection;
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut open = std::fs::OpenOptions::new();
            open.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
            return match open.open(path) {
                Ok(_) => Ok(()),
                // Made by another process meanwhile: checked as any file that is there.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Box::pin(check_sqlite_file(path)).await
                }
                Err(e) => Err(Error::Store(format!("creating {shown}: {e}"))),
            };
        }
        Err(e) => return Err(Error::Store(format!("reading {shown}: {e}"))),
        Ok(m) if m.len() == 0 => return Ok(()),
        Ok(_) => {}
    }
    let mut header = [0u8; 16];
    let read = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .map(|_| header == *b"SQLite format 3\0");
    let damaged = |why: String| {
        Error::Store(format!(
            "{shown} is not a session store sesskey can read ({why}); it was left untouched: move it away, or give another store"
        ))
    };
    match read {
        Ok(true) => {}
        Ok(false) | Err(_) => return Err(damaged("it is not a SQLite database".into())),
    }
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut conn = sqlx::AnyConnection::connect(&url)
        .await
        .map_err(|e| damaged(format!("SQLite cannot open it: {e}")))?;
    let checked: std::result::Result<(String, Vec<String>), sqlx::Error> = async {
        let check: String = sqlx::query_scalar("PRAGMA quick_check").fetch_one(&mut conn).await?;
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&mut conn)
                .await?;
        Ok((check, tables))
    }
    .await;
    let _ = conn.close().await;
    let (check, tables) = checked.map_err(|e| damaged(format!("a damaged SQLite file: {e}")))?;
    if check != "ok" {
        return Err(damaged(format!("a damaged SQLite file: {check}")));
    }
    let foreign: Vec<&String> = tables
        .iter()
        .filter(|t| !t.starts_with("sqlite_") && !OUR_TABLES.contains(&t.as_str()))
        .collect();
    if !foreign.is_empty()
        || (!tables.is_empty() && !tables.iter().any(|t| t == "_sqlx_migrations"))
    {
        let names: Vec<&str> = foreign.iter().map(|t| t.as_str()).collect();
        return Err(damaged(format!(
            "a SQLite database of something else, with the tables {}",
            if names.is_empty() { tables.join(", ") } else { names.join(", ") }
        )));
    }
    Ok(())
}

/// One connection, before the pool: a server that refuses, a wrong password, a missing
/// database say why at once, in one line (a pool retries silently until its timeout).
async fn probe(url: &str) -> Result<()> {
    use sqlx::Connection;
    let connect = sqlx::AnyConnection::connect(url);
    match tokio::time::timeout(std::time::Duration::from_secs(10), connect).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(Error::Store(format!("connecting to {}: {e}", redact(url)))),
        Err(_) => Err(Error::Store(format!(
            "connecting to {}: no answer in 10 s (is the server up, and is this its address?)",
            redact(url)
        ))),
    }
}

/// A pool on `url` (at most `max` connections; one for an in-memory SQLite database).
async fn open_pool(url: &str, engine: Engine, max: Option<u32>) -> Result<AnyPool> {
    // A server that does not answer fails the store in 10 s (sqlx's default waits 30 s, silent).
    let mut options = AnyPoolOptions::new().acquire_timeout(std::time::Duration::from_secs(10));
    if url.contains(":memory:") {
        options = options.max_connections(1);
    } else if let Some(max) = max {
        options = options.max_connections(max);
    }
    if engine == Engine::Sqlite {
        // WAL: readers never wait for the writer; NORMAL: a commit survives the process
        // dying (only a power loss may lose the last ones), without an fsync per commit.
        options = options.after_connect(|conn, _| {
            Box::pin(async move {
                use sqlx::Executor;
                // First: it applies only to a file not yet written.
                conn.execute(sqlx::AssertSqlSafe(format!("PRAGMA page_size = {SQLITE_PAGE_SIZE}")))
                    .await?;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                Ok(())
            })
        });
    }
    options
        .connect(url)
        .await
        .map_err(|e| Error::Store(format!("connecting to {}: {e}", redact(url))))
}

/// Applies the migrations: the shared ones, then on SQLite its own. A database that holds a
/// migration neither set knows (written by a newer sesskey) is refused.
async fn migrate(pool: &AnyPool, engine: Engine) -> Result<()> {
    let failed = |e: sqlx::migrate::MigrateError| Error::Store(format!("migrating: {e}"));
    if engine == Engine::Postgres {
        return MIGRATOR.run(pool).await.map_err(failed);
    }
    // Each set ignores the other's migrations; which ones are known is checked below.
    for set in [&MIGRATOR, &SQLITE_MIGRATOR] {
        let mut m = sqlx::migrate::Migrator::with_migrations(set.iter().cloned().collect());
        m.set_ignore_missing(true);
        m.run(pool).await.map_err(failed)?;
    }
    let known: std::collections::HashSet<i64> =
        MIGRATOR.iter().chain(SQLITE_MIGRATOR.iter()).map(|m| m.version).collect();
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(pool)
        .await
        .map_err(store)?;
    match applied.iter().find(|v| !known.contains(v)) {
        Some(v) => Err(Error::Store(format!(
            "migrating: the database holds migration {v}, which this sesskey does not know \
             (it was written by a newer one)"
        ))),
        None => Ok(()),
    }
}

impl SqlStore {
    /// Connects to `url` (`sqlite://path` — created if missing —, `sqlite::memory:`, or
    /// `postgres://…`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            return Err(Error::Store(format!(
                "`{}` is not a sqlite: or postgres: URL",
                redact(url)
            )));
        };
        let built = match engine {
            Engine::Sqlite => cfg!(feature = "sqlite"),
            Engine::Postgres => cfg!(feature = "postgres"),
        };
        if !built {
            return Err(Error::Store(format!(
                "this sesskey-session was built without {}: enable its `{}` feature",
                if engine == Engine::Sqlite { "SQLite" } else { "PostgreSQL" },
                if engine == Engine::Sqlite { "sqlite" } else { "postgres" },
            )));
        }
        let url = match engine {
            Engine::Sqlite if !url.contains(":memory:") && !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
            }
            _ => url.to_string(),
        };
        if let Some(file) = sqlite_file(&url).filter(|_| engine == Engine::Sqlite) {
            check_sqlite_file(&file).await?;
        }
        probe(&url).await?;
        let pool = open_pool(&url, engine, None).await?;
        migrate(&pool, engine).await?;
        let db = Db { pool, engine, writer: Default::default() };
        // An in-memory database exists once, in its pool: its writer shares it. Any other
        // gets a connection of its own, on the writer's own thread.
        let own = (!url.contains(":memory:")).then_some(url.as_str());
        Ok(Self { ops: batch::start(db.clone(), own).await?, db })
    }

    /// Opens (creating it if needed) the SQLite file at `path`.
    pub async fn sqlite(path: &std::path::Path) -> Result<Self> {
        Self::connect(&format!("sqlite://{}", path.display())).await
    }

    /// Imports sessions from a JSON folder of the first version, once per folder: a folder
    /// already imported is skipped, and sessions already in the store are kept.
    pub async fn import_folder(&self, folder: &super::JsonFolder) -> Result<usize> {
        self.db.import_folder(folder).await
    }
}

impl Db {
    async fn begin(&self) -> Result<Tx> {
        match self.engine {
            Engine::Sqlite => {
                let turn = self.writer.clone().lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(store)?;
                Ok(Tx { tx, _turn: Some(turn) })
            }
            Engine::Postgres => Ok(Tx { tx: self.pool.begin().await.map_err(store)?, _turn: None }),
        }
    }

    async fn import_folder(&self, folder: &super::JsonFolder) -> Result<usize> {
        let source = folder.dir().display().to_string();
        let done = sqlx::query("SELECT source FROM imports WHERE source = $1")
            .bind(source.clone())
            .fetch_optional(&self.pool)
            .await
            .map_err(store)?;
        if done.is_some() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let mut n = 0;
        for record in folder.list()? {
            let r = sqlx::query(
                "INSERT INTO sessions (id, record, spent, revoked) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            )
            .bind(record.session.session_id.to_string())
            .bind(json(&record)?)
            .bind(json(&SpendJson::from(&record.spent()))?)
            .bind(i64::from(record.revoked))
            .execute(&mut **tx)
            .await
            .map_err(store)?;
            n += r.rows_affected() as usize;
        }
        sqlx::query("INSERT INTO imports (source) VALUES ($1)")
            .bind(source)
            .execute(&mut **tx)
            .await
            .map_err(store)?;
        tx.commit().await?;
        Ok(n)
    }
}

fn record_of(row: &AnyRow) -> Result<StoredSession> {
    let record: String = row.try_get("record").map_err(store)?;
    let spent: String = row.try_get("spent").map_err(store)?;
    let revoked: i64 = row.try_get("revoked").map_err(store)?;
    record_from(&record, &spent, revoked)
}

/// A session from its row's columns.
fn record_from(record: &str, spent: &str, revoked: i64) -> Result<StoredSession> {
    let mut record: StoredSession = parse(record, "session")?;
    let spent: Spend = parse::<SpendJson>(spent, "spent")?.into();
    record.spent_native = spent.native;
    record.spent_gas = spent.gas;
    record.spent_erc20 = spent.erc20.into_iter().collect();
    record.revoked = revoked != 0;
    Ok(record)
}

/// An account as the lease rows keep it: lower-case hex (without computing the checksum).
fn account_text(account: &Address) -> String {
    format!("{account:#x}")
}

fn unknown(id: &SessionId) -> Error {
    Error::UnknownSession(id.to_string())
}

/// A sent call's `body` column.
#[derive(serde::Serialize, serde::Deserialize)]
struct SentJson {
    reservations: Vec<(String, SpendJson)>,
    account: Address,
    chain_id: u64,
    key: u64,
    token: String,
    installs: bool,
}

impl From<&SentCall> for SentJson {
    fn from(s: &SentCall) -> Self {
        Self {
            reservations: s
                .reservations
                .iter()
                .map(|r| (r.id.clone(), SpendJson::from(&r.spend)))
                .collect(),
            account: s.lease.account,
            chain_id: s.lease.chain_id,
            key: s.lease.key,
            token: s.lease.token.clone(),
            installs: s.installs,
        }
    }
}

impl SentJson {
    fn into_sent(self, call_id: CallId, session_id: SessionId) -> SentCall {
        SentCall {
            call_id,
            session_id,
            reservations: self
                .reservations
                .into_iter()
                .map(|(id, spend)| Reservation { id, session_id, spend: spend.into() })
                .collect(),
            lease: NonceLease {
                account: self.account,
                chain_id: self.chain_id,
                key: self.key,
                token: self.token,
            },
            installs: self.installs,
        }
    }
}

/// A lease taken on its own, outside the writer (see [`SessionStore::lease_nonce_key`]).
impl Db {
    /// One try at a lease: `Ok(None)` when `want` is held, or when another writer took the
    /// chosen key first (`Err` never: the caller retries a fresh transaction for a free key).
    async fn try_lease(
        &self,
        tx: &mut Tx,
        account: Address,
        chain_id: u64,
        want: Option<u64>,
        now: u64,
        ttl: u64,
    ) -> Result<Option<NonceLease>> {
        let (now_i, chain_i) =
            (i64::try_from(now).map_err(store)?, i64::try_from(chain_id).map_err(store)?);
        let who = account_text(&account);
        let rows = sqlx::query(
            "SELECT nonce_key FROM nonce_leases \
             WHERE account = $1 AND chain_id = $2 AND expires_at > $3 ORDER BY nonce_key",
        )
        .bind(who.clone())
        .bind(chain_i)
        .bind(now_i)
        .fetch_all(&mut ***tx)
        .await
        .map_err(store)?;
        let mut held = vec![];
        for r in &rows {
            held.push(r.try_get::<i64, _>("nonce_key").map_err(store)?);
        }
        let key = match want {
            Some(k) => {
                let k = i64::try_from(k).map_err(store)?;
                if held.contains(&k) {
                    return Ok(None);
                }
                k
            }
            None => {
                let mut key = 1i64;
                for k in &held {
                    if *k == key {
                        key += 1;
                    } else if *k > key {
                        break;
                    }
                }
                key
            }
        };
        let token = random_id();
        // A lapsed lease of the same key is taken over; a live one makes this a no-op.
        let inserted = sqlx::query(
            "INSERT INTO nonce_leases (account, chain_id, nonce_key, token, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account, chain_id, nonce_key) \
             DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at \
             WHERE nonce_leases.expires_at <= $6",
        )
        .bind(who)
        .bind(chain_i)
        .bind(key)
        .bind(token.clone())
        .bind(i64::try_from(now.saturating_add(ttl)).map_err(store)?)
        .bind(now_i)
        .execute(&mut ***tx)
        .await
        .map_err(store)?
        .rows_affected();
        if inserted == 0 {
            return Ok(None);
        }
        let key = u64::try_from(key).map_err(store)?;
        Ok(Some(NonceLease { account, chain_id, key, token }))
    }
}

impl SessionStore for SqlStore {
    async fn insert(&self, record: &StoredSession) -> Result<()> {
        let id = record.session.session_id.to_string();
        // One statement: the row goes in only if no row has the id (the primary key), whatever
        // another writer does at the same time.
        let done = sqlx::query(
            "INSERT INTO sessions (id, record, spent, revoked) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&id)
        .bind(json(record)?)
        .bind(json(&SpendJson::from(&record.spent()))?)
        .bind(i64::from(record.revoked))
        .execute(&self.db.pool)
        .await
        .map_err(store)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(Error::Exists(id))
        }
    }

    async fn save(&self, record: &StoredSession) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, record, spent, revoked) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET record = excluded.record, spent = excluded.spent, revoked = excluded.revoked",
        )
        .bind(record.session.session_id.to_string())
        .bind(json(record)?)
        .bind(json(&SpendJson::from(&record.spent()))?)
        .bind(i64::from(record.revoked))
        .execute(&self.db.pool)
        .await
        .map_err(store)?;
        Ok(())
    }

    async fn load(&self, id: &SessionId) -> Result<StoredSession> {
        let row = sqlx::query("SELECT record, spent, revoked FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.db.pool)
            .await
            .map_err(store)?
            .ok_or_else(|| unknown(id))?;
        record_of(&row)
    }

    async fn list(&self) -> Result<Vec<StoredSession>> {
        let rows = sqlx::query("SELECT record, spent, revoked FROM sessions ORDER BY id")
            .fetch_all(&self.db.pool)
            .await
            .map_err(store)?;
        rows.iter().map(record_of).collect()
    }

    async fn remove(&self, id: &SessionId) -> Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM reservations WHERE session_id = $1")
            .bind(id.to_string())
            .execute(&mut **tx)
            .await
            .map_err(store)?;
        let r = sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut **tx)
            .await
            .map_err(store)?;
        if r.rows_affected() == 0 {
            return Err(unknown(id));
        }
        tx.commit().await
    }

    async fn mark_revoked(&self, id: &SessionId) -> Result<()> {
        let r = sqlx::query("UPDATE sessions SET revoked = 1 WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.db.pool)
            .await
            .map_err(store)?;
        if r.rows_affected() == 0 {
            return Err(unknown(id));
        }
        Ok(())
    }

    async fn mark_installed(&self, id: &SessionId) -> Result<()> {
        let end = batch::End { settled: vec![], lease: None, installed: Some(*id), now: 0 };
        self.submit_end(end).await
    }

    async fn reserve(
        &self,
        id: &SessionId,
        calls: &[Call],
        gas: U256,
        now: u64,
        ttl: u64,
    ) -> Result<Reservation> {
        let begin = batch::Begin::new(*id, calls.to_vec(), gas, now, ttl, false);
        match self.submit_begin(begin).await? {
            Some(start) => Ok(start.reservation),
            None => Err(Error::Store("a reservation was answered as a nonce lease".into())),
        }
    }

    async fn settle(&self, reservation: &Reservation, spent: Option<&Spend>) -> Result<()> {
        let end = batch::End {
            settled: vec![(reservation.clone(), spent.cloned())],
            lease: None,
            installed: None,
            now: 0,
        };
        self.submit_end(end).await
    }

    async fn lease_nonce_key(
        &self,
        account: Address,
        chain_id: u64,
        want: Option<u64>,
        now: u64,
        ttl: u64,
    ) -> Result<Option<NonceLease>> {
        for _ in 0..LEASE_TRIES {
            let mut tx = self.db.begin().await?;
            let lease = self.db.try_lease(&mut tx, account, chain_id, want, now, ttl).await?;
            tx.commit().await?;
            if lease.is_some() || want.is_some() {
                return Ok(lease);
            }
            // Another worker took that key between our read and our insert: look again.
        }
        Err(no_free_key())
    }

    async fn release_nonce_key(&self, lease: &NonceLease) -> Result<()> {
        let end =
            batch::End { settled: vec![], lease: Some(lease.clone()), installed: None, now: 0 };
        self.submit_end(end).await
    }

    async fn renew(
        &self,
        lease: &NonceLease,
        reservations: &[String],
        sent: Option<&CallId>,
        until: u64,
    ) -> Result<()> {
        let until = batch::int(until);
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE nonce_leases SET expires_at = $1 \
             WHERE account = $2 AND chain_id = $3 AND nonce_key = $4 AND token = $5",
        )
        .bind(until)
        .bind(account_text(&lease.account))
        .bind(batch::int(lease.chain_id))
        .bind(batch::int(lease.key))
        .bind(lease.token.clone())
        .execute(&mut **tx)
        .await
        .map_err(store)?;
        for id in reservations {
            sqlx::query("UPDATE reservations SET expires_at = $1 WHERE id = $2")
                .bind(until)
                .bind(id.clone())
                .execute(&mut **tx)
                .await
                .map_err(store)?;
        }
        if let Some(call) = sent {
            sqlx::query("UPDATE sent_calls SET expires_at = $1 WHERE call_id = $2")
                .bind(until)
                .bind(call.0.to_string())
                .execute(&mut **tx)
                .await
                .map_err(store)?;
        }
        tx.commit().await
    }

    async fn record_sent(&self, sent: &SentCall, until: u64) -> Result<()> {
        let body = json(&SentJson::from(sent))?;
        sqlx::query(
            "INSERT INTO sent_calls (call_id, session_id, body, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (call_id) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at",
        )
        .bind(sent.call_id.0.to_string())
        .bind(sent.session_id.to_string())
        .bind(body)
        .bind(batch::int(until))
        .execute(&self.db.pool)
        .await
        .map_err(store)?;
        Ok(())
    }

    async fn save_pending(&self, pending: &StoredPending) -> Result<()> {
        let id = pending.pending.session_id.to_string();
        // One statement: the row goes in only if no request has the id.
        let done = sqlx::query(
            "INSERT INTO pending_sessions (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.clone())
        .bind(json(pending)?)
        .execute(&self.db.pool)
        .await
        .map_err(store)?;
        if done.rows_affected() == 0 {
            return Err(Error::Exists(id));
        }
        Ok(())
    }

    async fn load_pending(&self, id: &SessionId) -> Result<StoredPending> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM pending_sessions WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.db.pool)
                .await
                .map_err(store)?;
        let body = body.ok_or_else(|| Error::UnknownPending(id.to_string()))?;
        parse(&body, "pending request")
    }

    async fn remove_pending(&self, id: &SessionId) -> Result<()> {
        sqlx::query("DELETE FROM pending_sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.db.pool)
            .await
            .map_err(store)?;
        Ok(())
    }

    async fn forget_sent(&self, call_id: &CallId) -> Result<()> {
        sqlx::query("DELETE FROM sent_calls WHERE call_id = $1")
            .bind(call_id.0.to_string())
            .execute(&self.db.pool)
            .await
            .map_err(store)?;
        Ok(())
    }

    async fn claim_lapsed(&self, id: &SessionId, now: u64) -> Result<Vec<SentCall>> {
        // One statement: a row deleted here is this caller's alone.
        let rows = sqlx::query(
            "DELETE FROM sent_calls WHERE session_id = $1 AND expires_at <= $2 RETURNING call_id, body",
        )
        .bind(id.to_string())
        .bind(batch::int(now))
        .fetch_all(&self.db.pool)
        .await
        .map_err(store)?;
        rows.iter()
            .map(|row| {
                let call: String = row.try_get("call_id").map_err(store)?;
                let body: String = row.try_get("body").map_err(store)?;
                let call_id = CallId(call.parse().map_err(|e| {
                    Error::Store(format!("a damaged sent_calls row: call id {call}: {e}"))
                })?);
                Ok(parse::<SentJson>(&body, "sent_calls")?.into_sent(call_id, *id))
            })
            .collect()
    }

    /// With the other starts queued at the time, in one transaction: load (locked), reserve,
    /// lease.
    async fn begin_call(
        &self,
        id: &SessionId,
        calls: &[Call],
        now: u64,
        ttl: u64,
    ) -> Result<Option<CallStart>> {
        let begin = batch::Begin::new(*id, calls.to_vec(), U256::ZERO, now, ttl, true);
        let Some(start) = self.submit_begin(begin).await? else { return Ok(None) };
        match start.lease {
            Some(lease) => {
                Ok(Some(CallStart { record: start.record, reservation: start.reservation, lease }))
            }
            None => Err(Error::Store("a call began without a nonce lease".into())),
        }
    }

    /// With the other ends queued at the time, in one transaction: settle, mark installed,
    /// release.
    async fn end_call(
        &self,
        settled: &[(Reservation, Option<Spend>)],
        lease: &NonceLease,
        installed: Option<&SessionId>,
        now: u64,
    ) -> Result<()> {
        let end = batch::End {
            settled: settled.to_vec(),
            lease: Some(lease.clone()),
            installed: installed.copied(),
            now,
        };
        self.submit_end(end).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn accounts_are_kept_in_lower_case() {
        let a: alloy_primitives::Address =
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".parse().unwrap();
        assert_eq!(super::account_text(&a), "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
    }

    #[test]
    fn passwords_never_print() {
        assert_eq!(
            super::redact("postgres://app:s3cret@127.0.0.1:5432/db"),
            "postgres://app:***@127.0.0.1:5432/db"
        );
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }

    /// A SQLite file of the first schema (shared migrations only), with calls in flight.
    async fn first_schema_file(tag: &str) -> (std::path::PathBuf, String) {
        let dir = std::env::temp_dir().join(format!(
            "sesskey-migrate-{tag}-{}-{}",
            std::process::id(),
            super::random_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("s.db").display());
        static DRIVERS: std::sync::Once = std::sync::Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let pool = super::open_pool(&url, super::Engine::Sqlite, Some(1)).await.unwrap();
        super::MIGRATOR.run(&pool).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO reservations VALUES ('r1', 's1', '{}', 7); \
             INSERT INTO nonce_leases VALUES ('0xab', 1, 3, 'tok', 9)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        (dir, url)
    }

    /// A file made before keeps its calls in flight, in tables keyed without a rowid; a new
    /// file has the store's page size.
    #[tokio::test]
    async fn sqlite_migrations_keep_calls_in_flight() {
        let (dir, url) = first_schema_file("keep").await;
        let store = super::SqlStore::connect(&url).await.unwrap();
        let pool = &store.db.pool;
        let kept: (String, String, i64) =
            sqlx::query_as("SELECT id, session_id, expires_at FROM reservations")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(kept, ("r1".into(), "s1".into(), 7));
        let lease: (String, i64, i64, String) =
            sqlx::query_as("SELECT account, chain_id, nonce_key, token FROM nonce_leases")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(lease, ("0xab".into(), 1, 3, "tok".into()));
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT sql FROM sqlite_master WHERE name IN ('reservations', 'nonce_leases')",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert_eq!(tables.len(), 2);
        assert!(tables.iter().all(|t| t.ends_with("WITHOUT ROWID")), "{tables:?}");
        let page: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(pool).await.unwrap();
        assert_eq!(page, i64::from(super::SQLITE_PAGE_SIZE));
        drop(store);
        // Opened again: nothing left to apply, nothing refused.
        assert!(super::SqlStore::connect(&url).await.is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A file that holds a migration this build does not know is refused, not written.
    #[tokio::test]
    async fn a_sqlite_file_from_a_newer_sesskey_is_refused() {
        let (dir, url) = first_schema_file("newer").await;
        drop(super::SqlStore::connect(&url).await.unwrap());
        let pool = super::open_pool(&url, super::Engine::Sqlite, Some(1)).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (99991231000000, 'later', true, x'00', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        let e = super::SqlStore::connect(&url).await.err().unwrap().to_string();
        assert!(e.contains("99991231000000") && e.contains("newer"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

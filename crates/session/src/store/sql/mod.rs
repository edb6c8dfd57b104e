//! [`SqlStore`]: sessions in SQLite (one file, the embedded default) or PostgreSQL (shared by a
//! fleet of workers), through sqlx, with its migrations embedded.
//!
//! One set of statements runs on both engines, every value bound. Calls' starts and ends go
//! through the store's writer ([`writer`]), which commits whatever queued up while it was busy
//! in one transaction; the other methods are one statement each, or one short transaction.
//!
//! **Isolation.** Budgets and nonce keys hold exactly whatever the interleaving of workers and
//! processes: on SQLite, the writer's transactions begin `IMMEDIATE` (one writer at a time,
//! across processes, in WAL mode so readers never wait); on PostgreSQL, at its default READ
//! COMMITTED, the writer's first statement locks the sessions it judges `FOR UPDATE` (in id
//! order), and reads reservations and leases in the statements after it, whose snapshots are
//! taken once the lock is held. A nonce key is inserted under the table's primary key, so two
//! processes that pick the same free key cannot both get it: the one that loses goes round
//! again. The race test runs 8 stores × 8 rounds on both engines.

use super::{
    CallStart, NonceLease, Reservation, SentCall, SessionStore, SpendJson, StoredPending,
    StoredSession,
};
use crate::error::{Error, Result};
use alloy_primitives::{Address, U256};
use sesskey_account::Spend;
use sesskey_types::{Call, CallId, SessionId};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyPool, Row};
use std::sync::Once;

mod judge;
mod open;
mod writer;

use open::redact;
use writer::{Begin, End, Op};

/// A statement with its values bound.
type Query = sqlx::query::Query<'static, Any, AnyArguments>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

/// Sessions in SQLite or PostgreSQL.
///
/// Calls' starts and ends ([`begin_call`](SessionStore::begin_call),
/// [`reserve`](SessionStore::reserve), [`end_call`](SessionStore::end_call)) go through the
/// store's writer task, which commits whatever has queued up while it was busy in one
/// transaction (group commit): each caller is answered after the commit, and is refused or
/// failed on its own.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    ops: tokio::sync::mpsc::Sender<Op>,
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

/// A time or a key as the database keeps it; times past `i64::MAX` (never, in practice) are
/// kept as `i64::MAX`.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl SqlStore {
    /// Connects to `url` (`sqlite://path` — created if missing —, `sqlite::memory:`, or
    /// `postgres://…`) and applies the migrations. The writer runs as a task of the current
    /// Tokio runtime.
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
        if let Some(file) = open::sqlite_file(&url).filter(|_| engine == Engine::Sqlite) {
            open::check_sqlite_file(&file).await?;
        }
        open::probe(&url).await?;
        let pool = open::open_pool(&url, engine, 10).await?;
        open::migrate(&pool, &url).await?;
        Ok(Self { ops: writer::start(pool.clone(), engine), pool })
    }

    /// Opens (creating it if needed) the SQLite file at `path`.
    pub async fn sqlite(path: &std::path::Path) -> Result<Self> {
        Self::connect(&format!("sqlite://{}", path.display())).await
    }

    /// Imports sessions from a JSON folder of the first version, once per folder: a folder
    /// already imported is skipped, and sessions already in the store are kept.
    pub async fn import_folder(&self, folder: &super::JsonFolder) -> Result<usize> {
        let source = folder.dir().display().to_string();
        let mut tx = self.pool.begin().await.map_err(store)?;
        let first =
            sqlx::query("INSERT INTO imports (source) VALUES ($1) ON CONFLICT (source) DO NOTHING")
                .bind(source)
                .execute(&mut *tx)
                .await
                .map_err(store)?;
        if first.rows_affected() == 0 {
            return Ok(0);
        }
        let mut n = 0;
        for record in folder.list()? {
            let sql = "INSERT INTO sessions (id, record, spent, revoked) \
                       VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";
            let r = session_row(&record, sql)?.execute(&mut *tx).await.map_err(store)?;
            n += usize::try_from(r.rows_affected()).unwrap_or(0);
        }
        tx.commit().await.map_err(store)?;
        Ok(n)
    }

    async fn submit_begin(&self, begin: Begin) -> Result<Option<writer::Started>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.ops.send(Op::Begin(begin, reply)).await.map_err(|_| writer::stopped())?;
        answer.await.map_err(|_| writer::stopped())?
    }

    async fn submit_end(&self, end: End) -> Result<()> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.ops.send(Op::End(end, reply)).await.map_err(|_| writer::stopped())?;
        answer.await.map_err(|_| writer::stopped())?
    }
}

fn record_of(row: &AnyRow) -> Result<StoredSession> {
    let record: String = row.try_get("record").map_err(store)?;
    let spent: String = row.try_get("spent").map_err(store)?;
    let revoked: i64 = row.try_get("revoked").map_err(store)?;
    let mut record: StoredSession = parse(&record, "session")?;
    let spent: Spend = parse::<SpendJson>(&spent, "spent")?.into();
    record.spent_native = spent.native;
    record.spent_gas = spent.gas;
    record.spent_erc20 = spent.erc20.into_iter().collect();
    record.revoked = revoked != 0;
    Ok(record)
}

/// An account as the lease rows keep it: lower-case hex.
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

/// A session's row: the record, what it spent, whether it is revoked.
fn session_row(record: &StoredSession, sql: &'static str) -> Result<Query> {
    Ok(sqlx::query(sql)
        .bind(record.session.session_id.to_string())
        .bind(json(record)?)
        .bind(json(&SpendJson::from(&record.spent()))?)
        .bind(i64::from(record.revoked)))
}

impl SqlStore {
    /// Runs one statement: the rows it changed.
    async fn exec(&self, q: Query) -> Result<u64> {
        Ok(q.execute(&self.pool).await.map_err(store)?.rows_affected())
    }
}

impl SessionStore for SqlStore {
    async fn insert(&self, record: &StoredSession) -> Result<()> {
        // One statement: the row goes in only if no row has the id (the primary key), whatever
        // another writer does at the same time.
        let sql = "INSERT INTO sessions (id, record, spent, revoked) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (id) DO NOTHING";
        match self.exec(session_row(record, sql)?).await? {
            1 => Ok(()),
            _ => Err(Error::Exists(record.session.session_id.to_string())),
        }
    }

    async fn save(&self, record: &StoredSession) -> Result<()> {
        let sql = "INSERT INTO sessions (id, record, spent, revoked) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (id) DO UPDATE SET record = excluded.record, \
                   spent = excluded.spent, revoked = excluded.revoked";
        self.exec(session_row(record, sql)?).await.map(drop)
    }

    async fn load(&self, id: &SessionId) -> Result<StoredSession> {
        let row = sqlx::query("SELECT record, spent, revoked FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store)?
            .ok_or_else(|| unknown(id))?;
        record_of(&row)
    }

    async fn list(&self) -> Result<Vec<StoredSession>> {
        let rows = sqlx::query("SELECT record, spent, revoked FROM sessions ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(store)?;
        rows.iter().map(record_of).collect()
    }

    async fn remove(&self, id: &SessionId) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(store)?;
        for sql in
            ["DELETE FROM reservations WHERE session_id = $1", "DELETE FROM sessions WHERE id = $1"]
        {
            let done =
                sqlx::query(sql).bind(id.to_string()).execute(&mut *tx).await.map_err(store)?;
            if sql.contains("sessions") && done.rows_affected() == 0 {
                return Err(unknown(id));
            }
        }
        tx.commit().await.map_err(store)
    }

    async fn mark_revoked(&self, id: &SessionId) -> Result<()> {
        let q = sqlx::query("UPDATE sessions SET revoked = 1 WHERE id = $1").bind(id.to_string());
        match self.exec(q).await? {
            0 => Err(unknown(id)),
            _ => Ok(()),
        }
    }

    async fn reserve(
        &self,
        id: &SessionId,
        calls: &[Call],
        gas: U256,
        now: u64,
        ttl: u64,
    ) -> Result<Reservation> {
        let begin = Begin { id: *id, calls: calls.to_vec(), gas, now, ttl, lease: false, tries: 0 };
        match self.submit_begin(begin).await? {
            Some(start) => Ok(start.reservation),
            None => Err(Error::Store("a reservation was answered as a nonce lease".into())),
        }
    }

    async fn renew(
        &self,
        lease: &NonceLease,
        reservations: &[String],
        sent: Option<&CallId>,
        until: u64,
    ) -> Result<()> {
        let until = int(until);
        let mut tx = self.pool.begin().await.map_err(store)?;
        let mut qs = vec![sqlx::query(
            "UPDATE nonce_leases SET expires_at = $1 \
             WHERE account = $2 AND chain_id = $3 AND nonce_key = $4 AND token = $5",
        )
        .bind(until)
        .bind(account_text(&lease.account))
        .bind(int(lease.chain_id))
        .bind(int(lease.key))
        .bind(lease.token.clone())];
        if !reservations.is_empty() {
            let sql = format!(
                "UPDATE reservations SET expires_at = $1 WHERE id IN ({})",
                writer::placeholders(2, reservations.len())
            );
            let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(until);
            qs.push(reservations.iter().fold(q, |q, id| q.bind(id.clone())));
        }
        if let Some(call) = sent {
            qs.push(
                sqlx::query("UPDATE sent_calls SET expires_at = $1 WHERE call_id = $2")
                    .bind(until)
                    .bind(call.0.to_string()),
            );
        }
        for q in qs {
            q.execute(&mut *tx).await.map_err(store)?;
        }
        tx.commit().await.map_err(store)
    }

    async fn record_sent(&self, sent: &SentCall, until: u64) -> Result<()> {
        let q = sqlx::query(
            "INSERT INTO sent_calls (call_id, session_id, body, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (call_id) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at",
        )
        .bind(sent.call_id.0.to_string())
        .bind(sent.session_id.to_string())
        .bind(json(&SentJson::from(sent))?)
        .bind(int(until));
        self.exec(q).await.map(drop)
    }

    async fn save_pending(&self, pending: &StoredPending) -> Result<()> {
        let id = pending.pending.session_id.to_string();
        // One statement: the row goes in only if no request has the id.
        let q = sqlx::query(
            "INSERT INTO pending_sessions (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.clone())
        .bind(json(pending)?);
        match self.exec(q).await? {
            0 => Err(Error::Exists(id)),
            _ => Ok(()),
        }
    }

    async fn load_pending(&self, id: &SessionId) -> Result<StoredPending> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM pending_sessions WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(store)?;
        let body = body.ok_or_else(|| Error::UnknownPending(id.to_string()))?;
        parse(&body, "pending request")
    }

    async fn remove_pending(&self, id: &SessionId) -> Result<()> {
        let q = sqlx::query("DELETE FROM pending_sessions WHERE id = $1").bind(id.to_string());
        self.exec(q).await.map(drop)
    }

    async fn forget_sent(&self, call_id: &CallId) -> Result<()> {
        let q =
            sqlx::query("DELETE FROM sent_calls WHERE call_id = $1").bind(call_id.0.to_string());
        self.exec(q).await.map(drop)
    }

    async fn claim_lapsed(&self, id: &SessionId, now: u64) -> Result<Vec<SentCall>> {
        // One statement: a row deleted here is this caller's alone.
        let rows = sqlx::query(
            "DELETE FROM sent_calls WHERE session_id = $1 AND expires_at <= $2 RETURNING call_id, body",
        )
        .bind(id.to_string())
        .bind(int(now))
        .fetch_all(&self.pool)
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
        let begin = Begin {
            id: *id,
            calls: calls.to_vec(),
            gas: U256::ZERO,
            now,
            ttl,
            lease: true,
            tries: 0,
        };
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
        let _ = now;
        let end = End {
            settled: settled.to_vec(),
            lease: Some(lease.clone()),
            installed: installed.copied(),
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

    /// A file that holds a migration this build does not know (another version of sesskey
    /// wrote it) is refused, naming the file, and not written.
    #[tokio::test]
    async fn a_sqlite_file_of_another_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(super::SqlStore::sqlite(&path).await.unwrap());
        let url = format!("sqlite://{}", path.display());
        let pool = super::open::open_pool(&url, super::Engine::Sqlite, 1).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (20261201000000, 'another', true, x'00', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        let before = std::fs::read(&path).unwrap();
        let e = super::SqlStore::sqlite(&path).await.err().unwrap().to_string();
        assert!(
            e.contains("20261201000000") && e.contains("another version") && e.contains("s.db"),
            "{e}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before, "the file is left as it was");
    }
}

//! The store's writer: calls' starts and ends, group-committed.
//!
//! Starts and ends that reach a [`SqlStore`](super::SqlStore) while its writer is busy wait in
//! a queue, then go together in one transaction: it reads the sessions (locked), the
//! reservations of the sessions it judges and the keys leased on their accounts, judges in
//! memory ([`super::judge`]), writes, and commits. Each caller is answered after the commit
//! (what it was told is durable), and a refusal (an allowance, a revoked session, a held key, a
//! damaged row) is that caller's alone. A caller gone before its answer holds nothing: what it
//! was granted is given back in the next transaction.
//!
//! Every statement is fixed text with bound values, the same on both engines; a list is as
//! many placeholders as it has items. A key another process leased between our read and our
//! insert sends its start round again in the next transaction; a transaction PostgreSQL
//! aborted for a deadlock or a serialization failure is run again whole.

use super::judge::{self, Held, Read, Reserved, Sessions};
use super::{account_text, int, json, parse, record_of, store, Engine, Query, SpendJson};
use crate::error::{Error, Result};
use crate::store::{NonceLease, Reservation, StoredSession};
use alloy_primitives::{Address, U256};
use sesskey_account::Spend;
use sesskey_types::{Call, SessionId};
use sqlx::{Any, AnyPool, Row};
use std::collections::{BTreeSet, HashMap, HashSet};
use tokio::sync::{mpsc, oneshot};

/// At most this many starts and ends in one transaction.
const MAX_BATCH: usize = 64;

/// How many times a transaction PostgreSQL aborted (deadlock, serialization) is run again.
const TRANSIENT_TRIES: usize = 3;

/// How many transactions a start goes through without getting the key it was judged to get
/// (another process took it first) before it gives up.
const LEASE_TRIES: usize = 32;

/// A call's start ([`SessionStore::begin_call`](crate::SessionStore::begin_call)), or a
/// reservation alone ([`SessionStore::reserve`](crate::SessionStore::reserve)).
#[derive(Debug)]
pub(super) struct Begin {
    pub(super) id: SessionId,
    pub(super) calls: Vec<Call>,
    pub(super) gas: U256,
    pub(super) now: u64,
    pub(super) ttl: u64,
    /// Lease a nonce key too.
    pub(super) lease: bool,
    /// Transactions it went through without getting its key.
    pub(super) tries: usize,
}

/// A call's end ([`SessionStore::end_call`](crate::SessionStore::end_call)).
#[derive(Debug)]
pub(super) struct End {
    pub(super) settled: Vec<(Reservation, Option<Spend>)>,
    pub(super) lease: Option<NonceLease>,
    pub(super) installed: Option<SessionId>,
}

/// What a start got.
#[derive(Debug)]
pub(super) struct Started {
    pub(super) record: StoredSession,
    pub(super) reservation: Reservation,
    pub(super) lease: Option<NonceLease>,
}

/// A request to the writer. A start answers `None` while another call holds the key of the
/// session's first op.
#[derive(Debug)]
pub(super) enum Op {
    Begin(Begin, oneshot::Sender<Result<Option<Started>>>),
    End(End, oneshot::Sender<Result<()>>),
}

/// What a transaction did for one op.
pub(super) enum Outcome {
    Began(Result<Option<Box<Started>>>),
    Ended(Result<()>),
    /// Another process took the key chosen for it: go round again.
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

pub(super) fn stopped() -> Error {
    Error::Store("the store's writer has stopped".into())
}

/// Starts the writer on `pool`, as a task of the current runtime; it ends when every sender
/// is dropped.
pub(super) fn start(pool: AnyPool, engine: Engine) -> mpsc::Sender<Op> {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(serve(pool, engine, rx));
    tx
}

/// The writer's loop: whatever queued up while it was busy, in one transaction.
async fn serve(pool: AnyPool, engine: Engine, mut rx: mpsc::Receiver<Op>) {
    let mut again: Vec<Op> = vec![];
    loop {
        if again.is_empty() {
            match rx.recv().await {
                Some(op) => again.push(op),
                None => return,
            }
        }
        // The callers answered last get a turn to queue their next op first.
        tokio::task::yield_now().await;
        let mut ops = std::mem::take(&mut again);
        while ops.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        // A start whose caller is already gone is not judged: it would hold, for the rest of
        // this transaction, what the starts after it need.
        ops.retain(|op| !matches!(op, Op::Begin(_, reply) if reply.is_closed()));
        if ops.is_empty() {
            continue;
        }
        again = run(&pool, engine, ops).await;
    }
}

/// Runs `ops` in one transaction and answers each; what must go round again is returned.
async fn run(pool: &AnyPool, engine: Engine, ops: Vec<Op>) -> Vec<Op> {
    let mut tries = 0;
    let outcomes = loop {
        match transaction(pool, engine, &ops).await {
            Ok(outcomes) => break outcomes,
            Err(f) if f.transient && tries + 1 < TRANSIENT_TRIES => tries += 1,
            Err(f) => {
                for op in ops {
                    let e = Error::Store(f.message.clone());
                    match op {
                        Op::Begin(_, reply) => drop(reply.send(Err(e))),
                        Op::End(_, reply) => drop(reply.send(Err(e))),
                    }
                }
                return vec![];
            }
        }
    };
    let mut again = vec![];
    for (op, outcome) in ops.into_iter().zip(outcomes) {
        match (op, outcome) {
            (Op::Begin(mut begin, reply), Outcome::Retry) => {
                begin.tries += 1;
                if begin.tries >= LEASE_TRIES {
                    let e = format!("no free nonce key after {LEASE_TRIES} tries");
                    drop(reply.send(Err(Error::Store(e))));
                } else {
                    again.push(Op::Begin(begin, reply));
                }
            }
            (Op::Begin(_, reply), Outcome::Began(result)) => {
                if let Err(Ok(Some(started))) = reply.send(result.map(|s| s.map(|s| *s))) {
                    // Its caller is gone: give back what it was granted.
                    let (orphan, _) = oneshot::channel();
                    let end = End {
                        settled: vec![(started.reservation, None)],
                        lease: started.lease,
                        installed: None,
                    };
                    again.push(Op::End(end, orphan));
                }
            }
            (Op::End(_, reply), Outcome::Ended(result)) => drop(reply.send(result)),
            (Op::Begin(_, reply), _) => {
                drop(reply.send(Err(Error::Store("a start answered as an end".into()))));
            }
            (Op::End(_, reply), _) => {
                drop(reply.send(Err(Error::Store("an end answered as a start".into()))));
            }
        }
    }
    again
}

type Tx = sqlx::Transaction<'static, Any>;

/// `$first, $first+1, …`: `n` placeholders (only placeholders are ever written into the SQL).
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `($1, $2, $3), ($4, $5, $6), …`: `n` rows of `width` placeholders.
fn rows(width: usize, n: usize) -> String {
    (0..n)
        .map(|r| format!("({})", placeholders(1 + r * width, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn query(sql: String) -> Query {
    sqlx::query(sqlx::AssertSqlSafe(sql))
}

/// One transaction for all of `ops`: an outcome for each, in order.
async fn transaction(
    pool: &AnyPool,
    engine: Engine,
    ops: &[Op],
) -> std::result::Result<Vec<Outcome>, Failure> {
    // SQLite: the write lock from the start (one writer at a time, across processes).
    // PostgreSQL (READ COMMITTED): the sessions' rows are locked by the read, below.
    let mut tx = match engine {
        Engine::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Engine::Postgres => pool.begin().await?,
    };
    let mut read = Read { sessions: read_sessions(&mut tx, engine, ops).await?, ..Read::default() };
    let begins = || {
        ops.iter().filter_map(|op| match op {
            Op::Begin(b, _) => Some(b),
            Op::End(..) => None,
        })
    };
    let mut judged = BTreeSet::new();
    let mut accounts = BTreeSet::new();
    for b in begins() {
        if let Some(Ok(r)) = read.sessions.get(&b.id) {
            if r.session.policy().has_budgets() {
                judged.insert(b.id);
            }
            if b.lease {
                accounts.insert(r.session.account);
            }
        }
    }
    read.reserved = read_reservations(&mut tx, &judged).await?;
    read.held = read_leases(&mut tx, &accounts).await?;

    // Judged in memory: the ends, then the starts.
    let as_read: HashMap<SessionId, (Spend, bool)> = read
        .sessions
        .iter()
        .filter_map(|(id, r)| r.as_ref().ok().map(|r| (*id, (r.spent(), r.installed))))
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = ops.iter().map(|_| None).collect();
    let mut freed = judge::settle_ends(ops, &mut read.sessions, &mut outcomes);
    // The lapsed reservations of the sessions judged go too (their calls are settled from the
    // chain, by their sent-call records).
    let by = begins().map(|b| b.now).min().unwrap_or(0);
    for list in read.reserved.values().filter_map(|l| l.as_ref().ok()) {
        freed.gone.extend(list.iter().filter(|r| r.expires <= by).map(|r| r.id.clone()));
    }
    let planned = judge::start_calls(ops, &mut read, &freed, &mut outcomes);

    // The writes.
    if !freed.gone.is_empty() {
        let sql =
            format!("DELETE FROM reservations WHERE id IN ({})", placeholders(1, freed.gone.len()));
        let q = freed.gone.iter().fold(query(sql), |q, id| q.bind(id.clone()));
        q.execute(&mut *tx).await?;
    }
    if !freed.released.is_empty() {
        // Each only while it is still its holder's (its token).
        let each: Vec<String> = (0..freed.released.len())
            .map(|i| {
                let p = 4 * i;
                format!(
                    "(account = ${} AND chain_id = ${} AND nonce_key = ${} AND token = ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4
                )
            })
            .collect();
        let sql = format!("DELETE FROM nonce_leases WHERE {}", each.join(" OR "));
        let q = freed.released.iter().fold(query(sql), |q, l| {
            q.bind(account_text(&l.account))
                .bind(int(l.chain_id))
                .bind(int(l.key))
                .bind(l.token.clone())
        });
        q.execute(&mut *tx).await?;
    }
    let leases: Vec<(&NonceLease, u64)> =
        planned.iter().filter_map(|p| Some((p.started.lease.as_ref()?, p.expires))).collect();
    let mut won = HashSet::new();
    if !leases.is_empty() {
        // A lapsed lease of the same key is taken over; a live one (which another process
        // took since our read) is not, and its start goes round again.
        let latest = begins().map(|b| b.now).max().unwrap_or(0);
        let sql = format!(
            "INSERT INTO nonce_leases (account, chain_id, nonce_key, token, expires_at) \
             VALUES {} ON CONFLICT (account, chain_id, nonce_key) DO UPDATE \
             SET token = excluded.token, expires_at = excluded.expires_at \
             WHERE nonce_leases.expires_at <= ${} RETURNING token",
            rows(5, leases.len()),
            5 * leases.len() + 1
        );
        let q = leases.iter().fold(query(sql), |q, (l, expires)| {
            q.bind(account_text(&l.account))
                .bind(int(l.chain_id))
                .bind(int(l.key))
                .bind(l.token.clone())
                .bind(int(*expires))
        });
        for row in q.bind(int(latest)).fetch_all(&mut *tx).await? {
            won.insert(row.try_get::<String, _>("token")?);
        }
    }
    let got = |p: &judge::Planned| p.started.lease.as_ref().is_none_or(|l| won.contains(&l.token));
    let reserved: Vec<&judge::Planned> = planned.iter().filter(|p| p.budgets && got(p)).collect();
    if !reserved.is_empty() {
        let sql = format!(
            "INSERT INTO reservations (id, session_id, spend, expires_at) VALUES {}",
            rows(4, reserved.len())
        );
        let mut q = query(sql);
        for p in &reserved {
            let r = &p.started.reservation;
            q = q
                .bind(r.id.clone())
                .bind(r.session_id.to_string())
                .bind(json(&SpendJson::from(&r.spend))?)
                .bind(int(p.expires));
        }
        q.execute(&mut *tx).await?;
    }
    // What the ends changed: the spent amounts (one statement for all), and the record of a
    // session whose key is now installed.
    let mut spent = vec![];
    for (id, row) in &read.sessions {
        let (Ok(record), Some((was, installed))) = (row, as_read.get(id)) else { continue };
        if record.installed != *installed {
            sqlx::query("UPDATE sessions SET record = $1 WHERE id = $2")
                .bind(json(record)?)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        if record.spent() != *was {
            spent.push((id.to_string(), json(&SpendJson::from(&record.spent()))?));
        }
    }
    if !spent.is_empty() {
        let cases: Vec<String> =
            (0..spent.len()).map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2)).collect();
        let ids: Vec<String> = (0..spent.len()).map(|i| format!("${}", 2 * i + 1)).collect();
        let sql = format!(
            "UPDATE sessions SET spent = CASE id {} END WHERE id IN ({})",
            cases.join(" "),
            ids.join(", ")
        );
        let q = spent.into_iter().fold(query(sql), |q, (id, s)| q.bind(id).bind(s));
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;

    for p in planned {
        outcomes[p.op] = Some(if got(&p) {
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

/// The sessions `ops` judge or change, locked on PostgreSQL (`FOR UPDATE`, in id order, so
/// that transactions never deadlock on each other). Under READ COMMITTED each statement reads
/// a snapshot taken when it starts: the reads of the reservations and leases that follow see
/// everything committed by whoever held a lock this one waited for.
async fn read_sessions(
    tx: &mut Tx,
    engine: Engine,
    ops: &[Op],
) -> std::result::Result<Sessions, Failure> {
    let ids = judge::sessions_to_read(ops);
    let mut sessions = Sessions::new();
    if ids.is_empty() {
        return Ok(sessions);
    }
    let by_text: HashMap<String, SessionId> = ids.iter().map(|id| (id.to_string(), *id)).collect();
    let sql = format!(
        "SELECT id, record, spent, revoked FROM sessions WHERE id IN ({}) ORDER BY id{}",
        placeholders(1, ids.len()),
        if engine == Engine::Postgres { " FOR UPDATE" } else { "" }
    );
    let q = ids.iter().fold(query(sql), |q, id| q.bind(id.to_string()));
    for row in q.fetch_all(&mut **tx).await? {
        let text: String = row.try_get("id")?;
        if let Some(id) = by_text.get(&text) {
            sessions.insert(*id, record_of(&row).map_err(|e| e.to_string()));
        }
    }
    Ok(sessions)
}

/// The reservations of the sessions `ids`.
async fn read_reservations(
    tx: &mut Tx,
    ids: &BTreeSet<SessionId>,
) -> std::result::Result<HashMap<SessionId, std::result::Result<Vec<Reserved>, String>>, Failure> {
    let mut reserved: HashMap<_, std::result::Result<Vec<Reserved>, String>> =
        ids.iter().map(|id| (*id, Ok(vec![]))).collect();
    if ids.is_empty() {
        return Ok(reserved);
    }
    let by_text: HashMap<String, SessionId> = ids.iter().map(|id| (id.to_string(), *id)).collect();
    let sql = format!(
        "SELECT id, session_id, spend, expires_at FROM reservations WHERE session_id IN ({})",
        placeholders(1, ids.len())
    );
    let q = ids.iter().fold(query(sql), |q, id| q.bind(id.to_string()));
    for row in q.fetch_all(&mut **tx).await? {
        let session: String = row.try_get("session_id")?;
        let Some(session) = by_text.get(&session) else { continue };
        let id: String = row.try_get("id")?;
        let spend: String = row.try_get("spend")?;
        let expires = time(row.try_get("expires_at")?);
        let entry = reserved.entry(*session).or_insert_with(|| Ok(vec![]));
        match parse::<SpendJson>(&spend, "reservation") {
            Ok(spend) => {
                if let Ok(list) = entry {
                    list.push(Reserved { id, spend: spend.into(), expires });
                }
            }
            Err(e) => *entry = Err(e.to_string()),
        }
    }
    Ok(reserved)
}

/// The keys leased on the accounts `accounts`, by account and chain.
async fn read_leases(
    tx: &mut Tx,
    accounts: &BTreeSet<Address>,
) -> std::result::Result<HashMap<(Address, u64), Vec<Held>>, Failure> {
    let mut held: HashMap<(Address, u64), Vec<Held>> = HashMap::new();
    if accounts.is_empty() {
        return Ok(held);
    }
    let sql = format!(
        "SELECT account, chain_id, nonce_key, token, expires_at FROM nonce_leases \
         WHERE account IN ({})",
        placeholders(1, accounts.len())
    );
    let q = accounts.iter().fold(query(sql), |q, a| q.bind(account_text(a)));
    for row in q.fetch_all(&mut **tx).await? {
        let account: String = row.try_get("account")?;
        let account: Address = account.parse().map_err(store)?;
        let chain = time(row.try_get("chain_id")?);
        held.entry((account, chain)).or_default().push(Held {
            key: time(row.try_get("nonce_key")?),
            token: row.try_get("token")?,
            expires: time(row.try_get("expires_at")?),
        });
    }
    Ok(held)
}

/// A time or a key as the database keeps it (a negative one is long past).
fn time(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_are_placeholders_only() {
        assert_eq!(super::placeholders(3, 2), "$3, $4");
        assert_eq!(super::rows(2, 2), "($1, $2), ($3, $4)");
    }
}

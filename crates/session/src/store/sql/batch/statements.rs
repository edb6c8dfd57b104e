//! The writer's SQL: fixed statements for each engine (PostgreSQL's lists as JSON arrays,
//! SQLite's writes one row at a time), and the commands that run them.

use super::cache::{Held, Read, Reserved};
use super::{int, time, AsRead, Failure, Freed, Planned, Sessions};
use crate::store::sql::{account_text, parse, record_from, store, Engine};
use crate::store::{random_id, NonceLease, SpendJson};
use alloy_primitives::Address;
use sesskey_types::SessionId;
use sqlx::Row as _;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// A statement of the writer's: its text, and the name PostgreSQL prepares it under.
pub(super) struct Stmt {
    name: &'static str,
    sql: Arc<str>,
}

impl Stmt {
    fn new(name: &'static str, sql: impl Into<Arc<str>>) -> Self {
        Self { name, sql: sql.into() }
    }
}

/// The writer's statements, fixed text for each engine: the read, which takes its lists as
/// JSON arrays (SQLite reads them with `json_each`, PostgreSQL with `json_array_elements`), and
/// the writes. SQLite runs them with bound values; PostgreSQL prepares them once per connection
/// and runs them by name, as a simple query of several.
pub(super) struct Statements {
    /// PostgreSQL: locks the sessions `$1` (in id order, so batches never deadlock on each
    /// other), answering no row. A statement of its own, before the read: under READ
    /// COMMITTED each statement reads a snapshot taken when it starts, so the read that
    /// follows sees everything committed by whoever held a lock this one waited for (within
    /// one statement, the rows of other tables would be read as they were before the wait).
    pub(super) lock: Option<Stmt>,
    /// The sessions (`$1`), the reservations of the sessions `$2`, and the leases of
    /// the accounts `$3`, as one result (`kind`, then columns `a`, `b`, `c`, `x`, `y`, `z`).
    pub(super) read: Stmt,
    pub(super) writes: Writes,
}

/// The writes, as each engine runs them best.
pub(super) enum Writes {
    /// PostgreSQL: each kind of write is one statement over a JSON array, since each
    /// statement costs a round trip.
    Lists(Lists),
    /// SQLite: one row each, with plain values. On the writer's own connection a statement
    /// costs no round trip, and reading rows out of JSON cost more than running them one by one.
    Rows(Rows),
}

/// PostgreSQL's writes, over JSON arrays.
pub(super) struct Lists {
    /// Deletes the reservations `$1`, and those of the sessions `$2` lapsed by `$3`.
    free: Stmt,
    /// Returns the leases `$1` (`a`ccount, `c`hain, `k`ey, `t`oken), each only while it is
    /// still its holder's. (Deleted, not marked lapsed: the table holds only the keys in
    /// flight, so that its scans stay short whatever plan the database picks.)
    release: Stmt,
    /// Leases the keys `$1` (with when each lapses, `e`), taking over any lapsed by `$2`:
    /// the tokens of those that are now ours.
    lease: Stmt,
    /// Inserts the reservations `$1` (`i`d, `s`ession, s`p`end, `e`xpiry), each only if the
    /// lease it names (if any) is its own. (`LIMIT 1` keeps PostgreSQL to one index lookup per
    /// row rather than hashing the whole lease table.)
    reserve: Stmt,
    /// Sets the spent amounts `$1` (`i`d, s`p`ent) and, where given, the record (`r`).
    spend: Stmt,
}

/// SQLite's writes, one row each.
pub(super) struct Rows {
    /// Deletes the reservation `$1`.
    free: Stmt,
    /// Deletes the reservations of the session `$1` lapsed by `$2`.
    lapsed: Stmt,
    /// Returns the lease (`$1` account, `$2` chain, `$3` key) if its token is still `$4`.
    release: Stmt,
    /// Leases the key (`$1` account, `$2` chain, `$3` key) to token `$4` until `$5`, taking
    /// it over if lapsed by `$6`: the token, if it is now ours.
    lease: Stmt,
    /// Inserts the reservation `$1` of the session `$2` (spend `$3`, lapsing at `$4`), if it
    /// names no lease (`$5` null) or the lease (`$6` account, `$7` chain, `$8` key) is token
    /// `$5`'s.
    reserve: Stmt,
    /// Sets the session `$1`'s spent amounts to `$2` and, if `$3` is not null, its record.
    spend: Stmt,
}

impl Statements {
    pub(super) fn new(engine: Engine) -> Self {
        // `list`: in a JSON array of text. PostgreSQL compares against an array, so that its
        // prepared (generic) plans look the keys up in the index whatever the table's size.
        let list: fn(&str) -> String = match engine {
            Engine::Sqlite => |p| format!("IN (SELECT value FROM json_each({p}))"),
            Engine::Postgres => |p| {
                format!(
                    "= ANY(ARRAY(SELECT value FROM json_array_elements_text(CAST({p} AS json)) AS j(value)))"
                )
            },
        };
        // SQLite needs no lock: its transactions begin IMMEDIATE (one writer at a time).
        let lock = (engine == Engine::Postgres).then(|| {
            Stmt::new(
                "sk_lock",
                format!(
                    "WITH l AS MATERIALIZED (SELECT id FROM sessions WHERE id {} ORDER BY id FOR UPDATE) \
                     SELECT n FROM (SELECT count(*) AS n FROM l) c WHERE n < 0",
                    list("$1")
                ),
            )
        });
        let read = Stmt::new(
            "sk_read",
            format!(
                "WITH s AS (SELECT id, record, spent, revoked FROM sessions WHERE id {} ORDER BY id) \
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
        );
        let writes = match engine {
            Engine::Sqlite => Writes::Rows(Rows::new()),
            Engine::Postgres => Writes::Lists(Lists::new(list)),
        };
        Self { lock, read, writes }
    }

    /// PostgreSQL: prepares every statement on a connection, as one simple query.
    pub(super) fn prepare(&self) -> String {
        let mut all: Vec<&Stmt> = self.lock.iter().collect();
        all.push(&self.read);
        if let Writes::Lists(w) = &self.writes {
            all.extend([&w.free, &w.release, &w.lease, &w.reserve, &w.spend]);
        }
        all.iter()
            .map(|s| format!("PREPARE {} AS {}", s.name, s.sql))
            .collect::<Vec<_>>()
            .join(";\n")
    }
}

impl Lists {
    fn new(list: fn(&str) -> String) -> Self {
        // `field_list`: in one field of a JSON array of objects; `each`: the objects.
        let field_list = |p: &str, f: &str| {
            format!(
                "= ANY(ARRAY(SELECT value->>'{f}' FROM json_array_elements(CAST({p} AS json)) AS j(value)))"
            )
        };
        let each = |p: &str| format!("json_array_elements(CAST({p} AS json)) AS j(value)");
        Self {
            free: Stmt::new(
                "sk_free",
                format!(
                    "DELETE FROM reservations WHERE id {} OR (session_id {} AND expires_at <= $3)",
                    list("$1"),
                    list("$2"),
                ),
            ),
            release: Stmt::new(
                "sk_release",
                format!(
                    "DELETE FROM nonce_leases WHERE account {} \
                     AND (account, chain_id, nonce_key, token) IN \
                     (SELECT value->>'a', CAST(value->>'c' AS BIGINT), CAST(value->>'k' AS BIGINT), \
                     value->>'t' FROM {})",
                    field_list("$1", "a"),
                    each("$1"),
                ),
            ),
            lease: Stmt::new(
                "sk_lease",
                format!(
                    "INSERT INTO nonce_leases (account, chain_id, nonce_key, token, expires_at) \
                     SELECT value->>'a', CAST(value->>'c' AS BIGINT), CAST(value->>'k' AS BIGINT), \
                     value->>'t', CAST(value->>'e' AS BIGINT) FROM {} WHERE true \
                     ON CONFLICT (account, chain_id, nonce_key) \
                     DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at \
                     WHERE nonce_leases.expires_at <= $2 RETURNING token",
                    each("$1"),
                ),
            ),
            reserve: Stmt::new(
                "sk_reserve",
                format!(
                    "INSERT INTO reservations (id, session_id, spend, expires_at) \
                     SELECT value->>'i', value->>'s', value->>'p', CAST(value->>'e' AS BIGINT) FROM {} \
                     WHERE (value->>'t' IS NULL OR EXISTS (SELECT 1 FROM nonce_leases l \
                     WHERE l.account = value->>'a' AND l.chain_id = CAST(value->>'c' AS BIGINT) \
                     AND l.nonce_key = CAST(value->>'k' AS BIGINT) AND l.token = value->>'t' LIMIT 1))",
                    each("$1"),
                ),
            ),
            spend: Stmt::new(
                "sk_spend",
                format!(
                    "UPDATE sessions SET \
                     spent = COALESCE((SELECT value->>'p' FROM {each} WHERE value->>'i' = sessions.id), spent), \
                     record = COALESCE((SELECT value->>'r' FROM {each} WHERE value->>'i' = sessions.id), record) \
                     WHERE id {}",
                    field_list("$1", "i"),
                    each = each("$1")
                ),
            ),
        }
    }
}

impl Rows {
    fn new() -> Self {
        Self {
            free: Stmt::new("sk_free_one", "DELETE FROM reservations WHERE id = $1"),
            lapsed: Stmt::new(
                "sk_lapsed_one",
                "DELETE FROM reservations WHERE session_id = $1 AND expires_at <= $2",
            ),
            release: Stmt::new(
                "sk_release_one",
                "DELETE FROM nonce_leases WHERE account = $1 AND chain_id = $2 \
                 AND nonce_key = $3 AND token = $4",
            ),
            lease: Stmt::new(
                "sk_lease_one",
                "INSERT INTO nonce_leases (account, chain_id, nonce_key, token, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account, chain_id, nonce_key) \
                 DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at \
                 WHERE nonce_leases.expires_at <= $6 RETURNING token",
            ),
            reserve: Stmt::new(
                "sk_reserve_one",
                "INSERT INTO reservations (id, session_id, spend, expires_at) \
                 SELECT $1, $2, $3, $4 WHERE $5 IS NULL OR EXISTS (SELECT 1 FROM nonce_leases \
                 WHERE account = $6 AND chain_id = $7 AND nonce_key = $8 AND token = $5)",
            ),
            spend: Stmt::new(
                "sk_spend_one",
                "UPDATE sessions SET spent = $2, record = COALESCE($3, record) WHERE id = $1",
            ),
        }
    }
}

/// A value a statement takes.
pub(super) enum Arg {
    Text(String),
    Int(i64),
    Null,
}

/// One statement of a [`Script`]: a plain one, or one of [`Statements`] with its values.
struct Step {
    /// The name PostgreSQL prepared it under (`None`: plain).
    name: Option<&'static str>,
    sql: Sql,
    args: Vec<Arg>,
}

/// A statement's text: a constant, or one of the writer's [`Statements`] (shared, not copied).
enum Sql {
    Fixed(&'static str),
    Shared(Arc<str>),
}

impl std::ops::Deref for Sql {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Self::Fixed(s) => s,
            Self::Shared(s) => s,
        }
    }
}

/// Statements and their values, run as one command.
///
/// On SQLite through sqlx the values are bound (the statements' `$n` numbered across the
/// command); on the writer's own SQLite connection each statement runs from the connection's
/// cache of prepared statements, its values bound by name. On PostgreSQL the command is a
/// simple query of `EXECUTE`s of the prepared statements, each text value written in dollar
/// quotes under a tag drawn at random for the script (a value that holds the tag refuses the
/// script), each integer as its digits.
pub(super) struct Script {
    steps: Vec<Step>,
    /// PostgreSQL: the dollar-quote tag.
    tag: Option<String>,
}

impl Script {
    pub(super) fn new(engine: Engine) -> Self {
        let tag = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(format!("$sk{}$", random_id())),
        };
        Self { steps: vec![], tag }
    }

    /// Appends a statement without values.
    pub(super) fn plain(&mut self, sql: &'static str) {
        self.steps.push(Step { name: None, sql: Sql::Fixed(sql), args: vec![] });
    }

    /// Appends `stmt` with `args`.
    pub(super) fn run(&mut self, stmt: &Stmt, args: Vec<Arg>) {
        let sql = Sql::Shared(stmt.sql.clone());
        self.steps.push(Step { name: Some(stmt.name), sql, args });
    }

    /// Puts a statement without values first.
    pub(super) fn prepend(&mut self, sql: &'static str) {
        self.steps.insert(0, Step { name: None, sql: Sql::Fixed(sql), args: vec![] });
    }

    pub(super) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// PostgreSQL: the command, as one simple query.
    fn postgres(&self, tag: &str) -> std::result::Result<String, Failure> {
        let mut out = vec![];
        for step in &self.steps {
            let Some(name) = step.name else {
                out.push(step.sql.to_string());
                continue;
            };
            let mut args = vec![];
            for a in &step.args {
                args.push(match a {
                    Arg::Text(v) if v.contains(tag) => {
                        return Err(Failure {
                            message: "a value holds the script's quoting tag".into(),
                            transient: false,
                        })
                    }
                    Arg::Text(v) => format!("{tag}{v}{tag}"),
                    Arg::Int(v) => v.to_string(),
                    Arg::Null => "NULL".to_string(),
                });
            }
            out.push(format!("EXECUTE {name}({})", args.join(", ")));
        }
        Ok(out.join(";\n"))
    }

    /// SQLite through sqlx: the command, its values numbered across its statements.
    fn sqlite(&self) -> (String, Vec<&Arg>) {
        let mut sql = vec![];
        let mut binds = vec![];
        for step in &self.steps {
            sql.push(numbered(&step.sql, binds.len()));
            binds.extend(&step.args);
        }
        (sql.join(";\n"), binds)
    }

    /// Runs it: the rows of every statement.
    pub(super) async fn fetch_all(self, conn: &mut Conn) -> std::result::Result<Vec<Row>, Failure> {
        let rows = match (conn, self.tag.as_deref()) {
            #[cfg(feature = "sqlite")]
            (Conn::Lite(conn), _) => return self.run_lite(conn),
            (Conn::Pool(conn), Some(tag)) => {
                let sql = sqlx::AssertSqlSafe(self.postgres(tag)?);
                sqlx::raw_sql(sql).fetch_all(&mut **conn).await?
            }
            (Conn::Pool(conn), None) => {
                let (sql, binds) = self.sqlite();
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for b in binds {
                    q = match b {
                        Arg::Text(v) => q.bind(v.as_str()),
                        Arg::Int(v) => q.bind(*v),
                        Arg::Null => q.bind(None::<String>),
                    };
                }
                q.fetch_all(&mut **conn).await?
            }
        };
        rows.iter().map(Row::from_any).collect()
    }

    /// On the writer's own SQLite connection, statement by statement, each prepared once.
    #[cfg(feature = "sqlite")]
    fn run_lite(self, conn: &rusqlite::Connection) -> std::result::Result<Vec<Row>, Failure> {
        let mut out = vec![];
        for step in self.steps {
            let mut stmt = conn.prepare_cached(&step.sql)?;
            for (n, arg) in step.args.iter().enumerate() {
                let name = match PARAMS.get(n) {
                    Some(name) => std::borrow::Cow::Borrowed(*name),
                    None => std::borrow::Cow::Owned(format!("${}", n + 1)),
                };
                let Some(at) = stmt.parameter_index(&name)? else {
                    return Err(Failure {
                        message: format!("a statement takes no value {name}"),
                        transient: false,
                    });
                };
                match arg {
                    Arg::Text(v) => stmt.raw_bind_parameter(at, v.as_str())?,
                    Arg::Int(v) => stmt.raw_bind_parameter(at, *v)?,
                    Arg::Null => stmt.raw_bind_parameter(at, rusqlite::types::Null)?,
                }
            }
            let names: std::sync::Arc<[String]> =
                stmt.column_names().into_iter().map(String::from).collect();
            let mut rows = stmt.raw_query();
            while let Some(row) = rows.next()? {
                let mut values = Vec::with_capacity(names.len());
                for i in 0..names.len() {
                    values.push(match row.get_ref(i)? {
                        rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                        rusqlite::types::ValueRef::Text(v) => {
                            Value::Text(String::from_utf8_lossy(v).into_owned())
                        }
                        rusqlite::types::ValueRef::Null => Value::Null,
                        _ => Value::Other,
                    });
                }
                out.push(Row { names: names.clone(), values });
            }
        }
        Ok(out)
    }
}

/// The names of the first values a statement takes.
#[cfg(feature = "sqlite")]
const PARAMS: [&str; 8] = ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8"];

/// The writer's connection: from the store's pool (PostgreSQL, an in-memory SQLite database),
/// or its own SQLite connection, called on its own thread.
pub(super) enum Conn {
    Pool(sqlx::pool::PoolConnection<sqlx::Any>),
    #[cfg(feature = "sqlite")]
    Lite(rusqlite::Connection),
}

/// Opens the writer's own connection to the SQLite file at `path` (which the store's pool
/// created and migrated), set as the pool's are.
#[cfg(feature = "sqlite")]
pub(super) fn open_lite(path: &std::path::Path) -> std::result::Result<Conn, Failure> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Every statement the writer runs (the read, the row writes, the plain ones), with room.
    conn.set_prepared_statement_cache_capacity(32);
    Ok(Conn::Lite(conn))
}

/// Without the `sqlite` feature there is no SQLite file to open.
#[cfg(not(feature = "sqlite"))]
pub(super) fn open_lite(_: &std::path::Path) -> std::result::Result<Conn, Failure> {
    Err(Failure {
        message: "this build has no SQLite (the `sqlite` feature)".into(),
        transient: false,
    })
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Self { message: e.to_string(), transient: false }
    }
}

/// A value a statement returned.
enum Value {
    Null,
    Int(i64),
    Text(String),
    /// A real or a blob: none of the writer's statements returns one.
    Other,
}

/// A row a statement returned, whichever connection ran it.
pub(super) struct Row {
    names: std::sync::Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    fn from_any(row: &sqlx::any::AnyRow) -> std::result::Result<Self, Failure> {
        use sqlx::Column;
        let names: std::sync::Arc<[String]> =
            row.columns().iter().map(|c| c.name().to_string()).collect();
        let mut values = Vec::with_capacity(names.len());
        for i in 0..names.len() {
            use sqlx::any::AnyTypeInfoKind as Kind;
            use sqlx::ValueRef;
            let raw = row.try_get_raw(i)?;
            let kind = raw.type_info().kind();
            values.push(if raw.is_null() {
                Value::Null
            } else {
                match kind {
                    Kind::SmallInt | Kind::Integer | Kind::BigInt => Value::Int(row.try_get(i)?),
                    Kind::Text => Value::Text(row.try_get(i)?),
                    _ => Value::Other,
                }
            });
        }
        Ok(Self { names, values })
    }

    fn get(&self, name: &str) -> std::result::Result<&Value, Failure> {
        let at = self.names.iter().position(|n| n == name).ok_or_else(|| Failure {
            message: format!("no column `{name}` in the writer's read"),
            transient: false,
        })?;
        Ok(&self.values[at])
    }

    pub(super) fn int(&self, name: &str) -> std::result::Result<i64, Failure> {
        match self.get(name)? {
            Value::Int(v) => Ok(*v),
            _ => Err(Failure {
                message: format!("column `{name}` of the writer's read is not an integer"),
                transient: false,
            }),
        }
    }

    pub(super) fn opt_text(&self, name: &str) -> std::result::Result<Option<String>, Failure> {
        match self.get(name)? {
            Value::Text(v) => Ok(Some(v.clone())),
            Value::Null => Ok(None),
            Value::Int(_) | Value::Other => Err(Failure {
                message: format!("column `{name}` of the writer's read is not text"),
                transient: false,
            }),
        }
    }

    pub(super) fn text(&self, name: &str) -> std::result::Result<String, Failure> {
        self.opt_text(name)?.ok_or_else(|| Failure {
            message: format!("column `{name}` of the writer's read is null"),
            transient: false,
        })
    }
}

/// A statement's `$1`, `$2`, … renumbered from `offset + 1`: the values of all the statements
/// of one SQLite command are numbered together. (`$NNN` is a name to SQLite, which sqlx reads
/// as the value's number; `?NNN` would be a slot number, and leave the slots before it
/// unnamed, which sqlx fills in order.)
pub(super) fn numbered(sql: &str, offset: usize) -> String {
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
pub(super) fn json_list<T: serde::Serialize>(items: &[T]) -> std::result::Result<Arg, Failure> {
    Ok(Arg::Text(serde_json::to_string(items).map_err(store)?))
}

/// The read of a transaction: the sessions `ids` (locked), the reservations of the sessions
/// `judged`, and the keys leased on `accounts`.
pub(super) fn read_rows(
    s: &mut Script,
    statements: &Statements,
    ids: &BTreeSet<SessionId>,
    judged: &BTreeSet<SessionId>,
    accounts: &BTreeSet<Address>,
) -> std::result::Result<(), Failure> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let judged: Vec<String> = judged.iter().map(ToString::to_string).collect();
    let accounts: Vec<String> = accounts.iter().map(account_text).collect();
    if let Some(lock) = &statements.lock {
        s.run(lock, vec![json_list(&ids)?]);
    }
    s.run(&statements.read, vec![json_list(&ids)?, json_list(&judged)?, json_list(&accounts)?]);
    Ok(())
}

/// What [`read_rows`] read. A row that does not parse is kept as the error it is, for the ops
/// that need it.
pub(super) fn parse_read(
    rows: Vec<Row>,
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
        let kind = row.text("kind")?;
        let a = row.text("a")?;
        let b = row.text("b")?;
        let c = row.opt_text("c")?;
        let x = row.int("x")?;
        let (y, z) = (row.int("y")?, row.int("z")?);
        match kind.as_str() {
            "s" => {
                let Some(id) = session_ids.get(&a) else { continue };
                let parsed =
                    record_from(&b, c.as_deref().unwrap_or_default(), x).map_err(|e| e.to_string());
                read.sessions.insert(*id, parsed);
            }
            "r" => {
                let Some(id) = session_ids.get(&b) else { continue };
                let spend = parse::<SpendJson>(c.as_deref().unwrap_or_default(), "reservation");
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
pub(super) struct LeaseRow<'a> {
    a: String,
    c: i64,
    k: i64,
    t: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<i64>,
}

impl<'a> LeaseRow<'a> {
    pub(super) fn of(l: &'a NonceLease, expires: Option<u64>) -> Self {
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
/// (only of starts that got their key), the sessions' spend and installed flag. On PostgreSQL
/// each kind is one statement over a JSON array; on SQLite each row is a statement of its own.
pub(super) fn write_rows(
    s: &mut Script,
    statements: &Statements,
    freed: &Freed<'_>,
    planned: &[Planned],
    (read_as, sessions): (&AsRead, &Sessions),
) -> std::result::Result<(), Failure> {
    let w = &statements.writes;
    if !freed.gone.is_empty() {
        match w {
            Writes::Rows(w) => {
                for id in &freed.gone {
                    s.run(&w.free, vec![Arg::Text(id.clone())]);
                }
                for id in &freed.lapsed {
                    s.run(&w.lapsed, vec![Arg::Text(id.to_string()), Arg::Int(int(freed.by))]);
                }
            }
            Writes::Lists(w) => {
                let gone: Vec<&String> = freed.gone.iter().collect();
                let lapsed: Vec<String> = freed.lapsed.iter().map(ToString::to_string).collect();
                let by = Arg::Int(int(freed.by));
                s.run(&w.free, vec![json_list(&gone)?, json_list(&lapsed)?, by]);
            }
        }
    }
    if !freed.released.is_empty() {
        match w {
            Writes::Rows(w) => {
                for l in &freed.released {
                    let mut args = lease_args(l);
                    args.push(Arg::Text(l.token.clone()));
                    s.run(&w.release, args);
                }
            }
            Writes::Lists(w) => {
                let rows: Vec<LeaseRow<'_>> =
                    freed.released.iter().map(|l| LeaseRow::of(l, None)).collect();
                s.run(&w.release, vec![json_list(&rows)?]);
            }
        }
    }
    // In key order, so that two writers never wait on each other's rows crosswise.
    let mut leases: Vec<(&NonceLease, u64, u64)> = planned
        .iter()
        .filter_map(|p| p.started.lease.as_ref().map(|l| (l, p.expires, p.now)))
        .collect();
    leases.sort_by_key(|(l, _, _)| (l.account, l.chain_id, l.key));
    if let Some(now) = leases.iter().map(|(_, _, now)| *now).min() {
        match w {
            Writes::Rows(w) => {
                for (l, expires, _) in &leases {
                    let mut args = lease_args(l);
                    args.extend([Arg::Text(l.token.clone()), Arg::Int(int(*expires))]);
                    args.push(Arg::Int(int(now)));
                    s.run(&w.lease, args);
                }
            }
            Writes::Lists(w) => {
                let rows: Vec<LeaseRow<'_>> =
                    leases.iter().map(|(l, expires, _)| LeaseRow::of(l, Some(*expires))).collect();
                s.run(&w.lease, vec![json_list(&rows)?, Arg::Int(int(now))]);
            }
        }
    }
    let mut reservations = vec![];
    for p in planned.iter().filter(|p| p.started.record.session.policy().has_budgets()) {
        let r = &p.started.reservation;
        let spend = serde_json::to_string(&SpendJson::from(&r.spend)).map_err(store)?;
        if let Writes::Rows(w) = w {
            let mut args = vec![
                Arg::Text(r.id.clone()),
                Arg::Text(r.session_id.to_string()),
                Arg::Text(spend),
                Arg::Int(int(p.expires)),
            ];
            match &p.started.lease {
                Some(l) => {
                    args.push(Arg::Text(l.token.clone()));
                    args.extend(lease_args(l));
                }
                None => args.extend([Arg::Null, Arg::Null, Arg::Null, Arg::Null]),
            }
            s.run(&w.reserve, args);
            continue;
        }
        let mut row = serde_json::json!({
            "i": r.id,
            "s": r.session_id.to_string(),
            "p": spend,
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
    if let (false, Writes::Lists(w)) = (reservations.is_empty(), w) {
        s.run(&w.reserve, vec![json_list(&reservations)?]);
    }
    let mut changed = vec![];
    for (id, after) in sessions.iter().filter_map(|(id, r)| r.as_ref().ok().map(|r| (id, r))) {
        let Some((spent, was_installed)) = read_as.get(id) else { continue };
        let installed = after.installed != *was_installed;
        let now_spent = after.spent();
        if !installed && now_spent == *spent {
            continue;
        }
        let spent = serde_json::to_string(&SpendJson::from(&now_spent)).map_err(store)?;
        let record = match installed {
            true => Some(serde_json::to_string(after).map_err(store)?),
            false => None,
        };
        if let Writes::Rows(w) = w {
            let record = record.map_or(Arg::Null, Arg::Text);
            s.run(&w.spend, vec![Arg::Text(id.to_string()), Arg::Text(spent), record]);
            continue;
        }
        let mut entry = serde_json::json!({ "i": id.to_string(), "p": spent });
        if let (Some(r), Some(obj)) = (record, entry.as_object_mut()) {
            obj.insert("r".into(), r.into());
        }
        changed.push(entry);
    }
    if let (false, Writes::Lists(w)) = (changed.is_empty(), w) {
        s.run(&w.spend, vec![json_list(&changed)?]);
    }
    Ok(())
}

/// A lease's key, as the row statements take it: account, chain, key.
fn lease_args(l: &NonceLease) -> Vec<Arg> {
    vec![Arg::Text(account_text(&l.account)), Arg::Int(int(l.chain_id)), Arg::Int(int(l.key))]
}

/// SQLite: the data version (the first row of a command that reads it).
pub(super) const VERSION: &str = "PRAGMA data_version";

#[cfg(test)]
mod tests {
    use super::{numbered, Arg, Conn, Engine, Script, Statements, Writes, VERSION};

    fn rows(statements: &Statements) -> &super::Rows {
        match &statements.writes {
            Writes::Rows(w) => w,
            Writes::Lists(_) => panic!("SQLite writes one row at a time"),
        }
    }

    #[test]
    pub(super) fn postgres_values_are_quoted_under_the_scripts_tag() {
        let statements = Statements::new(Engine::Postgres);
        let Writes::Lists(w) = &statements.writes else { panic!("PostgreSQL writes lists") };
        let mut s = Script::new(Engine::Postgres);
        let tag = s.tag.clone().unwrap();
        assert!(tag.starts_with("$sk") && tag.ends_with('$'));
        s.run(
            &w.free,
            vec![Arg::Text("it's $1; DROP".into()), Arg::Text("[]".into()), Arg::Int(-7)],
        );
        assert_eq!(
            s.postgres(&tag).ok().unwrap(),
            format!("EXECUTE sk_free({tag}it's $1; DROP{tag}, {tag}[]{tag}, -7)")
        );
        // A value that holds the tag would end the quote: the script is refused.
        s.run(&w.release, vec![Arg::Text(format!("x{tag}; DELETE FROM sessions; --"))]);
        assert!(s.postgres(&tag).is_err());
        assert_ne!(Script::new(Engine::Postgres).tag, Some(tag), "a tag per script");
        assert!(statements.prepare().starts_with("PREPARE sk_lock AS WITH l AS MATERIALIZED"));
        assert!(statements.prepare().contains("PREPARE sk_read AS WITH s AS"));
    }

    #[test]
    pub(super) fn sqlite_values_are_bound_in_order() {
        let statements = Statements::new(Engine::Sqlite);
        let w = rows(&statements);
        let mut s = Script::new(Engine::Sqlite);
        s.plain("BEGIN IMMEDIATE");
        let lease = [Arg::Text("0xab".into()), Arg::Int(1), Arg::Int(7), Arg::Text("t".into())];
        s.run(&w.lease, lease.into_iter().chain([Arg::Int(9), Arg::Int(5)]).collect());
        assert!(s.sqlite().0.starts_with("BEGIN IMMEDIATE;\nINSERT INTO nonce_leases"));
        s.run(&w.spend, vec![Arg::Text("s".into()), Arg::Text("{}".into()), Arg::Null]);
        let (sql, binds) = s.sqlite();
        assert!(sql.contains("<= $6 RETURNING"));
        assert!(sql.contains("spent = $8, record = COALESCE($9, record) WHERE id = $7"));
        assert_eq!(binds.len(), 9);
        assert_eq!(numbered("a = $1 AND b <= $12, '$x' $1", 4), "a = $5 AND b <= $16, '$x' $5");
    }

    /// On the writer's own connection: each statement with its values, the rows of those
    /// that return some, in order; a value a statement does not take is an error.
    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn the_writers_own_sqlite_connection_runs_a_script() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("../../../../migrations/20261130000000_sessions.sql"))
            .unwrap();
        let mut conn = Conn::Lite(conn);
        let statements = Statements::new(Engine::Sqlite);
        let w = rows(&statements);
        let mut s = Script::new(Engine::Sqlite);
        s.plain("BEGIN IMMEDIATE");
        s.plain(VERSION);
        let key = [Arg::Text("0xab".into()), Arg::Int(1), Arg::Int(7)];
        let lease = [Arg::Text("tok".into()), Arg::Int(500), Arg::Int(100)];
        s.run(&w.lease, key.into_iter().chain(lease).collect());
        s.plain("COMMIT");
        let rows = s.fetch_all(&mut conn).await.ok().unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].int("data_version").is_ok());
        assert_eq!(rows[1].text("token").ok().unwrap(), "tok");
        assert!(rows[1].int("token").is_err(), "text is not read as an integer");
        let Conn::Lite(raw) = &conn else { unreachable!() };
        let held: (i64, i64, i64) = raw
            .query_row("SELECT chain_id, nonce_key, expires_at FROM nonce_leases", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(held, (1, 7, 500));
        // A reservation goes in only if the lease it names is its token's, or it names none.
        let reserve = |id: &str, token: Option<&str>| {
            let mut s = Script::new(Engine::Sqlite);
            let lease = match token {
                Some(t) => {
                    vec![Arg::Text(t.into()), Arg::Text("0xab".into()), Arg::Int(1), Arg::Int(7)]
                }
                None => vec![Arg::Null, Arg::Null, Arg::Null, Arg::Null],
            };
            let mut args = vec![
                Arg::Text(id.into()),
                Arg::Text("s".into()),
                Arg::Text("{}".into()),
                Arg::Int(9),
            ];
            args.extend(lease);
            s.run(&w.reserve, args);
            s
        };
        for (id, token) in [("mine", Some("tok")), ("stale", Some("other")), ("none", None)] {
            reserve(id, token).fetch_all(&mut conn).await.ok().unwrap();
        }
        let Conn::Lite(raw) = &conn else { unreachable!() };
        let ids: Vec<String> = raw
            .prepare("SELECT id FROM reservations ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(ids, ["mine", "none"]);
        // A value the statement does not take is an error, not ignored.
        let mut s = Script::new(Engine::Sqlite);
        let spend = vec![Arg::Text("s".into()), Arg::Text("{}".into()), Arg::Null, Arg::Int(1)];
        s.run(&w.spend, spend);
        assert!(s.fetch_all(&mut conn).await.is_err());
    }
}

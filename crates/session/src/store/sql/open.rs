//! Opening a store: the URL, the checks on a SQLite file before anything writes to it, the
//! first connection, the pool and the migrations.

use super::Engine;
use crate::error::{Error, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

/// The secret parts of a database URL hidden: the password of `user:password@`, and the value
/// of any query parameter that names a password, a secret or a key (`?password=…`,
/// `sslpassword=…`).
pub(super) fn redact(url: &str) -> String {
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
pub(super) fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
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
pub(super) async fn check_sqlite_file(path: &std::path::Path) -> Result<()> {
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
pub(super) async fn probe(url: &str) -> Result<()> {
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

/// A pool on `url`, of at most `max` connections. An in-memory SQLite database lives in its one connection, which the pool
/// then never closes.
pub(super) async fn open_pool(url: &str, engine: Engine, max: u32) -> Result<AnyPool> {
    // A server that does not answer fails the store in 10 s (sqlx's default waits 30 s, silent).
    let mut options = AnyPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(10))
        .max_connections(max);
    if url.contains(":memory:") {
        options =
            options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
    }
    if engine == Engine::Sqlite {
        // A SQLite connection is a library call away, not across a network: nothing to check
        // before handing it out.
        options = options.test_before_acquire(false);
        // WAL: readers never wait for the writer; NORMAL: a commit survives the process
        // dying (only a power loss may lose the last ones), without an fsync per commit. A
        // writer waits up to 10 s for another process's transaction.
        options = options.after_connect(|conn, _| {
            Box::pin(async move {
                use sqlx::Executor;
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

/// The store's migrations (one folder, both engines).
pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Applies the migrations. A database that holds one this build does not know (written by
/// another version of sesskey) is refused, with the store it is and what to do.
pub(super) async fn migrate(pool: &AnyPool, url: &str) -> Result<()> {
    MIGRATOR.run(pool).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMissing(v) => Error::Store(format!(
            "{} was written by another version of sesskey (it holds migration {v}, which this \
             one does not know): give another store, or move this one away",
            redact(url)
        )),
        e => Error::Store(format!("migrating {}: {e}", redact(url))),
    })
}

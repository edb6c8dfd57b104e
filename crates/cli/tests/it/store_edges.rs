//! The session store's edges as a user meets them: the database URL from the environment, a
//! password in a URL never printed, files made the owner's only, a damaged or foreign
//! `sessions.db` refused at once and left untouched, a key file others can read refused.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn sesskey(home: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sesskey"));
    cmd.args(args).env_clear().env("SESSKEY_HOME", home).env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_folder_and_the_database_are_the_owners_only() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sesskey(tmp.path(), &["session", "list"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = tmp.path().join("sessions");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("sessions.db")), 0o600);
}

#[test]
fn a_damaged_or_foreign_database_is_refused_at_once_and_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sessions");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("sessions.db");
    // Not SQLite at all.
    let garbage: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    std::fs::write(&db, &garbage).unwrap();
    let started = Instant::now();
    let out = sesskey(tmp.path(), &["session", "list"], &[]);
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused only after {:?}",
        started.elapsed()
    );
    let err = stderr(&out);
    assert!(err.contains("not a SQLite database") && err.contains("untouched"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "the file is untouched");
    // A truncated store: its first page only.
    std::fs::remove_file(&db).unwrap();
    let made = sesskey(tmp.path(), &["session", "list"], &[]);
    assert!(made.status.success(), "{}", stderr(&made));
    // Its pages written back from the WAL into the file, then the file cut in half.
    let checkpoint = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c = sqlite3.connect('{}'); c.execute('pragma wal_checkpoint(TRUNCATE)'); c.execute('pragma journal_mode=DELETE')",
            db.display()
        ))
        .status();
    if checkpoint.is_ok_and(|s| s.success()) {
        let whole = std::fs::read(&db).unwrap();
        assert!(whole.len() > 4096, "a store of several pages: {}", whole.len());
        std::fs::write(&db, &whole[..whole.len() / 2]).unwrap();
        let out = sesskey(tmp.path(), &["session", "list"], &[]);
        assert!(!out.status.success(), "a truncated store is refused");
        assert!(stderr(&out).contains("untouched"), "{}", stderr(&out));
        assert_eq!(std::fs::read(&db).unwrap().len(), whole.len() / 2, "untouched");
    }
    // A SQLite database of another program: refused before anything is written to it.
    std::fs::remove_file(&db).unwrap();
    let status = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c = sqlite3.connect('{}'); c.execute('create table people (name text)'); c.commit()",
            db.display()
        ))
        .status();
    if status.is_ok_and(|s| s.success()) {
        let before = std::fs::read(&db).unwrap();
        let out = sesskey(tmp.path(), &["session", "list"], &[]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("something else"), "{}", stderr(&out));
        assert_eq!(std::fs::read(&db).unwrap(), before, "untouched");
        assert!(!dir.join("sessions.db-wal").exists(), "not switched to WAL");
    }
}

#[test]
fn the_database_url_comes_from_the_environment_and_its_password_is_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: the error names the URL, with the password hidden.
    let url = "postgres://app:pw1@127.0.0.1:1/db?password=hunter2&sslmode=disable";
    let out = sesskey(tmp.path(), &["session", "list"], &[("SESSKEY_DATABASE_URL", url)]);
    assert!(!out.status.success(), "the environment's database is used");
    let err = stderr(&out);
    assert!(err.contains("127.0.0.1:1") && err.contains("refused"), "{err}");
    assert!(!err.contains("hunter2") && !err.contains("pw1"), "{err}");
    assert!(!tmp.path().join("sessions").exists(), "no folder made for a database elsewhere");
}

#[test]
fn a_key_file_others_can_read_is_refused_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("owner.key");
    std::fs::write(&key, "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d\n")
        .unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = sesskey(
        tmp.path(),
        &[
            "delegate",
            "--chain-id",
            "31337",
            "--rpc-url",
            "http://127.0.0.1:1",
            "--owner-key-file",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn an_unknown_session_id_is_said_the_same_way_by_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let id = format!("0x{}", "ab".repeat(16));
    let shop = format!("0x{}", "51".repeat(20));
    for args in [
        vec!["session", "show", id.as_str()],
        vec!["send", "--session", id.as_str(), "--rpc-url", "http://127.0.0.1:1", shop.as_str()],
    ] {
        let out = sesskey(tmp.path(), &args, &[]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains(&format!("no session {id}")), "{args:?}: {err}");
        assert!(err.contains("sesskey session list"), "{args:?}: {err}");
    }
}

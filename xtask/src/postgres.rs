//! A PostgreSQL server for the test run: Debian's `postgresql` package (installed when missing,
//! where the run may install packages), a cluster made with `initdb` in a temporary folder,
//! listening on loopback only, stopped and removed when the run ends. The tests read its URL
//! from `SESSKEY_TEST_DATABASE_URL`.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The variable the PostgreSQL tests read.
pub(crate) const URL_VAR: &str = "SESSKEY_TEST_DATABASE_URL";

/// A running server; dropping it stops the server and removes its folder.
#[derive(Debug)]
pub(crate) struct Server {
    /// The URL the tests connect to.
    pub(crate) url: String,
    bin: PathBuf,
    dir: PathBuf,
    user: Option<String>,
}

/// The newest installed PostgreSQL's programs (`initdb`, `pg_ctl`).
fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn run(mut cmd: Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// As `user` when given (PostgreSQL refuses to run as root).
fn as_user(user: &Option<String>, program: &Path) -> Command {
    match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Starts a server, unless the URL is already given. `None` when there is no PostgreSQL and it
/// cannot be installed here (the PostgreSQL tests then skip, except under CI where they fail).
pub(crate) fn start() -> Result<Option<Server>> {
    if std::env::var(URL_VAR).is_ok() {
        println!("PostgreSQL: using {URL_VAR} from the environment");
        return Ok(None);
    }
    let root = is_root();
    let bin = match bin_dir() {
        Some(b) => b,
        None if root => {
            println!("PostgreSQL: installing Debian's postgresql package");
            let mut update = Command::new("apt-get");
            update.arg("update");
            run(update, "apt-get update")?;
            let mut install = Command::new("apt-get");
            install.args(["install", "-y", "--no-install-recommends", "postgresql"]);
            install.env("DEBIAN_FRONTEND", "noninteractive");
            run(install, "apt-get install postgresql")?;
            bin_dir().context("postgresql installed, but no initdb found")?
        }
        None => {
            println!("PostgreSQL: not installed and not root: its tests will skip (fail under CI)");
            return Ok(None);
        }
    };
    let user = root.then(|| "postgres".to_string());
    let dir = std::env::temp_dir().join(format!("sesskey-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    if let Some(u) = &user {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["-R", &format!("{u}:{u}")]).arg(&dir);
                c
            },
            "chown",
        )?;
    }
    let data = dir.join("data");
    let mut initdb = as_user(&user, &bin.join("initdb"));
    initdb.arg("-D").arg(&data).args(["-A", "trust", "-U", "sesskey", "--no-sync"]);
    run(initdb, "initdb")?;
    let port = free_port()?;
    let mut pg_ctl = as_user(&user, &bin.join("pg_ctl"));
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("server.log"))
        .arg("-o")
        .arg(format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            dir.display()
        ))
        .args(["-w", "start"]);
    run(pg_ctl, "pg_ctl start")?;
    let url = format!("postgres://sesskey@127.0.0.1:{port}/postgres");
    println!("PostgreSQL: {url} (a cluster in {})", dir.display());
    Ok(Some(Server { url, bin, dir, user }))
}

/// A loopback port nobody listens on now.
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Drop for Server {
    fn drop(&mut self) {
        let mut stop = as_user(&self.user, &self.bin.join("pg_ctl"));
        stop.arg("-D").arg(self.dir.join("data")).args(["-m", "fast", "-w", "stop"]);
        if let Err(e) = run(stop, "pg_ctl stop") {
            eprintln!("PostgreSQL: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

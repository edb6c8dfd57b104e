//! `cargo xtask ci` and `cargo xtask integration`.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Runs one command, echoing it, failing when it fails.
fn run_step(name: &str, mut cmd: Command) -> Result<()> {
    println!("\n==> {name}: {cmd:?}");
    let start = Instant::now();
    let status = cmd.status().with_context(|| format!("starting {name}"))?;
    println!(
        "<== {name}: {} in {:.1}s",
        if status.success() { "ok" } else { "FAILED" },
        start.elapsed().as_secs_f64()
    );
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    Ok(())
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args);
    // One set of flags for every step, so their builds share one target directory.
    cmd.env("RUSTFLAGS", "-Dwarnings").env("RUSTDOCFLAGS", "-Dwarnings");
    cmd
}

fn has_nextest() -> bool {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The test-only crates that must never reach a binary (conventions 24).
const TEST_ONLY: [&str; 4] = ["proptest", "jsonschema", "expect-test", "criterion"];

fn no_test_deps_in_binaries() -> Result<()> {
    println!("\n==> no-test-deps: cargo tree -e normal -p sesskey-cli");
    let out = cargo(&["tree", "-e", "normal", "-p", "sesskey-cli", "--prefix", "none"])
        .output()
        .context("running cargo tree")?;
    if !out.status.success() {
        bail!("cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let found: Vec<&str> = TEST_ONLY
        .into_iter()
        .filter(|dep| tree.lines().any(|l| l.split_whitespace().next() == Some(dep)))
        .collect();
    if !found.is_empty() {
        bail!("test-only crates in the sesskey binary's dependencies: {}", found.join(", "));
    }
    println!("<== no-test-deps: ok");
    Ok(())
}

/// What a library user who wants only the orchestrator must not compile: the stores' drivers
/// and a JSON-RPC server (issue 21).
const STORE_OR_SERVER: [&str; 4] = ["sqlx", "sqlx-core", "rusqlite", "jsonrpsee-server"];

/// `sesskey-session` with no default feature builds and pulls no store driver or server; each
/// store feature builds alone.
fn session_features() -> Result<()> {
    println!(
        "\n==> session features: cargo tree -e normal -p sesskey-session --no-default-features"
    );
    let out = cargo(&[
        "tree",
        "-e",
        "normal",
        "-p",
        "sesskey-session",
        "--no-default-features",
        "--prefix",
        "none",
    ])
    .output()
    .context("running cargo tree")?;
    if !out.status.success() {
        bail!("cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let found: Vec<&str> = STORE_OR_SERVER
        .into_iter()
        .filter(|dep| tree.lines().any(|l| l.split_whitespace().next() == Some(dep)))
        .collect();
    if !found.is_empty() {
        bail!("sesskey-session without features pulls {}", found.join(", "));
    }
    println!("<== session features: none of {} pulled", STORE_OR_SERVER.join(", "));
    for features in [None, Some("sqlite"), Some("postgres")] {
        let mut args = vec!["check", "-p", "sesskey-session", "--no-default-features", "--locked"];
        if let Some(f) = features {
            args.extend(["--features", f]);
        }
        run_step(&format!("check sesskey-session features {features:?}"), cargo(&args))?;
    }
    Ok(())
}

/// The fuzz package.
const FUZZ: &str = "sesskey-fuzz";

/// `cargo xtask ci`: format, lints, fixtures, tests, doctests, docs.
pub(crate) fn run(root: &Path) -> Result<()> {
    let start = Instant::now();
    run_step("fmt", cargo(&["fmt", "--all", "--check"]))?;
    // The fuzz package's `libfuzzer` feature builds libFuzzer binaries that only `cargo xtask
    // fuzz` can link: every all-features step leaves it out, and its own steps use no feature.
    run_step(
        "clippy",
        cargo(&[
            "clippy",
            "--workspace",
            "--exclude",
            FUZZ,
            "--all-targets",
            "--all-features",
            "--locked",
        ]),
    )?;
    run_step("clippy fuzz", cargo(&["clippy", "-p", FUZZ, "--all-targets", "--locked"]))?;
    run_step(
        "check --no-default-features",
        cargo(&["check", "--workspace", "--no-default-features", "--locked"]),
    )?;
    no_test_deps_in_binaries()?;
    session_features()?;
    println!("\n==> fixtures --check");
    crate::fixtures::generate(root, crate::fixtures::Mode::Check)?;
    // A real PostgreSQL for the store's tests, for this run only (stopped when this returns).
    let postgres = crate::postgres::start()?;
    let all = ["--workspace", "--exclude", FUZZ, "--all-features", "--locked"];
    let mut tests = if has_nextest() {
        cargo(&[&["nextest", "run"][..], &all, &["--no-fail-fast"]].concat())
    } else {
        println!("cargo-nextest is not installed: falling back to cargo test");
        cargo(&[&["test"][..], &all, &["--no-fail-fast"]].concat())
    };
    if let Some(server) = &postgres {
        tests.env(crate::postgres::URL_VAR, &server.url);
    }
    run_step("tests", tests)?;
    run_step("fuzz regressions", cargo(&["test", "-p", FUZZ, "--locked"]))?;
    run_step("doctests", cargo(&[&["test", "--doc"][..], &all].concat()))?;
    run_step("docs", cargo(&[&["doc", "--no-deps"][..], &all].concat()))?;
    // Every published crate packages (license, description, readme, keywords, categories,
    // rust-version, path dependencies with versions); the workspace's own tools do not publish.
    run_step(
        "package",
        cargo(&[
            "package",
            "--workspace",
            "--no-verify",
            "--allow-dirty",
            "--locked",
            "--exclude",
            "xtask",
            "--exclude",
            "sesskey-tests",
            "--exclude",
            FUZZ,
        ]),
    )?;
    println!("\ncargo xtask ci: all steps passed in {:.1}s", start.elapsed().as_secs_f64());
    Ok(())
}

/// `cargo xtask integration`: the cross-crate suites, then `sesskey demo` end to end.
pub(crate) fn integration() -> Result<()> {
    if has_nextest() {
        run_step("integration", cargo(&["nextest", "run", "-p", "sesskey-tests", "--locked"]))?;
    } else {
        run_step("integration", cargo(&["test", "-p", "sesskey-tests", "--locked"]))?;
    }
    run_step("demo", cargo(&["run", "--locked", "-p", "sesskey-cli", "--", "demo"]))
}

/// `cargo xtask bench`: the signing and account micro-benchmarks, the emulator's load
/// generator, the session store alone, and complete session calls through the orchestrator.
pub(crate) fn bench() -> Result<()> {
    run_step(
        "bench signing",
        cargo(&["bench", "--locked", "-p", "sesskey-signing", "--bench", "signing"]),
    )?;
    run_step(
        "bench account",
        cargo(&["bench", "--locked", "-p", "sesskey-account", "--bench", "policy"]),
    )?;
    run_step(
        "bench emulator",
        cargo(&["bench", "--locked", "-p", "sesskey-emulator", "--bench", "load"]),
    )?;
    // The session store's runs through PostgreSQL need a server, as the tests do.
    let postgres = crate::postgres::start()?;
    for (step, bench) in [("bench session store", "store"), ("bench session", "flow")] {
        let mut session = cargo(&["bench", "--locked", "-p", "sesskey-session", "--bench", bench]);
        if let Some(server) = &postgres {
            session.env(crate::postgres::URL_VAR, &server.url);
        }
        run_step(step, session)?;
    }
    Ok(())
}

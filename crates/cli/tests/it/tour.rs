//! The README's tour, run as written: its story block is taken from the README, pointed at an
//! emulator this test starts and at the `sesskey` under test, and run by bash. The tour cannot
//! drift from the CLI.

use std::process::Command;

const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";

/// The `sh` blocks of the README's tour section.
fn tour_blocks() -> Vec<String> {
    let start = README.find("## A five-minute tour").expect("the README has its tour");
    let rest = &README[start..];
    let section = &rest[..rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3)];
    let mut blocks = vec![];
    let mut parts = section.split("```sh\n").skip(1);
    for part in parts.by_ref() {
        blocks.push(part.split("```").next().expect("a closed block").to_string());
    }
    blocks
}

/// Whether `tool` runs here; under CI a missing one fails the test (`.ci/run` installs them).
fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("CI").is_err(), "CI must provide `{tool}` (see .ci/run)");
        eprintln!("`{tool}` is not installed: the README tour is not run here");
    }
    found
}

#[test]
fn the_readme_tour_runs_as_written() {
    let blocks = tour_blocks();
    assert!(blocks.len() >= 2, "the tour has its serve block and its story block");
    assert!(blocks[0].contains("serve") && blocks[0].contains(POLICY), "{}", blocks[0]);
    if !["cast", "jq", "curl", "bash"].iter().all(|t| have(t)) {
        return;
    }
    let args: [&std::ffi::OsStr; 4] =
        ["--addr".as_ref(), "127.0.0.1:0".as_ref(), "--policy-id".as_ref(), POLICY.as_ref()];
    let (mut server, url, _) = crate::serve(&args);
    let story = &blocks[1];
    for expected in ["http://127.0.0.1:8545", "cargo run -q -p sesskey-cli --", "mktemp -d"] {
        assert!(story.contains(expected), "the story block no longer has `{expected}`");
    }
    let script = story
        .replace("http://127.0.0.1:8545", url.trim_end_matches('/'))
        .replace("cargo run -q -p sesskey-cli --", env!("CARGO_BIN_EXE_sesskey"));
    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env_remove("SESSKEY_HOME")
        .env_remove("SESSKEY_DATABASE_URL")
        .env("TMPDIR", scratch.path())
        .output()
        .unwrap();
    server.kill().ok();
    server.wait().ok();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the tour failed:\n{stdout}\n{stderr}");
    // The session key's call changed the contract, as cast reads it; its spend is counted; the
    // call outside the permissions was refused before anything was signed.
    assert!(stdout.lines().any(|l| l.trim() == "5"), "{stdout}");
    assert!(stdout.contains("0.0001 ETH spent of 0.001 ETH"), "{stdout}");
    assert!(stderr.contains("0x6666666666666666666666666666666666666666"), "{stderr}");
    assert!(stdout.contains("\"alchemy.sma-7702.1.0.0\""), "{stdout}");
    assert!(stdout.contains("rawPayload"), "{stdout}");
}

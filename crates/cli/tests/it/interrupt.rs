//! `sesskey send` stopped or killed once its op is sent: stopped (SIGINT), it waits for the
//! final status and settles it before it exits; killed (`kill -9`), the next send waits out at
//! most the lease and settles the killed one's call from the chain. No spend is forgotten.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";

fn sesskey(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sesskey"))
        .args(args)
        .env_clear()
        .env("SESSKEY_HOME", home)
        .env(
            "OWNER_PRIVATE_KEY",
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        )
        .output()
        .unwrap()
}

struct World {
    server: Child,
    url: String,
    home: tempfile::TempDir,
    id: String,
    shop: String,
}

impl Drop for World {
    fn drop(&mut self) {
        self.server.kill().ok();
        self.server.wait().ok();
    }
}

/// A server whose calls settle 3 s after they are sent, the owner delegated, and a session
/// with a native allowance.
fn world() -> World {
    let args: [&std::ffi::OsStr; 6] = [
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--policy-id".as_ref(),
        POLICY.as_ref(),
        "--settle-after-ms".as_ref(),
        "3000".as_ref(),
    ];
    let (server, url, _) = crate::serve(&args);
    let home = tempfile::tempdir().unwrap();
    let endpoint = ["--rpc-url", url.as_str(), "--policy-id", POLICY, "--chain-id", "31337"];
    let out = sesskey(home.path(), &[&["delegate"][..], &endpoint[..]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shop = format!("0x{}", "51".repeat(20));
    let create = [
        &["session", "create"][..],
        &endpoint[..],
        &["--contract", &shop, "--native", "1000", "--plain-key", "--json"],
    ]
    .concat();
    let out = sesskey(home.path(), &create);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["session"]["sessionId"].as_str().unwrap().to_string();
    World { server, url, home, id, shop }
}

impl World {
    fn send(&self, wei: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_sesskey"))
            .args(["send", "--session", &self.id, "--rpc-url", &self.url, "--policy-id", POLICY])
            .args([self.shop.as_str(), "--value", wei])
            .env_clear()
            .env("SESSKEY_HOME", self.home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Sends `wei`, and `kill -9`s the send once its op is sent (its status still pending).
    fn send_then_kill(&self, wei: &str) {
        let mut killed = self.send(wei);
        std::thread::sleep(Duration::from_millis(1500));
        killed.kill().unwrap();
        killed.wait().unwrap();
    }

    fn spent(&self) -> serde_json::Value {
        let show = sesskey(self.home.path(), &["session", "show", &self.id, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
        v["spentNative"].clone()
    }
}

#[test]
fn a_send_stopped_after_it_sent_settles_before_it_exits() {
    let w = world();
    let send = w.send("10");
    // Sent well within this; its status is still pending.
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill").args(["-INT", &send.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let out = send.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stopping"), "{err}");
    assert_eq!(out.status.code(), Some(0), "confirmed after the stop: {err}");
    assert_eq!(w.spent(), "0xa", "the spend was recorded");
    // Nothing held: the next send starts at once.
    let again = w.send("1").wait_with_output().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
}

/// `kill -9` of a send once its op is sent: the next send waits out at most the lease (30 s),
/// settles the killed one's call from the chain, and sends its own; both spends are counted.
#[test]
fn a_send_killed_after_it_sent_is_settled_by_the_next_one() {
    let w = world();
    w.send_then_kill("10");
    let started = std::time::Instant::now();
    let next = w.send("1").wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&next.stderr);
    assert_eq!(next.status.code(), Some(0), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60), "waited {:?}", started.elapsed());
    assert_eq!(w.spent(), "0xb", "10 (settled from the chain) + 1");
}

/// `kill -9` of a send once its op is sent, then `session show` once the killed worker's lease
/// has lapsed: with an endpoint, show settles the call from the chain and counts its spend;
/// the next send then starts at once.
#[test]
fn session_show_settles_what_a_killed_send_left() {
    let w = world();
    w.send_then_kill("10");
    assert_eq!(w.spent(), "0x0", "without an endpoint, show shows the store as it is");
    // The killed worker's lease (30 s) lapses.
    std::thread::sleep(Duration::from_secs(31));
    let show = sesskey(w.home.path(), &["session", "show", &w.id, "--rpc-url", &w.url, "--json"]);
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(v["spentNative"], "0xa", "settled from the chain by show");
    let started = std::time::Instant::now();
    let next = w.send("1").wait_with_output().unwrap();
    assert!(next.status.success(), "{}", String::from_utf8_lossy(&next.stderr));
    assert!(started.elapsed() < Duration::from_secs(15), "waited {:?}", started.elapsed());
    assert_eq!(w.spent(), "0xb");
}

//! `sesskey send` stopped by SIGINT once its op is sent: it waits for the final status and
//! settles it (the spend is recorded, the key given back), rather than leaving its session held
//! for the lease and its spend to lapse.

use std::process::{Command, Stdio};
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

#[test]
fn a_send_stopped_after_it_sent_settles_before_it_exits() {
    // Calls reach their final status 3 s after they are sent.
    let args: [&std::ffi::OsStr; 6] = [
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--policy-id".as_ref(),
        POLICY.as_ref(),
        "--settle-after-ms".as_ref(),
        "3000".as_ref(),
    ];
    let (mut server, url, _) = crate::serve(&args);
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

    let send = Command::new(env!("CARGO_BIN_EXE_sesskey"))
        .args(["send", "--session", &id, "--rpc-url", &url, "--policy-id", POLICY, &shop])
        .args(["--value", "10"])
        .env_clear()
        .env("SESSKEY_HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Sent well within this; its status is still pending.
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill").args(["-INT", &send.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let out = send.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stopping"), "{err}");
    assert_eq!(out.status.code(), Some(0), "confirmed after the stop: {err}");

    let show = sesskey(home.path(), &["session", "show", &id, "--json"]);
    let text = String::from_utf8_lossy(&show.stdout);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["spentNative"], "0xa", "the spend was recorded: {text}");
    // Nothing held: the next send starts at once.
    let again = sesskey(
        home.path(),
        &[
            "send",
            "--session",
            &id,
            "--rpc-url",
            &url,
            "--policy-id",
            POLICY,
            &shop,
            "--value",
            "1",
        ],
    );
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    server.kill().ok();
    server.wait().ok();
}

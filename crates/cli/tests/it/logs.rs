//! Logs never carry a secret: the whole demo flow at `RUST_LOG=trace` prints no private key and
//! no signature.

use std::process::Command;

/// Every `0x…` hex run in `text`, without its prefix.
fn hex_runs(text: &str) -> Vec<&str> {
    let mut runs = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        let digits = &rest[at + 2..];
        let len = digits.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(digits.len());
        runs.push(&digits[..len]);
        rest = &digits[len..];
    }
    runs
}

#[test]
fn the_demo_at_trace_level_logs_no_key_and_no_signature() {
    let out = Command::new(env!("CARGO_BIN_EXE_sesskey"))
        .arg("demo")
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "the demo failed: {}", String::from_utf8_lossy(&out.stderr));
    let logs = String::from_utf8(out.stderr).unwrap();
    // The filter really was at trace: our own spans and the HTTP stack's trace lines are there.
    assert!(logs.contains("TRACE"), "no trace output, so this test would prove nothing");
    assert!(logs.contains("wallet_sendPreparedCalls"), "the flow's calls are not in the logs");
    // The emulator's bodies are there, with the signatures redacted.
    let sent = logs
        .lines()
        .find(|l| l.contains("sesskey_emulator::rpc: request method=wallet_sendPreparedCalls"))
        .expect("the send's request body is logged");
    assert!(sent.contains("\"signature\":\"<redacted>\""), "{sent}");

    let lower = logs.to_ascii_lowercase();
    // The demo's keys: anvil's accounts 0 and 1 (and sesskey's own development keys).
    let anvil = sesskey_cli::dev_accounts(sesskey_cli::ANVIL_MNEMONIC, 2).unwrap();
    let sesskey = (0..2).map(sesskey_signing::dev::dev_key);
    for (index, key) in anvil.into_iter().chain(sesskey).enumerate() {
        let secret = alloy_primitives::hex::encode(key.to_bytes());
        assert!(!lower.contains(&secret), "key {index} appears in the logs");
    }
    // A signature is 65 bytes: 130 hex digits (a call id is 64 bytes, a hash 32).
    let signatures: Vec<&str> = hex_runs(&logs).into_iter().filter(|h| h.len() == 130).collect();
    assert!(signatures.is_empty(), "{} signature-sized values in the logs", signatures.len());
}

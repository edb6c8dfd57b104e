//! `sesskey serve --json`: the banner as one JSON object, anvil's accounts first.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn serve_prints_its_banner_as_json() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesskey"))
        .args(["serve", "--addr", "127.0.0.1:0", "--json", "--accounts", "3", "--balance", "1.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let banner: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(banner["url"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{banner}");
    assert_eq!(banner["chainIds"], serde_json::json!([31337]));
    assert_eq!(banner["controls"], true);
    let accounts = banner["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    // anvil's account 0 (as `cast wallet address --mnemonic 'test … junk'` derives it).
    assert_eq!(accounts[0]["address"], "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    assert_eq!(
        accounts[0]["privateKey"],
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    );
    assert_eq!(accounts[0]["balance"], "0x14d1120d7b160000", "1.5 ETH in wei");
    assert_eq!(banner["sesskeyDevAccounts"].as_array().unwrap().len(), 5);
}

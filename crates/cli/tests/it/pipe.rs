//! A reader that goes away (`sesskey session list | head -1`) ends the command quietly: no
//! panic, no error.

use std::process::{Command, Stdio};

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let tmp = tempfile::Builder::new().prefix("sesskey-pipe-").tempdir().unwrap();
    let home = tmp.path().join("home");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    for args in [&["session", "list"][..], &["session", "list", "--json"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_sesskey"))
            .args(args)
            .env("SESSKEY_HOME", &home)
            .stdout(writer.try_clone().unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("panicked") && stderr.is_empty(), "{args:?}: {stderr}");
    }
}

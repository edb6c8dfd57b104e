//! The `sesskey` binary as a user runs it: `serve` with a data folder, killed with SIGKILL
//! under load and restarted; hostile clients; logs at trace level.

mod banner;
mod hostile;
mod interrupt;
mod kill;
mod logs;
mod mcp;
mod page;
mod pipe;
mod store_edges;
mod tamper;
mod tour;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// `sesskey serve` with `args`, once its banner is out: the process, the URL it prints and its
/// `Controls:` line. Its output keeps being read, so it never blocks on a full pipe.
pub(crate) fn serve(args: &[&std::ffi::OsStr]) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesskey"))
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    let controls = loop {
        let line = lines.next().expect("the server prints its banner").unwrap();
        if let Some(rest) = line.strip_prefix("Listening on ") {
            url = Some(rest.split_whitespace().next().unwrap().to_string());
        }
        if line.starts_with("Controls:") {
            break line;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url.expect("a Listening line"), controls)
}

//! Hostile clients against a running `sesskey serve` on loopback: slow and idle connections,
//! bodies over the limit, malformed envelopes, foreign hosts and origins, oversized lists. The
//! server keeps answering valid requests at once, and its memory stays bounded.
//!
//! Bounded in count (a few hundred connections, a few hundred requests) and in time (about
//! 15 s, most of it waiting for the body timeout).

use sesskey_emulator::{BODY_TIMEOUT, MAX_CHAIN_IDS, MAX_REQUEST_BYTES};
use std::net::SocketAddr;
use std::process::Child;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `sesskey serve` on a free loopback port, with `extra` flags.
fn spawn(extra: &[&str]) -> (Child, SocketAddr) {
    let (child, addr, _) = spawn_at("127.0.0.1:0", extra);
    (child, addr)
}

/// `sesskey serve --addr bind` with `extra` flags: the process, a loopback address that
/// reaches it, and its banner's `Controls:` line.
fn spawn_at(bind: &str, extra: &[&str]) -> (Child, SocketAddr, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec!["--addr".as_ref(), bind.as_ref()];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    let (child, url, controls) = crate::serve(&args);
    let mut addr: SocketAddr =
        url.strip_prefix("http://").expect("an http URL").parse().expect("an address");
    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    (child, addr, controls)
}

/// The server's resident and peak memory, in MiB (Linux).
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap()
    };
    (kib("VmRSS:") / 1024, kib("VmHWM:") / 1024)
}

/// Sends raw bytes on a fresh connection (the request says `Connection: close`) and reads the
/// whole answer: its status and body.
async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = vec![];
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf))
        .await
        .expect("an answer within 20 s")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, dechunk(&body))
}

/// A chunked body's content (or the body as it is).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else { return body.to_string() };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { return body.to_string() };
        if n == 0 {
            return out;
        }
        let Some(chunk) = after.get(..n) else { return body.to_string() };
        out.push_str(chunk);
        rest = after.get(n + 2..).unwrap_or("");
    }
}

/// A JSON-RPC POST with `headers` added.
async fn post_with(addr: SocketAddr, body: &str, headers: &str) -> (u16, String) {
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    );
    raw(addr, req.as_bytes()).await
}

async fn post(addr: SocketAddr, body: &str) -> (u16, String) {
    post_with(addr, body, "").await
}

fn value(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:.200}"))
}

/// A valid request, answered within a second.
async fn answers(addr: SocketAddr) {
    let started = Instant::now();
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(1),
        post(addr, r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#),
    )
    .await
    .expect("a valid request is answered within a second");
    assert_eq!(status, 200, "{body}");
    assert_eq!(value(&body)["result"], "0x7a69", "{body}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

fn code(body: &str) -> i64 {
    value(body)["error"]["code"].as_i64().unwrap_or_else(|| panic!("no error code: {body:.300}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_never_stop_the_server() {
    let (mut child, addr) = spawn(&["--cors"]);
    let pid = child.id();
    answers(addr).await;
    let (base, _) = memory(pid);

    // 100 connections that send a body one byte at a time, and 100 that send nothing.
    let mut slow = vec![];
    for _ in 0..100 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        slow.push(s);
    }
    let mut idle = vec![];
    for _ in 0..100 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    answers(addr).await;
    // The slow senders are cut off once the body timeout passes.
    let mut first = slow.remove(0);
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(BODY_TIMEOUT + Duration::from_secs(5), first.read(&mut buf))
        .await
        .expect("the slow sender is answered")
        .unwrap();
    let line = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(line.starts_with("HTTP/1.1 408"), "{line}");
    answers(addr).await;
    drop((slow, idle));

    // Bodies over the limit: 413, whatever the transfer encoding.
    let big = "x".repeat(MAX_REQUEST_BYTES as usize + 1);
    let (status, _) = post(addr, &big).await;
    assert_eq!(status, 413, "Content-Length over the limit");
    let mut chunked = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..5 {
        chunked.push_str(&format!("{:x}\r\n{}\r\n", 300_000, "y".repeat(300_000)));
    }
    chunked.push_str("0\r\n\r\n");
    let (status, body) = raw(addr, chunked.as_bytes()).await;
    assert_eq!(status, 413, "a chunked body over the limit: {body:.200}");
    answers(addr).await;

    // The envelope.
    let (_, body) = post(addr, r#"{"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId"}"#).await;
    assert_eq!(code(&body), -32600, "an object id");
    let (_, body) = post(addr, r#"{"jsonrpc":"2.0","id":true,"method":"eth_chainId"}"#).await;
    assert_eq!(code(&body), -32600, "a boolean id");
    // Numbers the JSON-RPC layer cannot keep as an id get a JSON-RPC answer, never `null`.
    for id in ["1.5", "18446744073709551616", "-1", "1e3"] {
        let req = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_chainId"}}"#);
        let (_, body) = post(addr, &req).await;
        assert_eq!(code(&body), -32600, "id {id}: {body}");
    }
    let (_, body) =
        post(addr, r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"eth_chainId"}"#).await;
    assert_eq!(value(&body)["result"], "0x7a69", "the largest 64-bit id is answered: {body}");
    let block = |body: &str| value(body)["result"].as_str().unwrap().to_string();
    let (_, before) = post(addr, r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#).await;
    let (status, body) = post(addr, r#"{"jsonrpc":"2.0","method":"evm_mine"}"#).await;
    assert_eq!((status, body.as_str()), (200, ""), "a notification gets no body");
    let (_, after) = post(addr, r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#).await;
    assert_ne!(block(&before), block(&after), "the notification ran");
    let (_, body) = post(
        addr,
        r#"[{"jsonrpc":"2.0","method":"evm_mine"},{"jsonrpc":"2.0","id":9,"method":"eth_chainId"},{"jsonrpc":"2.0","id":[],"method":"eth_chainId"}]"#,
    )
    .await;
    let answers_ = value(&body);
    let list = answers_.as_array().unwrap();
    assert_eq!(list.len(), 2, "no answer for the notification: {body}");
    assert_eq!(list[0]["id"], 9);
    assert_eq!(list[1]["error"]["code"], -32600);
    let (status, body) = post(addr, r#"[{"jsonrpc":"2.0","method":"evm_mine"}]"#).await;
    assert_eq!((status, body.as_str()), (200, ""), "a batch of notifications gets no body");
    let (_, body) = post(addr, "[]").await;
    assert_eq!(code(&body), -32600, "an empty batch");
    let batch =
        format!("[{}]", vec![r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#; 1001].join(","));
    let (_, body) = post(addr, &batch).await;
    assert_eq!(code(&body), -32600, "a batch over the limit");

    // Hosts and origins: a rebound name is refused; a page of another origin reaches the chain
    // (with --cors) but not the controls.
    let req = format!(
        "POST / HTTP/1.1\r\nHost: rebound.example:8545\r\nContent-Type: application/json\r\nContent-Length: 47\r\nConnection: close\r\n\r\n{}",
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#
    );
    let (status, _) = raw(addr, req.as_bytes()).await;
    assert_eq!(status, 403, "a foreign Host");
    let page = "Origin: http://page.example\r\n";
    let (_, body) =
        post_with(addr, r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#, page).await;
    assert_eq!(value(&body)["result"], "0x7a69");
    let set_time = r#"{"jsonrpc":"2.0","id":1,"method":"emulator_setTime","params":[4000000000]}"#;
    let (_, body) = post_with(addr, set_time, page).await;
    assert_eq!(code(&body), -32601, "a control from another origin: {body}");
    assert!(body.contains("--cors-controls"), "{body}");
    let same = format!("Origin: http://{addr}\r\n");
    let (_, body) =
        post_with(addr, r#"{"jsonrpc":"2.0","id":1,"method":"emulator_now"}"#, &same).await;
    assert!(value(&body)["result"].is_u64(), "the same origin reaches the controls: {body}");

    // Oversized lists: refused by count, without building an answer per entry.
    let ids = vec!["\"0x7a69\""; 100_000].join(",");
    let caps = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"wallet_getCapabilities","params":["0x0000000000000000000000000000000000000001",[{ids}]]}}"#
    );
    assert!(caps.len() < MAX_REQUEST_BYTES as usize);
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let caps = caps.clone();
            tokio::spawn(async move { post(addr, &caps).await })
        })
        .collect();
    for t in tasks {
        let (_, body) = t.await.unwrap();
        assert_eq!(code(&body), -32602, "{body:.300}");
        assert!(body.contains(&format!("at most {MAX_CHAIN_IDS}")), "{body:.300}");
    }
    answers(addr).await;

    // failNext: methods that do not exist are refused, and long messages cost nothing kept.
    let message = "m".repeat(400_000);
    for i in 0..200 {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"emulator_failNext","params":["no_such_method_{i}",-32000,"{message}"]}}"#
        );
        let (_, answer) = post(addr, &body).await;
        assert_eq!(code(&answer), -32602, "{answer:.300}");
    }
    answers(addr).await;

    let (now, peak) = memory(pid);
    // The issue's probes held 600 MB (five capability requests) and 850 MB (failNext).
    assert!(now < base + 100, "resident memory {now} MiB, from {base} MiB at the start");
    assert!(peak < base + 200, "peak memory {peak} MiB, from {base} MiB at the start");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Bound to a non-loopback address, the controls are off unless `--controls` is given, and the
/// banner says which.
#[tokio::test]
async fn controls_are_off_away_from_loopback() {
    let now = r#"{"jsonrpc":"2.0","id":1,"method":"emulator_now"}"#;
    let (mut child, addr, banner) = spawn_at("0.0.0.0:0", &[]);
    assert!(banner.contains("off") && banner.contains("--controls"), "{banner}");
    let (_, body) = post(addr, now).await;
    assert_eq!(code(&body), -32601, "{body}");
    assert!(body.contains("--controls"), "{body}");
    answers(addr).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, addr, banner) = spawn_at("0.0.0.0:0", &["--controls"]);
    assert!(banner.contains("on (--controls)"), "{banner}");
    let (_, body) = post(addr, now).await;
    assert!(value(&body)["result"].is_u64(), "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
}

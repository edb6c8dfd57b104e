//! A minimal HTTP/1.1 JSON-RPC server on loopback that records every request and answers from
//! a script, so tests can count requests and misbehave on purpose.

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One recorded request.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Value,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the mock answers to the n-th request (0-based).
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// `{"result": …}` with the request's id.
    Result(Value),
    /// `{"error": {code, message}}` (the server-side tests' only).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    Error(i32, String),
    /// A bare HTTP status, with headers.
    Status(u16, Vec<(&'static str, String)>),
}

pub(crate) type Script = Arc<dyn Fn(usize, &Value) -> Reply + Send + Sync>;

pub(crate) struct Mock {
    pub(crate) url: String,
    pub(crate) requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Mock {
    pub(crate) async fn start(
        script: impl Fn(usize, &Value) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        Self::serve(listener, addr, Arc::new(script))
    }

    pub(crate) fn serve(listener: TcpListener, addr: SocketAddr, script: Script) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, script) = (log.clone(), script.clone());
                tokio::spawn(async move {
                    let _ = handle(stream, log, script).await;
                });
            }
        });
        Self { url: format!("http://{addr}"), requests }
    }

    pub(crate) fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub(crate) fn last(&self) -> Recorded {
        self.requests.lock().unwrap().last().cloned().expect("a request")
    }
}

async fn handle(
    mut stream: TcpStream,
    log: Arc<Mutex<Vec<Recorded>>>,
    script: Script,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await??;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next().unwrap_or_default().split(' ').nth(1).unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body: Value =
        serde_json::from_slice(&buf[header_end..header_end + len]).unwrap_or(Value::Null);
    let n = {
        let mut log = log.lock().unwrap();
        log.push(Recorded { path, headers, body: body.clone() });
        log.len() - 1
    };
    let (status, extra, payload) = match script(n, &body) {
        Reply::Result(r) => (200, vec![], json!({"jsonrpc": "2.0", "id": body["id"], "result": r}).to_string()),
        Reply::Error(code, message) => (
            200,
            vec![],
            json!({"jsonrpc": "2.0", "id": body["id"], "error": {"code": code, "message": message}}).to_string(),
        ),
        Reply::Status(s, h) => (s, h, String::new()),
    };
    let mut resp = format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n", payload.len());
    for (k, v) in extra {
        resp.push_str(&format!("{k}: {v}\r\n"));
    }
    resp.push_str("\r\n");
    resp.push_str(&payload);
    stream.write_all(resp.as_bytes()).await?;
    stream.shutdown().await
}

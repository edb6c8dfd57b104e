//! Redaction for logs: JSON-RPC bodies and log lines without their secrets.
//!
//! What is redacted:
//! - in JSON, the value of every member whose name speaks of a secret (`signature`,
//!   `privateKey`, `secret`, `mnemonic`, `password`, `seed`; any case), whatever its shape;
//! - everywhere, every hex string of a signature's size: 65 bytes (`r ‖ s ‖ v`) or 66 bytes
//!   (a signature with a one-byte prefix), with or without `0x`;
//! - in JSON, a private key's size of hex (32 bytes) in a member that holds an id or an address
//!   (`sessionId`, `id`, `from`, `to`, `sender`, `account`, …): it does not belong there, and a
//!   key pasted into the wrong field is the likeliest reason.
//!
//! Hashes, addresses, call ids and call data stay readable: a log keeps what it is for.
//!
//! [`Redacting`] applies [`redact_text`] to everything a `tracing` subscriber writes, so the
//! bodies other libraries log at `trace` (jsonrpsee's) are covered too:
//!
//! ```
//! use sesskey_rpc::redact::Redacting;
//!
//! let subscriber = tracing_subscriber::fmt()
//!     .with_writer(Redacting::new(std::io::stderr))
//!     .finish();
//! tracing::subscriber::with_default(subscriber, || {
//!     let sig = format!("0x{}", "ab".repeat(65));
//!     tracing::warn!("sending {sig}"); // written as `sending 0x<redacted>`
//! });
//! ```

use serde_json::Value;
use std::io::Write;

/// What stands in for a redacted value.
pub const REDACTED: &str = "<redacted>";

/// Member names (lowercased, `_` and `-` removed) whose values are secrets.
const SECRET_NAMES: &[&str] =
    &["signature", "privatekey", "secret", "mnemonic", "password", "seed"];

fn is_secret_name(name: &str) -> bool {
    let plain: String =
        name.chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| plain.contains(s))
}

/// Members (lowercased, `_` and `-` removed) whose values are ids or addresses: never 32 bytes.
const ID_NAMES: &[&str] = &[
    "sessionid",
    "id",
    "from",
    "to",
    "sender",
    "account",
    "accountaddress",
    "signeraddress",
    "address",
    "owner",
    "paymaster",
    "factory",
    "target",
    "publickey",
    "policyid",
];

fn is_id_name(name: &str) -> bool {
    let plain: String =
        name.chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_ascii_lowercase();
    ID_NAMES.contains(&plain.as_str())
}

/// Whether `s` is a private key's size of hex: 32 bytes, `0x` optional.
fn key_sized(s: &str) -> bool {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    digits.len() == 64 && digits.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a hex run of `digits` digits is signature-sized.
const fn signature_sized(digits: usize) -> bool {
    digits == 130 || digits == 132
}

/// Redacts a JSON value in place.
pub fn redact_value(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (name, member) in map.iter_mut() {
                let misplaced_key = is_id_name(name) && member.as_str().is_some_and(key_sized);
                if is_secret_name(name) || misplaced_key {
                    *member = Value::String(REDACTED.into());
                } else {
                    redact_value(member);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::String(s) => {
            let digits = s.strip_prefix("0x").unwrap_or(s);
            if signature_sized(digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                *s = REDACTED.into();
            }
        }
        _ => {}
    }
}

/// A JSON text with its secrets redacted (a text that is not JSON: as [`redact_text`]).
pub fn redact_json(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            redact_value(&mut v);
            v.to_string()
        }
        Err(_) => redact_text(text),
    }
}

/// Any text with every signature-sized hex word (`0x…` or bare) redacted.
pub fn redact_text(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        if !b[i].is_ascii_alphanumeric() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        // A word: the longest alphanumeric run from here.
        let end = b[i..].iter().position(|c| !c.is_ascii_alphanumeric()).map_or(b.len(), |n| i + n);
        let word = &text[i..end];
        let (prefix, digits) = match word.strip_prefix("0x") {
            Some(d) => ("0x", d),
            None => ("", word),
        };
        if signature_sized(digits.len()) && digits.bytes().all(|c| c.is_ascii_hexdigit()) {
            out.push_str(&text[copied..i]);
            out.push_str(prefix);
            out.push_str(REDACTED);
            copied = end;
        }
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// A `tracing_subscriber` writer that redacts signatures from everything written through it
/// (see the [module documentation](self)).
#[derive(Clone, Debug)]
pub struct Redacting<M> {
    inner: M,
}

impl<M> Redacting<M> {
    /// Wraps a writer maker (`std::io::stderr`, a file appender, …).
    pub const fn new(inner: M) -> Self {
        Self { inner }
    }
}

impl<'a, M: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a>
    for Redacting<M>
{
    type Writer = RedactingWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter { inner: self.inner.make_writer(), buf: Vec::new() }
    }
}

/// One event's writer: buffers the event, redacts it, writes it on flush or drop.
#[derive(Debug)]
pub struct RedactingWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> RedactingWriter<W> {
    fn emit(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = redact_text(&String::from_utf8_lossy(&self.buf));
        self.buf.clear();
        self.inner.write_all(text.as_bytes())
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.emit()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signature-sized value (65 bytes).
    fn sig() -> String {
        format!("0x{}", "5a8e0c1f7d".repeat(13))
    }

    #[test]
    fn signatures_and_secret_members_go() {
        let sig = sig();
        assert_eq!(sig.len(), 132);
        let body = serde_json::json!({
            "type": "user-operation-v070",
            "data": { "sender": "0x1111111111111111111111111111111111111111", "callData": "0xb61d27f6" },
            "signature": { "type": "secp256k1", "data": sig },
            "userOpHash": format!("0x{}", "ab".repeat(32)),
            "other": [sig],
            "private_key": "0x01",
        })
        .to_string();
        let out = redact_json(&body);
        assert!(!out.contains(&sig[2..]), "{out}");
        assert!(!out.contains("\"0x01\""), "{out}");
        assert!(out.contains("0xb61d27f6") && out.contains(&"ab".repeat(32)), "{out}");
        assert!(out.contains("0x1111111111111111111111111111111111111111"), "{out}");
    }

    /// A private key pasted into an id or address field is not logged; the ids, addresses and
    /// hashes that belong stay.
    #[test]
    fn a_key_in_an_id_field_goes() {
        let key = format!("0x{}", "4c".repeat(32));
        let body = serde_json::json!([{
            "capabilities": {"permissions": {"sessionId": key, "signature": "0x"}},
            "from": key,
            "chainId": "0x7a69",
        }, {
            "capabilities": {"permissions": {"sessionId": format!("0x{}", "12".repeat(16))}},
            "from": "0x1111111111111111111111111111111111111111",
            "hash": format!("0x{}", "ab".repeat(32)),
        }])
        .to_string();
        let out = redact_json(&body);
        assert!(!out.contains(&"4c".repeat(32)), "{out}");
        assert!(out.contains(&"12".repeat(16)) && out.contains(&"ab".repeat(32)), "{out}");
        assert!(out.contains("0x1111111111111111111111111111111111111111"), "{out}");
    }

    #[test]
    fn text_runs() {
        let sig = sig();
        let bare = &sig[2..];
        let line = format!("params: [\"{sig}\"], raw {bare}, hash 0x{}", "cd".repeat(32));
        let out = redact_text(&line);
        assert!(!out.contains(bare), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 2, "{out}");
        assert!(out.contains(&"cd".repeat(32)), "{out}");
        // Longer runs (call data, a 64-byte call id) and runs inside words stay.
        let long = format!("0x{}", "ef".repeat(100));
        assert_eq!(redact_text(&long), long);
        let word = format!("z{bare}");
        assert_eq!(redact_text(&word), word);
        assert_eq!(redact_text("0x 0x0 plain"), "0x 0x0 plain");
    }

    #[test]
    fn the_writer_redacts_what_tracing_writes() {
        #[derive(Clone, Default)]
        struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, d: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(d);
                Ok(d.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(Redacting::new(move || writer.clone()))
            .with_ansi(false)
            .finish();
        let sig = sig();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(signature = %sig, "sending {}", &sig[2..]);
        });
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(written.contains("sending"), "{written}");
        assert!(!written.contains(&sig[2..]), "{written}");
    }
}

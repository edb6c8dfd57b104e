//! A spinner for long waits: the elapsed time and the call's current status, redrawn on the
//! terminal's standard error; nothing at all when standard error is not a terminal or the
//! output is JSON.

use sesskey_types::CallsStatus;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// One line of the spinner: frame, what is awaited, seconds elapsed, the last status seen.
pub(crate) fn line(frame: usize, what: &str, elapsed: Duration, status: Option<u16>) -> String {
    let status = match status {
        Some(code) => format!(" · status {code}"),
        None => String::new(),
    };
    format!("{} {what} {:.1}s{status}", FRAMES[frame % FRAMES.len()], elapsed.as_secs_f64())
}

/// A running spinner; [`Spinner::finish`] clears its line.
#[derive(Debug)]
pub(crate) struct Spinner {
    status: Arc<Mutex<Option<u16>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Spinner {
    /// Starts a spinner, only when `show` and standard error is a terminal.
    pub(crate) fn start(what: &'static str, show: bool) -> Self {
        let status = Arc::new(Mutex::new(None));
        let task = (show && std::io::stderr().is_terminal()).then(|| {
            let status = status.clone();
            let started = Instant::now();
            tokio::spawn(async move {
                for frame in 0.. {
                    let code = *status.lock().unwrap_or_else(|e| e.into_inner());
                    let mut err = std::io::stderr();
                    let _ = write!(err, "\r\x1b[2K{}", line(frame, what, started.elapsed(), code));
                    let _ = err.flush();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        });
        Self { status, task }
    }

    /// What the orchestrator calls with each polled status.
    pub(crate) fn observer(&self) -> sesskey_session::ProgressFn {
        let status = self.status.clone();
        Arc::new(move |s: &CallsStatus| {
            *status.lock().unwrap_or_else(|e| e.into_inner()) = Some(s.status.code());
        })
    }

    /// Stops the spinner and clears its line.
    pub(crate) fn finish(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines() {
        let l = super::line(
            0,
            "waiting for the call",
            std::time::Duration::from_millis(3210),
            Some(100),
        );
        assert_eq!(l, "⠋ waiting for the call 3.2s · status 100");
        assert_eq!(super::line(11, "x", std::time::Duration::ZERO, None), "⠙ x 0.0s");
    }

    /// Not a terminal (as under `cargo test`): no task, nothing drawn.
    #[tokio::test]
    async fn nothing_when_not_a_terminal() {
        let s = super::Spinner::start("waiting", true);
        assert!(s.task.is_none() || std::io::IsTerminal::is_terminal(&std::io::stderr()));
        s.finish();
        let quiet = super::Spinner::start("waiting", false);
        assert!(quiet.task.is_none(), "never with --json");
        quiet.finish();
    }
}

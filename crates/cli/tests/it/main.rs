//! The `sesskey` binary as a user runs it: `serve` with a data folder, killed with SIGKILL
//! under load and restarted.

mod hostile;
mod kill;
mod logs;

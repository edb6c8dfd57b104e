//! The `sesskey` binary: everything is in the library (`sesskey_cli::main`).

fn main() -> std::process::ExitCode {
    sesskey_cli::main()
}

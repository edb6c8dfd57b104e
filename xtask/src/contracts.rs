//! `cargo xtask contracts`: compiles the Solidity sources of `fixtures/contracts/` with the solc
//! compiler of npm's `solc` package (solcjs) and writes one JSON file a contract: the compiler
//! version and settings, the ABI and the creation bytecode. Tests read those files; they never
//! need a compiler.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

/// The compiler, pinned: the npm package `solc` of this version.
const SOLC: &str = "0.8.28";
/// The sources, each holding one contract of the same name.
const CONTRACTS: &[&str] = &["Counter", "Token", "Nft", "Multi", "SigGate", "PermitToken"];

/// Compiles every contract and writes `fixtures/contracts/<Name>.json`.
pub(crate) fn compile(root: &Path) -> Result<()> {
    let dir = root.join("fixtures/contracts");
    let out = std::env::temp_dir().join(format!("sesskey-solc-{}", std::process::id()));
    std::fs::create_dir_all(&out)?;
    let mut cmd = Command::new("npm");
    cmd.current_dir(&dir)
        .args(["exec", "--yes", &format!("--package=solc@{SOLC}"), "--", "solcjs"])
        .args(["--bin", "--abi", "--optimize", "--optimize-runs", "200", "--base-path", "."])
        .arg("--output-dir")
        .arg(&out)
        .args(CONTRACTS.iter().map(|c| format!("{c}.sol")));
    let status = cmd.status().context("running npm (is Node.js installed?)")?;
    if !status.success() {
        bail!("solcjs failed ({status})");
    }
    for name in CONTRACTS {
        let stem = format!("{name}_sol_{name}");
        let abi: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(format!("{stem}.abi")))?)?;
        let bin = std::fs::read_to_string(out.join(format!("{stem}.bin")))?;
        let doc = json!({
            "contract": name,
            "source": format!("{name}.sol"),
            "compiler": format!("solc {SOLC} (npm package solc, solcjs)"),
            "settings": {"optimizer": {"enabled": true, "runs": 200}, "evmVersion": "default of the compiler"},
            "regenerate": "cargo xtask contracts",
            "abi": abi,
            "bytecode": format!("0x{}", bin.trim()),
        });
        let text = serde_json::to_string_pretty(&doc)? + "\n";
        std::fs::write(dir.join(format!("{name}.json")), text)?;
        println!("wrote fixtures/contracts/{name}.json");
    }
    std::fs::remove_dir_all(&out).ok();
    compile_executor(root)
}

/// The emulator's own `AccountExecutor` (MIT, `crates/emulator/src/chain/AccountExecutor.sol`):
/// its runtime bytecode, which the emulator runs in an account's context for the account's own
/// execution functions, written as hex beside the source.
fn compile_executor(root: &Path) -> Result<()> {
    let dir = root.join("crates/emulator/src/chain");
    let source = std::fs::read_to_string(dir.join("AccountExecutor.sol"))?;
    let input = json!({
        "language": "Solidity",
        "sources": {"AccountExecutor.sol": {"content": source}},
        "settings": {
            "optimizer": {"enabled": true, "runs": 200},
            "outputSelection": {"*": {"*": ["evm.deployedBytecode.object"]}},
        },
    });
    let mut child = Command::new("npm")
        .current_dir(&dir)
        .args([
            "exec",
            "--yes",
            &format!("--package=solc@{SOLC}"),
            "--",
            "solcjs",
            "--standard-json",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running npm (is Node.js installed?)")?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().context("solcjs's input")?;
        stdin.write_all(input.to_string().as_bytes())?;
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("solcjs failed ({})", output.status);
    }
    // solcjs may print a notice before the JSON.
    let text = String::from_utf8_lossy(&output.stdout);
    let json: Value =
        serde_json::from_str(&text[text.find('{').context("no JSON from solcjs")?..])?;
    let code = json["contracts"]["AccountExecutor.sol"]["AccountExecutor"]["evm"]
        ["deployedBytecode"]["object"]
        .as_str()
        .with_context(|| format!("solcjs answered no bytecode: {}", json["errors"]))?;
    std::fs::write(dir.join("account_executor.hex"), format!("{code}\n"))?;
    println!("wrote crates/emulator/src/chain/account_executor.hex");
    Ok(())
}

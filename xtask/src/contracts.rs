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
const CONTRACTS: &[&str] = &["Counter", "Token", "Nft", "Multi", "SigGate"];

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
    Ok(())
}

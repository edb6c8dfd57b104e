//! `cargo xtask clients`: Alchemy's official TypeScript clients (`@alchemy/wallet-apis` v5 and
//! `@account-kit/wallet-client` v4, pinned in `tests/clients/package.json`) against a fresh
//! `sesskey serve`: requestAccount (SMA-B and
//! 7702), getCapabilities, signMessage/signTypedData checked by viem's `verifyMessage` (ERC-1271
//! and ERC-6492), sends with a paymaster policy, sessions through `grantPermissions`, gas paid in
//! an ERC-20 (post-op approvals, the pre-op permit) on a second chain. Needs
//! Node.js and npm; the packages are installed in a temporary folder, never in the repo.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};

/// arbitrumSepolia, the chain the client's own test runs on.
const CHAIN_ID: &str = "421614";
/// baseSepolia, the chain of its ERC-20 paymaster tests.
const TOKEN_CHAIN_ID: &str = "84532";
/// Where the token the ERC-20 tests pay with is deployed: the first contract of anvil's first
/// development account (`0xf39F…2266`, nonce 0), which the script deploys it from.
const GAS_TOKEN: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";

pub(crate) fn run(root: &Path) -> Result<()> {
    let work = std::env::temp_dir().join(format!("sesskey-clients-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    for file in ["package.json", "wallet-apis.mjs", "wallet-client-v4.mjs"] {
        std::fs::copy(root.join("tests/clients").join(file), work.join(file))?;
    }
    let status = Command::new("npm")
        .current_dir(&work)
        .args(["install", "--no-audit", "--no-fund", "--silent"])
        .status()
        .context("running npm (is Node.js installed?)")?;
    if !status.success() {
        bail!("npm install failed ({status})");
    }
    let status = Command::new("cargo")
        .args(["build", "--quiet", "--release", "-p", "sesskey-cli"])
        .status()?;
    if !status.success() {
        bail!("building sesskey failed");
    }
    let mut serve = Command::new(root.join("target/release/sesskey"))
        .args(["serve", "--addr", "127.0.0.1:0", "--json", "--chain-id", CHAIN_ID])
        .args(["--chain-id", TOKEN_CHAIN_ID])
        .args(["--policy-id", POLICY])
        // 100 tokens per ETH: the emulator's fees are an L1's (a base fee near 1 gwei), where
        // baseSepolia's are a thousandth of that; at this price an op costs about as many cents
        // as it does there, and the test's $0.50 approvals cover it.
        .args(["--gas-token", &format!("{GAS_TOKEN}=100")])
        .stdout(Stdio::piped())
        .spawn()?;
    let url = {
        use std::io::BufRead;
        let out = serve.stdout.take().context("the server's output")?;
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line)?;
        let banner: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("the server's banner: {line}"))?;
        banner["url"].as_str().context("a URL in the banner")?.to_string()
    };
    let node = |script: &str| {
        Command::new("node")
            .current_dir(&work)
            .arg(script)
            .env("URL", &url)
            .env("POLICY", POLICY)
            .env("GAS_TOKEN", GAS_TOKEN)
            .env("PERMIT_TOKEN_JSON", root.join("fixtures/contracts/PermitToken.json"))
            .status()
            .map(|s| s.success())
    };
    // Both run, whatever the first answers.
    let results = [node("wallet-apis.mjs"), node("wallet-client-v4.mjs")];
    serve.kill().ok();
    serve.wait().ok();
    std::fs::remove_dir_all(&work).ok();
    for ok in results {
        if !ok.context("running node")? {
            bail!("an official client failed against the emulator (see above)");
        }
    }
    Ok(())
}

//! The README's tour, run as written: its story block is taken from the README, pointed at an
//! emulator this test starts and at the `sesskey` under test, and run by bash. The tour cannot
//! drift from the CLI.

use std::process::Command;

const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
const POLICY: &str = "6e7c3a8f-2b1d-4c5e-9f0a-1b2c3d4e5f60";

/// The `sh` blocks of the README's tour section.
fn tour_blocks() -> Vec<String> {
    let start = README.find("## A five-minute tour").expect("the README has its tour");
    let rest = &README[start..];
    let section = &rest[..rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3)];
    let mut blocks = vec![];
    let mut parts = section.split("```sh\n").skip(1);
    for part in parts.by_ref() {
        blocks.push(part.split("```").next().expect("a closed block").to_string());
    }
    blocks
}

/// Whether `tool` runs here; under CI a missing one fails the test (`.ci/run` installs them).
fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("CI").is_err(), "CI must provide `{tool}` (see .ci/run)");
        eprintln!("`{tool}` is not installed: the README tour is not run here");
    }
    found
}

#[test]
fn the_readme_tour_runs_as_written() {
    let blocks = tour_blocks();
    assert!(blocks.len() >= 2, "the tour has its serve block and its story block");
    assert!(blocks[0].contains("serve") && blocks[0].contains(POLICY), "{}", blocks[0]);
    if !["cast", "jq", "curl", "bash"].iter().all(|t| have(t)) {
        return;
    }
    let story = &blocks[1];
    for expected in ["http://127.0.0.1:8545", "cargo run -q -p sesskey-cli --", "mktemp -d"] {
        assert!(story.contains(expected), "the story block no longer has `{expected}`");
    }
    let (stdout, stderr) = run_against_an_emulator(|url| {
        story
            .replace("http://127.0.0.1:8545", url)
            .replace("cargo run -q -p sesskey-cli --", env!("CARGO_BIN_EXE_sesskey"))
    });
    // The session key's call changed the contract, as cast reads it; its spend is counted; the
    // call outside the permissions was refused before anything was signed.
    assert!(stdout.lines().any(|l| l.trim() == "5"), "{stdout}");
    assert!(stdout.contains("0.0001 ETH spent of 0.001 ETH"), "{stdout}");
    assert!(stderr.contains("0x6666666666666666666666666666666666666666"), "{stderr}");
    assert!(stdout.contains("\"alchemy.sma-7702.1.0.0\""), "{stdout}");
    assert!(stdout.contains("rawPayload"), "{stdout}");
}

/// `session show` with an endpoint shows an ERC-20 budget in whole tokens, with the decimals
/// the token says (`decimals()`); without one, in base units, named as such.
#[test]
fn token_budgets_show_in_the_tokens_units() {
    if !["cast", "jq", "bash"].iter().all(|t| have(t)) {
        return;
    }
    let script = r#"
export SESSKEY_HOME=$(mktemp -d) SESSKEY_PASSWORD=pw
export OWNER_PRIVATE_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
DEPLOYER=0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
ACCOUNT=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
TOKEN=$(cast send --rpc-url $URL --private-key $DEPLOYER --json \
  --create "$(jq -r .bytecode fixtures/contracts/Token.json)" 'constructor(string,string,uint256)' T T 1000000000000000000000 \
  | jq -r .contractAddress)
cast send --rpc-url $URL --private-key $DEPLOYER $TOKEN 'transfer(address,uint256)' $ACCOUNT 500000000000000000000 >/dev/null
sesskey delegate --rpc-url $URL --chain-id 31337 --policy-id $POLICY >/dev/null
sesskey session create --rpc-url $URL --chain-id 31337 --policy-id $POLICY --erc20 $TOKEN:100000000000000000000 >/dev/null
ID=$(sesskey session list --active --json | jq -r '.[0].session.sessionId')
sesskey send --session $ID --rpc-url $URL --policy-id $POLICY $TOKEN 'transfer(address,uint256)' 0x5151515151515151515151515151515151515151 60500000000000000000 >/dev/null
echo "WITHOUT"; sesskey session show $ID
echo "WITH"; sesskey session show $ID --rpc-url $URL
"#;
    let (stdout, _) = run_against_an_emulator(|_| script.to_string());
    let (without, with) = stdout.split_once("WITH\n").expect("both shows ran");
    assert!(
        without.contains("60500000000000000000 spent of 100000000000000000000 (base units)"),
        "{without}"
    );
    assert!(with.contains("60.5 spent of 100 (tokens of 18 decimals)"), "{with}");
}

/// Runs the bash script `script(url)` from the repository's root against a `sesskey serve` it
/// starts (its URL also in `$URL`, the policy in `$POLICY`, the `sesskey` under test first on
/// `PATH`, temporary files in a scratch folder); fails unless the script succeeds. Its output.
fn run_against_an_emulator(script: impl FnOnce(&str) -> String) -> (String, String) {
    let args: [&std::ffi::OsStr; 4] =
        ["--addr".as_ref(), "127.0.0.1:0".as_ref(), "--policy-id".as_ref(), POLICY.as_ref()];
    let (mut server, url, _) = crate::serve(&args);
    let url = url.trim_end_matches('/').to_string();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_sesskey"));
    let dir = bin.parent().expect("the binary's folder").display().to_string();
    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script(&url)])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env("URL", &url)
        .env("POLICY", POLICY)
        .env("PATH", format!("{dir}:{}", std::env::var("PATH").unwrap_or_default()))
        .env_remove("SESSKEY_HOME")
        .env_remove("SESSKEY_DATABASE_URL")
        .env("TMPDIR", scratch.path())
        .output()
        .unwrap();
    server.kill().ok();
    server.wait().ok();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the script failed:\n{stdout}\n{stderr}");
    (stdout.into_owned(), stderr.into_owned())
}

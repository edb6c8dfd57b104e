//! Golden fixtures: what sesskey itself produces, regenerated and diffed.
//!
//! Every file of `fixtures/golden/` is written here and nowhere else. Output is deterministic:
//! sorted keys, pretty JSON, `\n` line ends and a trailing newline, no timestamps, no random keys.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sesskey_types as types;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Write the files, or check that they are up to date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Write every file; remove files no longer produced.
    Write,
    /// Fail, naming the file, when anything would change.
    Check,
}

const GOLDEN: &str = "fixtures/golden";

/// Generates every golden file and writes or checks it.
pub(crate) fn generate(root: &Path, mode: Mode) -> Result<()> {
    let files = produce(root)?;
    let dir = root.join(GOLDEN);
    let mut problems = Vec::new();
    for (rel, contents) in &files {
        let path = dir.join(rel);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(contents.as_str()) {
            continue;
        }
        match mode {
            Mode::Write => {
                std::fs::create_dir_all(path.parent().expect("has a parent"))?;
                std::fs::write(&path, contents)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {GOLDEN}/{}", rel.display());
            }
            Mode::Check => problems.push(format!(
                "{GOLDEN}/{} is stale: run `cargo xtask fixtures` and commit",
                rel.display()
            )),
        }
    }
    for extra in existing(&dir)?.into_iter().filter(|f| !files.contains_key(f)) {
        match mode {
            Mode::Write => {
                std::fs::remove_file(dir.join(&extra))?;
                println!("removed {GOLDEN}/{}", extra.display());
            }
            Mode::Check => problems.push(format!(
                "{GOLDEN}/{} is no longer produced: run `cargo xtask fixtures` and commit",
                extra.display()
            )),
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    if mode == Mode::Check {
        println!("{GOLDEN}: {} files up to date", files.len());
    }
    Ok(())
}

fn existing(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir)?.to_path_buf());
            }
        }
    }
    Ok(out)
}

/// Every golden file, by path under `fixtures/golden/`.
fn produce(root: &Path) -> Result<BTreeMap<PathBuf, String>> {
    let mut files = BTreeMap::new();
    wire(root, &mut files)?;
    files.insert(
        PathBuf::from("emulator/seed-flow.json"),
        pretty(&crate::emulator_fixtures::seed_flow()?),
    );
    for (name, value) in crate::signing_fixtures::produce()? {
        files.insert(PathBuf::from(format!("signing/{name}.json")), pretty(&value));
    }
    Ok(files)
}

fn pretty(value: &Value) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("JSON values serialize");
    s.push('\n');
    s
}

fn read_json(root: &Path, rel: &str) -> Result<Value> {
    let text = std::fs::read_to_string(root.join(rel)).with_context(|| format!("reading {rel}"))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {rel}"))
}

fn canonical(method: &str, part: &str, value: Value) -> Result<Value> {
    let method: types::Method = method.parse()?;
    Ok(method.canonical(part.parse()?, value)?)
}

/// `wire/`: the seed document's bodies and the schemas' examples as sesskey re-serializes them
/// (minimal quantities, checksummed addresses, sorted keys). Each file says which method and
/// part it is, so the `sesskey-tests` suite can round-trip it byte for byte.
fn wire(root: &Path, files: &mut BTreeMap<PathBuf, String>) -> Result<()> {
    let seed = "fixtures/external/seed-session-keys-api";
    let bodies: [(&str, &str, &str, &str); 6] = [
        ("1-delegation-prepare-calls.request.json", "wallet_prepareCalls", "params", "/params/0"),
        ("2-create-session.request.json", "wallet_createSession", "params", "/params/0"),
        ("3-create-session.response.json", "wallet_createSession", "result", "/result"),
        ("4-prepare-calls-session.request.json", "wallet_prepareCalls", "params", "/params/0"),
        ("5-prepare-calls-session.result.json", "wallet_prepareCalls", "result", ""),
        ("6-send-prepared-calls.request.json", "wallet_sendPreparedCalls", "params", "/params/0"),
    ];
    for (file, method, part, pointer) in bodies {
        let doc = read_json(root, &format!("{seed}/{file}"))?;
        let value = doc.pointer(pointer).cloned().with_context(|| format!("{file}{pointer}"))?;
        let out = json!({
            "source": format!("{seed}/{file}"),
            "method": method,
            "part": part,
            "value": canonical(method, part, value).with_context(|| file.to_string())?,
        });
        files.insert(PathBuf::from("wire/seed").join(file), pretty(&out));
    }
    let index = read_json(root, "fixtures/external/schemas/_index.json")?;
    for entry in index["methods"].as_array().context("_index.json methods")? {
        let method = entry["method"].as_str().context("method name")?;
        let Ok(schema) = read_json(root, &format!("fixtures/external/schemas/{method}.json"))
        else {
            continue; // Methods out of scope (swaps, cross-chain) have no schema file here.
        };
        for (i, example) in schema["examples"].as_array().into_iter().flatten().enumerate() {
            let one_object = !matches!(method, "wallet_getCallsStatus" | "wallet_getCapabilities");
            let params =
                if one_object { example["params"][0].clone() } else { example["params"].clone() };
            for (part, value) in [("params", params), ("result", example["result"].clone())] {
                let out = json!({
                    "source": format!("fixtures/external/schemas/{method}.json#/examples/{i}/{part}"),
                    "method": method,
                    "part": part,
                    "value": canonical(method, part, value).with_context(|| format!("{method} example {i} {part}"))?,
                });
                files.insert(
                    PathBuf::from(format!("wire/examples/{method}.{i}.{part}.json")),
                    pretty(&out),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Plain `cargo test` fails when a golden file is stale or edited by hand.
    #[test]
    fn fixtures_are_fresh() {
        super::generate(&crate::repo_root(), super::Mode::Check).unwrap();
    }
}

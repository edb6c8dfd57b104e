//! `cargo xtask fuzz [--secs N] [--runs N] [TARGET…]`: builds the libFuzzer binaries of
//! `fuzz/` with coverage instrumentation (on the stable toolchain: no sanitizer), seeds each
//! target's corpus from `fixtures/`, runs each target for `--secs` seconds (default 60) or
//! `--runs` executions, and prints executions and speed per target. A crash stops the run and
//! names the input; fix it, then keep the input in `fuzz/regressions/<target>/` (ordinary tests
//! replay it).

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The targets (binaries of the `sesskey-fuzz` package).
const TARGETS: [&str; 5] = ["wallet_api", "typed_data", "signatures", "decoders", "policy"];

/// The coverage instrumentation libFuzzer needs (what cargo-fuzz passes, minus the sanitizer,
/// which needs a nightly toolchain).
const RUSTFLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    --cfg fuzzing -Cdebug-assertions -Coverflow-checks";

pub(crate) fn run(root: &Path, args: &[&str]) -> Result<()> {
    let mut secs = 60u64;
    let mut runs: Option<u64> = None;
    let mut only = vec![];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--secs" => secs = it.next().context("--secs N")?.parse().context("--secs N")?,
            "--runs" => runs = Some(it.next().context("--runs N")?.parse().context("--runs N")?),
            t if TARGETS.contains(&t) => only.push(t),
            other => bail!("unknown fuzz argument `{other}` (targets: {})", TARGETS.join(", ")),
        }
    }
    let targets: Vec<&str> = if only.is_empty() { TARGETS.to_vec() } else { only };
    let target_dir = root.join("target").join("fuzz");
    // With an explicit target, RUSTFLAGS reach only the target's code, not build scripts and
    // proc macros (which must not be instrumented).
    let host = host_triple()?;
    println!("==> building the fuzz targets (instrumented, release) into {}", target_dir.display());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--locked", "-p", "sesskey-fuzz", "--features", "libfuzzer"])
        .args(["--target", &host])
        .args(targets.iter().flat_map(|t| ["--bin", t]))
        .env("RUSTFLAGS", RUSTFLAGS)
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the fuzz targets failed");
    }
    let seeds = Seeds::from_fixtures(&root.join("fixtures"))?;
    let mut table = vec![];
    for t in &targets {
        let corpus = target_dir.join("corpus").join(t);
        let artifacts = target_dir.join("artifacts").join(t);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        let written = seeds.write(t, &corpus)?;
        println!("\n==> fuzz {t}: {written} seeds from fixtures/, {secs} s");
        let started = Instant::now();
        let mut cmd = Command::new(target_dir.join(&host).join("release").join(t));
        cmd.arg(&corpus)
            .arg(format!("-max_total_time={secs}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .args(["-print_final_stats=1", "-max_len=65536", "-rss_limit_mb=2048", "-timeout=10"]);
        if let Some(n) = runs {
            cmd.arg(format!("-runs={n}"));
        }
        let out = cmd.output().with_context(|| format!("running fuzz target {t}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let elapsed = started.elapsed().as_secs_f64();
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            println!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            bail!(
                "fuzz target {t} crashed; the input is in {} (fix it, then keep the input in \
                 fuzz/regressions/{t}/)",
                artifacts.display()
            );
        }
        let stat = |key: &str| {
            log.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let execs = stat("stat::number_of_executed_units:");
        let per_sec = stat("stat::average_exec_per_sec:");
        let corpus_size = std::fs::read_dir(&corpus)?.count();
        println!("<== fuzz {t}: {execs} executions in {elapsed:.0} s ({per_sec}/s), no crash; corpus {corpus_size}");
        table.push((t.to_string(), execs, elapsed, per_sec, corpus_size));
    }
    println!("\n| target | executions | seconds | executions/s | corpus |\n|---|---|---|---|---|");
    for (t, execs, elapsed, per_sec, corpus) in table {
        println!("| {t} | {execs} | {elapsed:.0} | {per_sec} | {corpus} |");
    }
    Ok(())
}

/// The host's target triple (`rustc -vV`).
fn host_triple() -> Result<String> {
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .context("no host in rustc -vV")
}

/// Seed inputs for each target, taken from the fixtures.
struct Seeds {
    /// `(file stem, JSON)` of every golden wire example (`wallet_x.N.params`).
    wire: Vec<(String, Vec<u8>)>,
    /// Every typed-data object.
    typed: Vec<Value>,
    /// Every hex string (decoded), short to long.
    hex: Vec<Vec<u8>>,
    /// Every `permissions` array.
    permissions: Vec<Value>,
}

fn walk(v: &Value, f: &mut impl FnMut(Option<&str>, &Value)) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                f(Some(k), x);
                walk(x, f);
            }
        }
        Value::Array(xs) => {
            for x in xs {
                f(None, x);
                walk(x, f);
            }
        }
        _ => {}
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            json_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    Ok(())
}

impl Seeds {
    fn from_fixtures(fixtures: &Path) -> Result<Self> {
        let mut files = vec![];
        json_files(fixtures, &mut files)?;
        files.sort();
        let mut seeds = Self { wire: vec![], typed: vec![], hex: vec![], permissions: vec![] };
        for file in &files {
            let text = std::fs::read(file)?;
            let Ok(value) = serde_json::from_slice::<Value>(&text) else { continue };
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            if file.parent().is_some_and(|p| p.ends_with("examples")) {
                seeds.wire.push((stem.to_string(), text.clone()));
            }
            walk(&value, &mut |key, v| match v {
                Value::Object(m) if m.contains_key("primaryType") && m.contains_key("types") => {
                    seeds.typed.push(v.clone())
                }
                Value::Array(_) if key == Some("permissions") => seeds.permissions.push(v.clone()),
                Value::String(s) => {
                    if let Some(h) = s.strip_prefix("0x") {
                        if h.len() >= 8 && h.len() <= 8192 && h.len() % 2 == 0 {
                            if let Ok(b) = alloy_primitives::hex::decode(h) {
                                seeds.hex.push(b);
                            }
                        }
                    }
                }
                _ => {}
            });
        }
        seeds.hex.sort();
        seeds.hex.dedup();
        Ok(seeds)
    }

    /// Writes `target`'s seeds into `corpus`; answers how many.
    fn write(&self, target: &str, corpus: &Path) -> Result<usize> {
        let mut inputs: Vec<Vec<u8>> = vec![];
        match target {
            "wallet_api" => {
                for (stem, json) in &self.wire {
                    // `wallet_x.0.params` → `wallet_x.params\n{…}`
                    let parts: Vec<&str> = stem.split('.').collect();
                    if let [method, _, part] = parts.as_slice() {
                        inputs.push([format!("{method}.{part}\n").as_bytes(), json].concat());
                    }
                }
            }
            "typed_data" => {
                inputs.extend(self.typed.iter().map(|v| v.to_string().into_bytes()));
            }
            "signatures" => {
                for b in self.hex.iter().filter(|b| b.len() >= 65).take(300) {
                    for form in [0u8, 2, 3] {
                        inputs.push([&[form][..], b].concat());
                    }
                }
                inputs.push([&[1u8][..], br#"{"r":"0x1","s":"0x2","yParity":"0x1"}"#].concat());
            }
            "decoders" => {
                for b in self.hex.iter().take(600) {
                    let which: &[u8] = if b.len() == 32 { &[1, 3] } else { &[0, 1, 2] };
                    for w in which {
                        inputs.push([&[*w][..], b].concat());
                    }
                }
            }
            "policy" => {
                let drive: Vec<u8> = (0u8..96).map(|i| i.wrapping_mul(37)).collect();
                for p in &self.permissions {
                    inputs.push([p.to_string().as_bytes(), b"\n", &drive].concat());
                }
            }
            _ => {}
        }
        for input in &inputs {
            let name = alloy_primitives::hex::encode(&alloy_primitives::keccak256(input)[..12]);
            std::fs::write(corpus.join(format!("seed-{name}")), input)?;
        }
        Ok(inputs.len())
    }
}

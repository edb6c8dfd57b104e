//! Every input kept in `fuzz/regressions/<target>/` (crashes the fuzzers found, fixed since),
//! replayed through its target's body on the stable toolchain, in every CI run.

#[test]
fn kept_inputs_replay_without_a_crash() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut replayed = 0;
    for (name, target) in sesskey_fuzz::TARGETS {
        let dir = root.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == "README.md") {
                continue;
            }
            let input = std::fs::read(&path).unwrap();
            target(&input);
            replayed += 1;
        }
    }
    // The folder is found and read (it holds at least the first kept input).
    assert!(replayed > 0, "no kept input found under {}", root.display());
}

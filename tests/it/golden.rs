//! Golden wire fixtures (written by `cargo xtask fixtures`) round-trip byte for byte through
//! `sesskey-types`: parse with the method's type, serialize, pretty-print, same bytes.

use serde_json::Value;
use sesskey_tests::{files_under, fixtures_dir, pretty};
use sesskey_types::{Method, Part};

#[test]
fn wire_fixtures_round_trip_byte_for_byte() {
    let dir = fixtures_dir().join("golden/wire");
    let files = files_under(&dir);
    assert!(files.len() >= 24, "expected the seed bodies and schema examples, found {files:?}");
    for rel in files {
        let text = std::fs::read_to_string(dir.join(&rel)).unwrap();
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        let method: Method = doc["method"].as_str().unwrap().parse().unwrap();
        let part: Part = doc["part"].as_str().unwrap().parse().unwrap();
        let value = doc["value"].take();
        doc["value"] =
            method.canonical(part, value).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        assert_eq!(pretty(&doc), text, "{} changed when round-tripped", rel.display());
    }
}

#[test]
fn every_method_has_golden_examples() {
    let dir = fixtures_dir().join("golden/wire/examples");
    let names: Vec<String> = files_under(&dir).iter().map(|p| p.display().to_string()).collect();
    for method in Method::ALL {
        for part in ["params", "result"] {
            assert!(
                names
                    .iter()
                    .any(|n| n.starts_with(method.name()) && n.ends_with(&format!("{part}.json"))),
                "no golden {part} of {method}"
            );
        }
    }
}

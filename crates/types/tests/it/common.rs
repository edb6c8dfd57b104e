//! Shared helpers: the schemas (copied from `@alchemy/wallet-api-types@0.2.0-alpha.3`, see
//! `fixtures/README.md`) and a hex-aware JSON comparison.

use serde_json::Value;

/// The schema file of `method`, as copied into `fixtures/external/schemas/`.
pub(crate) fn schema_file(method: &str) -> Value {
    let text = match method {
        "wallet_createSession" => {
            include_str!("../../../../fixtures/external/schemas/wallet_createSession.json")
        }
        "wallet_formatSign" => {
            include_str!("../../../../fixtures/external/schemas/wallet_formatSign.json")
        }
        "wallet_getCallsStatus" => {
            include_str!("../../../../fixtures/external/schemas/wallet_getCallsStatus.json")
        }
        "wallet_getCapabilities" => {
            include_str!("../../../../fixtures/external/schemas/wallet_getCapabilities.json")
        }
        "wallet_listAccounts" => {
            include_str!("../../../../fixtures/external/schemas/wallet_listAccounts.json")
        }
        "wallet_prepareCalls" => {
            include_str!("../../../../fixtures/external/schemas/wallet_prepareCalls.json")
        }
        "wallet_prepareSign" => {
            include_str!("../../../../fixtures/external/schemas/wallet_prepareSign.json")
        }
        "wallet_requestAccount" => {
            include_str!("../../../../fixtures/external/schemas/wallet_requestAccount.json")
        }
        "wallet_sendPreparedCalls" => {
            include_str!("../../../../fixtures/external/schemas/wallet_sendPreparedCalls.json")
        }
        other => panic!("no schema for {other}"),
    };
    serde_json::from_str(text).expect("schema file is JSON")
}

/// Which half of a method a value is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Part {
    /// The params array (a lone object is wrapped as `[object]`).
    Params,
    /// The result.
    Result,
}

/// Fails with every schema error when `value` does not validate against `method`'s `part`.
pub(crate) fn assert_valid(method: &str, part: Part, value: &Value) {
    let file = schema_file(method);
    let (schema, instance) = match part {
        Part::Params => {
            let wrapped =
                if value.is_array() { value.clone() } else { Value::Array(vec![value.clone()]) };
            (&file["params"], wrapped)
        }
        Part::Result => (&file["result"], value.clone()),
    };
    let validator = jsonschema::validator_for(schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {part:?} does not match Alchemy's schema:\n{}\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(&instance).unwrap()
    );
}

/// Like [`assert_valid`], but expects the schema to refuse `value`.
pub(crate) fn assert_invalid(method: &str, part: Part, value: &Value) {
    let file = schema_file(method);
    let schema = match part {
        Part::Params => &file["params"],
        Part::Result => &file["result"],
    };
    let instance = match part {
        Part::Params if !value.is_array() => Value::Array(vec![value.clone()]),
        _ => value.clone(),
    };
    let validator = jsonschema::validator_for(schema).expect("schema compiles");
    assert!(!validator.is_valid(&instance), "{method} {part:?} unexpectedly valid: {instance}");
}

/// JSON equality in which two `0x` strings are equal when they denote the same bytes in any
/// case, or the same quantity with or without leading zeros (`"0x01"` = `"0x1"`).
/// Every other value must be equal exactly.
pub(crate) fn wire_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if x.starts_with("0x") && y.starts_with("0x") => {
            let (x, y) = (x[2..].to_ascii_lowercase(), y[2..].to_ascii_lowercase());
            x == y
                || (!x.is_empty()
                    && !y.is_empty()
                    && trim(&x) == trim(&y)
                    && x.len() < 40
                    && y.len() < 40)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| wire_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| wire_eq(v, w)))
        }
        _ => a == b,
    }
}

fn trim(s: &str) -> &str {
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        "0"
    } else {
        t
    }
}

#[test]
fn wire_eq_is_strict_where_it_matters() {
    use serde_json::json;
    assert!(wire_eq(&json!({"a": "0xAB"}), &json!({"a": "0xab"})));
    assert!(wire_eq(&json!("0x01"), &json!("0x1")));
    assert!(!wire_eq(&json!("0x01"), &json!("0x2")));
    assert!(!wire_eq(&json!({"a": "0x1"}), &json!({"a": "0x1", "b": 1})));
    assert!(!wire_eq(&json!([1, 2]), &json!([2, 1])));
    // Fixed-width data (hashes) must keep their width.
    let h = "0x00000000000000000000000000000000000000000000000000000000000000ff";
    assert!(!wire_eq(&json!(h), &json!("0xff")));
}

//! `mav2-nonce-and-calls.json`: nonces by the real EntryPoint v0.7 and the SDK's
//! `buildFullNonceKey`; call data by the SDK's `encodeExecute` / `encodeBatchExecute`.

use crate::{bytes, vectors};
use alloy_primitives::{aliases::U152, Address, U256};
use sesskey_account::*;
use sesskey_types::{from_json_value, Call};

#[test]
fn nonces_match_the_entry_point() {
    let file = vectors("mav2-nonce-and-calls");
    let mut n = 0;
    for c in file["cases"].as_array().unwrap().iter().filter(|c| c["kind"] == "nonce") {
        let name = c["name"].as_str().unwrap();
        let flags = &c["flags"];
        let nonce = Nonce {
            parallel_key: c["parallelKey"].as_str().unwrap().parse::<U152>().unwrap(),
            entity_id: c["entityId"].as_u64().unwrap() as u32,
            global: flags["global"].as_bool().unwrap(),
            deferred_action: flags["deferredAction"].as_bool().unwrap(),
            direct_call: flags["directCall"].as_bool().unwrap(),
            seq: c["seq"].as_str().unwrap().parse::<U256>().unwrap().to(),
        };
        assert_eq!(format!("{:#04x}", nonce.options()), c["options"].as_str().unwrap(), "{name}");
        assert_eq!(nonce.key(), c["key"].as_str().unwrap().parse::<U256>().unwrap(), "{name}");
        let full: U256 = c["nonce"].as_str().unwrap().parse().unwrap();
        assert_eq!(nonce.encode(), full, "{name}");
        assert_eq!(Nonce::decode(full), nonce, "{name}");
        n += 1;
    }
    assert_eq!(n, 18);
}

#[test]
fn call_data_matches_the_sdk() {
    let file = vectors("mav2-nonce-and-calls");
    let mut n = 0;
    for c in file["cases"].as_array().unwrap().iter().filter(|c| c["kind"] == "callData") {
        let name = c["name"].as_str().unwrap();
        let account: Address = c["account"].as_str().unwrap().parse().unwrap();
        let calls: Vec<Call> = from_json_value(c["calls"].clone()).unwrap();
        let prefix = c["executeUserOpPrefix"].as_bool().unwrap();
        let encoding = if c["encoder"].as_str().unwrap().contains("encodeBatchExecute") {
            CallEncoding::Batch
        } else {
            CallEncoding::Sdk
        };
        let expected = bytes(&c["callData"]);
        assert_eq!(encode_calls(account, &calls, encoding, prefix), expected, "{name}");
        let decoded = decode_calls(account, &expected).unwrap();
        assert_eq!(decoded.execute_user_op, prefix, "{name}");
        assert_eq!(decoded.calls.len(), calls.len(), "{name}");
        assert!(decoded.calls.iter().zip(&calls).all(|(a, b)| same_call(a, b)), "{name}");
        n += 1;
    }
    assert_eq!(n, 15);
}

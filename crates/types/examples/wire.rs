//! The wire form of a `wallet_createSession` request and of a prepared call's answer: parse,
//! check, print back in sesskey's canonical form.
//!
//! `cargo run -p sesskey-types --example wire`

use sesskey_types::{from_json_value, CreateSessionParams, Method, Part};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A session for a key: native value up to 0.01 ETH, one contract, one hour.
    let request = serde_json::json!({
        "account": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "chainId": "0x7a69",
        "expirySec": 1_900_000_000u64,
        "key": {"publicKey": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "type": "secp256k1"},
        "permissions": [
            {"type": "native-token-transfer", "data": {"allowance": "0x2386f26fc10000"}},
            {"type": "contract-access", "data": {"address": "0x5151515151515151515151515151515151515151"}}
        ]
    });
    let parsed: CreateSessionParams = from_json_value(request.clone())?;
    println!("{} permission(s) for key {}", parsed.permissions.len(), parsed.key.public_key);
    let canonical = Method::CreateSession.canonical(Part::Params, request)?;
    println!("{}", serde_json::to_string_pretty(&canonical)?);
    // A malformed field is named.
    let bad = serde_json::json!({"account": "0x12", "chainId": "0x7a69",
        "key": {"publicKey": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "type": "secp256k1"},
        "permissions": [{"type": "root"}]});
    match from_json_value::<CreateSessionParams>(bad) {
        Ok(_) => println!("unexpected: accepted"),
        Err(e) => println!("refused: {e}"),
    }
    Ok(())
}

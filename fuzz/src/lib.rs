//! The fuzz targets' bodies, one function per target, so that ordinary tests replay the inputs
//! kept in `fuzz/regressions/<target>/` on the stable toolchain. `cargo xtask fuzz` builds the
//! libFuzzer binaries in `fuzz_targets/` (feature `libfuzzer`) that call them.
//!
//! Each target checks a property, not only "no panic":
//! - [`wallet_api`]: every Wallet API method's params and result parse, and their canonical form
//!   is a fixed point (input: `<method>.<params|result>\n<json>`);
//! - [`typed_data`]: EIP-712 typed data → digest; a deferred action read from typed data digests
//!   the same as the typed data itself;
//! - [`signatures`]: every signature form parses or is refused; a parsed one recovers or is
//!   refused; a packed user-operation signature unpacks and packs back to the same bytes;
//! - [`decoders`]: `installValidation`, account call data, `uninstallValidation` and nonces
//!   decode or are refused; what decodes encodes back to the same bytes;
//! - [`policy`]: the policy engine on arbitrary permissions and calls: whatever it accepts fits
//!   every allowance (input: `<permissions json>\n<bytes that drive the calls>`).

use alloy_primitives::{Address, Bytes, B256, U256};
use sesskey_account::{
    decode_calls, decode_install, decode_uninstall, encode_install, pack_signature,
    unpack_signature, DeferredAction, Nonce, Policy, Spend,
};
use sesskey_signing::{parse_signature, recover, typed_data_digest};
use sesskey_types::{Call, Method, Part, Permission, SignatureData, TypedDataJson};

/// A target's body: one input.
pub type Target = fn(&[u8]);

/// The targets, by name (the binaries in `fuzz_targets/` and the folders of
/// `fuzz/regressions/`).
pub const TARGETS: [(&str, Target); 5] = [
    ("wallet_api", wallet_api),
    ("typed_data", typed_data),
    ("signatures", signatures),
    ("decoders", decoders),
    ("policy", policy),
];

/// Splits `<head>\n<rest>`.
fn split_line(data: &[u8]) -> Option<(&str, &[u8])> {
    let nl = data.iter().position(|b| *b == b'\n')?;
    Some((std::str::from_utf8(&data[..nl]).ok()?, &data[nl + 1..]))
}

/// A Wallet API method's params or result: parse, serialize, parse again.
pub fn wallet_api(data: &[u8]) {
    let Some((head, json)) = split_line(data) else { return };
    let Some((method, part)) = head.split_once('.') else { return };
    let Ok(method) = method.parse::<Method>() else { return };
    let part = match part {
        "params" => Part::Params,
        "result" => Part::Result,
        _ => return,
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) else { return };
    if let Ok(canonical) = method.canonical(part, value) {
        let again = method
            .canonical(part, canonical.clone())
            .unwrap_or_else(|e| panic!("{method} {part}: its own canonical form is refused: {e}"));
        assert_eq!(again, canonical, "{method} {part}: the canonical form is not a fixed point");
    }
}

/// Typed data → digest, and a deferred action read from it.
pub fn typed_data(data: &[u8]) {
    let Ok(typed) = serde_json::from_slice::<TypedDataJson>(data) else { return };
    let digest = typed_data_digest(&typed);
    if let Ok(action) = DeferredAction::from_typed_data(&typed) {
        // What the account would check is what the owner signs.
        let digest = digest.expect("a deferred action's typed data has a digest");
        assert_eq!(action.digest(), digest, "a deferred action digests as its typed data");
    }
}

/// Every signature form.
pub fn signatures(data: &[u8]) {
    let Some((&form, rest)) = data.split_first() else { return };
    let digest = B256::repeat_byte(0x5a);
    match form % 4 {
        0 => {
            let sig = SignatureData::Hex(Bytes::copy_from_slice(rest));
            if parse_signature(&sig).is_ok() {
                let _ = recover(digest, &sig);
            }
        }
        1 => {
            if let Ok(sig) = serde_json::from_slice::<SignatureData>(rest) {
                if parse_signature(&sig).is_ok() {
                    let _ = recover(digest, &sig);
                }
            }
        }
        deferred => {
            let deferred = deferred == 3;
            if let Ok(unpacked) = unpack_signature(rest, deferred) {
                if !deferred {
                    assert_eq!(&pack_signature(&unpacked.signature)[..], rest, "pack ∘ unpack");
                }
            }
        }
    }
}

/// The account's decoders.
pub fn decoders(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    let account = Address::repeat_byte(0xac);
    match which % 4 {
        0 => {
            // What decodes encodes again to the same session: the same key, entity, expiry
            // and permissions (the encoder may order the hooks its own way, so the second
            // encoding, not the input, is the fixed point).
            if let Ok(session) = decode_install(rest) {
                if let Ok(encoded) = encode_install(account, &session) {
                    let again = decode_install(&encoded).expect("its own encoding decodes");
                    assert_eq!(
                        (again.session_key, again.entity_id, again.expiry),
                        (session.session_key, session.entity_id, session.expiry)
                    );
                    let sorted = |ps: &[Permission]| {
                        let mut v: Vec<String> =
                            ps.iter().map(|p| serde_json::to_string(p).expect("json")).collect();
                        v.sort();
                        v
                    };
                    assert_eq!(sorted(&again.permissions), sorted(&session.permissions));
                    let twice = encode_install(account, &again).expect("encodes again");
                    assert_eq!(twice, encoded, "the encoding is a fixed point");
                }
            }
        }
        1 => {
            let _ = decode_calls(account, rest);
        }
        2 => {
            let _ = decode_uninstall(rest);
        }
        _ => {
            let mut word = [0u8; 32];
            let n = rest.len().min(32);
            word[32 - n..].copy_from_slice(&rest[..n]);
            let nonce = U256::from_be_bytes(word);
            let decoded = Nonce::decode(nonce);
            // The option byte's unknown bits are not kept.
            let options = word[23];
            if options & !0x07 == 0 {
                assert_eq!(decoded.encode(), nonce, "encode ∘ decode of a nonce");
            }
        }
    }
}

/// Reads little pieces off the fuzzer's bytes.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    /// An amount: small, or a power of two (±1), or 32 raw bytes.
    fn amount(&mut self) -> Option<U256> {
        let kind = self.byte()?;
        Some(match kind % 4 {
            0 => U256::from(self.byte()?),
            1 => U256::from(1) << (self.byte()? as usize),
            2 => (U256::from(1) << (self.byte()? as usize)).saturating_sub(U256::from(1)),
            _ => {
                let take = self.0.len().min(32);
                let mut word = [0u8; 32];
                word[32 - take..].copy_from_slice(&self.0[..take]);
                self.0 = &self.0[take..];
                U256::from_be_bytes(word)
            }
        })
    }
}

/// The policy engine on arbitrary permissions and calls.
pub fn policy(data: &[u8]) {
    let Some((head, rest)) = split_line(data) else { return };
    let Ok(permissions) = serde_json::from_str::<Vec<Permission>>(head) else { return };
    if permissions.len() > 16 {
        return;
    }
    let account = Address::repeat_byte(0xac);
    // Calls go to the addresses the permissions name (and a stranger, and the account).
    let mut targets: Vec<Address> = permissions
        .iter()
        .filter_map(|p| match p {
            Permission::ContractAccess(c) => Some(c.address),
            Permission::FunctionsOnContract(f) => Some(f.address),
            Permission::Erc20TokenTransfer(e) => Some(e.address),
            _ => None,
        })
        .collect();
    targets.extend([Address::repeat_byte(0x99), account]);
    let selectors: Vec<[u8; 4]> = permissions
        .iter()
        .flat_map(|p| match p {
            Permission::FunctionsOnContract(f) => f.functions.iter().map(|s| s.0).collect(),
            Permission::FunctionsOnAllContracts(f) | Permission::AccountFunctions(f) => {
                f.functions.iter().map(|s| s.0).collect()
            }
            _ => vec![],
        })
        .chain([[0xa9, 0x05, 0x9c, 0xbb], [0x09, 0x5e, 0xa7, 0xb3], [0x23, 0xb8, 0x72, 0xdd]])
        .collect();
    let mut r = Reader(rest);
    let spent = Spend {
        native: r.amount().unwrap_or_default(),
        erc20: [(targets[0], r.amount().unwrap_or_default())].into_iter().collect(),
        gas: r.amount().unwrap_or_default(),
    };
    let gas = r.amount().unwrap_or_default();
    let mut calls = vec![];
    while calls.len() < 8 {
        let (Some(t), Some(s)) = (r.byte(), r.byte()) else { break };
        let to = targets[t as usize % targets.len()];
        let value = r.amount().unwrap_or_default();
        let mut data = selectors[s as usize % selectors.len()].to_vec();
        // An amount argument after the selector (as `transfer(address,uint256)` has).
        if let Some(arg) = r.amount() {
            data.extend_from_slice(&[0u8; 32]);
            data.extend_from_slice(&arg.to_be_bytes::<32>());
        }
        calls.push(Call { to, data: Some(data.into()), value: Some(value) });
    }
    let p = Policy { account, permissions: permissions.clone(), expiry: 0 };
    let Ok(batch) = p.evaluate(&spent, 0, &calls, gas) else { return };
    // Whatever is accepted fits every allowance.
    let wide = |v: U256| alloy_primitives::U512::from(v);
    // The engine applies the first native and the first gas permission (as the account
    // installs them).
    let native = permissions.iter().find_map(|p| match p {
        Permission::NativeTokenTransfer(n) => Some(n.allowance),
        _ => None,
    });
    let gas_limit = permissions.iter().find_map(|p| match p {
        Permission::GasLimit(g) => Some(g.limit),
        _ => None,
    });
    if let (Some(limit), false) = (native, batch.native.is_zero()) {
        assert!(wide(spent.native) + wide(batch.native) <= wide(limit), "native");
    }
    if let (Some(limit), false) = (gas_limit, batch.gas.is_zero()) {
        assert!(wide(spent.gas) + wide(batch.gas) <= wide(limit), "gas");
    }
    let limits: std::collections::BTreeMap<Address, alloy_primitives::U512> =
        permissions.iter().fold(Default::default(), |mut m, p| {
            if let Permission::Erc20TokenTransfer(e) = p {
                *m.entry(e.address).or_default() += wide(e.allowance);
            }
            m
        });
    for (token, amount) in &batch.erc20 {
        if let Some(limit) = limits.get(token) {
            let before = spent.erc20.get(token).copied().unwrap_or_default();
            assert!(wide(before) + wide(*amount) <= *limit, "erc20 {token}");
        }
    }
}

//! Every decoder refuses truncated, oversized and foreign input with a typed error, never a panic.

use proptest::prelude::*;
use sesskey_account::*;

fn root_install() -> Vec<u8> {
    let session = SessionInstall {
        session_key: alloy_primitives::Address::repeat_byte(7),
        entity_id: 3,
        expiry: 99,
        permissions: vec![sesskey_types::Permission::Root],
    };
    encode_install(alloy_primitives::Address::repeat_byte(1), &session).unwrap().to_vec()
}

#[test]
fn truncated_and_oversized_install_calls() {
    let call = root_install();
    for cut in [0, 3, 4, 36, call.len() - 1] {
        assert!(matches!(decode_install(&call[..cut]), Err(Error::Decode { .. })), "cut {cut}");
    }
    let mut oversized = call.clone();
    oversized.push(0);
    assert!(matches!(decode_install(&oversized), Err(Error::Decode { .. })));
    let mut other_module = call;
    other_module[4 + 12] ^= 1; // first byte of the module address in the config word
    assert!(decode_install(&other_module).is_err());
}

#[test]
fn entity_ids_and_deadlines_are_bounded() {
    let mut s = SessionInstall {
        session_key: alloy_primitives::Address::repeat_byte(7),
        entity_id: 0,
        expiry: 0,
        permissions: vec![sesskey_types::Permission::Root],
    };
    let account = alloy_primitives::Address::repeat_byte(1);
    assert!(matches!(encode_install(account, &s), Err(Error::EntityId(0))));
    s.entity_id = MAX_ENTITY_ID + 1;
    assert!(matches!(encode_install(account, &s), Err(Error::EntityId(_))));
    s.entity_id = MAX_ENTITY_ID;
    encode_install(account, &s).unwrap();
    s.expiry = 1 << 48;
    assert!(matches!(encode_install(account, &s), Err(Error::Deadline(_))));
    assert!(matches!(check_deadline(5, 6), Err(Error::Expired { deadline: 5, now: 6 })));
    check_deadline(0, 6).unwrap();
}

#[test]
fn packed_signatures_refuse_bad_layouts() {
    let sig = [5u8; 65];
    let plain = pack_signature(&sig);
    assert_eq!(unpack_signature(&plain, false).unwrap().signature, sig);
    assert!(unpack_signature(&plain[..66], false).is_err());
    let mut long = plain.to_vec();
    long.push(0);
    assert!(unpack_signature(&long, false).is_err());
    assert!(unpack_signature(&plain, true).is_err());
    let mut wrong_head = plain.to_vec();
    wrong_head[0] = 0xfe;
    assert!(unpack_signature(&wrong_head, false).is_err());
}

#[test]
fn typed_data_of_another_shape_is_refused() {
    let action = DeferredAction {
        chain_id: 1,
        account: alloy_primitives::Address::repeat_byte(1),
        nonce: alloy_primitives::U256::from(5),
        deadline: 9,
        call: vec![1, 2].into(),
    };
    let good = action.typed_data();
    assert_eq!(DeferredAction::from_typed_data(&good).unwrap(), action);
    let mut named = good.clone();
    named.domain.as_mut().unwrap().name = Some("x".into());
    assert!(DeferredAction::from_typed_data(&named).is_err());
    let mut extra = good.clone();
    extra.message.insert("extra".into(), serde_json::json!(1));
    assert!(DeferredAction::from_typed_data(&extra).is_err());
    let mut primary = good.clone();
    primary.primary_type = "Mail".into();
    assert!(DeferredAction::from_typed_data(&primary).is_err());
    // A declared domain type other than (chainId, verifyingContract), as the fuzzer found
    // (fuzz/regressions/typed_data): it would hash differently in the owner's wallet.
    let domain = |fields: &[(&str, &str)]| {
        let mut t = good.clone();
        t.types.insert(
            "EIP712Domain".into(),
            fields
                .iter()
                .map(|(n, ty)| sesskey_types::TypedDataField {
                    name: (*n).into(),
                    ty: (*ty).into(),
                })
                .collect(),
        );
        t
    };
    let declared = domain(&[("chainId", "uint256"), ("verifyingContract", "address")]);
    assert_eq!(DeferredAction::from_typed_data(&declared).unwrap(), action);
    for wrong in [
        domain(&[("chainId", "uint256"), ("verifyingContract", "0081037")]),
        domain(&[("verifyingContract", "address"), ("chainId", "uint256")]),
        domain(&[("chainId", "uint256")]),
    ] {
        assert!(DeferredAction::from_typed_data(&wrong).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), deferred in any::<bool>()) {
        let account = alloy_primitives::Address::repeat_byte(1);
        let _ = decode_install(&data);
        let _ = decode_calls(account, &data);
        let _ = unpack_signature(&data, deferred);
        let mut with_selector = vec![0x1b, 0xbf, 0x56, 0x4c];
        with_selector.extend_from_slice(&data);
        let _ = decode_install(&with_selector);
        let mut batch = vec![0x34, 0xfc, 0xd5, 0xbe];
        batch.extend_from_slice(&data);
        let _ = decode_calls(account, &batch);
    }
}

#[test]
fn truncated_and_oversized_call_data() {
    let account = alloy_primitives::Address::repeat_byte(1);
    let calls = vec![
        sesskey_types::Call {
            to: account.create(1),
            data: Some(vec![1, 2, 3].into()),
            value: None
        };
        2
    ];
    for encoding in [CallEncoding::Sdk, CallEncoding::Batch] {
        let data = encode_calls(account, &calls[..1], encoding, false).to_vec();
        let mut long = data.clone();
        long.push(0);
        assert!(decode_calls(account, &data[..data.len() - 1]).is_err());
        assert!(decode_calls(account, &long).is_err());
    }
}

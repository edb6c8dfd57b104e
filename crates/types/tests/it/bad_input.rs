//! Bad input gets a typed error that names the field, never a panic.

use crate::samples::*;
use serde_json::{json, Value};
use sesskey_types::*;

fn prepare_calls_error(patch: impl FnOnce(&mut Value)) -> String {
    let mut v = serde_json::to_value(prepare_calls_params_full()).unwrap();
    patch(&mut v);
    from_json_value::<PrepareCallsParams>(v).unwrap_err().to_string()
}

#[test]
fn quantities_name_the_field() {
    assert_eq!(
        prepare_calls_error(|v| v["chainId"] = json!("66eee")),
        "invalid `chainId`: invalid quantity: missing 0x prefix"
    );
    assert_eq!(
        prepare_calls_error(|v| v["calls"][1]["value"] = json!("0xz1")),
        "invalid `calls[1].value`: invalid quantity: non-hex digit 'z'"
    );
    assert_eq!(
        prepare_calls_error(|v| v["chainId"] = json!("0x10000000000000000")),
        "invalid `chainId`: invalid quantity: does not fit in 64 bits"
    );
    assert_eq!(
        prepare_calls_error(|v| v["capabilities"]["nonceOverride"]["nonceKey"] = json!("0x")),
        "invalid `capabilities.nonceOverride.nonceKey`: invalid quantity: no digits after 0x"
    );
    assert_eq!(
        prepare_calls_error(|v| v["from"] = json!("0xa363219d7c0b8673df17529d469db9eff0f35d")),
        "invalid `from`: invalid address: expected 20 bytes, got 38 hex digits"
    );
    assert_eq!(
        prepare_calls_error(|v| v["chainId"] = json!(1)),
        "invalid `chainId`: invalid type: integer `1`, expected a 0x-prefixed hex quantity"
    );
}

#[test]
fn quantities_above_u64_are_accepted_where_the_wire_allows() {
    let v = json!({"to": "0x0000000000000000000000000000000000000000", "value": "0x0100000000000000000000"});
    let call: Call = from_json_value(v).unwrap();
    assert_eq!(call.value_or_zero(), alloy_primitives::U256::from(1u128 << 80));
    assert_eq!(serde_json::to_value(&call).unwrap()["value"], "0x100000000000000000000");
}

#[test]
fn gas_fields_above_128_bits_are_refused() {
    let mut v = serde_json::to_value(prepared_v07()).unwrap();
    v["data"]["callGasLimit"] = json!(format!("0x1{}", "0".repeat(32)));
    let e = from_json_value::<PreparedUserOperationV07>(v).unwrap_err().to_string();
    assert_eq!(e, "invalid `data.callGasLimit`: invalid quantity: does not fit in 128 bits");
}

#[test]
fn errors_never_echo_the_value() {
    // A private key pasted into an address field must not end up in the message.
    let key = "0x29f8ccda13d5560423ae971c9e604984e6f30debdc1466117675c3d50cedafc1";
    let e = prepare_calls_error(|v| v["from"] = json!(key));
    assert!(!e.contains(&key[2..10]), "{e}");
    let e = prepare_calls_error(|v| v["from"] = json!(&key[2..]));
    assert!(!e.contains(&key[2..10]), "{e}");
}

#[test]
fn unknown_union_arms_and_shapes_are_refused() {
    let e = from_json_value::<PreparedCalls>(json!({"type": "user-operation-v080", "data": {}}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown variant `user-operation-v080`"), "{e}");
    let e = from_json_value::<Permission>(json!({"type": "erc721-token-transfer", "data": {}}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown variant `erc721-token-transfer`"), "{e}");
    let e = from_json_value::<CallsStatus>(json!({"id": "0x01", "chainId": "0x1", "atomic": true, "status": 201, "details": {"type": "delegation"}}))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "invalid `status`: unknown call status code 201");
}

#[test]
fn strict_objects_refuse_unknown_keys() {
    let e =
        prepare_calls_error(|v| v["capabilities"]["paymasterService"]["erc20"]["extra"] = json!(1));
    assert!(e.starts_with("invalid `capabilities.paymasterService"), "{e}");
    // Non-strict objects ignore unknown keys.
    let mut v = serde_json::to_value(prepare_calls_params_full()).unwrap();
    v["somethingNew"] = json!(true);
    v["capabilities"]["somethingNew"] = json!({});
    assert_eq!(from_json_value::<PrepareCallsParams>(v).unwrap(), prepare_calls_params_full());
}

#[test]
fn delegation_is_one_of_three() {
    let e = prepare_calls_error(|v| {
        v["capabilities"]["eip7702Auth"] =
            json!({"delegation": "0x1111111111111111111111111111111111111111"})
    });
    assert!(e.starts_with("invalid `capabilities.eip7702Auth`"), "{e}");
    let ok: Delegation =
        serde_json::from_value(json!("0x69007702764179f14f51cdce752f4f775d74e139")).unwrap();
    assert_eq!(ok, Delegation::ModularAccountV2);
}

#[test]
fn expiry_is_bounded() {
    let mut p = create_session_params(vec![Permission::Root]);
    p.expiry_sec = Some(MAX_EXPIRY_SEC + 1);
    assert_eq!(
        p.validate().unwrap_err().to_string(),
        "invalid `expirySec`: 10000000000 is above the maximum 9999999999"
    );
    let e = from_json_value::<CreateSessionParams>(json!({
        "account": ACCOUNT, "chainId": "0x1", "expirySec": -1,
        "key": {"publicKey": ACCOUNT, "type": "secp256k1"}, "permissions": [{"type": "root"}]
    }))
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("invalid `expirySec`"), "{e}");
}

fn check(permissions: Vec<Permission>) -> Result<(), PermissionError> {
    validate_permissions(&permissions, ACCOUNT)
}

#[test]
fn permission_rules() {
    use alloy_primitives::{fixed_bytes, Address};
    let contract = |address| Permission::ContractAccess(ContractAccess { address });
    let other = Address::repeat_byte(0x42);
    assert_eq!(check(vec![]), Err(PermissionError::Empty));
    assert_eq!(
        check(vec![Permission::Root, contract(other)]),
        Err(PermissionError::RootNotAlone { index: 1 })
    );
    assert_eq!(
        check(vec![contract(other), Permission::Root]),
        Err(PermissionError::RootNotAlone { index: 1 })
    );
    assert_eq!(
        check(vec![contract(other), contract(TOKEN), Permission::Root]),
        Err(PermissionError::RootNotAlone { index: 2 })
    );
    assert_eq!(
        check(vec![Permission::Root, Permission::Root]),
        Err(PermissionError::RootNotAlone { index: 1 })
    );
    assert_eq!(
        check(vec![
            contract(other),
            Permission::FunctionsOnContract(FunctionsOnContract {
                address: other,
                functions: vec![fixed_bytes!("0x12345678")]
            })
        ]),
        Err(PermissionError::DuplicateTarget {
            index: 1,
            kind: PermissionKind::FunctionsOnContract,
            address: other
        })
    );
    assert_eq!(
        check(vec![contract(ACCOUNT)]),
        Err(PermissionError::AccountAsTarget { index: 0, kind: PermissionKind::ContractAccess })
    );
    assert_eq!(
        check(vec![contract(Address::ZERO)]),
        Err(PermissionError::ZeroAddress { index: 0, kind: PermissionKind::ContractAccess })
    );
    assert_eq!(
        check(vec![Permission::Erc20TokenTransfer(Erc20TokenTransfer {
            address: Address::ZERO,
            allowance: alloy_primitives::U256::from(1)
        })]),
        Err(PermissionError::ZeroAddress { index: 0, kind: PermissionKind::Erc20TokenTransfer })
    );
    let native = || {
        Permission::NativeTokenTransfer(NativeTokenTransfer {
            allowance: alloy_primitives::U256::from(1),
        })
    };
    let gas = || Permission::GasLimit(GasLimit { limit: alloy_primitives::U256::from(1) });
    assert_eq!(
        check(vec![native(), native(), contract(other)]),
        Err(PermissionError::MultipleNativeTokenTransfer { index: 1 })
    );
    assert_eq!(
        check(vec![gas(), contract(other), gas()]),
        Err(PermissionError::MultipleGasLimit { index: 2 })
    );
    assert_eq!(check(vec![native()]), Err(PermissionError::NoSelectorGranted));
    assert_eq!(check(vec![gas(), native()]), Err(PermissionError::NoSelectorGranted));
    assert_eq!(
        check(vec![Permission::AccountFunctions(Functions { functions: vec![] })]),
        Err(PermissionError::NoFunctions { index: 0, kind: PermissionKind::AccountFunctions })
    );
    assert_eq!(
        check(vec![Permission::FunctionsOnAllContracts(Functions { functions: vec![] })]),
        Err(PermissionError::NoFunctions {
            index: 0,
            kind: PermissionKind::FunctionsOnAllContracts
        })
    );
    for (selector, _) in PRIVILEGED_SELECTORS {
        let e = check(vec![Permission::AccountFunctions(Functions {
            functions: vec![fixed_bytes!("0x12345678"), selector],
        })]);
        assert!(
            matches!(e, Err(PermissionError::SelectorNotAllowed { index: 0, selector: s, .. }) if s == selector),
            "{e:?}"
        );
    }
    assert_eq!(check(permissions_all()), Ok(()));
    assert_eq!(check(vec![native(), gas(), contract(other)]), Ok(()));
}

#[test]
fn permission_errors_read_well() {
    use alloy_primitives::fixed_bytes;
    let e = check(vec![Permission::AccountFunctions(Functions {
        functions: vec![fixed_bytes!("0x1bbf564c")],
    })])
    .unwrap_err();
    assert_eq!(e.to_string(), "permissions[0] (account-functions): installValidation (0x1bbf564c) cannot be granted on the account");
    let e =
        check(vec![Permission::ContractAccess(ContractAccess { address: ACCOUNT })]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "permissions[0] (contract-access): target is the account itself; use account-functions"
    );
}

/// `fixtures/external/vectors/mav2-permissions.json` (computed by Alchemy's
/// `@account-kit/smart-contracts@4.88.5`): every set the SDK accepts passes `validate()`, and every
/// set it refuses for a permission rule is refused with the matching typed error. Its entity-id
/// and expiry cases are not permission rules: the emulator checks them against its clock.
#[test]
fn sdk_permission_vectors() {
    let file: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/external/vectors/mav2-permissions.json"
    ))
    .unwrap();
    let (mut accepted, mut refused) = (0, 0);
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let params: CreateSessionParams = from_json_value(case["createSessionRequest"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let result = validate_permissions(&params.permissions, params.account);
        let Some(sdk_error) = case["sdkError"]["name"].as_str() else {
            assert_eq!(result, Ok(()), "{name}");
            accepted += 1;
            continue;
        };
        let expected: Option<fn(&PermissionError) -> bool> = match sdk_error {
            "ValidationConfigUnsetError" => {
                Some(|e| matches!(e, PermissionError::NoSelectorGranted))
            }
            "RootPermissionOnlyError" => {
                Some(|e| matches!(e, PermissionError::RootNotAlone { .. }))
            }
            "DuplicateTargetAddressError" => {
                Some(|e| matches!(e, PermissionError::DuplicateTarget { .. }))
            }
            "AccountAddressAsTargetError" => {
                Some(|e| matches!(e, PermissionError::AccountAsTarget { .. }))
            }
            "SelectorNotAllowed" => {
                Some(|e| matches!(e, PermissionError::SelectorNotAllowed { .. }))
            }
            "MultipleNativeTokenTransferError" => {
                Some(|e| matches!(e, PermissionError::MultipleNativeTokenTransfer { .. }))
            }
            "MultipleGasLimitError" => {
                Some(|e| matches!(e, PermissionError::MultipleGasLimit { .. }))
            }
            "ZeroAddressError" => Some(|e| matches!(e, PermissionError::ZeroAddress { .. })),
            "NoFunctionsProvidedError" => {
                Some(|e| matches!(e, PermissionError::NoFunctions { .. }))
            }
            "InvalidEntityIdError"
            | "EntityIdOverrideError"
            | "ExpiredDeadlineError"
            | "DeadlineOverLimitError" => None,
            other => panic!("{name}: unmapped SDK error {other}"),
        };
        match expected {
            Some(matches) => {
                let e = result.expect_err(name);
                assert!(matches(&e), "{name}: SDK {sdk_error}, sesskey {e:?}");
                refused += 1;
            }
            None => assert_eq!(result, Ok(()), "{name}: not a permission rule"),
        }
    }
    assert_eq!((accepted, refused), (33, 14));
}

/// Inside `type`-tagged unions the error still names the field, however deep.
#[test]
fn tagged_unions_keep_the_path() {
    let page: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/6-send-prepared-calls.request.json"
    ))
    .unwrap();
    let send = |patch: &dyn Fn(&mut Value)| {
        let mut p = page["params"][0].clone();
        patch(&mut p);
        from_json_value::<SendPreparedCallsParams>(p).unwrap_err().to_string()
    };
    assert_eq!(
        send(&|p| p["data"]["nonce"] = json!("12")),
        "invalid `data.nonce`: invalid quantity: missing 0x prefix"
    );
    assert_eq!(
        send(&|p| p["capabilities"]["permissions"]["sessionId"] = json!("0x12")),
        "invalid `capabilities.permissions`: data did not match any variant of untagged enum PermissionsCapability"
    );
    assert_eq!(
        send(&|p| p["callId"] = json!("zz")),
        "invalid `callId`: invalid hex data: missing 0x prefix"
    );
    assert_eq!(
        send(&|p| p["signature"]["data"] = json!("0x1")),
        "invalid `signature.data`: data did not match any variant of untagged enum SignatureData"
    );
    let array = json!({"type": "array", "data": [
        {"type": "authorization", "data": {"address": MODULAR_ACCOUNT_V2_7702, "nonce": "0x1"}, "chainId": "0x1",
         "signature": {"type": "secp256k1", "data": "0x00"}},
        {"type": "authorization", "data": {"address": MODULAR_ACCOUNT_V2_7702, "nonce": "1"}, "chainId": "0x1",
         "signature": {"type": "secp256k1", "data": "0x00"}}
    ]});
    assert_eq!(
        from_json_value::<SendPreparedCallsParams>(array).unwrap_err().to_string(),
        "invalid `data[1].data.nonce`: invalid quantity: missing 0x prefix"
    );
    let mut prepared: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/external/seed-session-keys-api/5-prepare-calls-session.result.json"
    ))
    .unwrap();
    prepared["signatureRequest"]["rawPayload"] = json!("0x1234");
    assert_eq!(
        from_json_value::<PreparedCalls>(prepared).unwrap_err().to_string(),
        "invalid `signatureRequest.rawPayload`: invalid hex: expected 32 bytes, got 4 hex digits"
    );
    let e = from_json_value::<CreateSessionParams>(json!({
        "account": ACCOUNT, "chainId": "0x1", "key": {"publicKey": ACCOUNT, "type": "secp256k1"},
        "permissions": [{"type": "root"}, {"type": "functions-on-contract", "data": {"address": ACCOUNT, "functions": ["0x123456"]}}]
    }))
    .unwrap_err();
    assert_eq!(e.to_string(), "invalid `permissions[1].data.functions[0]`: invalid hex: expected 4 bytes, got 6 hex digits");
    let e = from_json_value::<Permission>(json!({"type": "gas-limit"})).unwrap_err();
    assert_eq!(e.to_string(), "invalid `.`: missing field `data`");
    let e = from_json_value::<PreparedCalls>(json!(["user-operation-v070"])).unwrap_err();
    assert_eq!(e.to_string(), "invalid `.`: expected an object with a `type` field");
}

//! Every request and result variant, serialized by sesskey, validates against Alchemy's schema;
//! and every example embedded in the schemas parses and re-serializes to the same wire value.

use crate::common::{assert_invalid, assert_valid, schema_file, wire_eq, Part};
use crate::samples::*;
use alloy_primitives::{Address, Bytes, U64};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};
use sesskey_types::*;

fn check<T: Serialize>(method: &str, part: Part, value: &T) {
    assert_valid(method, part, &serde_json::to_value(value).unwrap());
}

#[test]
fn request_account() {
    for p in request_account_params_all() {
        check("wallet_requestAccount", Part::Params, &p);
    }
    check("wallet_requestAccount", Part::Result, &request_account_result());
}

#[test]
fn create_session_every_permission_type() {
    for p in permissions_all() {
        check("wallet_createSession", Part::Params, &create_session_params(vec![p]));
    }
    check("wallet_createSession", Part::Params, &create_session_params(vec![Permission::Root]));
    check("wallet_createSession", Part::Params, &create_session_params(permissions_all()));
    let mut no_expiry = create_session_params(vec![Permission::Root]);
    no_expiry.expiry_sec = None;
    no_expiry.key.ty = KeyType::Contract;
    check("wallet_createSession", Part::Params, &no_expiry);
    check("wallet_createSession", Part::Result, &create_session_result());
}

#[test]
fn prepare_calls() {
    check("wallet_prepareCalls", Part::Params, &prepare_calls_params_full());
    let minimal = PrepareCallsParams {
        calls: Some(vec![]),
        from: ACCOUNT,
        chain_id: U64::from(1),
        capabilities: Some(PrepareCallsCapabilities {
            permissions: Some(PermissionsCapability::Context { context: Bytes::from(vec![0; 82]) }),
            eip7702_auth: Some(Eip7702AuthCapability::Default(true)),
            ..Default::default()
        }),
        paymaster_permit_signature: None,
    };
    check("wallet_prepareCalls", Part::Params, &minimal);
    for delegation in [Delegation::ModularAccountV2Alias, Delegation::Undelegate] {
        let mut p = minimal.clone();
        p.capabilities.as_mut().unwrap().eip7702_auth =
            Some(Eip7702AuthCapability::Explicit { account: None, delegation });
        check("wallet_prepareCalls", Part::Params, &p);
    }
    for result in prepared_calls_all() {
        check("wallet_prepareCalls", Part::Result, &result);
    }
}

#[test]
fn send_prepared_calls() {
    for p in send_params_all() {
        check("wallet_sendPreparedCalls", Part::Params, &p);
    }
    for r in send_results_all() {
        check("wallet_sendPreparedCalls", Part::Result, &r);
    }
}

#[test]
fn get_calls_status_every_code() {
    check("wallet_getCallsStatus", Part::Params, &json!([call_id()]));
    for s in statuses_all() {
        check("wallet_getCallsStatus", Part::Result, &s);
    }
}

#[test]
fn list_accounts() {
    let params =
        ListAccountsParams { signer_address: ACCOUNT, limit: Some(10), after: Some("abcd".into()) };
    check("wallet_listAccounts", Part::Params, &params);
    let result = ListAccountsResult {
        accounts: vec![AccountRef {
            account_address: ACCOUNT,
            id: "3061cc5f-1f96-48a9-ab45-41faad2dd23b".into(),
        }],
        meta: ListAccountsMeta { total_count: 1, after: None },
    };
    check("wallet_listAccounts", Part::Result, &result);
}

#[test]
fn prepare_and_format_sign() {
    for r in sign_requests_all() {
        let params = PrepareSignParams {
            from: ACCOUNT,
            chain_id: U64::from(1),
            signature_request: r.clone(),
            capabilities: Some(sign_capabilities()),
        };
        check("wallet_prepareSign", Part::Params, &params);
        check(
            "wallet_prepareSign",
            Part::Result,
            &PrepareSignResult { chain_id: U64::from(1), signature_request: r },
        );
    }
    for signature in signatures_all() {
        let params = FormatSignParams {
            from: ACCOUNT,
            chain_id: U64::from(1),
            signature,
            capabilities: None,
        };
        check("wallet_formatSign", Part::Params, &params);
    }
    check("wallet_formatSign", Part::Result, &FormatSignResult { signature: sig65() });
}

#[test]
fn get_capabilities() {
    check("wallet_getCapabilities", Part::Params, &json!([Address::ZERO]));
    check("wallet_getCapabilities", Part::Params, &json!([Address::ZERO, ["0x1", "0x66eee"]]));
    let caps: Capabilities =
        serde_json::from_value(json!({"0x1": {"atomic": {"status": "supported"}}})).unwrap();
    check("wallet_getCapabilities", Part::Result, &caps);
}

/// The validator really refuses what the schema forbids, so the checks above can fail.
#[test]
fn the_schemas_refuse_bad_shapes() {
    let mut bad = serde_json::to_value(create_session_params(vec![Permission::Root])).unwrap();
    bad["permissions"] = json!([{"type": "root", "data": {}}]);
    assert_invalid("wallet_createSession", Part::Params, &bad);
    bad["permissions"] = json!([]);
    assert_invalid("wallet_createSession", Part::Params, &bad);
    let mut status = serde_json::to_value(&statuses_all()[0]).unwrap();
    status["status"] = json!(201);
    assert_invalid("wallet_getCallsStatus", Part::Result, &status);
    let mut op = serde_json::to_value(prepared_calls_all().remove(0)).unwrap();
    op["data"].as_object_mut().unwrap().remove("sender");
    assert_invalid("wallet_prepareCalls", Part::Result, &op);
}

fn example_round_trip<P: DeserializeOwned + Serialize, R: DeserializeOwned + Serialize>(
    method: &str,
    params_as_array: bool,
) {
    let file = schema_file(method);
    let examples = file["examples"].as_array().expect("examples");
    assert!(!examples.is_empty());
    for example in examples {
        let params: Value =
            if params_as_array { example["params"].clone() } else { example["params"][0].clone() };
        let parsed: P =
            from_json_value(params.clone()).unwrap_or_else(|e| panic!("{method} params: {e}"));
        let again = serde_json::to_value(&parsed).unwrap();
        assert!(wire_eq(&params, &again), "{method} params changed:\n{params}\n{again}");
        assert_valid(method, Part::Params, &again);

        let result = example["result"].clone();
        let parsed: R =
            from_json_value(result.clone()).unwrap_or_else(|e| panic!("{method} result: {e}"));
        let again = serde_json::to_value(&parsed).unwrap();
        assert!(wire_eq(&result, &again), "{method} result changed:\n{result}\n{again}");
        assert_valid(method, Part::Result, &again);
    }
}

#[test]
fn schema_examples_round_trip() {
    example_round_trip::<RequestAccountParams, RequestAccountResult>(
        "wallet_requestAccount",
        false,
    );
    example_round_trip::<CreateSessionParams, CreateSessionResult>("wallet_createSession", false);
    example_round_trip::<PrepareCallsParams, PreparedCalls>("wallet_prepareCalls", false);
    example_round_trip::<SendPreparedCallsParams, SendPreparedCallsResult>(
        "wallet_sendPreparedCalls",
        false,
    );
    example_round_trip::<(Bytes,), CallsStatus>("wallet_getCallsStatus", true);
    example_round_trip::<ListAccountsParams, ListAccountsResult>("wallet_listAccounts", false);
    example_round_trip::<PrepareSignParams, PrepareSignResult>("wallet_prepareSign", false);
    example_round_trip::<FormatSignParams, FormatSignResult>("wallet_formatSign", false);
    example_round_trip::<Value, Capabilities>("wallet_getCapabilities", true);
}

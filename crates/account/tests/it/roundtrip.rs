//! decode(encode(x)) = x for nonces, calls, install calls and packed signatures.

use alloy_primitives::{aliases::U152, Address, Bytes, U256};
use proptest::collection::vec;
use proptest::prelude::*;
use sesskey_account::*;
use sesskey_types::*;

const ACCOUNT: Address = Address::repeat_byte(0xaa);

fn addr() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>()
        .prop_map(Address::from)
        .prop_filter("not the account or zero", |a| *a != ACCOUNT && !a.is_zero())
}
fn selector() -> impl Strategy<Value = Selector> {
    any::<[u8; 4]>()
        .prop_map(Selector::from)
        .prop_filter("not privileged", |s| privileged_selector_name(*s).is_none())
}
fn amount() -> impl Strategy<Value = U256> {
    any::<[u8; 32]>().prop_map(U256::from_be_bytes)
}

fn permissions() -> impl Strategy<Value = Vec<Permission>> {
    let non_root = (
        proptest::option::of(amount()),
        proptest::option::of(amount()),
        vec((addr(), amount()), 0..3),
        vec(addr(), 0..3),
        vec((addr(), vec(selector(), 1..3)), 0..3),
        proptest::option::of(vec(selector(), 1..3)),
        proptest::option::of(vec(selector(), 1..3)),
    )
        .prop_map(|(native, gas, erc20, contracts, functions, all, account)| {
            let mut p = Vec::new();
            if let Some(allowance) = native {
                p.push(Permission::NativeTokenTransfer(NativeTokenTransfer { allowance }));
            }
            if let Some(limit) = gas {
                p.push(Permission::GasLimit(GasLimit { limit }));
            }
            p.extend(erc20.into_iter().map(|(address, allowance)| {
                Permission::Erc20TokenTransfer(Erc20TokenTransfer { address, allowance })
            }));
            p.extend(
                contracts
                    .into_iter()
                    .map(|address| Permission::ContractAccess(ContractAccess { address })),
            );
            p.extend(functions.into_iter().map(|(address, functions)| {
                Permission::FunctionsOnContract(FunctionsOnContract { address, functions })
            }));
            if let Some(functions) = all {
                p.push(Permission::FunctionsOnAllContracts(Functions { functions }));
            }
            if let Some(functions) = account {
                p.push(Permission::AccountFunctions(Functions { functions }));
            }
            p
        })
        .prop_filter("a valid set", |p| validate_permissions(p, ACCOUNT).is_ok());
    prop_oneof![Just(vec![Permission::Root]), non_root]
}

fn call() -> impl Strategy<Value = Call> {
    (any::<[u8; 20]>(), vec(any::<u8>(), 0..70), amount()).prop_map(|(to, data, value)| Call {
        to: Address::from(to),
        data: Some(data.into()),
        value: Some(value),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn nonce_round_trip(pk in any::<[u8; 19]>(), entity in any::<u32>(), g in any::<bool>(), d in any::<bool>(), c in any::<bool>(), seq in any::<u64>()) {
        let n = Nonce { parallel_key: U152::from_be_slice(&pk), entity_id: entity, global: g, deferred_action: d, direct_call: c, seq };
        prop_assert_eq!(Nonce::decode(n.encode()), n);
    }

    #[test]
    fn install_round_trip(key in any::<[u8; 20]>(), entity in 1..=MAX_ENTITY_ID, expiry in 0u64..(1 << 48), permissions in permissions()) {
        let session = SessionInstall { session_key: Address::from(key), entity_id: entity, expiry, permissions };
        let call = encode_install(ACCOUNT, &session).unwrap();
        let decoded = decode_install(&call).unwrap();
        prop_assert_eq!(canonical_permissions(&decoded.permissions), canonical_permissions(&session.permissions));
        prop_assert_eq!((decoded.session_key, decoded.entity_id, decoded.expiry), (session.session_key, entity, expiry));
        // Re-encoding what was decoded gives the same bytes when the order is canonical.
        let canon = SessionInstall { permissions: canonical_permissions(&session.permissions), ..session };
        let again = encode_install(ACCOUNT, &SessionInstall { permissions: decode_install(&encode_install(ACCOUNT, &canon).unwrap()).unwrap().permissions, ..canon.clone() }).unwrap();
        prop_assert_eq!(canonical_permissions(&decode_install(&again).unwrap().permissions), canonical_permissions(&canon.permissions));
    }

    #[test]
    fn calls_round_trip(calls in vec(call(), 0..5), hooks in any::<bool>(), batch in any::<bool>()) {
        let encoding = if batch { CallEncoding::Batch } else { CallEncoding::Sdk };
        let data = encode_calls(ACCOUNT, &calls, encoding, hooks);
        let decoded = decode_calls(ACCOUNT, &data).unwrap();
        prop_assert_eq!(decoded.execute_user_op, hooks);
        prop_assert_eq!(decoded.calls.len(), calls.len());
        prop_assert!(decoded.calls.iter().zip(&calls).all(|(a, b)| same_call(a, b)));
    }

    #[test]
    fn packed_signature_round_trip(sig in any::<[u8; 32]>(), owner in any::<[u8; 32]>(), call in vec(any::<u8>(), 0..300), deadline in 0u64..(1 << 48)) {
        let mut s = [0u8; 65];
        s[..32].copy_from_slice(&sig);
        let mut o = [1u8; 65];
        o[..32].copy_from_slice(&owner);
        prop_assert_eq!(unpack_signature(&pack_signature(&s), false).unwrap(), PackedSignature { deferred: None, signature: s });
        let action = DeferredAction { chain_id: 1, account: ACCOUNT, nonce: U256::from(7), deadline, call: Bytes::from(call) };
        let packed = pack_deferred_signature(&action, &o, &s);
        let unpacked = unpack_signature(&packed, true).unwrap();
        let (part, owner_sig) = unpacked.deferred.unwrap();
        prop_assert_eq!((part.deadline, part.call, owner_sig, unpacked.signature), (deadline, action.call, o, s));
    }
}

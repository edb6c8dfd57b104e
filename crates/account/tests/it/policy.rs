//! The policy engine: what each permission allows, typed violations with amounts, and a property:
//! no sequence of accepted batches ever spends past an allowance.

use alloy_primitives::{address, Address, Bytes, U256};
use alloy_sol_types::SolCall;
use proptest::prelude::*;
use sesskey_account::abi::{approveCall, transferCall, transferFromCall};
use sesskey_account::*;
use sesskey_types::*;

const ACCOUNT: Address = address!("0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
const SHOP: Address = address!("0x5151515151515151515151515151515151515151");
const TOKEN: Address = address!("0x7070707070707070707070707070707070707070");
const DEX: Address = address!("0xdededededededededededededededededededede");
const ANY: Address = address!("0x1234567890123456789012345678901234567890");

fn eth(x: f64) -> U256 {
    U256::from((x * 1e18) as u128)
}

fn policy() -> Policy {
    Policy {
        account: ACCOUNT,
        permissions: vec![
            Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: eth(0.5) }),
            Permission::Erc20TokenTransfer(Erc20TokenTransfer {
                address: TOKEN,
                allowance: U256::from(1000),
            }),
            Permission::GasLimit(GasLimit { limit: U256::from(10_000) }),
            Permission::ContractAccess(ContractAccess { address: SHOP }),
            Permission::FunctionsOnContract(FunctionsOnContract {
                address: DEX,
                functions: vec![Selector::from([1, 2, 3, 4])],
            }),
            Permission::FunctionsOnAllContracts(Functions {
                functions: vec![Selector::from([9, 9, 9, 9])],
            }),
            Permission::AccountFunctions(Functions { functions: vec![Selector::from([0xab; 4])] }),
        ],
        expiry: 1000,
    }
}

fn call(to: Address, data: &[u8], value: U256) -> Call {
    Call { to, data: Some(Bytes::copy_from_slice(data)), value: Some(value) }
}

fn transfer(amount: u64) -> Vec<u8> {
    transferCall { to: ANY, amount: U256::from(amount) }.abi_encode()
}

#[test]
fn each_permission_allows_what_it_says() {
    let p = policy();
    let ok = |calls: &[Call]| p.evaluate(&Spend::default(), 0, calls, U256::ZERO);
    ok(&[call(SHOP, &[], eth(0.1))]).unwrap();
    ok(&[call(SHOP, &[7, 7, 7, 7, 1], U256::ZERO)]).unwrap();
    ok(&[call(DEX, &[1, 2, 3, 4, 0], U256::ZERO)]).unwrap();
    ok(&[call(ANY, &[9, 9, 9, 9], U256::ZERO)]).unwrap();
    ok(&[call(ACCOUNT, &[0xab; 4], U256::ZERO)]).unwrap();
    ok(&[call(TOKEN, &transfer(5), U256::ZERO)]).unwrap();
    ok(&[call(
        TOKEN,
        &approveCall { spender: ANY, amount: U256::from(5) }.abi_encode(),
        U256::ZERO,
    )])
    .unwrap();

    let refused = |calls: &[Call]| ok(calls).unwrap_err();
    assert!(matches!(
        refused(&[call(DEX, &[1, 2, 3, 5], U256::ZERO)]),
        Violation::NotAllowed { index: 0, .. }
    ));
    assert!(matches!(
        refused(&[call(ANY, &[], eth(0.1))]),
        Violation::NotAllowed { selector: None, .. }
    ));
    assert!(matches!(
        refused(&[call(ACCOUNT, &[0xac; 4], U256::ZERO)]),
        Violation::NotAllowed { .. }
    ));
    // A selector granted on all contracts does not reach the account itself.
    assert!(matches!(
        refused(&[call(ACCOUNT, &[9, 9, 9, 9], U256::ZERO)]),
        Violation::NotAllowed { .. }
    ));
    // transferFrom is not among the ERC-20 permission's selectors.
    let tf = transferFromCall { from: ACCOUNT, to: ANY, amount: U256::from(1) }.abi_encode();
    assert!(matches!(refused(&[call(TOKEN, &tf, U256::ZERO)]), Violation::NotAllowed { .. }));
    // Privileged selectors on the account are refused with their name.
    let v = refused(&[call(ACCOUNT, &[0x1b, 0xbf, 0x56, 0x4c, 0], U256::ZERO)]);
    assert!(matches!(v, Violation::PrivilegedSelector { name: "installValidation", .. }), "{v:?}");
}

#[test]
fn violations_name_the_call_rule_and_amounts() {
    let p = policy();
    let spent = Spend { native: eth(0.2), ..Default::default() };
    let v = p
        .evaluate(&spent, 0, &[call(SHOP, &[], eth(0.1)), call(SHOP, &[], eth(0.25))], U256::ZERO)
        .unwrap_err();
    assert_eq!(v, Violation::NativeAllowance { index: 1, value: eth(0.25), left: eth(0.2) });
    assert_eq!(v.to_string(), "calls[1] sends 0.25 ETH; 0.2 ETH left of native-token-transfer");

    let v = p
        .evaluate(
            &Spend::default(),
            0,
            &[call(TOKEN, &transfer(600), U256::ZERO), call(TOKEN, &transfer(600), U256::ZERO)],
            U256::ZERO,
        )
        .unwrap_err();
    assert_eq!(
        v,
        Violation::Erc20Allowance {
            index: 1,
            token: TOKEN,
            amount: U256::from(600),
            left: U256::from(400)
        }
    );

    let v = p
        .evaluate(
            &Spend { gas: U256::from(9_000), ..Default::default() },
            0,
            &[],
            U256::from(2_000),
        )
        .unwrap_err();
    assert_eq!(v.to_string(), "the operation may cost 2000 wei of gas; 1000 wei left of gas-limit");

    let v = p.evaluate(&Spend::default(), 1001, &[], U256::ZERO).unwrap_err();
    assert_eq!(v, Violation::Expired { expiry: 1000, now: 1001 });
    p.evaluate(&Spend::default(), 1000, &[], U256::ZERO).unwrap();

    let v = p
        .evaluate(
            &Spend::default(),
            0,
            &[call(TOKEN, &[0xa9, 0x05, 0x9c, 0xbb, 1], U256::ZERO)],
            U256::ZERO,
        )
        .unwrap_err();
    assert_eq!(v, Violation::MalformedErc20Call { index: 0, token: TOKEN });
}

#[test]
fn spend_is_reported() {
    let p = policy();
    let s = p
        .evaluate(
            &Spend::default(),
            0,
            &[call(SHOP, &[], eth(0.1)), call(TOKEN, &transfer(7), U256::ZERO)],
            U256::from(500),
        )
        .unwrap();
    assert_eq!(s.native, eth(0.1));
    assert_eq!(s.erc20.get(&TOKEN), Some(&U256::from(7)));
    assert_eq!(s.gas, U256::from(500));
}

#[test]
fn root_allows_everything_but_expiry() {
    let p = Policy { account: ACCOUNT, permissions: vec![Permission::Root], expiry: 10 };
    p.evaluate(
        &Spend::default(),
        5,
        &[call(ACCOUNT, &[0x1b, 0xbf, 0x56, 0x4c], U256::ZERO), call(ANY, &[], eth(100.0))],
        U256::MAX,
    )
    .unwrap();
    assert!(matches!(
        p.evaluate(&Spend::default(), 11, &[], U256::ZERO),
        Err(Violation::Expired { .. })
    ));
}

fn batch() -> impl Strategy<Value = Vec<Call>> {
    let one = prop_oneof![
        (0u64..400_000_000_000_000_000).prop_map(|v| call(SHOP, &[], U256::from(v))),
        (0u64..700).prop_map(|a| call(TOKEN, &transfer(a), U256::ZERO)),
        (0u64..700).prop_map(|a| call(
            TOKEN,
            &approveCall { spender: ANY, amount: U256::from(a) }.abi_encode(),
            U256::ZERO
        )),
        Just(call(DEX, &[1, 2, 3, 4], U256::ZERO)),
    ];
    proptest::collection::vec(one, 0..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Accepted batches, added up, never exceed an allowance.
    #[test]
    fn accepted_batches_never_overspend(batches in proptest::collection::vec((batch(), 0u64..4_000), 1..12)) {
        let p = policy();
        let mut spent = Spend::default();
        for (calls, gas) in batches {
            if let Ok(s) = p.evaluate(&spent, 0, &calls, U256::from(gas)) {
                spent.add(&s);
            }
            prop_assert!(spent.native <= eth(0.5));
            prop_assert!(spent.erc20.get(&TOKEN).copied().unwrap_or_default() <= U256::from(1000));
            prop_assert!(spent.gas <= U256::from(10_000));
        }
    }
}

/// Amounts over the whole 256-bit range: small, near each power of two, uniform, and the
/// extremes.
fn amount() -> impl Strategy<Value = U256> {
    prop_oneof![
        any::<u64>().prop_map(U256::from),
        (0usize..256).prop_map(|shift| U256::from(1) << shift),
        (0usize..256).prop_map(|shift| (U256::from(1) << shift) - U256::from(1)),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
        Just(U256::MAX),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Over the whole range of every allowance, amount spent, value, token amount and gas
    /// cost: a batch is accepted exactly when what was spent plus what it spends fits every
    /// limit (computed in 512 bits, without overflow), and it reports what it spends.
    #[test]
    fn limits_hold_over_the_whole_range(
        native_limit in amount(), token_limit in amount(), gas_limit in amount(),
        spent_native in amount(), spent_token in amount(), spent_gas in amount(),
        values in proptest::collection::vec(amount(), 0..3),
        tokens in proptest::collection::vec(amount(), 0..3),
        gas in amount(),
    ) {
        let p = Policy {
            account: ACCOUNT,
            permissions: vec![
                Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: native_limit }),
                Permission::Erc20TokenTransfer(Erc20TokenTransfer { address: TOKEN, allowance: token_limit }),
                Permission::GasLimit(GasLimit { limit: gas_limit }),
                Permission::ContractAccess(ContractAccess { address: SHOP }),
            ],
            expiry: 0,
        };
        let spent = Spend {
            native: spent_native,
            erc20: [(TOKEN, spent_token)].into_iter().collect(),
            gas: spent_gas,
        };
        let mut calls: Vec<Call> = values.iter().map(|v| call(SHOP, &[], *v)).collect();
        calls.extend(tokens.iter().map(|a| {
            call(TOKEN, &transferCall { to: ANY, amount: *a }.abi_encode(), U256::ZERO)
        }));
        let wide = |v: U256| alloy_primitives::U512::from(v);
        let sum = |xs: &[U256]| xs.iter().fold(alloy_primitives::U512::ZERO, |a, x| a + wide(*x));
        // Spending nothing of a budget always fits it (as on chain: a zero value passes the
        // hook even once the budget is used up).
        let fits = |spent: U256, more: alloy_primitives::U512, limit: U256| {
            more.is_zero() || wide(spent) + more <= wide(limit)
        };
        let fits_native = fits(spent_native, sum(&values), native_limit);
        let fits_token = fits(spent_token, sum(&tokens), token_limit);
        let fits_gas = fits(spent_gas, wide(gas), gas_limit);
        match p.evaluate(&spent, 0, &calls, gas) {
            Ok(batch) => {
                prop_assert!(fits_native && fits_token && fits_gas);
                prop_assert_eq!(wide(batch.native), sum(&values));
                prop_assert_eq!(
                    wide(batch.erc20.get(&TOKEN).copied().unwrap_or_default()),
                    sum(&tokens)
                );
                prop_assert_eq!(batch.gas, gas);
            }
            Err(v) => {
                let native_or_token = matches!(v, Violation::NativeAllowance { .. } | Violation::Erc20Allowance { .. });
                prop_assert!(!(fits_native && fits_token && fits_gas), "{v}");
                if native_or_token {
                    prop_assert!(!fits_native || !fits_token, "{v}");
                } else {
                    prop_assert!(matches!(v, Violation::GasLimit { .. }), "{v}");
                    prop_assert!(!fits_gas, "{v}");
                }
            }
        }
    }
}

/// The client's worst case: an op whose gas the account pays counts, with its value, against the
/// native allowance (value and gas already spent both used); the chain's rule does not.
#[test]
fn worst_case_gas_counts_against_the_native_allowance() {
    let p = Policy {
        account: ACCOUNT,
        permissions: vec![
            Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: U256::from(100) }),
            Permission::ContractAccess(ContractAccess { address: SHOP }),
        ],
        expiry: 0,
    };
    let spent = Spend { native: U256::from(30), gas: U256::from(20), ..Default::default() };
    let pay = [call(SHOP, &[], U256::from(10))];
    let fits = p.evaluate_worst_case(&spent, 0, &pay, U256::from(40)).unwrap();
    assert_eq!((fits.native, fits.gas), (U256::from(10), U256::from(40)));
    let v = p.evaluate_worst_case(&spent, 0, &pay, U256::from(41)).unwrap_err();
    assert_eq!(
        v,
        Violation::GasOverNativeAllowance {
            gas: U256::from(41),
            value: U256::from(10),
            left: U256::from(50)
        }
    );
    assert_eq!(
        v.to_string(),
        "the operation may cost 41 wei of gas, paid by the account, on top of 10 wei sent; 50 wei left of native-token-transfer"
    );
    // The chain counts only the value; sponsored gas (0) and a session without a native
    // allowance are judged as by `evaluate`.
    assert!(p.evaluate(&spent, 0, &pay, U256::from(41)).is_ok());
    assert!(p
        .evaluate_worst_case(&spent, 0, &[call(SHOP, &[], U256::from(50))], U256::ZERO)
        .is_ok());
    let no_native = Policy {
        permissions: vec![Permission::ContractAccess(ContractAccess { address: SHOP })],
        ..p
    };
    assert!(no_native.evaluate_worst_case(&spent, 0, &pay, U256::MAX).is_ok());
    // Whatever was spent, an op with gas never fits past the allowance (saturating, no wrap).
    let huge = Spend { native: U256::MAX, gas: U256::MAX, ..Default::default() };
    assert!(matches!(
        p.evaluate_worst_case(&huge, 0, &[], U256::from(1)),
        Err(Violation::GasOverNativeAllowance { .. })
    ));
}

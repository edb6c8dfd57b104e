//! Policy evaluation of a 10-call batch, and the encodings around it.
//!
//! Run: `cargo bench -p sesskey-account --bench policy`.
#![allow(missing_docs)]

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolCall;
use criterion::{criterion_group, criterion_main, Criterion};
use sesskey_account::abi::transferCall;
use sesskey_account::*;
use sesskey_types::*;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let account = Address::repeat_byte(0xaa);
    let shop = Address::repeat_byte(0x51);
    let token = Address::repeat_byte(0x70);
    let dex = Address::repeat_byte(0xde);
    let policy = Policy {
        account,
        permissions: vec![
            Permission::NativeTokenTransfer(NativeTokenTransfer {
                allowance: U256::from(10u128.pow(20)),
            }),
            Permission::Erc20TokenTransfer(Erc20TokenTransfer {
                address: token,
                allowance: U256::from(1_000_000),
            }),
            Permission::GasLimit(GasLimit { limit: U256::from(10u128.pow(18)) }),
            Permission::ContractAccess(ContractAccess { address: shop }),
            Permission::FunctionsOnContract(FunctionsOnContract {
                address: dex,
                functions: vec![Selector::from([1, 2, 3, 4]), Selector::from([5, 6, 7, 8])],
            }),
            Permission::AccountFunctions(Functions { functions: vec![Selector::from([0xab; 4])] }),
        ],
        expiry: 2_000_000_000,
    };
    let transfer = Bytes::from(transferCall { to: shop, amount: U256::from(10) }.abi_encode());
    let calls: Vec<Call> = (0..10)
        .map(|i| match i % 4 {
            0 => Call { to: shop, data: None, value: Some(U256::from(1000)) },
            1 => Call { to: token, data: Some(transfer.clone()), value: None },
            2 => Call { to: dex, data: Some(vec![5, 6, 7, 8, 0, 0].into()), value: None },
            _ => Call { to: account, data: Some(vec![0xab; 8].into()), value: None },
        })
        .collect();
    let spent = Spend::default();
    c.bench_function("policy/evaluate 10-call batch", |b| {
        b.iter(|| {
            policy.evaluate(black_box(&spent), 1_000, black_box(&calls), U256::from(1000)).unwrap()
        })
    });
    let session = SessionInstall {
        session_key: Address::repeat_byte(7),
        entity_id: 2,
        expiry: 2_000_000_000,
        permissions: policy.permissions.clone(),
    };
    c.bench_function("install/encode (6 permission types)", |b| {
        b.iter(|| encode_install(account, black_box(&session)).unwrap())
    });
    let install = encode_install(account, &session).unwrap();
    c.bench_function("install/decode (6 permission types)", |b| {
        b.iter(|| decode_install(black_box(&install)).unwrap())
    });
    let data = encode_calls(account, &calls, CallEncoding::Batch, true);
    c.bench_function("calls/decode 10-call executeUserOp batch", |b| {
        b.iter(|| decode_calls(account, black_box(&data)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

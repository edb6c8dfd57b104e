//! A session's permissions as ModularAccountV2 installs them, read back, and the policy engine
//! judging calls against them before anything is signed.
//!
//! `cargo run -p sesskey-account --example permissions`

use alloy_primitives::{Address, U256};
use sesskey_account::{decode_install, encode_install, Policy, SessionInstall, Spend};
use sesskey_types::{Call, ContractAccess, NativeTokenTransfer, Permission};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let account = Address::repeat_byte(0x70);
    let shop = Address::repeat_byte(0x51);
    let permissions = vec![
        Permission::ContractAccess(ContractAccess { address: shop }),
        Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: U256::from(1000) }),
    ];
    let install = SessionInstall {
        session_key: Address::repeat_byte(0x3c),
        entity_id: 1,
        expiry: 1_900_000_000,
        permissions: permissions.clone(),
    };
    let call = encode_install(account, &install)?;
    println!("installValidation call: {} bytes", call.len());
    assert_eq!(decode_install(&call)?.permissions.len(), permissions.len());

    let policy = Policy { account, permissions, expiry: install.expiry };
    let pay = |to, wei: u64| Call { to, data: None, value: Some(U256::from(wei)) };
    let now = 1_800_000_000;
    let spent = policy.evaluate(&Spend::default(), now, &[pay(shop, 600)], U256::ZERO)?;
    println!("600 wei to the shop: allowed, {} wei spent", spent.native);
    for (what, calls) in [("500 more", pay(shop, 500)), ("to anyone else", pay(Address::ZERO, 1))] {
        match policy.evaluate(&spent, now, &[calls], U256::ZERO) {
            Ok(_) => println!("{what}: allowed"),
            Err(v) => println!("{what}: refused before signing: {v}"),
        }
    }
    Ok(())
}

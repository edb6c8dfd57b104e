//! The check of an op that deploys an SMA-B account (ModularAccountV2's smart-contract account):
//! its `factory`/`factoryData` must deploy exactly this owner's account with this salt, at the
//! op's sender.

use crate::error::{mismatch, Result};
use alloy_primitives::{Address, U256};
use sesskey_account::{decode_sma_b_factory_data, sma_b_address, MODULAR_ACCOUNT_FACTORY};
use sesskey_types::UserOperationV07;

/// Refuses, naming the field, a deploying op whose sender is not the SMA-B account of `owner`
/// and `salt`, whose `factory` is not ModularAccountV2's factory, or whose `factoryData` deploys
/// another owner's or salt's account.
///
/// ```
/// use alloy_primitives::{address, U256};
/// use sesskey_account::{sma_b_address, sma_b_factory_data, MODULAR_ACCOUNT_FACTORY};
/// use sesskey_session::check_sma_b_deployment;
/// use sesskey_types::UserOperationV07;
///
/// let owner = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
/// let op = UserOperationV07 {
///     sender: sma_b_address(owner, U256::ZERO),
///     factory: Some(MODULAR_ACCOUNT_FACTORY),
///     factory_data: Some(sma_b_factory_data(owner, U256::ZERO)),
///     ..Default::default()
/// };
/// check_sma_b_deployment(&op, owner, U256::ZERO)?;
/// assert!(check_sma_b_deployment(&op, owner, U256::from(1)).is_err());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn check_sma_b_deployment(op: &UserOperationV07, owner: Address, salt: U256) -> Result<()> {
    let account = sma_b_address(owner, salt);
    if op.sender != account {
        return Err(mismatch("data.sender", account, op.sender));
    }
    if op.factory != Some(MODULAR_ACCOUNT_FACTORY) {
        return Err(mismatch(
            "data.factory",
            MODULAR_ACCOUNT_FACTORY,
            op.factory.map_or("none".to_string(), |f| f.to_string()),
        ));
    }
    let data = op.factory_data.as_ref().map_or(&[][..], |d| &d[..]);
    match decode_sma_b_factory_data(data) {
        Ok((o, s)) if o == owner && s == salt => Ok(()),
        Ok((o, s)) => Err(mismatch(
            "data.factoryData",
            format!("createSemiModularAccount({owner}, {salt})"),
            format!("createSemiModularAccount({o}, {s})"),
        )),
        Err(_) => Err(mismatch(
            "data.factoryData",
            format!("createSemiModularAccount({owner}, {salt})"),
            "another call",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesskey_account::sma_b_factory_data;

    #[test]
    fn another_owner_salt_or_factory_is_refused_by_name() {
        let owner = Address::repeat_byte(0x11);
        let op = UserOperationV07 {
            sender: sma_b_address(owner, U256::from(7)),
            factory: Some(MODULAR_ACCOUNT_FACTORY),
            factory_data: Some(sma_b_factory_data(owner, U256::from(7))),
            ..Default::default()
        };
        check_sma_b_deployment(&op, owner, U256::from(7)).unwrap();
        let field = |op: &UserOperationV07| match check_sma_b_deployment(op, owner, U256::from(7)) {
            Err(crate::Error::Mismatch { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let stranger = Address::repeat_byte(0x22);
        let other_owner = UserOperationV07 {
            factory_data: Some(sma_b_factory_data(stranger, U256::from(7))),
            ..op.clone()
        };
        assert_eq!(field(&other_owner), "data.factoryData");
        let other_salt = UserOperationV07 {
            factory_data: Some(sma_b_factory_data(owner, U256::from(8))),
            ..op.clone()
        };
        assert_eq!(field(&other_salt), "data.factoryData");
        let other_factory = UserOperationV07 { factory: Some(stranger), ..op.clone() };
        assert_eq!(field(&other_factory), "data.factory");
        let other_sender = UserOperationV07 { sender: stranger, ..op.clone() };
        assert_eq!(field(&other_sender), "data.sender");
        let garbage = UserOperationV07 { factory_data: Some(vec![1, 2, 3].into()), ..op };
        assert_eq!(field(&garbage), "data.factoryData");
    }
}

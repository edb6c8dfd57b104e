//! The accounts an owner acts for (EIP-7702, SMA-B) and the check of an op that deploys an SMA-B
//! account (ModularAccountV2's smart-contract account): its `factory`/`factoryData` must deploy
//! exactly this owner's account with this salt, at the op's sender.

use crate::error::{mismatch, Result};
use alloy_primitives::{Address, Bytes, U256};
use serde::{Deserialize, Serialize};
use sesskey_account::{
    decode_sma_b_factory_data, sma_b_address, sma_b_factory_data, MODULAR_ACCOUNT_FACTORY,
};
use sesskey_types::UserOperationV07;

/// The account an owner acts for: what it is, so that what the owner signs can be checked
/// against it.
///
/// ```
/// use alloy_primitives::{address, U256};
/// use sesskey_session::Account;
///
/// let owner = address!("0x7a3ccbFe9DA9b53228872dd7ef3dc3fDd13Cf8A0");
/// assert_eq!(Account::Eip7702 { owner }.address(), owner);
/// // Alchemy's SDK default: the same address Alchemy's server answers for this signer.
/// let smart = Account::SmaB { owner, salt: U256::ZERO };
/// assert_eq!(smart.address(), address!("0x76E765e80FFAC96ac10Aa8908a8267A3B80d606D"));
/// assert_eq!(smart.owner(), owner);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Account {
    /// An EOA delegated to ModularAccountV2 (EIP-7702): the owner's own address.
    #[serde(rename = "7702")]
    Eip7702 {
        /// The owner, who is the account.
        owner: Address,
    },
    /// A ModularAccountV2 SemiModularAccountBytecode (SMA-B) smart-contract account, deployed by
    /// ModularAccountV2's factory for `owner` and `salt` (by its first op).
    SmaB {
        /// Its owner (fallback signer).
        owner: Address,
        /// The factory salt.
        salt: U256,
    },
}

impl Account {
    /// The account's address.
    pub fn address(&self) -> Address {
        match self {
            Self::Eip7702 { owner } => *owner,
            Self::SmaB { owner, salt } => sma_b_address(*owner, *salt),
        }
    }

    /// Who signs as its owner.
    pub const fn owner(&self) -> Address {
        match self {
            Self::Eip7702 { owner } | Self::SmaB { owner, .. } => *owner,
        }
    }

    /// The `factory`/`factoryData` of the op that deploys it (none for EIP-7702).
    pub fn deployment(&self) -> Option<(Address, Bytes)> {
        match self {
            Self::Eip7702 { .. } => None,
            Self::SmaB { owner, salt } => {
                Some((MODULAR_ACCOUNT_FACTORY, sma_b_factory_data(*owner, *salt)))
            }
        }
    }
}

/// The factory fields of an op for `account` (an owner's op: what the account is, is known), or
/// for a session's account (`None`: a deploying op must deploy exactly its sender with
/// ModularAccountV2's factory). An EIP-7702 account is never deployed by a factory.
pub(crate) fn check_factory(op: &UserOperationV07, account: Option<&Account>) -> Result<()> {
    if op.factory.is_none() && op.factory_data.is_none() {
        return Ok(());
    }
    match account {
        Some(Account::SmaB { owner, salt }) => check_sma_b_deployment(op, *owner, *salt),
        Some(Account::Eip7702 { .. }) => Err(mismatch(
            "data.factory",
            "none (an EIP-7702 account is never deployed by a factory)",
            op.factory.map_or("factoryData only".to_string(), |f| f.to_string()),
        )),
        None => {
            if op.factory != Some(MODULAR_ACCOUNT_FACTORY) {
                return Err(mismatch(
                    "data.factory",
                    format!("none, or ModularAccountV2's factory {MODULAR_ACCOUNT_FACTORY}"),
                    op.factory.map_or("factoryData only".to_string(), |f| f.to_string()),
                ));
            }
            let data = op.factory_data.as_ref().map_or(&[][..], |d| &d[..]);
            match decode_sma_b_factory_data(data) {
                Ok((owner, salt)) if sma_b_address(owner, salt) == op.sender => Ok(()),
                _ => Err(mismatch(
                    "data.factoryData",
                    format!("the deployment of {}", op.sender),
                    "a call that deploys another account",
                )),
            }
        }
    }
}

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

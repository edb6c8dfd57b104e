//! The EntryPoint v0.7's state, kept where the EntryPoint keeps it: its nonces and deposits are
//! storage slots of its canonical address, laid out as its own mappings (`deposits` at slot 0,
//! `nonceSequenceNumber` at slot 1), so `eth_getStorageAt`, snapshots and the data folder see
//! them like any contract's state, and `getNonce`/`balanceOf` read what the Wallet API uses.

use super::Chain;
use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_sol_types::SolValue;
use sesskey_signing::ENTRY_POINT_V07;

/// The storage slot of `deposits[account].deposit` (`mapping(address => DepositInfo)` at slot 0).
pub(crate) fn deposit_slot(account: Address) -> U256 {
    U256::from_be_bytes(keccak256((account, U256::ZERO).abi_encode()).0)
}

/// The storage slot of `nonceSequenceNumber[sender][key]` (`mapping(address => mapping(uint192
/// => uint256))` at slot 1).
pub(crate) fn nonce_slot(sender: Address, key: U256) -> U256 {
    let inner: B256 = keccak256((sender, U256::from(1)).abi_encode());
    U256::from_be_bytes(keccak256((key, inner).abi_encode()).0)
}

impl Chain {
    /// The next sequence number of `sender`'s nonce key `key` (the 192-bit key).
    pub(crate) fn nonce_sequence(&self, sender: Address, key: U256) -> u64 {
        self.storage_at(ENTRY_POINT_V07, nonce_slot(sender, key)).saturating_to()
    }

    /// Uses `sender`'s next nonce under `key`, as `EntryPoint.handleOps` does.
    pub(crate) fn use_nonce(&mut self, sender: Address, key: U256) {
        let next = self.nonce_sequence(sender, key).saturating_add(1);
        self.set_nonce_sequence(sender, key, next);
    }

    /// Sets the next sequence number of `sender`'s nonce key `key`.
    pub(crate) fn set_nonce_sequence(&mut self, sender: Address, key: U256, seq: u64) {
        self.set_storage(ENTRY_POINT_V07, nonce_slot(sender, key), U256::from(seq));
    }

    /// What `account` holds on deposit at the EntryPoint.
    pub(crate) fn deposit_of(&self, account: Address) -> U256 {
        self.storage_at(ENTRY_POINT_V07, deposit_slot(account))
    }

    /// Credits `wei` to `account`'s deposit; the EntryPoint's balance grows with it.
    pub(crate) fn credit_deposit(&mut self, account: Address, wei: U256) {
        let deposit = self.deposit_of(account).saturating_add(wei);
        self.set_storage(ENTRY_POINT_V07, deposit_slot(account), deposit);
        let balance = self.account(ENTRY_POINT_V07).balance.saturating_add(wei);
        self.set_balance(ENTRY_POINT_V07, balance);
    }

    /// Takes `wei` of gas from `account`'s deposit (and so from the EntryPoint's balance), or
    /// answers what the deposit holds when it is not enough.
    pub(crate) fn charge_deposit(&mut self, account: Address, wei: U256) -> Result<(), U256> {
        let deposit = self.deposit_of(account);
        let left = deposit.checked_sub(wei).ok_or(deposit)?;
        self.set_storage(ENTRY_POINT_V07, deposit_slot(account), left);
        let balance = self.account(ENTRY_POINT_V07).balance.saturating_sub(wei);
        self.set_balance(ENTRY_POINT_V07, balance);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    /// The slots Solidity gives the mappings: `keccak256(abi.encode(key, slot))`, nested for the
    /// nonces (checked by hand against the formula of the Solidity documentation).
    #[test]
    fn slots_follow_solidity_mappings() {
        let a = address!("0x00000000000000000000000000000000000000aa");
        let mut buf = [0u8; 64];
        buf[12..32].copy_from_slice(a.as_slice());
        assert_eq!(deposit_slot(a), U256::from_be_bytes(keccak256(buf).0));
        buf[63] = 1;
        let inner = keccak256(buf);
        let mut outer = [0u8; 64];
        outer[31] = 7;
        outer[32..].copy_from_slice(inner.as_slice());
        assert_eq!(nonce_slot(a, U256::from(7)), U256::from_be_bytes(keccak256(outer).0));
    }
}

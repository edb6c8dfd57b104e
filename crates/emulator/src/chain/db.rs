//! The chain's tables as a revm database: the current call's overlay first, then the committed
//! rows, then (when forked) the upstream node at the fork block.

use super::Chain;
use alloy_primitives::{Address, B256, U256};
use revm::bytecode::Bytecode;
use revm::database_interface::DBErrorMarker;
use revm::primitives::KECCAK_EMPTY;
use revm::state::AccountInfo;
use revm::DatabaseRef;

/// A read of the upstream node failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("fork upstream: {0}")]
pub(crate) struct ChainDbError(pub(crate) String);

impl DBErrorMarker for ChainDbError {}

/// A chain read through revm's [`DatabaseRef`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChainDb<'a>(pub(crate) &'a Chain);

impl DatabaseRef for ChainDb<'_> {
    type Error = ChainDbError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let chain = self.0;
        if let Some(row) = chain.accounts.get(&address) {
            let code = if row.code_hash == KECCAK_EMPTY || row.code_hash.is_zero() {
                Bytecode::default()
            } else {
                self.code_by_hash_ref(row.code_hash)?
            };
            let code_hash = if row.code_hash.is_zero() { KECCAK_EMPTY } else { row.code_hash };
            return Ok(Some(AccountInfo::new(row.balance, row.nonce, code_hash, code)));
        }
        match &chain.upstream {
            Some(up) => up.basic(address),
            None => Ok(None),
        }
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY || code_hash.is_zero() {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.0.code.get(&code_hash) {
            return Ok(self.0.analyzed(code_hash, code));
        }
        match &self.0.upstream {
            Some(up) => up.code_by_hash(code_hash),
            None => Ok(Bytecode::default()),
        }
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if let Some(v) = self.0.storage.get(&(address, index)) {
            return Ok(*v);
        }
        match &self.0.upstream {
            Some(up) => up.storage(address, index),
            None => Ok(U256::ZERO),
        }
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        if let Some(b) = self.0.blocks.get(&number) {
            return Ok(b.hash);
        }
        match &self.0.upstream {
            Some(up) if number <= up.block => up.block_hash(number),
            _ => Ok(B256::ZERO),
        }
    }
}

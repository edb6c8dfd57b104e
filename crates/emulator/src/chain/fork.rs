//! A fork: the state of an upstream node at a fixed block, read lazily through revm's
//! [`AlloyDB`] adapter over an alloy provider and cached for the life of the process.

use super::db::ChainDbError;
use alloy_eips::BlockId;
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use revm::bytecode::Bytecode;
use revm::database::AlloyDB;
use revm::state::AccountInfo;
use revm::{DatabaseRef, WrapDatabaseAsync};
use std::collections::HashMap;
use std::sync::Mutex;

/// Where a fork reads its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkConfig {
    /// The upstream node's JSON-RPC URL.
    pub url: String,
    /// The block to fork at (default: the upstream's latest when the emulator starts).
    pub block: Option<u64>,
}

#[derive(Default)]
struct Cache {
    accounts: HashMap<Address, Option<AccountInfo>>,
    code: HashMap<B256, Bytecode>,
    storage: HashMap<(Address, U256), U256>,
    hashes: HashMap<u64, B256>,
}

/// The upstream node of a forked chain.
pub(crate) struct Upstream {
    db: WrapDatabaseAsync<AlloyDB<alloy_network::Ethereum, DynProvider>>,
    /// The upstream's chain id.
    pub(crate) chain_id: u64,
    /// The fork block.
    pub(crate) block: u64,
    /// Its hash and timestamp.
    pub(crate) block_hash: B256,
    pub(crate) timestamp: u64,
    pub(crate) base_fee: u64,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("chain_id", &self.chain_id)
            .field("block", &self.block)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// Connects to the upstream and fixes the fork block. Must run inside a multi-threaded
    /// tokio runtime; reads later block on it from the emulator's blocking threads.
    pub(crate) async fn connect(config: &ForkConfig) -> crate::Result<Self> {
        let fork = |e: String| crate::Error::Fork(e);
        let url =
            config.url.parse().map_err(|e| fork(format!("`{}` is not a URL: {e}", config.url)))?;
        let provider = ProviderBuilder::new().connect_http(url).erased();
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| fork(format!("eth_chainId at the upstream failed: {e}")))?;
        let block = match config.block {
            Some(b) => b,
            None => provider
                .get_block_number()
                .await
                .map_err(|e| fork(format!("eth_blockNumber at the upstream failed: {e}")))?,
        };
        let header = provider
            .get_block_by_number(block.into())
            .await
            .map_err(|e| {
                fork(format!("eth_getBlockByNumber({block}) at the upstream failed: {e}"))
            })?
            .ok_or_else(|| fork(format!("the upstream has no block {block}")))?
            .header;
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| fork("a fork needs a tokio runtime".into()))?;
        let db =
            WrapDatabaseAsync::with_handle(AlloyDB::new(provider, BlockId::number(block)), handle);
        Ok(Self {
            db,
            chain_id,
            block,
            block_hash: header.hash,
            timestamp: header.inner.timestamp,
            base_fee: header.inner.base_fee_per_gas.unwrap_or(super::INITIAL_BASE_FEE),
            cache: Mutex::new(Cache::default()),
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn basic(&self, address: Address) -> Result<Option<AccountInfo>, ChainDbError> {
        if let Some(a) = self.cache().accounts.get(&address) {
            return Ok(a.clone());
        }
        let info = self.db.basic_ref(address).map_err(|e| ChainDbError(e.to_string()))?;
        let mut cache = self.cache();
        if let Some(code) = info.as_ref().and_then(|i| i.code.clone()) {
            cache.code.insert(info.as_ref().map(|i| i.code_hash).unwrap_or_default(), code);
        }
        cache.accounts.insert(address, info.clone());
        Ok(info)
    }

    pub(crate) fn code_by_hash(&self, hash: B256) -> Result<Bytecode, ChainDbError> {
        // AlloyDB serves code only with the account; every code hash the EVM sees came from one.
        Ok(self.cache().code.get(&hash).cloned().unwrap_or_default())
    }

    pub(crate) fn storage(&self, address: Address, slot: U256) -> Result<U256, ChainDbError> {
        if let Some(v) = self.cache().storage.get(&(address, slot)) {
            return Ok(*v);
        }
        let v = self.db.storage_ref(address, slot).map_err(|e| ChainDbError(e.to_string()))?;
        self.cache().storage.insert((address, slot), v);
        Ok(v)
    }

    pub(crate) fn block_hash(&self, number: u64) -> Result<B256, ChainDbError> {
        if number == self.block {
            return Ok(self.block_hash);
        }
        if let Some(h) = self.cache().hashes.get(&number) {
            return Ok(*h);
        }
        let h = self.db.block_hash_ref(number).map_err(|e| ChainDbError(e.to_string()))?;
        self.cache().hashes.insert(number, h);
        Ok(h)
    }
}

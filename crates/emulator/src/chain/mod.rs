//! One served chain: EVM state on revm (balances, nonces, code, storage), blocks, transactions
//! and receipts. Every table is a [`Table`], so what a call changed is its overlay.
//!
//! Blocks are mined one per transaction (anvil's automine): a raw transaction, a user operation
//! (the bundler's `handleOps` transaction) or a lone EIP-7702 delegation.

mod answers;
mod db;
mod entry_point;
mod exec;
mod fork;
mod mine;
mod rpc;

pub(crate) use answers::{executor_code, handleOpsCall, PackedUserOperation, SMA_B_DEPLOY_GAS};
pub(crate) use db::ChainDb;
pub use exec::CALL_TIME_CAP;
pub(crate) use exec::{read_only, OpRun};
pub use fork::ensure_tls_provider;
pub(crate) use fork::Upstream;
pub use fork::{shown_url, ForkConfig, MAX_UPSTREAM_ANSWER, UPSTREAM_TIMEOUT};
pub(crate) use mine::Mined;
pub use rpc::{describe_revert, EthError, ESTIMATE_TIME_CAP, MAX_LOG_RANGE};

use crate::table::{Table, Tables};
use alloy_primitives::{Address, Bloom, Bytes, B256, U256};
use alloy_rpc_types_eth::{Transaction, TransactionReceipt};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The gas limit of every block.
pub(crate) const BLOCK_GAS_LIMIT: u64 = 30_000_000;
/// The base fee of the first block (anvil's).
pub(crate) const INITIAL_BASE_FEE: u64 = 1_000_000_000;
/// The priority fee the emulator suggests (`eth_maxPriorityFeePerGas`).
pub(crate) const PRIORITY_FEE: u64 = 100_000_000;

/// An account's EVM state (its code is in the code table, by hash).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccountRow {
    pub(crate) balance: U256,
    pub(crate) nonce: u64,
    pub(crate) code_hash: B256,
}

/// A mined block.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct BlockRow {
    pub(crate) number: u64,
    pub(crate) hash: B256,
    pub(crate) parent_hash: B256,
    pub(crate) timestamp: u64,
    pub(crate) base_fee: u64,
    pub(crate) gas_limit: u64,
    pub(crate) gas_used: u64,
    pub(crate) logs_bloom: Bloom,
    pub(crate) txs: Vec<B256>,
}

/// A mined transaction: the signed transaction (none for a user operation's bundle, which the
/// emulator includes without a signed bundler transaction) and its receipt.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TxRow {
    pub(crate) tx: Option<Transaction>,
    pub(crate) receipt: TransactionReceipt,
}

/// The chain's head and its controls.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ChainMeta {
    pub(crate) head: u64,
    /// The timestamp the next block must have (`evm_setNextBlockTimestamp`).
    pub(crate) next_timestamp: Option<u64>,
}

/// One served chain. A clone shares its rows (see [`Table`]) and the analyzed code.
#[derive(Clone, Debug)]
pub(crate) struct Chain {
    pub(crate) id: u64,
    pub(crate) accounts: Table<Address, AccountRow>,
    pub(crate) storage: Table<(Address, U256), U256>,
    pub(crate) code: Table<B256, Bytes>,
    pub(crate) blocks: Table<u64, BlockRow>,
    pub(crate) txs: Table<B256, TxRow>,
    pub(crate) meta: Table<(), ChainMeta>,
    pub(crate) upstream: Option<Arc<Upstream>>,
    /// Analyzed bytecode by hash (code never changes under its hash), so a contract's jump
    /// table is built once, not at every call.
    analyzed: Arc<std::sync::Mutex<HashMap<B256, revm::bytecode::Bytecode>>>,
}

impl Chain {
    /// An empty chain (its genesis block is mined by [`Chain::genesis`]).
    pub(crate) fn new(id: u64, upstream: Option<Arc<Upstream>>) -> Self {
        Self {
            id,
            accounts: Table::default(),
            storage: Table::default(),
            code: Table::default(),
            blocks: Table::default(),
            txs: Table::default(),
            meta: Table::default(),
            upstream,
            analyzed: Default::default(),
        }
    }

    /// `code` (whose hash is `hash`) analyzed for the EVM, from the cache when seen before.
    pub(crate) fn analyzed(&self, hash: B256, code: &Bytes) -> revm::bytecode::Bytecode {
        let mut cache = self.analyzed.lock().unwrap_or_else(|p| p.into_inner());
        cache.entry(hash).or_insert_with(|| revm::bytecode::Bytecode::new_raw(code.clone())).clone()
    }

    /// The head and controls.
    pub(crate) fn meta(&self) -> ChainMeta {
        self.meta.get(&()).cloned().unwrap_or_default()
    }

    /// The latest block.
    pub(crate) fn head(&self) -> Option<&BlockRow> {
        self.blocks.get(&self.meta().head)
    }

    /// The latest block's number.
    pub(crate) fn head_number(&self) -> u64 {
        self.meta().head
    }

    /// An account's EVM state as the current call sees it (the upstream's, when forked).
    pub(crate) fn account(&self, address: Address) -> AccountRow {
        use revm::DatabaseRef;
        if let Some(row) = self.accounts.get(&address) {
            return row.clone();
        }
        match ChainDb(self).basic_ref(address) {
            Ok(Some(info)) => {
                AccountRow { balance: info.balance, nonce: info.nonce, code_hash: info.code_hash }
            }
            _ => AccountRow { code_hash: revm::primitives::KECCAK_EMPTY, ..Default::default() },
        }
    }

    /// An account's code.
    pub(crate) fn code_of(&self, address: Address) -> Bytes {
        use revm::DatabaseRef;
        let hash = self.account(address).code_hash;
        ChainDb(self).code_by_hash_ref(hash).map(|c| c.original_bytes()).unwrap_or_default()
    }

    /// Sets an account's balance.
    pub(crate) fn set_balance(&mut self, address: Address, balance: U256) {
        let mut row = self.account(address);
        row.balance = balance;
        self.accounts.put(address, row);
    }

    /// Sets an account's transaction nonce.
    pub(crate) fn set_nonce(&mut self, address: Address, nonce: u64) {
        let mut row = self.account(address);
        row.nonce = nonce;
        self.accounts.put(address, row);
    }

    /// Sets an account's code.
    pub(crate) fn set_code(&mut self, address: Address, code: Bytes) {
        let mut row = self.account(address);
        row.code_hash = if code.is_empty() {
            revm::primitives::KECCAK_EMPTY
        } else {
            alloy_primitives::keccak256(&code)
        };
        if !code.is_empty() {
            self.code.put(row.code_hash, code);
        }
        self.accounts.put(address, row);
    }

    /// Sets a storage slot.
    pub(crate) fn set_storage(&mut self, address: Address, slot: U256, value: U256) {
        if self.accounts.get(&address).is_none() {
            let row = self.account(address);
            self.accounts.put(address, row);
        }
        self.storage.put((address, slot), value);
    }

    /// A storage slot.
    pub(crate) fn storage_at(&self, address: Address, slot: U256) -> U256 {
        use revm::DatabaseRef;
        ChainDb(self).storage_ref(address, slot).unwrap_or_default()
    }

    /// The EIP-7702 delegate of an account, if its code is a delegation designator.
    pub(crate) fn delegation(&self, address: Address) -> Option<Address> {
        let code = self.code_of(address);
        (code.len() == 23 && code.starts_with(&[0xef, 0x01, 0x00]))
            .then(|| Address::from_slice(&code[3..]))
    }

    /// Puts the emulator's `AccountExecutor` at ModularAccountV2's addresses (the 7702 delegate
    /// and the SMA-B implementation) where the chain has no code there (not a fork of a chain
    /// where the real account is deployed): an account's own execution functions run it.
    /// Answers whether it put it anywhere.
    pub(crate) fn install_executor(&mut self) -> bool {
        let mut installed = false;
        for at in
            [sesskey_types::MODULAR_ACCOUNT_V2_7702, sesskey_account::SEMI_MODULAR_ACCOUNT_BYTECODE]
        {
            if self.code_of(at).is_empty() {
                self.set_code(at, executor_code());
                installed = true;
            }
        }
        installed
    }

    /// Deploys `owner`'s SMA-B account with `salt` as ModularAccountV2's factory does: the
    /// ERC-1967 proxy's code with the owner, the implementation in its slot, nonce 1. Answers
    /// its address.
    pub(crate) fn deploy_sma_b(&mut self, owner: Address, salt: U256) -> Address {
        let account = sesskey_account::sma_b_address(owner, salt);
        self.set_code(account, sesskey_account::sma_b_runtime_code(owner));
        self.set_storage(
            account,
            sesskey_account::ERC1967_IMPLEMENTATION_SLOT,
            U256::from_be_slice(sesskey_account::SEMI_MODULAR_ACCOUNT_BYTECODE.as_slice()),
        );
        self.set_nonce(account, 1);
        account
    }

    /// Applies an EIP-7702 authorization: the code becomes `0xef0100 ‖ delegate` (or none for
    /// the zero address) and the transaction nonce goes up by one, as on chain.
    pub(crate) fn apply_authorization(&mut self, address: Address, delegate: Address) {
        let nonce = self.account(address).nonce;
        let code = if delegate.is_zero() {
            Bytes::new()
        } else {
            [&[0xef, 0x01, 0x00][..], delegate.as_slice()].concat().into()
        };
        self.set_code(address, code);
        self.set_nonce(address, nonce.saturating_add(1));
    }

    pub(crate) fn is_changed(&self) -> bool {
        self.tables_changed()
    }

    pub(crate) fn apply(&mut self) {
        self.apply_tables();
    }

    pub(crate) fn rollback(&mut self) {
        self.rollback_tables();
    }
}

// Every table of a chain, once: what apply, rollback, snapshots and the store go through.
crate::table::tables!(Chain {
    accounts: "evm_accounts",
    storage: "evm_storage",
    code: "evm_code",
    blocks: "blocks",
    txs: "txs",
    meta: "chain_meta",
});

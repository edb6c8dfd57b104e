//! Mining: one block per transaction, with its header, receipts and logs.

use super::{BlockRow, Chain, ChainMeta, TxRow};
use alloy_consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxEnvelope, TxType,
};
use alloy_eips::eip1559::BaseFeeParams;
use alloy_primitives::{keccak256, Address, Bloom, Log, B256, B64};
use alloy_rpc_types_eth::{Transaction, TransactionReceipt};
use revm::context::BlockEnv;

/// What a mined transaction did.
#[derive(Clone, Debug)]
pub(crate) struct Mined {
    pub(crate) hash: B256,
    /// The signed transaction and its signer (none for a user operation's bundle).
    pub(crate) tx: Option<(TxEnvelope, Address)>,
    pub(crate) from: Address,
    pub(crate) to: Option<Address>,
    pub(crate) contract_address: Option<Address>,
    pub(crate) success: bool,
    pub(crate) gas_used: u64,
    pub(crate) effective_gas_price: u128,
    pub(crate) logs: Vec<Log>,
}

/// The base fee of the block after `parent` (EIP-1559).
pub(crate) fn next_base_fee(parent: &BlockRow) -> u64 {
    alloy_eips::eip1559::calc_next_block_base_fee(
        parent.gas_used,
        parent.gas_limit,
        parent.base_fee,
        BaseFeeParams::ethereum(),
    )
}

/// A block's header, rebuilt from what the emulator keeps (state and receipt roots are not
/// computed: the emulator keeps no tries).
pub(crate) fn header(b: &BlockRow) -> Header {
    let txs_root = if b.txs.is_empty() {
        alloy_consensus::EMPTY_ROOT_HASH
    } else {
        keccak256(b.txs.iter().flat_map(|h| h.0).collect::<Vec<u8>>())
    };
    Header {
        parent_hash: b.parent_hash,
        ommers_hash: alloy_consensus::EMPTY_OMMER_ROOT_HASH,
        beneficiary: Address::ZERO,
        state_root: B256::ZERO,
        transactions_root: txs_root,
        receipts_root: if b.txs.is_empty() { alloy_consensus::EMPTY_ROOT_HASH } else { B256::ZERO },
        logs_bloom: b.logs_bloom,
        difficulty: Default::default(),
        number: b.number,
        gas_limit: b.gas_limit,
        gas_used: b.gas_used,
        timestamp: b.timestamp,
        extra_data: Default::default(),
        mix_hash: keccak256(b.number.saturating_sub(1).to_be_bytes()),
        nonce: B64::ZERO,
        base_fee_per_gas: Some(b.base_fee),
        withdrawals_root: Some(alloy_consensus::EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(alloy_eips::eip7685::EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

impl Chain {
    /// Mines a block on top of the head holding `entries`, and makes it the head.
    pub(crate) fn mine(&mut self, env: &BlockEnv, entries: Vec<Mined>) -> BlockRow {
        let number: u64 = env.number.saturating_to();
        let parent_hash = match self.head() {
            Some(h) => h.hash,
            None => self.upstream.as_ref().map(|u| u.block_hash).unwrap_or_default(),
        };
        let mut bloom = Bloom::default();
        let mut gas_used = 0u64;
        for e in &entries {
            gas_used = gas_used.saturating_add(e.gas_used);
            for log in &e.logs {
                bloom.accrue_log(log);
            }
        }
        let mut block = BlockRow {
            number,
            hash: B256::ZERO,
            parent_hash,
            timestamp: env.timestamp.saturating_to(),
            base_fee: env.basefee,
            gas_limit: env.gas_limit,
            gas_used,
            logs_bloom: bloom,
            txs: entries.iter().map(|e| e.hash).collect(),
        };
        block.hash = header(&block).hash_slow();
        let mut cumulative = 0u64;
        let mut log_index = 0u64;
        for (index, e) in entries.into_iter().enumerate() {
            cumulative = cumulative.saturating_add(e.gas_used);
            let logs: Vec<alloy_rpc_types_eth::Log> = e
                .logs
                .iter()
                .map(|l| {
                    log_index += 1;
                    alloy_rpc_types_eth::Log {
                        inner: l.clone(),
                        block_hash: Some(block.hash),
                        block_number: Some(number),
                        block_timestamp: Some(block.timestamp),
                        transaction_hash: Some(e.hash),
                        transaction_index: Some(index as u64),
                        log_index: Some(log_index - 1),
                        removed: false,
                    }
                })
                .collect();
            let mut tx_bloom = Bloom::default();
            for l in &e.logs {
                tx_bloom.accrue_log(l);
            }
            let ty = e.tx.as_ref().map(|(t, _)| t.tx_type()).unwrap_or(TxType::Eip1559);
            let receipt = ReceiptEnvelope::from_typed(
                ty,
                ReceiptWithBloom {
                    receipt: Receipt {
                        status: Eip658Value::Eip658(e.success),
                        cumulative_gas_used: cumulative,
                        logs,
                    },
                    logs_bloom: tx_bloom,
                },
            );
            let receipt = TransactionReceipt {
                inner: receipt,
                transaction_hash: e.hash,
                transaction_index: Some(index as u64),
                block_hash: Some(block.hash),
                block_number: Some(number),
                gas_used: e.gas_used,
                effective_gas_price: e.effective_gas_price,
                blob_gas_used: None,
                blob_gas_price: None,
                from: e.from,
                to: e.to,
                contract_address: e.contract_address,
            };
            let tx = e.tx.map(|(envelope, signer)| Transaction {
                inner: alloy_consensus::transaction::Recovered::new_unchecked(envelope, signer),
                block_hash: Some(block.hash),
                block_number: Some(number),
                transaction_index: Some(index as u64),
                effective_gas_price: Some(e.effective_gas_price),
                block_timestamp: Some(block.timestamp),
            });
            self.txs.put(e.hash, TxRow { tx, receipt });
        }
        self.blocks.put(number, block.clone());
        self.meta.put((), ChainMeta { head: number, next_timestamp: None });
        block
    }
}

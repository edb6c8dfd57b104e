//! The chain's `eth_*` answers, as plain functions of its state.

use super::exec::{intrinsic_gas, timeout_message, CALL_TIME_CAP};
use super::mine::{header, Mined};
use super::{BlockRow, Chain, BLOCK_GAS_LIMIT, PRIORITY_FEE};
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::{BlockNumberOrTag, Decodable2718};
use alloy_evm::rpc::TryIntoTxEnv;
use alloy_evm::{EvmEnv, FromRecoveredTx};
use alloy_primitives::{Bytes, TxKind, B256, U256};
use alloy_rpc_types_eth::state::StateOverride;
use alloy_rpc_types_eth::{
    Block, BlockTransactions, FeeHistory, Filter, Log, Transaction, TransactionReceipt,
    TransactionRequest,
};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use revm::context::result::{EVMError, ExecutionResult, InvalidTransaction};
use revm::context::TxEnv;
use std::time::Instant;

/// How long `eth_estimateGas` searches before it answers the best limit it has found (one that
/// succeeds), like geth's `--rpc.evmtimeout` bounds a call; its runs are aborted then.
pub const ESTIMATE_TIME_CAP: std::time::Duration = std::time::Duration::from_secs(5);

/// How many blocks one `eth_getLogs` may scan.
pub const MAX_LOG_RANGE: u64 = 10_000;

/// A refused chain call, with the code and wording geth and anvil use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EthError {
    /// The JSON-RPC code.
    pub code: i32,
    /// The message.
    pub message: String,
    /// Revert data, for `execution reverted`.
    pub data: Option<Bytes>,
}

impl EthError {
    /// -32000, the server error of geth's transaction pool and state lookups.
    pub fn server(message: impl Into<String>) -> Self {
        Self { code: -32000, message: message.into(), data: None }
    }

    /// -32602, a malformed param.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self { code: -32602, message: message.into(), data: None }
    }

    /// Code 3 `execution reverted: reason`, with the revert data (geth).
    pub fn reverted(output: &Bytes) -> Self {
        let message = match describe_revert(output) {
            Some(r) => format!("execution reverted: {r}"),
            None => "execution reverted".into(),
        };
        Self { code: 3, message, data: Some(output.clone()) }
    }
}

impl From<sesskey_rpc::WalletError> for EthError {
    fn from(e: sesskey_rpc::WalletError) -> Self {
        Self { code: e.code(), message: e.to_string(), data: e.revert_data().cloned() }
    }
}

impl From<EthError> for ErrorObjectOwned {
    fn from(e: EthError) -> Self {
        ErrorObject::owned(e.code, e.message, e.data)
    }
}

/// A revert's reason in words: `Error(string)`'s text, `Panic(uint256)`'s code, else a custom
/// error's data in hex. `None` for empty revert data.
pub fn describe_revert(output: &[u8]) -> Option<String> {
    if output.is_empty() {
        return None;
    }
    use alloy_sol_types::SolError;
    // `Error(string)`: its text alone, as geth words it ("execution reverted: <text>").
    if let Ok(r) = alloy_sol_types::Revert::abi_decode(output) {
        return Some(r.reason);
    }
    Some(match alloy_sol_types::decode_revert_reason(output) {
        Some(r) => r,
        None => format!("custom error 0x{}", alloy_primitives::hex::encode(output)),
    })
}

type R<T> = Result<T, EthError>;

impl Chain {
    /// The block a tag or number names.
    pub(crate) fn resolve(&self, tag: BlockNumberOrTag) -> Option<u64> {
        let head = self.head_number();
        match tag {
            BlockNumberOrTag::Earliest => {
                Some(self.upstream.as_ref().map(|u| u.block + 1).unwrap_or(0).min(head))
            }
            BlockNumberOrTag::Number(n) if n <= head => Some(n),
            BlockNumberOrTag::Number(_) => None,
            _ => Some(head),
        }
    }

    /// State is kept at the head only: an older block is refused rather than answered wrongly.
    pub(crate) fn check_state_block(&self, block: Option<alloy_eips::BlockId>) -> R<()> {
        let head = self.head_number();
        let at = match block {
            None => return Ok(()),
            Some(alloy_eips::BlockId::Number(tag)) => {
                self.resolve(tag).ok_or_else(|| EthError::server("header not found"))?
            }
            Some(alloy_eips::BlockId::Hash(h)) => self
                .blocks
                .iter()
                .find(|(_, b)| b.hash == h.block_hash)
                .map(|(n, _)| *n)
                .ok_or_else(|| EthError::server("header not found"))?,
        };
        if at == head {
            Ok(())
        } else {
            Err(EthError::server(
                "historical state is not available: the emulator keeps the latest state only",
            ))
        }
    }

    fn rpc_block(&self, b: &BlockRow, full: bool) -> Block {
        let hdr = alloy_rpc_types_eth::Header {
            hash: b.hash,
            inner: header(b),
            total_difficulty: Some(U256::ZERO),
            size: None,
        };
        let txs = if full {
            BlockTransactions::Full(
                b.txs.iter().filter_map(|h| self.txs.get(h).and_then(|t| t.tx.clone())).collect(),
            )
        } else {
            BlockTransactions::Hashes(b.txs.clone())
        };
        Block {
            header: hdr,
            uncles: vec![],
            transactions: txs,
            withdrawals: Some(Default::default()),
        }
    }

    /// `eth_getBlockByNumber`.
    pub(crate) fn block_by_number(&self, tag: BlockNumberOrTag, full: bool) -> Option<Block> {
        let n = self.resolve(tag)?;
        self.blocks.get(&n).map(|b| self.rpc_block(b, full))
    }

    /// `eth_getBlockByHash`.
    pub(crate) fn block_by_hash(&self, hash: B256, full: bool) -> Option<Block> {
        let b = self.blocks.iter().map(|(_, b)| b).find(|b| b.hash == hash)?;
        Some(self.rpc_block(b, full))
    }

    /// `eth_getTransactionByHash`.
    pub(crate) fn transaction(&self, hash: B256) -> Option<Transaction> {
        self.txs.get(&hash).and_then(|t| t.tx.clone())
    }

    /// `eth_getTransactionReceipt`.
    pub(crate) fn receipt(&self, hash: B256) -> Option<TransactionReceipt> {
        self.txs.get(&hash).map(|t| t.receipt.clone())
    }

    /// `eth_getLogs`.
    pub(crate) fn logs(&self, filter: &Filter) -> R<Vec<Log>> {
        let blocks: Vec<&BlockRow> = match filter.get_block_hash() {
            Some(h) => self.blocks.iter().map(|(_, b)| b).filter(|b| b.hash == h).collect(),
            None => {
                let opt = &filter.block_option;
                let from = opt.get_from_block().copied().unwrap_or(BlockNumberOrTag::Latest);
                let to = opt.get_to_block().copied().unwrap_or(BlockNumberOrTag::Latest);
                let head = self.head_number();
                let from = self.resolve(from).unwrap_or(head.saturating_add(1));
                let to = self.resolve(to).unwrap_or(head);
                if to >= from && to - from > MAX_LOG_RANGE {
                    return Err(EthError::invalid(format!(
                        "query exceeds the max block range of {MAX_LOG_RANGE}"
                    )));
                }
                (from..=to).filter_map(|n| self.blocks.get(&n)).collect()
            }
        };
        let mut out = vec![];
        for b in blocks {
            if !filter.matches_bloom(b.logs_bloom) {
                continue;
            }
            for h in &b.txs {
                let Some(t) = self.txs.get(h) else { continue };
                out.extend(
                    t.receipt.inner.logs().iter().filter(|l| filter.matches(&l.inner)).cloned(),
                );
            }
        }
        Ok(out)
    }

    /// `eth_feeHistory`: the base fees and gas used of the last `count` blocks up to `newest`.
    pub(crate) fn fee_history(
        &self,
        count: u64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> R<FeeHistory> {
        let newest = self.resolve(newest).ok_or_else(|| EthError::server("header not found"))?;
        let count = count.clamp(1, 1024);
        let oldest = newest.saturating_sub(count - 1);
        let blocks: Vec<&BlockRow> =
            (oldest..=newest).filter_map(|n| self.blocks.get(&n)).collect();
        let oldest = blocks.first().map(|b| b.number).unwrap_or(newest);
        let mut base_fee_per_gas: Vec<u128> =
            blocks.iter().map(|b| u128::from(b.base_fee)).collect();
        if let Some(last) = blocks.last() {
            base_fee_per_gas.push(u128::from(super::mine::next_base_fee(last)));
        }
        let gas_used_ratio =
            blocks.iter().map(|b| b.gas_used as f64 / b.gas_limit.max(1) as f64).collect();
        let reward = percentiles.map(|p| {
            blocks.iter().map(|_| p.iter().map(|_| u128::from(PRIORITY_FEE)).collect()).collect()
        });
        Ok(FeeHistory {
            base_fee_per_gas,
            gas_used_ratio,
            base_fee_per_blob_gas: vec![1; blocks.len() + 1],
            blob_gas_used_ratio: vec![0.0; blocks.len()],
            oldest_block: oldest,
            reward,
        })
    }

    /// The base fee of the next block.
    pub(crate) fn next_base_fee(&self, now: u64) -> u64 {
        self.next_block_env(now).basefee
    }

    fn call_env(&self, now: u64, req: TransactionRequest) -> R<(revm::context::BlockEnv, TxEnv)> {
        let block = self.next_block_env(now);
        let mut cfg = revm::context::CfgEnv::new_with_spec(super::exec::SPEC);
        cfg.chain_id = self.id;
        let env = EvmEnv { cfg_env: cfg, block_env: block.clone() };
        let tx: TxEnv = req.try_into_tx_env(&env).map_err(|e| EthError::invalid(e.to_string()))?;
        Ok((block, tx))
    }

    /// `eth_call`: runs the call on the latest state (with overrides), changing nothing. Its
    /// gas is capped at the block gas limit, its run at [`CALL_TIME_CAP`].
    pub(crate) fn call(
        &self,
        now: u64,
        req: TransactionRequest,
        overrides: Option<StateOverride>,
    ) -> R<Bytes> {
        let (block, mut tx) = self.call_env(now, req)?;
        tx.gas_limit = tx.gas_limit.min(BLOCK_GAS_LIMIT);
        let until = Instant::now() + CALL_TIME_CAP;
        let outcome = self.transact_with_overrides(&block, tx, overrides, until);
        match outcome.map_err(EthError::server)? {
            None => Err(EthError::server(timeout_message())),
            Some(ExecutionResult::Success { output, .. }) => Ok(output.into_data()),
            Some(ExecutionResult::Revert { output, .. }) => Err(EthError::reverted(&output)),
            Some(ExecutionResult::Halt { reason, .. }) => {
                Err(EthError::server(format!("execution halted: {reason:?}")))
            }
        }
    }

    /// `eth_estimateGas`: the least gas limit with which the call succeeds (binary search), in
    /// at most [`ESTIMATE_TIME_CAP`]: then the best limit found so far that succeeds, or, when
    /// the first run at the cap has not ended, geth's `execution aborted (timeout = 5s)`.
    pub(crate) fn estimate_gas(
        &self,
        now: u64,
        req: TransactionRequest,
        overrides: Option<StateOverride>,
    ) -> R<u64> {
        let (block, mut tx) = self.call_env(now, req)?;
        let cap = tx.gas_limit.min(BLOCK_GAS_LIMIT);
        let until = Instant::now() + ESTIMATE_TIME_CAP;
        // The gas a run used, or its revert data (empty: it halted); `None`: aborted at `until`.
        let mut attempt = |gas: u64| -> R<Option<Result<u64, Bytes>>> {
            tx.gas_limit = gas;
            let outcome =
                self.transact_with_overrides(&block, tx.clone(), overrides.clone(), until);
            Ok(outcome.map_err(EthError::server)?.map(|result| match result {
                ExecutionResult::Success { gas, .. } => Ok(gas.tx_gas_used()),
                ExecutionResult::Revert { output, .. } => Err(output),
                ExecutionResult::Halt { .. } => Err(Bytes::new()),
            }))
        };
        let used = match attempt(cap)? {
            None => return Err(EthError::server(timeout_message())),
            Some(Ok(used)) => used,
            Some(Err(out)) if out.is_empty() => {
                return Err(EthError::server(format!("gas required exceeds allowance ({cap})")))
            }
            Some(Err(out)) => return Err(EthError::reverted(&out)),
        };
        let (mut lo, mut hi) = (used.saturating_sub(1), cap);
        // Most calls need what they used plus the 63/64 reserve: try that first.
        let guess = used.saturating_mul(64) / 63 + 2_300;
        if guess < hi && matches!(attempt(guess)?, Some(Ok(_))) {
            hi = guess;
        }
        while hi.saturating_sub(lo) > 1 && (hi - lo).saturating_mul(1000) > hi {
            let mid = lo + (hi - lo) / 2;
            match attempt(mid)? {
                None => break,
                Some(Ok(_)) => hi = mid,
                Some(Err(_)) => lo = mid,
            }
        }
        Ok(hi)
    }

    /// `eth_sendRawTransaction`: decodes, checks as a node's pool does, runs it in a new block.
    pub(crate) fn send_raw_transaction(&mut self, now: u64, raw: &Bytes) -> R<B256> {
        let mut buf = raw.as_ref();
        let envelope = TxEnvelope::decode_2718(&mut buf)
            .map_err(|e| EthError::server(format!("failed to decode signed transaction: {e}")))?;
        if !buf.is_empty() {
            return Err(EthError::server("failed to decode signed transaction: trailing bytes"));
        }
        if envelope.is_eip4844() {
            return Err(EthError::server("blob transactions are not supported by the emulator"));
        }
        let from = envelope.recover_signer().map_err(|_| EthError::server("invalid sender"))?;
        if envelope.chain_id().is_some_and(|c| c != self.id) {
            return Err(EthError::server("invalid chain id for signer"));
        }
        let state = self.account(from);
        let nonce = envelope.nonce();
        if nonce < state.nonce {
            return Err(EthError::server(format!(
                "nonce too low: address {from}, tx: {nonce} state: {}",
                state.nonce
            )));
        }
        if nonce > state.nonce {
            return Err(EthError::server(format!(
                "nonce too high: address {from}, tx: {nonce} state: {}",
                state.nonce
            )));
        }
        let block = self.next_block_env(now);
        if envelope.gas_limit() > block.gas_limit {
            return Err(EthError::server("exceeds block gas limit"));
        }
        if envelope.max_fee_per_gas() < u128::from(block.basefee) {
            return Err(EthError::server(format!(
                "max fee per gas less than block base fee: address {from}, maxFeePerGas: {}, baseFee: {}",
                envelope.max_fee_per_gas(),
                block.basefee
            )));
        }
        let want = U256::from(envelope.gas_limit())
            .checked_mul(U256::from(envelope.max_fee_per_gas()))
            .and_then(|c| c.checked_add(envelope.value()));
        if want.is_none_or(|w| w > state.balance) {
            return Err(EthError::server(format!(
                "insufficient funds for gas * price + value: address {from} have {} want {}",
                state.balance,
                want.map(|w| w.to_string()).unwrap_or_else(|| "more than 2^256".into())
            )));
        }
        let intrinsic = intrinsic_gas(envelope.input());
        let tx = TxEnv::from_recovered_tx(&envelope, from);
        let hash = *envelope.tx_hash();
        let out = self.transact(&block, tx, |_| {}).map_err(|e| match e {
            EVMError::Transaction(t) => {
                EthError::server(pool_error(&t, envelope.gas_limit(), intrinsic))
            }
            other => EthError::server(other.to_string()),
        })?;
        let result = out.result;
        self.apply_state(out.state);
        let price = envelope.effective_gas_price(Some(block.basefee));
        let contract_address = match envelope.kind() {
            TxKind::Create => result.created_address(),
            TxKind::Call(_) => None,
        };
        let mined = Mined {
            hash,
            from,
            to: envelope.to(),
            contract_address,
            success: result.is_success(),
            gas_used: result.tx_gas_used(),
            effective_gas_price: price,
            logs: result.into_logs(),
            tx: Some((envelope, from)),
        };
        self.mine(&block, vec![mined]);
        Ok(hash)
    }
}

/// A transaction the EVM refused before running, worded as geth's pool words it.
fn pool_error(e: &InvalidTransaction, gas: u64, intrinsic: u64) -> String {
    match e {
        InvalidTransaction::CallGasCostMoreThanGasLimit { .. }
        | InvalidTransaction::GasFloorMoreThanGasLimit { .. } => {
            format!("intrinsic gas too low: gas {gas}, minimum needed {intrinsic}")
        }
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: have {balance} want {fee}")
        }
        InvalidTransaction::InvalidChainId => "invalid chain id for signer".into(),
        InvalidTransaction::RejectCallerWithCode => "sender not an eoa".into(),
        other => other.to_string(),
    }
}

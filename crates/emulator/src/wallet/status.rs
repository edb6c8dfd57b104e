//! `wallet_getCallsStatus`: pending until the call's settle time, then its final status with
//! the receipt of the transaction that included it (its real logs and gas).

use super::{Core, R};
use alloy_primitives::{U256, U64, U8};
use sesskey_rpc::WalletError;
use sesskey_types::*;

impl Core {
    /// `wallet_getCallsStatus`.
    pub(crate) fn get_calls_status(&self, id: CallId) -> R<CallsStatus> {
        let now = self.clock.now_ms();
        let record = self.wallet.calls.get(&id.0).ok_or(WalletError::UnknownCallId)?;
        let chain_receipt = self
            .chains
            .get(&record.chain_id)
            .and_then(|c| c.receipt(record.tx_hash))
            .ok_or_else(|| WalletError::Internal("the call's transaction is missing".into()))?;
        let settled = now >= record.settle_at;
        let block = chain_receipt.block_number.unwrap_or_default();
        let receipt = Receipt {
            logs: chain_receipt
                .inner
                .logs()
                .iter()
                .map(|l| Log {
                    address: l.address(),
                    data: l.data().data.clone(),
                    topics: l.topics().to_vec(),
                })
                .collect(),
            status: U8::from(record.success as u8),
            block_hash: chain_receipt.block_hash.unwrap_or_default(),
            block_number: U64::from(block),
            gas_used: U256::from(chain_receipt.gas_used),
            transaction_hash: record.tx_hash,
        };
        let status = match (settled, record.success) {
            (false, _) => CallStatusCode::Pending,
            (true, true) => CallStatusCode::Confirmed,
            (true, false) => CallStatusCode::ChainRulesFailure,
        };
        let receipts = settled.then(|| vec![receipt]);
        let details = if record.delegation {
            CallDetails::Delegation { tx_hash: settled.then_some(record.tx_hash) }
        } else {
            CallDetails::UserOperation {
                data: UserOperationDetails {
                    hash: record.hash,
                    calls: Some(record.calls.clone()),
                    pending_bundle: (!settled).then(|| PendingBundle {
                        tx_hash: record.tx_hash,
                        sent_at_block: U64::from(block),
                    }),
                },
            }
        };
        Ok(CallsStatus {
            id: id.0.clone(),
            chain_id: U64::from(record.chain_id),
            atomic: true,
            status,
            receipts,
            details,
        })
    }
}

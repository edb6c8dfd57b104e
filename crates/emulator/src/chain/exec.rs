//! Running code on the chain: an operation's calls as the account makes them, a signed
//! transaction, a read-only call.

use super::db::{ChainDb, ChainDbError};
use super::{Chain, BLOCK_GAS_LIMIT};
use alloy_primitives::{Address, Bytes, Log, TxKind, U256};
use alloy_rpc_types_eth::state::StateOverride;
use revm::context::result::{EVMError, ExecutionResult, InvalidTransaction, ResultAndState};
use revm::context::{BlockEnv, CfgEnv, Context, TxEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::database::CacheDB;
use revm::database_interface::WrapDatabaseRef;
use revm::interpreter::{InstructionResult, Interpreter, InterpreterTypes};
use revm::primitives::hardfork::SpecId;
use revm::{Database, ExecuteEvm, InspectEvm, Inspector, MainBuilder, MainContext};
use sesskey_types::Call;
use std::time::{Duration, Instant};

/// The longest a read-only run (`eth_call`, and `eth_estimateGas` in all) may take: past it the
/// run is aborted with geth's `execution aborted (timeout = 5s)`, like geth's
/// `--rpc.evmtimeout` (whose default is also 5 s). Its gas is capped too, at the block gas limit
/// (like geth's `--rpc.gascap`).
pub const CALL_TIME_CAP: Duration = Duration::from_secs(5);

/// Aborts a run at a deadline: the clock is read every 1,024 instructions; once past it, every
/// frame halts at its next instruction, so the whole run unwinds at once.
struct Deadline {
    until: Instant,
    steps: u32,
    expired: bool,
}

impl<CTX, INTR: InterpreterTypes> Inspector<CTX, INTR> for Deadline {
    fn step(&mut self, interp: &mut Interpreter<INTR>, _: &mut CTX) {
        self.steps = self.steps.wrapping_add(1);
        if self.steps.is_multiple_of(1024) && !self.expired && Instant::now() >= self.until {
            self.expired = true;
        }
        if self.expired {
            interp.halt(InstructionResult::OutOfGas);
        }
    }
}

/// The EVM the emulator runs, on `db` in `block`, with `inspector` (whose hooks run only under
/// `inspect_tx`). The accounts and the EntryPoint answer calls into them (ModularAccountV2's
/// token callbacks, ERC-1271, ERC-165, the EntryPoint's views and deposits): see `answers`.
macro_rules! evm {
    ($db:expr, $block:expr, $cfg:expr, $inspector:expr) => {
        Context::mainnet()
            .with_db($db)
            .with_block($block.clone())
            .with_cfg($cfg)
            .build_mainnet_with_inspector($inspector)
            .with_precompiles(super::answers::Answers::new(SPEC))
    };
}

/// The error of a read-only run aborted by its deadline (geth's wording).
pub(crate) fn timeout_message() -> String {
    format!("execution aborted (timeout = {}s)", CALL_TIME_CAP.as_secs())
}

/// The hard fork the emulator runs (EIP-7702 accounts need Prague).
pub(crate) const SPEC: SpecId = SpecId::PRAGUE;

/// Gas a transaction pays before it runs: 21,000 and its call data (EIP-2028).
pub(crate) fn intrinsic_gas(data: &[u8]) -> u64 {
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let others = data.len() as u64 - zeros;
    21_000u64.saturating_add(zeros.saturating_mul(4)).saturating_add(others.saturating_mul(16))
}

/// How one call of an operation ended.
#[derive(Clone, Debug)]
pub(crate) struct CallOutcome {
    pub(crate) success: bool,
    /// Execution gas, without the transaction's intrinsic cost (an inner call pays none).
    pub(crate) gas: u64,
    pub(crate) output: Bytes,
    pub(crate) logs: Vec<Log>,
    /// Why the call could not even start (no revert data then).
    pub(crate) refused: Option<String>,
}

/// An operation's calls, run in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpRun {
    /// Every call ran to its end; otherwise none of their effects stay.
    pub(crate) success: bool,
    /// Execution gas of the calls run.
    pub(crate) gas: u64,
    /// Each call's gas (as far as they ran).
    pub(crate) call_gas: Vec<u64>,
    /// The logs of the calls (none when the batch failed).
    pub(crate) logs: Vec<Log>,
    /// The first failing call and its revert data.
    pub(crate) failure: Option<(usize, Bytes)>,
    /// Why that call could not even start, when it could not.
    pub(crate) refused: Option<String>,
}

impl Chain {
    /// The environment of the block being built on top of the head at `now`.
    pub(crate) fn next_block_env(&self, now: u64) -> BlockEnv {
        let meta = self.meta();
        let (parent_ts, base_fee) = match self.head() {
            Some(h) => (h.timestamp, super::mine::next_base_fee(h)),
            None => match &self.upstream {
                Some(up) => (up.timestamp, up.base_fee),
                None => (0, super::INITIAL_BASE_FEE),
            },
        };
        let timestamp = meta.next_timestamp.unwrap_or(now).max(parent_ts);
        let mut env = BlockEnv {
            number: U256::from(meta.head.saturating_add(1)),
            beneficiary: Address::ZERO,
            timestamp: U256::from(timestamp),
            gas_limit: BLOCK_GAS_LIMIT,
            basefee: base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(alloy_primitives::keccak256(meta.head.to_be_bytes())),
            ..Default::default()
        };
        env.blob_excess_gas_and_price = Some(BlobExcessGasAndPrice::new(0, 3_338_477));
        env
    }

    fn cfg(&self) -> CfgEnv {
        let mut cfg = CfgEnv::new_with_spec(SPEC);
        cfg.chain_id = self.id;
        cfg
    }

    /// Runs `tx` on the current state without changing it.
    pub(crate) fn transact(
        &self,
        block: &BlockEnv,
        tx: TxEnv,
        tweak: impl FnOnce(&mut CfgEnv),
    ) -> Result<ResultAndState, EVMError<ChainDbError>> {
        let mut cfg = self.cfg();
        tweak(&mut cfg);
        run(WrapDatabaseRef(ChainDb(self)), block, cfg, tx)
    }

    /// Runs `tx` on the current state with `overrides` applied, changing nothing (`eth_call`),
    /// aborted at `until` (then `None`).
    pub(crate) fn transact_with_overrides(
        &self,
        block: &BlockEnv,
        tx: TxEnv,
        overrides: Option<StateOverride>,
        until: Instant,
    ) -> Result<Option<ExecutionResult>, String> {
        let mut cfg = self.cfg();
        read_only(&mut cfg);
        let mut db = CacheDB::new(ChainDb(self));
        if let Some(o) = overrides {
            alloy_evm::overrides::apply_state_overrides(o, &mut db)
                .map_err(|e| format!("invalid state override: {e}"))?;
        }
        let mut evm = evm!(db, block, cfg, Deadline { until, steps: 0, expired: false });
        let result = evm.inspect_tx(tx).map_err(|e| e.to_string())?;
        Ok((!evm.inspector.expired).then_some(result.result))
    }

    /// Runs an operation's calls as the account makes them: each a CALL from `sender` with its
    /// value and data, in order, all or nothing. The account's transaction nonce does not move.
    /// `gas_limit` bounds their execution gas together. The changes are written to the overlay.
    pub(crate) fn run_calls(
        &mut self,
        block: &BlockEnv,
        sender: Address,
        calls: &[Call],
        gas_limit: u64,
    ) -> Result<OpRun, ChainDbError> {
        let save = (self.accounts.savepoint(), self.storage.savepoint(), self.code.savepoint());
        let nonce = self.account(sender).nonce;
        let mut run = OpRun { success: true, ..Default::default() };
        for (i, call) in calls.iter().enumerate() {
            let data = call.data_or_empty();
            let left = gas_limit.saturating_sub(run.gas);
            let intrinsic = intrinsic_gas(&data);
            let tx = TxEnv {
                tx_type: 0,
                caller: sender,
                gas_limit: intrinsic.saturating_add(left).min(BLOCK_GAS_LIMIT),
                gas_price: 0,
                kind: TxKind::Call(call.to),
                value: call.value_or_zero(),
                data,
                nonce,
                chain_id: Some(self.id),
                ..Default::default()
            };
            let outcome = match self.transact(block, tx, inner_call) {
                Ok(ResultAndState { result, mut state }) => {
                    if let Some(a) = state.get_mut(&sender) {
                        a.info.nonce = nonce;
                    }
                    // Before the refund: inside an op, a call needs (and the EntryPoint
                    // measures) the gas it spends; refunds go to the bundle's transaction.
                    let gas = result.gas().total_gas_spent().saturating_sub(intrinsic);
                    let success = result.is_success();
                    let logs = result.logs().to_vec();
                    let output = match result {
                        ExecutionResult::Success { output, .. } => output.into_data(),
                        ExecutionResult::Revert { output, .. } => output,
                        ExecutionResult::Halt { .. } => Bytes::new(),
                    };
                    if success {
                        self.apply_state(state);
                    }
                    CallOutcome { success, gas, output, logs, refused: None }
                }
                Err(EVMError::Database(e)) => return Err(e),
                // The call cannot even start (e.g. its value exceeds the balance): it fails.
                Err(e) => CallOutcome {
                    success: false,
                    gas: 0,
                    output: Bytes::new(),
                    logs: vec![],
                    refused: Some(match e {
                        EVMError::Transaction(InvalidTransaction::LackOfFundForMaxFee {
                            balance,
                            ..
                        }) => format!(
                            "the account holds {balance} wei, less than the {} wei the call sends",
                            call.value_or_zero()
                        ),
                        other => other.to_string(),
                    }),
                },
            };
            run.gas = run.gas.saturating_add(outcome.gas);
            run.call_gas.push(outcome.gas);
            if !outcome.success {
                run.success = false;
                run.failure = Some((i, outcome.output));
                run.refused = outcome.refused;
                run.logs.clear();
                self.accounts.restore(save.0);
                self.storage.restore(save.1);
                self.code.restore(save.2);
                return Ok(run);
            }
            run.logs.extend(outcome.logs);
        }
        Ok(run)
    }

    /// Writes the accounts and slots a run changed into the overlay.
    pub(crate) fn apply_state(&mut self, state: revm::state::EvmState) {
        for (address, account) in state {
            if !account.is_touched() {
                continue;
            }
            if account.is_selfdestructed() {
                let slots: Vec<_> = self
                    .storage
                    .iter()
                    .filter(|((a, _), _)| *a == address)
                    .map(|(k, _)| *k)
                    .collect();
                for k in slots {
                    self.storage.put(k, U256::ZERO);
                }
                self.accounts.put(
                    address,
                    super::AccountRow {
                        code_hash: revm::primitives::KECCAK_EMPTY,
                        ..Default::default()
                    },
                );
                continue;
            }
            let info = &account.info;
            if let Some(code) = &info.code {
                if !code.is_empty() && self.code.get(&info.code_hash).is_none() {
                    self.code.put(info.code_hash, code.original_bytes());
                }
            }
            self.accounts.put(
                address,
                super::AccountRow {
                    balance: info.balance,
                    nonce: info.nonce,
                    code_hash: info.code_hash,
                },
            );
            for (slot, value) in account.storage {
                if value.is_changed() {
                    self.storage.put((address, slot), value.present_value);
                }
            }
        }
    }
}

/// An inner call of an operation: the EntryPoint pays its gas, so no fee, no nonce check; the
/// sender may be a contract (an SMA-B account), as an account's own call is.
fn inner_call(cfg: &mut CfgEnv) {
    cfg.disable_nonce_check = true;
    cfg.disable_base_fee = true;
    cfg.disable_eip3607 = true;
}

/// `eth_call` and `eth_estimateGas`: any sender, no fee, no nonce or balance check for fees.
pub(crate) fn read_only(cfg: &mut CfgEnv) {
    cfg.disable_nonce_check = true;
    cfg.disable_base_fee = true;
    cfg.disable_balance_check = true;
    cfg.disable_eip3607 = true;
}

fn run<DB: Database>(
    db: DB,
    block: &BlockEnv,
    cfg: CfgEnv,
    tx: TxEnv,
) -> Result<ResultAndState, EVMError<DB::Error>> {
    evm!(db, block, cfg, ()).transact(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read-only run past its deadline is aborted (the clock is read every 1,024
    /// instructions); the same run with time left goes on to its end.
    #[test]
    fn a_read_only_run_stops_at_its_deadline() {
        let mut chain = Chain::new(31337, None);
        let looping = Address::repeat_byte(0x42);
        // JUMPDEST PUSH1 0 JUMP: loops until its gas is gone.
        chain.set_code(looping, Bytes::from_static(&[0x5b, 0x60, 0x00, 0x56]));
        chain.apply();
        let block = BlockEnv { gas_limit: BLOCK_GAS_LIMIT, ..Default::default() };
        let tx = TxEnv {
            caller: Address::repeat_byte(1),
            kind: TxKind::Call(looping),
            gas_limit: BLOCK_GAS_LIMIT,
            chain_id: Some(chain.id),
            ..Default::default()
        };
        let past = Instant::now();
        let aborted = chain.transact_with_overrides(&block, tx.clone(), None, past).unwrap();
        assert!(aborted.is_none(), "a run past its deadline ended: {aborted:?}");
        let later = Instant::now() + Duration::from_secs(600);
        let small = TxEnv { gas_limit: 100_000, ..tx };
        let ended = chain.transact_with_overrides(&block, small, None, later).unwrap();
        assert!(matches!(ended, Some(ExecutionResult::Halt { .. })), "{ended:?}");
    }
}

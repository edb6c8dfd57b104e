//! The emulator's test controls (`emulator_*`) and the anvil-style ones (`anvil_*`, `evm_*`).

use super::errors::invalid;
use super::{Core, R};
use crate::clock::TimeError;
use crate::table::Tables;
use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{sol, SolCall};
use revm::context::TxEnv;
use sesskey_rpc::{SessionInfo, WalletError};
use sesskey_types::*;

sol! {
    function balanceOf(address account) external view returns (uint256);
}

/// The longest message `emulator_failNext` keeps.
pub(crate) const MAX_FAIL_MESSAGE: usize = 1_000;

fn time_error(e: TimeError) -> WalletError {
    invalid(e.to_string())
}

impl Core {
    /// Sets the clock (never back).
    pub(crate) fn set_time(&mut self, unix_seconds: u64) -> R<u64> {
        let t = self.clock.set(unix_seconds).map_err(time_error)?;
        self.meta_changed = true;
        Ok(t)
    }

    /// Moves the clock forward.
    pub(crate) fn increase_time(&mut self, seconds: u64) -> R<u64> {
        let t = self.clock.advance(seconds).map_err(time_error)?;
        self.meta_changed = true;
        Ok(t)
    }

    /// An ERC-20 balance, read with `balanceOf` on the token.
    pub(crate) fn erc20_balance(&self, chain: u64, token: Address, account: Address) -> R<U256> {
        let (out, _) = self.balance_of(chain, token, account)?;
        Ok(out)
    }

    fn balance_of(&self, chain: u64, token: Address, account: Address) -> R<(U256, Vec<U256>)> {
        let c = self.chain(chain);
        if c.code_of(token).is_empty() {
            return Err(invalid(format!(
                "invalid `token`: no contract at {token} on chain {chain:#x}"
            )));
        }
        let env = c.next_block_env(self.clock.now());
        let tx = TxEnv {
            caller: Address::ZERO,
            kind: alloy_primitives::TxKind::Call(token),
            data: balanceOfCall { account }.abi_encode().into(),
            gas_limit: 1_000_000,
            chain_id: Some(chain),
            ..Default::default()
        };
        let out = c
            .transact(&env, tx, crate::chain::read_only)
            .map_err(|e| WalletError::Internal(e.to_string()))?;
        let not_erc20 =
            || invalid(format!("invalid `token`: {token} does not answer balanceOf(address)"));
        let output = out
            .result
            .output()
            .cloned()
            .filter(|_| out.result.is_success())
            .ok_or_else(not_erc20)?;
        let balance = balanceOfCall::abi_decode_returns(&output).map_err(|_| not_erc20())?;
        let read =
            out.state.get(&token).map(|a| a.storage.keys().copied().collect()).unwrap_or_default();
        Ok((balance, read))
    }

    /// Sets an ERC-20 balance on any standard token, as forge-std's `deal` does: records the
    /// storage slots `balanceOf(account)` reads, writes each in turn, and keeps the one that
    /// `balanceOf` then answers with the new amount.
    pub(crate) fn set_erc20_balance(
        &mut self,
        chain: u64,
        token: Address,
        account: Address,
        amount: U256,
    ) -> R<()> {
        let (_, slots) = self.balance_of(chain, token, account)?;
        for slot in slots {
            let before = self.chain(chain).storage_at(token, slot);
            self.chain_mut(chain).set_storage(token, slot, amount);
            if self.balance_of(chain, token, account)?.0 == amount {
                return Ok(());
            }
            self.chain_mut(chain).set_storage(token, slot, before);
        }
        Err(invalid(format!(
            "cannot set the balance: no storage slot read by {token}'s balanceOf holds it"
        )))
    }

    /// Settles every pending call now.
    pub(crate) fn settle(&mut self) -> usize {
        let now = self.clock.now_ms();
        let pending: Vec<Bytes> = self
            .wallet
            .calls
            .iter()
            .filter(|(_, c)| c.settle_at > now)
            .map(|(k, _)| k.clone())
            .collect();
        for id in &pending {
            if let Some(c) = self.wallet.calls.get_mut(id) {
                c.settle_at = now;
            }
        }
        pending.len()
    }

    /// Every session and what is left of its budgets.
    pub(crate) fn list_sessions(&self) -> Vec<SessionInfo> {
        let mut out: Vec<SessionInfo> = self
            .wallet
            .sessions
            .iter()
            .map(|(id, s)| {
                let left = |limit: U256, used: U256| limit.saturating_sub(used);
                let mut native_left = None;
                let mut gas_left = None;
                let mut erc20_left = vec![];
                for p in &s.permissions {
                    match p {
                        Permission::NativeTokenTransfer(n) => {
                            native_left = Some(left(n.allowance, s.spent.native))
                        }
                        Permission::GasLimit(g) => gas_left = Some(left(g.limit, s.spent.gas)),
                        Permission::Erc20TokenTransfer(e) => erc20_left.push((
                            e.address,
                            left(
                                e.allowance,
                                s.spent.erc20.get(&e.address).copied().unwrap_or_default(),
                            ),
                        )),
                        _ => {}
                    }
                }
                SessionInfo {
                    session_id: *id,
                    account: s.action.account,
                    chain_id: alloy_primitives::U64::from(s.chain_id),
                    session_key: s.session_key,
                    entity_id: s.entity_id,
                    expiry: s.action.deadline,
                    permissions: s.permissions.clone(),
                    installed: s.installed,
                    revoked: s.revoked
                        || self
                            .wallet
                            .account(s.chain_id, s.action.account)
                            .uninstalled
                            .contains(&s.entity_id),
                    native_left,
                    gas_left,
                    erc20_left,
                    requested_at: s.requested_at,
                }
            })
            .collect();
        out.sort_by_key(|s| (s.account, s.entity_id));
        out
    }

    /// Revokes a session (durably).
    pub(crate) fn revoke_session(&mut self, id: SessionId) -> R<()> {
        let s = self
            .wallet
            .sessions
            .get_mut(&id)
            .ok_or_else(|| invalid(format!("unknown session {id}")))?;
        s.revoked = true;
        Ok(())
    }

    /// The packed `userOp.signature` of a call.
    pub(crate) fn packed_signature(&self, id: &CallId) -> R<Bytes> {
        self.wallet
            .calls
            .get(&id.0)
            .map(|c| c.packed_signature.clone())
            .ok_or(WalletError::UnknownCallId)
    }

    /// `evm_setNextBlockTimestamp`: the next block's timestamp (not before the head's).
    pub(crate) fn set_next_block_timestamp(&mut self, chain: u64, timestamp: u64) -> R<()> {
        let c = self.chain_mut(chain);
        let head = c.head().map(|h| h.timestamp).unwrap_or(0);
        if timestamp < head {
            return Err(invalid(format!(
                "timestamp {timestamp} is before the latest block's ({head})"
            )));
        }
        let mut meta = c.meta();
        meta.next_timestamp = Some(timestamp);
        c.meta.put((), meta);
        Ok(())
    }

    /// `evm_mine`: an empty block (at `timestamp` if given).
    pub(crate) fn mine_block(&mut self, chain: u64, timestamp: Option<u64>) -> R<u64> {
        if let Some(t) = timestamp {
            self.set_next_block_timestamp(chain, t)?;
        }
        let now = self.clock.now();
        let c = self.chain_mut(chain);
        let env = c.next_block_env(now);
        Ok(c.mine(&env, vec![]).number)
    }

    /// `evm_snapshot`: the whole state (wallet and chains) as it is, under a new id. Nothing is
    /// copied: the tables journal what changes from now on. At most [`super::MAX_SNAPSHOTS`] are
    /// held; taking another forgets the oldest (its id no longer reverts).
    pub(crate) fn snapshot(&mut self) -> U256 {
        if self.snapshots.len() >= super::MAX_SNAPSHOTS {
            self.snapshots.pop_front();
            self.wallet.forget_oldest_marks();
            self.chains.values_mut().for_each(Tables::forget_oldest_marks);
        }
        self.wallet.mark_tables();
        self.chains.values_mut().for_each(Tables::mark_tables);
        let id = self.next_snapshot;
        self.next_snapshot = id.saturating_add(1);
        self.snapshots.push_back(id);
        U256::from(id)
    }

    /// `evm_revert`: back to a snapshot (it and later ones are used up). `false` if unknown.
    pub(crate) fn revert_to(&mut self, id: U256) -> bool {
        let Ok(id) = u64::try_from(id) else { return false };
        let Some(depth) = self.snapshots.iter().position(|s| *s == id) else { return false };
        self.snapshots.truncate(depth);
        self.wallet.revert_tables(depth);
        for c in self.chains.values_mut() {
            c.revert_tables(depth);
        }
        true
    }
}

/// An injected failure's message, cut to [`MAX_FAIL_MESSAGE`] bytes (on a character boundary).
pub(crate) fn bounded_fail_message(mut message: String) -> String {
    if message.len() > MAX_FAIL_MESSAGE {
        let mut end = MAX_FAIL_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    message
}

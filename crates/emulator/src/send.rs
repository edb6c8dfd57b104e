//! `wallet_sendPreparedCalls`, `wallet_getCallsStatus`, the ledger, and the controls.

use crate::core::{invalid, recover, Emulator, EMULATOR_PAYMASTER, R, USER_OPERATION_EVENT};
use crate::state::{AccountState, CallRecord, Outcome, State};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256, U64, U8};
use alloy_sol_types::{SolCall, SolValue};
use sesskey_account::abi::{approveCall, transferCall, transferFromCall};
use sesskey_account::{
    call_id, decode_calls, has_exec_hooks, pack_deferred_signature, pack_signature, Nonce, Policy,
    Violation,
};
use sesskey_rpc::{SessionInfo, WalletError};
use sesskey_signing::{
    eip191_digest, eip7702_digest, user_op_v07_hash, AuthorizationTuple, ENTRY_POINT_V07,
};
use sesskey_types::*;
use std::collections::HashMap;

/// Executes `calls` from `sender` on a copy of the touched accounts; answers the copy to commit,
/// or `None` when a call reverts (the batch is atomic).
fn execute(
    state: &State,
    chain: u64,
    sender: Address,
    calls: &[Call],
) -> Option<HashMap<Address, AccountState>> {
    let mut touched: HashMap<Address, AccountState> = HashMap::new();
    fn get<'a>(
        t: &'a mut HashMap<Address, AccountState>,
        s: &State,
        chain: u64,
        a: Address,
    ) -> &'a mut AccountState {
        t.entry(a).or_insert_with(|| {
            s.accounts
                .get(&(chain, a))
                .cloned()
                .unwrap_or(AccountState { next_entity: 1, ..Default::default() })
        })
    }
    for c in calls {
        let value = c.value_or_zero();
        if !value.is_zero() {
            let from = get(&mut touched, state, chain, sender);
            from.native = from.native.checked_sub(value)?;
            let to = get(&mut touched, state, chain, c.to);
            to.native = to.native.saturating_add(value);
        }
        let data = c.data_or_empty();
        let token = c.to;
        let selector = data.get(..4);
        let mv = |t: &mut HashMap<Address, AccountState>,
                  from: Address,
                  to: Address,
                  amount: U256|
         -> Option<()> {
            let f = get(t, state, chain, from).erc20.entry(token).or_default();
            *f = f.checked_sub(amount)?;
            let d = get(t, state, chain, to).erc20.entry(token).or_default();
            *d = d.saturating_add(amount);
            Some(())
        };
        if selector == Some(&transferCall::SELECTOR[..]) {
            let t = transferCall::abi_decode(&data).ok()?;
            mv(&mut touched, sender, t.to, t.amount)?;
        } else if selector == Some(&approveCall::SELECTOR[..]) {
            let a = approveCall::abi_decode(&data).ok()?;
            get(&mut touched, state, chain, sender).allowances.insert((token, a.spender), a.amount);
        } else if selector == Some(&transferFromCall::SELECTOR[..]) {
            let t = transferFromCall::abi_decode(&data).ok()?;
            let owner = get(&mut touched, state, chain, t.from);
            let allowance = owner.allowances.entry((token, sender)).or_default();
            *allowance = allowance.checked_sub(t.amount)?;
            mv(&mut touched, t.from, t.to, t.amount)?;
        }
    }
    Some(touched)
}

impl Emulator {
    /// `wallet_sendPreparedCalls`.
    pub fn send_prepared_calls(
        &self,
        params: SendPreparedCallsParams,
    ) -> R<SendPreparedCallsResult> {
        let (auths, op) = match params.calls {
            SignedCalls::UserOperationV070(op) => (vec![], op),
            SignedCalls::Array(SignedArray { data }) => {
                let mut auths = vec![];
                let mut ops = vec![];
                for e in data {
                    match e {
                        SignedElement::Authorization(a) => auths.push(a),
                        SignedElement::UserOperationV070(o) => ops.push(o),
                        SignedElement::UserOperationV060(_) => {
                            return Err(invalid("invalid `data`: user-operation-v060 is not served (MAv2 uses EntryPoint v0.7)"))
                        }
                    }
                }
                if ops.len() != 1 {
                    return Err(invalid(
                        "invalid `data`: an array must hold exactly one user-operation-v070",
                    ));
                }
                (auths, ops.remove(0))
            }
            SignedCalls::UserOperationV060(_) => {
                return Err(invalid(
                    "invalid `type`: user-operation-v060 is not served (MAv2 uses EntryPoint v0.7)",
                ))
            }
            SignedCalls::Authorization(a) => return self.send_lone_authorization(a),
        };
        let chain = self.check_chain(op.chain_id)?;
        let caps = params.capabilities.unwrap_or_default();
        let data = &op.data;
        let sender = data.sender;
        let hash = user_op_v07_hash(data, ENTRY_POINT_V07, chain);
        // Recover every signer before taking the lock: it needs no state, and it is the costliest step.
        let digest = eip191_digest(hash.as_slice());
        let op_signer = recover(digest, &op.signature.data);
        let auth_signers: Vec<Option<Address>> = auths
            .iter()
            .map(|a| {
                recover(
                    eip7702_digest(&AuthorizationTuple::from_wire(&a.data, a.chain_id)),
                    &a.signature.data,
                )
                .ok()
            })
            .collect();
        let mut inner = self.lock();
        let now = inner.clock.now();
        let settle_after = self.config().settle_after_ms;
        let now_ms = inner.clock.now_ms();

        // EIP-7702 authorizations: signed by the EOA, for its current nonce (relayed).
        let mut acct = inner.state.account(chain, sender).clone();
        for (a, signer) in auths.iter().zip(&auth_signers) {
            if a.chain_id.to::<u64>() != chain && !a.chain_id.is_zero() {
                return Err(invalid(format!(
                    "invalid `data`: authorization for chain {:#x}",
                    a.chain_id
                )));
            }
            let tuple = AuthorizationTuple::from_wire(&a.data, a.chain_id);
            if *signer != Some(sender) {
                return Err(WalletError::Eip7702AuthInvalid);
            }
            if tuple.nonce != acct.eoa_nonce {
                return Err(WalletError::Eip7702NonceMismatch);
            }
            if a.data.address != MODULAR_ACCOUNT_V2_7702 && !a.data.address.is_zero() {
                return Err(invalid(
                    "invalid `data.address`: the delegation must be ModularAccountV2",
                ));
            }
            acct.eoa_nonce += 1;
            acct.delegation = (!a.data.address.is_zero()).then_some(a.data.address);
        }
        if acct.delegation.is_none() {
            return Err(WalletError::ValidationReverted {
                reason: format!("{sender} has no code"),
                aa: "AA20 account not deployed".into(),
            });
        }
        let (key, seq) = (data.nonce >> 64, data.nonce.as_limbs()[0]);
        if acct.sequences.get(&key).copied().unwrap_or(0) != seq {
            return Err(WalletError::ValidationReverted {
                reason: "0x".into(),
                aa: "AA25 invalid account nonce".into(),
            });
        }
        let prepared = inner.state.prepared.get(&hash).cloned();
        let sponsored = match data.paymaster {
            Some(pm) => {
                if pm != EMULATOR_PAYMASTER || !prepared.as_ref().is_some_and(|p| p.sponsored) {
                    return Err(WalletError::ValidationReverted {
                        reason: "paymaster signature".into(),
                        aa: "AA34 signature error".into(),
                    });
                }
                true
            }
            None => false,
        };
        let max_cost = crate::core::op_max_cost(data);
        if !sponsored && acct.native < max_cost {
            return Err(WalletError::PrecheckFailed(format!(
                "sender balance and deposit together is {} but must be at least {max_cost} to pay for this operation",
                acct.native
            )));
        }
        let decoded = decode_calls(sender, &data.call_data).map_err(|e| {
            WalletError::ValidationReverted { reason: e.to_string(), aa: "AA23 reverted".into() }
        })?;
        let nonce = Nonce::decode(data.nonce);
        let mut session_update = None;
        let packed = match &caps.permissions {
            Some(cap) => {
                let (id, session, owner_sig) =
                    self.session(&mut inner.state, cap, sender, chain)?;
                if op_signer? != session.session_key || nonce.entity_id != session.entity_id {
                    return Err(WalletError::InvalidAccountSignature);
                }
                if decoded.execute_user_op != has_exec_hooks(&session.permissions) {
                    return Err(WalletError::ValidationReverted {
                        reason: "RequireUserOperationContext".into(),
                        aa: "AA23 reverted".into(),
                    });
                }
                let policy = Policy {
                    account: sender,
                    permissions: session.permissions.clone(),
                    expiry: session.action.deadline,
                };
                let spend = policy
                    .evaluate(
                        &session.spent,
                        now,
                        &decoded.calls,
                        if sponsored { U256::ZERO } else { max_cost },
                    )
                    .map_err(crate::core::violation)?;
                let sig = crate::core::sig65(&op.signature.data)?;
                let packed = if nonce.deferred_action {
                    if session.installed || data.nonce != session.action.nonce {
                        return Err(WalletError::ValidationReverted {
                            reason: "0x".into(),
                            aa: "AA25 invalid account nonce".into(),
                        });
                    }
                    pack_deferred_signature(&session.action, &owner_sig, &sig)
                } else {
                    if !session.installed {
                        return Err(WalletError::InvalidAccountSignature);
                    }
                    pack_signature(&sig)
                };
                session_update = Some((id, spend));
                packed
            }
            None => {
                if op_signer? != sender || nonce.entity_id != 0 {
                    return Err(WalletError::InvalidAccountSignature);
                }
                pack_signature(&crate::core::sig65(&op.signature.data)?)
            }
        };

        // Included: the nonce is used, authorizations applied, gas paid; the calls run atomically.
        let gas_used = 60_000 + 25_000 * decoded.calls.len() as u64;
        let gas_cost = U256::from(gas_used) * U256::from(data.max_fee_per_gas);
        *acct.sequences.entry(key).or_insert(0) += 1;
        if !sponsored {
            acct.native = acct.native.saturating_sub(gas_cost);
        }
        inner.state.put_account(chain, sender, acct);
        let outcome = match execute(&inner.state, chain, sender, &decoded.calls) {
            Some(touched) => {
                for (a, s) in touched {
                    inner.state.put_account(chain, a, s);
                }
                Outcome::Success
            }
            None => Outcome::Reverted,
        };
        if let Some((id, mut spend)) = session_update {
            if let Some(s) = inner.state.session_mut(&id) {
                if outcome == Outcome::Reverted {
                    // Execution hooks roll back with the calls; the gas hook ran in validation.
                    spend = sesskey_account::Spend { gas: spend.gas, ..Default::default() };
                }
                s.installed = true;
                s.spent.add(&spend);
            }
        }
        inner.state.block += 1;
        let id = call_id(chain, hash);
        let block = inner.state.block;
        inner.state.put_call(
            id.clone(),
            CallRecord {
                chain_id: chain,
                hash,
                sender,
                nonce: data.nonce,
                paymaster: data.paymaster.unwrap_or_default(),
                calls: decoded.calls.clone(),
                settle_at: now_ms + settle_after,
                outcome: Some(outcome),
                packed_signature: packed,
                gas_used,
                gas_cost,
                block,
                delegation: false,
            },
        );
        inner.commit()?;
        Ok(SendPreparedCallsResult {
            id: id.clone(),
            prepared_call_ids: vec![id],
            details: CallDetails::UserOperation {
                data: UserOperationDetails {
                    hash,
                    calls: Some(decoded.calls),
                    pending_bundle: None,
                },
            },
        })
    }

    /// A lone signed authorization: the EOA that signed it (un)delegates, for its current nonce.
    fn send_lone_authorization(&self, a: SignedAuthorization) -> R<SendPreparedCallsResult> {
        let chain = self.check_chain(a.chain_id)?;
        if a.data.address != MODULAR_ACCOUNT_V2_7702 && !a.data.address.is_zero() {
            return Err(invalid("invalid `data.address`: the delegation must be ModularAccountV2 or the zero address"));
        }
        let tuple = AuthorizationTuple::from_wire(&a.data, a.chain_id);
        let digest = eip7702_digest(&tuple);
        let eoa =
            recover(digest, &a.signature.data).map_err(|_| WalletError::Eip7702AuthInvalid)?;
        let mut inner = self.lock();
        let now_ms = inner.clock.now_ms();
        let acct = inner.state.account(chain, eoa);
        if tuple.nonce != acct.eoa_nonce {
            return Err(WalletError::Eip7702NonceMismatch);
        }
        acct.eoa_nonce += 1;
        acct.delegation = (!a.data.address.is_zero()).then_some(a.data.address);
        inner.state.block += 1;
        let block = inner.state.block;
        let id = call_id(chain, digest);
        let settle_at = now_ms + self.config().settle_after_ms;
        inner.state.put_call(
            id.clone(),
            CallRecord {
                chain_id: chain,
                hash: digest,
                sender: eoa,
                nonce: U256::from(tuple.nonce),
                paymaster: Address::ZERO,
                calls: vec![],
                settle_at,
                outcome: Some(Outcome::Success),
                packed_signature: Bytes::new(),
                gas_used: 25_000,
                gas_cost: U256::ZERO,
                block,
                delegation: true,
            },
        );
        inner.commit()?;
        Ok(SendPreparedCallsResult {
            id: id.clone(),
            prepared_call_ids: vec![id],
            details: CallDetails::Delegation { tx_hash: None },
        })
    }

    /// `wallet_getCallsStatus`.
    pub fn get_calls_status(&self, id: CallId) -> R<CallsStatus> {
        let inner = self.lock();
        let now = inner.clock.now_ms();
        let record = inner.state.calls.get(&id.0).ok_or(WalletError::UnknownCallId)?;
        let settled = now >= record.settle_at;
        let block_hash = keccak256([&b"block"[..], &record.block.to_be_bytes()].concat());
        let tx_hash = keccak256([&b"tx"[..], record.hash.as_slice()].concat());
        let (status, receipts, pending_bundle) = if !settled {
            (
                CallStatusCode::Pending,
                None,
                Some(PendingBundle { tx_hash, sent_at_block: U64::from(record.block) }),
            )
        } else {
            let success = record.outcome == Some(Outcome::Success);
            let topics = vec![
                keccak256(USER_OPERATION_EVENT),
                record.hash,
                B256::left_padding_from(record.sender.as_slice()),
                B256::left_padding_from(record.paymaster.as_slice()),
            ];
            let data = (record.nonce, success, record.gas_cost, U256::from(record.gas_used))
                .abi_encode_params();
            let receipt = Receipt {
                logs: vec![Log { address: ENTRY_POINT_V07, data: data.into(), topics }],
                status: U8::from(success as u8),
                block_hash,
                block_number: U64::from(record.block),
                gas_used: U256::from(record.gas_used),
                transaction_hash: tx_hash,
            };
            let code =
                if success { CallStatusCode::Confirmed } else { CallStatusCode::ChainRulesFailure };
            (code, Some(vec![receipt]), None)
        };
        if record.delegation {
            let receipts = settled.then(|| {
                vec![Receipt {
                    logs: vec![],
                    status: U8::from(1),
                    block_hash,
                    block_number: U64::from(record.block),
                    gas_used: U256::from(record.gas_used),
                    transaction_hash: tx_hash,
                }]
            });
            return Ok(CallsStatus {
                id: id.0.clone(),
                chain_id: U64::from(record.chain_id),
                atomic: true,
                status: if settled { CallStatusCode::Confirmed } else { CallStatusCode::Pending },
                receipts,
                details: CallDetails::Delegation { tx_hash: settled.then_some(tx_hash) },
            });
        }
        Ok(CallsStatus {
            id: id.0.clone(),
            chain_id: U64::from(record.chain_id),
            atomic: true,
            status,
            receipts,
            details: CallDetails::UserOperation {
                data: UserOperationDetails {
                    hash: record.hash,
                    calls: Some(record.calls.clone()),
                    pending_bundle,
                },
            },
        })
    }

    // ---- controls ----

    /// The clock, in unix seconds.
    pub fn now(&self) -> u64 {
        self.lock().clock.now()
    }

    /// Sets the clock.
    pub fn set_time(&self, unix_seconds: u64) -> u64 {
        let mut inner = self.lock();
        inner.clock.set(unix_seconds);
        let _ = inner.commit();
        inner.clock.now()
    }

    /// Moves the clock forward.
    pub fn increase_time(&self, seconds: u64) -> u64 {
        let mut inner = self.lock();
        inner.clock.advance(seconds);
        let _ = inner.commit();
        inner.clock.now()
    }

    /// Sets a native balance.
    pub fn set_balance(&self, chain: U64, account: Address, wei: U256) -> R<()> {
        let chain = self.check_chain(chain)?;
        let mut inner = self.lock();
        inner.state.account(chain, account).native = wei;
        inner.commit()
    }

    /// A native balance.
    pub fn balance(&self, chain: U64, account: Address) -> R<U256> {
        let chain = self.check_chain(chain)?;
        Ok(self.lock().state.account(chain, account).native)
    }

    /// Sets an ERC-20 balance.
    pub fn set_erc20_balance(
        &self,
        chain: U64,
        token: Address,
        account: Address,
        amount: U256,
    ) -> R<()> {
        let chain = self.check_chain(chain)?;
        let mut inner = self.lock();
        inner.state.account(chain, account).erc20.insert(token, amount);
        inner.commit()
    }

    /// An ERC-20 balance.
    pub fn erc20_balance(&self, chain: U64, token: Address, account: Address) -> R<U256> {
        let chain = self.check_chain(chain)?;
        Ok(self.lock().state.account(chain, account).erc20.get(&token).copied().unwrap_or_default())
    }

    /// Sets an account's EIP-7702 delegation directly (a test shortcut for a signed delegation).
    pub fn set_delegation(
        &self,
        chain: U64,
        account: Address,
        delegation: Option<Address>,
    ) -> R<()> {
        let chain = self.check_chain(chain)?;
        let mut inner = self.lock();
        inner.state.account(chain, account).delegation = delegation;
        inner.commit()
    }

    /// Settles every pending call now.
    pub fn settle(&self) -> usize {
        let mut inner = self.lock();
        let now = inner.clock.now_ms();
        let mut n = 0;
        let inner = &mut *inner;
        for (id, c) in inner.state.calls.iter_mut() {
            if c.settle_at > now {
                c.settle_at = now;
                inner.state.dirty.calls.insert(id.clone());
                n += 1;
            }
        }
        let _ = inner.commit();
        n
    }

    /// Every session and what is left of its budgets.
    pub fn list_sessions(&self) -> Vec<SessionInfo> {
        let inner = self.lock();
        let mut out: Vec<SessionInfo> = inner
            .state
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
                    chain_id: U64::from(s.chain_id),
                    session_key: s.session_key,
                    entity_id: s.entity_id,
                    expiry: s.action.deadline,
                    permissions: s.permissions.clone(),
                    installed: s.installed,
                    revoked: s.revoked,
                    native_left,
                    gas_left,
                    erc20_left,
                }
            })
            .collect();
        out.sort_by_key(|s| (s.account, s.entity_id));
        out
    }

    /// Revokes a session.
    pub fn revoke_session(&self, id: SessionId) -> R<()> {
        let mut inner = self.lock();
        let s = inner
            .state
            .sessions
            .get_mut(&id)
            .ok_or_else(|| invalid(format!("unknown session {id}")))?;
        s.revoked = true;
        inner.commit()
    }

    /// Makes the next call of `method` fail.
    pub fn fail_next(&self, method: String, code: i32, message: String) {
        let mut inner = self.lock();
        inner.state.fail_next.insert(method, (code, message));
        let _ = inner.commit();
    }

    /// The packed `userOp.signature` of a call.
    pub fn packed_signature(&self, id: &CallId) -> R<Bytes> {
        let inner = self.lock();
        inner
            .state
            .calls
            .get(&id.0)
            .map(|c| c.packed_signature.clone())
            .ok_or(WalletError::UnknownCallId)
    }

    /// Violations read as the server reports them.
    pub fn describe_violation(v: Violation) -> WalletError {
        crate::core::violation(v)
    }
}

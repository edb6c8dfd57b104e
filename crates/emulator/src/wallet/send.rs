//! `wallet_sendPreparedCalls`: checks the signed operation as the EntryPoint and the account
//! would, then includes it in a block: the calls run on the EVM, the gas is paid, the nonce used.

use super::bundle::{bundle_transaction, handle_ops_call, signed_authorization, BUNDLER};
use super::errors::{bad_nonce, first_op_replayed, invalid};
use super::gas::{self, max_cost_checked};
use super::policy::{judge, Verdict};
use super::sessions::sig65;
use super::{Core, EMULATOR_PAYMASTER, R};
use crate::chain::Mined;
use crate::state::CallRecord;
use alloy_primitives::{Address, Bytes, Log, LogData, B256, U256};
use alloy_sol_types::{sol, SolEvent};
use sesskey_account::{
    call_id, decode_calls, has_exec_hooks, pack_deferred_signature, pack_signature, Nonce, Spend,
};
use sesskey_rpc::WalletError;
use sesskey_signing::{
    eip191_digest, eip7702_digest, user_op_v07_hash, AuthorizationTuple, ENTRY_POINT_V07,
};
use sesskey_types::*;

sol! {
    /// EntryPoint v0.7.
    event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed);
    /// EntryPoint v0.7: why an included op's calls failed.
    event UserOperationRevertReason(bytes32 indexed userOpHash, address indexed sender, uint256 nonce, bytes revertReason);
}

/// A send, taken apart, with its signers recovered before the state is locked (recovery needs
/// no state and is the costliest step).
#[derive(Debug)]
pub(crate) enum Signed {
    Op {
        auths: Vec<(SignedAuthorization, Option<Address>)>,
        op: Box<SignedUserOperationV07>,
        hash: B256,
        signer: Option<Address>,
        capabilities: SendPreparedCallsCapabilities,
    },
    Authorization(SignedAuthorization, Option<Address>),
}

/// Takes a send apart and recovers its signers.
pub(crate) fn recover_signers(params: SendPreparedCallsParams) -> R<Signed> {
    let auth_signer = |a: &SignedAuthorization| {
        let digest = eip7702_digest(&AuthorizationTuple::from_wire(&a.data, a.chain_id));
        sesskey_signing::recover(digest, &a.signature.data).ok()
    };
    let v060 =
        || invalid("invalid `type`: user-operation-v060 is not served (MAv2 uses EntryPoint v0.7)");
    let (auths, op) = match params.calls {
        SignedCalls::UserOperationV070(op) => (vec![], op),
        SignedCalls::Array(SignedArray { data }) => {
            super::errors::at_most("data", data.len(), super::MAX_SIGNED_ELEMENTS)?;
            let mut auths = vec![];
            let mut ops = vec![];
            for e in data {
                match e {
                    SignedElement::Authorization(a) => auths.push(a),
                    SignedElement::UserOperationV070(o) => ops.push(o),
                    SignedElement::UserOperationV060(_) => return Err(v060()),
                }
            }
            if ops.len() != 1 {
                return Err(invalid(
                    "invalid `data`: an array must hold exactly one user-operation-v070",
                ));
            }
            (auths, ops.remove(0))
        }
        SignedCalls::UserOperationV060(_) => return Err(v060()),
        SignedCalls::Authorization(a) => {
            let signer = auth_signer(&a);
            return Ok(Signed::Authorization(a, signer));
        }
    };
    let chain: u64 = op.chain_id.saturating_to();
    let hash = user_op_v07_hash(&op.data, ENTRY_POINT_V07, chain);
    let signer = sesskey_signing::recover(eip191_digest(hash.as_slice()), &op.signature.data).ok();
    let auths = auths
        .into_iter()
        .map(|a| {
            let s = auth_signer(&a);
            (a, s)
        })
        .collect();
    Ok(Signed::Op {
        auths,
        op: Box::new(op),
        hash,
        signer,
        capabilities: params.capabilities.unwrap_or_default(),
    })
}

impl Core {
    /// `wallet_sendPreparedCalls`, its signers already recovered.
    pub(crate) fn send_prepared_calls(&mut self, signed: Signed) -> R<SendPreparedCallsResult> {
        let (auths, op, hash, op_signer, caps) = match signed {
            Signed::Authorization(a, signer) => return self.send_lone_authorization(a, signer),
            Signed::Op { auths, op, hash, signer, capabilities } => {
                (auths, op, hash, signer, capabilities)
            }
        };
        let chain = self.check_chain(op.chain_id)?;
        let data = &op.data;
        let sender = data.sender;
        let now = self.clock.now();

        // EIP-7702 authorizations: signed by the EOA, for its current nonce (relayed).
        for (a, signer) in &auths {
            if a.chain_id.to::<u64>() != chain && !a.chain_id.is_zero() {
                return Err(invalid(format!(
                    "invalid `data`: authorization for chain {:#x}",
                    a.chain_id
                )));
            }
            if *signer != Some(sender) {
                return Err(WalletError::Eip7702AuthInvalid);
            }
            if a.data.nonce.saturating_to::<u64>() != self.chain(chain).account(sender).nonce {
                return Err(WalletError::Eip7702NonceMismatch);
            }
            if a.data.address != MODULAR_ACCOUNT_V2_7702 && !a.data.address.is_zero() {
                return Err(invalid(
                    "invalid `data.address`: the delegation must be ModularAccountV2",
                ));
            }
            self.chain_mut(chain).apply_authorization(sender, a.data.address);
        }
        if self.chain(chain).delegation(sender).is_none() {
            return Err(WalletError::ValidationReverted {
                reason: format!("{sender} has no code"),
                aa: "AA20 account not deployed".into(),
                data: None,
            });
        }
        let nonce = Nonce::decode(data.nonce);
        let resolved = match &caps.permissions {
            Some(cap) => Some(self.resolve_session(cap, sender, chain)?),
            None => None,
        };
        if let Some(r) = &resolved {
            if nonce.deferred_action && r.session.installed && data.nonce == r.session.action.nonce
            {
                let s = &r.session;
                return Err(first_op_replayed(&s.permissions, s.action.deadline, s.entity_id));
            }
        }
        let key = data.nonce >> 64;
        let seq = data.nonce.as_limbs()[0];
        if self.chain(chain).nonce_sequence(sender, key) != seq {
            return Err(bad_nonce());
        }
        let sponsored = match data.paymaster {
            Some(pm) => {
                if pm != EMULATOR_PAYMASTER
                    || !self.wallet.prepared.get(&hash).is_some_and(|p| p.sponsored)
                {
                    return Err(WalletError::ValidationReverted {
                        reason: "paymaster signature".into(),
                        aa: "AA34 signature error".into(),
                        data: None,
                    });
                }
                true
            }
            None => false,
        };
        let max_cost = max_cost_checked(data)?;
        let balance = self.chain(chain).account(sender).balance;
        if !sponsored && balance < max_cost {
            return Err(WalletError::PrecheckFailed(format!(
                "sender balance and deposit together is {balance} but must be at least {max_cost} to pay for this operation"
            )));
        }
        let decoded =
            decode_calls(sender, &data.call_data).map_err(|e| WalletError::ValidationReverted {
                reason: e.to_string(),
                aa: "AA23 reverted".into(),
                data: None,
            })?;
        let sig = sig65(&op.signature.data)?;
        let (packed, verdict) = match &resolved {
            Some(r) => {
                let s = &r.session;
                if op_signer != Some(s.session_key) || nonce.entity_id != s.entity_id {
                    return Err(WalletError::InvalidAccountSignature);
                }
                if decoded.execute_user_op != has_exec_hooks(&s.permissions) {
                    return Err(WalletError::ValidationReverted {
                        reason: "RequireUserOperationContext".into(),
                        aa: "AA23 reverted".into(),
                        data: None,
                    });
                }
                let gas_cost = if sponsored { U256::ZERO } else { max_cost };
                let verdict = judge(s, now, &decoded.calls, gas_cost)?;
                let packed = if nonce.deferred_action {
                    if data.nonce != s.action.nonce {
                        return Err(bad_nonce());
                    }
                    pack_deferred_signature(&s.action(), &r.owner_signature, &sig)
                } else {
                    if !s.installed {
                        return Err(WalletError::InvalidAccountSignature);
                    }
                    pack_signature(&sig)
                };
                (packed, Some((r.id, r.session.entity_id, r.session.permissions.clone(), verdict)))
            }
            None => {
                if op_signer != Some(sender) || nonce.entity_id != 0 {
                    return Err(WalletError::InvalidAccountSignature);
                }
                (pack_signature(&sig), None)
            }
        };

        // Included: the nonce is used and the gas paid, whatever the calls do.
        self.chain_mut(chain).use_nonce(sender, key);
        let hook_revert = match &verdict {
            Some((_, entity, perms, Verdict::ExecutionHookReverts { violation, .. })) => {
                Some(super::errors::exec_hook_revert(violation, *entity).unwrap_or_else(|| {
                    super::errors::violation(violation, *entity, perms)
                        .revert_data()
                        .cloned()
                        .unwrap_or_default()
                }))
            }
            _ => None,
        };
        let (validation, path) = op_gas_shape(
            resolved.as_ref().map(|r| &r.session),
            &decoded.calls,
            nonce.deferred_action,
        );
        let call_gas: u64 = data.call_gas_limit.saturating_to();
        let c = self.chains.get_mut(&chain).expect("checked");
        let env = c.next_block_env(now);
        let run = match &hook_revert {
            Some(reason) => crate::chain::OpRun {
                success: false,
                failure: Some((0, reason.clone())),
                ..Default::default()
            },
            // The account's path and hooks run out of call gas before the calls: included,
            // failed, no revert reason (spec §12.1).
            None if call_gas < path.overhead() => crate::chain::OpRun {
                success: false,
                gas: call_gas,
                failure: Some((0, Bytes::new())),
                ..Default::default()
            },
            None => c
                .run_calls(&env, sender, &decoded.calls, call_gas - path.overhead())
                .map_err(|e| WalletError::Internal(e.to_string()))?,
        };
        let gas_used = gas::gas_used(data, validation, &path, run.gas);
        let price = gas::effective_gas_price(data, env.basefee);
        let gas_cost = U256::from(gas_used).saturating_mul(U256::from(price)).min(max_cost);
        if sponsored {
            // The paymaster's deposit at the EntryPoint pays, as on chain.
            c.charge_deposit(EMULATOR_PAYMASTER, gas_cost).map_err(|deposit| {
                WalletError::ValidationReverted {
                    reason: format!("the paymaster's deposit {deposit} cannot pay {gas_cost} wei"),
                    aa: "AA31 paymaster deposit too low".into(),
                    data: None,
                }
            })?;
        } else {
            let balance = c.account(sender).balance;
            let Some(left) = balance.checked_sub(gas_cost) else {
                return Err(WalletError::PrecheckFailed(format!(
                    "{sender} cannot pay {gas_cost} wei of gas (balance {balance})"
                )));
            };
            c.set_balance(sender, left);
        }
        if verdict.is_none() && run.success {
            // The owner uninstalled a session's validation: the account refuses its key now.
            let removed: Vec<u32> = decoded
                .calls
                .iter()
                .filter(|c| c.to == sender)
                .filter_map(|c| sesskey_account::decode_uninstall(&c.data_or_empty()))
                .collect();
            if !removed.is_empty() {
                self.wallet.account_mut(chain, sender).uninstalled.extend(removed);
            }
        }
        if let Some((id, _, _, verdict)) = verdict {
            let spend = match verdict {
                Verdict::Allowed(spend) if run.success => spend,
                Verdict::Allowed(spend) | Verdict::ExecutionHookReverts { gas: spend, .. } => {
                    Spend { gas: spend.gas, ..Default::default() }
                }
            };
            let s = self.wallet.sessions.get_mut(&id).expect("resolved");
            s.installed = true;
            let mut spent = Spend::from(&s.spent);
            spent.add(&spend);
            s.spent = spent.into();
        }
        let c = self.chains.get_mut(&chain).expect("checked");
        let relayed = auths.iter().filter_map(|(a, _)| signed_authorization(a)).collect();
        let bundle = bundle_transaction(
            c,
            ENTRY_POINT_V07,
            handle_ops_call(data, packed.clone()),
            relayed,
            gas_used.saturating_add(21_000),
            price,
        );
        let tx_hash = *bundle.tx_hash();
        let mut logs = run.logs.clone();
        let paymaster = data.paymaster.unwrap_or_default();
        // The EntryPoint reports a failed call's revert data only when there is some.
        if let Some((_, reason)) = run.failure.as_ref().filter(|(_, r)| !r.is_empty()) {
            logs.push(entry_point_log(
                UserOperationRevertReason {
                    userOpHash: hash,
                    sender,
                    nonce: data.nonce,
                    revertReason: reason.clone(),
                }
                .encode_log_data(),
            ));
        }
        logs.push(entry_point_log(
            UserOperationEvent {
                userOpHash: hash,
                sender,
                paymaster,
                nonce: data.nonce,
                success: run.success,
                actualGasCost: gas_cost,
                actualGasUsed: U256::from(gas_used),
            }
            .encode_log_data(),
        ));
        let c = self.chains.get_mut(&chain).expect("checked");
        c.mine(
            &env,
            vec![Mined {
                hash: tx_hash,
                tx: Some((bundle, BUNDLER)),
                from: BUNDLER,
                to: Some(ENTRY_POINT_V07),
                contract_address: None,
                success: true,
                gas_used,
                effective_gas_price: price,
                logs,
            }],
        );
        let id = self.record_call(CallRecord {
            chain_id: chain,
            hash,
            calls: decoded.calls.clone(),
            settle_at: self.settle_at(),
            success: run.success,
            packed_signature: packed,
            tx_hash,
            delegation: false,
        });
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

    /// When a call included now reports its final status (`Config::settle_after_ms` from now).
    fn settle_at(&self) -> u64 {
        self.clock.now_ms().saturating_add(self.config.settle_after_ms)
    }

    /// Keeps an included call under its id (chain id ‖ hash) and answers the id.
    fn record_call(&mut self, record: CallRecord) -> Bytes {
        let id = call_id(record.chain_id, record.hash);
        self.wallet.calls.put(id.clone(), record);
        id
    }

    /// A lone signed authorization: the EOA that signed it (un)delegates, for its current nonce.
    fn send_lone_authorization(
        &mut self,
        a: SignedAuthorization,
        signer: Option<Address>,
    ) -> R<SendPreparedCallsResult> {
        let chain = self.check_chain(a.chain_id)?;
        if a.data.address != MODULAR_ACCOUNT_V2_7702 && !a.data.address.is_zero() {
            return Err(invalid("invalid `data.address`: the delegation must be ModularAccountV2 or the zero address"));
        }
        let tuple = AuthorizationTuple::from_wire(&a.data, a.chain_id);
        let digest = eip7702_digest(&tuple);
        let eoa = signer.ok_or(WalletError::Eip7702AuthInvalid)?;
        let now = self.clock.now();
        let c = self.chain_mut(chain);
        if tuple.nonce != c.account(eoa).nonce {
            return Err(WalletError::Eip7702NonceMismatch);
        }
        c.apply_authorization(eoa, a.data.address);
        let env = c.next_block_env(now);
        let price = u128::from(env.basefee).saturating_add(u128::from(crate::chain::PRIORITY_FEE));
        let relayed = signed_authorization(&a).into_iter().collect();
        let gas = 21_000 + 25_000;
        let tx = bundle_transaction(c, eoa, Bytes::new(), relayed, gas, price);
        let tx_hash = *tx.tx_hash();
        c.mine(
            &env,
            vec![Mined {
                hash: tx_hash,
                tx: Some((tx, BUNDLER)),
                from: BUNDLER,
                to: Some(eoa),
                contract_address: None,
                success: true,
                gas_used: gas,
                effective_gas_price: price,
                logs: vec![],
            }],
        );
        let id = self.record_call(CallRecord {
            chain_id: chain,
            hash: digest,
            calls: vec![],
            settle_at: self.settle_at(),
            success: true,
            packed_signature: Bytes::new(),
            tx_hash,
            delegation: true,
        });
        Ok(SendPreparedCallsResult {
            id: id.clone(),
            prepared_call_ids: vec![id],
            details: CallDetails::Delegation { tx_hash: None },
        })
    }
}

/// Who validates an op and what runs around its calls, for its gas.
fn op_gas_shape(
    session: Option<&crate::state::Session>,
    calls: &[Call],
    first_op: bool,
) -> (gas::Validation, gas::ExecPath) {
    match session {
        Some(s) => {
            let validation = if first_op {
                gas::Validation::SessionFirst { install_call_len: s.action.call.len() }
            } else {
                gas::Validation::SessionLater {
                    hooks: gas::validation_hooks(&s.permissions, s.action.deadline),
                }
            };
            let path =
                gas::ExecPath::of(calls.len(), Some(&s.permissions), first_op, s.action.deadline);
            (validation, path)
        }
        None => (gas::Validation::Owner, gas::ExecPath::of(calls.len(), None, false, 0)),
    }
}

fn entry_point_log(data: LogData) -> Log {
    Log { address: ENTRY_POINT_V07, data }
}

//! `wallet_sendPreparedCalls`, second step: inclusion. An op that passed admission (`admit`)
//! goes into a block: its authorizations apply, its nonce is used, its calls run on the EVM, its
//! gas is paid; a lone EIP-7702 (un)delegation is mined the same way.

use super::admit::Admitted;
use super::bundle::{bundle_transaction, handle_ops_call, signed_authorization, BUNDLER};
use super::errors::invalid;
use super::gas;
use super::policy::Verdict;
use super::token_gas;
use super::{Core, EMULATOR_PAYMASTER, R};
use crate::chain::{Mined, OpRun};
use crate::state::CallRecord;
use alloy_primitives::{Address, Bytes, Log, LogData, B256, U256};
use alloy_sol_types::{sol, SolEvent};
use sesskey_account::{call_id, Spend};
use sesskey_rpc::WalletError;
use sesskey_signing::{
    eip191_digest, eip7702_digest, user_op_v07_hash, AuthorizationTuple, ENTRY_POINT_V07,
};
use sesskey_types::*;

sol! {
    /// EntryPoint v0.7.
    event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed);
    /// EntryPoint v0.7: an op deployed its account.
    event AccountDeployed(bytes32 indexed userOpHash, address indexed sender, address factory, address paymaster);
    /// ModularAccountV2's factory deployed an SMA-B account.
    event SemiModularAccountDeployed(address indexed account, address indexed owner, uint256 salt);
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
    /// `wallet_sendPreparedCalls`, its signers already recovered: admission (every check,
    /// nothing changed), then inclusion.
    pub(crate) fn send_prepared_calls(&mut self, signed: Signed) -> R<SendPreparedCallsResult> {
        match signed {
            Signed::Authorization(a, signer) => self.send_lone_authorization(a, signer),
            Signed::Op { auths, op, hash, signer, capabilities } => {
                let admitted = self.admit(auths, op, hash, signer, &capabilities)?;
                self.include(admitted)
            }
        }
    }

    /// Includes an admitted op: its authorizations apply, its nonce is used and its gas paid
    /// whatever its calls do; the calls run (unless the account's path or a hook stops them);
    /// the session's spend is recorded; the bundle is mined.
    fn include(&mut self, a: Admitted) -> R<SendPreparedCallsResult> {
        let (chain, data, sender) = (a.chain, &a.op.data, a.op.data.sender);
        let now = self.clock.now();
        for auth in &a.auths {
            self.chain_mut(chain).apply_authorization(sender, auth.data.address);
        }
        if let Some((owner, salt)) = a.deploy {
            self.chain_mut(chain).deploy_sma_b(owner, salt);
        }
        self.chain_mut(chain).use_nonce(sender, a.key);
        if let Some((r, _)) = &a.session {
            self.remember_verified(r);
        }
        let env = self.chain(chain).next_block_env(now);
        // Paid in a token before the calls: the paymaster's validation takes the op's most.
        let (mut token_gas, mut pre_logs) = (0, vec![]);
        if let Some(t) = a.token.as_ref().filter(|t| t.pre_op) {
            (token_gas, pre_logs) = self.token_validation(chain, &env, sender, t)?;
        }
        let save = {
            let c = self.chain(chain);
            (c.accounts.savepoint(), c.storage.savepoint(), c.code.savepoint())
        };
        let mut run = self.run_op(&a, &env)?;
        let post_op_gas = if a.token.is_some() { token_gas::POST_OP_GAS } else { 0 };
        let gas_used = gas::gas_used(data, a.validation, &a.path, run.gas)
            .saturating_add(token_gas)
            .saturating_add(post_op_gas);
        let price = gas::effective_gas_price(data, env.basefee);
        let gas_cost = U256::from(gas_used).saturating_mul(U256::from(price)).min(a.max_cost);
        if let Some(t) = &a.token {
            // The paymaster's postOp: the cost in the token, taken (post-op) or the rest of the
            // most given back (pre-op). A failed pull undoes the calls: the op fails, the gas
            // fronted.
            let tokens = t.tokens_for(gas_cost).unwrap_or(t.max_tokens).min(t.max_tokens);
            let (ok, post_logs) = self.token_post_op(chain, &env, sender, t, tokens)?;
            if ok {
                run.logs = [pre_logs, std::mem::take(&mut run.logs), post_logs].concat();
            } else {
                let c = self.chain_mut(chain);
                c.accounts.restore(save.0);
                c.storage.restore(save.1);
                c.code.restore(save.2);
                run.success = false;
                run.logs = pre_logs;
                run.failure = Some((0, post_op_reverted()));
            }
        }
        let c = self.chain_mut(chain);
        if a.sponsored {
            // The paymaster's deposit at the EntryPoint pays (admission saw it cover the most).
            c.charge_deposit(EMULATOR_PAYMASTER, gas_cost)
                .map_err(|_| WalletError::Internal("the paymaster's deposit fell short".into()))?;
        } else {
            let left = c.account(sender).balance.saturating_sub(gas_cost);
            c.set_balance(sender, left);
        }
        self.record_spend(&a, &run);
        let relayed = a.auths.iter().filter_map(signed_authorization).collect();
        let c = self.chain_mut(chain);
        let bundle = bundle_transaction(
            c,
            ENTRY_POINT_V07,
            handle_ops_call(data, a.packed.clone()),
            relayed,
            gas_used.saturating_add(21_000),
            price,
        );
        let logs = op_logs(&a, &run, gas_cost, gas_used);
        let included =
            Included { chain, env, tx: bundle, to: ENTRY_POINT_V07, gas_used, price, logs };
        let id = self.mine_and_record(
            included,
            a.hash,
            a.calls.clone(),
            run.success,
            a.packed.clone(),
            false,
        );
        Ok(SendPreparedCallsResult {
            id: id.clone(),
            prepared_call_ids: vec![id],
            details: CallDetails::UserOperation {
                data: UserOperationDetails {
                    hash: a.hash,
                    calls: Some(a.calls),
                    pending_bundle: None,
                },
            },
        })
    }

    /// Runs an admitted op's calls as the account makes them, unless an execution hook reverts
    /// first or the account's path and hooks exhaust the call gas (then the op is included,
    /// failed, with no revert reason: spec §12.1).
    fn run_op(&mut self, a: &Admitted, env: &revm::context::BlockEnv) -> R<OpRun> {
        if let Some((r, Verdict::ExecutionHookReverts { violation, .. })) = &a.session {
            let entity = r.session.entity_id;
            let reason = super::errors::exec_hook_revert(violation, entity).unwrap_or_else(|| {
                super::errors::violation(violation, entity, &r.session.permissions)
                    .revert_data()
                    .cloned()
                    .unwrap_or_default()
            });
            return Ok(OpRun { success: false, failure: Some((0, reason)), ..Default::default() });
        }
        let call_gas: u64 = a.op.data.call_gas_limit.saturating_to();
        if call_gas < a.path.overhead() {
            return Ok(OpRun {
                success: false,
                gas: call_gas,
                failure: Some((0, Bytes::new())),
                ..Default::default()
            });
        }
        let sender = a.op.data.sender;
        self.chain_mut(a.chain)
            .run_calls(env, sender, &a.calls, call_gas - a.path.overhead())
            .map_err(|e| WalletError::Internal(e.to_string()))
    }

    /// What an included op did to the wallet's records: a session's spend (all of it when its
    /// calls ran, its gas only otherwise) and its key installed; an owner's uninstall of a
    /// session's validation, which the account refuses from then on.
    fn record_spend(&mut self, a: &Admitted, run: &OpRun) {
        let sender = a.op.data.sender;
        match &a.session {
            Some((r, verdict)) => {
                let spend = match verdict {
                    Verdict::Allowed(spend) if run.success => spend.clone(),
                    Verdict::Allowed(spend) | Verdict::ExecutionHookReverts { gas: spend, .. } => {
                        Spend { gas: spend.gas, ..Default::default() }
                    }
                };
                let s = self.wallet.sessions.get_mut(&r.id).expect("resolved");
                s.installed = true;
                let mut spent = Spend::from(&s.spent);
                spent.add(&spend);
                s.spent = spent.into();
            }
            None if run.success => {
                let removed: Vec<u32> = a
                    .calls
                    .iter()
                    .filter(|c| c.to == sender)
                    .filter_map(|c| sesskey_account::decode_uninstall(&c.data_or_empty()))
                    .collect();
                if !removed.is_empty() {
                    self.wallet.account_mut(a.chain, sender).uninstalled.extend(removed);
                }
            }
            None => {}
        }
    }

    /// Mines an included transaction in a block of its own and keeps the call under its id
    /// (chain id ‖ hash): the tail of every inclusion, an op's or a lone delegation's.
    fn mine_and_record(
        &mut self,
        i: Included,
        hash: B256,
        calls: Vec<Call>,
        success: bool,
        packed_signature: Bytes,
        delegation: bool,
    ) -> Bytes {
        let tx_hash = *i.tx.tx_hash();
        self.chain_mut(i.chain).mine(
            &i.env,
            vec![Mined {
                hash: tx_hash,
                tx: Some((i.tx, BUNDLER)),
                from: BUNDLER,
                to: Some(i.to),
                contract_address: None,
                success: true,
                gas_used: i.gas_used,
                effective_gas_price: i.price,
                logs: i.logs,
            }],
        );
        let record = CallRecord {
            chain_id: i.chain,
            hash,
            calls,
            settle_at: self.settle_at(),
            success,
            packed_signature,
            tx_hash,
            delegation,
        };
        let id = call_id(record.chain_id, record.hash);
        self.wallet.calls.put(id.clone(), record);
        id
    }

    /// When a call included now reports its final status (`Config::settle_after_ms` from now).
    fn settle_at(&self) -> u64 {
        self.clock.now_ms().saturating_add(self.config.settle_after_ms)
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
        let included = Included { chain, env, tx, to: eoa, gas_used: gas, price, logs: vec![] };
        let id = self.mine_and_record(included, digest, vec![], true, Bytes::new(), true);
        Ok(SendPreparedCallsResult {
            id: id.clone(),
            prepared_call_ids: vec![id],
            details: CallDetails::Delegation { tx_hash: None },
        })
    }
}

/// An included op's logs: a deployment's (the factory's `SemiModularAccountDeployed`, the
/// EntryPoint's `AccountDeployed`), its calls', then the EntryPoint's
/// `UserOperationRevertReason` (only when a failed call left revert data) and
/// `UserOperationEvent`.
fn op_logs(a: &Admitted, run: &OpRun, gas_cost: U256, gas_used: u64) -> Vec<Log> {
    let data = &a.op.data;
    let mut logs = vec![];
    if let Some((owner, salt)) = a.deploy {
        logs.push(Log {
            address: sesskey_account::MODULAR_ACCOUNT_FACTORY,
            data: SemiModularAccountDeployed { account: data.sender, owner, salt }
                .encode_log_data(),
        });
        logs.push(entry_point_log(
            AccountDeployed {
                userOpHash: a.hash,
                sender: data.sender,
                factory: sesskey_account::MODULAR_ACCOUNT_FACTORY,
                paymaster: data.paymaster.unwrap_or_default(),
            }
            .encode_log_data(),
        ));
    }
    logs.extend(run.logs.iter().cloned());
    if let Some((_, reason)) = run.failure.as_ref().filter(|(_, r)| !r.is_empty()) {
        logs.push(entry_point_log(
            UserOperationRevertReason {
                userOpHash: a.hash,
                sender: data.sender,
                nonce: data.nonce,
                revertReason: reason.clone(),
            }
            .encode_log_data(),
        ));
    }
    logs.push(entry_point_log(
        UserOperationEvent {
            userOpHash: a.hash,
            sender: data.sender,
            paymaster: data.paymaster.unwrap_or_default(),
            nonce: data.nonce,
            success: run.success,
            actualGasCost: gas_cost,
            actualGasUsed: U256::from(gas_used),
        }
        .encode_log_data(),
    ));
    logs
}

/// A transaction ready to be mined: what `mine_and_record` needs.
struct Included {
    chain: u64,
    env: revm::context::BlockEnv,
    tx: alloy_consensus::TxEnvelope,
    to: Address,
    gas_used: u64,
    price: u128,
    logs: Vec<Log>,
}

/// EntryPoint v0.7's `PostOpReverted(bytes)` with no inner reason: what a failed `postOp`
/// leaves as an op's revert reason.
fn post_op_reverted() -> Bytes {
    sol! { error PostOpReverted(bytes returnData); }
    alloy_sol_types::SolError::abi_encode(&PostOpReverted { returnData: Bytes::new() }).into()
}

fn entry_point_log(data: LogData) -> Log {
    Log { address: ENTRY_POINT_V07, data }
}

//! `wallet_prepareCalls`: builds the operation, simulates its calls on the current state, and
//! answers what to sign. A prepare never refuses for lack of funds: `feePayment.maxAmount` says
//! what the op may cost; the funds are checked at send.

use super::accounts::Kind;
use super::errors::invalid;
use super::gas::{self, apply_gas_overrides, max_cost_checked};
use super::policy::{judge, Verdict};
use super::token_gas::{Plan, TokenPayment, TokenPlan};
use super::{Core, EMULATOR_PAYMASTER, R};
use crate::chain::{describe_revert, PRIORITY_FEE};
use alloy_primitives::{keccak256, Address, U128, U256, U64};
use sesskey_account::{
    encode_calls, has_exec_hooks, pack_deferred_signature, pack_signature, CallEncoding, Nonce,
};
use sesskey_rpc::WalletError;
use sesskey_signing::{
    eip191_digest, eip7702_digest, user_op_v07_hash, AuthorizationTuple, ENTRY_POINT_V07,
};
use sesskey_types::*;

/// Who signs the op, and what that changes in it.
struct Signer {
    nonce: U256,
    exec_hooks: bool,
    verification_gas: u64,
    /// What runs around the calls (the account's path, the session's hooks).
    path: gas::ExecPath,
    /// The length of the op's final packed signature.
    signature_len: usize,
}

/// What a prepare request asks for, read from its capabilities.
struct Request {
    chain: u64,
    from: Address,
    calls: Vec<Call>,
    caps: PrepareCallsCapabilities,
    parallel_key: alloy_primitives::aliases::U152,
    sponsored: bool,
    estimation: bool,
    /// Gas paid in a token (`paymasterService.erc20`).
    erc20: Option<Erc20Payment>,
}

impl Core {
    /// `wallet_prepareCalls`.
    pub(crate) fn prepare_calls(&mut self, params: PrepareCallsParams) -> R<PreparedCalls> {
        super::errors::at_most(
            "calls",
            params.calls.as_ref().map_or(0, Vec::len),
            super::MAX_CALLS,
        )?;
        let chain = self.check_chain(params.chain_id)?;
        let caps = params.capabilities.clone().unwrap_or_default();
        if let Some(Eip7702AuthCapability::Explicit {
            delegation: Delegation::Undelegate, ..
        }) = caps.eip7702_auth
        {
            let calls = params.calls.as_deref().unwrap_or_default();
            return self.prepare_undelegation(chain, params.from, calls);
        }
        let mut req = self.read_request(chain, &params, caps)?;
        let kind = self.kind(chain, req.from);
        let user_calls = req.calls.clone();
        let mut plan = match &req.erc20 {
            Some(e) => {
                let owner_signs = req.caps.permissions.is_none();
                let eoa_owner = kind == Kind::Eip7702;
                match self.plan_token_payment(chain, &params, e, owner_signs, eoa_owner)? {
                    Plan::Permit(p) => return Ok(PreparedCalls::PaymasterPermit(p)),
                    Plan::Pay(p) => Some(*p),
                }
            }
            None => None,
        };
        // An approval of the paymaster comes first in the calls (`autoApprove`).
        if let Some(c) = plan.as_ref().and_then(TokenPlan::approve_call) {
            req.calls.insert(0, c);
        }
        let deployed = self.is_deployed(chain, req.from, kind);
        let deployment = self.deployment(chain, req.from);
        let (signer, session) = self.signer_for(&req, deployed || deployment.is_some())?;
        let now = self.clock.now();
        // Validation rules come before execution: refuse what the account would refuse.
        if let Some(s) = &session {
            refuse_execution_hook(s, judge(s, now, &user_calls, U256::ZERO)?)?;
        }
        let execution = self.simulate(req.chain, now, req.from, &req.calls, kind)?;
        let mut op = self.build_op(&req, &signer, execution, now, deployment, plan.as_ref())?;
        if let Some(o) = &req.caps.gas_params_override {
            apply_gas_overrides(&mut op, o)?;
        }
        let cost = max_cost_checked(&op)?;
        if let Some(p) = plan.as_mut() {
            if let Some(exact) = self.settle_token_plan(chain, req.from, p, cost)? {
                let approve = sesskey_account::encode_approve(EMULATOR_PAYMASTER, exact);
                req.calls[0].data = Some(approve);
                op.call_data =
                    encode_calls(req.from, &req.calls, CallEncoding::Batch, signer.exec_hooks);
            }
        }
        if let Some(s) = &session {
            // The gas limit counts the op's maximum cost when the account pays it.
            let gas_cost = if req.sponsored || plan.is_some() { U256::ZERO } else { cost };
            refuse_execution_hook(s, judge(s, now, &req.calls, gas_cost)?)?;
        }
        let prepared = self.issue(&req, op, cost, plan.map(|p| p.payment));
        if deployed || kind != Kind::Eip7702 || req.caps.permissions.is_some() {
            return Ok(PreparedCalls::UserOperationV070(prepared));
        }
        Ok(self.with_delegation(req.chain, req.from, prepared))
    }

    /// The request's chain, calls and capabilities, refusing what the emulator does not serve.
    fn read_request(
        &self,
        chain: u64,
        params: &PrepareCallsParams,
        caps: PrepareCallsCapabilities,
    ) -> R<Request> {
        let erc20 = caps.paymaster_service.as_ref().and_then(|p| p.erc20.clone());
        if params.paymaster_permit_signature.is_some() && erc20.is_none() {
            return Err(invalid(
                "invalid `paymasterPermitSignature`: it answers a paymaster-permit of `paymasterService.erc20`",
            ));
        }
        if caps.experimental_data_suffix.is_some() {
            return Err(invalid("experimental_dataSuffix is not implemented by the emulator"));
        }
        let parallel_key = match &caps.nonce_override {
            Some(o) if o.nonce_key.bit_len() > 152 => {
                return Err(invalid(
                    "invalid `capabilities.nonceOverride.nonceKey`: above 152 bits",
                ))
            }
            Some(o) => alloy_primitives::aliases::U152::from_be_slice(
                &o.nonce_key.to_be_bytes::<32>()[13..],
            ),
            None => Default::default(),
        };
        let estimation =
            caps.paymaster_service.as_ref().and_then(|p| p.only_estimation).unwrap_or(false);
        let sponsored = match &caps.paymaster_service {
            Some(p) => {
                self.check_policy(&p.policy.ids())?;
                !estimation && erc20.is_none()
            }
            None => false,
        };
        let calls = params.calls.clone().unwrap_or_default();
        Ok(Request {
            chain,
            from: params.from,
            calls,
            caps,
            parallel_key,
            sponsored,
            estimation,
            erc20,
        })
    }

    /// Who signs the op (the owner, or the session of `permissions`), its nonce and its gas
    /// shape; and the session. `ready`: the account is delegated or deployed, or its op will
    /// deploy it.
    fn signer_for(
        &mut self,
        req: &Request,
        ready: bool,
    ) -> R<(Signer, Option<crate::state::Session>)> {
        let (chain, from, calls) = (req.chain, req.from, &req.calls);
        let Some(cap) = &req.caps.permissions else {
            let n = Nonce { parallel_key: req.parallel_key, global: true, ..Default::default() };
            let signer = Signer {
                nonce: self.next_nonce(chain, from, n),
                exec_hooks: false,
                verification_gas: gas::OWNER_VERIFICATION_GAS,
                path: gas::ExecPath::of(calls.len(), None, false, 0),
                signature_len: pack_signature(&[1; 65]).len(),
            };
            return Ok((signer, None));
        };
        if !ready {
            return Err(invalid(format!(
                "account {from} is not delegated: sessions need a delegated account"
            )));
        }
        let resolved = self.resolve_session(cap, from, chain)?;
        self.remember_verified(&resolved);
        let s = resolved.session;
        let (nonce, verification_gas, signature_len) = if s.installed {
            let n = Nonce {
                parallel_key: req.parallel_key,
                entity_id: s.entity_id,
                global: s.permissions.contains(&Permission::Root),
                ..Default::default()
            };
            let len = pack_signature(&[1; 65]).len();
            (self.next_nonce(chain, from, n), gas::SESSION_VERIFICATION_GAS, len)
        } else {
            let len = pack_deferred_signature(&s.action(), &[1; 65], &[1; 65]).len();
            (s.action.nonce, gas::first_op_verification_gas(s.action.call.len()), len)
        };
        let signer = Signer {
            nonce,
            exec_hooks: has_exec_hooks(&s.permissions),
            verification_gas,
            path: gas::ExecPath::of(
                calls.len(),
                Some(&s.permissions),
                !s.installed,
                s.action.deadline,
            ),
            signature_len,
        };
        Ok((signer, Some(s)))
    }

    /// The nonce of `from`'s next op under `n`'s key: the EntryPoint's next sequence of it (what
    /// admission checks when the op comes back signed).
    pub(crate) fn next_nonce(&self, chain: u64, from: Address, mut n: Nonce) -> U256 {
        n.seq = self.chain(chain).nonce_sequence(from, n.key());
        n.encode()
    }

    /// The op: call data, gas limits from the simulation, fees, the paymaster when sponsored,
    /// the factory call of an SMA-B account's deployment, preVerificationGas for its bytes.
    fn build_op(
        &self,
        req: &Request,
        signer: &Signer,
        execution: u64,
        now: u64,
        deployment: Option<(Address, alloy_primitives::Bytes)>,
        token: Option<&TokenPlan>,
    ) -> R<UserOperationV07> {
        let base_fee = self.chain(req.chain).next_base_fee(now);
        let deploy_gas = if deployment.is_some() { gas::SMA_B_DEPLOY_GAS } else { 0 };
        let (factory, factory_data) = deployment.unzip();
        let mut op = UserOperationV07 {
            sender: req.from,
            nonce: signer.nonce,
            factory,
            factory_data,
            call_data: encode_calls(req.from, &req.calls, CallEncoding::Batch, signer.exec_hooks),
            call_gas_limit: U128::from(gas::call_gas_limit(execution, &signer.path)),
            verification_gas_limit: U128::from(signer.verification_gas.saturating_add(deploy_gas)),
            max_fee_per_gas: U128::from(
                u128::from(base_fee).saturating_mul(2).saturating_add(u128::from(PRIORITY_FEE)),
            ),
            max_priority_fee_per_gas: U128::from(PRIORITY_FEE),
            ..Default::default()
        };
        if req.sponsored || token.is_some() {
            // The emulator's own layout: [mode, token (when paid in one)] ‖ validUntil ‖
            // validAfter ‖ a stamp of the op (what a real paymaster's signature covers).
            let (verification, post_op, mode) = match token {
                Some(t) => {
                    let (v, p) = t.gas_limits();
                    let mode = [&[1 + u8::from(t.payment.pre_op)][..], t.payment.token.as_slice()]
                        .concat();
                    (v, p, mode)
                }
                None => (gas::PAYMASTER_VERIFICATION_GAS, 0, vec![]),
            };
            op.paymaster = Some(EMULATOR_PAYMASTER);
            op.paymaster_verification_gas_limit = Some(U128::from(verification));
            op.paymaster_post_op_gas_limit = Some(U128::from(post_op));
            let valid_until = now.saturating_add(3600).to_be_bytes();
            let stamp = keccak256(
                [&op.sender[..], &op.nonce.to_be_bytes::<32>(), &op.call_data[..]].concat(),
            );
            op.paymaster_data =
                Some([&mode[..], &valid_until[2..], &[0u8; 6][..], &stamp[..]].concat().into());
        }
        // What the bundler charges for the op's bytes, its final signature included.
        op.pre_verification_gas = U256::from(gas::pre_verification_gas(&op, signer.signature_len));
        Ok(op)
    }

    /// Keeps the op as issued (and whether sponsored) and answers it with what to sign.
    fn issue(
        &mut self,
        req: &Request,
        op: UserOperationV07,
        cost: U256,
        token: Option<TokenPayment>,
    ) -> PreparedUserOperationV07 {
        let hash = user_op_v07_hash(&op, ENTRY_POINT_V07, req.chain);
        let fee_payment = match &token {
            Some(t) => {
                FeePayment { sponsored: false, token_address: t.token, max_amount: t.max_tokens }
            }
            None => FeePayment {
                sponsored: req.sponsored,
                token_address: Address::ZERO,
                max_amount: if req.sponsored { U256::ZERO } else { cost },
            },
        };
        self.wallet.prepared.put(hash, crate::state::Prepared { sponsored: req.sponsored, token });
        let signature_request = (!req.estimation).then(|| SignatureRequest::PersonalSign {
            data: PersonalSignData::Raw { raw: hash.to_vec().into() },
            raw_payload: eip191_digest(hash.as_slice()),
        });
        PreparedUserOperationV07 {
            data: op,
            chain_id: U64::from(req.chain),
            signature_request,
            fee_payment: Some(fee_payment),
            details: Some(PreparedDetails::UserOperation(UserOperationDetails {
                hash,
                calls: Some(req.calls.clone()),
                pending_bundle: None,
            })),
        }
    }

    /// An undelegated account's answer: the EIP-7702 authorization (for the EOA's current
    /// nonce, relayed) before the op.
    fn with_delegation(
        &self,
        chain: u64,
        from: Address,
        prepared: PreparedUserOperationV07,
    ) -> PreparedCalls {
        let eoa_nonce = self.chain(chain).account(from).nonce;
        let tuple = AuthorizationTuple {
            chain_id: U256::from(chain),
            address: MODULAR_ACCOUNT_V2_7702,
            nonce: eoa_nonce,
        };
        let authorization = PreparedAuthorization {
            data: AuthorizationData {
                address: MODULAR_ACCOUNT_V2_7702,
                nonce: U64::from(eoa_nonce),
            },
            chain_id: U64::from(chain),
            signature_request: SignatureRequest::Eip7702Auth {
                raw_payload: eip7702_digest(&tuple),
            },
        };
        let details = prepared.details.clone();
        PreparedCalls::Array(PreparedArray {
            data: vec![
                PreparedElement::Authorization(authorization),
                PreparedElement::UserOperationV070(prepared),
            ],
            details,
        })
    }

    /// Runs the calls on the current state (an SMA-B account deployed first if it is not yet)
    /// and undoes them: their execution gas, or the -32521 refusal of the first call that
    /// reverts, with its decoded reason and raw data.
    fn simulate(
        &mut self,
        chain: u64,
        now: u64,
        from: Address,
        calls: &[Call],
        kind: Kind,
    ) -> R<u64> {
        let c = self.chain_mut(chain);
        let env = c.next_block_env(now);
        let save = (c.accounts.savepoint(), c.storage.savepoint(), c.code.savepoint());
        if let Kind::SmaB { owner, salt: Some(salt) } = kind {
            if c.code_of(from).is_empty() {
                c.deploy_sma_b(owner, salt);
            }
        }
        let run = c.run_calls(&env, from, calls, crate::chain::BLOCK_GAS_LIMIT);
        c.accounts.restore(save.0);
        c.storage.restore(save.1);
        c.code.restore(save.2);
        let run = run.map_err(|e| WalletError::Internal(e.to_string()))?;
        match run.failure {
            None => Ok(run.gas),
            Some((index, data)) => {
                let reason = describe_revert(&data)
                    .or(run.refused)
                    .unwrap_or_else(|| "execution reverted".into());
                Err(WalletError::ExecutionReverted {
                    message: format!("execution reverted: calls[{index}]: {reason}"),
                    data: Some(data),
                })
            }
        }
    }

    /// `eip7702Auth: {delegation: 0x0}` with no calls: a lone authorization that clears the
    /// account's code (its storage, sessions and nonces included, stays).
    fn prepare_undelegation(
        &mut self,
        chain: u64,
        from: Address,
        calls: &[Call],
    ) -> R<PreparedCalls> {
        if !calls.is_empty() {
            return Err(invalid("invalid `calls`: undelegation takes no calls"));
        }
        if self.kind(chain, from) != Kind::Eip7702 {
            return Err(invalid(format!(
                "invalid `capabilities.eip7702Auth`: account {from} is an SMA-B smart-contract account, not an EIP-7702 one"
            )));
        }
        let c = self.chain(chain);
        if c.delegation(from).is_none() {
            return Err(invalid(format!("account {from} is not delegated: nothing to undelegate")));
        }
        let nonce = c.account(from).nonce;
        let tuple =
            AuthorizationTuple { chain_id: U256::from(chain), address: Address::ZERO, nonce };
        Ok(PreparedCalls::Authorization(PreparedAuthorization {
            data: AuthorizationData { address: Address::ZERO, nonce: U64::from(nonce) },
            chain_id: U64::from(chain),
            signature_request: SignatureRequest::Eip7702Auth {
                raw_payload: eip7702_digest(&tuple),
            },
        }))
    }
}

/// At prepare, an execution hook that would revert is seen by the simulation: -32521 with the
/// account's `PreExecHookReverted` data.
fn refuse_execution_hook(session: &crate::state::Session, verdict: Verdict) -> R<()> {
    match verdict {
        Verdict::Allowed(_) => Ok(()),
        Verdict::ExecutionHookReverts { violation, .. } => {
            Err(super::errors::violation(&violation, session.entity_id, &session.permissions))
        }
    }
}

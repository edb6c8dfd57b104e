//! The deterministic core: every Wallet API method as a plain function of the state, the clock
//! and the id source. No I/O.

use crate::clock::{uuid_v4, Clock, Ids};
use crate::state::{Prepared, Session, State};
use alloy_primitives::{address, keccak256, Address, Bytes, B256, U128, U256, U64};
use sesskey_account::{
    check_deadline, encode_calls, encode_install, has_exec_hooks, CallEncoding, DeferredAction,
    Nonce, Policy, SessionInstall, Violation,
};
use sesskey_rpc::WalletError;
use sesskey_signing::{
    eip191_digest, eip7702_digest, parse_signature, user_op_v07_hash, AuthorizationTuple,
    ENTRY_POINT_V07,
};
use sesskey_types::*;
use std::sync::Mutex;

/// The paymaster the emulator names on sponsored operations.
pub const EMULATOR_PAYMASTER: Address = address!("0x3f222Df6aB18C1E10d0Ec136503c3B0dfd929048");

/// `UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed
/// paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed)`.
pub const USER_OPERATION_EVENT: &str =
    "UserOperationEvent(bytes32,address,address,uint256,bool,uint256,uint256)";

const CALL_GAS_PER_CALL: u64 = 35_000;
const VERIFICATION_GAS: u64 = 120_000;
const DEFERRED_VERIFICATION_GAS: u64 = 350_000;
const PRE_VERIFICATION_GAS: u64 = 50_000;
const PAYMASTER_VERIFICATION_GAS: u64 = 30_000;
const MAX_FEE_PER_GAS: u64 = 2_000_000_000;
const MAX_PRIORITY_FEE_PER_GAS: u64 = 100_000_000;

/// How the emulator is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// The chains served.
    pub chain_ids: Vec<u64>,
    /// The paymaster policies that sponsor gas.
    pub policy_ids: Vec<String>,
    /// Milliseconds between `wallet_sendPreparedCalls` and the call's final status (0 = at once).
    pub settle_after_ms: u64,
    /// Fixed start time and seeded ids, for reproducible runs (`None`: the system clock).
    pub deterministic_start: Option<u64>,
    /// Answer CORS preflights and allow any origin (for browser clients).
    pub cors: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            chain_ids: vec![31337],
            policy_ids: vec!["00000000-0000-4000-8000-000000000000".into()],
            settle_after_ms: 0,
            deterministic_start: None,
            cors: false,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) state: State,
    pub(crate) clock: Clock,
    pub(crate) ids: Ids,
    pub(crate) store: Option<crate::persist::Store>,
}

impl Inner {
    /// Makes what changed durable (with a data folder) before the answer goes out.
    pub(crate) fn commit(&mut self) -> Result<(), WalletError> {
        match &self.store {
            Some(store) => store
                .commit(&mut self.state, &self.clock, &self.ids)
                .map_err(|e| WalletError::Internal(format!("storage failure: {e}"))),
            None => {
                self.state.dirty = Default::default();
                Ok(())
            }
        }
    }
}

/// The emulator core.
pub struct Emulator {
    config: Config,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").field("config", &self.config).finish_non_exhaustive()
    }
}

pub(crate) type R<T> = Result<T, WalletError>;

pub(crate) fn invalid(msg: impl Into<String>) -> WalletError {
    WalletError::InvalidParams(msg.into())
}

pub(crate) fn violation(v: Violation) -> WalletError {
    match v {
        Violation::Expired { .. } => WalletError::ValidationReverted {
            reason: v.to_string(),
            aa: "AA22 expired or not due".into(),
        },
        Violation::NativeAllowance { .. } | Violation::Erc20Allowance { .. } => {
            WalletError::ExecutionReverted(format!("execution reverted: {v}"))
        }
        _ => WalletError::ValidationReverted { reason: v.to_string(), aa: "AA23 reverted".into() },
    }
}

pub(crate) fn sig65(data: &SignatureData) -> R<[u8; 65]> {
    let sig = parse_signature(data).map_err(|_| WalletError::InvalidAccountSignature)?;
    Ok(sig.as_bytes())
}

pub(crate) fn recover(digest: B256, data: &SignatureData) -> R<Address> {
    sesskey_signing::recover(digest, data).map_err(|_| WalletError::InvalidAccountSignature)
}

impl Emulator {
    /// A new emulator.
    pub fn new(config: Config) -> Self {
        let (clock, ids) = clock_and_ids(&config);
        Self {
            config,
            inner: Mutex::new(Inner { state: State::default(), clock, ids, store: None }),
        }
    }

    /// An emulator whose state lives in `dir` (created if needed): it carries on where the last
    /// one stopped, and every answered call is durable.
    pub fn open(
        config: Config,
        dir: &std::path::Path,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let (mut clock, mut ids) = clock_and_ids(&config);
        let (store, state) = crate::persist::Store::open(dir, &mut clock, &mut ids)?;
        Ok(Self { config, inner: Mutex::new(Inner { state, clock, ids, store: Some(store) }) })
    }

    /// The configuration.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn check_chain(&self, chain: U64) -> R<u64> {
        let c: u64 = chain.to();
        if self.config.chain_ids.contains(&c) {
            Ok(c)
        } else {
            Err(invalid(format!(
                "invalid `chainId`: chain {chain:#x} is not supported by this server (it serves {})",
                self.config.chain_ids.iter().map(|c| format!("{c:#x}")).collect::<Vec<_>>().join(", ")
            )))
        }
    }

    /// Whether a `paymasterService` sponsors; an unknown policy is refused as Alchemy does.
    fn check_policy(&self, ids: &[&str]) -> R<()> {
        if ids.is_empty()
            || ids
                .iter()
                .any(|id| !self.config.policy_ids.iter().any(|p| p.eq_ignore_ascii_case(id)))
        {
            return Err(WalletError::SponsorshipFailed(
                "[invalid_argument] Policy ID(s) not found. Check that the policy exists, belongs to this app, is active and allows this network.".into(),
            ));
        }
        Ok(())
    }

    /// Fails the call if a control asked the next call of `method` to fail.
    pub fn injected_failure(&self, method: &str) -> R<()> {
        let mut inner = self.lock();
        match inner.state.fail_next.remove(method) {
            Some((code, message)) => {
                inner.commit()?;
                Err(WalletError::from_error_object(code, &message))
            }
            None => Ok(()),
        }
    }

    // ---- wallet_requestAccount / listAccounts / getCapabilities ----

    /// `wallet_requestAccount`: EIP-7702, the account is the signer; the id is stable.
    pub fn request_account(&self, params: RequestAccountParams) -> R<RequestAccountResult> {
        let account = match params {
            RequestAccountParams::BySigner { signer_address, creation_hint, .. } => {
                if let Some(kind) =
                    creation_hint.and_then(|h| h.account_type).filter(|k| k != "7702")
                {
                    return Err(invalid(format!(
                        "invalid `creationHint.accountType`: the emulator serves EIP-7702 accounts only, not {kind:?}"
                    )));
                }
                signer_address
            }
            RequestAccountParams::ByAccount { account_address, .. } => account_address,
        };
        Ok(RequestAccountResult {
            account_address: account,
            id: account_id(account),
            counterfactual_info: None,
            delegation: Some(MODULAR_ACCOUNT_V2_7702),
        })
    }

    /// `wallet_listAccounts`: the signer's EIP-7702 account.
    pub fn list_accounts(&self, params: ListAccountsParams) -> R<ListAccountsResult> {
        if params.limit.is_some_and(|l| !(1..=100).contains(&l)) {
            return Err(invalid("invalid `limit`: must be between 1 and 100"));
        }
        let accounts = if params.after.is_some() {
            vec![]
        } else {
            vec![AccountRef {
                account_address: params.signer_address,
                id: account_id(params.signer_address),
            }]
        };
        Ok(ListAccountsResult { accounts, meta: ListAccountsMeta { total_count: 1, after: None } })
    }

    /// `wallet_getCapabilities`.
    pub fn get_capabilities(&self, chain_ids: Option<Vec<U64>>) -> R<Capabilities> {
        let chains: Vec<u64> = match chain_ids {
            Some(ids) => ids
                .into_iter()
                .map(|c| c.to::<u64>())
                .filter(|c| self.config.chain_ids.contains(c))
                .collect(),
            None => self.config.chain_ids.clone(),
        };
        let caps: std::collections::BTreeMap<String, serde_json::Value> = [
            ("atomic", serde_json::json!({"status": "supported"})),
            ("paymasterService", serde_json::json!({"supported": true})),
            ("eip7702Auth", serde_json::json!({"supported": true})),
            ("permissions", serde_json::json!({"supported": true})),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Ok(chains.into_iter().map(|c| (format!("{c:#x}"), caps.clone())).collect())
    }

    // ---- wallet_createSession ----

    /// `wallet_createSession`.
    pub fn create_session(&self, params: CreateSessionParams) -> R<CreateSessionResult> {
        let chain = self.check_chain(params.chain_id)?;
        params.validate().map_err(|e| match e {
            Error::Permission(p) => invalid(format!("invalid `permissions`: {p}")),
            other => invalid(other.to_string()),
        })?;
        if params.key.ty == KeyType::Contract {
            return Err(invalid("invalid `key.type`: contract (ERC-1271) session keys are not supported by the emulator"));
        }
        let mut inner = self.lock();
        let now = inner.clock.now();
        check_deadline(params.deadline(), now)
            .map_err(|e| invalid(format!("invalid `expirySec`: {e}")))?;
        let session_id = SessionId::from_slice(&inner.ids.next_id()[..16]);
        let acct = inner.state.account(chain, params.account);
        if acct.delegation.is_none() {
            return Err(invalid(format!(
                "account {} is not delegated on chain {chain:#x}: send a first call (wallet_prepareCalls with the owner) to delegate it",
                params.account
            )));
        }
        let entity = acct.next_entity;
        let root = params.permissions.contains(&Permission::Root);
        let mut nonce =
            Nonce { entity_id: entity, global: root, deferred_action: true, ..Default::default() };
        nonce.seq = acct.sequences.get(&nonce.key()).copied().unwrap_or(0);
        let install = SessionInstall {
            session_key: params.key.public_key,
            entity_id: entity,
            expiry: params.deadline(),
            permissions: params.permissions.clone(),
        };
        let call = encode_install(params.account, &install).map_err(|e| invalid(e.to_string()))?;
        acct.next_entity = entity + 1;
        let action = DeferredAction {
            chain_id: chain,
            account: params.account,
            nonce: nonce.encode(),
            deadline: params.deadline(),
            call,
        };
        let request =
            SignatureRequest::TypedData { data: action.typed_data(), raw_payload: action.digest() };
        inner.state.put_session(
            session_id,
            Session {
                chain_id: chain,
                session_key: params.key.public_key,
                permissions: params.permissions,
                entity_id: entity,
                action,
                installed: false,
                revoked: false,
                spent: Default::default(),
                verified_owner_signature: None,
            },
        );
        Ok(CreateSessionResult {
            session_id,
            chain_id: Some(U64::from(chain)),
            signature_request: request,
        })
    }

    /// Resolves and checks a permissions capability for `from` on `chain`.
    pub(crate) fn session(
        &self,
        state: &mut State,
        cap: &PermissionsCapability,
        from: Address,
        chain: u64,
    ) -> R<(SessionId, Session, [u8; 65])> {
        let sref = cap
            .session_ref()
            .map_err(|e| invalid(format!("invalid `capabilities.permissions`: {e}")))?;
        let session = state.sessions.get(&sref.session_id).ok_or_else(|| {
            invalid(format!(
                "invalid `capabilities.permissions`: unknown session {}",
                sref.session_id
            ))
        })?;
        if session.action.account != from {
            return Err(invalid(format!(
                "invalid `capabilities.permissions`: session {} belongs to another account",
                sref.session_id
            )));
        }
        if session.chain_id != chain {
            return Err(invalid(format!(
                "invalid `capabilities.permissions`: session {} is for chain {:#x}",
                sref.session_id, session.chain_id
            )));
        }
        if session.revoked {
            return Err(invalid(format!(
                "invalid `capabilities.permissions`: session {} was revoked",
                sref.session_id
            )));
        }
        if session.verified_owner_signature != Some(sref.signature.0) {
            let owner_sig = SignatureData::Hex(Bytes::copy_from_slice(&sref.signature[..]));
            if recover(session.action.digest(), &owner_sig)? != session.action.account {
                return Err(WalletError::InvalidAccountSignature);
            }
        }
        let session = state.session_mut(&sref.session_id).expect("found above");
        session.verified_owner_signature = Some(sref.signature.0);
        Ok((sref.session_id, session.clone(), sref.signature.0))
    }

    // ---- wallet_prepareCalls ----

    /// `wallet_prepareCalls`.
    pub fn prepare_calls(&self, params: PrepareCallsParams) -> R<PreparedCalls> {
        let chain = self.check_chain(params.chain_id)?;
        let caps = params.capabilities.clone().unwrap_or_default();
        if params.paymaster_permit_signature.is_some()
            || caps.paymaster_service.as_ref().is_some_and(|p| p.erc20.is_some())
        {
            return Err(invalid(
                "ERC-20 gas payment (paymasterService.erc20) is not implemented by the emulator",
            ));
        }
        if let Some(Eip7702AuthCapability::Explicit {
            delegation: Delegation::Undelegate, ..
        }) = caps.eip7702_auth
        {
            let calls = params.calls.as_deref().unwrap_or_default();
            return self.prepare_undelegation(chain, params.from, calls);
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
                !estimation
            }
            None => false,
        };
        let calls = params.calls.clone().unwrap_or_default();
        let from = params.from;
        let mut inner = self.lock();
        let now = inner.clock.now();
        let acct = inner.state.account(chain, from).clone();
        let delegated = acct.delegation.is_some();

        let (nonce, exec_hooks, deferred) = match &caps.permissions {
            Some(cap) => {
                if !delegated {
                    return Err(invalid(format!(
                        "account {from} is not delegated: sessions need a delegated account"
                    )));
                }
                let (_, session, _) = self.session(&mut inner.state, cap, from, chain)?;
                let policy = Policy {
                    account: from,
                    permissions: session.permissions.clone(),
                    expiry: session.action.deadline,
                };
                let max_cost = max_cost(calls.len(), !session.installed, sponsored);
                policy
                    .evaluate(
                        &session.spent,
                        now,
                        &calls,
                        if sponsored { U256::ZERO } else { max_cost },
                    )
                    .map_err(violation)?;
                let nonce = if session.installed {
                    let root = session.permissions.contains(&Permission::Root);
                    let mut n = Nonce {
                        parallel_key,
                        entity_id: session.entity_id,
                        global: root,
                        ..Default::default()
                    };
                    n.seq = acct.sequences.get(&n.key()).copied().unwrap_or(0);
                    n.encode()
                } else {
                    session.action.nonce
                };
                (nonce, has_exec_hooks(&session.permissions), !session.installed)
            }
            None => {
                let mut n = Nonce { parallel_key, global: true, ..Default::default() };
                n.seq = acct.sequences.get(&n.key()).copied().unwrap_or(0);
                (n.encode(), false, false)
            }
        };

        let mut op = UserOperationV07 {
            sender: from,
            nonce,
            factory: None,
            factory_data: None,
            call_data: encode_calls(from, &calls, CallEncoding::Batch, exec_hooks),
            call_gas_limit: U128::from(CALL_GAS_PER_CALL * (calls.len() as u64 + 1)),
            verification_gas_limit: U128::from(if deferred {
                DEFERRED_VERIFICATION_GAS
            } else {
                VERIFICATION_GAS
            }),
            pre_verification_gas: U256::from(PRE_VERIFICATION_GAS),
            max_fee_per_gas: U128::from(MAX_FEE_PER_GAS),
            max_priority_fee_per_gas: U128::from(MAX_PRIORITY_FEE_PER_GAS),
            ..Default::default()
        };
        if sponsored {
            op.paymaster = Some(EMULATOR_PAYMASTER);
            op.paymaster_verification_gas_limit = Some(U128::from(PAYMASTER_VERIFICATION_GAS));
            op.paymaster_post_op_gas_limit = Some(U128::ZERO);
            let valid_until = (now + 3600).to_be_bytes();
            let stamp = keccak256(
                [&op.sender[..], &op.nonce.to_be_bytes::<32>(), &op.call_data[..]].concat(),
            );
            op.paymaster_data =
                Some([&valid_until[2..], &[0u8; 6][..], &stamp[..]].concat().into());
        }
        if let Some(o) = &caps.gas_params_override {
            apply_gas_overrides(&mut op, o)?;
        }
        let cost = op_max_cost(&op);
        if !sponsored && !estimation && acct.native < cost {
            return Err(WalletError::PrecheckFailed(format!(
                "sender balance and deposit together is {} but must be at least {cost} to pay for this operation",
                acct.native
            )));
        }
        let hash = user_op_v07_hash(&op, ENTRY_POINT_V07, chain);
        inner.state.put_prepared(hash, Prepared { sponsored });
        inner.commit()?;
        let signature_request = (!estimation).then(|| SignatureRequest::PersonalSign {
            data: PersonalSignData::Raw { raw: hash.to_vec().into() },
            raw_payload: eip191_digest(hash.as_slice()),
        });
        let prepared = PreparedUserOperationV07 {
            data: op,
            chain_id: U64::from(chain),
            signature_request,
            fee_payment: Some(FeePayment {
                sponsored,
                token_address: Address::ZERO,
                max_amount: if sponsored { U256::ZERO } else { cost },
            }),
            details: Some(PreparedDetails::UserOperation(UserOperationDetails {
                hash,
                calls: Some(calls),
                pending_bundle: None,
            })),
        };
        if delegated || caps.permissions.is_some() {
            return Ok(PreparedCalls::UserOperationV070(prepared));
        }
        let tuple = AuthorizationTuple {
            chain_id: U256::from(chain),
            address: MODULAR_ACCOUNT_V2_7702,
            nonce: acct.eoa_nonce,
        };
        let authorization = PreparedAuthorization {
            data: AuthorizationData {
                address: MODULAR_ACCOUNT_V2_7702,
                nonce: U64::from(acct.eoa_nonce),
            },
            chain_id: U64::from(chain),
            signature_request: SignatureRequest::Eip7702Auth {
                raw_payload: eip7702_digest(&tuple),
            },
        };
        let details = prepared.details.clone();
        Ok(PreparedCalls::Array(PreparedArray {
            data: vec![
                PreparedElement::Authorization(authorization),
                PreparedElement::UserOperationV070(prepared),
            ],
            details,
        }))
    }
}

impl Emulator {
    /// `eip7702Auth: {delegation: 0x0}` with no calls: a lone authorization that clears the
    /// account's code (its storage, sessions and nonces included, stays).
    fn prepare_undelegation(&self, chain: u64, from: Address, calls: &[Call]) -> R<PreparedCalls> {
        if !calls.is_empty() {
            return Err(invalid("invalid `calls`: undelegation takes no calls"));
        }
        let mut inner = self.lock();
        let acct = inner.state.account(chain, from).clone();
        if acct.delegation.is_none() {
            return Err(invalid(format!("account {from} is not delegated: nothing to undelegate")));
        }
        let tuple = AuthorizationTuple {
            chain_id: U256::from(chain),
            address: Address::ZERO,
            nonce: acct.eoa_nonce,
        };
        inner.commit()?;
        Ok(PreparedCalls::Authorization(PreparedAuthorization {
            data: AuthorizationData { address: Address::ZERO, nonce: U64::from(acct.eoa_nonce) },
            chain_id: U64::from(chain),
            signature_request: SignatureRequest::Eip7702Auth {
                raw_payload: eip7702_digest(&tuple),
            },
        }))
    }
}

/// A fixed clock and seeded ids in deterministic mode; the system clock and random ids otherwise.
fn clock_and_ids(config: &Config) -> (Clock, Ids) {
    match config.deterministic_start {
        Some(start) => (Clock::fixed(start), Ids::seeded(start)),
        None => (Clock::system(), Ids::random()),
    }
}

/// The most an op may cost: all its gas at its maximum fee.
pub(crate) fn op_max_cost(op: &UserOperationV07) -> U256 {
    let gas = U256::from(op.call_gas_limit)
        + U256::from(op.verification_gas_limit)
        + op.pre_verification_gas
        + U256::from(op.paymaster_verification_gas_limit.unwrap_or_default())
        + U256::from(op.paymaster_post_op_gas_limit.unwrap_or_default());
    gas.saturating_mul(U256::from(op.max_fee_per_gas))
}

/// Applies `gasParamsOverride`: absolute values, or multipliers of the emulator's estimates.
fn apply_gas_overrides(op: &mut UserOperationV07, o: &GasParamsOverride) -> R<()> {
    fn value(current: U256, p: &GasParam, field: &str) -> R<U256> {
        match p {
            GasParam::Absolute(v) => Ok(*v),
            GasParam::Multiplier { multiplier } if multiplier.is_finite() && *multiplier > 0.0 => {
                let scaled = (current.to::<u128>() as f64 * multiplier).ceil();
                if scaled >= u128::MAX as f64 {
                    return Err(invalid(format!("invalid `capabilities.gasParamsOverride.{field}`: too large")));
                }
                Ok(U256::from(scaled as u128))
            }
            GasParam::Multiplier { .. } => Err(invalid(format!(
                "invalid `capabilities.gasParamsOverride.{field}.multiplier`: must be a positive number"
            ))),
        }
    }
    fn set128(slot: &mut U128, p: &Option<GasParam>, field: &str) -> R<()> {
        if let Some(p) = p {
            let v = value(U256::from(*slot), p, field)?;
            if v.bit_len() > 128 {
                return Err(invalid(format!(
                    "invalid `capabilities.gasParamsOverride.{field}`: above 128 bits"
                )));
            }
            *slot = U128::from(v.to::<u128>());
        }
        Ok(())
    }
    set128(&mut op.call_gas_limit, &o.call_gas_limit, "callGasLimit")?;
    set128(&mut op.verification_gas_limit, &o.verification_gas_limit, "verificationGasLimit")?;
    set128(&mut op.max_fee_per_gas, &o.max_fee_per_gas, "maxFeePerGas")?;
    set128(&mut op.max_priority_fee_per_gas, &o.max_priority_fee_per_gas, "maxPriorityFeePerGas")?;
    if let Some(p) = &o.pre_verification_gas {
        op.pre_verification_gas = value(op.pre_verification_gas, p, "preVerificationGas")?;
    }
    if let Some(slot) = op.paymaster_verification_gas_limit.as_mut() {
        set128(slot, &o.paymaster_verification_gas_limit, "paymasterVerificationGasLimit")?;
    }
    if let Some(slot) = op.paymaster_post_op_gas_limit.as_mut() {
        set128(slot, &o.paymaster_post_op_gas_limit, "paymasterPostOpGasLimit")?;
    }
    Ok(())
}

/// The stable id of an account: a UUID v4 made from its address.
fn account_id(account: Address) -> String {
    uuid_v4(&keccak256(account)[..16])
}

/// The most an op may cost in wei.
fn max_cost(n_calls: usize, deferred: bool, sponsored: bool) -> U256 {
    let gas = CALL_GAS_PER_CALL * (n_calls as u64 + 1)
        + if deferred { DEFERRED_VERIFICATION_GAS } else { VERIFICATION_GAS }
        + PRE_VERIFICATION_GAS
        + if sponsored { PAYMASTER_VERIFICATION_GAS } else { 0 };
    U256::from(gas) * U256::from(MAX_FEE_PER_GAS)
}

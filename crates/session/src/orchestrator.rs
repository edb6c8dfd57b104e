//! The flow of the seed document, verified before every signature.

use crate::deploy::{check_factory, Account};
use crate::error::{mismatch, Error, Result};
use crate::fees::{max_gas_cost, FeeCaps};
use crate::paymaster::alchemy_paymasters;
use crate::pending::PendingSession;
use crate::session::Session;
use crate::token_gas::{TokenGas, TokenGasMode};
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use alloy_signer::Signer;
use sesskey_account::{
    canonical_permissions, decode_calls, decode_install, has_exec_hooks, same_call, DeferredAction,
    Nonce, Spend,
};
use sesskey_rpc::{EthApiClient, WalletApiClient, WalletClient};
use sesskey_signing::{
    check_authorization, check_request, check_user_op_v07, sign_authorization, sign_request,
    ENTRY_POINT_V07,
};
use sesskey_types::*;
use std::time::{Duration, Instant};

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Included and successful (2xx), with its receipt.
    Confirmed(Box<CallsStatus>),
    /// Included but reverted on chain, in full or in part (500, 600; preconfirmed 115, 116).
    Reverted(Box<CallsStatus>),
    /// Never included (400 off-chain failure, 410 cross-chain refund).
    Dropped(Box<CallsStatus>),
}

impl Outcome {
    /// The final status.
    pub fn status(&self) -> &CallsStatus {
        match self {
            Self::Confirmed(s) | Self::Reverted(s) | Self::Dropped(s) => s,
        }
    }

    fn of(status: CallsStatus) -> Option<Self> {
        use CallStatusCode as C;
        Some(match status.status {
            C::Confirmed => Self::Confirmed(Box::new(status)),
            C::ChainRulesFailure
            | C::PartialChainRulesFailure
            | C::PreconfirmedChainRulesFailure
            | C::PreconfirmedPartialChainRulesFailure => Self::Reverted(Box::new(status)),
            C::OffchainFailure | C::CrossChainRefund => Self::Dropped(Box::new(status)),
            C::Pending | C::Preconfirmed | C::CrossChainInProgress => return None,
        })
    }
}

/// What `send_calls` sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentCalls {
    /// The call id, for `wait_for_status`.
    pub call_id: CallId,
    /// The user-operation hash the session key signed (verified against the operation).
    pub user_op_hash: B256,
    /// What the calls spend of the session's budgets (the pre-flight's answer).
    pub spend: Spend,
}

/// A session's operation, prepared by the server and verified, not yet signed.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedSessionOp {
    /// The operation.
    pub op: Box<PreparedUserOperationV07>,
    /// Its hash (recomputed).
    pub user_op_hash: B256,
    /// The most its gas may cost the account (0 when a paymaster sponsors it).
    pub max_gas_cost: U256,
    /// The calls it makes.
    pub calls: Vec<Call>,
}

/// Told each status a wait polls (for a progress display).
pub type ProgressFn = std::sync::Arc<dyn Fn(&CallsStatus) + Send + Sync>;

/// The orchestrator: generic over any Wallet API client (an HTTP `WalletClient`, a test double).
#[derive(Clone)]
pub struct Orchestrator<C> {
    client: C,
    policy_id: Option<String>,
    poll: Duration,
    context_form: bool,
    caps: FeeCaps,
    progress: Option<ProgressFn>,
    chain: Option<WalletClient>,
    paymasters: Vec<Address>,
    gas_token: Option<TokenGas>,
}

impl<C: std::fmt::Debug> std::fmt::Debug for Orchestrator<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator")
            .field("client", &self.client)
            .field("policy_id", &self.policy_id)
            .field("poll", &self.poll)
            .field("context_form", &self.context_form)
            .field("caps", &self.caps)
            .field("progress", &self.progress.is_some())
            .field("chain", &self.chain)
            .field("paymasters", &self.paymasters)
            .field("gas_token", &self.gas_token)
            .finish()
    }
}

impl<C: WalletApiClient + Send + Sync> Orchestrator<C> {
    /// An orchestrator over `client`; `policy_id` sponsors gas when given.
    pub fn new(client: C, policy_id: Option<String>) -> Self {
        Self {
            client,
            policy_id,
            poll: Duration::from_millis(100),
            context_form: false,
            caps: FeeCaps::default(),
            progress: None,
            chain: None,
            paymasters: vec![],
            gas_token: None,
        }
    }

    /// Pays the gas of the operations it sends in a token (`paymasterService.erc20` with the
    /// policy of [`Self::new`], which must be given): the paymaster fronts it and takes the
    /// token from the account. Every answer is checked before anything is signed
    /// ([`TokenGas`]).
    pub fn with_gas_token(mut self, gas: TokenGas) -> Self {
        self.gas_token = Some(gas);
        self
    }

    /// `paymasterService`: the policy, with the token that pays the gas if any.
    fn paymaster_service(&self) -> Option<PaymasterService> {
        self.policy_id.as_ref().map(|id| PaymasterService {
            policy: PolicySelector::One { policy_id: id.clone() },
            only_estimation: None,
            erc20: self.gas_token.as_ref().map(TokenGas::capability),
            webhook_data: None,
        })
    }

    /// Reads the chain (an EIP-7702 authorization's nonce, whether the account is delegated)
    /// through `node`, a node the user trusts, instead of the Wallet API endpoint.
    pub fn with_chain_rpc(mut self, node: WalletClient) -> Self {
        self.chain = Some(node);
        self
    }

    /// Accepts `paymaster` on sponsored operations, besides Alchemy's
    /// ([`crate::alchemy_paymasters`]).
    pub fn with_paymaster(mut self, paymaster: Address) -> Self {
        self.paymasters.push(paymaster);
        self
    }

    /// The paymasters a sponsored operation on `chain_id` may name.
    pub fn paymasters(&self, chain_id: u64) -> Vec<Address> {
        let mut all = alchemy_paymasters(chain_id);
        for p in &self.paymasters {
            if !all.contains(p) {
                all.push(*p);
            }
        }
        all
    }

    /// Calls `progress` with each status [`Self::wait_for_status`] polls (a CLI shows a
    /// spinner with it).
    pub fn with_progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Caps on the fee and gas fields of every operation this orchestrator signs (default:
    /// [`FeeCaps::default`]).
    pub const fn with_fee_caps(mut self, caps: FeeCaps) -> Self {
        self.caps = caps;
        self
    }

    /// Sends the permissions capability as `{context}` instead of `{sessionId, signature}`.
    pub const fn with_context_form(mut self, context: bool) -> Self {
        self.context_form = context;
        self
    }

    fn capability(&self, session: &Session) -> PermissionsCapability {
        if self.context_form {
            session.context()
        } else {
            session.capability()
        }
    }

    /// The client.
    pub const fn client(&self) -> &C {
        &self.client
    }

    /// Sends `calls` as the owner of an account that is already delegated, signing only what was
    /// verified: the answer must be exactly one user operation, for these calls. An answer that
    /// holds an EIP-7702 authorization (or anything besides the one operation) is refused: the
    /// owner signs an authorization only in [`Self::ensure_delegated`]. Answers the call id.
    #[tracing::instrument(skip_all, fields(account = %owner.address()))]
    pub async fn send_as_owner<S: Signer + Send + Sync>(
        &self,
        owner: &S,
        chain_id: u64,
        calls: Vec<Call>,
    ) -> Result<CallId> {
        let account = Account::Eip7702 { owner: owner.address() };
        self.send_owner_op(owner, &account, chain_id, calls, None).await
    }

    /// Sends `calls` as the owner of `account`, of either kind: like
    /// [`Self::send_as_owner`], and for an SMA-B account the op may deploy it only with
    /// ModularAccountV2's factory call for exactly this owner and salt
    /// ([`crate::check_sma_b_deployment`]), checked before the owner signs. `owner` must be the
    /// account's owner.
    #[tracing::instrument(skip_all, fields(account = %account.address()))]
    pub async fn send_as_owner_of<S: Signer + Send + Sync>(
        &self,
        owner: &S,
        account: &Account,
        chain_id: u64,
        calls: Vec<Call>,
    ) -> Result<CallId> {
        self.send_owner_op(owner, account, chain_id, calls, None).await
    }

    /// The owner's operation, with the authorization of a first delegation when `delegation`
    /// holds the nonce the chain says the authorization must carry.
    async fn send_owner_op<S: Signer + Send + Sync>(
        &self,
        owner: &S,
        kind: &Account,
        chain_id: u64,
        calls: Vec<Call>,
        delegation: Option<u64>,
    ) -> Result<CallId> {
        if owner.address() != kind.owner() {
            return Err(mismatch("owner", kind.owner(), owner.address()));
        }
        let account = kind.address();
        let params = PrepareCallsParams {
            calls: Some(calls.clone()),
            from: account,
            chain_id: U64::from(chain_id),
            capabilities: Some(PrepareCallsCapabilities {
                paymaster_service: self.paymaster_service(),
                ..Default::default()
            }),
            paymaster_permit_signature: None,
        };
        let mut prepared =
            self.client.prepare_calls(params.clone()).await.map_err(sesskey_rpc::Error::from)?;
        if let PreparedCalls::PaymasterPermit(p) = &prepared {
            // A permit first: checked, signed by the owner, and the request sent again.
            let Some(token) = &self.gas_token else {
                return Err(mismatch("type", "a user operation", "paymaster-permit"));
            };
            if !matches!(kind, Account::Eip7702 { .. }) {
                return Err(Error::Unsupported(
                    "a paymaster permit for an SMA-B account: its owner's signature is not the account's; pay with TokenGasMode::PostOp".into(),
                ));
            }
            let now = unix_now();
            let mut again = token.check_permit(p, &params, &self.paymasters(chain_id), now)?;
            again.paymaster_permit_signature =
                Some(sign_request(owner, &p.signature_request, None).await?);
            prepared = self.client.prepare_calls(again).await.map_err(sesskey_rpc::Error::from)?;
        }
        let (authorization, op) = one_op(prepared, delegation.is_some())?;
        // Everything is checked before anything is signed.
        if let (Some(a), Some(nonce)) = (&authorization, delegation) {
            check_delegation(a, chain_id, nonce)?;
        }
        self.verify_op(&op, OpFor::Owner(kind), chain_id, &calls, false)?;
        let mut signed = vec![];
        if let Some(a) = authorization {
            let signature = sign_authorization(owner, &a).await?;
            signed.push(SignedElement::Authorization(SignedAuthorization {
                data: a.data,
                chain_id: a.chain_id,
                signature,
            }));
        }
        let signature = sesskey_signing::sign_user_op_v07(owner, &op, ENTRY_POINT_V07).await?;
        let op = SignedUserOperationV07 { data: op.data, chain_id: op.chain_id, signature };
        let calls = if signed.is_empty() {
            SignedCalls::UserOperationV070(op)
        } else {
            signed.push(SignedElement::UserOperationV070(op));
            SignedCalls::Array(SignedArray { data: signed })
        };
        let sent = self
            .client
            .send_prepared_calls(SendPreparedCallsParams {
                calls,
                capabilities: None,
                call_id: None,
            })
            .await
            .map_err(sesskey_rpc::Error::from)?;
        Ok(CallId(sent.id))
    }

    /// Delegates `owner`'s EIP-7702 account to ModularAccountV2 if the chain says it is not yet,
    /// and waits for it. The owner signs exactly one authorization: to
    /// [`MODULAR_ACCOUNT_V2_7702`], for `chain_id`, with the account's nonce as the chain
    /// reports it (through [`Self::with_chain_rpc`]'s node, else the endpoint). Answers the
    /// outcome, or `None` when the account was already delegated (nothing is signed).
    #[tracing::instrument(skip_all, fields(account = %owner.address(), chain_id))]
    pub async fn ensure_delegated<S: Signer + Send + Sync>(
        &self,
        owner: &S,
        chain_id: u64,
        timeout: Duration,
    ) -> Result<Option<Outcome>> {
        let account = owner.address();
        let (code, nonce) = self.delegation_state(account, chain_id).await?;
        if code == delegation_designator(MODULAR_ACCOUNT_V2_7702) {
            return Ok(None);
        }
        let empty = Call { to: Address::ZERO, data: Some(Bytes::new()), value: Some(U256::ZERO) };
        let kind = Account::Eip7702 { owner: account };
        let id = self.send_owner_op(owner, &kind, chain_id, vec![empty], Some(nonce)).await?;
        Ok(Some(self.wait_for_status(&id, timeout).await?))
    }

    /// The account's code and transaction count, read from the trusted node (or the endpoint)
    /// once it has said it serves `chain_id`.
    async fn delegation_state(&self, account: Address, chain_id: u64) -> Result<(Bytes, u64)> {
        async fn read<N: EthApiClient + Sync>(
            node: &N,
            account: Address,
            chain_id: u64,
        ) -> std::result::Result<(Bytes, u64), Error> {
            let id = node.chain_id().await.map_err(|e| {
                Error::ChainRead(format!(
                    "eth_chainId: {} (a Wallet API endpoint may not serve eth_*: give a node of chain {chain_id} with --chain-rpc-url)",
                    sesskey_rpc::Error::from(e)
                ))
            })?;
            if id.to::<u64>() != chain_id {
                return Err(Error::ChainRead(format!(
                    "the node serves chain {} ({id:#x}), not {chain_id}: give a node of chain {chain_id} with --chain-rpc-url",
                    id.to::<u64>()
                )));
            }
            let code = node.get_code(account, "latest".into()).await.map_err(|e| {
                Error::ChainRead(format!("eth_getCode: {}", sesskey_rpc::Error::from(e)))
            })?;
            let nonce =
                node.get_transaction_count(account, "pending".into()).await.map_err(|e| {
                    Error::ChainRead(format!(
                        "eth_getTransactionCount: {}",
                        sesskey_rpc::Error::from(e)
                    ))
                })?;
            Ok((code, nonce.to()))
        }
        match &self.chain {
            Some(node) => read(node, account, chain_id).await,
            None => read(&self.client, account, chain_id).await,
        }
    }

    /// Revokes `session` on chain: the owner's call of the account's `uninstallValidation` for
    /// the session's entity, with the data each of its hooks needs (verified before the owner
    /// signs, like every owner op), then waits for the outcome. From then on the account refuses
    /// the key's operations.
    #[tracing::instrument(skip_all, fields(session = %session.session_id, account = %session.account))]
    pub async fn revoke_session<S: Signer + Send + Sync>(
        &self,
        owner: &S,
        session: &Session,
        timeout: Duration,
    ) -> Result<Outcome> {
        let account = Account::Eip7702 { owner: owner.address() };
        self.revoke_session_of(owner, &account, session, timeout).await
    }

    /// [`Self::revoke_session`] for a session of `account`, of either kind (`owner` its owner).
    pub async fn revoke_session_of<S: Signer + Send + Sync>(
        &self,
        owner: &S,
        account: &Account,
        session: &Session,
        timeout: Duration,
    ) -> Result<Outcome> {
        if account.address() != session.account {
            return Err(mismatch("owner", session.account, account.address()));
        }
        let install = sesskey_account::SessionInstall {
            session_key: session.session_key,
            entity_id: session.entity_id,
            expiry: session.expiry,
            permissions: session.permissions.clone(),
        };
        let install_call = sesskey_account::encode_install(session.account, &install)?;
        let data = sesskey_account::encode_uninstall(&install_call)?;
        let call = Call { to: session.account, data: Some(data), value: Some(U256::ZERO) };
        let id = self.send_as_owner_of(owner, account, session.chain_id.to(), vec![call]).await?;
        self.wait_for_status(&id, timeout).await
    }

    /// Creates a session and has `owner` sign it, in one step: [`Orchestrator::request_session`]
    /// then [`PendingSession::complete`] with the owner's signature of the verified request.
    pub async fn create_session<S: Signer + Send + Sync>(
        &self,
        owner: &S,
        request: &CreateSessionParams,
    ) -> Result<Session> {
        let account = Account::Eip7702 { owner: owner.address() };
        self.create_session_for(owner, &account, request).await
    }

    /// [`Self::create_session`] for `account`, of either kind (`owner` its owner; an SMA-B
    /// account may still be counterfactual: the session's first op deploys it).
    pub async fn create_session_for<S: Signer + Send + Sync>(
        &self,
        owner: &S,
        account: &Account,
        request: &CreateSessionParams,
    ) -> Result<Session> {
        if owner.address() != account.owner() {
            return Err(mismatch("owner", account.owner(), owner.address()));
        }
        let pending = self.request_session(request).await?;
        let signature = sign_request(owner, &pending.signature_request(), None).await?;
        pending.complete_for(&signature.data, account)
    }

    /// `wallet_createSession`, and the check of its answer before anyone signs: the typed
    /// data's domain (chain, account), deadline and nonce (the session's entity, deferred, global
    /// only for root), and the `installValidation` call decoding to exactly the requested key,
    /// entity, expiry and permissions; `rawPayload` must be its digest. The owner then signs the
    /// [`PendingSession`] wherever their key lives.
    #[tracing::instrument(skip_all, fields(account = %request.account, chain_id = %request.chain_id, session_key = %request.key.public_key))]
    pub async fn request_session(&self, request: &CreateSessionParams) -> Result<PendingSession> {
        let answer =
            self.client.create_session(request.clone()).await.map_err(sesskey_rpc::Error::from)?;
        if let Some(chain) = answer.chain_id {
            check_chain(chain, request.chain_id.to())?;
        }
        let SignatureRequest::TypedData { data, raw_payload } = &answer.signature_request else {
            return Err(Error::Unexpected(
                "createSession must ask for eth_signTypedData_v4".into(),
            ));
        };
        let action = DeferredAction::from_typed_data(data)?;
        if action.chain_id != request.chain_id.to::<u64>() {
            return Err(mismatch("domain.chainId", request.chain_id.to::<u64>(), action.chain_id));
        }
        if action.account != request.account {
            return Err(mismatch("domain.verifyingContract", request.account, action.account));
        }
        if action.deadline != request.deadline() {
            return Err(mismatch("message.deadline", request.deadline(), action.deadline));
        }
        let nonce = Nonce::decode(action.nonce);
        let root = request.permissions.contains(&Permission::Root);
        if !nonce.deferred_action
            || nonce.direct_call
            || nonce.global != root
            || nonce.entity_id == 0
        {
            return Err(mismatch(
                "message.nonce",
                "a deferred-action nonce of the session's entity",
                format!("{:#x}", action.nonce),
            ));
        }
        let install = decode_install(&action.call)?;
        if install.session_key != request.key.public_key {
            return Err(mismatch(
                "message.call (session key)",
                request.key.public_key,
                install.session_key,
            ));
        }
        if install.entity_id != nonce.entity_id {
            return Err(mismatch("message.call (entity id)", nonce.entity_id, install.entity_id));
        }
        if install.expiry != request.deadline() {
            return Err(mismatch("message.call (expiry)", request.deadline(), install.expiry));
        }
        let (want, got) = (
            canonical_permissions(&request.permissions),
            canonical_permissions(&install.permissions),
        );
        if want != got {
            return Err(mismatch(
                "message.call (permissions)",
                serde_json::to_string(&want).unwrap_or_default(),
                serde_json::to_string(&got).unwrap_or_default(),
            ));
        }
        // rawPayload must be the digest of exactly this typed data.
        check_request(&answer.signature_request, None)?;
        Ok(PendingSession {
            request: request.clone(),
            session_id: answer.session_id,
            entity_id: install.entity_id,
            typed_data: data.clone(),
            raw_payload: *raw_payload,
        })
    }

    /// Checks a prepared operation against the request: sender, chain, the nonce's entity, the
    /// call data decoding to exactly `calls`, the paymaster when a policy was asked for, and the
    /// hash (recomputed) in the signature request.
    fn verify_op(
        &self,
        op: &PreparedUserOperationV07,
        signer: OpFor<'_>,
        chain_id: u64,
        calls: &[Call],
        exec_hooks: bool,
    ) -> Result<(B256, Vec<Call>)> {
        let (account, entity, kind) = match signer {
            OpFor::Owner(a) => (a.address(), 0, Some(a)),
            OpFor::Session(s) => (s.account, s.entity_id, None),
        };
        check_chain(op.chain_id, chain_id)?;
        self.caps.check(&op.data)?;
        if op.data.sender != account {
            return Err(mismatch("data.sender", account, op.data.sender));
        }
        let nonce = Nonce::decode(op.data.nonce);
        if nonce.entity_id != entity {
            return Err(mismatch("data.nonce (entity)", entity, nonce.entity_id));
        }
        let decoded = decode_calls(account, &op.data.call_data)?;
        if decoded.execute_user_op != exec_hooks {
            return Err(mismatch(
                "data.callData (executeUserOp prefix)",
                exec_hooks,
                decoded.execute_user_op,
            ));
        }
        let made = match &self.gas_token {
            Some(token) => {
                let most = token.check_fee_payment(op.fee_payment.as_ref())?;
                token.check_calls(&decoded.calls, calls, op.data.paymaster, most)?
            }
            None => {
                if decoded.calls.len() != calls.len()
                    || !decoded.calls.iter().zip(calls).all(|(a, b)| same_call(a, b))
                {
                    return Err(mismatch(
                        "data.callData",
                        format!("{} requested calls", calls.len()),
                        format!("{} calls that differ", decoded.calls.len()),
                    ));
                }
                decoded.calls
            }
        };
        check_factory(&op.data, kind)?;
        match (&self.policy_id, op.data.paymaster) {
            (None, None) => {}
            (Some(_), Some(p)) => {
                let pinned = self.paymasters(chain_id);
                if !pinned.contains(&p) {
                    return Err(mismatch("data.paymaster", format!("one of {}", list(&pinned)), p));
                }
            }
            (policy, found) => {
                return Err(mismatch(
                    "data.paymaster",
                    if policy.is_some() { "a paymaster (sponsored)" } else { "none" },
                    found.map_or("none".to_string(), |p| p.to_string()),
                ))
            }
        }
        Ok((check_user_op_v07(op, ENTRY_POINT_V07)?, made))
    }

    /// Sends `calls` through `session`, signed by `key`:
    /// 1. pre-flight with the policy engine (expired, outside the permissions, over budget: a
    ///    typed error before any request), given what the session has `spent` and the time `now`;
    /// 2. `wallet_prepareCalls` with the session;
    /// 3. **verifies the prepared op** before the key signs it, fee caps and paymaster included,
    ///    and runs the pre-flight again with the op's real maximum gas cost when the account pays
    ///    it: that cost counts against a gas budget and, with the value sent, against a native
    ///    allowance ([`sesskey_account::Policy::evaluate_worst_case`]);
    /// 4. `wallet_sendPreparedCalls`.
    pub async fn send_calls<S: Signer + Send + Sync>(
        &self,
        session: &Session,
        key: &S,
        calls: Vec<Call>,
        spent: &Spend,
        now: u64,
    ) -> Result<SentCalls> {
        let (prepared, spend) =
            self.prepare_checked(session, key.address(), calls, spent, now).await?;
        let (call_id, user_op_hash) = self.sign_and_send(session, key, prepared).await?;
        Ok(SentCalls { call_id, user_op_hash, spend })
    }

    /// Steps 1 to 3 of [`Orchestrator::send_calls`], and nothing signed: the pre-flight, the
    /// prepared op verified, the pre-flight again with its worst-case gas cost. Answers the op
    /// and what sending it would charge the session (a simulation: would it pass, what would
    /// it cost). `signer` must be the session key.
    pub async fn prepare_checked(
        &self,
        session: &Session,
        signer: Address,
        calls: Vec<Call>,
        spent: &Spend,
        now: u64,
    ) -> Result<(PreparedSessionOp, Spend)> {
        session.policy().evaluate_worst_case(spent, now, &calls, U256::ZERO)?;
        let prepared = self.prepare_for_session(session, signer, calls, None).await?;
        let spend = session.policy().evaluate_worst_case(
            spent,
            now,
            &prepared.calls,
            prepared.max_gas_cost,
        )?;
        Ok((prepared, spend))
    }

    /// `wallet_prepareCalls` for `session` (on the parallel nonce key `nonce_key` when given),
    /// and the checks of [`Orchestrator::send_calls`]' step 3 except the pre-flight: nothing is
    /// signed. `signer` must be the session key.
    #[tracing::instrument(skip_all, fields(session = %session.session_id, nonce_key = ?nonce_key))]
    pub async fn prepare_for_session(
        &self,
        session: &Session,
        signer: Address,
        calls: Vec<Call>,
        nonce_key: Option<u64>,
    ) -> Result<PreparedSessionOp> {
        if signer != session.session_key {
            return Err(mismatch("session key", session.session_key, signer));
        }
        let chain_id: u64 = session.chain_id.to();
        if matches!(&self.gas_token, Some(t) if matches!(t.mode, TokenGasMode::PreOp { .. })) {
            return Err(Error::Unsupported(
                "a session key cannot sign a paymaster permit: pay a session's gas with TokenGasMode::PostOp".into(),
            ));
        }
        let params = PrepareCallsParams {
            calls: Some(calls.clone()),
            from: session.account,
            chain_id: session.chain_id,
            capabilities: Some(PrepareCallsCapabilities {
                permissions: Some(self.capability(session)),
                paymaster_service: self.paymaster_service(),
                nonce_override: nonce_key.map(|k| NonceOverride { nonce_key: U256::from(k) }),
                ..Default::default()
            }),
            paymaster_permit_signature: None,
        };
        let prepared = self.client.prepare_calls(params).await.map_err(sesskey_rpc::Error::from)?;
        // Exactly one operation: an authorization, or a second op, is refused by name.
        let (_, op) = one_op(prepared, false)?;
        let (user_op_hash, calls) = self.verify_op(
            &op,
            OpFor::Session(session),
            chain_id,
            &calls,
            has_exec_hooks(&session.permissions),
        )?;
        if let Some(k) = nonce_key {
            let nonce = Nonce::decode(op.data.nonce);
            if nonce.parallel_key != alloy_primitives::aliases::U152::from(k)
                && !nonce.deferred_action
            {
                return Err(mismatch("data.nonce (parallel key)", k, nonce.parallel_key));
            }
        }
        let max_gas_cost = match op.data.paymaster {
            Some(_) => U256::ZERO,
            None => max_gas_cost(&op.data).ok_or_else(|| {
                mismatch("data (gas × maxFeePerGas)", "a cost within 256 bits", "an overflow")
            })?,
        };
        Ok(PreparedSessionOp { op: Box::new(op), user_op_hash, max_gas_cost, calls })
    }

    /// Signs a verified op with the session key and sends it: answers the call id and the
    /// user-operation hash.
    #[tracing::instrument(skip_all, fields(session = %session.session_id, user_op = %prepared.user_op_hash))]
    pub async fn sign_and_send<S: Signer + Send + Sync>(
        &self,
        session: &Session,
        key: &S,
        prepared: PreparedSessionOp,
    ) -> Result<(CallId, B256)> {
        let op = *prepared.op;
        let signature = sesskey_signing::sign_user_op_v07(key, &op, ENTRY_POINT_V07).await?;
        let sent = self
            .client
            .send_prepared_calls(SendPreparedCallsParams {
                calls: SignedCalls::UserOperationV070(SignedUserOperationV07 {
                    data: op.data,
                    chain_id: op.chain_id,
                    signature,
                }),
                capabilities: Some(SendPreparedCallsCapabilities {
                    permissions: Some(self.capability(session)),
                    paymaster_service: None,
                }),
                call_id: None,
            })
            .await
            .map_err(sesskey_rpc::Error::from)?;
        Ok((CallId(sent.id), prepared.user_op_hash))
    }

    /// Polls `wallet_getCallsStatus` with backoff (from 100 ms, doubling to 2 s) until a final
    /// status or `timeout`.
    #[tracing::instrument(skip_all, fields(call_id = %call_id.0))]
    pub async fn wait_for_status(&self, call_id: &CallId, timeout: Duration) -> Result<Outcome> {
        let start = Instant::now();
        let mut delay = self.poll;
        loop {
            let status = self
                .client
                .get_calls_status(call_id.clone())
                .await
                .map_err(sesskey_rpc::Error::from)?;
            if let Some(progress) = &self.progress {
                progress(&status);
            }
            if let Some(outcome) = Outcome::of(status) {
                return Ok(outcome);
            }
            if start.elapsed() >= timeout {
                return Err(Error::Timeout {
                    call_id: call_id.0.to_string(),
                    waited_ms: start.elapsed().as_millis(),
                });
            }
            tokio::time::sleep(delay.min(timeout.saturating_sub(start.elapsed()))).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn check_chain(found: U64, expected: u64) -> Result<()> {
    if found.to::<u64>() != expected {
        return Err(mismatch("chainId", format!("{expected:#x}"), format!("{found:#x}")));
    }
    Ok(())
}

/// `0xef0100 ‖ delegate`: the code of an EOA delegated to `delegate` (EIP-7702).
fn delegation_designator(delegate: Address) -> Bytes {
    [&[0xef, 0x01, 0x00][..], delegate.as_slice()].concat().into()
}

fn list(addresses: &[Address]) -> String {
    addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// A prepareCalls answer as (authorization, operation): exactly one `user-operation-v070`, or,
/// when a delegation was asked for, exactly an `authorization` then a `user-operation-v070`.
fn one_op(
    prepared: PreparedCalls,
    delegation: bool,
) -> Result<(Option<PreparedAuthorization>, PreparedUserOperationV07)> {
    let elements = match prepared {
        PreparedCalls::UserOperationV070(op) if !delegation => return Ok((None, op)),
        PreparedCalls::Array(a) => a.data,
        other => vec![match other {
            PreparedCalls::UserOperationV070(op) => PreparedElement::UserOperationV070(op),
            PreparedCalls::Authorization(a) => PreparedElement::Authorization(a),
            other => {
                return Err(mismatch(
                    "type",
                    if delegation {
                        "an array of one authorization then one user-operation-v070"
                    } else {
                        "one user-operation-v070"
                    },
                    kind(&other),
                ))
            }
        }],
    };
    let shape: Vec<&str> = elements.iter().map(element_kind).collect();
    let refuse = |expected: &str| mismatch("type", expected, format!("[{}]", shape.join(", ")));
    if !delegation {
        if let Some(PreparedElement::Authorization(a)) =
            elements.iter().find(|e| matches!(e, PreparedElement::Authorization(_)))
        {
            return Err(mismatch(
                "authorization",
                "none (no delegation was asked for)",
                format!(
                    "an authorization to {} with nonce {} on chain {}",
                    a.data.address, a.data.nonce, a.chain_id
                ),
            ));
        }
        return Err(refuse("one user-operation-v070"));
    }
    let mut it = elements.into_iter();
    match (it.next(), it.next(), it.next()) {
        (
            Some(PreparedElement::Authorization(a)),
            Some(PreparedElement::UserOperationV070(op)),
            None,
        ) => Ok((Some(a), op)),
        _ => Err(refuse("an array of one authorization then one user-operation-v070")),
    }
}

/// A first delegation's authorization: to ModularAccountV2, on this chain, with the nonce the
/// chain reports; and its `rawPayload` the digest of exactly that tuple.
fn check_delegation(a: &PreparedAuthorization, chain_id: u64, nonce: u64) -> Result<()> {
    if a.chain_id.to::<u64>() != chain_id {
        return Err(mismatch(
            "authorization chainId",
            format!("{chain_id:#x}"),
            format!("{:#x}", a.chain_id),
        ));
    }
    if a.data.address != MODULAR_ACCOUNT_V2_7702 {
        return Err(mismatch(
            "authorization data.address",
            MODULAR_ACCOUNT_V2_7702,
            a.data.address,
        ));
    }
    if a.data.nonce.to::<u64>() != nonce {
        return Err(mismatch(
            "authorization data.nonce",
            format!("{nonce:#x} (the account's nonce on chain)"),
            format!("{:#x}", a.data.nonce),
        ));
    }
    check_authorization(a)?;
    Ok(())
}

fn element_kind(e: &PreparedElement) -> &'static str {
    match e {
        PreparedElement::Authorization(_) => "authorization",
        PreparedElement::UserOperationV070(_) => "user-operation-v070",
        PreparedElement::UserOperationV060(_) => "user-operation-v060",
    }
}

fn kind(p: &PreparedCalls) -> &'static str {
    match p {
        PreparedCalls::UserOperationV070(_) => "user-operation-v070",
        PreparedCalls::UserOperationV060(_) => "user-operation-v060",
        PreparedCalls::Authorization(_) => "authorization",
        PreparedCalls::Array(_) => "array",
        PreparedCalls::PaymasterPermit(_) => "paymaster-permit",
    }
}

/// Who an op being verified is signed by: the owner of an account, or a session's key.
#[derive(Clone, Copy)]
enum OpFor<'a> {
    Owner(&'a Account),
    Session(&'a Session),
}

//! `wallet_sendPreparedCalls`, first step: admission. Every check the EntryPoint and the account
//! make before an op is included (its authorizations, the account's code, the session, the
//! nonce, the paymaster, the funds, the signature, the permissions), on the state as it is:
//! nothing changes here. What it answers, [`Admitted`], is all that inclusion (`send`) needs.

use super::accounts::Kind;
use super::errors::{bad_nonce, first_op_replayed, invalid};
use super::gas::{self, max_cost_checked};
use super::policy::{judge, Verdict};
use super::sessions::{sig65, Resolved};
use super::{Core, EMULATOR_PAYMASTER, R};
use alloy_primitives::{Address, Bytes, B256, U256};
use sesskey_account::{
    decode_calls, has_exec_hooks, pack_deferred_signature, pack_signature, DecodedCalls, Nonce,
};
use sesskey_account::{sma_b_address, MODULAR_ACCOUNT_FACTORY};
use sesskey_rpc::WalletError;
use sesskey_types::*;

/// An op that passed admission, with what its inclusion needs.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) chain: u64,
    pub(crate) hash: B256,
    pub(crate) op: Box<SignedUserOperationV07>,
    /// Its EIP-7702 authorizations, checked, in order.
    pub(crate) auths: Vec<SignedAuthorization>,
    /// The nonce key whose sequence it uses.
    pub(crate) key: U256,
    /// The paymaster fronts the gas (sponsored, or paid in a token).
    pub(crate) sponsored: bool,
    /// Gas paid in a token: how.
    pub(crate) token: Option<super::TokenPayment>,
    pub(crate) max_cost: U256,
    pub(crate) calls: Vec<Call>,
    /// The signature the account verifies (what the bundle carries).
    pub(crate) packed: Bytes,
    /// The session and the policy's verdict on the calls, for a session's op.
    pub(crate) session: Option<(Resolved, Verdict)>,
    pub(crate) validation: gas::Validation,
    pub(crate) path: gas::ExecPath,
    /// The owner and salt of the SMA-B account the op deploys.
    pub(crate) deploy: Option<(Address, U256)>,
}

impl Core {
    /// Admits a signed op (its signers recovered): every check, nothing changed.
    pub(crate) fn admit(
        &self,
        auths: Vec<(SignedAuthorization, Option<Address>)>,
        op: Box<SignedUserOperationV07>,
        hash: B256,
        signer: Option<Address>,
        caps: &SendPreparedCallsCapabilities,
    ) -> R<Admitted> {
        let chain = self.check_chain(op.chain_id)?;
        let data = &op.data;
        let sender = data.sender;
        let kind = self.kind(chain, sender);
        let (auths, deploy) = match kind {
            Kind::Eip7702 => {
                if data.factory.is_some() || data.factory_data.is_some() {
                    return Err(invalid(
                        "invalid `factory`: an EIP-7702 account is not deployed by a factory",
                    ));
                }
                (self.check_authorizations(chain, sender, auths)?, None)
            }
            Kind::SmaB { owner, .. } => {
                if !auths.is_empty() {
                    return Err(invalid(format!(
                        "invalid `data`: {sender} is an SMA-B smart-contract account; it takes no EIP-7702 authorization"
                    )));
                }
                (vec![], self.check_deployment(chain, data, owner)?)
            }
        };
        let nonce = Nonce::decode(data.nonce);
        let resolved = match &caps.permissions {
            Some(cap) => Some(self.resolve_session(cap, sender, chain)?),
            None => None,
        };
        if let Some(r) = &resolved {
            let s = &r.session;
            if nonce.deferred_action && s.installed && data.nonce == s.action.nonce {
                return Err(first_op_replayed(&s.permissions, s.action.deadline, s.entity_id));
            }
        }
        // The nonce prepare would give now: the EntryPoint's next sequence of the op's key.
        if self.next_nonce(chain, sender, nonce) != data.nonce {
            return Err(bad_nonce());
        }
        let key = data.nonce >> 64;
        let (sponsored, token) = self.check_paymaster(data, hash)?;
        let max_cost = self.check_funds(chain, data, sponsored)?;
        let decoded =
            decode_calls(sender, &data.call_data).map_err(|e| WalletError::ValidationReverted {
                reason: e.to_string(),
                aa: "AA23 reverted".into(),
                data: None,
            })?;
        let sig = sig65(&op.signature.data)?;
        let now = self.clock.now();
        let gas_cost = if sponsored { U256::ZERO } else { max_cost };
        let (packed, session) = match resolved {
            Some(r) => {
                let (packed, verdict) =
                    check_session_op(&r, data, &decoded, signer, &sig, now, gas_cost)?;
                (packed, Some((r, verdict)))
            }
            None if signer == Some(kind.owner(sender)) && nonce.entity_id == 0 => {
                (pack_signature(&sig), None)
            }
            None => return Err(WalletError::InvalidAccountSignature),
        };
        let (validation, path) = gas_shape(
            session.as_ref().map(|(r, _)| &r.session),
            &decoded.calls,
            nonce.deferred_action,
        );
        Ok(Admitted {
            chain,
            hash,
            auths,
            key,
            sponsored,
            token,
            max_cost,
            calls: decoded.calls,
            packed,
            session,
            validation,
            path,
            deploy,
            op,
        })
    }

    /// An SMA-B account's deployment: with no code, the op must deploy it, with the factory's
    /// `createSemiModularAccount(owner, salt)` for exactly this address (AA10, AA13, AA14, AA20
    /// as the EntryPoint refuses); with code, it must not. Answers the owner and salt to deploy.
    fn check_deployment(
        &self,
        chain: u64,
        data: &UserOperationV07,
        owner: Address,
    ) -> R<Option<(Address, U256)>> {
        let sender = data.sender;
        let refuse = |reason: String, aa: &str| WalletError::ValidationReverted {
            reason,
            aa: aa.into(),
            data: None,
        };
        let has_code = !self.chain(chain).code_of(sender).is_empty();
        match (&data.factory, has_code) {
            (None, true) => Ok(None),
            (Some(_), true) => {
                Err(refuse(format!("{sender} is deployed"), "AA10 sender already constructed"))
            }
            (None, false) => {
                Err(refuse(format!("{sender} has no code"), "AA20 account not deployed"))
            }
            (Some(factory), false) => {
                if *factory != MODULAR_ACCOUNT_FACTORY {
                    return Err(refuse(
                        format!("factory {factory} is not ModularAccountV2's"),
                        "AA13 initCode failed or OOG",
                    ));
                }
                let call = data.factory_data.as_ref().map(|d| &d[..]).unwrap_or_default();
                match sesskey_account::decode_sma_b_factory_data(call) {
                    Ok((o, salt)) if o == owner && sma_b_address(o, salt) == sender => {
                        Ok(Some((o, salt)))
                    }
                    Ok(_) => Err(refuse(
                        format!("the factory call deploys another account than {sender}"),
                        "AA14 initCode must return sender",
                    )),
                    Err(e) => Err(refuse(e.to_string(), "AA13 initCode failed or OOG")),
                }
            }
        }
    }

    /// EIP-7702 authorizations relayed with the op: each signed by the EOA, for its nonce at
    /// that point (the current one, then one more per authorization before it), to
    /// ModularAccountV2 (or none). The account must be delegated once they apply.
    fn check_authorizations(
        &self,
        chain: u64,
        sender: Address,
        auths: Vec<(SignedAuthorization, Option<Address>)>,
    ) -> R<Vec<SignedAuthorization>> {
        let mut nonce = self.chain(chain).account(sender).nonce;
        let mut delegate = self.chain(chain).delegation(sender);
        let mut checked = vec![];
        for (a, signer) in auths {
            if a.chain_id.to::<u64>() != chain && !a.chain_id.is_zero() {
                return Err(invalid(format!(
                    "invalid `data`: authorization for chain {:#x}",
                    a.chain_id
                )));
            }
            if signer != Some(sender) {
                return Err(WalletError::Eip7702AuthInvalid);
            }
            if a.data.nonce.saturating_to::<u64>() != nonce {
                return Err(WalletError::Eip7702NonceMismatch);
            }
            if a.data.address != MODULAR_ACCOUNT_V2_7702 && !a.data.address.is_zero() {
                return Err(invalid(
                    "invalid `data.address`: the delegation must be ModularAccountV2",
                ));
            }
            nonce = nonce.saturating_add(1);
            delegate = (!a.data.address.is_zero()).then_some(a.data.address);
            checked.push(a);
        }
        if delegate.is_none() {
            return Err(WalletError::ValidationReverted {
                reason: format!("{sender} has no code"),
                aa: "AA20 account not deployed".into(),
                data: None,
            });
        }
        Ok(checked)
    }

    /// Whether the paymaster fronts the op's gas (and how the account pays it back in a token):
    /// its paymaster must be the emulator's, on an op it prepared with it (the paymaster's
    /// signature covers the op).
    fn check_paymaster(
        &self,
        data: &UserOperationV07,
        hash: B256,
    ) -> R<(bool, Option<super::TokenPayment>)> {
        let prepared = self.wallet.prepared.get(&hash);
        match data.paymaster {
            None => Ok((false, None)),
            Some(pm) if pm == EMULATOR_PAYMASTER && prepared.is_some_and(|p| p.sponsored) => {
                Ok((true, None))
            }
            Some(pm) if pm == EMULATOR_PAYMASTER && prepared.is_some_and(|p| p.token.is_some()) => {
                Ok((true, prepared.and_then(|p| p.token.clone())))
            }
            Some(_) => Err(WalletError::ValidationReverted {
                reason: "paymaster signature".into(),
                aa: "AA34 signature error".into(),
                data: None,
            }),
        }
    }

    /// The op's maximum cost, which its payer must hold: the paymaster's deposit at the
    /// EntryPoint, or the account's balance.
    fn check_funds(&self, chain: u64, data: &UserOperationV07, sponsored: bool) -> R<U256> {
        let max_cost = max_cost_checked(data)?;
        let c = self.chain(chain);
        if sponsored {
            let deposit = c.deposit_of(EMULATOR_PAYMASTER);
            if deposit < max_cost {
                return Err(WalletError::ValidationReverted {
                    reason: format!("the paymaster's deposit {deposit} is below {max_cost} wei"),
                    aa: "AA31 paymaster deposit too low".into(),
                    data: None,
                });
            }
        } else {
            let balance = c.account(data.sender).balance;
            if balance < max_cost {
                return Err(WalletError::PrecheckFailed(format!(
                    "sender balance and deposit together is {balance} but must be at least {max_cost} to pay for this operation"
                )));
            }
        }
        Ok(max_cost)
    }
}

/// A session's op: signed by its key under its entity, its call data in the form its hooks need,
/// the calls judged by its policy, its nonce the deferred install's on a first op. Answers the
/// packed signature and the verdict.
fn check_session_op(
    r: &Resolved,
    data: &UserOperationV07,
    decoded: &DecodedCalls,
    signer: Option<Address>,
    sig: &[u8; 65],
    now: u64,
    gas_cost: U256,
) -> R<(Bytes, Verdict)> {
    let s = &r.session;
    let nonce = Nonce::decode(data.nonce);
    if signer != Some(s.session_key) || nonce.entity_id != s.entity_id {
        return Err(WalletError::InvalidAccountSignature);
    }
    if decoded.execute_user_op != has_exec_hooks(&s.permissions) {
        return Err(WalletError::ValidationReverted {
            reason: "RequireUserOperationContext".into(),
            aa: "AA23 reverted".into(),
            data: None,
        });
    }
    let verdict = judge(s, now, &decoded.calls, gas_cost)?;
    let packed = if nonce.deferred_action {
        if data.nonce != s.action.nonce {
            return Err(bad_nonce());
        }
        pack_deferred_signature(&s.action(), &r.owner_signature, sig)
    } else {
        if !s.installed {
            return Err(WalletError::InvalidAccountSignature);
        }
        pack_signature(sig)
    };
    Ok((packed, verdict))
}

/// Who validates an op and what runs around its calls, for its gas.
pub(crate) fn gas_shape(
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

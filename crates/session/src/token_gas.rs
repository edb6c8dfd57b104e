//! Gas paid in an ERC-20 token (`paymasterService.erc20`), checked before anything is signed:
//! the `feePayment` names the token and stays within `maxTokenAmount`; the only call a server
//! may add is the `approve` of the paymaster that post-op mode asked for; a `paymaster-permit`
//! is exactly the EIP-2612 permit asked for (this token, this chain, this account, a pinned
//! paymaster, the amount asked, not yet expired), and the request it sends back is the one sent.

use crate::error::{mismatch, Result};
use alloy_primitives::{Address, U256};
use sesskey_account::{decode_approve, same_call, TokenPermit};
use sesskey_types::*;

/// How the gas of an orchestrator's operations is paid when it is paid in a token
/// ([`crate::Orchestrator::with_gas_token`]): the paymaster of the orchestrator's policy fronts
/// it and takes the token from the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenGas {
    /// The token.
    pub token: Address,
    /// The most one operation may cost, in the token's base units (`maxTokenAmount`); also the
    /// most an `approve` or a permit may grant.
    pub max_token_amount: Option<U256>,
    /// When the paymaster takes the token.
    pub mode: TokenGasMode,
}

/// When the paymaster takes the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenGasMode {
    /// After the calls (`postOpSettings`): the allowance must cover the cost, or `auto_approve`
    /// lets the server put an `approve` of the paymaster first in the calls (`Always(true)`: for
    /// exactly the operation's most; `Below { below, amount }`: `amount` when the allowance is
    /// below `below`). The approval is one of the calls: a session's permissions must allow it.
    PostOp {
        /// `autoApprove`.
        auto_approve: Option<AutoApprove>,
    },
    /// Before the calls (`preOpSettings.autoPermit`): when the allowance is below `below`, the
    /// owner signs an EIP-2612 permit for `amount` first. Owner operations of an EIP-7702
    /// account only: a session key cannot sign a permit.
    PreOp {
        /// `autoPermit`.
        auto_permit: AutoPermit,
    },
}

impl TokenGas {
    /// The `erc20` capability.
    pub(crate) fn capability(&self) -> Erc20Payment {
        let (pre_op_settings, post_op_settings) = match &self.mode {
            TokenGasMode::PostOp { auto_approve } => (
                None,
                Some(PostOpSettings { auto_approve: auto_approve.clone(), balance_check: None }),
            ),
            TokenGasMode::PreOp { auto_permit } => {
                (Some(PreOpSettings::AutoPermit { auto_permit: auto_permit.clone() }), None)
            }
        };
        Erc20Payment {
            token_address: self.token,
            max_token_amount: self.max_token_amount,
            pre_op_settings,
            post_op_settings,
        }
    }

    fn within_max(&self, field: &'static str, amount: U256) -> Result<()> {
        match self.max_token_amount {
            Some(cap) if amount > cap => {
                Err(mismatch(field, format!("at most maxTokenAmount {cap}"), amount))
            }
            _ => Ok(()),
        }
    }

    /// `feePayment` of a prepared op: paid in this token, not sponsored, its most within
    /// `maxTokenAmount`. Answers the most.
    pub(crate) fn check_fee_payment(&self, fee: Option<&FeePayment>) -> Result<U256> {
        let fee = fee.ok_or_else(|| mismatch("feePayment", "a payment in the token", "none"))?;
        if fee.sponsored {
            return Err(mismatch("feePayment.sponsored", false, true));
        }
        if fee.token_address != self.token {
            return Err(mismatch("feePayment.tokenAddress", self.token, fee.token_address));
        }
        self.within_max("feePayment.maxAmount", fee.max_amount)?;
        Ok(fee.max_amount)
    }

    /// The calls of a prepared op against those requested: the same, or, in post-op mode with
    /// `autoApprove`, an `approve(paymaster, amount)` of the token first and then the same
    /// (`amount` the op's most for `true`, the configured amount for `{below, amount}`).
    /// Answers the calls the op makes.
    pub(crate) fn check_calls(
        &self,
        decoded: &[Call],
        requested: &[Call],
        paymaster: Option<Address>,
        most: U256,
    ) -> Result<Vec<Call>> {
        let same = |a: &[Call]| {
            a.len() == requested.len() && a.iter().zip(requested).all(|(x, y)| same_call(x, y))
        };
        if same(decoded) {
            return Ok(decoded.to_vec());
        }
        let TokenGasMode::PostOp { auto_approve: Some(auto) } = &self.mode else {
            return Err(calls_differ(requested, decoded));
        };
        let Some((first, rest)) = decoded.split_first() else {
            return Err(calls_differ(requested, decoded));
        };
        let approved = (first.to == self.token && first.value_or_zero().is_zero())
            .then(|| decode_approve(&first.data_or_empty()))
            .flatten();
        let (Some((spender, amount)), true) = (approved, same(rest)) else {
            return Err(calls_differ(requested, decoded));
        };
        if Some(spender) != paymaster {
            return Err(mismatch(
                "data.callData (approve spender)",
                paymaster.map_or("the op's paymaster".into(), |p| p.to_string()),
                spender,
            ));
        }
        let expected = match auto {
            AutoApprove::Below { amount, .. } => *amount,
            AutoApprove::Always(true) => most,
            AutoApprove::Always(false) => return Err(calls_differ(requested, decoded)),
        };
        if amount != expected {
            return Err(mismatch("data.callData (approve amount)", expected, amount));
        }
        self.within_max("data.callData (approve amount)", amount)?;
        Ok(decoded.to_vec())
    }

    /// A `paymaster-permit` answer, before the owner signs it: the permit of exactly this
    /// token, chain and account, for a pinned paymaster and the amount asked, not expired, and
    /// what to sign is its typed data. Answers the request to send again (built here, and
    /// compared with the server's `modifiedRequest`) without the signature.
    pub(crate) fn check_permit(
        &self,
        answer: &PaymasterPermit,
        sent: &PrepareCallsParams,
        paymasters: &[Address],
        now: u64,
    ) -> Result<PrepareCallsParams> {
        let TokenGasMode::PreOp { auto_permit } = &self.mode else {
            return Err(mismatch(
                "type",
                "a user operation (no permit was asked for)",
                "paymaster-permit",
            ));
        };
        let permit = TokenPermit::from_typed_data(&answer.data)?;
        let chain_id: u64 = sent.chain_id.to();
        if permit.token != self.token {
            return Err(mismatch("data.domain.verifyingContract", self.token, permit.token));
        }
        if permit.chain_id != chain_id {
            return Err(mismatch("data.domain.chainId", chain_id, permit.chain_id));
        }
        if permit.owner != sent.from {
            return Err(mismatch("data.message.owner", sent.from, permit.owner));
        }
        if !paymasters.contains(&permit.spender) {
            let pinned = paymasters.iter().map(ToString::to_string).collect::<Vec<_>>();
            return Err(mismatch(
                "data.message.spender",
                format!("one of {}", pinned.join(", ")),
                permit.spender,
            ));
        }
        if permit.value != auto_permit.amount {
            return Err(mismatch("data.message.value", auto_permit.amount, permit.value));
        }
        self.within_max("data.message.value", permit.value)?;
        if permit.deadline <= U256::from(now) {
            return Err(mismatch("data.message.deadline", format!("after {now}"), permit.deadline));
        }
        match &answer.signature_request {
            SignatureRequest::TypedData { data, .. } if *data == answer.data => {}
            other => {
                return Err(mismatch(
                    "signatureRequest",
                    "eth_signTypedData_v4 of the permit",
                    sesskey_signing::request_kind(other),
                ))
            }
        }
        let mut again = sent.clone();
        let erc20 = Erc20Payment {
            pre_op_settings: Some(PreOpSettings::PermitDetails {
                permit_details: PermitDetails { deadline: permit.deadline, value: permit.value },
            }),
            ..self.capability()
        };
        if let Some(p) = again.capabilities.as_mut().and_then(|c| c.paymaster_service.as_mut()) {
            p.erc20 = Some(erc20);
        }
        if answer.modified_request != again {
            return Err(mismatch(
                "modifiedRequest",
                "the request sent, with permitDetails of the permit",
                "a request that differs",
            ));
        }
        Ok(again)
    }
}

fn calls_differ(requested: &[Call], decoded: &[Call]) -> crate::Error {
    mismatch(
        "data.callData",
        format!("{} requested calls", requested.len()),
        format!("{} calls that differ", decoded.len()),
    )
}

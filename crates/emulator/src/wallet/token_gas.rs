//! Gas paid in an ERC-20 token (`paymasterService.erc20`, spec §2.3), as Alchemy's "pay gas
//! with any token" policies do: the emulator's paymaster fronts the gas from its deposit at the
//! EntryPoint and takes the token from the account, at the price the operator set for it
//! (`sesskey serve --gas-token TOKEN=PRICE`).
//!
//! - **Post-op** (`postOpSettings`, and the default): the paymaster pulls what the op cost, in
//!   the token, after its calls ran (`transferFrom(account, paymaster, cost)`). `autoApprove`
//!   puts an `approve(paymaster, amount)` first in the op's calls when the allowance is short
//!   (`true`: the op's most; `{below, amount}`: `amount` when the allowance is below `below`).
//!   If the pull fails, the op's calls are undone and it is included as failed, the gas fronted.
//! - **Pre-op** (`preOpSettings`): the paymaster pulls the op's most before the calls run (in
//!   its validation) and gives back what the op did not use after them. `autoPermit` answers a
//!   `paymaster-permit` (an EIP-2612 permit for `amount`, to be signed by the owner) when the
//!   allowance is below `below`; the request comes back with `permitDetails` and
//!   `paymasterPermitSignature`, and the permit is applied before the pull.
//!
//! Refusals (codes as the native payment's): a token the operator did not price, -32600
//! `Sponsorship failed`; a balance, allowance or permit below the op's most, or a most above
//! `maxTokenAmount`, -32000 `precheck failed`; `permitDetails` without a signature, or a
//! signature that is not the owner's, -32602.

use super::errors::invalid;
use super::{Core, EMULATOR_PAYMASTER, R};
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{sol, SolCall};
use serde::{Deserialize, Serialize};
use sesskey_account::{encode_approve, TokenPermit};
use sesskey_rpc::WalletError;
use sesskey_types::*;

sol! {
    function decimals() external view returns (uint8);
    function name() external view returns (string);
    function DOMAIN_SEPARATOR() external view returns (bytes32);
    function nonces(address owner) external view returns (uint256);
    function balanceOf(address owner) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
    function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;
}

/// The paymaster's validation gas limit when it pulls the token before the calls (a permit
/// first, when there is one).
pub(crate) const PRE_OP_VERIFICATION_GAS: u64 = 90_000;
/// The same with a permit to apply first.
pub(crate) const PERMIT_VERIFICATION_GAS: u64 = 150_000;
/// The paymaster's validation gas limit when it pulls after the calls.
pub(crate) const POST_OP_VERIFICATION_GAS: u64 = 40_000;
/// The paymaster's `postOp` gas limit (the pull, or the refund).
pub(crate) const POST_OP_GAS: u64 = 70_000;
/// The most gas one of the paymaster's token calls may use.
const TOKEN_CALL_GAS: u64 = 200_000;

/// A token the emulator's paymaster takes for gas, and its price: what 1 ETH of gas costs in
/// whole tokens (`mantissa / 10^scale`, scaled by the token's `decimals()`). Written
/// `TOKEN=PRICE` on the command line, e.g. `0x5FbD…0aa3=3000` or `…=0.5`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GasToken {
    /// The token.
    pub token: Address,
    /// The price's digits.
    pub mantissa: U256,
    /// How many of them are decimals.
    pub scale: u8,
}

impl std::str::FromStr for GasToken {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (token, price) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected TOKEN=PRICE (whole tokens per ETH of gas)"))?;
        let token: Address =
            token.trim().parse().map_err(|e| format!("`{token}` is not an address: {e}"))?;
        let price = price.trim();
        let (whole, frac) = price.split_once('.').unwrap_or((price, ""));
        let digits = format!("{whole}{frac}");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 36 {
            return Err(format!(
                "`{price}` is not a price: whole tokens per ETH, like 3000 or 0.25 (at most 36 decimals)"
            ));
        }
        let mantissa: U256 = digits.parse().map_err(|e| format!("`{price}`: {e}"))?;
        if mantissa.is_zero() {
            return Err(format!("`{price}`: a price must be above 0"));
        }
        Ok(Self { token, mantissa, scale: frac.len() as u8 })
    }
}

impl std::fmt::Display for GasToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = format!("{:0>width$}", self.mantissa, width = usize::from(self.scale) + 1);
        let (whole, frac) = digits.split_at(digits.len() - usize::from(self.scale));
        match frac {
            "" => write!(f, "{}={whole}", self.token),
            _ => write!(f, "{}={whole}.{frac}", self.token),
        }
    }
}

/// How an op pays in a token, kept with the prepared op (and read again at inclusion).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TokenPayment {
    pub(crate) token: Address,
    /// Pulled before the calls (and the rest given back), or after them.
    pub(crate) pre_op: bool,
    /// The most the op may cost, in the token's base units (`feePayment.maxAmount`).
    pub(crate) max_tokens: U256,
    /// The price: `tokens = ceil(wei × num / den)`.
    pub(crate) num: U256,
    pub(crate) den: U256,
    /// The permit to apply before the pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) permit: Option<SignedPermit>,
}

/// A permit the owner signed (`paymasterPermitSignature`), checked against the token's domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SignedPermit {
    pub(crate) value: U256,
    pub(crate) deadline: U256,
    pub(crate) v: u8,
    pub(crate) r: B256,
    pub(crate) s: B256,
}

impl TokenPayment {
    /// What `wei` of gas costs in the token, rounded up.
    pub(crate) fn tokens_for(&self, wei: U256) -> Option<U256> {
        let scaled = wei.checked_mul(self.num)?;
        Some(scaled.div_ceil(self.den))
    }
}

/// What a prepare in a token does next: answer a permit to sign, or build the op.
pub(crate) enum Plan {
    Permit(Box<PaymasterPermit>),
    Pay(Box<TokenPlan>),
}

/// A token payment being prepared: the payment, and the `approve` put first in the calls.
pub(crate) struct TokenPlan {
    pub(crate) payment: TokenPayment,
    pub(crate) erc20: Erc20Payment,
    /// `{below, amount}` with the allowance below: approve `amount`.
    pub(crate) approve: Option<U256>,
    /// `autoApprove: true`: the approval is the op's most, known once the op is built.
    pub(crate) approve_exact: bool,
}

impl TokenPlan {
    /// The paymaster's gas limits (validation, postOp).
    pub(crate) fn gas_limits(&self) -> (u64, u64) {
        match (&self.payment.pre_op, &self.payment.permit) {
            (true, Some(_)) => (PERMIT_VERIFICATION_GAS, POST_OP_GAS),
            (true, None) => (PRE_OP_VERIFICATION_GAS, POST_OP_GAS),
            (false, _) => (POST_OP_VERIFICATION_GAS, POST_OP_GAS),
        }
    }

    /// The call that approves the paymaster, first in the op (a placeholder amount, the most
    /// bytes, until the exact amount is known).
    pub(crate) fn approve_call(&self) -> Option<Call> {
        let amount = match (self.approve, self.approve_exact) {
            (Some(a), _) => a,
            (None, true) => U256::MAX,
            (None, false) => return None,
        };
        Some(Call {
            to: self.payment.token,
            data: Some(encode_approve(EMULATOR_PAYMASTER, amount)),
            value: Some(U256::ZERO),
        })
    }
}

fn precheck(msg: String) -> WalletError {
    WalletError::PrecheckFailed(msg)
}

impl Core {
    /// Calls a token's view function on the latest state.
    fn token_read<C: SolCall>(&self, chain: u64, token: Address, call: C) -> Option<C::Return> {
        let req =
            TransactionRequest::default().to(token).input(Bytes::from(call.abi_encode()).into());
        let out = self.chain(chain).call(self.clock.now(), req, None).ok()?;
        C::abi_decode_returns(&out).ok()
    }

    /// The token's price as `num / den` base units per wei.
    fn token_price(&self, chain: u64, token: Address) -> R<(U256, U256)> {
        let Some(priced) = self.config.gas_tokens.iter().find(|g| g.token == token) else {
            return Err(WalletError::SponsorshipFailed(format!(
                "[invalid_argument] token {token} is not accepted for gas by this policy (the emulator takes {})",
                if self.config.gas_tokens.is_empty() {
                    "none: start it with --gas-token TOKEN=PRICE".to_string()
                } else {
                    self.config.gas_tokens.iter().map(|g| g.token.to_string()).collect::<Vec<_>>().join(", ")
                }
            )));
        };
        let decimals = self.token_read(chain, token, decimalsCall {}).ok_or_else(|| {
            invalid(format!(
                "invalid `tokenAddress`: {token} does not answer decimals() on chain {chain}"
            ))
        })?;
        let ten = U256::from(10);
        let num = priced.mantissa.saturating_mul(ten.pow(U256::from(decimals)));
        let den = ten.pow(U256::from(u32::from(priced.scale) + 18));
        Ok((num, den))
    }

    /// The permit `owner` signs for the paymaster: the token's EIP-712 name and the version its
    /// `DOMAIN_SEPARATOR()` was built with ("1" or "2"), its nonce for `owner`.
    fn permit_for(
        &self,
        chain: u64,
        token: Address,
        owner: Address,
        value: U256,
        deadline: U256,
    ) -> R<TokenPermit> {
        let unsupported = || {
            invalid(format!(
                "invalid `preOpSettings`: token {token} does not support EIP-2612 permits (no DOMAIN_SEPARATOR() of version 1 or 2): use postOpSettings"
            ))
        };
        let name = self.token_read(chain, token, nameCall {}).ok_or_else(unsupported)?;
        let separator =
            self.token_read(chain, token, DOMAIN_SEPARATORCall {}).ok_or_else(unsupported)?;
        let nonce = self.token_read(chain, token, noncesCall { owner }).ok_or_else(unsupported)?;
        ["1", "2"]
            .into_iter()
            .map(|version| TokenPermit {
                token,
                name: name.clone(),
                version: version.into(),
                chain_id: chain,
                owner,
                spender: EMULATOR_PAYMASTER,
                value,
                nonce,
                deadline,
            })
            .find(|p| p.domain_separator() == separator)
            .ok_or_else(unsupported)
    }

    /// Reads `erc20` for a prepare from `from` (`owner_signs`: the op is the owner's, not a
    /// session's): a permit to answer first, or how the op pays.
    pub(crate) fn plan_token_payment(
        &self,
        chain: u64,
        params: &PrepareCallsParams,
        erc20: &Erc20Payment,
        owner_signs: bool,
        plain_eoa_owner: bool,
    ) -> R<Plan> {
        let (from, token) = (params.from, erc20.token_address);
        let (num, den) = self.token_price(chain, token)?;
        let allowance = self
            .token_read(chain, token, allowanceCall { owner: from, spender: EMULATOR_PAYMASTER })
            .unwrap_or_default();
        let mut payment =
            TokenPayment { token, pre_op: false, max_tokens: U256::ZERO, num, den, permit: None };
        let (mut approve, mut approve_exact) = (None, false);
        if erc20.pre_op_settings.is_some() && erc20.post_op_settings.is_some() {
            return Err(invalid(
                "invalid `paymasterService.erc20`: give preOpSettings or postOpSettings, not both",
            ));
        }
        if params.paymaster_permit_signature.is_some()
            && !matches!(erc20.pre_op_settings, Some(PreOpSettings::PermitDetails { .. }))
        {
            return Err(invalid(
                "invalid `paymasterPermitSignature`: it goes with `erc20.preOpSettings.permitDetails`",
            ));
        }
        let needs_owner = |what: &str| -> R<()> {
            if !owner_signs {
                return Err(invalid(format!(
                    "invalid `erc20.preOpSettings.{what}`: a permit is signed by the account's owner, not a session key; a session's op pays with postOpSettings"
                )));
            }
            if !plain_eoa_owner {
                return Err(invalid(format!(
                    "invalid `erc20.preOpSettings.{what}`: the emulator serves permits for EIP-7702 accounts (whose owner is the account); an SMA-B account pays with postOpSettings"
                )));
            }
            Ok(())
        };
        match (&erc20.pre_op_settings, &erc20.post_op_settings) {
            (Some(PreOpSettings::AutoPermit { auto_permit }), _) => {
                payment.pre_op = true;
                if allowance < auto_permit.below {
                    needs_owner("autoPermit")?;
                    let duration = auto_permit.duration_seconds.unwrap_or(U256::from(3600));
                    let deadline = U256::from(self.clock.now()).saturating_add(duration);
                    let permit =
                        self.permit_for(chain, token, from, auto_permit.amount, deadline)?;
                    return Ok(Plan::Permit(Box::new(permit_answer(params, erc20, &permit))));
                }
            }
            (Some(PreOpSettings::PermitDetails { permit_details }), _) => {
                payment.pre_op = true;
                needs_owner("permitDetails")?;
                let Some(sig) = &params.paymaster_permit_signature else {
                    return Err(invalid(
                        "missing `paymasterPermitSignature`: `permitDetails` needs the owner's signature of the permit (the paymaster-permit answer's signatureRequest)",
                    ));
                };
                if permit_details.deadline < U256::from(self.clock.now()) {
                    return Err(invalid("invalid `permitDetails.deadline`: already past"));
                }
                let permit = self.permit_for(
                    chain,
                    token,
                    from,
                    permit_details.value,
                    permit_details.deadline,
                )?;
                let parsed = sesskey_signing::parse_signature(&sig.data)
                    .map_err(|e| invalid(format!("invalid `paymasterPermitSignature`: {e}")))?;
                if sesskey_signing::recover(permit.digest(), &sig.data).ok() != Some(from) {
                    return Err(invalid(
                        "invalid `paymasterPermitSignature`: not the owner's signature of this permit",
                    ));
                }
                payment.permit = Some(SignedPermit {
                    value: permit.value,
                    deadline: permit.deadline,
                    v: 27 + u8::from(parsed.v()),
                    r: parsed.r().into(),
                    s: parsed.s().into(),
                });
            }
            (None, Some(PostOpSettings { auto_approve: Some(a), .. })) => match a {
                AutoApprove::Always(true) => approve_exact = true,
                AutoApprove::Always(false) => {}
                AutoApprove::Below { below, amount } => {
                    if allowance < *below {
                        approve = Some(*amount);
                    }
                }
            },
            (None, _) => {}
        }
        Ok(Plan::Pay(Box::new(TokenPlan { payment, erc20: erc20.clone(), approve, approve_exact })))
    }

    /// Once the op's most (`max_cost` wei) is known: the most in the token, checked against
    /// `maxTokenAmount`, the balance and what the paymaster may take. Answers the exact
    /// approval when `autoApprove: true` asked for one.
    pub(crate) fn settle_token_plan(
        &self,
        chain: u64,
        from: Address,
        plan: &mut TokenPlan,
        max_cost: U256,
    ) -> R<Option<U256>> {
        let token = plan.payment.token;
        let most = plan
            .payment
            .tokens_for(max_cost)
            .ok_or_else(|| precheck(format!("the op's cost in {token} overflows 256 bits")))?;
        plan.payment.max_tokens = most;
        if let Some(cap) = plan.erc20.max_token_amount {
            if most > cap {
                return Err(precheck(format!(
                    "the op may cost {most} of token {token}, above maxTokenAmount {cap}"
                )));
            }
        }
        let balance_check = plan.payment.pre_op
            || plan.erc20.post_op_settings.as_ref().and_then(|p| p.balance_check) != Some(false);
        if balance_check {
            let balance =
                self.token_read(chain, token, balanceOfCall { owner: from }).unwrap_or_default();
            if balance < most {
                return Err(precheck(format!(
                    "token balance of {from} is {balance} but must be at least {most} of {token} to pay for this operation"
                )));
            }
        }
        let exact = plan.approve_exact.then_some(most);
        let allowance = self
            .token_read(chain, token, allowanceCall { owner: from, spender: EMULATOR_PAYMASTER })
            .unwrap_or_default();
        let may_take = match (&plan.payment.permit, plan.approve.or(exact)) {
            (Some(p), _) => p.value,
            (None, Some(approved)) => approved,
            (None, None) => allowance,
        };
        if may_take < most {
            return Err(precheck(format!(
                "the paymaster {EMULATOR_PAYMASTER} may take {may_take} of token {token} from {from}, less than the {most} this operation may cost: approve it (postOpSettings.autoApprove) or permit it (preOpSettings.autoPermit)"
            )));
        }
        Ok(exact)
    }

    /// Before an op's calls run, in the paymaster's validation (pre-op): applies the permit,
    /// then pulls the op's most. Answers the gas the token calls used and their logs; a
    /// failure refuses the op (AA33).
    pub(crate) fn token_validation(
        &mut self,
        chain: u64,
        env: &revm::context::BlockEnv,
        account: Address,
        p: &TokenPayment,
    ) -> R<(u64, Vec<alloy_primitives::Log>)> {
        let mut calls = vec![];
        if let Some(s) = &p.permit {
            let data = permitCall {
                owner: account,
                spender: EMULATOR_PAYMASTER,
                value: s.value,
                deadline: s.deadline,
                v: s.v,
                r: s.r,
                s: s.s,
            };
            calls.push(token_call(p.token, data.abi_encode()));
        }
        let pull = transferFromCall { from: account, to: EMULATOR_PAYMASTER, value: p.max_tokens };
        calls.push(token_call(p.token, pull.abi_encode()));
        let run = self
            .chain_mut(chain)
            .run_calls(env, EMULATOR_PAYMASTER, &calls, TOKEN_CALL_GAS)
            .map_err(|e| WalletError::Internal(e.to_string()))?;
        if !run.success {
            let reason = run
                .failure
                .as_ref()
                .and_then(|(_, d)| crate::chain::describe_revert(d))
                .or(run.refused)
                .unwrap_or_else(|| "the token's transferFrom failed".into());
            return Err(WalletError::ValidationReverted {
                reason,
                aa: "AA33 reverted".into(),
                data: run.failure.map(|(_, d)| d),
            });
        }
        Ok((run.gas, run.logs))
    }

    /// After an op's calls ran, the paymaster's `postOp`: takes `tokens` (post-op) or gives back
    /// what the op did not use of the most it took (pre-op). Answers whether it succeeded, and
    /// the logs.
    pub(crate) fn token_post_op(
        &mut self,
        chain: u64,
        env: &revm::context::BlockEnv,
        account: Address,
        p: &TokenPayment,
        tokens: U256,
    ) -> R<(bool, Vec<alloy_primitives::Log>)> {
        let data = if p.pre_op {
            let back = p.max_tokens.saturating_sub(tokens);
            if back.is_zero() {
                return Ok((true, vec![]));
            }
            transferCall { to: account, value: back }.abi_encode()
        } else {
            transferFromCall { from: account, to: EMULATOR_PAYMASTER, value: tokens }.abi_encode()
        };
        let run = self
            .chain_mut(chain)
            .run_calls(env, EMULATOR_PAYMASTER, &[token_call(p.token, data)], TOKEN_CALL_GAS)
            .map_err(|e| WalletError::Internal(e.to_string()))?;
        Ok((run.success, run.logs))
    }
}

fn token_call(token: Address, data: Vec<u8>) -> Call {
    Call { to: token, data: Some(data.into()), value: Some(U256::ZERO) }
}

/// The `paymaster-permit` answer: the request to send again (with `permitDetails` for this
/// permit), the permit's typed data, and what to sign.
fn permit_answer(
    params: &PrepareCallsParams,
    erc20: &Erc20Payment,
    permit: &TokenPermit,
) -> PaymasterPermit {
    let mut modified = params.clone();
    let mut erc20 = erc20.clone();
    erc20.pre_op_settings = Some(PreOpSettings::PermitDetails {
        permit_details: PermitDetails { deadline: permit.deadline, value: permit.value },
    });
    if let Some(p) = modified.capabilities.as_mut().and_then(|c| c.paymaster_service.as_mut()) {
        p.erc20 = Some(erc20);
    }
    let data = permit.typed_data();
    PaymasterPermit {
        modified_request: modified,
        signature_request: SignatureRequest::TypedData {
            data: data.clone(),
            raw_payload: permit.digest(),
        },
        data,
        details: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_and_print_back() {
        let t: GasToken = "0x5FbDB2315678afecb367f032d93F642f64180aa3=3000".parse().unwrap();
        assert_eq!((t.mantissa, t.scale), (U256::from(3000), 0));
        assert!(t.to_string().ends_with("=3000"));
        let t: GasToken = "0x5FbDB2315678afecb367f032d93F642f64180aa3=0.25".parse().unwrap();
        assert_eq!((t.mantissa, t.scale), (U256::from(25), 2));
        assert!(t.to_string().ends_with("=0.25"), "{t}");
        for bad in [
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "0x12=1",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3=-1",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3=0",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3=1e3",
        ] {
            assert!(bad.parse::<GasToken>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_cost_in_tokens_rounds_up_and_never_wraps() {
        // 3000 tokens of 6 decimals per ETH: 1 gwei × 21000 = 0.000021 ETH = 0.063 tokens.
        let p = TokenPayment {
            token: Address::ZERO,
            pre_op: false,
            max_tokens: U256::ZERO,
            num: U256::from(3000u64 * 1_000_000),
            den: U256::from(10u64).pow(U256::from(18)),
            permit: None,
        };
        assert_eq!(p.tokens_for(U256::from(21_000u64 * 1_000_000_000)), Some(U256::from(63_000)));
        assert_eq!(p.tokens_for(U256::from(1)), Some(U256::from(1)));
        assert_eq!(p.tokens_for(U256::MAX), None);
    }
}

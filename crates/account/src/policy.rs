//! The policy engine: whether a batch of calls fits a session's permissions, what it spends,
//! and if not, why not. One implementation serves the client's pre-flight and the emulator's
//! enforcement.

use crate::abi::{approveCall, transferCall, transferFromCall};
use crate::install::{APPROVE, TRANSFER, TRANSFER_FROM};
use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use sesskey_types::{privileged_selector_name, Call, Permission, PermissionKind, Selector};
use std::collections::BTreeMap;
use std::fmt;

/// A session's rules: its account, permissions and expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The account the session acts for.
    pub account: Address,
    /// What the session key may do.
    pub permissions: Vec<Permission>,
    /// Unix seconds after which the session is void; 0 = none.
    pub expiry: u64,
}

/// Amounts a session has spent, or a batch spends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spend {
    /// Native value sent, in wei.
    pub native: U256,
    /// ERC-20 amounts transferred or approved, by token.
    pub erc20: BTreeMap<Address, U256>,
    /// Gas cost, in wei (the op's maximum).
    pub gas: U256,
}

impl Spend {
    /// Adds `other` into `self` (saturating).
    pub fn add(&mut self, other: &Self) {
        self.native = self.native.saturating_add(other.native);
        self.gas = self.gas.saturating_add(other.gas);
        for (token, amount) in &other.erc20 {
            let e = self.erc20.entry(*token).or_default();
            *e = e.saturating_add(*amount);
        }
    }
}

/// Why a batch does not fit the session.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// The session has expired.
    #[error("the session expired at {} (now {})", sesskey_types::utc_date(*expiry), sesskey_types::utc_date(*now))]
    Expired {
        /// The expiry.
        expiry: u64,
        /// The time of the check.
        now: u64,
    },
    /// A call no permission allows.
    #[error("calls[{index}]: {} to {target} is outside the session's permissions", describe(*selector))]
    NotAllowed {
        /// The call.
        index: usize,
        /// Its target.
        target: Address,
        /// Its selector (none for a plain transfer).
        selector: Option<Selector>,
    },
    /// A call of a privileged account function (module management, upgrades, creation).
    #[error("calls[{index}]: {name} ({selector}) on the account is never allowed to a session")]
    PrivilegedSelector {
        /// The call.
        index: usize,
        /// The selector.
        selector: Selector,
        /// Its function name.
        name: &'static str,
    },
    /// The batch sends more native value than is left.
    #[error("calls[{index}] sends {} ETH; {} ETH left of {}", Ether(*value), Ether(*left), PermissionKind::NativeTokenTransfer)]
    NativeAllowance {
        /// The call that crosses the allowance.
        index: usize,
        /// Its value.
        value: U256,
        /// What was left before it.
        left: U256,
    },
    /// The batch moves more of a token than is left.
    #[error(
        "calls[{index}] moves {amount} of token {token}; {left} left of {}",
        PermissionKind::Erc20TokenTransfer
    )]
    Erc20Allowance {
        /// The call that crosses the allowance.
        index: usize,
        /// The token.
        token: Address,
        /// The amount of the call.
        amount: U256,
        /// What was left before it.
        left: U256,
    },
    /// An ERC-20 call to a spend-limited token whose amount cannot be read.
    #[error("calls[{index}]: malformed ERC-20 call to spend-limited token {token}")]
    MalformedErc20Call {
        /// The call.
        index: usize,
        /// The token.
        token: Address,
    },
    /// The account pays the op's gas, which with the value the batch sends may cost more native
    /// token than is left of the session's native allowance (the client's worst-case rule;
    /// the chain counts only the value).
    #[error(
        "the operation may cost {gas} wei of gas, paid by the account, on top of {value} wei sent; {left} wei left of {}",
        PermissionKind::NativeTokenTransfer
    )]
    GasOverNativeAllowance {
        /// The op's maximum gas cost.
        gas: U256,
        /// The native value the batch sends.
        value: U256,
        /// What was left before it.
        left: U256,
    },
    /// The op may cost more gas than is left.
    #[error(
        "the operation may cost {cost} wei of gas; {left} wei left of {}",
        PermissionKind::GasLimit
    )]
    GasLimit {
        /// The op's maximum gas cost.
        cost: U256,
        /// What was left.
        left: U256,
    },
}

fn describe(selector: Option<Selector>) -> String {
    match selector {
        Some(s) => format!("a call of {s}"),
        None => "a plain transfer".into(),
    }
}

/// Wei shown as ETH with no trailing zeros.
struct Ether(U256);

impl fmt::Display for Ether {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = U256::from(10u64).pow(U256::from(18));
        let (whole, frac) = self.0.div_rem(unit);
        if frac.is_zero() {
            return write!(f, "{whole}");
        }
        let frac = format!("{:018}", frac.to::<u64>());
        write!(f, "{whole}.{}", frac.trim_end_matches('0'))
    }
}

fn erc20_amount(data: &[u8]) -> Option<U256> {
    let selector: Selector = Selector::from_slice(data.get(..4)?);
    if selector == TRANSFER {
        transferCall::abi_decode(data).ok().map(|c| c.amount)
    } else if selector == APPROVE {
        approveCall::abi_decode(data).ok().map(|c| c.amount)
    } else if selector == TRANSFER_FROM {
        transferFromCall::abi_decode(data).ok().map(|c| c.amount)
    } else {
        Some(U256::ZERO)
    }
}

impl Policy {
    fn is_root(&self) -> bool {
        self.permissions.contains(&Permission::Root)
    }

    /// Whether the session's gas is limited (a `gas-limit` permission).
    pub fn limits_gas(&self) -> bool {
        self.permissions.iter().any(|p| matches!(p, Permission::GasLimit(_)))
    }

    /// The session's native allowance, if it has one.
    pub fn native_allowance(&self) -> Option<U256> {
        self.permissions.iter().find_map(|p| match p {
            Permission::NativeTokenTransfer(n) => Some(n.allowance),
            _ => None,
        })
    }

    /// Whether anything the session spends is limited: native value, an ERC-20 or gas. A
    /// session without budgets has nothing to reserve before a call.
    pub fn has_budgets(&self) -> bool {
        self.permissions.iter().any(|p| {
            matches!(
                p,
                Permission::NativeTokenTransfer(_)
                    | Permission::Erc20TokenTransfer(_)
                    | Permission::GasLimit(_)
            )
        })
    }

    /// Whether a non-root session may make call `c`.
    fn allows(&self, index: usize, c: &Call) -> Result<(), Violation> {
        let data = c.data.as_ref().map_or(&[][..], |d| &d[..]);
        let selector = data.get(..4).map(Selector::from_slice);
        let not_allowed = Violation::NotAllowed { index, target: c.to, selector };
        if c.to == self.account {
            let Some(s) = selector else { return Err(not_allowed) };
            if let Some(name) = privileged_selector_name(s) {
                return Err(Violation::PrivilegedSelector { index, selector: s, name });
            }
            let granted = self
                .permissions
                .iter()
                .any(|p| matches!(p, Permission::AccountFunctions(f) if f.functions.contains(&s)));
            return if granted { Ok(()) } else { Err(not_allowed) };
        }
        let granted = self.permissions.iter().any(|p| match (p, selector) {
            (Permission::ContractAccess(a), _) => a.address == c.to,
            (Permission::FunctionsOnContract(f), Some(s)) => {
                f.address == c.to && f.functions.contains(&s)
            }
            (Permission::FunctionsOnAllContracts(f), Some(s)) => f.functions.contains(&s),
            (Permission::Erc20TokenTransfer(e), Some(s)) => {
                e.address == c.to && (s == APPROVE || s == TRANSFER)
            }
            _ => false,
        });
        if granted {
            Ok(())
        } else {
            Err(not_allowed)
        }
    }

    /// Evaluates a batch at time `now`, given what the session has `spent` so far and the op's
    /// maximum gas cost: answers what the batch spends, or the first rule it breaks.
    ///
    /// Native value and ERC-20 amounts are limited only where the session has the matching
    /// permission, as on chain (no `native-token-transfer` hook means no native limit).
    ///
    /// ```
    /// use alloy_primitives::{Address, U256};
    /// use sesskey_account::Policy;
    /// use sesskey_types::{Call, ContractAccess, NativeTokenTransfer, Permission};
    ///
    /// let shop = Address::repeat_byte(0x51);
    /// let policy = Policy {
    ///     account: Address::repeat_byte(0xaa),
    ///     permissions: vec![
    ///         Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: U256::from(5e17) }),
    ///         Permission::ContractAccess(ContractAccess { address: shop }),
    ///     ],
    ///     expiry: 0,
    /// };
    /// let pay = |wei: f64| Call { to: shop, data: None, value: Some(U256::from(wei)) };
    /// let spent = policy.evaluate(&Default::default(), 0, &[pay(2e17)], U256::ZERO)?;
    /// let err = policy.evaluate(&spent, 0, &[pay(1e17), pay(6e17)], U256::ZERO).unwrap_err();
    /// assert_eq!(err.to_string(), "calls[1] sends 0.6 ETH; 0.2 ETH left of native-token-transfer");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn evaluate(
        &self,
        spent: &Spend,
        now: u64,
        calls: &[Call],
        max_gas_cost: U256,
    ) -> Result<Spend, Violation> {
        if self.expiry != 0 && now > self.expiry {
            return Err(Violation::Expired { expiry: self.expiry, now });
        }
        let root = self.is_root();
        let native_limit = self.native_allowance();
        let gas_limit = self.permissions.iter().find_map(|p| match p {
            Permission::GasLimit(g) => Some(g.limit),
            _ => None,
        });
        let token_limits: BTreeMap<Address, U256> = self
            .permissions
            .iter()
            .filter_map(|p| match p {
                Permission::Erc20TokenTransfer(e) => Some((e.address, e.allowance)),
                _ => None,
            })
            .fold(BTreeMap::new(), |mut m, (t, a)| {
                let e = m.entry(t).or_insert(U256::ZERO);
                *e = e.saturating_add(a);
                m
            });

        let mut batch = Spend::default();
        for (index, c) in calls.iter().enumerate() {
            if !root {
                self.allows(index, c)?;
            }
            let value = c.value_or_zero();
            if let Some(limit) = native_limit {
                let used = spent.native.saturating_add(batch.native);
                let left = limit.saturating_sub(used);
                if value > left {
                    return Err(Violation::NativeAllowance { index, value, left });
                }
            }
            batch.native = batch.native.saturating_add(value);
            if let Some(limit) = token_limits.get(&c.to) {
                let data = c.data.as_ref().map_or(&[][..], |d| &d[..]);
                let amount = erc20_amount(data)
                    .ok_or(Violation::MalformedErc20Call { index, token: c.to })?;
                if !amount.is_zero() {
                    let used = spent
                        .erc20
                        .get(&c.to)
                        .copied()
                        .unwrap_or_default()
                        .saturating_add(batch.erc20.get(&c.to).copied().unwrap_or_default());
                    let left = limit.saturating_sub(used);
                    if amount > left {
                        return Err(Violation::Erc20Allowance { index, token: c.to, amount, left });
                    }
                    let e = batch.erc20.entry(c.to).or_default();
                    *e = e.saturating_add(amount);
                }
            }
        }
        if let Some(limit) = gas_limit {
            let left = limit.saturating_sub(spent.gas);
            if max_gas_cost > left {
                return Err(Violation::GasLimit { cost: max_gas_cost, left });
            }
        }
        batch.gas = max_gas_cost;
        Ok(batch)
    }

    /// [`Policy::evaluate`] as a client judges before it signs: the same rules, and one more.
    /// When the account pays the op's gas (`max_gas_cost` is not zero), a session with a native
    /// allowance may not cost the account more native token than the allowance, value and gas
    /// together: the batch's value plus `max_gas_cost` must fit in what is left once the value
    /// and the gas already `spent` are counted.
    ///
    /// The chain counts only value against a `native-token-transfer` limit, so the emulator
    /// enforces [`Policy::evaluate`]; this stricter rule keeps a server from getting a session
    /// key to sign an op that could burn more than the session may spend.
    pub fn evaluate_worst_case(
        &self,
        spent: &Spend,
        now: u64,
        calls: &[Call],
        max_gas_cost: U256,
    ) -> Result<Spend, Violation> {
        let batch = self.evaluate(spent, now, calls, max_gas_cost)?;
        if let (Some(limit), false) = (self.native_allowance(), max_gas_cost.is_zero()) {
            let left = limit.saturating_sub(spent.native.saturating_add(spent.gas));
            if batch.native.saturating_add(max_gas_cost) > left {
                return Err(Violation::GasOverNativeAllowance {
                    gas: max_gas_cost,
                    value: batch.native,
                    left,
                });
            }
        }
        Ok(batch)
    }
}

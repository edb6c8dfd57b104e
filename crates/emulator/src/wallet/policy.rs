//! The session's rules as the account applies them: validation hooks first (allowlists, expiry,
//! the gas limit), execution hooks after (native and ERC-20 limits).

use super::errors::violation;
use super::R;
use crate::state::Session;
use alloy_primitives::U256;
use sesskey_account::{Policy, Spend, Violation};
use sesskey_types::{Call, Erc20TokenTransfer, NativeTokenTransfer, Permission};

/// What a batch of calls does to a session.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Within every limit: what it spends.
    Allowed(Spend),
    /// Passes validation, but an execution hook reverts: the op is included and fails, and
    /// only its gas is spent.
    ExecutionHookReverts { violation: Violation, gas: Spend },
}

fn policy(session: &Session, permissions: Vec<Permission>) -> Policy {
    Policy { account: session.action.account, permissions, expiry: session.action.deadline }
}

/// Judges `calls` for `session` at `now`, with `gas_cost` counted against its gas limit. A
/// validation-phase violation is an error answer (AA22/AA23 with the account's revert data).
pub(crate) fn judge(session: &Session, now: u64, calls: &[Call], gas_cost: U256) -> R<Verdict> {
    let spent = Spend::from(&session.spent);
    // Validation: the same rules with the execution hooks' limits lifted.
    let lifted = session
        .permissions
        .iter()
        .map(|p| match p {
            Permission::NativeTokenTransfer(_) => {
                Permission::NativeTokenTransfer(NativeTokenTransfer { allowance: U256::MAX })
            }
            Permission::Erc20TokenTransfer(e) => {
                Permission::Erc20TokenTransfer(Erc20TokenTransfer {
                    address: e.address,
                    allowance: U256::MAX,
                })
            }
            other => other.clone(),
        })
        .collect();
    let fail = |v: Violation| violation(&v, session.entity_id, &session.permissions);
    let validated = policy(session, lifted).evaluate(&spent, now, calls, gas_cost).map_err(fail)?;
    match policy(session, session.permissions.clone()).evaluate(&spent, now, calls, gas_cost) {
        Ok(spend) => Ok(Verdict::Allowed(spend)),
        Err(
            v @ (Violation::NativeAllowance { .. }
            | Violation::Erc20Allowance { .. }
            | Violation::MalformedErc20Call { .. }),
        ) => Ok(Verdict::ExecutionHookReverts {
            violation: v,
            gas: Spend { gas: validated.gas, ..Default::default() },
        }),
        Err(v) => Err(fail(v)),
    }
}

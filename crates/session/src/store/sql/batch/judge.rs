//! The domain of a transaction: what it reads, how its ends and starts are judged on what it
//! read. Plain functions over the state they change; no I/O.

use super::cache::{Read, Reserved};
use super::{Known, Op, Outcome, Sessions, Started};
use crate::error::{Error, Result};
use crate::store::sql::unknown;
use crate::store::{judge, random_id, NonceLease, Reservation, StoredSession};
use alloy_primitives::{Address, U256};
use sesskey_account::Spend;
use sesskey_types::SessionId;
use std::collections::{BTreeSet, HashSet};

pub(super) fn is_zero(s: &Spend) -> bool {
    s.native.is_zero() && s.gas.is_zero() && s.erc20.values().all(U256::is_zero)
}

/// A time or a key as the database keeps it; times past `i64::MAX` (never, in practice) are
/// kept as `i64::MAX`.
pub(in crate::store::sql) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn session_of<'a>(sessions: &'a Sessions, id: &SessionId) -> Result<&'a StoredSession> {
    match sessions.get(id) {
        Some(Ok(row)) => Ok(row),
        Some(Err(damaged)) => Err(Error::Store(damaged.clone())),
        None => Err(unknown(id)),
    }
}

/// The sessions, the sessions whose reservations, and the accounts whose leases a transaction
/// reads.
pub(super) type Wants = (BTreeSet<SessionId>, BTreeSet<SessionId>, BTreeSet<Address>);

/// What a transaction reads: the sessions judged or changed (every start's, every end's that
/// charges or installs, and those not yet known), the reservations of the sessions judged
/// (those with budgets), and the keys leased on the accounts of the starts (when known).
pub(super) fn to_read(ops: &[Op], known: &Known) -> Wants {
    let mut ids = BTreeSet::new();
    let mut judged = BTreeSet::new();
    let mut accounts = BTreeSet::new();
    for op in ops {
        match op {
            Op::Begin(b, _) => {
                ids.insert(b.id);
                match known.get(&b.id) {
                    Some(k) => {
                        if k.budgets {
                            judged.insert(b.id);
                        }
                        if b.lease {
                            accounts.insert(k.account);
                        }
                    }
                    None => {
                        judged.insert(b.id);
                    }
                }
            }
            Op::End(e, _) => {
                for (r, spent) in &e.settled {
                    let charged = spent.as_ref().is_some_and(|s| !is_zero(s));
                    if charged || !known.contains_key(&r.session_id) {
                        ids.insert(r.session_id);
                    }
                }
                ids.extend(e.installed);
            }
        }
    }
    (ids, judged, accounts)
}

/// What the ends of a transaction give back.
#[derive(Default)]
pub(super) struct Freed<'a> {
    /// Reservation rows to delete.
    pub(super) gone: HashSet<String>,
    /// Sessions whose lapsed reservations go too, lapsed by `by`.
    pub(super) lapsed: BTreeSet<SessionId>,
    pub(super) by: u64,
    pub(super) released: Vec<&'a NonceLease>,
}

/// Applies the ends of `ops` to `sessions` (their spend and installed flag): each end's
/// outcome, in `outcomes`, and what they give back.
pub(super) fn settle_ends<'a>(
    ops: &'a [Op],
    sessions: &mut Sessions,
    known: &Known,
    outcomes: &mut [Option<Outcome>],
) -> Freed<'a> {
    let mut freed = Freed { by: u64::MAX, ..Freed::default() };
    for (i, op) in ops.iter().enumerate() {
        let Op::End(end, _) = op else { continue };
        let checked: Result<()> = (|| {
            for (r, spent) in &end.settled {
                if spent.as_ref().is_some_and(|s| !is_zero(s)) {
                    session_of(sessions, &r.session_id)?;
                }
            }
            if let Some(id) = &end.installed {
                session_of(sessions, id)?;
            }
            Ok(())
        })();
        if checked.is_ok() {
            for (r, spent) in &end.settled {
                if let Some(spent) = spent.as_ref().filter(|s| !is_zero(s)) {
                    if let Some(Ok(record)) = sessions.get_mut(&r.session_id) {
                        record.add_spend(spent);
                    }
                }
                // A session without budgets has no reservation rows.
                if known.get(&r.session_id).is_none_or(|k| k.budgets) {
                    freed.gone.insert(r.id.clone());
                    freed.lapsed.insert(r.session_id);
                    freed.by = freed.by.min(end.now);
                }
            }
            if let Some(Ok(record)) = end.installed.and_then(|id| sessions.get_mut(&id)) {
                record.installed = true;
            }
            freed.released.extend(end.lease.iter());
        }
        outcomes[i] = Some(Outcome::Ended(checked));
    }
    freed
}

/// A start judged and granted a key, to be written.
pub(super) struct Planned {
    /// Its op's index.
    pub(super) op: usize,
    pub(super) started: Started,
    /// When its reservation and lease lapse.
    pub(super) expires: u64,
    /// Its caller's clock.
    pub(super) now: u64,
}

/// Judges the starts of `ops`, one after the other, against what is spent, reserved and
/// leased in `read`, the earlier starts of this transaction included; refusals go to
/// `outcomes`.
pub(super) fn start_calls(
    ops: &[Op],
    read: &mut Read,
    outcomes: &mut [Option<Outcome>],
) -> Vec<Planned> {
    let mut taken: HashSet<(Address, u64, u64)> = HashSet::new();
    let mut planned = vec![];
    for (i, op) in ops.iter().enumerate() {
        let Op::Begin(begin, _) = op else { continue };
        let row = match session_of(&read.sessions, &begin.id) {
            Ok(row) => row,
            Err(e) => {
                outcomes[i] = Some(Outcome::Began(Err(e)));
                continue;
            }
        };
        let record = row;
        let budgets = record.session.policy().has_budgets();
        let outstanding: Vec<Spend> = match read.reserved.get(&begin.id) {
            _ if !budgets => vec![],
            Some(Err(damaged)) => {
                outcomes[i] = Some(Outcome::Began(Err(Error::Store(damaged.clone()))));
                continue;
            }
            Some(Ok(list)) => {
                list.iter().filter(|r| r.expires > begin.now).map(|r| r.spend.clone()).collect()
            }
            None => vec![],
        };
        let spend = match judge(record, &outstanding, &begin.calls, begin.gas, begin.now) {
            Ok(spend) => spend,
            Err(e) => {
                outcomes[i] = Some(Outcome::Began(Err(e)));
                continue;
            }
        };
        let expires = begin.now.saturating_add(begin.ttl);
        let lease = if begin.lease {
            let s = &record.session;
            let chain: u64 = s.chain_id.to();
            let keys = read.held.entry((s.account, chain)).or_default();
            let busy = |k: u64| {
                taken.contains(&(s.account, chain, k))
                    || keys.iter().any(|h| h.key == k && h.expires > begin.now)
            };
            let key = if record.installed {
                (1..).find(|k| !busy(*k)).unwrap_or(u64::MAX)
            } else if busy(0) {
                outcomes[i] = Some(Outcome::Began(Ok(None)));
                continue;
            } else {
                0
            };
            taken.insert((s.account, chain, key));
            Some(NonceLease { account: s.account, chain_id: chain, key, token: random_id() })
        } else {
            None
        };
        let reservation = Reservation { id: random_id(), session_id: begin.id, spend };
        if budgets {
            if let Ok(list) = read.reserved.entry(begin.id).or_insert_with(|| Ok(vec![])) {
                list.push(Reserved {
                    id: reservation.id.clone(),
                    spend: reservation.spend.clone(),
                    expires,
                });
            }
        }
        let started = Started { record: record.clone(), reservation, lease };
        planned.push(Planned { op: i, started, expires, now: begin.now });
    }
    planned
}

//! What one transaction of the writer decides, on the rows it read: plain functions, no I/O.
//! The ends go first (what they give back is free for the starts), then each start is judged
//! against what is spent, reserved and leased, the earlier starts of the same transaction
//! included.

use super::writer::{Op, Outcome, Started};
use crate::error::{Error, Result};
use crate::store::{judge, random_id, NonceLease, Reservation, StoredSession};
use alloy_primitives::{Address, U256};
use sesskey_account::Spend;
use sesskey_types::SessionId;
use std::collections::{BTreeSet, HashMap, HashSet};

/// The session rows a transaction read (locked), or why each is damaged.
pub(super) type Sessions = HashMap<SessionId, std::result::Result<StoredSession, String>>;

/// A reservation row.
#[derive(Clone, Debug)]
pub(super) struct Reserved {
    pub(super) id: String,
    pub(super) spend: Spend,
    pub(super) expires: u64,
}

/// A nonce lease row.
#[derive(Clone, Debug)]
pub(super) struct Held {
    pub(super) key: u64,
    pub(super) token: String,
    pub(super) expires: u64,
}

/// What a transaction read.
#[derive(Default)]
pub(super) struct Read {
    pub(super) sessions: Sessions,
    /// The reservations of the sessions with budgets that a start judges.
    pub(super) reserved: HashMap<SessionId, std::result::Result<Vec<Reserved>, String>>,
    /// The keys leased on the accounts that starts lease on, by account and chain.
    pub(super) held: HashMap<(Address, u64), Vec<Held>>,
}

pub(super) fn is_zero(s: &Spend) -> bool {
    s.native.is_zero() && s.gas.is_zero() && s.erc20.values().all(U256::is_zero)
}

fn session_of<'a>(sessions: &'a Sessions, id: &SessionId) -> Result<&'a StoredSession> {
    match sessions.get(id) {
        Some(Ok(row)) => Ok(row),
        Some(Err(damaged)) => Err(Error::Store(damaged.clone())),
        None => Err(Error::UnknownSession(id.to_string())),
    }
}

/// The sessions a transaction reads (and locks): every start's, and every end's that charges
/// a spend or marks a key installed.
pub(super) fn sessions_to_read(ops: &[Op]) -> BTreeSet<SessionId> {
    let mut ids = BTreeSet::new();
    for op in ops {
        match op {
            Op::Begin(b, _) => {
                ids.insert(b.id);
            }
            Op::End(e, _) => {
                for (r, spent) in &e.settled {
                    if spent.as_ref().is_some_and(|s| !is_zero(s)) {
                        ids.insert(r.session_id);
                    }
                }
                ids.extend(e.installed);
            }
        }
    }
    ids
}

/// What the ends of a transaction give back.
#[derive(Default)]
pub(super) struct Freed<'a> {
    /// Reservation rows to delete.
    pub(super) gone: Vec<String>,
    /// Leases to return.
    pub(super) released: Vec<&'a NonceLease>,
}

/// Applies the ends of `ops` to `sessions` (their spend and installed flag): each end's
/// outcome goes to `outcomes`; what they give back is answered.
pub(super) fn settle_ends<'a>(
    ops: &'a [Op],
    sessions: &mut Sessions,
    outcomes: &mut [Option<Outcome>],
) -> Freed<'a> {
    let mut freed = Freed::default();
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
                freed.gone.push(r.id.clone());
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

/// A start judged and granted, to be written.
pub(super) struct Planned {
    /// Its op's index.
    pub(super) op: usize,
    pub(super) started: Started,
    /// When its reservation and lease lapse.
    pub(super) expires: u64,
    /// Its session has budgets: its reservation is a row.
    pub(super) budgets: bool,
}

/// Judges the starts of `ops`, one after the other, against `read` (which each grant
/// updates); refusals go to `outcomes`. The reservations and leases `freed` gives back are
/// free.
pub(super) fn start_calls(
    ops: &[Op],
    read: &mut Read,
    freed: &Freed<'_>,
    outcomes: &mut [Option<Outcome>],
) -> Vec<Planned> {
    let gone: HashSet<&str> = freed.gone.iter().map(String::as_str).collect();
    for l in &freed.released {
        if let Some(keys) = read.held.get_mut(&(l.account, l.chain_id)) {
            keys.retain(|h| h.token != l.token);
        }
    }
    let mut planned = vec![];
    for (i, op) in ops.iter().enumerate() {
        let Op::Begin(begin, _) = op else { continue };
        let record = match session_of(&read.sessions, &begin.id) {
            Ok(row) => row,
            Err(e) => {
                outcomes[i] = Some(Outcome::Began(Err(e)));
                continue;
            }
        };
        let budgets = record.session.policy().has_budgets();
        let outstanding: Vec<Spend> = match read.reserved.get(&begin.id) {
            _ if !budgets => vec![],
            Some(Err(damaged)) => {
                outcomes[i] = Some(Outcome::Began(Err(Error::Store(damaged.clone()))));
                continue;
            }
            Some(Ok(list)) => list
                .iter()
                .filter(|r| r.expires > begin.now && !gone.contains(r.id.as_str()))
                .map(|r| r.spend.clone())
                .collect(),
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
            let busy = |k: u64| keys.iter().any(|h| h.key == k && h.expires > begin.now);
            let key = if record.installed {
                (1..).find(|k| !busy(*k)).unwrap_or(u64::MAX)
            } else if busy(0) {
                // The first op's key is held by another call: the caller waits and asks again.
                outcomes[i] = Some(Outcome::Began(Ok(None)));
                continue;
            } else {
                0
            };
            let token = random_id();
            keys.push(Held { key, token: token.clone(), expires });
            Some(NonceLease { account: s.account, chain_id: chain, key, token })
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
        planned.push(Planned { op: i, started, expires, budgets });
    }
    planned
}

#[cfg(test)]
mod tests {
    use super::super::writer::{Begin, End, Op, Outcome};
    use super::*;
    use crate::session::Session;
    use alloy_primitives::{FixedBytes, U64};
    use sesskey_types::{Call, ContractAccess, NativeTokenTransfer, Permission};

    fn record(allowance: u64) -> StoredSession {
        let mut r = StoredSession::new(Session {
            session_id: [7; 16].into(),
            chain_id: U64::from(31337),
            account: Address::repeat_byte(7),
            session_key: Address::repeat_byte(2),
            entity_id: 1,
            expiry: 0,
            permissions: vec![
                Permission::NativeTokenTransfer(NativeTokenTransfer {
                    allowance: U256::from(allowance),
                }),
                Permission::ContractAccess(ContractAccess { address: Address::repeat_byte(9) }),
            ],
            owner_signature: FixedBytes::repeat_byte(3),
        });
        r.installed = true;
        r
    }

    fn begin(r: &StoredSession, wei: u64) -> Op {
        let calls =
            vec![Call { to: Address::repeat_byte(9), data: None, value: Some(U256::from(wei)) }];
        let b = Begin {
            id: r.session.session_id,
            calls,
            gas: U256::ZERO,
            now: 100,
            ttl: 60,
            lease: true,
            tries: 0,
        };
        Op::Begin(b, tokio::sync::oneshot::channel().0)
    }

    fn read_of(r: &StoredSession, held: Vec<Held>) -> Read {
        let id = r.session.session_id;
        let mut read = Read::default();
        read.sessions.insert(id, Ok(r.clone()));
        read.reserved.insert(id, Ok(vec![]));
        read.held.insert((r.session.account, 31337), held);
        read
    }

    /// `ops` judged on `read`, as a transaction judges them: what was planned, each outcome.
    fn judged(ops: &[Op], mut read: Read) -> (Vec<Planned>, Vec<Option<Outcome>>) {
        let mut outcomes: Vec<Option<Outcome>> = ops.iter().map(|_| None).collect();
        let freed = settle_ends(ops, &mut read.sessions, &mut outcomes);
        let planned = start_calls(ops, &mut read, &freed, &mut outcomes);
        (planned, outcomes)
    }

    fn keys(planned: &[Planned]) -> Vec<u64> {
        planned.iter().map(|p| p.started.lease.as_ref().unwrap().key).collect()
    }

    /// A key an end returns in the transaction is free for one start, not two.
    #[test]
    fn a_returned_key_goes_to_one_start() {
        let r = record(1_000);
        let held = vec![Held { key: 1, token: "t1".into(), expires: 160 }];
        let lease =
            NonceLease { account: r.session.account, chain_id: 31337, key: 1, token: "t1".into() };
        let end = End { settled: vec![], lease: Some(lease), installed: None };
        let ops = vec![Op::End(end, tokio::sync::oneshot::channel().0), begin(&r, 1), begin(&r, 1)];
        let (planned, _) = judged(&ops, read_of(&r, held));
        assert_eq!(keys(&planned), vec![1, 2]);
    }

    /// A live lease of another caller keeps its key; a lapsed one frees it.
    #[test]
    fn live_keys_are_skipped_and_lapsed_ones_taken() {
        let r = record(1_000);
        let held = vec![
            Held { key: 1, token: "live".into(), expires: 160 },
            Held { key: 2, token: "lapsed".into(), expires: 90 },
        ];
        let ops = vec![begin(&r, 1), begin(&r, 1)];
        let (planned, _) = judged(&ops, read_of(&r, held));
        assert_eq!(keys(&planned), vec![2, 3]);
    }

    /// Starts in one transaction count each other's reservations: the one that would pass the
    /// allowance is refused, alone.
    #[test]
    fn starts_in_one_transaction_share_the_allowance() {
        let r = record(100);
        let ops = vec![begin(&r, 60), begin(&r, 60), begin(&r, 40)];
        let (planned, outcomes) = judged(&ops, read_of(&r, vec![]));
        assert_eq!(planned.iter().map(|p| p.op).collect::<Vec<_>>(), vec![0, 2]);
        assert!(matches!(outcomes[1], Some(Outcome::Began(Err(Error::Preflight(_))))));
    }
}

//! The state on disk: a redb database in the data folder, written before each answer.
//!
//! redb is pure Rust (no C toolchain), ACID, and its commits are durable (fsync) by default: a
//! call's changes are committed before its answer is sent, so `kill -9` loses nothing that was
//! acknowledged. Records are keyed by account, session, prepared-op hash and call id, so a call
//! writes only what it changed, whatever the number of stored sessions.

use crate::clock::{Clock, Ids};
use crate::state::{AccountState, CallRecord, Outcome, Prepared, Session, State};
use alloy_primitives::{Address, Bytes, B256, U256};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use sesskey_account::{DeferredAction, Spend};
use sesskey_types::{Call, Permission, SessionId};
use std::path::Path;

const ACCOUNTS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("accounts");
const SESSIONS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("sessions");
const PREPARED: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("prepared");
const CALLS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("calls");
const META: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("meta");

/// A storage failure.
pub(crate) type StoreError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Serialize, Deserialize)]
struct AccountRecord {
    eoa_nonce: u64,
    delegation: Option<Address>,
    native: U256,
    erc20: Vec<(Address, U256)>,
    allowances: Vec<(Address, Address, U256)>,
    sequences: Vec<(U256, u64)>,
    next_entity: u32,
}

#[derive(Serialize, Deserialize)]
struct SessionRecord {
    chain_id: u64,
    session_key: Address,
    permissions: Vec<Permission>,
    entity_id: u32,
    account: Address,
    nonce: U256,
    deadline: u64,
    call: Bytes,
    installed: bool,
    revoked: bool,
    native: U256,
    erc20: Vec<(Address, U256)>,
    gas: U256,
    verified_owner_signature: Option<Bytes>,
}

#[derive(Serialize, Deserialize)]
struct CallRec {
    chain_id: u64,
    hash: B256,
    sender: Address,
    nonce: U256,
    paymaster: Address,
    calls: Vec<Call>,
    settle_at: u64,
    success: Option<bool>,
    packed_signature: Bytes,
    gas_used: u64,
    gas_cost: U256,
    block: u64,
    #[serde(default)]
    delegation: bool,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    fixed_ms: Option<u64>,
    offset_ms: i64,
    ids_seed: B256,
    ids_counter: u64,
    block: u64,
    fail_next: Vec<(String, i32, String)>,
}

fn account_key(chain: u64, a: Address) -> Vec<u8> {
    [&chain.to_be_bytes()[..], a.as_slice()].concat()
}

/// The database of a data folder.
#[derive(Debug)]
pub(crate) struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the database in `dir`, and loads the state it holds.
    pub(crate) fn open(
        dir: &Path,
        clock: &mut Clock,
        ids: &mut Ids,
    ) -> Result<(Self, State), StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = Database::create(dir.join("emulator.redb"))?;
        let txn = db.begin_write()?;
        for t in [ACCOUNTS, SESSIONS, PREPARED, CALLS, META] {
            txn.open_table(t)?;
        }
        txn.commit()?;
        let mut state = State::default();
        let read = db.begin_read()?;
        for row in read.open_table(ACCOUNTS)?.iter()? {
            let (k, v) = row?;
            let k = k.value();
            let chain = u64::from_be_bytes(k[..8].try_into()?);
            let addr = Address::from_slice(&k[8..]);
            let r: AccountRecord = serde_json::from_slice(v.value())?;
            state.accounts.insert(
                (chain, addr),
                AccountState {
                    eoa_nonce: r.eoa_nonce,
                    delegation: r.delegation,
                    native: r.native,
                    erc20: r.erc20.into_iter().collect(),
                    allowances: r.allowances.into_iter().map(|(t, s, a)| ((t, s), a)).collect(),
                    sequences: r.sequences.into_iter().collect(),
                    next_entity: r.next_entity,
                },
            );
        }
        for row in read.open_table(SESSIONS)?.iter()? {
            let (k, v) = row?;
            let id = SessionId::from_slice(k.value());
            let r: SessionRecord = serde_json::from_slice(v.value())?;
            let verified = match r.verified_owner_signature {
                Some(b) => Some(<[u8; 65]>::try_from(&b[..])?),
                None => None,
            };
            state.sessions.insert(
                id,
                Session {
                    chain_id: r.chain_id,
                    session_key: r.session_key,
                    permissions: r.permissions,
                    entity_id: r.entity_id,
                    action: DeferredAction {
                        chain_id: r.chain_id,
                        account: r.account,
                        nonce: r.nonce,
                        deadline: r.deadline,
                        call: r.call,
                    },
                    installed: r.installed,
                    revoked: r.revoked,
                    spent: Spend {
                        native: r.native,
                        erc20: r.erc20.into_iter().collect(),
                        gas: r.gas,
                    },
                    verified_owner_signature: verified,
                },
            );
        }
        for row in read.open_table(PREPARED)?.iter()? {
            let (k, v) = row?;
            let sponsored: bool = serde_json::from_slice(v.value())?;
            state.prepared.insert(B256::from_slice(k.value()), Prepared { sponsored });
        }
        for row in read.open_table(CALLS)?.iter()? {
            let (k, v) = row?;
            let r: CallRec = serde_json::from_slice(v.value())?;
            state.calls.insert(
                Bytes::copy_from_slice(k.value()),
                CallRecord {
                    chain_id: r.chain_id,
                    hash: r.hash,
                    sender: r.sender,
                    nonce: r.nonce,
                    paymaster: r.paymaster,
                    calls: r.calls,
                    settle_at: r.settle_at,
                    outcome: r
                        .success
                        .map(|s| if s { Outcome::Success } else { Outcome::Reverted }),
                    packed_signature: r.packed_signature,
                    gas_used: r.gas_used,
                    gas_cost: r.gas_cost,
                    block: r.block,
                    delegation: r.delegation,
                },
            );
        }
        if let Some(v) = read.open_table(META)?.get(&b"meta"[..])? {
            let m: Meta = serde_json::from_slice(v.value())?;
            clock.fixed_ms = m.fixed_ms;
            clock.offset_ms = m.offset_ms;
            ids.seed = m.ids_seed;
            ids.counter = m.ids_counter;
            state.block = m.block;
            state.fail_next = m.fail_next.into_iter().map(|(k, c, m)| (k, (c, m))).collect();
        }
        drop(read);
        Ok((Self { db }, state))
    }

    /// Writes what changed in one durable transaction, and clears the change set.
    pub(crate) fn commit(
        &self,
        state: &mut State,
        clock: &Clock,
        ids: &Ids,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut t = txn.open_table(ACCOUNTS)?;
            for (chain, a) in state.dirty.accounts.drain() {
                let Some(s) = state.accounts.get(&(chain, a)) else { continue };
                let r = AccountRecord {
                    eoa_nonce: s.eoa_nonce,
                    delegation: s.delegation,
                    native: s.native,
                    erc20: s.erc20.iter().map(|(k, v)| (*k, *v)).collect(),
                    allowances: s.allowances.iter().map(|((t, sp), a)| (*t, *sp, *a)).collect(),
                    sequences: s.sequences.iter().map(|(k, v)| (*k, *v)).collect(),
                    next_entity: s.next_entity,
                };
                t.insert(&account_key(chain, a)[..], &serde_json::to_vec(&r)?[..])?;
            }
            let mut t = txn.open_table(SESSIONS)?;
            for id in state.dirty.sessions.drain() {
                let Some(s) = state.sessions.get(&id) else { continue };
                let r = SessionRecord {
                    chain_id: s.chain_id,
                    session_key: s.session_key,
                    permissions: s.permissions.clone(),
                    entity_id: s.entity_id,
                    account: s.action.account,
                    nonce: s.action.nonce,
                    deadline: s.action.deadline,
                    call: s.action.call.clone(),
                    installed: s.installed,
                    revoked: s.revoked,
                    native: s.spent.native,
                    erc20: s.spent.erc20.iter().map(|(k, v)| (*k, *v)).collect(),
                    gas: s.spent.gas,
                    verified_owner_signature: s
                        .verified_owner_signature
                        .map(|b| Bytes::copy_from_slice(&b)),
                };
                t.insert(id.as_slice(), &serde_json::to_vec(&r)?[..])?;
            }
            let mut t = txn.open_table(PREPARED)?;
            for hash in state.dirty.prepared.drain() {
                let Some(p) = state.prepared.get(&hash) else { continue };
                t.insert(hash.as_slice(), &serde_json::to_vec(&p.sponsored)?[..])?;
            }
            let mut t = txn.open_table(CALLS)?;
            for id in state.dirty.calls.drain() {
                let Some(c) = state.calls.get(&id) else { continue };
                let r = CallRec {
                    chain_id: c.chain_id,
                    hash: c.hash,
                    sender: c.sender,
                    nonce: c.nonce,
                    paymaster: c.paymaster,
                    calls: c.calls.clone(),
                    settle_at: c.settle_at,
                    success: c.outcome.map(|o| o == Outcome::Success),
                    packed_signature: c.packed_signature.clone(),
                    gas_used: c.gas_used,
                    gas_cost: c.gas_cost,
                    block: c.block,
                    delegation: c.delegation,
                };
                t.insert(&id[..], &serde_json::to_vec(&r)?[..])?;
            }
            let meta = Meta {
                fixed_ms: clock.fixed_ms,
                offset_ms: clock.offset_ms,
                ids_seed: ids.seed,
                ids_counter: ids.counter,
                block: state.block,
                fail_next: state
                    .fail_next
                    .iter()
                    .map(|(k, (c, m))| (k.clone(), *c, m.clone()))
                    .collect(),
            };
            txn.open_table(META)?.insert(&b"meta"[..], &serde_json::to_vec(&meta)?[..])?;
        }
        txn.commit()?;
        Ok(())
    }
}

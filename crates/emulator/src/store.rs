//! The state on disk: a redb database in the data folder. Every call that changed anything
//! writes its change set (the overlays of the state's tables) in one durable transaction before
//! its answer leaves; a failed write is an error answer and rolls the call back in memory too.
//!
//! redb is pure Rust, ACID, and fsyncs each commit by default. A file that is empty, truncated,
//! corrupt or not an emulator database makes [`Store::open`] refuse with
//! [`Error::Corrupt`], never an empty start and never a panic.

use crate::chain::Chain;
use crate::state::WalletState;
use crate::table::{AnyTable, Table, Tables};
use crate::wallet::Core;
use crate::{Error, Result};
use alloy_primitives::{Address, Bytes, B256, U256};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sesskey_types::SessionId;
use std::hash::Hash;
use std::path::{Path, PathBuf};

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;
const META: Def = TableDefinition::new("meta");

/// Every table of the database: the meta, then the wallet's and each chain's tables as their
/// states list them (`tables!`); a chain's rows are keyed by its id first.
fn all_tables() -> Vec<&'static str> {
    let mut names = vec![META.name()];
    names.extend(WalletState::default().table_names());
    names.extend(Chain::new(0, None).table_names());
    names
}

fn def(name: &'static str) -> Def {
    TableDefinition::new(name)
}

/// The format this code writes; another one is refused.
const FORMAT: u32 = 2;
/// The database file in a data folder.
pub const DATA_FILE: &str = "emulator.redb";

/// What the emulator keeps besides its tables.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Meta {
    format: u32,
    fixed_ms: Option<u64>,
    offset_ms: i64,
    ids_seed: B256,
    ids_counter: u64,
    chain_ids: Vec<u64>,
    pub(crate) fork_block: Option<u64>,
    /// The policies served (kept, so a restart that names none serves the same ones).
    #[serde(default)]
    policy_ids: Vec<String>,
}

/// Keys: each a fixed-width byte string, chain id first where there is one.
pub(crate) trait Key: Sized {
    fn encode(&self) -> Vec<u8>;
    fn decode(b: &[u8]) -> Option<Self>;
}

impl Key for (u64, Address) {
    fn encode(&self) -> Vec<u8> {
        [&self.0.to_be_bytes()[..], self.1.as_slice()].concat()
    }
    fn decode(b: &[u8]) -> Option<Self> {
        (b.len() == 28).then(|| {
            (u64::from_be_bytes(b[..8].try_into().expect("8 bytes")), Address::from_slice(&b[8..]))
        })
    }
}

macro_rules! fixed_key {
    ($t:ty, $len:expr, $from:expr, $to:expr) => {
        impl Key for $t {
            fn encode(&self) -> Vec<u8> {
                #[allow(clippy::redundant_closure_call)]
                ($to)(self)
            }
            fn decode(b: &[u8]) -> Option<Self> {
                #[allow(clippy::redundant_closure_call)]
                (b.len() == $len).then(|| ($from)(b))
            }
        }
    };
}
fixed_key!(SessionId, 16, SessionId::from_slice, |k: &SessionId| k.to_vec());
fixed_key!(B256, 32, B256::from_slice, |k: &B256| k.to_vec());
fixed_key!(Address, 20, Address::from_slice, |k: &Address| k.to_vec());
fixed_key!(u64, 8, |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes")), |k: &u64| k
    .to_be_bytes()
    .to_vec());
fixed_key!((), 0, |_: &[u8]| (), |_: &()| vec![]);
fixed_key!(
    (Address, U256),
    52,
    |b: &[u8]| (Address::from_slice(&b[..20]), U256::from_be_slice(&b[20..])),
    |k: &(Address, U256)| [k.0.as_slice(), &k.1.to_be_bytes::<32>()].concat()
);

impl Key for Bytes {
    fn encode(&self) -> Vec<u8> {
        self.to_vec()
    }
    fn decode(b: &[u8]) -> Option<Self> {
        Some(Self::copy_from_slice(b))
    }
}

/// The database of a data folder.
#[derive(Debug)]
pub(crate) struct Store {
    db: Database,
    path: PathBuf,
}

fn storage(e: impl std::fmt::Display) -> Error {
    Error::Storage(e.to_string())
}

impl Store {
    /// Opens the database in `dir` (creating the folder and a new file if there is none). Returns
    /// the stored meta, or `None` for a new file.
    pub(crate) fn open(dir: &Path) -> Result<(Self, Option<Meta>)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(DATA_FILE);
        let corrupt = |reason: String| Error::Corrupt { path: path.clone(), reason };
        let exists = path.exists();
        if exists && std::fs::metadata(&path)?.len() == 0 {
            return Err(corrupt("the file is empty".into()));
        }
        let opened = std::panic::catch_unwind(|| {
            if exists {
                Database::open(&path)
            } else {
                Database::create(&path)
            }
        });
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(e)) => return Err(corrupt(e.to_string())),
            Err(_) => return Err(corrupt("the database could not be read".into())),
        };
        let store = Self { db, path: path.clone() };
        if !exists {
            let txn = store.db.begin_write().map_err(storage)?;
            for name in all_tables() {
                txn.open_table(def(name)).map_err(storage)?;
            }
            txn.commit().map_err(storage)?;
            return Ok((store, None));
        }
        let meta = std::panic::AssertUnwindSafe(|| store.read_meta());
        match std::panic::catch_unwind(meta) {
            Ok(Ok(Some(m))) if m.format == FORMAT => Ok((store, Some(m))),
            Ok(Ok(Some(m))) => Err(corrupt(format!(
                "it was written in format {} by another version of sesskey; this one reads format {FORMAT}",
                m.format
            ))),
            Ok(Ok(None)) => Err(corrupt("it holds no emulator state".into())),
            Ok(Err(e)) => Err(corrupt(e.to_string())),
            Err(_) => Err(corrupt("the database could not be read".into())),
        }
    }

    fn read_meta(&self) -> Result<Option<Meta>> {
        let read = self.db.begin_read().map_err(storage)?;
        let table = match read.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(storage(e)),
        };
        match table.get(&b"meta"[..]).map_err(storage)? {
            Some(v) => serde_json::from_slice(v.value()).map(Some).map_err(storage),
            None => Ok(None),
        }
    }

    /// Loads every table into `core` (the rows become its committed state).
    pub(crate) fn load(&self, core: &mut Core, meta: &Meta) -> Result<()> {
        let corrupt = |reason: String| Error::Corrupt { path: self.path.clone(), reason };
        let load = std::panic::AssertUnwindSafe(|| self.load_tables(core, meta));
        match std::panic::catch_unwind(load) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Error::Storage(e))) => Err(corrupt(e)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(corrupt("the database could not be read".into())),
        }
    }

    fn load_tables(&self, core: &mut Core, meta: &Meta) -> Result<()> {
        if meta.chain_ids != core.chains.keys().copied().collect::<Vec<_>>() {
            return Err(Error::Config(format!(
                "the data folder serves chains {:?}; start with the same chain ids (or another folder)",
                meta.chain_ids
            )));
        }
        core.clock.fixed_ms = meta.fixed_ms;
        core.clock.offset_ms = meta.offset_ms;
        core.ids.seed = meta.ids_seed;
        core.ids.counter = meta.ids_counter;
        if core.config.policy_ids.is_empty() {
            core.config.policy_ids = meta.policy_ids.clone();
        }
        let read = self.db.begin_read().map_err(storage)?;
        load_tables_of(&read, None, &mut core.wallet)?;
        for (id, chain) in core.chains.iter_mut() {
            load_tables_of(&read, Some(*id), chain)?;
        }
        Ok(())
    }

    /// The current call's change set, serialized (taken under the state lock, written later).
    pub(crate) fn collect(core: &Core) -> Result<ChangeSet> {
        let meta = Meta {
            format: FORMAT,
            fixed_ms: core.clock.fixed_ms,
            offset_ms: core.clock.offset_ms,
            ids_seed: core.ids.seed,
            ids_counter: core.ids.counter,
            chain_ids: core.chains.keys().copied().collect(),
            fork_block: core.chains.values().find_map(|c| c.upstream.as_ref().map(|u| u.block)),
            policy_ids: core.config.policy_ids.clone(),
        };
        let mut set = ChangeSet { rows: vec![] };
        let meta = serde_json::to_vec(&meta).map_err(storage)?;
        set.rows.push((META.name(), (b"meta".to_vec(), Some(meta))));
        collect_tables_of(&mut set, None, &core.wallet)?;
        for (id, c) in &core.chains {
            collect_tables_of(&mut set, Some(*id), c)?;
        }
        Ok(set)
    }

    /// Writes change sets, in order, in one durable transaction (one fsync for all).
    pub(crate) fn write(&self, sets: &[ChangeSet]) -> Result<()> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut tables = all_tables()
                .into_iter()
                .map(|name| Ok((name, txn.open_table(def(name)).map_err(storage)?)))
                .collect::<Result<std::collections::HashMap<_, _>>>()?;
            for set in sets {
                for (table, (key, value)) in &set.rows {
                    let t = tables
                        .get_mut(table)
                        .ok_or_else(|| Error::Storage(format!("no table {table}")))?;
                    match value {
                        Some(v) => t.insert(&key[..], &v[..]).map_err(storage)?,
                        None => t.remove(&key[..]).map_err(storage)?,
                    };
                }
            }
        }
        txn.commit().map_err(storage)
    }

    /// Writes the current call's changes at once and makes them the committed state (for the
    /// start, when no other call runs).
    pub(crate) fn commit(&self, core: &mut Core) -> Result<()> {
        let written = Self::collect(core).and_then(|set| self.write(&[set]));
        match written {
            Ok(()) => core.apply(),
            Err(_) => core.rollback(),
        }
        written
    }
}

/// What one call changed, serialized: (table, key, value or deletion).
#[derive(Debug, Default)]
pub(crate) struct ChangeSet {
    rows: Vec<(&'static str, crate::table::EncodedRow)>,
}

fn prefixed(prefix: Option<u64>, key: &[u8]) -> Vec<u8> {
    match prefix {
        Some(c) => [&c.to_be_bytes()[..], key].concat(),
        None => key.to_vec(),
    }
}

/// The current call's writes of every table of `state` (a chain's keyed by `prefix`).
fn collect_tables_of(set: &mut ChangeSet, prefix: Option<u64>, state: &impl Tables) -> Result<()> {
    let mut result = Ok(());
    state.each(&mut |name, table| {
        if result.is_err() {
            return;
        }
        match table.encoded_changes() {
            Ok(rows) => {
                set.rows.extend(rows.into_iter().map(|(k, v)| (name, (prefixed(prefix, &k), v))))
            }
            Err(e) => result = Err(Error::Storage(e)),
        }
    });
    result
}

/// Loads every table of `state` (a chain's rows keyed by `prefix`).
fn load_tables_of(
    read: &redb::ReadTransaction,
    prefix: Option<u64>,
    state: &mut impl Tables,
) -> Result<()> {
    let mut result = Ok(());
    state.each_mut(&mut |name, table| {
        if result.is_ok() {
            result = load_rows(read, def(name), prefix, table);
        }
    });
    result
}

fn load_rows(
    read: &redb::ReadTransaction,
    def: Def,
    prefix: Option<u64>,
    table: &mut dyn AnyTable,
) -> Result<()> {
    let t = read.open_table(def).map_err(storage)?;
    let rows = match prefix {
        Some(c) => {
            let start = c.to_be_bytes();
            let rows: Vec<_> = t
                .range(&start[..]..)
                .map_err(storage)?
                .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.value().starts_with(&start)))
                .collect();
            rows
        }
        None => t.iter().map_err(storage)?.collect(),
    };
    let skip = if prefix.is_some() { 8 } else { 0 };
    for row in rows {
        let (k, v) = row.map_err(storage)?;
        table
            .load_encoded(&k.value()[skip..], v.value())
            .map_err(|e| Error::Storage(format!("table {}: {e}", def.name())))?;
    }
    Ok(())
}

/// The store's side of a table: its rows as bytes (keys fixed-width, values JSON).
impl<K, V> AnyTable for Table<K, V>
where
    K: Key + Hash + Eq + Clone + Send + Sync + 'static,
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    fn is_changed(&self) -> bool {
        Self::is_changed(self)
    }
    fn apply(&mut self) {
        Self::apply(self);
    }
    fn rollback(&mut self) {
        Self::rollback(self);
    }
    fn mark(&mut self) {
        Self::mark(self);
    }
    fn forget_oldest_mark(&mut self) {
        Self::forget_oldest_mark(self);
    }
    fn revert_to(&mut self, depth: usize) {
        Self::revert_to(self, depth);
    }
    fn encoded_changes(&self) -> std::result::Result<Vec<crate::table::EncodedRow>, String> {
        self.changes()
            .map(|(k, v)| {
                let value = v.map(serde_json::to_vec).transpose().map_err(|e| e.to_string())?;
                Ok((k.encode(), value))
            })
            .collect()
    }
    fn load_encoded(&mut self, key: &[u8], value: &[u8]) -> std::result::Result<(), String> {
        let key = K::decode(key).ok_or("a malformed key")?;
        let value: V =
            serde_json::from_slice(value).map_err(|e| format!("a malformed row: {e}"))?;
        self.load(key, value);
        Ok(())
    }
}

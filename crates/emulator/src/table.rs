//! A keyed table whose writes wait in an overlay until the call that made them ends.
//!
//! Every piece of the emulator's state lives in a [`Table`]. A call reads through the overlay and
//! writes into it; when the call succeeds, the overlay *is* its change set: the store writes
//! exactly those rows, then [`Table::apply`] merges them. A refused call, or a failed commit,
//! [`Table::rollback`]s, so nothing of it stays in memory either. No mutation has to remember to
//! mark itself as changed.

use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

/// A row as the store writes it: its encoded key, and its encoded value (`None`: deleted).
pub(crate) type EncodedRow = (Vec<u8>, Option<Vec<u8>>);

/// One table seen without its types: what every pass over a state does to it (apply, rollback,
/// snapshot, restore) and what the store reads and writes of it (rows as bytes; implemented in
/// `store`, which owns the encoding).
pub(crate) trait AnyTable {
    /// Whether the current call wrote anything.
    fn is_changed(&self) -> bool;
    /// Makes the current call's writes the committed rows.
    fn apply(&mut self);
    /// Forgets the current call's writes.
    fn rollback(&mut self);
    /// A copy of the committed rows.
    fn snapshot(&self) -> Arc<dyn Any + Send + Sync>;
    /// Returns to a copy `snapshot` made of this table (as writes of the current call).
    fn restore(&mut self, snapshot: &(dyn Any + Send + Sync));
    /// The current call's writes, encoded for the store: (key, value, or `None` for a deletion).
    fn encoded_changes(&self) -> Result<Vec<EncodedRow>, String>;
    /// Loads a committed row from the store's bytes.
    fn load_encoded(&mut self, key: &[u8], value: &[u8]) -> Result<(), String>;
}

/// A state made of [`Table`]s, each listed once, with the name it has in the store, by
/// [`tables!`]. Every pass over the state goes through this list (apply, rollback, snapshot,
/// restore, the store's writes and reads), so a table in the list is kept everywhere and no
/// pass can forget one.
pub(crate) trait Tables {
    /// Calls `f` with each table and its name.
    fn each(&self, f: &mut dyn FnMut(&'static str, &dyn AnyTable));
    /// Calls `f` with each table, to change, and its name.
    fn each_mut(&mut self, f: &mut dyn FnMut(&'static str, &mut dyn AnyTable));

    /// Whether the current call wrote to any table.
    fn tables_changed(&self) -> bool {
        let mut changed = false;
        self.each(&mut |_, t| changed |= t.is_changed());
        changed
    }

    /// Makes the current call's writes the committed rows, in every table.
    fn apply_tables(&mut self) {
        self.each_mut(&mut |_, t| t.apply());
    }

    /// Forgets the current call's writes, in every table.
    fn rollback_tables(&mut self) {
        self.each_mut(&mut |_, t| t.rollback());
    }

    /// A copy of every table's committed rows.
    fn snapshot_tables(&self) -> TablesSnapshot {
        let mut copies = vec![];
        self.each(&mut |name, t| copies.push((name, t.snapshot())));
        TablesSnapshot(copies)
    }

    /// Returns every table to `snapshot` (as writes of the current call).
    fn restore_tables(&mut self, snapshot: &TablesSnapshot) {
        self.each_mut(&mut |name, t| {
            if let Some((_, copy)) = snapshot.0.iter().find(|(n, _)| *n == name) {
                t.restore(copy.as_ref());
            }
        });
    }

    /// The tables' names, in order.
    fn table_names(&self) -> Vec<&'static str> {
        let mut names = vec![];
        self.each(&mut |name, _| names.push(name));
        names
    }
}

/// The committed rows of every table of a state, by name.
#[derive(Clone)]
pub(crate) struct TablesSnapshot(Vec<(&'static str, Arc<dyn Any + Send + Sync>)>);

impl std::fmt::Debug for TablesSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(n, _)| n)).finish()
    }
}

/// Lists a state's tables once: `tables!(Chain { accounts: "evm_accounts", … })` implements
/// [`Tables`] for it.
macro_rules! tables {
    ($ty:ty { $($field:ident: $name:literal),* $(,)? }) => {
        impl $crate::table::Tables for $ty {
            fn each(&self, f: &mut dyn FnMut(&'static str, &dyn $crate::table::AnyTable)) {
                $( f($name, &self.$field); )*
            }
            fn each_mut(
                &mut self,
                f: &mut dyn FnMut(&'static str, &mut dyn $crate::table::AnyTable),
            ) {
                $( f($name, &mut self.$field); )*
            }
        }
    };
}
pub(crate) use tables;

/// A table of committed rows and the pending writes of the current call (`None`: deleted).
#[derive(Clone, Debug)]
pub(crate) struct Table<K, V> {
    rows: HashMap<K, V>,
    pending: HashMap<K, Option<V>>,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Self { rows: HashMap::new(), pending: HashMap::new() }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Table<K, V> {
    /// A row, as the current call sees it.
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        match self.pending.get(key) {
            Some(v) => v.as_ref(),
            None => self.rows.get(key),
        }
    }

    /// A row to change in place (copied into the overlay on first use).
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if !self.pending.contains_key(key) {
            let row = self.rows.get(key)?.clone();
            self.pending.insert(key.clone(), Some(row));
        }
        self.pending.get_mut(key).and_then(Option::as_mut)
    }

    /// A row to change in place, made from `make` when absent.
    pub(crate) fn entry(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        if self.get(&key).is_none() {
            self.pending.insert(key.clone(), Some(make()));
        }
        self.get_mut(&key).expect("present: inserted above")
    }

    /// Writes a row.
    pub(crate) fn put(&mut self, key: K, value: V) {
        self.pending.insert(key, Some(value));
    }

    /// Deletes a row.
    pub(crate) fn delete(&mut self, key: K) {
        self.pending.insert(key, None);
    }

    /// The current call's writes: the change set.
    pub(crate) fn changes(&self) -> impl Iterator<Item = (&K, Option<&V>)> {
        self.pending.iter().map(|(k, v)| (k, v.as_ref()))
    }

    /// Whether the current call wrote anything.
    pub(crate) fn is_changed(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Makes the current call's writes the committed rows.
    pub(crate) fn apply(&mut self) {
        for (k, v) in self.pending.drain() {
            match v {
                Some(v) => self.rows.insert(k, v),
                None => self.rows.remove(&k),
            };
        }
    }

    /// Forgets the current call's writes.
    pub(crate) fn rollback(&mut self) {
        self.pending.clear();
    }

    /// The overlay as it is now, to return to with [`Table::restore`].
    pub(crate) fn savepoint(&self) -> HashMap<K, Option<V>> {
        self.pending.clone()
    }

    /// Returns the overlay to a savepoint.
    pub(crate) fn restore(&mut self, savepoint: HashMap<K, Option<V>>) {
        self.pending = savepoint;
    }

    /// Loads a committed row (the store, at start).
    pub(crate) fn load(&mut self, key: K, value: V) {
        self.rows.insert(key, value);
    }

    /// Every row as the current call sees it.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let committed = self.rows.iter().filter(|(k, _)| !self.pending.contains_key(*k));
        let pending = self.pending.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        committed.chain(pending)
    }

    /// Replaces every row (a snapshot being restored): the old rows are deleted, the new ones
    /// written, all in the overlay.
    pub(crate) fn replace_all(&mut self, rows: &HashMap<K, V>) {
        let old: Vec<K> = self.iter().map(|(k, _)| k.clone()).collect();
        for k in old {
            if !rows.contains_key(&k) {
                self.delete(k);
            }
        }
        for (k, v) in rows {
            self.put(k.clone(), v.clone());
        }
    }

    /// The committed rows (for snapshots, taken between calls).
    pub(crate) fn committed(&self) -> &HashMap<K, V> {
        &self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn writes_wait_for_apply_and_rollback_forgets_them() {
        let mut t: Table<u8, u32> = Table::default();
        t.load(1, 10);
        *t.get_mut(&1).unwrap() += 1;
        t.put(2, 20);
        assert_eq!(t.get(&1), Some(&11));
        assert_eq!(t.changes().count(), 2);
        t.rollback();
        assert_eq!(t.get(&1), Some(&10));
        assert_eq!(t.get(&2), None);
        t.put(2, 20);
        t.delete(1);
        t.apply();
        assert!(!t.is_changed());
        assert_eq!(t.get(&1), None);
        assert_eq!(t.get(&2), Some(&20));
    }

    #[test]
    fn savepoints_undo_part_of_a_call() {
        let mut t: Table<u8, u32> = Table::default();
        t.put(1, 1);
        let s = t.savepoint();
        t.put(2, 2);
        t.restore(s);
        assert_eq!(t.get(&2), None);
        assert_eq!(t.get(&1), Some(&1));
    }
}

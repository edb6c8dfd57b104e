//! A keyed table whose writes wait in an overlay until the call that made them ends.
//!
//! Every piece of the emulator's state lives in a [`Table`]. A call reads through the overlay and
//! writes into it; when the call succeeds, the overlay *is* its change set: the store writes
//! exactly those rows, then [`Table::apply`] merges them. A refused call, or a failed commit,
//! [`Table::rollback`]s, so nothing of it stays in memory either. No mutation has to remember to
//! mark itself as changed.
//!
//! The committed rows and the snapshot journals are persistent maps ([`imbl::HashMap`]) of
//! shared values: a clone of a table shares them, and a write copies only the path to the row
//! it changes (pointers, not values). That is what lets a write run on its own copy of the
//! state while reads go on, beside it, on the state as it was (see [`crate::Emulator`]).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

/// The committed rows, or one snapshot journal: shared between clones, copied on write.
type Rows<K, V> = imbl::HashMap<K, Arc<V>>;
/// A snapshot journal: each row's value when the snapshot was taken (`None`: absent).
type Journal<K, V> = imbl::HashMap<K, Option<Arc<V>>>;

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
    /// Takes a snapshot ([`Table::mark`]).
    fn mark(&mut self);
    /// Forgets the oldest snapshot ([`Table::forget_oldest_mark`]).
    fn forget_oldest_mark(&mut self);
    /// Returns to snapshot `depth` ([`Table::revert_to`]).
    fn revert_to(&mut self, depth: usize);
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

    /// Takes a snapshot of every table.
    fn mark_tables(&mut self) {
        self.each_mut(&mut |_, t| t.mark());
    }

    /// Forgets the oldest snapshot of every table.
    fn forget_oldest_marks(&mut self) {
        self.each_mut(&mut |_, t| t.forget_oldest_mark());
    }

    /// Returns every table to snapshot `depth` (as writes of the current call).
    fn revert_tables(&mut self, depth: usize) {
        self.each_mut(&mut |_, t| t.revert_to(depth));
    }

    /// The tables' names, in order.
    fn table_names(&self) -> Vec<&'static str> {
        let mut names = vec![];
        self.each(&mut |name, _| names.push(name));
        names
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
    rows: Rows<K, V>,
    pending: HashMap<K, Option<V>>,
    /// One journal a snapshot taken (oldest first): each row's value when the snapshot was
    /// taken, recorded the first time a later call changes it. A snapshot costs what changes
    /// after it, never a copy of the table.
    undo: Vec<Journal<K, V>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Default for Table<K, V> {
    fn default() -> Self {
        Self { rows: Rows::new(), pending: HashMap::new(), undo: vec![] }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Table<K, V> {
    /// A row, as the current call sees it.
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        match self.pending.get(key) {
            Some(v) => v.as_ref(),
            None => self.rows.get(key).map(|v| &**v),
        }
    }

    /// A row to change in place (copied into the overlay on first use).
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if !self.pending.contains_key(key) {
            let row = V::clone(self.rows.get(key)?);
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
    #[cfg(test)]
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
            if let Some(level) = self.undo.last_mut() {
                level.entry(k.clone()).or_insert_with(|| self.rows.get(&k).cloned());
            }
            match v {
                Some(v) => self.rows.insert(k, Arc::new(v)),
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
        self.rows.insert(key, Arc::new(value));
    }

    /// Every row as the current call sees it.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let committed = (self.rows.iter())
            .filter(|(k, _)| !self.pending.contains_key(*k))
            .map(|(k, v)| (k, &**v));
        let pending = self.pending.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        committed.chain(pending)
    }

    /// Takes a snapshot: later changes are journaled so that [`Table::revert_to`] can undo them.
    pub(crate) fn mark(&mut self) {
        self.undo.push(Journal::new());
    }

    /// Forgets the oldest snapshot (its journal is needed by no other).
    pub(crate) fn forget_oldest_mark(&mut self) {
        if !self.undo.is_empty() {
            self.undo.remove(0);
        }
    }

    /// Returns to the rows as they were when snapshot `depth` was taken (as writes of the current
    /// call), and forgets it and every later one.
    pub(crate) fn revert_to(&mut self, depth: usize) {
        while self.undo.len() > depth {
            let level = self.undo.pop().expect("longer than depth");
            for (k, old) in level {
                // A row the older snapshot has not seen change held this same value then.
                if let Some(older) = self.undo.last_mut() {
                    older.entry(k.clone()).or_insert_with(|| old.clone());
                }
                self.pending.insert(k, old.map(|v| V::clone(&v)));
            }
        }
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

    /// Nested snapshots journal only what changes, and each reverts to its own moment, also
    /// after a later one was reverted (a row only the later one saw change).
    #[test]
    fn snapshots_revert_to_their_own_moment() {
        let mut t: Table<&'static str, u32> = Table::default();
        t.load("a", 1);
        t.mark(); // snapshot 0
        t.put("a", 2);
        t.put("b", 5);
        t.apply();
        t.mark(); // snapshot 1
        t.put("a", 3);
        t.put("c", 7);
        t.apply();
        t.revert_to(1);
        t.apply();
        fn rows(t: &Table<&'static str, u32>) -> Vec<(&'static str, u32)> {
            let mut r: Vec<_> = t.iter().map(|(k, v)| (*k, *v)).collect();
            r.sort();
            r
        }
        assert_eq!(rows(&t), vec![("a", 2), ("b", 5)]);
        t.put("b", 6);
        t.apply();
        t.revert_to(0);
        t.apply();
        assert_eq!(rows(&t), vec![("a", 1)]);
        // Forgetting the oldest keeps the later ones.
        t.mark();
        t.put("z", 1);
        t.apply();
        t.mark();
        t.put("z", 2);
        t.apply();
        t.forget_oldest_mark();
        t.revert_to(0);
        t.apply();
        assert_eq!(rows(&t), vec![("a", 1), ("z", 1)]);
    }
}

//! A keyed table whose writes wait in an overlay until the call that made them ends.
//!
//! Every piece of the emulator's state lives in a [`Table`]. A call reads through the overlay and
//! writes into it; when the call succeeds, the overlay *is* its change set: the store writes
//! exactly those rows, then [`Table::apply`] merges them. A refused call, or a failed commit,
//! [`Table::rollback`]s, so nothing of it stays in memory either. No mutation has to remember to
//! mark itself as changed.

use std::collections::HashMap;
use std::hash::Hash;

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

//! Sessions saved to a folder: one JSON file a session, written atomically, listable and
//! removable, with the budget each has spent. Keys are not stored here (see the CLI's keystore
//! files): a session file holds only public data and the owner's signature.

use crate::error::{Error, Result};
use crate::session::Session;
use alloy_primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use sesskey_account::Spend;
use sesskey_types::SessionId;
use std::path::{Path, PathBuf};

/// A saved session and what it has spent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSession {
    /// The session.
    pub session: Session,
    /// Native value spent, in wei.
    pub spent_native: U256,
    /// ERC-20 amounts spent, by token.
    pub spent_erc20: Vec<(Address, U256)>,
    /// Gas spent, in wei.
    pub spent_gas: U256,
}

impl StoredSession {
    /// A fresh record: nothing spent yet.
    pub fn new(session: Session) -> Self {
        Self { session, spent_native: U256::ZERO, spent_erc20: vec![], spent_gas: U256::ZERO }
    }

    /// What was spent, for the policy engine.
    pub fn spent(&self) -> Spend {
        Spend {
            native: self.spent_native,
            erc20: self.spent_erc20.iter().copied().collect(),
            gas: self.spent_gas,
        }
    }

    /// Adds a batch's spend.
    pub fn add_spend(&mut self, spend: &Spend) {
        let mut total = self.spent();
        total.add(spend);
        self.spent_native = total.native;
        self.spent_gas = total.gas;
        self.spent_erc20 = total.erc20.into_iter().collect();
    }
}

/// A folder of sessions.
#[derive(Clone, Debug)]
pub struct SessionStore {
    dir: PathBuf,
}

fn io(e: std::io::Error, what: &str, path: &Path) -> Error {
    Error::Store(format!("{what} {}: {e}", path.display()))
}

impl SessionStore {
    /// Opens (creating it if needed) the folder `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| io(e, "creating", &dir))?;
        Ok(Self { dir })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &SessionId) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Saves a session, atomically: a reader sees the old file or the new one, never half.
    pub fn save(&self, record: &StoredSession) -> Result<()> {
        let path = self.path(&record.session.session_id);
        let tmp = path.with_extension("json.tmp");
        let mut text =
            serde_json::to_string_pretty(record).map_err(|e| Error::Store(e.to_string()))?;
        text.push('\n');
        std::fs::write(&tmp, text).map_err(|e| io(e, "writing", &tmp))?;
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| io(e, "syncing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(e, "renaming", &path))
    }

    /// Loads a session.
    pub fn load(&self, id: &SessionId) -> Result<StoredSession> {
        let path = self.path(id);
        let text = std::fs::read_to_string(&path).map_err(|e| io(e, "reading", &path))?;
        serde_json::from_str(&text).map_err(|e| Error::Store(format!("{}: {e}", path.display())))
    }

    /// Every saved session, by session id.
    pub fn list(&self) -> Result<Vec<StoredSession>> {
        let mut out = vec![];
        for entry in std::fs::read_dir(&self.dir).map_err(|e| io(e, "listing", &self.dir))? {
            let path = entry.map_err(|e| io(e, "listing", &self.dir))?.path();
            if path.extension().is_some_and(|x| x == "json") {
                let text = std::fs::read_to_string(&path).map_err(|e| io(e, "reading", &path))?;
                out.push(
                    serde_json::from_str(&text)
                        .map_err(|e| Error::Store(format!("{}: {e}", path.display())))?,
                );
            }
        }
        out.sort_by_key(|s: &StoredSession| s.session.session_id);
        Ok(out)
    }

    /// Removes a session's file.
    pub fn remove(&self, id: &SessionId) -> Result<()> {
        let path = self.path(id);
        std::fs::remove_file(&path).map_err(|e| io(e, "removing", &path))
    }

    /// Adds `spend` to a saved session and saves it.
    pub fn record_spend(&self, id: &SessionId, spend: &Spend) -> Result<StoredSession> {
        let mut record = self.load(id)?;
        record.add_spend(spend);
        self.save(&record)?;
        Ok(record)
    }
}

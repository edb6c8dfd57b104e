//! The first version's store: a folder of JSON files, one a session. Kept to read and import
//! folders written by earlier versions; new code uses a [`super::SessionStore`].

use super::StoredSession;
use crate::error::{Error, Result};
use sesskey_account::Spend;
use sesskey_types::SessionId;
use std::path::{Path, PathBuf};

/// A folder of sessions.
#[derive(Clone, Debug)]
pub struct JsonFolder {
    dir: PathBuf,
}

fn io(e: std::io::Error, what: &str, path: &Path) -> Error {
    Error::Store(format!("{what} {}: {e}", path.display()))
}

impl JsonFolder {
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

//! Where session keys live, and how a stored [`KeyLocation`] becomes a signer: encrypted
//! keystore files (Web3 Secret Storage v3, 0600, never overwritten), plain key files for tests,
//! and [`KeySource`], which an app implements for its KMS or HSM ([`KeyLocation::External`]).

use crate::error::{Error, Result};
use crate::store::KeyLocation;
use alloy_signer_local::PrivateKeySigner;
use std::future::Future;
use std::path::{Path, PathBuf};

/// Turns a stored [`KeyLocation`] into a signer. [`LocalKeys`] reads files; an app whose keys
/// live in a KMS or an HSM implements it for [`KeyLocation::External`] names.
pub trait KeySource: Send + Sync {
    /// The signer it gives.
    type Signer: alloy_signer::Signer + Send + Sync;
    /// The signer of the key at `location`.
    fn signer(&self, location: &KeyLocation) -> impl Future<Output = Result<Self::Signer>> + Send;
}

/// Keys in files: keystores unlocked with one password, plain key files (tests only).
#[derive(Clone)]
pub struct LocalKeys {
    password: Option<String>,
}

impl std::fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("LocalKeys").field("password", &self.password.is_some()).finish()
    }
}

impl LocalKeys {
    /// Keys unlocked with `password` (none: plain key files only).
    pub fn new(password: Option<String>) -> Self {
        Self { password }
    }

    /// Writes `key` to a new file `name` in `dir` (made 0700 if missing): an encrypted
    /// keystore (`<name>.keystore`) with this source's password, else a plain key file
    /// (`<name>.key`, for tests). Both are 0600; an existing file is never overwritten.
    pub fn create(&self, dir: &Path, name: &str, key: &PrivateKeySigner) -> Result<KeyLocation> {
        make_private_dir(dir)?;
        match &self.password {
            Some(password) => {
                let path = dir.join(format!("{name}.keystore"));
                // Encrypted under a temporary name, made the owner's only, then linked to its
                // own: `hard_link` fails if the name is taken, so no keystore is overwritten.
                let tmp_name = format!(
                    ".{name}.keystore.{}",
                    alloy_primitives::hex::encode(rand::random::<[u8; 8]>())
                );
                PrivateKeySigner::encrypt_keystore(
                    dir,
                    &mut rand::thread_rng(),
                    key.to_bytes(),
                    password,
                    Some(&tmp_name),
                )
                .map_err(|e| Error::Key(format!("writing a keystore in {}: {e}", dir.display())))?;
                let tmp = dir.join(&tmp_name);
                let linked = set_private(&tmp).and_then(|()| std::fs::hard_link(&tmp, &path));
                let _ = std::fs::remove_file(&tmp);
                linked.map_err(|e| {
                    Error::Key(format!("{}: {e}; refusing to overwrite a key", path.display()))
                })?;
                Ok(KeyLocation::Keystore { path: path.display().to_string() })
            }
            None => {
                let path = dir.join(format!("{name}.key"));
                write_new_private(
                    &path,
                    &format!("{}\n", alloy_primitives::hex::encode_prefixed(key.to_bytes())),
                )?;
                Ok(KeyLocation::PlainFile { path: path.display().to_string() })
            }
        }
    }

    /// The key at a file location, refusing a file others may read or write.
    pub fn open(&self, location: &KeyLocation) -> Result<PrivateKeySigner> {
        match location {
            KeyLocation::Keystore { path } => {
                let path = PathBuf::from(path);
                check_private(&path)?;
                let password = self.password.as_deref().ok_or_else(|| {
                    Error::Key(format!("{} is encrypted: a password is needed", path.display()))
                })?;
                PrivateKeySigner::decrypt_keystore(&path, password).map_err(|e| {
                    Error::Key(match std::fs::metadata(&path) {
                        Err(_) => format!("no keystore at {}", path.display()),
                        Ok(_) => format!("cannot unlock {}: wrong password? ({e})", path.display()),
                    })
                })
            }
            KeyLocation::PlainFile { path } => {
                let path = PathBuf::from(path);
                check_private(&path)?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| Error::Key(format!("reading {}: {e}", path.display())))?;
                text.trim().parse().map_err(|_| {
                    Error::Key(format!("{} does not hold a private key", path.display()))
                })
            }
            KeyLocation::External { name } => Err(Error::Key(format!(
                "the key `{name}` lives outside this process: resolve it with your KeySource"
            ))),
        }
    }
}

impl KeySource for LocalKeys {
    type Signer = PrivateKeySigner;

    async fn signer(&self, location: &KeyLocation) -> Result<PrivateKeySigner> {
        self.open(location)
    }
}

/// Refuses a key file others may read or write (mode wider than 0600), saying how to fix it.
pub fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else { return Ok(()) };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Key(format!(
                "{} is readable or writable by others (mode {mode:03o}); a key file must be the owner's only: run `chmod 600 {}`",
                path.display(),
                path.display()
            )));
        }
    }
    Ok(())
}

/// Makes `dir` (and its parents) if missing, the folder itself the owner's only (0700).
pub fn make_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| Error::Key(format!("making {}: {e}", dir.display())))
}

fn set_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Writes `text` to a new file, 0600 from its creation; an existing file is refused.
fn write_new_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut f = open
        .open(path)
        .map_err(|e| Error::Key(format!("{}: {e}; refusing to overwrite a key", path.display())))?;
    f.write_all(text.as_bytes()).map_err(|e| Error::Key(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_private_and_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKeySigner::random();
        for password in [None, Some("correct horse".to_string())] {
            let keys = LocalKeys::new(password.clone());
            let name = if password.is_some() { "k1" } else { "k2" };
            let location = keys.create(dir.path(), name, &key).unwrap();
            assert_eq!(keys.open(&location).unwrap().address(), key.address());
            assert!(keys.create(dir.path(), name, &PrivateKeySigner::random()).is_err());
            let path = match &location {
                KeyLocation::Keystore { path } | KeyLocation::PlainFile { path } => path.clone(),
                KeyLocation::External { .. } => unreachable!(),
            };
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{path}");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
                let e = keys.open(&location).unwrap_err().to_string();
                assert!(e.contains("chmod 600"), "{e}");
            }
        }
        let e = LocalKeys::new(None)
            .open(&KeyLocation::External { name: "kms:alias/agent".into() })
            .unwrap_err();
        assert!(e.to_string().contains("KeySource"), "{e}");
    }
}

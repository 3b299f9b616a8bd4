//! The per-installation redaction key: 32 random bytes in a file of mode 0600, created on first use.
//!
//! Markers carry an HMAC-SHA-256 of the secret under this key, so receipts made with one key
//! show that the same secret was used without revealing it, and nobody without the key can test
//! guesses against a marker.

use crate::RedactError;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Length of the key in bytes.
pub const KEY_LEN: usize = 32;

/// The file name of the key inside its directory.
const FILE_NAME: &str = "redaction.key";

/// An HMAC key for redaction markers.
#[derive(Clone)]
pub struct RedactionKey([u8; KEY_LEN]);

impl std::fmt::Debug for RedactionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedactionKey({})", self.id())
    }
}

impl RedactionKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Where the key lives by default: `/var/lib/glasshouse/redaction.key` for root, else
    /// `$XDG_STATE_HOME/glasshouse/redaction.key` (`~/.local/state/glasshouse/...` when unset).
    pub fn default_path() -> Result<PathBuf, RedactError> {
        if rustix::process::geteuid().is_root() {
            return Ok(PathBuf::from("/var/lib/glasshouse").join(FILE_NAME));
        }
        let state = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                Some(home) => PathBuf::from(home).join(".local/state"),
                None => {
                    return Err(RedactError::Key {
                        path: PathBuf::from(FILE_NAME),
                        message: "neither XDG_STATE_HOME nor HOME is set; choose a key file with --redaction-key".to_owned(),
                    })
                }
            },
        };
        Ok(state.join("glasshouse").join(FILE_NAME))
    }

    /// Reads the key at `path`, creating it (and its directory, mode 0700) with 32 fresh
    /// random bytes and mode 0600 when it does not exist. A key readable by group or others,
    /// or of the wrong length, is refused.
    pub fn load_or_create(path: &Path) -> Result<Self, RedactError> {
        match Self::create(path) {
            Ok(key) => return Ok(key),
            Err(RedactError::Io { cause, .. })
                if cause.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        Self::load(path)
    }

    /// Reads an existing key.
    pub fn load(path: &Path) -> Result<Self, RedactError> {
        let io = |cause| RedactError::Io {
            action: "cannot read redaction key",
            path: path.to_owned(),
            cause,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(RedactError::Key {
                path: path.to_owned(),
                message: format!(
                    "is readable by others (mode {mode:o}); run chmod 600 on it, or make a new key"
                ),
            });
        }
        let mut bytes = Vec::with_capacity(KEY_LEN + 1);
        std::io::Read::by_ref(&mut file)
            .take(KEY_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|b: Vec<u8>| RedactError::Key {
            path: path.to_owned(),
            message: format!(
                "holds {} bytes, not {KEY_LEN}{}; remove it to have a new key made",
                b.len(),
                if b.len() > KEY_LEN { " or more" } else { "" }
            ),
        })?;
        Ok(Self(key))
    }

    fn create(path: &Path) -> Result<Self, RedactError> {
        let io = |action, cause| RedactError::Io {
            action,
            path: path.to_owned(),
            cause,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io("cannot create the directory of redaction key", e))?;
        }
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| {
            io(
                "cannot get random bytes for redaction key",
                std::io::Error::other(e.to_string()),
            )
        })?;
        // create_new: two glasshouse runs starting at once cannot both make a key.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| io("cannot create redaction key", e))?;
        let written = file.write_all(&bytes).and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(path);
            return Err(io("cannot write redaction key", e));
        }
        Ok(Self(bytes))
    }

    /// HMAC-SHA-256 of `data` under this key.
    pub fn mac(&self, data: &[u8]) -> [u8; 32] {
        // HMAC pads a key shorter than the hash's block to the block size with zeros; doing so
        // here lets the infallible fixed-size constructor take it.
        let mut block = [0u8; 64];
        block[..KEY_LEN].copy_from_slice(&self.0);
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// A public name of the key (16 hex digits of an HMAC of a fixed text), so that a reader
    /// can tell whether two receipts' markers are comparable. It reveals nothing of the key.
    pub fn id(&self) -> String {
        hex::encode(&self.mac(b"glasshouse redaction key id")[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_0600_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/redaction.key");
        let a = RedactionKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert_eq!(std::fs::read(&path).unwrap().len(), KEY_LEN);
        let b = RedactionKey::load_or_create(&path).unwrap();
        assert_eq!(a.0, b.0);
        let other = RedactionKey::load_or_create(&dir.path().join("other.key")).unwrap();
        assert_ne!(a.0, other.0, "two new keys are random");
    }

    #[test]
    fn open_or_short_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, [7u8; KEY_LEN]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = RedactionKey::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(RedactionKey::load(&path).is_ok());
        std::fs::write(&path, [7u8; 5]).unwrap();
        let err = RedactionKey::load(&path).unwrap_err().to_string();
        assert!(err.contains("holds 5 bytes"), "{err}");
    }

    #[test]
    fn mac_depends_on_key_and_data() {
        let a = RedactionKey::from_bytes([1; KEY_LEN]);
        let b = RedactionKey::from_bytes([2; KEY_LEN]);
        assert_eq!(a.mac(b"x"), a.mac(b"x"));
        assert_ne!(a.mac(b"x"), a.mac(b"y"));
        assert_ne!(a.mac(b"x"), b.mac(b"x"));
        assert_ne!(a.id(), b.id());
    }
}

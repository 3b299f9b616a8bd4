//! Ed25519 signing keys: generation, PKCS#8 / SPKI PEM files, and key ids.
//!
//! The private key is PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) in a file of mode 0600; the
//! public key is SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`). A key's id is the
//! SHA-256 of its public key's SPKI DER encoding, in lowercase hex, which any tool holding the
//! public key can compute without glasshouse.

use crate::AttestError;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use ed25519_dalek::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

/// A private key and its id.
pub struct Signer {
    pub(crate) key: SigningKey,
    keyid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.keyid)
    }
}

/// A public key and its id.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub(crate) key: VerifyingKey,
    keyid: String,
}

fn key_error(path: &Path, message: impl Into<String>) -> AttestError {
    AttestError::Key {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// The key id of a public key: SHA-256 of its SPKI DER, lowercase hex.
pub fn keyid_of(key: &VerifyingKey) -> Result<String, AttestError> {
    let der = key
        .to_public_key_der()
        .map_err(|e| AttestError::Encode(format!("public key as SPKI DER: {e}")))?;
    Ok(hex::encode(Sha256::digest(der.as_bytes())))
}

impl Signer {
    /// A new random key.
    pub fn generate() -> Result<Self, AttestError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| AttestError::Encode(format!("no random bytes for a key: {e}")))?;
        let key = SigningKey::from_bytes(&seed);
        let keyid = keyid_of(&key.verifying_key())?;
        Ok(Self { key, keyid })
    }

    /// Reads a PKCS#8 PEM private key.
    pub fn load(path: &Path) -> Result<Self, AttestError> {
        let pem = std::fs::read_to_string(path).map_err(|cause| AttestError::Io {
            action: "cannot read signing key",
            path: path.to_owned(),
            cause,
        })?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            key_error(
                path,
                format!("is not an Ed25519 private key in PKCS#8 PEM ({e}); make one with glasshouse keygen"),
            )
        })?;
        let keyid = keyid_of(&key.verifying_key())?;
        Ok(Self { key, keyid })
    }

    /// The key id (of the public half).
    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key(),
            keyid: self.keyid.clone(),
        }
    }

    /// Writes the private key (PKCS#8 PEM, mode 0600) and the public key (SPKI PEM, mode 0644).
    /// Neither file may exist already: a key is never overwritten.
    pub fn write(&self, private: &Path, public: &Path) -> Result<(), AttestError> {
        for path in [private, public] {
            if path.exists() {
                return Err(AttestError::Exists {
                    path: path.to_owned(),
                });
            }
        }
        let private_pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| AttestError::Encode(format!("private key as PKCS#8: {e}")))?;
        let public_pem = self.public_key().to_pem()?;
        write_new(private, private_pem.as_bytes(), 0o600)?;
        if let Err(e) = write_new(public, public_pem.as_bytes(), 0o644) {
            let _ = std::fs::remove_file(private);
            return Err(e);
        }
        Ok(())
    }
}

/// Creates `path` (which must not exist) with `mode` and `bytes`, synced.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), AttestError> {
    let io = |cause| AttestError::Io {
        action: "cannot write key file",
        path: path.to_owned(),
        cause,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                AttestError::Exists {
                    path: path.to_owned(),
                }
            } else {
                io(e)
            }
        })?;
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        let _ = std::fs::remove_file(path);
        return Err(io(e));
    }
    Ok(())
}

impl PublicKey {
    /// Reads an SPKI PEM public key.
    pub fn load(path: &Path) -> Result<Self, AttestError> {
        let pem = std::fs::read_to_string(path).map_err(|cause| AttestError::Io {
            action: "cannot read public key",
            path: path.to_owned(),
            cause,
        })?;
        let key = VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
            key_error(
                path,
                format!("is not an Ed25519 public key in SPKI PEM ({e}); use the .pub file glasshouse keygen wrote"),
            )
        })?;
        let keyid = keyid_of(&key)?;
        Ok(Self { key, keyid })
    }

    /// The key id.
    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// SPKI PEM text.
    pub fn to_pem(&self) -> Result<String, AttestError> {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| AttestError::Encode(format!("public key as SPKI PEM: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn written_keys_read_back_with_modes_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = (dir.path().join("k"), dir.path().join("k.pub"));
        let signer = Signer::generate().unwrap();
        signer.write(&private, &public).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&private), 0o600);
        assert_eq!(mode(&public), 0o644);
        let pem = std::fs::read_to_string(&private).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        let pub_pem = std::fs::read_to_string(&public).unwrap();
        assert!(
            pub_pem.starts_with("-----BEGIN PUBLIC KEY-----"),
            "{pub_pem}"
        );
        let again = Signer::load(&private).unwrap();
        assert_eq!(again.keyid(), signer.keyid());
        assert_eq!(PublicKey::load(&public).unwrap().keyid(), signer.keyid());
        assert_eq!(signer.keyid().len(), 64);
        // The id is the SHA-256 of the DER inside the PEM.
        let b64: String = pub_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(hex::encode(Sha256::digest(&der)), signer.keyid());
        assert!(matches!(
            signer.write(&private, &dir.path().join("other.pub")),
            Err(AttestError::Exists { .. })
        ));
        assert_ne!(Signer::generate().unwrap().keyid(), signer.keyid());
    }

    #[test]
    fn wrong_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = (dir.path().join("k"), dir.path().join("k.pub"));
        Signer::generate()
            .unwrap()
            .write(&private, &public)
            .unwrap();
        let err = Signer::load(&public).unwrap_err().to_string();
        assert!(err.contains("not an Ed25519 private key"), "{err}");
        let err = PublicKey::load(&private).unwrap_err().to_string();
        assert!(err.contains("not an Ed25519 public key"), "{err}");
        let err = PublicKey::load(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read public key"), "{err}");
    }
}

//! Signed in-toto attestations of glasshouse runs.
//!
//! A run's receipt becomes an in-toto Statement v1 ([`statement`]) whose subjects are the
//! command and the SHA-256 digests of its stdout and stderr, and whose predicate is the receipt
//! ([`RECEIPT_PREDICATE`]) or the in-toto runtime-trace predicate ([`RUNTIME_TRACE_PREDICATE`]).
//! The Statement is signed with Ed25519 inside a DSSE envelope ([`Envelope`]) of payload type
//! `application/vnd.in-toto+json`, so that any DSSE implementation can check it with the public
//! key alone. [`verify`] checks an envelope file's bytes against one public key.

mod dsse;
mod keys;
mod statement;

pub use dsse::{pae, Envelope, Signature, IN_TOTO_PAYLOAD_TYPE};
pub use keys::{keyid_of, PublicKey, Signer};
pub use statement::{
    check, statement, Checked, Predicate, MONITOR_TYPE, PROCESS_TYPE, RECEIPT_PREDICATE,
    RUNTIME_TRACE_PREDICATE, STATEMENT_TYPE,
};

use glasshouse_receipt::{OsText, Receipt};
use std::path::{Path, PathBuf};

/// The suffix added to the receipt's path for its envelope (`receipt.json.intoto.jsonl`).
pub const ENVELOPE_SUFFIX: &str = ".intoto.jsonl";

/// Errors making keys, signing, or verifying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// A file could not be read or written.
    #[error("{action} {path}: {cause}")]
    Io {
        /// What glasshouse was doing.
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// A key file holds no key of the expected kind.
    #[error("key file {path} {message}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A key file would be overwritten.
    #[error(
        "{path} exists already; remove it or choose another path (a key is never overwritten)"
    )]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// Something could not be encoded (a bug, not bad input).
    #[error("cannot encode {0}")]
    Encode(String),
    /// The envelope or its payload is not what it should be (not JSON, missing fields, bad base64).
    #[error("{0}")]
    Malformed(String),
    /// The envelope's payload type is not an in-toto Statement.
    #[error("unsupported payload type {0:?} (expected \"application/vnd.in-toto+json\")")]
    UnsupportedPayloadType(String),
    /// No signature of the envelope is by the given key.
    #[error("the envelope is not signed by this key (key id {expected}); its signatures are by {found:?}")]
    UnknownKey {
        /// The given key's id.
        expected: String,
        /// The key ids of the envelope's signatures.
        found: Vec<String>,
    },
    /// A signature by the given key's id does not verify: the envelope was changed or forged.
    #[error("the signature by key {keyid} does not verify: the envelope was changed after signing, or not signed by this key")]
    BadSignature {
        /// The key id.
        keyid: String,
    },
    /// The payload is not an in-toto Statement v1.
    #[error("unsupported statement type {0:?} (expected \"https://in-toto.io/Statement/v1\")")]
    UnsupportedStatement(String),
    /// The Statement's predicate type is not one this glasshouse writes.
    #[error("unsupported predicate type {0:?}")]
    UnsupportedPredicate(String),
    /// The signed receipt's version is not one this glasshouse reads.
    #[error("{0}")]
    UnsupportedVersion(String),
}

/// Where the envelope of the receipt at `receipt` is written.
pub fn envelope_path(receipt: &Path) -> PathBuf {
    let mut name = receipt.as_os_str().to_owned();
    name.push(ENVELOPE_SUFFIX);
    PathBuf::from(name)
}

/// Signs a Statement about `receipt` (`command` is the run's argv, already redacted).
pub fn attest(
    signer: &Signer,
    receipt: &Receipt,
    command: &[OsText],
    predicate: Predicate,
) -> Result<Envelope, AttestError> {
    let payload = statement(receipt, command, predicate)?;
    Ok(Envelope::sign(signer, IN_TOTO_PAYLOAD_TYPE, &payload))
}

/// Verifies an envelope file's bytes with `key`: the signature first, then the Statement.
pub fn verify(bytes: &[u8], key: &PublicKey) -> Result<Checked, AttestError> {
    let envelope = Envelope::parse(bytes)?;
    let payload = envelope.verify(key, IN_TOTO_PAYLOAD_TYPE)?;
    check(&payload)
}

#[cfg(test)]
mod tests;

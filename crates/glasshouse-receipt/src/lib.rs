//! The glasshouse receipt: versioned types, the JSON Schema generated from them, lossless text for
//! kernel bytes, a version-checking reader and an atomic writer.
//!
//! Versioning rule: `vMAJOR.MINOR.PATCH`. A change that only adds optional fields bumps MINOR; a
//! change that removes a field or changes a field's meaning bumps MAJOR. Readers accept every
//! receipt of their own MAJOR and refuse any other with [`ReceiptError::UnsupportedVersion`].
//!
//! This crate knows nothing of BPF, processes or policies beyond their recorded results.

mod atomic;
mod digest;
mod enforcement;
mod legacy;
mod model;
mod text;
mod user;

pub use atomic::{HeldDir, TEMP_NAME_LEN};
pub use digest::{OutputHash, OutputHasher};
pub use enforcement::{EnforcedRule, Enforcement, Matches};
pub use model::*;
pub use text::OsText;
pub use user::CommandUser;

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The schema version this crate writes.
pub const SCHEMA_VERSION: &str = "v0.4.0";

/// The major version this crate reads.
pub const SUPPORTED_MAJOR: u64 = 0;

/// Errors reading, writing or checking receipts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The receipt's `version` has a major version this reader does not understand.
    #[error("receipt version {found} is not supported: this glasshouse reads v{supported}.x receipts; use a glasshouse release that supports {found}")]
    UnsupportedVersion {
        /// The version string found in the receipt.
        found: String,
        /// The major version this reader supports.
        supported: u64,
    },
    /// The `version` field is missing or not of the form `vMAJOR.MINOR.PATCH`.
    #[error(
        "receipt has no valid \"version\" field (expected \"vMAJOR.MINOR.PATCH\", found {found:?})"
    )]
    MissingVersion {
        /// What was found instead, if anything.
        found: Option<String>,
    },
    /// The document is not a receipt (not JSON, or fields of the wrong type).
    #[error("not a valid receipt: {0}")]
    Malformed(#[from] serde_json::Error),
    /// A file could not be read or written.
    #[error("{action} {path}: {cause}")]
    Io {
        /// What glasshouse was doing.
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error (part of the message, so not repeated as a source).
        cause: std::io::Error,
    },
}

impl Receipt {
    /// An empty receipt of the current version with the given identity; every list is empty and
    /// every count zero until the caller fills them.
    pub fn new(execution_id: String, provenance: Provenance, timestamp: String) -> Self {
        Self {
            version: SCHEMA_VERSION.to_owned(),
            execution_id,
            provenance,
            timestamp,
            outcome: Outcome::default(),
            timing: Timing::default(),
            process_tree: Vec::new(),
            filesystem: Filesystem::default(),
            network: Network::default(),
            syscalls: Syscalls::default(),
            resources: Resources::default(),
            environment: Environment::default(),
            execution: Execution::default(),
            artifacts: Artifacts::default(),
            exit_code: 0,
            duration_ms: 0,
            processes: Vec::new(),
            sensor: None,
            policy: None,
            redaction: None,
            enforcement: None,
        }
    }

    /// Parses a receipt from JSON, checking its version first so that an unknown major version
    /// is reported as such rather than as a type error.
    pub fn from_json(json: &str) -> Result<Self, ReceiptError> {
        let probe: VersionProbe = serde_json::from_str(json)?;
        check_version(probe.version())?;
        Ok(serde_json::from_str(json)?)
    }

    /// Reads and parses a receipt file.
    ///
    /// The file is read twice, streaming, and never held whole in memory: once for the version
    /// (skipping everything else), once into the receipt. A receipt of hundreds of megabytes
    /// therefore needs about the memory of its parsed form, not that plus its text.
    pub fn read(path: &Path) -> Result<Self, ReceiptError> {
        let file = std::fs::File::open(path).map_err(|cause| ReceiptError::Io {
            action: "cannot read receipt",
            path: path.to_owned(),
            cause,
        })?;
        Self::read_open(&file, path)
    }

    /// [`Receipt::read`] of a file already open (by a caller that opened it with another
    /// user's rights); `path` names it in errors. The file must be seekable.
    pub fn read_open(file: &std::fs::File, path: &Path) -> Result<Self, ReceiptError> {
        use std::io::Seek as _;
        let io = |cause| ReceiptError::Io {
            action: "cannot read receipt",
            path: path.to_owned(),
            cause,
        };
        let read_error = |e: serde_json::Error| match e.io_error_kind() {
            Some(kind) => io(std::io::Error::new(kind, e)),
            None => ReceiptError::Malformed(e),
        };
        let from_start = || -> Result<_, ReceiptError> {
            let mut f = file;
            f.rewind().map_err(io)?;
            Ok(std::io::BufReader::with_capacity(1 << 16, f))
        };
        let probe: VersionProbe = serde_json::from_reader(from_start()?).map_err(read_error)?;
        check_version(probe.version())?;
        serde_json::from_reader(from_start()?).map_err(read_error)
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> Result<String, ReceiptError> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }

    /// Writes the receipt atomically: a temporary file in the same directory, mode 0600, synced,
    /// then renamed over `path`. On any error nothing is left at `path` that was not there before.
    pub fn write_atomic(&self, path: &Path) -> Result<(), ReceiptError> {
        self.write_atomic_owned(path, None)
    }

    /// [`Receipt::write_atomic`], the file given to `owner` (uid, gid) before it takes its
    /// name, so that it never exists under that name with another owner.
    pub fn write_atomic_owned(
        &self,
        path: &Path,
        owner: Option<(u32, u32)>,
    ) -> Result<(), ReceiptError> {
        // Serialized straight into the file: a receipt of millions of entries is not also held
        // as one string in memory.
        write_atomic_with(path, owner, |out| {
            serde_json::to_writer_pretty(&mut *out, self).map_err(std::io::Error::from)?;
            out.write_all(b"\n")
        })
    }

    /// [`Receipt::write_atomic_owned`] to `name` in a directory opened earlier (see
    /// [`write_atomic_in`]).
    pub fn write_atomic_in(
        &self,
        dir: &HeldDir,
        name: &std::ffi::OsStr,
        shown: &Path,
        owner: Option<(u32, u32)>,
    ) -> Result<(), ReceiptError> {
        atomic::write_in(dir, name, shown, owner, |out| {
            serde_json::to_writer_pretty(&mut *out, self).map_err(std::io::Error::from)?;
            out.write_all(b"\n")
        })
    }
}

/// The `version` field of a document and nothing else: every other field is skipped without
/// being kept, so probing a large receipt costs one pass and no memory.
#[derive(serde::Deserialize)]
struct VersionProbe {
    #[serde(default)]
    version: Option<serde_json::Value>,
}

impl VersionProbe {
    fn version(&self) -> Option<&str> {
        self.version.as_ref().and_then(|v| v.as_str())
    }
}

/// Checks a `version` string against [`SUPPORTED_MAJOR`].
pub fn check_version(version: Option<&str>) -> Result<(), ReceiptError> {
    let missing = || ReceiptError::MissingVersion {
        found: version.map(str::to_owned),
    };
    let v = version.ok_or_else(missing)?;
    let parts: Vec<&str> = v
        .strip_prefix('v')
        .ok_or_else(missing)?
        .split('.')
        .collect();
    if parts.len() != 3 || parts.iter().any(|p| p.parse::<u64>().is_err()) {
        return Err(missing());
    }
    if parts[0].parse::<u64>().ok() != Some(SUPPORTED_MAJOR) {
        return Err(ReceiptError::UnsupportedVersion {
            found: v.to_owned(),
            supported: SUPPORTED_MAJOR,
        });
    }
    Ok(())
}

/// The directory a file at `path` lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Checks, without leaving anything behind, that [`write_atomic`] to `path` can succeed: the
/// directory exists and is writable and `path` is not a directory.
pub fn check_writable(path: &Path) -> Result<(), ReceiptError> {
    let io = |cause| ReceiptError::Io {
        action: "cannot write receipt to",
        path: path.to_owned(),
        cause,
    };
    if path.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        )));
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("directory {} does not exist", dir.display()),
        )));
    }
    tempfile::Builder::new()
        .prefix(".glasshouse-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| {
            io(std::io::Error::new(
                e.kind(),
                format!("directory {} is not writable", dir.display()),
            ))
        })
}

/// Writes bytes atomically (temp file in the same directory, mode 0600, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReceiptError> {
    write_atomic_owned(path, bytes, None)
}

/// [`write_atomic`], the file given to `owner` (uid, gid) before it takes its name.
pub fn write_atomic_owned(
    path: &Path,
    bytes: &[u8],
    owner: Option<(u32, u32)>,
) -> Result<(), ReceiptError> {
    write_atomic_with(path, owner, |out| out.write_all(bytes))
}

/// Writes whatever `fill` writes to `path`, atomically: its directory opened
/// now, the file given to `owner` if one is named before it takes its name.
fn write_atomic_with(
    path: &Path,
    owner: Option<(u32, u32)>,
    fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<(), ReceiptError> {
    let (dir, name) = HeldDir::of_file(path)?;
    atomic::write_in(&dir, &name, path, owner, fill)
}

/// [`write_atomic_owned`] to `name` in a directory opened earlier: it lands there even when
/// the directory's path names another directory by now. `shown` names the file in errors.
pub fn write_atomic_in(
    dir: &HeldDir,
    name: &std::ffi::OsStr,
    shown: &Path,
    bytes: &[u8],
    owner: Option<(u32, u32)>,
) -> Result<(), ReceiptError> {
    atomic::write_in(dir, name, shown, owner, |out| out.write_all(bytes))
}

/// The JSON Schema of the current receipt version, pretty-printed with a trailing newline.
pub fn schema_json() -> String {
    let mut schema = schemars::schema_for!(Receipt);
    schema.insert(
        "$id".to_owned(),
        serde_json::Value::String(format!(
            "https://glasshouse.invalid/schema/receipt.{SCHEMA_VERSION}.json"
        )),
    );
    schema.insert(
        "title".to_owned(),
        serde_json::Value::String(format!("glasshouse receipt {SCHEMA_VERSION}")),
    );
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

/// The committed schema file's name for the current version, relative to the repository root.
pub fn schema_file_name() -> String {
    format!("schema/receipt.{SCHEMA_VERSION}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Receipt {
        let mut r = Receipt::new(
            "0190a0b0-0000-7000-8000-000000000000".into(),
            Provenance::Host,
            "2026-01-01T00:00:00Z".into(),
        );
        r.outcome.exit_code = Some(0);
        r.filesystem
            .reads
            .push(OsText::from_bytes(vec![b'/', 0xff]));
        r
    }

    #[test]
    fn round_trip() {
        let r = sample();
        let back = Receipt::from_json(&r.to_json().unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn unknown_major_is_refused() {
        let json = r#"{"version":"v1.0.0"}"#;
        match Receipt::from_json(json) {
            Err(ReceiptError::UnsupportedVersion { found, supported }) => {
                assert_eq!(found, "v1.0.0");
                assert_eq!(supported, 0);
            }
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
    }

    #[test]
    fn garbled_version_is_refused() {
        for v in [r#"{}"#, r#"{"version":"0.3.0"}"#, r#"{"version":"v0.x.0"}"#] {
            assert!(matches!(
                Receipt::from_json(v),
                Err(ReceiptError::MissingVersion { .. })
            ));
        }
    }

    #[test]
    fn v0_3_0_receipt_reads_without_new_fields() {
        let mut value: serde_json::Value =
            serde_json::from_str(&sample().to_json().unwrap()).unwrap();
        value["version"] = "v0.3.0".into();
        value.as_object_mut().unwrap().remove("sensor");
        let r = Receipt::from_json(&value.to_string()).unwrap();
        assert_eq!(r.version, "v0.3.0");
        assert!(r.sensor.is_none());
    }

    #[test]
    fn reading_a_file_checks_the_version_first_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        sample().write_atomic(&path).unwrap();
        assert_eq!(Receipt::read(&path).unwrap(), sample());
        // A newer major version with fields of other types: reported as the version.
        std::fs::write(&path, r#"{"outcome": 5, "version": "v1.0.0"}"#).unwrap();
        assert!(matches!(
            Receipt::read(&path),
            Err(ReceiptError::UnsupportedVersion { .. })
        ));
        std::fs::write(&path, r#"{"version": "v0.4.0", "outcome": 5"#).unwrap();
        assert!(matches!(
            Receipt::read(&path),
            Err(ReceiptError::Malformed(_))
        ));
        assert!(matches!(
            Receipt::read(&dir.path().join("missing.json")),
            Err(ReceiptError::Io { .. })
        ));
    }

    #[test]
    fn atomic_write_is_0600_and_leaves_no_temp() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("receipt.json");
        sample().write_atomic(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("receipt.json")]);
    }

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("receipt.json");
        assert!(sample().write_atomic(&path).is_err());
        assert!(!path.exists());
        assert!(check_writable(&path).is_err());
        assert!(
            check_writable(dir.path()).is_err(),
            "a directory is not a receipt path"
        );
        assert!(check_writable(&dir.path().join("r.json")).is_ok());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

//! Redaction of secrets before a receipt (or an event) leaves memory.
//!
//! A [`Redactor`] holds the [`Rules`] and the [`RedactionKey`]. Each secret it finds becomes
//! `[REDACTED:<rule>:<first 12 hex digits of HMAC-SHA-256(key, secret)>]`, so two receipts made
//! with the same key show that they saw the same secret without showing it. It redacts one text
//! ([`Redactor::redact_text`]), one argument vector ([`Redactor::redact_argv`]), any JSON value
//! such as a live event ([`Redactor::redact_json`]) or a whole [`Receipt`]
//! ([`Redactor::redact_receipt`], which also records what it did in `receipt.redaction`).
//! With a home directory set ([`Redactor::with_home`]) paths under it are shown as `~`.

mod key;
mod rules;
mod scan;
mod walk;

pub use key::{RedactionKey, KEY_LEN};
pub use rules::Rules;
pub use walk::Tally;

use glasshouse_receipt::{Receipt, RedactionReport};
use std::path::PathBuf;

/// Errors loading rules or keys, or redacting a receipt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedactError {
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
    /// The rules file is not valid TOML of the expected form, or a pattern does not compile.
    #[error("redaction rules{}: {message}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Rules {
        /// The rules file, when the rules came from one.
        path: Option<PathBuf>,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The key file is unusable (wrong length, readable by others).
    #[error("redaction key {path}: {message}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The receipt did not survive the round trip through JSON (a bug, not bad input).
    #[error("cannot redact the receipt: {0}")]
    Receipt(#[from] serde_json::Error),
}

/// One redacted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The text with secrets replaced by markers (and the home directory by `~` if asked).
    pub bytes: Vec<u8>,
    /// How many secrets were replaced.
    pub secrets: u64,
    /// How many home directory paths were shown as `~`.
    pub home_paths: u64,
}

impl Redacted {
    /// Whether anything was replaced.
    pub fn changed(&self) -> bool {
        self.secrets > 0 || self.home_paths > 0
    }
}

/// Receipt fields that are never redacted: identifiers and digests glasshouse made itself.
const KEEP: &[&str] = &[
    "version",
    "execution_id",
    "timestamp",
    "provenance",
    "artifacts.stdout_hash",
    "artifacts.stderr_hash",
    "policy.digest",
    "redaction",
];

/// Finds secrets and replaces them with keyed markers.
#[derive(Debug)]
pub struct Redactor {
    rules: Rules,
    key: RedactionKey,
    home: Option<Vec<u8>>,
}

impl Redactor {
    /// A redactor with these rules and this key.
    pub fn new(rules: Rules, key: RedactionKey) -> Self {
        Self {
            rules,
            key,
            home: None,
        }
    }

    /// Also shows paths under `home` as `~` (`--redact-home`). `/` and empty homes are ignored.
    pub fn with_home(mut self, home: Option<&[u8]>) -> Self {
        self.home = home
            .map(|h| h.strip_suffix(b"/").unwrap_or(h).to_vec())
            .filter(|h| !h.is_empty());
        self
    }

    /// The rules in force.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The marker standing for `secret` found by `rule`.
    pub fn marker(&self, rule: &str, secret: &[u8]) -> String {
        let mac = self.key.mac(secret);
        format!("[REDACTED:{rule}:{}]", &hex::encode(mac)[..12])
    }

    fn apply(&self, text: &[u8], spans: &[scan::Span]) -> Redacted {
        let mut out = Vec::with_capacity(text.len());
        let mut pos = 0;
        for s in spans {
            out.extend_from_slice(&text[pos..s.start]);
            out.extend_from_slice(self.marker(&s.rule, &text[s.start..s.end]).as_bytes());
            pos = s.end;
        }
        out.extend_from_slice(&text[pos..]);
        let (bytes, home_paths) = match &self.home {
            Some(home) => tilde(&out, home),
            None => (out, 0),
        };
        Redacted {
            bytes,
            secrets: spans.len() as u64,
            home_paths,
        }
    }

    /// Redacts one text: a path, a script body, a line of an event.
    pub fn redact_text(&self, text: &[u8]) -> Redacted {
        self.apply(text, &scan::text_spans(&self.rules, text))
    }

    /// [`Self::redact_text`], or `None` without copying when nothing would change (the common
    /// case the receipt walk takes for every string).
    pub(crate) fn redact_changed(&self, text: &[u8]) -> Option<Redacted> {
        let spans = scan::text_spans(&self.rules, text);
        let home_near = self
            .home
            .as_ref()
            .is_some_and(|h| text.windows(h.len()).any(|w| w == h.as_slice()));
        if spans.is_empty() && !home_near {
            return None;
        }
        Some(self.apply(text, &spans)).filter(Redacted::changed)
    }

    /// Redacts an argument vector, reading a flag and its value in two elements together.
    pub fn redact_argv(&self, argv: &[&[u8]]) -> Vec<Redacted> {
        scan::argv_spans(&self.rules, argv)
            .iter()
            .zip(argv)
            .map(|(spans, a)| self.apply(a, spans))
            .collect()
    }

    /// Redacts every string of a JSON value (an event, a document): nothing is skipped.
    pub fn redact_json(&self, value: &mut serde_json::Value) -> Tally {
        let mut tally = Tally::default();
        walk::walk(self, value, "", &|_| false, &mut tally);
        tally
    }

    /// Redacts every string of a receipt except glasshouse's own identifiers and digests, and
    /// records the rules' digest, the key's id and the counts in `receipt.redaction`.
    pub fn redact_receipt(&self, receipt: &mut Receipt) -> Result<(), RedactError> {
        let mut value = serde_json::to_value(&*receipt)?;
        let mut tally = Tally::default();
        walk::walk(
            self,
            &mut value,
            "",
            &|path| KEEP.contains(&path),
            &mut tally,
        );
        let mut redacted: Receipt = serde_json::from_value(value)?;
        // Markers and `~` change the order of sorted lists; keep the writer's promise.
        let fs = &mut redacted.filesystem;
        for list in [&mut fs.reads, &mut fs.writes, &mut fs.deletes] {
            list.sort();
            list.dedup();
        }
        fs.failed.sort();
        redacted.syscalls.denied.sort();
        redacted.network.attempts.sort();
        let mut report = RedactionReport::new(self.rules.digest().to_owned(), self.key.id());
        report.values_redacted = tally.secrets;
        report.fields = tally.fields;
        report.home_as_tilde = self.home.is_some();
        report.home_paths = tally.home_paths;
        redacted.redaction = Some(report);
        *receipt = redacted;
        Ok(())
    }
}

/// Whether `b` can be part of a path component (so a home directory followed or preceded by it
/// is not a path under the home: `/home/ann` in `/home/anna`).
fn path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b'~')
}

/// `text` with each path at or under `home` shown as `~`, and how many were.
fn tilde(text: &[u8], home: &[u8]) -> (Vec<u8>, u64) {
    let mut out = Vec::with_capacity(text.len());
    let mut count = 0;
    let mut pos = 0;
    let mut i = 0;
    while i + home.len() <= text.len() {
        let starts = i == 0 || !path_byte(text[i - 1]);
        let after = text.get(i + home.len()).copied();
        let ends = after.is_none_or(|b| b == b'/' || !path_byte(b));
        if starts && ends && &text[i..i + home.len()] == home {
            out.extend_from_slice(&text[pos..i]);
            out.push(b'~');
            i += home.len();
            pos = i;
            count += 1;
        } else {
            i += 1;
        }
    }
    out.extend_from_slice(&text[pos..]);
    (out, count)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod walk_tests;

//! The redaction rules: built-in secret shapes, secret-looking names and flags, and the TOML file
//! that adds patterns and allows names.
//!
//! The shapes follow what the common secret scanners look for (AWS key ids, GitHub, OpenAI,
//! Anthropic, Slack, Stripe, GitLab and Google tokens, JWTs, PEM private keys, credentials in
//! URLs and HTTP headers), written as byte regexes so that paths that are not UTF-8 are scanned
//! too. A capture group named `s` marks the secret part; without one the whole match is secret.

use crate::RedactError;
use regex::bytes::{Regex, RegexSet};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::path::Path;

/// Left boundary: the start of the text or a byte that cannot continue a token.
const L: &str = r"(?:^|[^A-Za-z0-9])";
/// Right boundary for tokens whose alphabet excludes `_` and `-`.
const R: &str = r"(?:[^A-Za-z0-9]|$)";

/// Built-in shapes, in priority order (an earlier rule names a span that two rules find).
fn builtin_shapes() -> Vec<(&'static str, String)> {
    vec![
        (
            "private_key",
            r"(?s)-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\z)"
                .to_owned(),
        ),
        (
            "aws_access_key_id",
            format!(r"{L}(?P<s>(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{{16}}){R}"),
        ),
        (
            "aws_secret_access_key",
            r#"(?i)aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?(?P<s>[A-Za-z0-9+/]{40})"#
                .to_owned(),
        ),
        (
            "github_token",
            format!(r"{L}(?P<s>gh[pousr]_[A-Za-z0-9]{{36,255}}){R}"),
        ),
        (
            "github_pat",
            format!(r"{L}(?P<s>github_pat_[A-Za-z0-9_]{{22,255}})"),
        ),
        ("gitlab_token", format!(r"{L}(?P<s>glpat-[A-Za-z0-9_-]{{20,}})")),
        (
            "anthropic_key",
            format!(r"{L}(?P<s>sk-ant-[A-Za-z0-9_-]{{20,}})"),
        ),
        (
            "openai_key",
            format!(r"{L}(?P<s>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{{20,}})"),
        ),
        (
            "stripe_key",
            format!(r"{L}(?P<s>[rs]k_(?:live|test)_[A-Za-z0-9]{{20,}})"),
        ),
        (
            "slack_token",
            format!(r"{L}(?P<s>xox[abeoprs]-[A-Za-z0-9-]{{10,}})"),
        ),
        (
            "slack_webhook",
            r"hooks\.slack\.com/services/(?P<s>[A-Za-z0-9_/+-]{20,})".to_owned(),
        ),
        ("google_api_key", format!(r"{L}(?P<s>AIza[0-9A-Za-z_-]{{35}})")),
        (
            "jwt",
            format!(r"{L}(?P<s>eyJ[A-Za-z0-9_-]{{8,}}\.eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]*)"),
        ),
        (
            "url_password",
            r#"(?i)[a-z][a-z0-9+.-]*://[^\s/@:'"]*:(?P<s>[^\s/@'"]+)@"#.to_owned(),
        ),
        (
            "auth_header",
            r#"(?i)(?:^|[^A-Za-z0-9-])(?:proxy-)?authorization\s*:\s*(?:(?:bearer|basic|token|digest|negotiate|ntlm|aws4-hmac-sha256)\s+)?(?P<s>[^\s'"]+)"#
                .to_owned(),
        ),
        (
            "cookie_header",
            r#"(?i)(?:^|[^A-Za-z0-9-])(?:set-)?cookie\s*:\s*(?P<s>[^'"\r\n]*[^\s'"])"#.to_owned(),
        ),
        (
            "api_key_header",
            r#"(?i)(?:^|[^A-Za-z0-9-])(?:x-api-key|api-key|x-auth-token|private-token|x-access-token)\s*:\s*(?P<s>[^\s'"]+)"#
                .to_owned(),
        ),
    ]
}

/// `NAME=VALUE` with the value unquoted, single- or double-quoted; the name is judged in code.
pub(crate) const ASSIGNMENT: &str =
    r#"(?:^|[^A-Za-z0-9_])(?P<n>[A-Za-z_][A-Za-z0-9_]*)=(?P<s>'[^']*'|"[^"]*"|[^\s'";&|)]+)"#;

/// `--flag VALUE` or `--flag=VALUE` (also Go-style `-flag`) inside a text such as a script.
pub(crate) const TEXT_FLAG: &str = r#"(?:^|[\s'"(;&|])(?P<n>--?[A-Za-z][A-Za-z0-9_-]*)(?:=|[ \t]+)(?P<s>'[^']*'|"[^"]*"|[^\s'";&|)-][^\s'";&|)]*)"#;

/// A 40-character base64 token: an AWS secret access key when an access key id is near.
pub(crate) const AWS_SECRET_NEAR: &str =
    r"(?:^|[^A-Za-z0-9+/])(?P<s>[A-Za-z0-9+/]{40})(?:[^A-Za-z0-9+/=]|$)";

/// Names (of variables, parts of flags) that mark the value as secret.
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "APIKEY",
    "API_KEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "BEARER",
];

/// Name endings whose value names a secret (a file, a variable) rather than being one.
const REFERENCE_SUFFIXES: &[&str] = &[
    "_FILE", "_PATH", "_DIR", "_STDIN", "_ENV", "_PROMPT", "_ID", "_NAME", "_ARN", "_CMD",
    "_COMMAND", "_TYPE", "_LENGTH", "_SIZE", "_COUNT", "_TTL", "_URL", "_HEADER",
];

/// Names that look secret but are not (their values are settings).
const DEFAULT_ALLOWED_NAMES: &[&str] = &["TOKENIZERS_PARALLELISM"];

/// The TOML rules file (`--redaction-rules`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesFile {
    /// Extra patterns, each with a name used in markers.
    #[serde(default)]
    pattern: Vec<PatternEntry>,
    /// Variable and flag names never treated as secret.
    #[serde(default)]
    allow_names: Vec<String>,
    /// Variable and flag names always treated as secret.
    #[serde(default)]
    secret_names: Vec<String>,
    /// Exact values never redacted.
    #[serde(default)]
    allow_values: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternEntry {
    name: String,
    regex: String,
}

/// One compiled pattern rule.
#[derive(Debug)]
pub(crate) struct PatternRule {
    pub(crate) name: String,
    pub(crate) regex: Regex,
}

/// The compiled rules.
#[derive(Debug)]
pub struct Rules {
    pub(crate) patterns: Vec<PatternRule>,
    /// Pre-filter: which of `patterns` can match a text at all, in one pass.
    pub(crate) prefilter: RegexSet,
    pub(crate) assignment: Regex,
    pub(crate) text_flag: Regex,
    pub(crate) aws_secret_near: Regex,
    allowed_names: Vec<String>,
    secret_names: Vec<String>,
    pub(crate) allowed_values: Vec<Vec<u8>>,
    digest: String,
}

/// A pattern without its boundary groups: it matches wherever the pattern does (and more).
fn unbounded(pattern: &str) -> String {
    pattern
        .replace(L, "")
        .replace(R, "")
        .replace("(?:^|[^A-Za-z0-9-])", "")
}

/// Upper-cased with `-` as `_`, no leading dashes: how names are compared.
fn normalize(name: &str) -> String {
    name.trim_start_matches('-')
        .to_ascii_uppercase()
        .replace('-', "_")
}

impl Rules {
    /// The built-in rules only.
    pub fn builtin() -> Result<Self, RedactError> {
        Self::build(RulesFile::default())
    }

    /// The built-in rules plus those of a TOML rules file.
    pub fn from_file(path: &Path) -> Result<Self, RedactError> {
        let text = std::fs::read(path).map_err(|cause| RedactError::Io {
            action: "cannot read redaction rules",
            path: path.to_owned(),
            cause,
        })?;
        Self::from_file_bytes(path, &text)
    }

    /// The built-in rules plus those of the rules file at `path`, already read as `bytes` (by a
    /// caller that reads it with another user's rights); errors name `path`.
    pub fn from_file_bytes(path: &Path, bytes: &[u8]) -> Result<Self, RedactError> {
        let text = std::str::from_utf8(bytes).map_err(|e| RedactError::Rules {
            path: Some(path.to_owned()),
            message: format!("not UTF-8 text: {e}"),
        })?;
        Self::from_toml(text).map_err(|e| match e {
            RedactError::Rules { message, .. } => RedactError::Rules {
                path: Some(path.to_owned()),
                message,
            },
            other => other,
        })
    }

    /// The built-in rules plus those of a TOML text.
    pub fn from_toml(text: &str) -> Result<Self, RedactError> {
        let file: RulesFile = toml::from_str(text).map_err(|e| RedactError::Rules {
            path: None,
            message: e.to_string(),
        })?;
        Self::build(file)
    }

    fn build(file: RulesFile) -> Result<Self, RedactError> {
        let mut digest = Sha256::new();
        digest.update(b"glasshouse redaction rules v1\n");
        let compile = |name: &str, pattern: &str| {
            regex::bytes::RegexBuilder::new(pattern)
                .size_limit(1 << 22)
                .build()
                .map_err(|e| RedactError::Rules {
                    path: None,
                    message: format!("pattern {name:?} does not compile: {e}"),
                })
        };
        let mut patterns = Vec::new();
        for (name, pattern) in builtin_shapes() {
            digest.update(format!("builtin\t{name}\t{pattern}\n"));
            patterns.push(PatternRule {
                name: name.to_owned(),
                regex: compile(name, &pattern)?,
            });
        }
        for entry in &file.pattern {
            let valid_name = !entry.name.is_empty()
                && entry
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid_name {
                return Err(RedactError::Rules {
                    path: None,
                    message: format!(
                        "pattern name {:?} must be lowercase letters, digits and _ (it appears in markers)",
                        entry.name
                    ),
                });
            }
            digest.update(format!("pattern\t{}\t{}\n", entry.name, entry.regex));
            patterns.push(PatternRule {
                name: entry.name.clone(),
                regex: compile(&entry.name, &entry.regex)?,
            });
        }
        // The set only says which patterns may match: without their boundary groups the
        // patterns start with literals, which the set then finds with a fast substring search.
        let prefilter = RegexSet::new(patterns.iter().map(|p| unbounded(p.regex.as_str())))
            .map_err(|e| RedactError::Rules {
                path: None,
                message: format!("the patterns do not compile as a set: {e}"),
            })?;
        for (what, fixed) in [
            ("assignment", ASSIGNMENT),
            ("text_flag", TEXT_FLAG),
            ("aws_secret_near", AWS_SECRET_NEAR),
        ] {
            digest.update(format!("context\t{what}\t{fixed}\n"));
        }
        let mut allowed_names: Vec<String> = DEFAULT_ALLOWED_NAMES
            .iter()
            .map(|n| n.to_string())
            .chain(file.allow_names.iter().map(|n| normalize(n)))
            .collect();
        allowed_names.sort();
        allowed_names.dedup();
        let mut secret_names: Vec<String> =
            file.secret_names.iter().map(|n| normalize(n)).collect();
        secret_names.sort();
        secret_names.dedup();
        let mut allowed_values = file.allow_values.clone();
        allowed_values.sort();
        allowed_values.dedup();
        for word in SECRET_WORDS {
            digest.update(format!("word\t{word}\n"));
        }
        for suffix in REFERENCE_SUFFIXES {
            digest.update(format!("reference\t{suffix}\n"));
        }
        for n in &allowed_names {
            digest.update(format!("allow_name\t{n}\n"));
        }
        for n in &secret_names {
            digest.update(format!("secret_name\t{n}\n"));
        }
        for v in &allowed_values {
            digest.update(format!("allow_value\t{v}\n"));
        }
        digest.update(crate::scan::PROGRAM_FLAGS_VERSION);
        Ok(Self {
            patterns,
            prefilter,
            assignment: compile("assignment", ASSIGNMENT)?,
            text_flag: compile("text_flag", TEXT_FLAG)?,
            aws_secret_near: compile("aws_secret_near", AWS_SECRET_NEAR)?,
            allowed_names,
            secret_names,
            allowed_values: allowed_values.into_iter().map(String::into_bytes).collect(),
            digest: format!("sha256:{}", hex::encode(digest.finalize())),
        })
    }

    /// `sha256:<hex>` over every rule in force, so that a receipt says which rules applied.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether a variable name (`API_KEY`) marks its value as secret.
    pub fn is_secret_name(&self, name: &str) -> bool {
        let n = normalize(name);
        if self.allowed_names.contains(&n) {
            return false;
        }
        if self.secret_names.contains(&n) {
            return true;
        }
        if REFERENCE_SUFFIXES.iter().any(|s| n.ends_with(s)) {
            return false;
        }
        n.ends_with("_KEY") || SECRET_WORDS.iter().any(|w| n.contains(w))
    }

    /// Whether a long flag (`--password`, `-token`, `--api-key`) takes a secret value.
    pub fn is_secret_flag(&self, flag: &str) -> bool {
        let n = normalize(flag);
        if n.len() < 2 || n.starts_with("NO_") {
            return false;
        }
        if self.allowed_names.contains(&n) {
            return false;
        }
        if self.secret_names.contains(&n) {
            return true;
        }
        if REFERENCE_SUFFIXES.iter().any(|s| n.ends_with(s)) {
            return false;
        }
        n == "PASS" || n == "PW" || SECRET_WORDS.iter().any(|w| n.contains(w))
    }
}

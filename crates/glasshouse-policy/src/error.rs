//! Errors of reading a policy: each names the file, the line and column, and what is wrong there.

use std::fmt;

/// A policy that cannot be used, and where the problem is.
///
/// Displays as `FILE:LINE:COLUMN: PROBLEM`, the form editors and terminals link to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}:{column}: {problem}")]
#[non_exhaustive]
pub struct PolicyError {
    /// The name the caller gave the policy (usually its file path).
    pub origin: String,
    /// 1-based line of the offending text.
    pub line: usize,
    /// 1-based column of the offending text, counted in characters.
    pub column: usize,
    /// What is wrong.
    pub problem: Problem,
}

impl PolicyError {
    /// An error at byte `offset` of `text`.
    pub(crate) fn at(origin: &str, text: &str, offset: usize, problem: Problem) -> Self {
        let (line, column) = line_and_column(text, offset);
        Self {
            origin: origin.to_owned(),
            line,
            column,
            problem,
        }
    }
}

/// What is wrong with a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The file is not UTF-8 text (TOML must be).
    #[error("the policy is not UTF-8 text")]
    NotUtf8,
    /// The text is not valid TOML.
    #[error("TOML syntax error: {message}")]
    Syntax {
        /// The TOML parser's description.
        message: String,
    },
    /// Valid TOML that does not have the policy's shape: an unknown key, a missing key, or a value
    /// of the wrong type. The message comes from the deserializer and names the key.
    #[error("{message}")]
    Structure {
        /// What the deserializer found wrong.
        message: String,
    },
    /// `version` is not a version this crate reads.
    #[error(
        "policy version {found} is not supported: this glasshouse reads version = {supported}"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: i64,
        /// The version this crate reads.
        supported: i64,
    },
    /// A rule's `action` is not one of the known actions.
    #[error("unknown action {found:?} (expected one of exec, read, write, delete, connect)")]
    UnknownAction {
        /// The action in the file.
        found: String,
    },
    /// A rule's `effect` or the policy's `default` is neither `allow` nor `deny`.
    #[error("unknown {key} {found:?} (expected \"allow\" or \"deny\")")]
    UnknownEffect {
        /// `effect` or `default`.
        key: &'static str,
        /// The value in the file.
        found: String,
    },
    /// A rule's `severity` is not one of the known severities.
    #[error("unknown severity {found:?} (expected one of low, medium, high, critical)")]
    UnknownSeverity {
        /// The value in the file.
        found: String,
    },
    /// A path pattern is not a valid glob.
    #[error("bad glob {pattern:?}: {why}")]
    BadGlob {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        why: String,
    },
    /// A pattern names a `${VARIABLE}` other than `${CWD}` and `${HOME}`.
    #[error(
        "unknown variable ${{{name}}} in {pattern:?} (only ${{CWD}} and ${{HOME}} are expanded)"
    )]
    UnknownVariable {
        /// The variable's name.
        name: String,
        /// The pattern as written.
        pattern: String,
    },
    /// A connect target is not one of the address forms.
    #[error("bad connect target {target:?}: {why}")]
    BadConnectTarget {
        /// The target as written.
        target: String,
        /// What is wrong with it.
        why: String,
    },
    /// A CIDR block in a connect target is malformed.
    #[error("bad CIDR block {target:?}: {why}")]
    BadCidr {
        /// The target as written.
        target: String,
        /// What is wrong with it.
        why: String,
    },
    /// A deny rule has no `reason`; violations must say why they are violations.
    #[error(
        "a deny rule needs a non-empty `reason`: it is shown with every violation of the rule"
    )]
    MissingReason,
    /// A rule's `name` is empty, reserved or uses characters other than letters, digits, `-`, `_`, `.`.
    #[error("bad rule name {name:?}: {why}")]
    BadRuleName {
        /// The name as written.
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// Two rules have the same `name`, so violations could not tell them apart.
    #[error("duplicate rule name {name:?} (first used on line {first_line})")]
    DuplicateRuleName {
        /// The repeated name.
        name: String,
        /// The line of the first rule with that name.
        first_line: usize,
    },
}

/// Turns a byte offset into a 1-based line and a 1-based column counted in characters.
pub(crate) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The byte offsets where the lines of a text start, for many line lookups in one text: each
/// lookup is a binary search, where counting newlines before the offset would make a policy's
/// parse time grow with the square of its number of rules.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { starts }
    }

    /// The 1-based line holding byte `offset` (the last line for an offset past the end).
    pub(crate) fn line(&self, offset: usize) -> usize {
        // `starts[0]` is 0, so at least one start is <= offset.
        self.starts.partition_point(|&start| start <= offset)
    }
}

/// A message on one line: diagnostics from the TOML parser may span several.
pub(crate) fn one_line(message: &str) -> String {
    let parts: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    parts.join("; ")
}

/// Formats `text` for a one-line report: control characters are escaped so that a path holding a
/// newline or a tab cannot break the line.
pub(crate) struct EscapeControls<'a>(pub(crate) &'a str);

impl fmt::Display for EscapeControls<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based_and_count_characters() {
        let text = "ab\nçd\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 1), (1, 2));
        assert_eq!(line_and_column(text, 3), (2, 1));
        // 'd' is after the two-byte 'ç': byte 5, character column 2.
        assert_eq!(line_and_column(text, 5), (2, 2));
        assert_eq!(
            line_and_column(text, 4),
            (2, 1),
            "inside a character rounds down"
        );
        assert_eq!(line_and_column(text, 99), (3, 1));
        let index = LineIndex::new(text);
        for offset in 0..=text.len() + 1 {
            assert_eq!(
                index.line(offset),
                line_and_column(text, offset).0,
                "{offset}"
            );
        }
    }

    #[test]
    fn controls_are_escaped() {
        assert_eq!(EscapeControls("a\tb\nc").to_string(), "a\\tb\\nc");
        assert_eq!(one_line("x\n  y\n\n"), "x; y");
    }
}

//! The policy file: its TOML shape, and compiling it into rules that are ready to match.

use crate::context::Variable;
use crate::error::{one_line, LineIndex, PolicyError, Problem};
use crate::glob::{Anchor, PathPattern};
use crate::net::ConnectPattern;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use toml::Spanned;

/// The policy format version this crate reads.
pub const SUPPORTED_VERSION: i64 = 1;

/// What a rule is about: the kind of thing a receipt records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A program image run: `process_tree[].exe` and `process_tree[].execs[].exe`.
    Exec,
    /// A file opened for reading: `filesystem.reads`.
    Read,
    /// A file written, created or truncated: `filesystem.writes`.
    Write,
    /// A file removed or renamed away: `filesystem.deletes`.
    Delete,
    /// An outbound network attempt: `network.attempts[].dst`.
    Connect,
}

impl Action {
    /// Every action, in their canonical order.
    pub const ALL: [Action; 5] = [
        Action::Exec,
        Action::Read,
        Action::Write,
        Action::Delete,
        Action::Connect,
    ];

    /// The name used in policies and violations.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exec => "exec",
            Self::Read => "read",
            Self::Write => "write",
            Self::Delete => "delete",
            Self::Connect => "connect",
        }
    }

    /// Whether the action is about files (and so belongs in `filesystem.policy_violations`).
    pub fn is_file_action(self) -> bool {
        matches!(self, Self::Read | Self::Write | Self::Delete)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action name that is not one of [`Action::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action {0:?} (expected one of exec, read, write, delete, connect)")]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

/// What a rule, or the policy's default, does with what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// The action is allowed (unless a deny rule also matches).
    Allow,
    /// The action is a violation.
    Deny,
}

impl Effect {
    /// The name used in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }

    fn parse(key: &'static str, value: &str) -> Result<Self, Problem> {
        match value {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            _ => Err(Problem::UnknownEffect {
                key,
                found: value.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a rule's author considers a violation. Informational: shown by `explain`, never
/// part of the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Should not happen in a normal run.
    Medium,
    /// Likely harmful.
    High,
    /// Harmful: secrets or the system at stake.
    Critical,
}

impl Severity {
    /// The name used in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    fn parse(value: &str) -> Result<Self, Problem> {
        match value {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            _ => Err(Problem::UnknownSeverity {
                found: value.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The compiled form of a rule's `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Matcher {
    Path(PathPattern),
    Connect(ConnectPattern),
}

/// One compiled `[[rule]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    number: usize,
    name: Option<String>,
    effect: Effect,
    action: Action,
    target: String,
    pub(crate) matcher: Matcher,
    reason: String,
    severity: Option<Severity>,
    line: usize,
}

impl Rule {
    /// How violations name the rule: its `name`, or `rule[N]` by 1-based position.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("rule[{}]", self.number),
        }
    }

    /// 1-based position in the file.
    pub fn number(&self) -> usize {
        self.number
    }

    /// The `name`, if the rule has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Allow or deny.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The action it is about.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The `target` as written.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The `reason` (empty for an allow rule without one).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The `severity`, if given.
    pub fn severity(&self) -> Option<Severity> {
        self.severity
    }

    /// The line of the rule's `[[rule]]` header.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The variables the target names.
    pub fn variables(&self) -> Vec<Variable> {
        match &self.matcher {
            Matcher::Path(pattern) => pattern.variables().collect(),
            Matcher::Connect(pattern) => pattern.variables(),
        }
    }
}

/// A compiled policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    digest: String,
    default: Effect,
    description: Option<String>,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: Spanned<i64>,
    default: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RuleFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    name: Option<Spanned<String>>,
    effect: Spanned<String>,
    action: Spanned<String>,
    target: Spanned<String>,
    #[serde(default)]
    reason: Option<Spanned<String>>,
    #[serde(default)]
    severity: Option<Spanned<String>>,
}

/// Reads only `version`, ignoring every other key, so that a file of a newer format is reported
/// as such rather than as a list of keys this version does not know.
#[derive(Deserialize)]
struct VersionProbe {
    #[serde(default)]
    version: Option<Spanned<i64>>,
}

impl Policy {
    /// Parses and compiles a policy file's bytes. `origin` names the file in error messages.
    ///
    /// Nothing is read from the file system or the environment: the same bytes give the same
    /// policy, or the same error, everywhere.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, PolicyError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let valid = String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
            PolicyError::at(origin, &valid, valid.len(), Problem::NotUtf8)
        })?;
        let error_at =
            |offset: usize, problem: Problem| PolicyError::at(origin, text, offset, problem);

        let document = toml::de::Deserializer::parse(text).map_err(|e| {
            let problem = Problem::Syntax {
                message: one_line(e.message()),
            };
            error_at(e.span().map_or(0, |s| s.start), problem)
        })?;
        let file = PolicyFile::deserialize(document).map_err(|e| {
            // A file of another format version is reported as such, not as keys this version
            // does not know. Probed only here: a second parse of every policy would cost as
            // much as the first.
            if let Ok(VersionProbe {
                version: Some(version),
            }) = toml::from_str::<VersionProbe>(text)
            {
                if let Err(p) = check_version(&version) {
                    return error_at(version.span().start, p);
                }
            }
            let offset = e.span().map_or(0, |s| s.start);
            let mut message = one_line(e.message());
            // The likeliest cause of a table where a list belongs.
            if text.get(offset..).is_some_and(|t| t.starts_with("[rule]")) {
                message.push_str(" (rules are written `[[rule]]`, with double brackets)");
            }
            error_at(offset, Problem::Structure { message })
        })?;
        check_version(&file.version).map_err(|p| error_at(file.version.span().start, p))?;

        let default = Effect::parse("default", file.default.get_ref())
            .map_err(|p| error_at(file.default.span().start, p))?;
        let mut rules = Vec::with_capacity(file.rules.len());
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let lines = LineIndex::new(text);
        for (index, spanned) in file.rules.into_iter().enumerate() {
            let header = spanned.span().start;
            let line = lines.line(header);
            let rule = compile_rule(index + 1, line, spanned.into_inner())
                .map_err(|(offset, problem)| error_at(offset.unwrap_or(header), problem))?;
            if let Some(name) = &rule.name {
                if let Some(&first_line) = names.get(name) {
                    let problem = Problem::DuplicateRuleName {
                        name: name.clone(),
                        first_line,
                    };
                    return Err(error_at(header, problem));
                }
                names.insert(name.clone(), line);
            }
            rules.push(rule);
        }
        Ok(Self {
            digest: sha256_hex(bytes),
            default,
            description: file.description,
            rules,
        })
    }

    /// Lowercase hex SHA-256 of the policy file's bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// What happens to an action no rule matches.
    pub fn default_effect(&self) -> Effect {
        self.default
    }

    /// The policy's `description`, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

fn check_version(version: &Spanned<i64>) -> Result<(), Problem> {
    if *version.get_ref() == SUPPORTED_VERSION {
        Ok(())
    } else {
        Err(Problem::UnsupportedVersion {
            found: *version.get_ref(),
            supported: SUPPORTED_VERSION,
        })
    }
}

/// Compiles one rule; an error carries the offset of the offending value (`None`: the header).
fn compile_rule(
    number: usize,
    line: usize,
    file: RuleFile,
) -> Result<Rule, (Option<usize>, Problem)> {
    let at = |spanned_start: usize| move |p: Problem| (Some(spanned_start), p);
    let effect =
        Effect::parse("effect", file.effect.get_ref()).map_err(at(file.effect.span().start))?;
    let action: Action = file
        .action
        .get_ref()
        .parse()
        .map_err(|UnknownAction(found)| {
            (
                Some(file.action.span().start),
                Problem::UnknownAction { found },
            )
        })?;
    let target = file.target.get_ref();
    let matcher = match action {
        Action::Connect => ConnectPattern::parse(target).map(Matcher::Connect),
        _ => PathPattern::parse(target, Anchor::File).map(Matcher::Path),
    }
    .map_err(at(file.target.span().start))?;
    let name = match file.name {
        Some(name) => {
            check_name(name.get_ref()).map_err(at(name.span().start))?;
            Some(name.into_inner())
        }
        None => None,
    };
    let reason = match (effect, file.reason) {
        (Effect::Deny, None) => return Err((None, Problem::MissingReason)),
        (Effect::Deny, Some(reason)) if reason.get_ref().trim().is_empty() => {
            return Err((Some(reason.span().start), Problem::MissingReason))
        }
        (_, reason) => reason.map(|r| r.into_inner()).unwrap_or_default(),
    };
    let severity = match file.severity {
        Some(severity) => {
            Some(Severity::parse(severity.get_ref()).map_err(at(severity.span().start))?)
        }
        None => None,
    };
    Ok(Rule {
        number,
        name,
        effect,
        action,
        target: target.clone(),
        matcher,
        reason,
        severity,
        line,
    })
}

/// Names appear in one-line reports and must not pass for `default` or `rule[N]`.
fn check_name(name: &str) -> Result<(), Problem> {
    let bad = |why: &str| Problem::BadRuleName {
        name: name.to_owned(),
        why: why.to_owned(),
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name == "default" {
        return Err(bad("`default` names the policy's default in violations"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(bad("use only ASCII letters, digits, `-`, `_` and `.`"));
    }
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

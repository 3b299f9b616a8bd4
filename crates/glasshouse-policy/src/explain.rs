//! Explanations: for one action on one target, every rule that has a say and the one that decides.

use crate::context::{Context, Variable};
use crate::error::EscapeControls;
use crate::eval::{BoundPolicy, Decision};
use crate::policy::{Action, Effect, Policy, Severity};
use glasshouse_receipt::OsText;
use serde::Serialize;
use std::fmt;

/// What part a rule played in a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// The rule matched and decided.
    Decides,
    /// The rule matched, but another decided (an allow overridden by a deny, or a later rule of
    /// the same effect).
    Matches,
    /// The rule names a variable the context does not know, so it cannot match.
    NotExpanded,
}

/// One rule's part in an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleFinding {
    /// The rule's label (its name or `rule[N]`).
    pub rule: String,
    /// 1-based position in the file.
    pub number: usize,
    /// Line of the rule's `[[rule]]` header.
    pub line: usize,
    /// The rule's effect.
    pub effect: Effect,
    /// The rule's target as written.
    pub target: String,
    /// The rule's reason.
    pub reason: String,
    /// The rule's severity, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// What part it played.
    pub finding: Finding,
    /// For [`Finding::NotExpanded`], the variable without a value (`${HOME}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_variable: Option<String>,
}

/// Why one action on one target is allowed or denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The action asked about.
    pub action: Action,
    /// The target asked about, for display (non-UTF-8 bytes as `\xNN`).
    pub target: String,
    /// The value `${CWD}` expanded to, if known.
    pub cwd: Option<String>,
    /// The value `${HOME}` expanded to, if known.
    pub home: Option<String>,
    /// The outcome.
    pub decision: Decision,
    /// The policy's default.
    pub default: Effect,
    /// Every rule for this action that matched or could not be expanded, in file order.
    pub rules: Vec<RuleFinding>,
}

impl Policy {
    /// Explains the decision on one action on `target` (raw bytes) in `context`.
    pub fn explain(&self, action: Action, target: &[u8], context: &Context) -> Explanation {
        let bound = BoundPolicy::new(self, context);
        let decision = bound.decide(action, target);
        let rules = bound
            .matches(action, target)
            .filter_map(|(rule, matched)| {
                let (finding, unknown_variable) = match matched {
                    Ok(false) => return None,
                    Ok(true) if decision.number == Some(rule.number()) => (Finding::Decides, None),
                    Ok(true) => (Finding::Matches, None),
                    Err(variable) => (Finding::NotExpanded, Some(variable.to_string())),
                };
                Some(RuleFinding {
                    rule: rule.label(),
                    number: rule.number(),
                    line: rule.line(),
                    effect: rule.effect(),
                    target: rule.target().to_owned(),
                    reason: rule.reason().to_owned(),
                    severity: rule.severity(),
                    finding,
                    unknown_variable,
                })
            })
            .collect();
        let shown = |v: Variable| {
            context
                .value(v)
                .map(|bytes| OsText::from_bytes(bytes).display_lossy().into_owned())
        };
        Explanation {
            action,
            target: OsText::from_bytes(target).display_lossy().into_owned(),
            cwd: shown(Variable::Cwd),
            home: shown(Variable::Home),
            decision,
            default: self.default_effect(),
            rules,
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match self.decision.effect {
            Effect::Allow => "allowed",
            Effect::Deny => "denied",
        };
        write!(
            f,
            "{} {}: {outcome} by ",
            self.action,
            EscapeControls(&self.target)
        )?;
        match self.rules.iter().find(|r| r.finding == Finding::Decides) {
            Some(rule) => writeln!(
                f,
                "{} (rule[{}], line {})",
                rule.rule, rule.number, rule.line
            )?,
            None => writeln!(f, "the default (default = \"{}\")", self.default)?,
        }
        if !self.decision.reason.is_empty() {
            writeln!(f, "  reason: {}", EscapeControls(&self.decision.reason))?;
        }
        let known = |v: &Option<String>| match v {
            Some(value) => EscapeControls(value).to_string(),
            None => "(unknown)".to_owned(),
        };
        writeln!(
            f,
            "  ${{CWD}} = {}, ${{HOME}} = {}",
            known(&self.cwd),
            known(&self.home)
        )?;
        if self.rules.is_empty() {
            return writeln!(f, "  no {} rule matches", self.action);
        }
        writeln!(
            f,
            "  {} rules that match or could not be expanded, in file order:",
            self.action
        )?;
        for rule in &self.rules {
            let marker = if rule.finding == Finding::Decides {
                '*'
            } else {
                ' '
            };
            write!(
                f,
                "  {marker} {} (rule[{}], line {}): {} {:?}",
                rule.rule, rule.number, rule.line, rule.effect, rule.target
            )?;
            if let Some(severity) = rule.severity {
                write!(f, ", severity {severity}")?;
            }
            match (rule.finding, &rule.unknown_variable) {
                (Finding::Decides, _) => writeln!(f, ": decides")?,
                (Finding::Matches, _)
                    if rule.effect == Effect::Allow && self.decision.effect == Effect::Deny =>
                {
                    writeln!(f, ": matches, but deny overrides allow")?
                }
                (Finding::Matches, _) => writeln!(f, ": matches, but an earlier rule decides")?,
                (Finding::NotExpanded, variable) => writeln!(
                    f,
                    ": cannot match, {} is not known",
                    variable.as_deref().unwrap_or("a variable")
                )?,
            }
        }
        Ok(())
    }
}

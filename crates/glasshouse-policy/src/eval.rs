//! Evaluation: which rule decides one action, and the verdict on a whole receipt.
//!
//! Deny overrides allow: when any deny rule matches, the first such rule in file order decides;
//! otherwise the first matching allow rule does; otherwise the policy's default. A receipt is
//! reduced to a set of (action, target) pairs first, so neither the order of its lists nor
//! repeated entries can change the outcome.

use crate::context::{Context, Variable};
use crate::error::EscapeControls;
use crate::glob::BoundPath;
use crate::net::{BoundConnect, Destination};
use crate::policy::{Action, Effect, Matcher, Policy, Rule};
use glasshouse_receipt::{OsText, PolicyReport, PolicyViolation, Receipt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// The rule label violations use when the policy's default decided.
pub const DEFAULT_RULE: &str = "default";

/// How one action was judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Allowed or denied.
    pub effect: Effect,
    /// The deciding rule's label (its name or `rule[N]`), or `default`.
    pub rule: String,
    /// The deciding rule's 1-based position; absent when the default decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<usize>,
    /// The deciding rule's reason, or why the default applied.
    pub reason: String,
}

impl Decision {
    fn by_rule(rule: &Rule) -> Self {
        Self {
            effect: rule.effect(),
            rule: rule.label(),
            number: Some(rule.number()),
            reason: rule.reason().to_owned(),
        }
    }

    fn by_default(effect: Effect) -> Self {
        let reason = match effect {
            Effect::Allow => "no rule matches and the policy's default is allow",
            Effect::Deny => "no rule allows this and the policy's default is deny",
        };
        Self {
            effect,
            rule: DEFAULT_RULE.to_owned(),
            number: None,
            reason: reason.to_owned(),
        }
    }
}

/// `pass` or `fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing was denied.
    Pass,
    /// Something was denied.
    Fail,
}

impl Status {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
        }
    }
}

/// The outcome of evaluating a policy against a receipt. Its JSON form has the fields of the
/// receipt's `policy` report: `digest`, `verdict`, `violations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Lowercase hex SHA-256 of the policy file.
    pub digest: String,
    /// `pass` when there are no violations.
    pub verdict: Status,
    /// Every denied action, sorted and deduplicated.
    pub violations: Vec<PolicyViolation>,
}

impl Verdict {
    /// Whether nothing was denied.
    pub fn passed(&self) -> bool {
        self.verdict == Status::Pass
    }

    /// The report a receipt carries in its `policy` field.
    pub fn to_report(&self) -> PolicyReport {
        PolicyReport::new(
            self.digest.clone(),
            self.verdict.as_str().to_owned(),
            self.violations.clone(),
        )
    }

    /// Stores the verdict in `receipt`: `filesystem.policy_violations` gets the file violations
    /// (read, write, delete) and `policy` the whole report. Nothing else changes. Returns
    /// whether anything was denied.
    pub fn record_in(&self, receipt: &mut Receipt) -> bool {
        receipt.filesystem.policy_violations = self
            .violations
            .iter()
            .filter(|v| v.action.parse::<Action>().is_ok_and(Action::is_file_action))
            .cloned()
            .collect();
        receipt.policy = Some(self.to_report());
        !self.passed()
    }
}

/// One violation as one line: action, target, rule and reason separated by tabs, with control
/// characters escaped so that the line stays one line.
pub fn violation_line(violation: &PolicyViolation) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        EscapeControls(&violation.action),
        EscapeControls(&violation.target),
        EscapeControls(&violation.rule),
        EscapeControls(&violation.reason)
    )
}

/// A rule's target with its variables expanded, or the variable that has no value.
pub(crate) struct BoundRule<'p> {
    pub(crate) rule: &'p Rule,
    pub(crate) target: Result<BoundTarget, Variable>,
}

pub(crate) enum BoundTarget {
    Path(BoundPath),
    Connect(BoundConnect),
}

/// A policy with every target expanded for one context.
pub(crate) struct BoundPolicy<'p> {
    pub(crate) policy: &'p Policy,
    pub(crate) rules: Vec<BoundRule<'p>>,
}

impl<'p> BoundPolicy<'p> {
    pub(crate) fn new(policy: &'p Policy, context: &Context) -> Self {
        let rules = policy
            .rules()
            .iter()
            .map(|rule| BoundRule {
                rule,
                target: match &rule.matcher {
                    Matcher::Path(pattern) => pattern.bind(context).map(BoundTarget::Path),
                    Matcher::Connect(pattern) => pattern.bind(context).map(BoundTarget::Connect),
                },
            })
            .collect();
        Self { policy, rules }
    }

    /// The rules for `action`, each with whether it matches `target` (`Err`: a variable is
    /// unknown, so it cannot match).
    pub(crate) fn matches<'a>(
        &'a self,
        action: Action,
        target: &'a [u8],
    ) -> impl Iterator<Item = (&'p Rule, Result<bool, Variable>)> + 'a {
        let destination = match action {
            Action::Connect => Destination::parse(target),
            _ => Destination::Other,
        };
        self.rules
            .iter()
            .filter(move |bound| bound.rule.action() == action)
            .map(move |bound| {
                let matched = bound.target.as_ref().map_err(|v| *v).map(|t| match t {
                    BoundTarget::Path(path) => path.matches(target),
                    BoundTarget::Connect(connect) => connect.matches(&destination),
                });
                (bound.rule, matched)
            })
    }

    pub(crate) fn decide(&self, action: Action, target: &[u8]) -> Decision {
        let mut first_allow = None;
        for (rule, matched) in self.matches(action, target) {
            if matched != Ok(true) {
                continue;
            }
            match rule.effect() {
                Effect::Deny => return Decision::by_rule(rule),
                Effect::Allow => {
                    first_allow.get_or_insert(rule);
                }
            }
        }
        match first_allow {
            Some(rule) => Decision::by_rule(rule),
            None => Decision::by_default(self.policy.default_effect()),
        }
    }
}

/// Every (action, target) a receipt records, once each, in a canonical order.
fn observed(receipt: &Receipt) -> BTreeSet<(Action, &OsText)> {
    let mut seen = BTreeSet::new();
    for node in &receipt.process_tree {
        seen.insert((Action::Exec, &node.exe));
        for image in &node.execs {
            seen.insert((Action::Exec, &image.exe));
        }
    }
    let files = &receipt.filesystem;
    seen.extend(files.reads.iter().map(|p| (Action::Read, p)));
    seen.extend(files.writes.iter().map(|p| (Action::Write, p)));
    seen.extend(files.deletes.iter().map(|p| (Action::Delete, p)));
    seen.extend(
        receipt
            .network
            .attempts
            .iter()
            .map(|a| (Action::Connect, &a.dst)),
    );
    // An empty value records that nothing was known, not an action on "".
    seen.retain(|(_, target)| !target.as_bytes().is_empty());
    seen
}

/// One recorded (action, target) and the decision on it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Judged<'r> {
    /// The action.
    pub action: Action,
    /// The target as the receipt records it.
    pub target: &'r OsText,
    /// How it was judged.
    pub decision: Decision,
}

impl Policy {
    /// Every (action, target) `receipt` records, once each in a canonical order, with its
    /// decision: what [`Policy::evaluate`] builds its verdict from.
    pub fn judge<'r>(&self, receipt: &'r Receipt) -> Vec<Judged<'r>> {
        let bound = BoundPolicy::new(self, &Context::from_receipt(receipt));
        observed(receipt)
            .into_iter()
            .map(|(action, target)| Judged {
                action,
                target,
                decision: bound.decide(action, target.as_bytes()),
            })
            .collect()
    }

    /// Judges every action recorded in `receipt`. Pure: the same receipt and policy give the
    /// same verdict on every machine; `${CWD}` and `${HOME}` come from the receipt.
    pub fn evaluate(&self, receipt: &Receipt) -> Verdict {
        let violations: BTreeSet<PolicyViolation> = self
            .judge(receipt)
            .into_iter()
            .filter(|j| j.decision.effect == Effect::Deny)
            .map(|j| {
                PolicyViolation::new(
                    j.action.as_str(),
                    &j.target.display_lossy(),
                    &j.decision.rule,
                    &j.decision.reason,
                )
            })
            .collect();
        let verdict = if violations.is_empty() {
            Status::Pass
        } else {
            Status::Fail
        };
        Verdict {
            digest: self.digest().to_owned(),
            verdict,
            violations: violations.into_iter().collect(),
        }
    }

    /// Judges one action on `target` (raw bytes, as a receipt records them) in `context`.
    pub fn decide(&self, action: Action, target: &[u8], context: &Context) -> Decision {
        BoundPolicy::new(self, context).decide(action, target)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

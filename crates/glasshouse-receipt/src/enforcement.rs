//! The receipt's `enforcement` section: how `run --policy FILE --enforce` applied each rule of
//! the policy, and what the sensor saw that the rule matched.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every rule of the enforced policy (and its default, per action), as applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Enforcement {
    /// SHA-256 of the policy file (the same as `policy.digest`).
    pub digest: String,
    /// The rules in file order, then one entry per action for the policy's default.
    pub rules: Vec<EnforcedRule>,
}

/// One rule (or the default for one action) and how it was applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct EnforcedRule {
    /// The rule's label (its name or `rule[N]`), or `default`.
    pub rule: String,
    /// Its 1-based position in the file; absent for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<usize>,
    /// `exec`, `read`, `write`, `delete` or `connect`.
    pub action: String,
    /// `allow` or `deny`.
    pub effect: String,
    /// The target as written; absent for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `enforced` (the sandbox applies the rule's decision itself) or `evaluated_only` (the
    /// rule is only judged on the receipt afterwards).
    pub status: String,
    /// For `enforced`: what applies it: `landlock`, `ro-mount`, `hidden`, `ro-root`, `proxy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    /// For `evaluated_only`: why the sandbox cannot apply it; for `enforced`: what it applies
    /// to, where that is less than the whole rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the policy's evaluation attributed to this rule: the recorded actions it decided.
    pub matched: Matches,
    /// Failed operations the sensor recorded whose target the rule matches (a refused write,
    /// say), and for connect rules the proxy's refusals by this rule.
    pub failed: Matches,
}

/// A count and a few examples.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Matches {
    /// How many distinct entries.
    pub count: u64,
    /// The first few of them, sorted (at most 5).
    pub examples: Vec<String>,
}

impl Matches {
    /// How many examples a list keeps.
    pub const EXAMPLES: usize = 5;

    /// Counts `entry`, keeping it as an example while there is room.
    pub fn add(&mut self, entry: String) {
        self.count += 1;
        if self.examples.len() < Self::EXAMPLES {
            self.examples.push(entry);
        }
    }
}

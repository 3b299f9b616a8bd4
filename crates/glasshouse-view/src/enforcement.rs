//! `show`'s enforcement section (`run --enforce`): each rule of the policy, whether the sandbox
//! applied it or it was only judged afterwards, and what it matched and what failed under it.

use crate::fold::cut;
use crate::show::ShowOptions;
use glasshouse_receipt::{EnforcedRule, Receipt};
use std::fmt::Write as _;

/// Rules listed before folding.
pub const RULES: usize = 12;

/// The section, when the receipt has one.
pub(crate) fn section(out: &mut String, r: &Receipt, o: &ShowOptions) {
    let Some(enforcement) = &r.enforcement else {
        return;
    };
    let s = o.style;
    let rules = &enforcement.rules;
    let enforced = rules.iter().filter(|e| e.status == "enforced").count();
    let _ = writeln!(
        out,
        "\n{}",
        s.head(format!(
            "enforcement ({enforced} of {} enforced, {} evaluated only)",
            rules.len(),
            rules.len() - enforced
        ))
    );
    let (shown, hidden) = cut(rules.len(), o.limit(RULES));
    for rule in &rules[..shown] {
        let status = if rule.status == "enforced" {
            s.good(format!(
                "enforced ({})",
                rule.mechanism.as_deref().unwrap_or("sandbox")
            ))
        } else {
            s.warn("evaluated only")
        };
        let _ = writeln!(out, "  {} {status}{}", describe(rule), counts(rule));
        if let Some(reason) = &rule.reason {
            let _ = writeln!(out, "    {}", s.dim(reason));
        }
    }
    if hidden > 0 {
        let _ = writeln!(out, "  {}", s.dim(format!("… {hidden} more rules")));
    }
}

/// `rule[2] deny write /etc/**`, or `default deny write`.
fn describe(rule: &EnforcedRule) -> String {
    let mut text = format!("{} {} {}", rule.rule, rule.effect, rule.action);
    if let Some(target) = &rule.target {
        text.push(' ');
        text.push_str(target);
    }
    text.push(':');
    text
}

/// `, matched 3, failed 1`, leaving out what is zero (failed: refused operations the rule
/// decides, the proxy's refusals included).
fn counts(rule: &EnforcedRule) -> String {
    let mut text = String::new();
    if rule.matched.count > 0 {
        let _ = write!(text, ", matched {}", rule.matched.count);
    }
    if rule.failed.count > 0 {
        let _ = write!(text, ", failed {}", rule.failed.count);
    }
    text
}

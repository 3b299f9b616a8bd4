//! The receipt's `enforcement` section: every rule of the enforced policy (and its default per
//! action) with how it was applied, what the policy's evaluation attributed to it, and the
//! refused operations whose target it decides.

use crate::enforce::{Applied, Planned};
use glasshouse_policy::{Action, Context, Effect, Policy, DEFAULT_RULE};
use glasshouse_receipt::{EnforcedRule, Enforcement, Matches, Receipt};

/// The errors of an operation the sandbox refused (as opposed to one that found nothing).
const REFUSALS: [i32; 3] = [libc::EACCES, libc::EPERM, libc::EROFS];

/// Builds the section from the compiled plan and the finished receipt, with the same
/// decisions the verdict is made of.
pub(crate) fn report(policy: &Policy, plan: &[Planned], receipt: &Receipt) -> Enforcement {
    let context = Context::from_receipt(receipt);
    let judged = policy.judge(receipt);
    let rules = plan
        .iter()
        .map(|entry| {
            let rule = entry
                .number
                .and_then(|n| policy.rules().iter().find(|r| r.number() == n));
            let label = rule.map_or_else(|| DEFAULT_RULE.to_owned(), |r| r.label());
            let decided_here =
                |action: Action, rule_label: &str| action == entry.action && rule_label == label;
            let mut matched = Matches::default();
            for j in &judged {
                if decided_here(j.action, &j.decision.rule) {
                    matched.add(j.target.display_lossy().into_owned());
                }
            }
            let mut failed = Matches::default();
            if entry.action.is_file_action() {
                for f in &receipt.filesystem.failed {
                    let Some(target) = &f.target else { continue };
                    if !REFUSALS.contains(&f.errno) || !could_be(entry.action, &f.syscall, f.errno)
                    {
                        continue;
                    }
                    let decision = policy.decide(entry.action, target.as_bytes(), &context);
                    if decided_here(entry.action, &decision.rule) {
                        failed.add(format!(
                            "{} ({} {})",
                            target.display_lossy(),
                            f.syscall,
                            f.error
                        ));
                    }
                }
            } else if entry.action == Action::Connect {
                let by = format!("policy:{label}");
                for p in &receipt.network.proxied {
                    if p.decision == "denied" && p.rule.as_deref() == Some(by.as_str()) {
                        let address = p.address.as_deref().unwrap_or("");
                        failed.add(format!("{}:{} ({address})", p.host, p.port));
                    }
                }
            }
            let (status, mechanism, reason) = match &entry.applied {
                Applied::Enforced { mechanism, note } => {
                    ("enforced", Some((*mechanism).to_owned()), note.clone())
                }
                Applied::EvaluatedOnly(why) => ("evaluated_only", None, Some(why.clone())),
            };
            let effect = rule.map_or(policy.default_effect(), |r| r.effect());
            let mut out = EnforcedRule::default();
            out.rule = label.clone();
            out.number = entry.number;
            out.action = entry.action.as_str().to_owned();
            out.effect = match effect {
                Effect::Allow => "allow",
                Effect::Deny => "deny",
            }
            .to_owned();
            out.target = rule.map(|r| r.target().to_owned());
            out.status = status.to_owned();
            out.mechanism = mechanism;
            out.reason = reason;
            out.matched = matched;
            out.failed = failed;
            out
        })
        .collect();
    let mut section = Enforcement::default();
    section.digest = policy.digest().to_owned();
    section.rules = rules;
    section
}

/// Whether a failed `syscall` may have been an attempt at `action`. The receipt does not say
/// whether a failed open was for reading or for writing, so a refused open counts for both
/// (but `EROFS` only ever refuses a write).
fn could_be(action: Action, syscall: &str, errno: i32) -> bool {
    let name = syscall.to_ascii_lowercase();
    let removes = ["unlink", "rmdir", "rename"]
        .iter()
        .any(|n| name.contains(n));
    match action {
        Action::Read => name.contains("open") && errno != libc::EROFS,
        Action::Delete => removes,
        Action::Write => {
            !(name.starts_with("exec")
                || name.contains("connect")
                || name.contains("unlink")
                || name.contains("rmdir"))
        }
        _ => false,
    }
}

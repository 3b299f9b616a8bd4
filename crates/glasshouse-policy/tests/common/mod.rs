//! Builders shared by the integration tests: receipts made by hand and policies from text.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use glasshouse_policy::Policy;
use glasshouse_receipt::{ExecImage, NetworkAttempt, OsText, ProcessNode, Provenance, Receipt};

/// An empty receipt with fixed identity fields.
pub fn receipt() -> Receipt {
    Receipt::new(
        "0190a0b0-0000-7000-8000-000000000000".to_owned(),
        Provenance::Host,
        "2026-01-01T00:00:00Z".to_owned(),
    )
}

/// A receipt whose `${CWD}` and `${HOME}` are `/work` and `/home/ada`.
pub fn receipt_at_work() -> Receipt {
    let mut r = receipt();
    r.environment.working_dir = Some(OsText::from("/work"));
    r.environment.home = Some(OsText::from("/home/ada"));
    r
}

/// A process running `exe`, having run `earlier` images before it.
pub fn process(pid: u32, exe: &[u8], earlier: &[&[u8]]) -> ProcessNode {
    let mut node = ProcessNode::default();
    node.pid = pid;
    node.ppid = 1;
    node.exe = OsText::from_bytes(exe);
    node.execs = earlier
        .iter()
        .chain(std::iter::once(&exe))
        .map(|e| {
            let mut image = ExecImage::default();
            image.exe = OsText::from_bytes(*e);
            image
        })
        .collect();
    node
}

/// A network attempt to `dst` (the receipt type has no public constructor: build it from JSON,
/// as a reader would).
pub fn attempt(dst: &str, protocol: &str) -> NetworkAttempt {
    serde_json::from_value(serde_json::json!({
        "dst": dst,
        "protocol": protocol,
        "result": "attempted",
    }))
    .unwrap()
}

/// Paths as receipt entries.
pub fn paths(list: &[&str]) -> Vec<OsText> {
    list.iter().map(|p| OsText::from(*p)).collect()
}

/// A policy from text that must be valid.
pub fn policy(text: &str) -> Policy {
    Policy::parse(text.as_bytes(), "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// A one-rule-per-line policy: `rules` are (effect, action, target) triples, named r1, r2, ...
pub fn policy_of(default: &str, rules: &[(&str, &str, &str)]) -> Policy {
    let mut text = format!("version = 1\ndefault = {default:?}\n");
    for (i, (effect, action, target)) in rules.iter().enumerate() {
        text.push_str(&format!(
            "\n[[rule]]\nname = \"r{}\"\neffect = {effect:?}\naction = {action:?}\n\
             target = '{target}'\nreason = \"reason {}\"\n",
            i + 1,
            i + 1
        ));
    }
    policy(&text)
}

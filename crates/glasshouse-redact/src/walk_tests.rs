//! The receipt walk and the event walk: every field, counts per field, lossless bytes.

use super::*;
use crate::tests::redactor;
use glasshouse_receipt::{ExecImage, FailedOperation, NetworkAttempt, OsText, ProcessNode};

fn secret_receipt(secret: &str) -> Receipt {
    let mut r = Receipt::new(
        "id".into(),
        glasshouse_receipt::Provenance::Host,
        "t".into(),
    );
    let mut p = ProcessNode::default();
    p.pid = 10;
    p.exe = OsText::from("/usr/bin/tool");
    p.argv = vec!["tool".into(), "--password".into(), secret.into()];
    let mut e = ExecImage::default();
    e.argv = vec![
        "sh".into(),
        "-c".into(),
        format!("tool --token {secret}").into(),
    ];
    p.execs = vec![e];
    r.process_tree.push(p);
    r.processes = vec![Default::default()];
    r.processes[0].cmd = format!("tool --password {secret}");
    let mut bytes = b"/tmp/\xff/API_KEY=".to_vec();
    bytes.extend_from_slice(secret.as_bytes());
    r.filesystem.reads = vec![OsText::from_bytes(bytes), "/etc/hosts".into()];
    r.filesystem.failed = vec![FailedOperation::new(
        "openat",
        Some(format!("/run/{secret}/x").into()),
        2,
        "ENOENT",
    )];
    r.network.attempts = vec![NetworkAttempt::new(
        format!("/tmp/sock-{secret}").into(),
        "unix",
        "refused",
        None,
        1,
    )];
    r.artifacts.stdout_hash = "ab".repeat(32);
    r
}

#[test]
fn receipt_walk_redacts_every_field_and_reports_counts() {
    let red = redactor(1);
    let secret = format!("ghp_{}", "Qw3".repeat(12));
    let mut receipt = secret_receipt(&secret);
    red.redact_receipt(&mut receipt).unwrap();
    let json = receipt.to_json().unwrap();
    assert!(!json.contains(&secret), "{json}");
    assert!(json.contains(&red.marker("github_token", secret.as_bytes())));
    let report = receipt.redaction.as_ref().unwrap();
    assert_eq!(report.rules_digest, red.rules().digest());
    assert_eq!(report.values_redacted, 6, "{:?}", report.fields);
    for field in [
        "process_tree[].argv[]",
        "process_tree[].execs[].argv[]",
        "processes[].cmd",
        "filesystem.reads[]",
        "filesystem.failed[].target",
        "network.attempts[].dst",
    ] {
        assert_eq!(
            report.fields.get(field),
            Some(&1),
            "{field}: {:?}",
            report.fields
        );
    }
    assert_eq!(receipt.artifacts.stdout_hash, "ab".repeat(32));
    assert_eq!(receipt.version, glasshouse_receipt::SCHEMA_VERSION);
    // The path that was not UTF-8 still is, with its secret replaced.
    let read = receipt
        .filesystem
        .reads
        .iter()
        .find(|p| p.as_str().is_none())
        .unwrap();
    assert!(read.as_bytes().starts_with(b"/tmp/\xff/API_KEY=[REDACTED:"));
}

/// Every string leaf of a fully filled receipt set to a secret: none survives the walk. A field
/// added to the receipt later is covered by this without changing the test.
#[test]
fn no_string_field_escapes() {
    let red = redactor(1);
    let secret = format!("sk-ant-api03-{}", "Ab9".repeat(20));
    let mut receipt = secret_receipt(&secret);
    receipt.sensor = Some(Default::default());
    receipt.policy = Some(glasshouse_receipt::PolicyReport::new(
        "d".into(),
        "fail".into(),
        vec![glasshouse_receipt::PolicyViolation::new(
            "read", "t", "r", "x",
        )],
    ));
    receipt.environment.home = Some("/h".into());
    receipt.environment.working_dir = Some("/w".into());
    receipt.environment.kernel = Some("k".into());
    receipt.outcome.error = Some("e".into());
    let mut value = serde_json::to_value(&receipt).unwrap();
    fn fill(v: &mut serde_json::Value, path: &str, secret: &str) {
        match v {
            serde_json::Value::String(s) if !KEEP.contains(&path) => *s = format!("x {secret} y"),
            serde_json::Value::Object(m) if m.contains_key("base64") => {
                *v = format!("/{secret}").into()
            }
            serde_json::Value::Object(m) => {
                for (k, v) in m.iter_mut() {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    fill(v, &p, secret);
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| fill(v, path, secret)),
            _ => {}
        }
    }
    fill(&mut value, "", &secret);
    value["syscalls"]["counts"] = serde_json::json!({ secret.clone(): 1 });
    let mut receipt: Receipt = serde_json::from_value(value).unwrap();
    red.redact_receipt(&mut receipt).unwrap();
    let json = receipt.to_json().unwrap();
    assert!(!json.contains(&secret), "{json}");
}

#[test]
fn an_event_is_redacted_like_the_receipt() {
    let red = redactor(1);
    let secret = format!("xoxb-123456789012-{}", "Zq9".repeat(8));
    let mut event = serde_json::json!({
        "kind": "exec",
        "argv": ["curl", "-H", format!("Authorization: Bearer {secret}")],
        "path": format!("/tmp/{secret}"),
        "nested": { "socket": { "base64": base64_of(format!("@{secret}\u{1}").as_bytes()) } },
    });
    let tally = red.redact_json(&mut event);
    let text = event.to_string();
    assert!(!text.contains(&secret), "{text}");
    assert_eq!(tally.secrets, 3, "{:?}", tally.fields);
    assert_eq!(tally.fields.get("argv[]"), Some(&1));
    assert_eq!(event["kind"], "exec");
    // The same marker the receipt walk gives the same secret.
    let mut receipt = secret_receipt(&secret);
    red.redact_receipt(&mut receipt).unwrap();
    let marker = red.marker("slack_token", secret.as_bytes());
    assert!(text.contains(&marker) && receipt.to_json().unwrap().contains(&marker));
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

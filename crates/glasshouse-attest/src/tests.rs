//! Statements, round trips, and every kind of refusal.

use super::*;
use glasshouse_receipt::{NetworkAttempt, ProcessNode, Provenance, SensorCoverage};
use serde_json::{json, Value};

fn receipt(complete: bool) -> Receipt {
    let mut r = Receipt::new(
        "0190-id".into(),
        Provenance::Host,
        "2026-01-01T00:00:00Z".into(),
    );
    r.artifacts.stdout_hash = "a".repeat(64);
    r.artifacts.stderr_hash = "b".repeat(64);
    let mut p = ProcessNode::default();
    p.pid = 7;
    p.exe = "/usr/bin/true".into();
    p.argv = vec!["true".into()];
    r.process_tree.push(p);
    r.filesystem.reads.push("/etc/hosts".into());
    r.filesystem.writes.push("/tmp/a b".into());
    r.network.attempts.push(NetworkAttempt::new(
        "127.0.0.1:80".into(),
        "tcp",
        "refused",
        None,
        1,
    ));
    r.network.attempts.push(NetworkAttempt::new(
        "[::1]:443".into(),
        "tcp",
        "connected",
        None,
        1,
    ));
    r.network.attempts.push(NetworkAttempt::new(
        "/run/x.sock".into(),
        "unix",
        "connected",
        None,
        1,
    ));
    let mut s = SensorCoverage::default();
    s.kind = "ebpf".into();
    s.complete = complete;
    r.sensor = Some(s);
    r
}

fn command() -> Vec<OsText> {
    vec!["true".into(), "--flag".into()]
}

fn payload(env: &Envelope) -> Value {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&env.payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn blake3_outputs_are_subjects_keyed_blake3() {
    let signer = Signer::generate().unwrap();
    let mut r = receipt(true);
    r.artifacts.stdout_hash = format!("blake3:{}", "c".repeat(64));
    r.artifacts.stderr_hash = format!("blake3:{}", "d".repeat(64));
    let env = attest(&signer, &r, &command(), Predicate::Receipt).unwrap();
    let subjects = payload(&env)["subject"].clone();
    assert_eq!(subjects[0]["digest"], json!({ "blake3": "c".repeat(64) }));
    assert_eq!(subjects[1]["digest"], json!({ "blake3": "d".repeat(64) }));
    assert!(
        subjects[2]["digest"]["sha256"].is_string(),
        "the command stays SHA-256"
    );
}

#[test]
fn receipt_statement_has_subjects_and_the_receipt() {
    let signer = Signer::generate().unwrap();
    let r = receipt(true);
    let env = attest(&signer, &r, &command(), Predicate::Receipt).unwrap();
    assert_eq!(env.payload_type, "application/vnd.in-toto+json");
    assert_eq!(env.signatures[0].keyid, signer.keyid());
    let st = payload(&env);
    assert_eq!(st["_type"], STATEMENT_TYPE);
    assert_eq!(st["predicateType"], RECEIPT_PREDICATE);
    let subjects = st["subject"].as_array().unwrap();
    assert_eq!(subjects[0]["name"], "stdout");
    assert_eq!(subjects[0]["digest"]["sha256"], "a".repeat(64));
    assert_eq!(subjects[1]["digest"]["sha256"], "b".repeat(64));
    assert_eq!(subjects[2]["name"], "command");
    use sha2::Digest as _;
    assert_eq!(
        subjects[2]["digest"]["sha256"],
        hex::encode(sha2::Sha256::digest(b"true\0--flag"))
    );
    assert_eq!(subjects[2]["annotations"]["argv"][1], "--flag");
    let back: Receipt = serde_json::from_value(st["predicate"].clone()).unwrap();
    assert_eq!(back, r);
    let checked = verify(&env.to_line().unwrap(), &signer.public_key()).unwrap();
    assert_eq!(checked.predicate, Predicate::Receipt);
    assert!(checked.complete);
}

#[test]
fn runtime_trace_statement() {
    let signer = Signer::generate().unwrap();
    let env = attest(
        &signer,
        &receipt(false),
        &command(),
        Predicate::RuntimeTrace,
    )
    .unwrap();
    let st = payload(&env);
    assert_eq!(st["predicateType"], RUNTIME_TRACE_PREDICATE);
    let p = &st["predicate"];
    assert_eq!(p["monitor"]["type"], MONITOR_TYPE);
    assert_eq!(p["monitor"]["tracePolicy"]["complete"], false);
    assert_eq!(p["monitoredProcess"]["event"], "0190-id");
    assert_eq!(p["monitoredProcess"]["hostID"], "urn:glasshouse:host");
    assert_eq!(
        p["monitorLog"]["process"][0]["processBinary"],
        "/usr/bin/true"
    );
    let net = p["monitorLog"]["network"].as_array().unwrap();
    assert_eq!(net[0]["ip"], "127.0.0.1");
    assert_eq!(net[0]["port"], 80);
    assert_eq!(net[1]["ip"], "::1");
    assert_eq!(net[2]["address"], "/run/x.sock");
    let files = p["monitorLog"]["fileAccess"].as_array().unwrap();
    assert_eq!(files[0]["uri"], "file:///etc/hosts");
    assert_eq!(files[0]["annotations"]["access"], "read");
    assert_eq!(files[1]["uri"], "file:///tmp/a%20b");
    let checked = verify(&env.to_line().unwrap(), &signer.public_key()).unwrap();
    assert_eq!(checked.predicate, Predicate::RuntimeTrace);
    assert!(!checked.complete);
}

#[test]
fn flipping_any_byte_fails() {
    let signer = Signer::generate().unwrap();
    let key = signer.public_key();
    let line = attest(&signer, &receipt(true), &command(), Predicate::Receipt)
        .unwrap()
        .to_line()
        .unwrap();
    assert!(verify(&line, &key).is_ok());
    for i in 0..line.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = line.clone();
            bad[i] ^= bit;
            assert!(
                verify(&bad, &key).is_err(),
                "byte {i} xor {bit:#x} still verifies"
            );
        }
    }
}

#[test]
fn other_key_unsupported_versions_and_predicates() {
    let signer = Signer::generate().unwrap();
    let line = attest(&signer, &receipt(true), &command(), Predicate::Receipt)
        .unwrap()
        .to_line()
        .unwrap();
    let other = Signer::generate().unwrap().public_key();
    assert!(matches!(
        verify(&line, &other),
        Err(AttestError::UnknownKey { .. })
    ));

    let key = signer.public_key();
    let mut future = receipt(true);
    future.version = "v1.0.0".into();
    let env = attest(&signer, &future, &command(), Predicate::Receipt).unwrap();
    let err = verify(&env.to_line().unwrap(), &key).unwrap_err();
    assert!(matches!(err, AttestError::UnsupportedVersion(_)), "{err}");

    let sign = |st: Value| {
        Envelope::sign(
            &signer,
            IN_TOTO_PAYLOAD_TYPE,
            &serde_json::to_vec(&st).unwrap(),
        )
        .to_line()
        .unwrap()
    };
    let err = verify(
        &sign(serde_json::json!({"_type": "https://in-toto.io/Statement/v0.1"})),
        &key,
    )
    .unwrap_err();
    assert!(matches!(err, AttestError::UnsupportedStatement(_)), "{err}");
    let err = verify(
        &sign(serde_json::json!({"_type": STATEMENT_TYPE, "predicateType": "https://example.invalid/x"})),
        &key,
    )
    .unwrap_err();
    assert!(matches!(err, AttestError::UnsupportedPredicate(_)), "{err}");
    assert!(matches!(
        verify(b"not json", &key),
        Err(AttestError::Malformed(_))
    ));
}

#[test]
fn envelope_path_appends_the_suffix() {
    assert_eq!(
        envelope_path(Path::new("out/receipt.json")),
        PathBuf::from("out/receipt.json.intoto.jsonl")
    );
}

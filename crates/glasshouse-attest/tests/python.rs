//! Independent verification: Python's securesystemslib checks the DSSE signature with the public
//! key alone, and the in-toto attestation bindings parse the Statement. Fails (never skips) when
//! Python or its packages are missing; .ci/run installs them.

use glasshouse_attest::{attest, Predicate, Signer};
use glasshouse_receipt::{OsText, Provenance, Receipt};
use std::path::Path;
use std::process::Command;

fn receipt() -> Receipt {
    let mut r = Receipt::new(
        "0190a0b0-0000-7000-8000-000000000000".into(),
        Provenance::Host,
        "2026-01-01T00:00:00Z".into(),
    );
    r.artifacts.stdout_hash =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into();
    r.artifacts.stderr_hash = r.artifacts.stdout_hash.clone();
    r.filesystem.reads.push("/etc/hosts".into());
    r.filesystem
        .reads
        .push(OsText::from_bytes(b"/tmp/\xff".to_vec()));
    r
}

/// Runs the Python checker on an envelope; panics with its output unless it printed "ok".
pub fn python_verifies(envelope: &Path, public_key: &Path, predicate_type: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify_dsse.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(envelope)
        .arg(public_key)
        .arg(predicate_type)
        .output()
        .expect("python3 must be installed (.ci/run installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && out.stdout == b"ok\n",
        "independent verification failed ({}): {stderr}{}",
        out.status,
        if out.status.code() == Some(2) {
            "\ninstall the packages: pip install 'securesystemslib[crypto]' in-toto-attestation"
        } else {
            ""
        }
    );
}

#[test]
fn securesystemslib_and_in_toto_accept_both_predicates() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::generate().unwrap();
    let (private, public) = (dir.path().join("k"), dir.path().join("k.pub"));
    signer.write(&private, &public).unwrap();
    let command: Vec<OsText> = vec!["sh".into(), "-c".into(), "true".into()];
    for predicate in [Predicate::Receipt, Predicate::RuntimeTrace] {
        let env = attest(&signer, &receipt(), &command, predicate).unwrap();
        let path = dir.path().join("r.json.intoto.jsonl");
        std::fs::write(&path, env.to_line().unwrap()).unwrap();
        python_verifies(&path, &public, predicate.type_uri());
    }
}

#[test]
fn securesystemslib_refuses_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::generate().unwrap();
    let other = Signer::generate().unwrap();
    let public = dir.path().join("other.pub");
    other.write(&dir.path().join("other"), &public).unwrap();
    let env = attest(
        &signer,
        &receipt(),
        &[OsText::from("true")],
        Predicate::Receipt,
    )
    .unwrap();
    let path = dir.path().join("r.json.intoto.jsonl");
    std::fs::write(&path, env.to_line().unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify_dsse.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&path)
        .arg(&public)
        .arg(Predicate::Receipt.type_uri())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));
}

//! `run --output-hash blake3`: stdout and stderr hashed with BLAKE3 instead of SHA-256, written
//! `blake3:<hex>` in the receipt and keyed `blake3` in a signed statement's subjects.

mod common;

use base64::Engine as _;
use common::{glasshouse, read_receipt};
use serde_json::{json, Value};
use std::path::Path;

/// BLAKE3 of nothing and of `abc`, from the BLAKE3 authors' published test vectors.
const BLAKE3_EMPTY: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
const BLAKE3_ABC: &str = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";

/// Runs `sh -c SCRIPT` traced with `flags`; checks the exit and returns the receipt and stdout.
fn run(dir: &Path, flags: &[&str], script: &str) -> (Value, Vec<u8>) {
    let out = glasshouse(dir)
        .args(["run", "--profile", "host", "--quiet"])
        .args(flags)
        .args(["--", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (read_receipt(&dir.join("receipt.json")), out.stdout)
}

#[test]
fn blake3_hashes_match_the_published_test_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let (r, stdout) = run(dir.path(), &["--output-hash", "blake3"], "printf abc");
    assert_eq!(stdout, b"abc");
    let artifacts = &r["artifacts"];
    assert_eq!(artifacts["stdout_hash"], format!("blake3:{BLAKE3_ABC}"));
    assert_eq!(artifacts["stderr_hash"], format!("blake3:{BLAKE3_EMPTY}"));
    assert_eq!(artifacts["stdout_bytes"], 3);
    assert_eq!(artifacts["stderr_bytes"], 0);
}

#[test]
fn blake3_covers_every_byte_of_a_large_stream_on_both_outputs() {
    // More than the tee's 1 MiB step, through the tee + splice path, on both streams.
    let dir = tempfile::tempdir().unwrap();
    let script = "head -c 3000000 /dev/zero | tr '\\0' x; head -c 1234567 /dev/zero >&2";
    let (r, stdout) = run(dir.path(), &["--output-hash", "blake3"], script);
    assert_eq!(stdout.len(), 3_000_000);
    let artifacts = &r["artifacts"];
    assert_eq!(
        artifacts["stdout_hash"],
        format!("blake3:{}", blake3::hash(&stdout).to_hex())
    );
    assert_eq!(
        artifacts["stderr_hash"],
        format!("blake3:{}", blake3::hash(&[0u8; 1_234_567]).to_hex())
    );
    assert_eq!(artifacts["stderr_bytes"], 1_234_567);
}

#[test]
fn sha256_stays_the_default_and_can_be_named() {
    for flags in [&[][..], &["--output-hash", "sha256"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let (r, _) = run(dir.path(), flags, "printf abc");
        assert_eq!(
            r["artifacts"]["stdout_hash"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "{flags:?}: bare SHA-256 hex, as v0.3.0 defines it"
        );
    }
}

#[test]
fn an_unknown_algorithm_or_no_profile_is_refused_before_the_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    common::assert_refused_before_running(
        dir.path(),
        &[(vec!["--output-hash", "md5"], "--output-hash")],
    );
    // Without --profile nothing is hashed: the flag is a usage error, not ignored.
    let out = glasshouse(dir.path())
        .args(["run", "--output-hash", "blake3", "--", "touch", "ran"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--profile"),
        "{out:?}"
    );
    assert!(!dir.path().join("ran").exists());
}

#[test]
fn a_signed_envelope_names_the_outputs_by_their_blake3_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    common::keygen(dir.path(), &key);
    let key_flag = key.to_str().unwrap();
    run(
        dir.path(),
        &["--output-hash", "blake3", "--sign-key", key_flag],
        "printf abc",
    );
    let envelope = dir.path().join("receipt.json.intoto.jsonl");
    let line: Value = serde_json::from_str(&std::fs::read_to_string(&envelope).unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(line["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    let subjects = statement["subject"].as_array().unwrap();
    assert_eq!(subjects[0]["name"], "stdout");
    assert_eq!(subjects[0]["digest"], json!({ "blake3": BLAKE3_ABC }));
    assert_eq!(subjects[1]["digest"], json!({ "blake3": BLAKE3_EMPTY }));
    let verified = glasshouse(dir.path())
        .args(["verify", "--key", &format!("{key_flag}.pub")])
        .arg(&envelope)
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
}

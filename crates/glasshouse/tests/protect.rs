//! End-to-end tests of redaction and signing on profiled runs (these load real eBPF): canary
//! secrets of every shape, given to a command through argv, `env` assignments, an `sh -c` body,
//! a file path and a unix socket path, are absent from the receipt, the signed Statement and
//! glasshouse's stderr; markers repeat under one key and differ under another; envelopes verify
//! with `glasshouse verify` and with Python's securesystemslib, and fail when changed.

mod common;

use base64::Engine as _;
use common::{glasshouse, read_receipt, repo_root};
use glasshouse_attest::{Predicate, Signer};
use glasshouse_receipt::{Receipt, SensorCoverage};
use glasshouse_redact::{RedactionKey, Redactor, Rules};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn alnum(n: usize, salt: &str) -> String {
    format!("{salt}q7Rk2Zp9Xw4Lm8Tn3Vb6Hs1Jd5Fg0Yc")
        .chars()
        .cycle()
        .take(n)
        .collect()
}

/// Canary secrets (built here, so no live-looking key sits in the source), by the rule that
/// must find them.
struct Canaries {
    aws_id: String,
    aws_secret: String,
    ghp: String,
    gho: String,
    github_pat: String,
    openai: String,
    anthropic: String,
    slack: String,
    jwt: String,
    pem_body: String,
    password: String,
    token: String,
    env_key: String,
}

impl Canaries {
    fn new() -> Self {
        Self {
            aws_id: "AKIAQZ7W3XMPL5RT2UVN".into(),
            aws_secret: "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".into(),
            ghp: format!("ghp_{}", alnum(36, "A")),
            gho: format!("gho_{}", alnum(36, "B")),
            github_pat: format!("github_pat_{}", alnum(82, "C")),
            openai: format!("sk-proj-{}", alnum(48, "D")),
            anthropic: format!("sk-ant-api03-{}", alnum(60, "E")),
            slack: format!("xoxb-123456789012-{}", alnum(20, "F")),
            jwt: format!(
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.{}",
                alnum(30, "G")
            ),
            pem_body: format!("MC4CAQAwBQYDK2VwBCIEI{}", alnum(20, "H")),
            password: "pw-canary-5p8x".into(),
            token: "tok-canary-3k9z".into(),
            env_key: "envkey-canary-7m2q".into(),
        }
    }

    fn all(&self) -> Vec<&str> {
        vec![
            &self.aws_id,
            &self.aws_secret,
            &self.ghp,
            &self.gho,
            &self.github_pat,
            &self.openai,
            &self.anthropic,
            &self.slack,
            &self.jwt,
            &self.pem_body,
            &self.password,
            &self.token,
            &self.env_key,
        ]
    }
}

/// The command of a run that shows every canary: argv, env assignments, headers in a script
/// body, a PEM block, a file path (`dir/<secret>/token_test.go`, which exists) and a unix socket
/// path (`dir/<secret>.sock`, which does not: the connect fails and is recorded).
fn secret_command(c: &Canaries, dir: &Path) -> Vec<String> {
    let d = dir.display();
    let script = format!(
        "/bin/true --password {pw} --token={tok} --verbose token_test.go; \
         env API_KEY={ek} GITHUB_TOKEN={ghp} true; \
         /bin/true -H 'Authorization: Bearer {jwt}' -H 'Cookie: sid={openai}' {aws_id} {aws_secret}; \
         /bin/true \"-----BEGIN OPENSSH PRIVATE KEY-----\n{pem}\n-----END OPENSSH PRIVATE KEY-----\"; \
         cat {d}/{gho}/token_test.go {d}/{pat}/f 2>/dev/null; \
         python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX)\ntry: s.connect(sys.argv[1])\nexcept OSError: pass' {d}/{slack}.sock; \
         /bin/true {anthropic}",
        pw = c.password,
        tok = c.token,
        ek = c.env_key,
        ghp = c.ghp,
        jwt = c.jwt,
        openai = c.openai,
        aws_id = c.aws_id,
        aws_secret = c.aws_secret,
        pem = c.pem_body,
        gho = c.gho,
        pat = c.github_pat,
        slack = c.slack,
        anthropic = c.anthropic,
    );
    vec!["sh".into(), "-c".into(), script]
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run glasshouse");
    assert_ne!(
        out.status.code(),
        Some(124),
        "the eBPF sensor could not start; these tests need BPF: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A profiled run of `command` in `dir` with the redaction key `key` and extra options.
fn profiled(dir: &Path, key: &Path, extra: &[&str], command: &[String]) -> Output {
    let out = run(glasshouse(dir)
        .args(["run", "--profile", "host", "--redaction-key"])
        .arg(key)
        .args(extra)
        .arg("--")
        .args(command));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn marker(key: &Path, rule: &str, secret: &str) -> String {
    let key = RedactionKey::load(key).unwrap();
    Redactor::new(Rules::builtin().unwrap(), key).marker(rule, secret.as_bytes())
}

/// The decoded Statement of an envelope file.
fn statement_bytes(envelope: &Path) -> Vec<u8> {
    let env: serde_json::Value = serde_json::from_slice(&std::fs::read(envelope).unwrap()).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap()
}

fn assert_absent(what: &str, haystack: &[u8], canaries: &Canaries) {
    let text = String::from_utf8_lossy(haystack);
    for s in canaries.all() {
        assert!(!text.contains(s), "{s} is in {what}:\n{text}");
    }
}

fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let out = Command::new(common::BIN)
        .current_dir(dir)
        .args(["keygen", "--key", name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir.join(name), dir.join(format!("{name}.pub")))
}

fn verify(dir: &Path, public: &Path, envelope: &Path, extra: &[&str]) -> Output {
    Command::new(common::BIN)
        .current_dir(dir)
        .arg("verify")
        .arg("--key")
        .arg(public)
        .args(extra)
        .arg(envelope)
        .output()
        .unwrap()
}

fn python_verifies(envelope: &Path, public: &Path, predicate_type: &str) {
    let script = repo_root().join("crates/glasshouse-attest/tests/verify_dsse.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(envelope)
        .arg(public)
        .arg(predicate_type)
        .output()
        .expect("python3 (installed by .ci/run)");
    assert!(
        out.status.success() && out.stdout == b"ok\n",
        "independent verification failed ({}): {} (.ci/run installs securesystemslib[crypto] and in-toto-attestation)",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn canaries_of_every_shape_leave_no_trace_and_markers_repeat_per_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap();
    let c = Canaries::new();
    std::fs::create_dir(dir.join(&c.gho)).unwrap();
    std::fs::write(dir.join(&c.gho).join("token_test.go"), "package x\n").unwrap();
    let (sign, public) = keygen(&dir, "signing.key");
    let key1 = dir.join("one.key");
    let command = secret_command(&c, &dir);

    let out = profiled(&dir, &key1, &["--sign-key", "signing.key"], &command);
    assert_absent("glasshouse's stderr", &out.stderr, &c);
    let receipt_bytes = std::fs::read(dir.join("receipt.json")).unwrap();
    assert_absent("the receipt", &receipt_bytes, &c);
    let envelope = dir.join("receipt.json.intoto.jsonl");
    let envelope_bytes = std::fs::read(&envelope).unwrap();
    assert_absent("the envelope", &envelope_bytes, &c);
    assert_absent("the signed Statement", &statement_bytes(&envelope), &c);

    // Each canary became its rule's marker, and the redaction was recorded field by field.
    let text = String::from_utf8_lossy(&receipt_bytes).into_owned();
    for (rule, secret) in [
        ("secret_flag", &c.password),
        ("secret_flag", &c.token),
        ("secret_assignment", &c.env_key),
        ("github_token", &c.ghp),
        ("github_token", &c.gho),
        ("jwt", &c.jwt),
        ("aws_access_key_id", &c.aws_id),
        ("aws_secret_access_key", &c.aws_secret),
        ("slack_token", &c.slack),
        ("anthropic_key", &c.anthropic),
    ] {
        let m = marker(&key1, rule, secret);
        assert!(text.contains(&m), "no {m} for {rule} in {text}");
    }
    let r = read_receipt(&dir.join("receipt.json"));
    let fields = &r["redaction"]["fields"];
    for field in [
        "process_tree[].argv[]",
        "processes[].cmd",
        "filesystem.reads[]",
        "network.attempts[].dst",
    ] {
        assert!(
            fields[field].as_u64().unwrap_or(0) >= 1,
            "{field}: {fields}"
        );
    }
    assert!(r["redaction"]["values_redacted"].as_u64().unwrap() >= 13);
    assert_eq!(
        r["redaction"]["key_id"],
        RedactionKey::load(&key1).unwrap().id()
    );
    // Non-secrets stay as they were.
    assert!(text.contains("\"--verbose\""), "{text}");
    let reads: Vec<&str> = r["filesystem"]["reads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let gho_marker = marker(&key1, "github_token", &c.gho);
    assert!(
        reads.contains(&format!("{}/{gho_marker}/token_test.go", dir.display()).as_str()),
        "{reads:?}"
    );
    assert!(text.contains("token_test.go\""), "{text}");

    // The envelope verifies with glasshouse and with an independent DSSE implementation.
    let ok = verify(&dir, &public, &envelope, &["--require-complete"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    python_verifies(&envelope, &public, Predicate::Receipt.type_uri());
    drop(sign);

    // The same secret under the same key: the same marker. Under another key: another one.
    let again = dir.join("again.json");
    profiled(
        &dir,
        &key1,
        &["--receipt", "again.json"],
        &["true".into(), "--password".into(), c.password.clone()],
    );
    let again = std::fs::read_to_string(again).unwrap();
    assert!(again.contains(&marker(&key1, "secret_flag", &c.password)));
    let key2 = dir.join("two.key");
    profiled(
        &dir,
        &key2,
        &["--receipt", "other.json"],
        &["true".into(), "--password".into(), c.password.clone()],
    );
    let other = std::fs::read_to_string(dir.join("other.json")).unwrap();
    assert!(!other.contains(&c.password));
    assert!(!other.contains(&marker(&key1, "secret_flag", &c.password)));
    assert!(other.contains(&marker(&key2, "secret_flag", &c.password)));
}

#[test]
fn home_is_shown_as_tilde_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap();
    let home = dir.join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("notes.txt"), "x\n").unwrap();
    let key = dir.join("k");
    let out = run(glasshouse(&dir)
        .env("HOME", &home)
        .args([
            "run",
            "--profile",
            "host",
            "--redact-home",
            "--redaction-key",
        ])
        .arg(&key)
        .args(["--", "cat"])
        .arg(home.join("notes.txt")));
    assert_eq!(out.status.code(), Some(0));
    let r = read_receipt(&dir.join("receipt.json"));
    assert_eq!(r["environment"]["home"], "~");
    assert_eq!(r["redaction"]["home_as_tilde"], true);
    let reads = r["filesystem"]["reads"].to_string();
    assert!(reads.contains("\"~/notes.txt\""), "{reads}");
    assert!(!std::fs::read_to_string(dir.join("receipt.json"))
        .unwrap()
        .contains(home.to_str().unwrap()));
}

#[test]
fn envelopes_fail_verify_when_changed_by_another_key_or_unsupported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap();
    let (_, public) = keygen(&dir, "s.key");
    let (_, other_public) = keygen(&dir, "o.key");
    let key = dir.join("rk");
    profiled(
        &dir,
        &key,
        &["--sign-key", "s.key", "--attestation", "runtime-trace"],
        &["cat".into(), "/etc/hostname".into()],
    );
    let envelope = dir.join("receipt.json.intoto.jsonl");
    let ok = verify(&dir, &public, &envelope, &[]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("runtime-trace/v0.2"));
    python_verifies(&envelope, &public, Predicate::RuntimeTrace.type_uri());

    let wrong = verify(&dir, &other_public, &envelope, &[]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not signed by this key"));

    // Bytes flipped across the whole envelope (every byte is covered by the library's tests).
    let bytes = std::fs::read(&envelope).unwrap();
    let changed = dir.join("changed.jsonl");
    let step = (bytes.len() / 40).max(1);
    for i in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        std::fs::write(&changed, &bad).unwrap();
        let out = verify(&dir, &public, &changed, &[]);
        assert_ne!(
            out.status.code(),
            Some(0),
            "byte {i} flipped still verifies"
        );
        assert!(!out.stderr.is_empty(), "no reason given for byte {i}");
    }

    // Signed but not acceptable: an unknown receipt version (3), incomplete coverage (4).
    let signer = Signer::load(&dir.join("s.key")).unwrap();
    let mut receipt =
        Receipt::from_json(&std::fs::read_to_string(dir.join("receipt.json")).unwrap()).unwrap();
    receipt.version = "v1.0.0".into();
    let future = dir.join("future.jsonl");
    let env =
        glasshouse_attest::attest(&signer, &receipt, &["cat".into()], Predicate::Receipt).unwrap();
    std::fs::write(&future, env.to_line().unwrap()).unwrap();
    let out = verify(&dir, &public, &future, &[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("v1.0.0"));

    receipt.version = glasshouse_receipt::SCHEMA_VERSION.into();
    let mut coverage = SensorCoverage::default();
    coverage.complete = false;
    receipt.sensor = Some(coverage);
    let incomplete = dir.join("incomplete.jsonl");
    let env =
        glasshouse_attest::attest(&signer, &receipt, &["cat".into()], Predicate::Receipt).unwrap();
    std::fs::write(&incomplete, env.to_line().unwrap()).unwrap();
    assert_eq!(
        verify(&dir, &public, &incomplete, &[]).status.code(),
        Some(0)
    );
    let out = verify(&dir, &public, &incomplete, &["--require-complete"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("incomplete"));

    let missing = verify(&dir, &dir.join("nope.pub"), &envelope, &[]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn bad_redaction_and_signing_options_refuse_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("rules.toml"),
        "[[pattern]]\nname = \"x\"\nregex = \"(\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("not-a-key"), "hello").unwrap();
    for (args, says) in [
        (
            &["--redaction-key", "rk", "--redaction-rules", "rules.toml"][..],
            "does not compile",
        ),
        (
            &["--redaction-key", "rk", "--sign-key", "not-a-key"],
            "not an Ed25519 private key",
        ),
        (&["--redaction-key", "not-a-key"], "chmod 600"),
    ] {
        std::fs::set_permissions(
            dir.join("not-a-key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        let out = glasshouse(dir)
            .args(["run", "--profile", "host"])
            .args(args)
            .args(["--", "touch", "ran"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            !dir.join("ran").exists(),
            "the command ran despite {args:?}"
        );
    }
}

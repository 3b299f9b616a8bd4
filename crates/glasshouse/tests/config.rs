//! End-to-end tests of configuration and policy: `GLASSHOUSE_BPF_DIR`, `GLASSHOUSE_CAPTURE_ARGV`,
//! `GLASSHOUSE_KEEP_PROGRAMS`, `run --policy` / `--enforce-exit`, `policy check`, and a snapshot
//! of a whole receipt of a program that does known things, with its volatile fields masked.
//! These load real eBPF.

mod common;

use common::{compile_c, glasshouse, read_receipt, repo_root};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// Runs a glasshouse command to the end; the sensor must have started.
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

/// A JSON array of strings as strings.
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn bpf_dir_with_the_object_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    std::fs::create_dir(&objects).unwrap();
    std::fs::copy(
        repo_root().join("crates/glasshouse-sensor/bpf/glasshouse.bpf.o"),
        objects.join("glasshouse.bpf.o"),
    )
    .unwrap();
    let out = run(glasshouse(dir.path())
        .env("GLASSHOUSE_BPF_DIR", &objects)
        .args(["run", "--profile", "host", "-q", "--", "true"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = read_receipt(&dir.path().join("receipt.json"));
    assert_eq!(r["sensor"]["kind"], "ebpf");
    assert_eq!(r["sensor"]["complete"], true);
}

#[test]
fn bpf_dir_without_the_object_exits_124_and_does_not_run_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = glasshouse(dir.path())
        .env("GLASSHOUSE_BPF_DIR", dir.path())
        .args(["run", "--profile", "host", "--", "touch", "marker"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(124));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("glasshouse.bpf.o") && stderr.contains("GLASSHOUSE_BPF_DIR"),
        "{stderr}"
    );
    assert!(!dir.path().join("marker").exists());
    assert!(!dir.path().join("receipt.json").exists());
}

#[test]
fn unknown_setting_values_exit_125() {
    for variable in ["GLASSHOUSE_CAPTURE_ARGV", "GLASSHOUSE_KEEP_PROGRAMS"] {
        let dir = tempfile::tempdir().unwrap();
        let out = glasshouse(dir.path())
            .env(variable, "sometimes")
            .args(["run", "--profile", "host", "--", "touch", "marker"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{variable}: {stderr}");
        assert!(stderr.contains(variable), "{stderr}");
        assert!(!dir.path().join("marker").exists());
    }
}

#[test]
fn capture_argv_force_captures_on_native_linux() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(glasshouse(dir.path())
        .env("GLASSHOUSE_CAPTURE_ARGV", "force")
        .args(["run", "--profile", "host", "-q", "--", "echo", "forced"]));
    assert!(out.status.success());
    let r = read_receipt(&dir.path().join("receipt.json"));
    assert_eq!(r["sensor"]["argv_capture"]["requested"], "force");
    assert_eq!(r["sensor"]["argv_capture"]["captured"], true);
    assert_eq!(strings(&r["process_tree"][0]["argv"]), ["echo", "forced"]);
}

const DENY_SECRET: &str = r#"
version = 1
default = "allow"

[[rule]]
name = "no-secrets"
effect = "deny"
action = "read"
target = "${CWD}/secret*"
reason = "the secret is off limits"
"#;

/// A temporary directory holding `policy.toml` ([`DENY_SECRET`]) and the `secret.txt` it denies.
fn policy_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.toml"), DENY_SECRET).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "s3cr3t").unwrap();
    dir
}

/// Runs `glasshouse run --profile host -q --policy policy.toml FLAGS -- CMD` in `dir`.
fn run_with_policy(dir: &Path, flags: &[&str], cmd: &[&str]) -> Output {
    run(glasshouse(dir)
        .args(["run", "--profile", "host", "-q", "--policy", "policy.toml"])
        .args(flags)
        .arg("--")
        .args(cmd))
}

#[test]
fn run_with_policy_records_violations_and_keeps_the_exit_code() {
    let dir = policy_dir();
    let out = run_with_policy(dir.path(), &[], &["sh", "-c", "cat secret.txt; exit 4"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "the command's exit code stays the exit code"
    );
    assert_eq!(
        out.stdout, b"s3cr3t",
        "evaluation changes nothing the command does"
    );
    let r = read_receipt(&dir.path().join("receipt.json"));
    let secret = std::fs::canonicalize(dir.path())
        .unwrap()
        .join("secret.txt");
    let secret = secret.to_str().unwrap();
    assert!(
        strings(&r["filesystem"]["reads"]).contains(&secret.to_owned()),
        "the read is still recorded"
    );
    assert_eq!(r["policy"]["verdict"], "fail");
    let violations = r["filesystem"]["policy_violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0]["action"], "read");
    assert_eq!(violations[0]["target"], secret);
    assert_eq!(violations[0]["rule"], "no-secrets");
    assert_eq!(violations[0]["reason"], "the secret is off limits");
    assert_eq!(
        r["policy"]["violations"],
        r["filesystem"]["policy_violations"]
    );

    // The same verdict from the stand-alone checker.
    let check = glasshouse(dir.path())
        .args(["policy", "check", "--policy", "policy.toml", "receipt.json"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    let line = String::from_utf8_lossy(&check.stdout);
    assert!(
        line.contains("read") && line.contains(secret) && line.contains("no-secrets"),
        "{line}"
    );
}

#[test]
fn enforce_exit_makes_a_violation_exit_122() {
    let dir = policy_dir();
    let out = run_with_policy(dir.path(), &["--enforce-exit"], &["cat", "secret.txt"]);
    assert_eq!(out.status.code(), Some(122));
    let clean = run_with_policy(dir.path(), &["--enforce-exit"], &["true"]);
    assert_eq!(clean.status.code(), Some(0));
    assert_eq!(
        read_receipt(&dir.path().join("receipt.json"))["policy"]["verdict"],
        "pass"
    );
}

#[test]
fn broken_policy_exits_125_names_the_place_and_does_not_run_the_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.toml"), "version = 1\ndefault = \"allow\"\n[[rule]]\neffect = \"deny\"\naction = \"teleport\"\ntarget = \"*\"\nreason = \"x\"\n").unwrap();
    let out = glasshouse(dir.path())
        .args([
            "run",
            "--profile",
            "host",
            "--policy",
            "policy.toml",
            "--",
            "touch",
            "marker",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("policy.toml:5:"), "{stderr}");
    assert!(!dir.path().join("marker").exists());
}

/// Replaces what changes from run to run (ids, pids, times, the temp dir, machine facts).
fn mask(mut r: Value, dir: &str) -> Value {
    for key in ["execution_id", "timestamp"] {
        r[key] = Value::from(format!("[{key}]"));
    }
    r["timing"] = Value::from("[timing]");
    r["duration_ms"] = Value::from("[duration_ms]");
    r["resources"] = Value::from("[resources]");
    r["environment"]["kernel"] = Value::from("[kernel]");
    r["environment"]["home"] = Value::from("[home]");
    // Root's supplementary groups depend on how the test was started.
    r["execution"]["user"]["groups"] = Value::from("[groups]");
    r["sensor"]["linger_ms"] = Value::from("[linger_ms]");
    // The redaction key is per installation; the rules' digest changes with the rules.
    r["redaction"]["key_id"] = Value::from("[key_id]");
    r["redaction"]["rules_digest"] = Value::from("[rules_digest]");
    // Which syscalls a static binary makes is the C library's business; that they are counted is
    // asserted elsewhere.
    r["syscalls"]["counts"] = Value::from("[counts]");
    for list in ["process_tree", "processes"] {
        for p in r[list].as_array_mut().unwrap() {
            p["pid"] = Value::from("[pid]");
            p["ppid"] = Value::from("[ppid]");
        }
    }
    // Descriptors past stdio that the test process itself inherited depend on who runs it.
    if let Some(handed) = r["filesystem"]["descriptors"].as_array_mut() {
        handed.retain(|d| d["fd"].as_i64().is_some_and(|fd| fd < 3));
        for d in handed {
            d["pid"] = Value::from("[pid]");
        }
    }
    let text = serde_json::to_string(&r).unwrap().replace(dir, "[dir]");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn receipt_of_a_known_program_matches_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    compile_c(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs_config/known.c"),
        &root.join("known"),
        &["-O2", "-static"],
        &[],
    );
    std::fs::create_dir(root.join("in")).unwrap();
    std::fs::create_dir(root.join("out")).unwrap();
    std::fs::write(root.join("in/input.txt"), "input\n").unwrap();
    std::fs::write(root.join("out/scratch.txt"), "scratch\n").unwrap();
    let out = run(glasshouse(&root).args(["run", "--profile", "host", "-q", "--", "./known"]));
    assert_eq!(out.status.code(), Some(3));
    let r = read_receipt(&root.join("receipt.json"));
    insta::assert_json_snapshot!("known_program_receipt", mask(r, root.to_str().unwrap()));
}

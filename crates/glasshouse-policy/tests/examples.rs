//! The example policies in `examples/policies/` load, and judge a hand-built receipt as documented.

mod common;

use common::{attempt, paths, process, receipt_at_work};
use glasshouse_policy::{Action, Context, Effect, Policy};
use glasshouse_receipt::{PolicyViolation, Receipt};
use sha2::Digest as _;

const CODING_AGENT: &[u8] = include_bytes!("../../../examples/policies/coding-agent.toml");
const CI_JOB: &[u8] = include_bytes!("../../../examples/policies/ci-job.toml");

/// A run that did a bit of everything, good and bad. `${CWD}` is /work, `${HOME}` /home/ada.
fn busy_receipt() -> Receipt {
    let mut r = receipt_at_work();
    r.process_tree = vec![
        process(100, b"/usr/bin/bash", &[]),
        process(101, b"/usr/bin/cargo", &[]),
        process(102, b"/usr/bin/curl", &[]),
        process(103, b"/usr/bin/nc.openbsd", &[]),
        process(104, b"/usr/bin/ncursesw6-config", &[]),
    ];
    r.filesystem.reads = paths(&[
        "/etc/hosts",
        "/home/ada/.ssh/id_ed25519",
        "/work/.env",
        "/work/src/main.rs",
    ]);
    r.filesystem.writes = paths(&[
        "/dev/null",
        "/etc/passwd",
        "/home/ada/.bashrc",
        "/home/ada/.cache/pip/x",
        "/tmp/scratch",
        "/work/.git/hooks/pre-commit",
        "/work/target/debug/app",
    ]);
    r.filesystem.deletes = paths(&["/home/ada/notes", "/work/old.txt"]);
    r.network.attempts = vec![
        attempt("127.0.0.53:53", "udp"),
        attempt("[::1]:8080", "tcp"),
        attempt("10.0.0.5:5432", "tcp"),
        attempt("169.254.169.254:80", "tcp"),
        attempt("93.184.216.34:443", "tcp"),
        attempt("/run/docker.sock", "unix"),
        attempt("/tmp/test.sock", "unix"),
        attempt("@abstract", "unix"),
    ];
    r
}

fn violation(action: &str, target: &str, rule: &str, reason: &str) -> PolicyViolation {
    PolicyViolation::new(action, target, rule, reason)
}

const DEFAULT_DENY: &str = "no rule allows this and the policy's default is deny";

#[test]
fn coding_agent_policy() {
    let policy = Policy::parse(CODING_AGENT, "coding-agent.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.default_effect(), Effect::Deny);
    assert_eq!(policy.digest(), hex_sha256(CODING_AGENT));

    let verdict = policy.evaluate(&busy_receipt());
    let docker = "the Docker socket is root on the host";
    let expected = vec![
        violation("connect", "/run/docker.sock", "docker", docker),
        violation("connect", "10.0.0.5:5432", "default", DEFAULT_DENY),
        violation("connect", "169.254.169.254:80", "default", DEFAULT_DENY),
        violation("connect", "93.184.216.34:443", "default", DEFAULT_DENY),
        violation("connect", "@abstract", "default", DEFAULT_DENY),
        violation("delete", "/home/ada/notes", "default", DEFAULT_DENY),
        violation(
            "exec",
            "/usr/bin/curl",
            "no-curl",
            "downloads must go through reviewed dependency manifests, not curl",
        ),
        violation(
            "exec",
            "/usr/bin/nc.openbsd",
            "no-netcat-variants",
            "netcat (nc.openbsd, nc.traditional) opens raw connections and reverse shells",
        ),
        violation(
            "read",
            "/home/ada/.ssh/id_ed25519",
            "ssh-keys",
            "SSH keys and known hosts are credentials",
        ),
        violation(
            "read",
            "/work/.env",
            "dotenv",
            ".env files hold application secrets",
        ),
        violation("write", "/etc/passwd", "default", DEFAULT_DENY),
        violation("write", "/home/ada/.bashrc", "default", DEFAULT_DENY),
        violation(
            "write",
            "/work/.git/hooks/pre-commit",
            "git-hooks",
            "git hooks run later, outside any sandbox",
        ),
    ];
    assert_eq!(verdict.violations, expected);
    assert!(!verdict.passed());

    let explanation = policy.explain(
        Action::Read,
        b"/home/ada/.ssh/id_ed25519",
        &Context::from_receipt(&busy_receipt()),
    );
    assert_eq!(explanation.decision.rule, "ssh-keys");
    let text = explanation.to_string();
    assert!(text.contains("read-anything"), "{text}");
    assert!(text.contains("severity critical"), "{text}");
}

#[test]
fn ci_job_policy() {
    let policy = Policy::parse(CI_JOB, "ci-job.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.default_effect(), Effect::Allow);
    assert_eq!(policy.digest(), hex_sha256(CI_JOB));

    let mut receipt = busy_receipt();
    receipt.filesystem.reads.push("/proc/4242/environ".into());
    receipt.filesystem.reads.push("/proc/self/environ".into());
    let verdict = policy.evaluate(&receipt);
    let private = "the build has no business on the private network";
    let expected = vec![
        violation(
            "connect",
            "/run/docker.sock",
            "docker-socket",
            "the Docker socket is root on the runner",
        ),
        violation("connect", "10.0.0.5:5432", "private-10", private),
        violation(
            "connect",
            "169.254.169.254:80",
            "metadata-v4",
            "the cloud metadata service hands out the runner's credentials",
        ),
        violation(
            "read",
            "/home/ada/.ssh/id_ed25519",
            "runner-ssh",
            "the runner's SSH keys must never reach a build",
        ),
        violation(
            "read",
            "/proc/4242/environ",
            "other-processes",
            "other processes' environments hold CI secrets",
        ),
        violation(
            "write",
            "/etc/passwd",
            "system-config",
            "a build must not change the runner's configuration",
        ),
        violation(
            "write",
            "/home/ada/.bashrc",
            "shell-startup",
            "shell startup files persist code into later jobs",
        ),
    ];
    assert_eq!(verdict.violations, expected);
}

#[test]
fn every_example_rule_is_named_and_has_a_reason() {
    for (name, bytes) in [("coding-agent.toml", CODING_AGENT), ("ci-job.toml", CI_JOB)] {
        let policy = Policy::parse(bytes, name).unwrap_or_else(|e| panic!("{e}"));
        assert!(policy.description().is_some(), "{name} has a description");
        for rule in policy.rules() {
            assert!(
                rule.name().is_some(),
                "{name}: rule[{}] has a name",
                rule.number()
            );
            assert!(
                !rule.reason().is_empty(),
                "{name}: {} has a reason",
                rule.label()
            );
        }
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

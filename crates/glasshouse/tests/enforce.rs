//! `run --policy FILE --enforce` under `--backend namespace`: real namespaces, real Landlock,
//! real BPF. Each test runs a shell script that tries a few known things, then checks that the
//! sandbox refused exactly what the policy's enforced rules deny, that the receipt records the
//! refusals with their errno, and that its `enforcement` section lists every rule with how it
//! was applied and what it matched. On a kernel whose Landlock is older than ABI 3 the
//! Landlock-based rules must say so instead. Network traffic goes only to servers on this
//! machine's loopback that the test starts itself.

mod common;

use common::canonical;
use serde_json::Value;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

fn landlock() -> bool {
    glasshouse_backend::landlock_abi() >= glasshouse_backend::LANDLOCK_MIN_ABI
}

/// Runs `sh -c script` in `dir` under the namespace backend with `policy` enforced.
fn run_enforced(dir: &Path, policy: &str, args: &[&str], script: &str) -> (Output, Value) {
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, policy).unwrap();
    let policy_arg = policy_path.to_str().expect("a UTF-8 temporary path");
    let mut all = vec!["--policy", policy_arg, "--enforce"];
    all.extend_from_slice(args);
    common::run_ns(dir, &all, script)
}

/// The enforcement entry of rule `label` for `action`.
fn entry<'a>(r: &'a Value, label: &str, action: &str) -> &'a Value {
    r["enforcement"]["rules"]
        .as_array()
        .expect("enforcement.rules")
        .iter()
        .find(|e| e["rule"] == label && e["action"] == action)
        .unwrap_or_else(|| panic!("no entry {label}/{action}: {:#}", r["enforcement"]))
}

fn examples(e: &Value, list: &str) -> Vec<String> {
    e[list]["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect()
}

fn failed_with(r: &Value, target: &Path) -> Vec<Value> {
    r["filesystem"]["failed"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter(|f| f["target"] == target.to_str().unwrap())
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn violated(r: &Value, rule: &str, target: &Path) -> bool {
    r["policy"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["rule"] == rule && v["target"] == target.to_str().unwrap())
}

const EVERYTHING_BUT_WRITES: &str = r#"
[[rule]]
effect = "allow"
action = "exec"
target = "**"

[[rule]]
effect = "allow"
action = "read"
target = "**"

[[rule]]
effect = "allow"
action = "delete"
target = "**"

[[rule]]
effect = "allow"
action = "connect"
target = "*"
"#;

#[test]
fn writes_outside_the_allowed_trees_are_refused_by_landlock_and_listed_as_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let work = canonical(dir.path());
    let out_dir = tempfile::tempdir().unwrap();
    let out_dir = canonical(out_dir.path());
    std::fs::create_dir(work.join("keep")).unwrap();
    let policy = format!(
        r#"version = 1
default = "deny"
{EVERYTHING_BUT_WRITES}
[[rule]]
name = "work"
effect = "allow"
action = "write"
target = "${{CWD}}/**"

[[rule]]
name = "devices"
effect = "allow"
action = "write"
target = "/dev/**"

[[rule]]
name = "keep"
effect = "deny"
action = "write"
target = "${{CWD}}/keep/**"
reason = "kept as it is"

[[rule]]
name = "logs"
effect = "deny"
action = "write"
target = "${{CWD}}/*.log"
reason = "no logs"
"#
    );
    let outside = out_dir.join("outside.txt");
    let script = format!(
        "echo a > inside.txt; echo b > {}; echo c > keep/x; echo d > run.log; echo done",
        outside.display()
    );
    let (out, r) = run_enforced(
        &work,
        &policy,
        &["--rw", out_dir.to_str().unwrap()],
        &script,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("done"));
    assert!(work.join("inside.txt").exists());
    // The glob inside an allowed tree is not expressible: the write happens, and the
    // evaluation still finds it.
    assert!(work.join("run.log").exists());
    let logs = entry(&r, "logs", "write");
    assert_eq!(logs["status"], "evaluated_only", "{logs}");
    assert!(
        violated(&r, "logs", &work.join("run.log")),
        "{:#}",
        r["policy"]
    );
    assert_eq!(
        examples(logs, "matched"),
        [work.join("run.log").to_str().unwrap()]
    );
    // The denied tree inside the working directory is a read-only mount, with or without
    // Landlock.
    let keep = entry(&r, "keep", "write");
    let keep_x = work.join("keep/x");
    assert!(!keep_x.exists());
    assert_eq!(
        (keep["status"].as_str(), keep["mechanism"].as_str()),
        (Some("enforced"), Some("ro-mount")),
        "{keep}"
    );
    let refused = failed_with(&r, &keep_x);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["error"], "EROFS");
    assert_eq!(keep["failed"]["count"], 1, "{keep}");
    assert!(examples(keep, "failed")[0].starts_with(keep_x.to_str().unwrap()));
    if landlock() {
        // Landlock refuses the --rw directory the policy does not allow.
        assert!(
            !outside.exists(),
            "the write outside the allowed trees went through"
        );
        let refused = failed_with(&r, &outside);
        assert_eq!(refused.len(), 1, "{:#}", r["filesystem"]["failed"]);
        assert_eq!(refused[0]["error"], "EACCES");
        assert!(r["syscalls"]["denied"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["target"] == outside.to_str().unwrap()));
        let default = entry(&r, "default", "write");
        assert_eq!(
            (default["status"].as_str(), default["mechanism"].as_str()),
            (Some("enforced"), Some("landlock")),
            "{default}"
        );
        assert_eq!(
            examples(default, "failed"),
            [format!("{} (openat EACCES)", outside.display())]
        );
        let allowed = entry(&r, "work", "write");
        assert_eq!(allowed["status"], "enforced");
        assert!(
            examples(allowed, "matched").contains(&work.join("inside.txt").display().to_string())
        );
        assert!(r["execution"]["isolation"]
            .as_str()
            .unwrap()
            .contains("landlock"));
    } else {
        // Without Landlock the allow-list is only evaluated, and says why.
        assert!(outside.exists());
        for label in ["work", "default"] {
            let e = entry(&r, label, "write");
            assert_eq!(e["status"], "evaluated_only", "{e}");
            assert!(e["reason"].as_str().unwrap().contains("ABI"), "{e}");
        }
        assert!(violated(&r, "default", &outside));
    }
    // Recording is the same either way: every write that happened is in the receipt.
    let writes: Vec<&str> = r["filesystem"]["writes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(writes.contains(&work.join("inside.txt").to_str().unwrap()));
    assert!(writes.contains(&work.join("run.log").to_str().unwrap()));
    assert_eq!(r["enforcement"]["digest"], r["policy"]["digest"]);
}

#[test]
fn with_a_default_of_allow_denied_paths_are_mounted_read_only_or_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let work = canonical(dir.path());
    std::fs::create_dir(work.join("keep")).unwrap();
    std::fs::write(work.join("key.pem"), "not a real key\n").unwrap();
    // Outside /tmp: the sandbox's /tmp is its own, so a host path there has nothing to hide.
    let secrets = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let secrets = canonical(secrets.path());
    std::fs::write(secrets.join("token"), "s3cret\n").unwrap();
    let policy = format!(
        r#"version = 1
default = "allow"

[[rule]]
name = "keep"
effect = "deny"
action = "write"
target = "${{CWD}}/keep/**"
reason = "kept as it is"

[[rule]]
name = "secrets"
effect = "deny"
action = "read"
target = "{}/**"
reason = "secrets"

[[rule]]
name = "pem"
effect = "deny"
action = "read"
target = "*.pem"
reason = "keys"
"#,
        secrets.display()
    );
    let script = format!(
        "cat {}/token; echo cat=$?; cat key.pem; echo c > keep/x; echo write=$?",
        secrets.display()
    );
    let (out, r) = run_enforced(&work, &policy, &[], &script);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("cat=1"), "{text}");
    assert!(text.contains("not a real key"), "{text}");
    assert!(text.contains("write=2"), "{text}");
    let secrets_entry = entry(&r, "secrets", "read");
    assert_eq!(
        (
            secrets_entry["status"].as_str(),
            secrets_entry["mechanism"].as_str()
        ),
        (Some("enforced"), Some("hidden")),
        "{secrets_entry}"
    );
    let token = secrets.join("token");
    let lookups = failed_with(&r, &token);
    assert_eq!(lookups.len(), 1, "{:#}", r["filesystem"]["failed"]);
    assert_eq!(lookups[0]["error"], "ENOENT");
    assert_eq!(
        r["environment"]["sandbox"]["hidden"][0],
        secrets.to_str().unwrap()
    );
    let pem = entry(&r, "pem", "read");
    assert_eq!(pem["status"], "evaluated_only", "{pem}");
    assert!(pem["reason"].as_str().unwrap().contains("glob"), "{pem}");
    assert!(violated(&r, "pem", &work.join("key.pem")));
    assert_eq!(
        examples(pem, "matched"),
        [work.join("key.pem").to_str().unwrap()]
    );
    let keep = entry(&r, "keep", "write");
    assert_eq!(keep["mechanism"], "ro-mount", "{keep}");
    assert_eq!(failed_with(&r, &work.join("keep/x"))[0]["error"], "EROFS");
    let allow_default = entry(&r, "default", "read");
    assert_eq!(allow_default["status"], "evaluated_only");
    assert!(allow_default["matched"]["count"].as_u64().unwrap() > 0);
}

/// A loopback HTTP server answering one request with `body`.
fn http_server(body: &'static str) -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
        }
        let mut s = s;
        write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        first.trim_end().to_owned()
    });
    (port, handle)
}

#[test]
fn connect_rules_are_enforced_by_the_proxy_on_every_address_it_connects_to() {
    let dir = tempfile::tempdir().unwrap();
    let work = canonical(dir.path());
    let (port, server) = http_server("allowed by the policy");
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let other_port = other.local_addr().unwrap().port();
    let policy = format!(
        r#"version = 1
default = "allow"

[[rule]]
name = "test-server"
effect = "allow"
action = "connect"
target = "127.0.0.1:{port}"

[[rule]]
name = "no-other-loopback"
effect = "deny"
action = "connect"
target = "127.0.0.1:{other_port}"
reason = "only the test server"

[[rule]]
name = "sockets"
effect = "deny"
action = "connect"
target = "/run/**"
reason = "no local daemons"
"#
    );
    let script = format!(
        "curl -sS http://127.0.0.1:{port}/ok; echo; \
         curl -sS -o /dev/null -w 'other=%{{http_code}}\\n' http://127.0.0.1:{other_port}/"
    );
    let (out, r) = run_enforced(
        &work,
        &policy,
        &["--network", "proxy", "--proxy-allow-private"],
        &script,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("allowed by the policy"), "{text}");
    assert!(text.contains("other=403"), "{text}");
    assert_eq!(server.join().unwrap(), "GET /ok HTTP/1.1");
    assert!(other.accept().is_err(), "the denied server was reached");
    let proxied = r["network"]["proxied"].as_array().unwrap();
    assert_eq!(proxied.len(), 2, "{proxied:#?}");
    assert_eq!(proxied[0]["decision"], "allowed");
    assert_eq!(proxied[0]["rule"], "policy:test-server");
    assert_eq!(proxied[1]["decision"], "denied");
    assert_eq!(proxied[1]["rule"], "policy:no-other-loopback");
    let denied = entry(&r, "no-other-loopback", "connect");
    assert_eq!(
        (denied["status"].as_str(), denied["mechanism"].as_str()),
        (Some("enforced"), Some("proxy")),
        "{denied}"
    );
    assert_eq!(
        examples(denied, "failed"),
        [format!("127.0.0.1:{other_port} (127.0.0.1:{other_port})")]
    );
    let sockets = entry(&r, "sockets", "connect");
    assert_eq!(sockets["status"], "evaluated_only");
    assert!(sockets["reason"].as_str().unwrap().contains("unix socket"));
}

#[test]
fn enforce_is_refused_where_it_cannot_apply_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "version = 1\ndefault = \"deny\"\n[[rule]]\neffect = \"allow\"\naction = \"read\"\ntarget = \"/usr/**/*.so\"\n",
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--backend", "namespace", "--enforce"],
            "--enforce needs --policy FILE",
        ),
        (
            vec!["--policy", policy, "--enforce"],
            "--enforce needs --backend namespace",
        ),
    ];
    // An allow-list entry Landlock cannot grant (only where Landlock limits reads at all).
    if landlock() {
        cases.push((
            vec!["--backend", "namespace", "--policy", policy, "--enforce"],
            "enforcing the policy would refuse what the rule allows",
        ));
    }
    common::assert_refused_before_running(dir.path(), &cases);
}

//! `--backend namespace`: real namespaces, real BPF. Each test runs a shell script that does a
//! few known things inside the sandbox and checks that the sandbox allowed or refused exactly
//! those, and that the receipt records them. Network traffic goes only to servers on this
//! machine's loopback that the test starts itself.

mod common;

use common::{glasshouse, read_receipt};
use serde_json::Value;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::thread::JoinHandle;

use common::run_ns;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failed(receipt: &Value) -> &Vec<Value> {
    receipt["filesystem"]["failed"]
        .as_array()
        .expect("failed list")
}

/// A loopback HTTP server answering `count` requests with `body`; returns the request lines.
fn http_server(count: usize, body: &'static str) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for _ in 0..count {
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
            lines.push(first.trim_end().to_owned());
            let mut s = s;
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        }
        lines
    });
    (port, handle)
}

#[test]
fn without_network_a_connect_to_the_hosts_loopback_fails_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (out, r) = run_ns(
        dir.path(),
        &["--network", "none"],
        &format!("curl -sS --max-time 5 http://127.0.0.1:{port}/; echo curl=$?"),
    );
    assert!(stdout(&out).contains("curl=7"), "{}", stdout(&out));
    assert!(
        listener.accept().is_err(),
        "the host's server must not have been reached"
    );
    let attempts = r["network"]["attempts"].as_array().unwrap();
    let dst = format!("127.0.0.1:{port}");
    assert!(
        attempts
            .iter()
            .any(|a| a["dst"] == dst.as_str() && a["result"] == "refused"),
        "{attempts:#?}"
    );
    assert_eq!(r["environment"]["sandbox"]["network"], "none");
    let isolation = r["execution"]["isolation"].as_str().unwrap();
    for part in ["mount", "pid", "net", "ro-root"] {
        assert!(isolation.split(',').any(|p| p == part), "{isolation}");
    }
    assert_eq!(r["execution"]["backend"], "namespace");
}

#[test]
fn without_network_name_resolution_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (out, r) = run_ns(
        dir.path(),
        &[],
        "getent hosts glasshouse-test.invalid; echo getent=$?",
    );
    assert!(stdout(&out).contains("getent=2"), "{}", stdout(&out));
    assert_eq!(r["exit_code"], 0);
    let attempts = r["network"]["attempts"].as_array().unwrap();
    assert!(
        !attempts
            .iter()
            .any(|a| a["protocol"] == "udp" && a["result"] == "sent"),
        "no query may leave the sandbox: {attempts:#?}"
    );
}

#[test]
fn through_the_proxy_allowed_hosts_answer_and_denied_ones_are_refused_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (port, server) = http_server(2, "from the host");
    let script = format!(
        "curl -sS http://localhost:{port}/plain; echo; \
         curl -sS -p http://localhost:{port}/tunnel; echo; \
         curl -sS -o /dev/null -w 'denied=%{{http_code}}\\n' http://blocked.localhost:{port}/"
    );
    let (out, r) = run_ns(
        dir.path(),
        &[
            "--network",
            "proxy",
            "--allow-host",
            "localhost",
            "--proxy-allow-private",
        ],
        &script,
    );
    let text = stdout(&out);
    assert_eq!(text.matches("from the host").count(), 2, "{text}");
    assert!(text.contains("denied=403"), "{text}");
    assert_eq!(
        server.join().unwrap(),
        ["GET /plain HTTP/1.1", "GET /tunnel HTTP/1.1"]
    );
    let proxied = r["network"]["proxied"].as_array().unwrap();
    assert_eq!(proxied.len(), 3, "{proxied:#?}");
    for (p, protocol) in proxied[..2].iter().zip(["http", "connect"]) {
        assert_eq!(p["protocol"], protocol);
        assert_eq!(p["host"], "localhost");
        assert_eq!(p["port"], port);
        assert_eq!(p["decision"], "allowed");
        assert_eq!(p["rule"], "localhost");
        assert!(p["bytes_sent"].as_u64().unwrap() > 0, "{p}");
        assert!(
            p["bytes_received"].as_u64().unwrap() > "from the host".len() as u64,
            "{p}"
        );
    }
    let denied = &proxied[2];
    assert_eq!(
        (denied["host"].as_str(), denied["decision"].as_str()),
        (Some("blocked.localhost"), Some("denied"))
    );
    assert!(denied["reason"]
        .as_str()
        .unwrap()
        .contains("no allowed host pattern"));
    assert_eq!(denied["bytes_received"], 0);
    assert_eq!(r["environment"]["sandbox"]["network"], "proxy");
}

#[test]
fn the_proxy_refuses_loopback_destinations_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (out, r) = run_ns(
        dir.path(),
        &["--network", "proxy", "--allow-host", "localhost"],
        &format!("curl -sS -o /dev/null -w '%{{http_code}}\\n' http://localhost:{port}/"),
    );
    assert_eq!(stdout(&out).trim(), "403");
    assert!(listener.accept().is_err());
    let p = &r["network"]["proxied"][0];
    assert_eq!(p["decision"], "denied");
    assert!(p["reason"].as_str().unwrap().contains("loopback"), "{p}");
}

#[test]
fn the_root_is_read_only_the_working_directory_and_tmp_writable_and_hidden_paths_absent() {
    let dir = tempfile::tempdir().unwrap();
    let secret_dir = tempfile::tempdir().unwrap();
    std::fs::write(secret_dir.path().join("secret"), "s3cret").unwrap();
    let secret = secret_dir.path().join("secret");
    let script = format!(
        "echo no > /etc/glasshouse-sandbox-test; echo etc=$?; \
         echo yes > here.txt; echo cwd=$?; \
         echo tmp > /tmp/t.txt; echo tmp=$?; \
         cat {secret}; echo hidden=$?; \
         ls /run/glasshouse 2>/dev/null | wc -l",
        secret = secret.display()
    );
    let (out, r) = run_ns(
        dir.path(),
        &["--hide", secret_dir.path().to_str().unwrap()],
        &script,
    );
    let text = stdout(&out);
    for expected in ["etc=2", "cwd=0", "tmp=0", "hidden=1"] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    assert!(!text.contains("s3cret"));
    assert_eq!(
        text.lines().last(),
        Some("0"),
        "/run/glasshouse shows nothing: {text}"
    );
    assert!(!Path::new("/etc/glasshouse-sandbox-test").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("here.txt")).unwrap(),
        "yes\n"
    );
    assert!(
        !Path::new("/tmp/t.txt").exists(),
        "the sandbox's /tmp is its own"
    );

    let failures = failed(&r);
    let erofs = failures
        .iter()
        .find(|f| f["target"] == "/etc/glasshouse-sandbox-test")
        .unwrap_or_else(|| panic!("{failures:#?}"));
    assert_eq!(erofs["error"], "EROFS");
    assert!(
        failures
            .iter()
            .any(|f| f["target"] == secret.to_str().unwrap() && f["error"] == "ENOENT"),
        "{failures:#?}"
    );
    let writes: Vec<&str> = r["filesystem"]["writes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let here = common::canonical(dir.path()).join("here.txt");
    assert!(writes.contains(&here.to_str().unwrap()), "{writes:?}");
    assert!(writes.contains(&"/tmp/t.txt"), "{writes:?}");
    let sandbox = &r["environment"]["sandbox"];
    assert!(sandbox["writable"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w == "/tmp"));
    assert_eq!(
        sandbox["hidden"][0],
        common::canonical(secret_dir.path()).to_str().unwrap()
    );
}

#[test]
fn the_command_cannot_load_bpf_mount_or_trace() {
    let dir = tempfile::tempdir().unwrap();
    let probe = [
        "import ctypes, os",
        "libc = ctypes.CDLL(None, use_errno=True)",
        "for name, nr in (('bpf', 321), ('ptrace', 101), ('setns', 308)):",
        "    rc = libc.syscall(nr, 0, 0, 0, 0)",
        "    print(name, rc, os.strerror(ctypes.get_errno()))",
    ];
    std::fs::write(dir.path().join("probe.py"), probe.join("\n") + "\n").unwrap();
    let script = "/usr/bin/python3 probe.py; mount -t tmpfs none /mnt 2>/dev/null; echo mount=$?";
    let (out, r) = run_ns(dir.path(), &[], script);
    let text = stdout(&out);
    for name in ["bpf", "ptrace", "setns"] {
        assert!(
            text.contains(&format!("{name} -1 Operation not permitted")),
            "{text}"
        );
    }
    assert!(!text.contains("mount=0"), "{text}");
    let isolation = r["execution"]["isolation"].as_str().unwrap();
    assert!(isolation.split(',').any(|p| p == "seccomp"), "{isolation}");
}

#[test]
fn under_sudo_the_command_runs_as_the_invoking_user() {
    let dir = tempfile::tempdir().unwrap();
    // The working directory must be reachable for that user.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let receipt = dir.path().join("receipt.json");
    let out = glasshouse(dir.path())
        .args([
            "run",
            "--profile",
            "host",
            "--quiet",
            "--backend",
            "namespace",
            "--receipt",
        ])
        .arg(&receipt)
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .args(["--", "sh", "-c", "id -u; id -g; touch mine"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "65534\n65534\n", "{out:?}");
    let meta = std::fs::metadata(dir.path().join("mine")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65534);
    read_receipt(&receipt);
}

#[test]
fn killing_the_parent_from_inside_is_harmless_and_the_receipt_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (out, r) = run_ns(
        dir.path(),
        &[],
        "kill -9 $PPID; echo kill=$?; echo alive > alive.txt",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("kill=0"), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("alive.txt")).unwrap(),
        "alive\n"
    );
    assert_eq!(r["exit_code"], 0);
}

/// The executables of a receipt's process tree and their parents' executables.
fn tree(r: &Value) -> Vec<(String, String)> {
    let nodes = r["process_tree"].as_array().unwrap();
    let exe_of = |pid: &Value| {
        nodes
            .iter()
            .find(|n| n["pid"] == *pid)
            .map_or("(outside)".to_owned(), |n| {
                n["exe"].as_str().unwrap().to_owned()
            })
    };
    let mut edges: Vec<_> = nodes
        .iter()
        .map(|n| (exe_of(&n["ppid"]), n["exe"].as_str().unwrap().to_owned()))
        .collect();
    edges.sort();
    edges
}

#[test]
fn the_process_tree_and_file_activity_are_as_complete_as_with_the_process_backend() {
    let script = "cat /etc/hostname > copy.txt; ls / > /dev/null; (sh -c 'rm copy.txt')";
    let ns_dir = tempfile::tempdir().unwrap();
    let (_, ns) = run_ns(ns_dir.path(), &[], script);
    let proc_dir = tempfile::tempdir().unwrap();
    let receipt = proc_dir.path().join("receipt.json");
    let out = glasshouse(proc_dir.path())
        .args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(&receipt)
        .args(["--", "sh", "-c", script])
        .output()
        .unwrap();
    assert!(out.status.success());
    let pr = read_receipt(&receipt);
    assert_eq!(tree(&ns), tree(&pr));
    let coverage: glasshouse_receipt::SensorCoverage =
        serde_json::from_value(ns["sensor"].clone()).unwrap();
    common::assert_complete_but_for_missing_tracepoints(&coverage, &ns["sensor"].to_string());
    // The sandbox's init is reaped before the receipt is assembled: its children's resources
    // count.
    assert!(
        ns["resources"]["max_rss_kb"].as_u64().unwrap() > 0,
        "{}",
        ns["resources"]
    );
    let rel = |r: &Value, list: &str, dir: &Path| -> Vec<String> {
        let base = common::canonical(dir);
        r["filesystem"][list]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().replace(base.to_str().unwrap(), "CWD"))
            .collect()
    };
    for list in ["writes", "deletes"] {
        assert_eq!(
            rel(&ns, list, ns_dir.path()),
            rel(&pr, list, proc_dir.path()),
            "{list}"
        );
    }
    assert!(rel(&ns, "reads", ns_dir.path()).contains(&"/etc/hostname".to_owned()));
}

#[test]
fn bad_flag_combinations_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let hidden = tempfile::tempdir().unwrap();
    let inner = hidden.path().join("inner");
    std::fs::create_dir(&inner).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--network", "proxy"],
            "--network needs --backend namespace",
        ),
        (
            vec!["--backend", "namespace", "--allow-host", "a.com"],
            "--allow-host needs --network proxy",
        ),
        (
            vec![
                "--backend",
                "namespace",
                "--network",
                "proxy",
                "--allow-host",
                "a.*.com",
            ],
            "not a valid host pattern",
        ),
        (
            vec!["--backend", "namespace", "--rw", "/no/such/glasshouse/path"],
            "--rw /no/such/glasshouse/path",
        ),
        (
            vec!["--backend", "process", "--hide", "/etc"],
            "need --backend namespace",
        ),
        (
            vec![
                "--backend",
                "namespace",
                "--hide",
                hidden.path().to_str().unwrap(),
                "--rw",
                inner.to_str().unwrap(),
            ],
            "is inside --hide",
        ),
        (
            vec!["--backend", "namespace", "--proxy-allow-private"],
            "--proxy-allow-private needs --network proxy",
        ),
        (
            vec!["--backend", "namespace", "--proxy-max-connections", "4"],
            "--proxy-max-connections needs --network proxy",
        ),
        (
            vec![
                "--backend",
                "namespace",
                "--network",
                "proxy",
                "--proxy-max-connections",
                "0",
            ],
            "give 1 to 4096",
        ),
    ];
    common::assert_refused_before_running(dir.path(), &cases);
}

/// `--proxy-max-connections 1`: while the command holds one connection to the proxy, a second
/// is answered 503 and recorded as denied; once it lets go, the next one is served.
#[test]
fn the_proxy_serves_at_most_the_connections_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let (port, server) = http_server(1, "served");
    // bash's /dev/tcp holds a connection open; the proxy counts it from its accept.
    let script = format!(
        r#"hostport=${{HTTP_PROXY#http://}}
bash -c 'exec 3<>/dev/tcp/${{0%:*}}/${{0##*:}}; sleep 0.5
  curl -sS -o /dev/null -w "second=%{{http_code}}\n" http://localhost:{port}/' "$hostport"
for i in 1 2 3 4 5 6 7 8 9 10; do
  code=$(curl -s -o /dev/null -w '%{{http_code}}' http://localhost:{port}/)
  [ "$code" = 200 ] && break
  sleep 0.2
done
echo third=$code"#
    );
    let (out, r) = run_ns(
        dir.path(),
        &[
            "--network",
            "proxy",
            "--allow-host",
            "localhost",
            "--proxy-allow-private",
            "--proxy-max-connections",
            "1",
        ],
        &script,
    );
    let text = stdout(&out);
    assert!(text.contains("second=503"), "{text}");
    assert!(text.contains("third=200"), "{text}");
    assert_eq!(server.join().unwrap(), ["GET / HTTP/1.1"]);
    let proxied = r["network"]["proxied"].as_array().unwrap();
    let refused: Vec<&Value> = proxied
        .iter()
        .filter(|p| {
            p["reason"]
                .as_str()
                .is_some_and(|why| why.contains("at most 1 connection at once"))
        })
        .collect();
    assert_eq!(refused.len(), 1, "{proxied:#?}");
    assert_eq!(refused[0]["decision"], "denied");
}

#[test]
fn rw_and_ro_adjust_the_writable_set_and_host_network_reaches_the_hosts_loopback() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("frozen")).unwrap();
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), "before\n").unwrap();
    let (port, server) = http_server(1, "host network");
    let frozen = common::canonical(&dir.path().join("frozen"));
    let script = format!(
        "touch frozen/x; echo frozen=$?; echo after >> {file}; echo file=$?; \
         curl -sS http://127.0.0.1:{port}/",
        file = outside.path().display()
    );
    let (out, r) = run_ns(
        dir.path(),
        &[
            "--network",
            "host",
            "--ro",
            frozen.to_str().unwrap(),
            "--rw",
            outside.path().to_str().unwrap(),
        ],
        &script,
    );
    let text = stdout(&out);
    assert!(text.contains("frozen=1"), "{text}");
    assert!(text.contains("file=0"), "{text}");
    assert!(text.ends_with("host network"), "{text}");
    assert_eq!(server.join().unwrap(), ["GET / HTTP/1.1"]);
    assert_eq!(
        std::fs::read_to_string(outside.path()).unwrap(),
        "before\nafter\n"
    );
    assert!(!frozen.join("x").exists());
    let x = frozen.join("x");
    assert!(
        failed(&r)
            .iter()
            .any(|f| f["target"] == x.to_str().unwrap() && f["error"] == "EROFS"),
        "{:#?}",
        failed(&r)
    );
    let sandbox = &r["environment"]["sandbox"];
    assert_eq!(sandbox["network"], "host");
    assert_eq!(sandbox["read_only"][0], frozen.to_str().unwrap());
    let outside_path = common::canonical(outside.path());
    assert!(sandbox["writable"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w == outside_path.to_str().unwrap()));
    assert!(!r["execution"]["isolation"]
        .as_str()
        .unwrap()
        .split(',')
        .any(|p| p == "net"));
}

#[test]
fn namespace_pids_are_recorded_beside_host_pids_only_where_they_differ() {
    let dir = tempfile::tempdir().unwrap();
    // Each shell prints the pid it has in its own namespace, with its argv as a marker.
    let script = "echo root=$$; sh -c 'echo child=$$' child-marker";
    let (out, r) = run_ns(dir.path(), &[], script);
    let text = stdout(&out);
    let printed = |key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {text}"))
    };
    let tree = r["process_tree"].as_array().unwrap();
    let root = tree
        .iter()
        .find(|p| p["argv"][2] == script)
        .unwrap_or_else(|| panic!("{tree:#?}"));
    assert_eq!(printed("root="), 2);
    assert_eq!(root["ns_pid"], 2, "{root}");
    assert_ne!(root["pid"], 2, "{root}");
    let child = tree
        .iter()
        .find(|p| {
            p["argv"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "child-marker"))
        })
        .unwrap_or_else(|| panic!("{tree:#?}"));
    assert_eq!(child["ns_pid"], printed("child="), "{child}");
    assert_eq!(child["ppid"], root["pid"]);

    // Without a pid namespace the two are the same, and the field is left out.
    let receipt = dir.path().join("process.json");
    let out = glasshouse(dir.path())
        .args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(&receipt)
        .args(["--", "sh", "-c", script])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = read_receipt(&receipt);
    let tree = r["process_tree"].as_array().unwrap();
    assert!(tree.len() >= 2, "{tree:#?}");
    assert!(tree.iter().all(|p| p.get("ns_pid").is_none()), "{tree:#?}");
    let root = tree.iter().find(|p| p["argv"][2] == script).unwrap();
    assert_eq!(root["pid"], printed_in(&out, "root="));
}

fn printed_in(out: &Output, key: &str) -> u64 {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in the output"))
}

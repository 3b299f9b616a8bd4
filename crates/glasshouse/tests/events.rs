//! The live event stream of `run --events` (these load real eBPF): every line is valid against
//! the committed schema (schema/events.v1.json), and for a ground-truth tester that execs,
//! reads, writes, deletes, fails and connects to loopback, the stream's processes, execs, files,
//! destinations, failures and descriptors equal the receipt's exactly. `-` goes to stderr and
//! leaves stdout (and its hash) as the command wrote it; `--events-fd` writes to an inherited
//! descriptor the command does not get; a secret in an argv is redacted in the stream as in the
//! receipt; a closed reader costs lines, never receipt data; a bad destination refuses the run
//! (exit 125) before the command runs.

mod common;

use common::{glasshouse, real_path, Run, Sandbox, Suite, Testers};
use glasshouse_events::{Event, FileAction, Line};
use glasshouse_receipt::OsText;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

static SUITE: Suite = Suite {
    prefix: "gh-events-",
    run_deadline: Duration::from_secs(180),
    wait_deadline: Duration::from_secs(30),
    extra_hooks: &[],
};

static PROGRAMS: Testers = Testers::new(
    "programs_events",
    "events-programs",
    &["-O1", "-Wall", "-Wextra"],
    &[],
);

/// A GitHub-token-shaped canary, built here so that no live-looking token sits in the source.
fn canary() -> String {
    format!(
        "ghp_{}",
        "Zq7Rk2Xp9Lw4Mn8Tb3Vc6Hd1Jf5Gs0Ya".repeat(2)[..36].to_owned()
    )
}

/// The committed schema of the lines, compiled once.
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = common::repo_root().join(glasshouse_events::schema_file_name());
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read committed schema {}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text).expect("committed schema is JSON");
        jsonschema::validator_for(&schema).expect("committed schema compiles")
    })
}

/// Every line of `text`: valid against the schema, read back as a [`Line`].
fn lines_of(text: &[u8]) -> Vec<Line> {
    let text = String::from_utf8_lossy(text);
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the stream ends in the middle of a line"
    );
    text.lines()
        .map(|l| {
            let value: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a line of the stream is not JSON ({e}): {l}"));
            let errors: Vec<String> = validator()
                .iter_errors(&value)
                .map(|e| format!("at {}: {e}", e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "line {l} does not match the schema: {errors:?}"
            );
            serde_json::from_value(value)
                .unwrap_or_else(|e| panic!("line {l} does not read back: {e}"))
        })
        .collect()
}

/// A run's stream is whole and agrees with its receipt: numbered without gaps, timestamps that
/// never decrease, the receipt's id, `start` first and `end` last, and every set the receipt
/// holds (processes, execs, exits, files, destinations, failures, descriptors, truncations)
/// made of exactly the stream's lines.
fn assert_agrees(run: &Run, lines: &[Line]) {
    let excerpt = || run.excerpt();
    assert!(lines.len() >= 3, "too few lines: {lines:?}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l.seq, i as u64, "a gap in the stream (a dropped line?)");
        assert_eq!(l.run, run.receipt.execution_id);
    }
    assert!(lines.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
    let Event::Start(start) = &lines[0].event else {
        panic!("the first line is not start: {:?}", lines[0]);
    };
    assert_eq!(start.glasshouse_pid, run.glasshouse_pid);
    let Some(Event::End(end)) = lines.last().map(|l| &l.event) else {
        panic!("the last line is not end: {:?}", lines.last());
    };
    assert_eq!(end.exit_code, run.status.code());
    assert_eq!(end.complete, Some(run.sensor().complete));
    assert_eq!(end.dropped, 0);

    let mut forks = BTreeMap::new();
    let mut execs: BTreeMap<u32, Vec<(OsText, Vec<OsText>, OsText)>> = BTreeMap::new();
    let mut exits = BTreeMap::new();
    let mut files = BTreeSet::new();
    let mut attempts: BTreeMap<(OsText, String, String, Option<i32>), BTreeSet<u32>> =
        BTreeMap::new();
    let mut failures = BTreeSet::new();
    let mut descriptors = BTreeSet::new();
    let mut truncated = BTreeSet::new();
    for l in &lines[1..lines.len() - 1] {
        match &l.event {
            Event::Fork(f) => assert!(
                forks.insert(f.pid, f.ppid).is_none(),
                "two forks of {}",
                f.pid
            ),
            Event::Exec(e) => execs.entry(e.pid).or_default().push((
                e.exe.clone(),
                e.argv.clone(),
                e.working_dir.clone(),
            )),
            Event::Exit(x) => assert!(exits.insert(x.pid, (x.exit_code, x.signal)).is_none()),
            Event::File(f) => assert!(files.insert((f.path.clone(), f.action)), "{f:?} twice"),
            Event::Network(n) => assert!(
                attempts
                    .entry((n.dst.clone(), n.protocol.clone(), n.result.clone(), n.errno))
                    .or_default()
                    .insert(n.pid),
                "{n:?} twice"
            ),
            Event::Failure(f) => {
                assert!(
                    failures.insert((f.syscall.clone(), f.target.clone(), f.errno)),
                    "{f:?} twice"
                )
            }
            Event::Descriptor(d) => {
                descriptors.insert((d.path.clone(), d.how.clone(), d.pid, d.fd, d.read, d.write));
            }
            Event::Truncated(t) => {
                truncated.insert((t.kind.clone(), t.pid, t.kept.clone()));
            }
            Event::Loss(loss) => panic!("a loss in a run that lost nothing: {loss:?}"),
            other => panic!("{other:?} in the middle of the stream"),
        }
    }

    let tree = &run.receipt.process_tree;
    let pids: BTreeSet<u32> = tree.iter().map(|p| p.pid).collect();
    let seen: BTreeSet<u32> = forks.keys().chain(execs.keys()).copied().collect();
    assert_eq!(
        seen,
        pids,
        "the stream's processes differ from the receipt's\n{}",
        excerpt()
    );
    for node in tree {
        let streamed = execs.get(&node.pid).cloned().unwrap_or_default();
        let listed: Vec<_> = if !node.execs.is_empty() {
            node.execs
                .iter()
                .map(|x| (x.exe.clone(), x.argv.clone(), x.working_dir.clone()))
                .collect()
        } else if !streamed.is_empty() {
            vec![(
                node.exe.clone(),
                node.argv.clone(),
                node.working_dir.clone(),
            )]
        } else {
            // A process that never executed anything shows its parent's program.
            assert_eq!(
                forks.get(&node.pid),
                Some(&node.ppid),
                "process {}",
                node.pid
            );
            Vec::new()
        };
        assert_eq!(
            streamed,
            listed,
            "the execs of process {}\n{}",
            node.pid,
            excerpt()
        );
        if let Some(exit) = exits.get(&node.pid) {
            assert_eq!(*exit, (node.exit_code, node.signal), "process {}", node.pid);
        }
        if let Some(ppid) = forks.get(&node.pid) {
            assert_eq!(*ppid, node.ppid, "the parent of {}", node.pid);
        }
    }
    assert!(exits.keys().all(|pid| pids.contains(pid)));

    let fs = &run.receipt.filesystem;
    let listed: BTreeSet<(OsText, FileAction)> = [
        (&fs.reads, FileAction::Read),
        (&fs.writes, FileAction::Write),
        (&fs.deletes, FileAction::Delete),
    ]
    .into_iter()
    .flat_map(|(list, action)| list.iter().map(move |p| (p.clone(), action)))
    .collect();
    assert_eq!(
        files,
        listed,
        "the stream's files differ from the receipt's\n{}",
        excerpt()
    );

    let counted: BTreeMap<_, u64> = attempts
        .into_iter()
        .map(|(key, pids)| (key, pids.len() as u64))
        .collect();
    let listed: BTreeMap<_, u64> = run
        .receipt
        .network
        .attempts
        .iter()
        .map(|a| {
            (
                (a.dst.clone(), a.protocol.clone(), a.result.clone(), a.errno),
                a.count,
            )
        })
        .collect();
    assert_eq!(
        counted, listed,
        "the stream's destinations differ from the receipt's"
    );

    let listed: BTreeSet<_> = fs
        .failed
        .iter()
        .map(|f| (f.syscall.clone(), f.target.clone(), f.errno))
        .collect();
    assert_eq!(
        failures, listed,
        "the stream's failures differ from the receipt's"
    );
    let listed: BTreeSet<_> = fs
        .descriptors
        .iter()
        .map(|d| (d.path.clone(), d.how.clone(), d.pid, d.fd, d.read, d.write))
        .collect();
    assert_eq!(
        descriptors, listed,
        "the stream's descriptors differ from the receipt's"
    );
    let listed: BTreeSet<_> = run
        .sensor()
        .truncated
        .iter()
        .map(|t| (t.kind.clone(), t.pid, t.kept.clone()))
        .collect();
    assert_eq!(truncated, listed);
}

/// The ground-truth tester's files in a fresh sandbox.
fn ground_sandbox() -> Sandbox {
    let sandbox = Sandbox::new(&SUITE);
    fs::write(sandbox.w("in.txt"), b"ground truth\n").unwrap();
    fs::write(sandbox.w("gone.txt"), b"to be deleted\n").unwrap();
    sandbox
}

/// The ground-truth tester's command: it ends by executing `/bin/true --token CANARY`.
fn ground_command(sandbox: &Sandbox, true_bin: &Path) -> Vec<std::ffi::OsString> {
    vec![
        PROGRAMS.path("ground").into_os_string(),
        sandbox.work.clone().into_os_string(),
        true_bin.as_os_str().to_owned(),
        "--token".into(),
        canary().into(),
    ]
}

/// The ports the tester printed: (listening, bound but not listening).
fn ports(stdout: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(stdout);
    let mut words = text.trim().split(' ');
    assert_eq!(words.next(), Some("ports"), "tester output: {text}");
    let listening = words.next().expect("a port").to_owned();
    let bound = words.next().expect("a port").to_owned();
    (listening, bound)
}

/// What the ground truth must show in the receipt (and so, once they agree, in the stream).
fn assert_ground_truth(run: &Run, sandbox: &Sandbox, lines: &[Line]) {
    run.assert_exit(0);
    run.assert_files(
        &sandbox.work,
        &[sandbox.w("in.txt")],
        &[sandbox.w("out.txt")],
        &[sandbox.w("gone.txt")],
    );
    let missing = OsText::from(sandbox.w("missing.txt").as_path());
    assert!(lines.iter().any(|l| matches!(&l.event,
        Event::Failure(f) if f.target.as_ref() == Some(&missing) && f.error == "ENOENT")));
    let (listening, bound) = ports(&run.stdout);
    let dst = |port: &str| OsText::from(format!("127.0.0.1:{port}"));
    for (port, result) in [(&listening, "connected"), (&bound, "refused")] {
        assert!(
            lines.iter().any(|l| matches!(&l.event,
                Event::Network(n) if n.dst == dst(port) && n.result == result && n.protocol == "tcp")),
            "no {result} line for port {port}"
        );
    }
    let true_bin = real_path("/bin/true");
    assert!(lines.iter().any(|l| matches!(&l.event,
        Event::Exec(e) if e.exe == OsText::from(true_bin.as_path()))));
}

#[test]
fn the_stream_validates_and_equals_the_receipt_for_the_ground_truth() {
    let sandbox = ground_sandbox();
    let events = sandbox.root.join("events.jsonl");
    let cmd = ground_command(&sandbox, Path::new("/bin/true"));
    let cmd: Vec<&OsStr> = cmd.iter().map(|a| a.as_os_str()).collect();
    let flags = ["--events", events.to_str().expect("a UTF-8 path")];
    let run = sandbox
        .start("receipt.json", &flags, &[], &cmd)
        .finish(SUITE.run_deadline);
    let bytes = fs::read(&events).expect("the stream's file");
    let lines = lines_of(&bytes);
    assert_agrees(&run, &lines);
    assert_ground_truth(&run, &sandbox, &lines);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs::metadata(&events).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the stream's file is private like the receipt");

    // The secret of the argv is in neither, and both show the same marker for it.
    let secret = canary();
    assert!(!String::from_utf8_lossy(&bytes).contains(&secret));
    assert!(!serde_json::to_string(&run.json).unwrap().contains(&secret));
    let true_bin = real_path("/bin/true");
    let streamed = lines
        .iter()
        .find_map(|l| match &l.event {
            Event::Exec(e) if e.exe == OsText::from(true_bin.as_path()) => Some(e.argv.clone()),
            _ => None,
        })
        .expect("the exec of true");
    assert!(
        streamed[2]
            .to_string()
            .starts_with("[REDACTED:github_token:"),
        "{streamed:?}"
    );
    let listed = run
        .receipt
        .process_tree
        .iter()
        .find(|p| p.exe == OsText::from(true_bin.as_path()))
        .expect("true in the receipt");
    assert_eq!(streamed, listed.argv);
}

#[test]
fn dash_writes_the_stream_to_stderr_and_leaves_stdout_alone() {
    let sandbox = ground_sandbox();
    let cmd = ground_command(&sandbox, Path::new("/bin/true"));
    let cmd: Vec<&OsStr> = cmd.iter().map(|a| a.as_os_str()).collect();
    let run = sandbox
        .start("receipt.json", &["--events", "-", "--quiet"], &[], &cmd)
        .finish(SUITE.run_deadline);
    // stdout is exactly what the command wrote, and the receipt's hash is of that.
    ports(&run.stdout);
    assert!(
        !run.stdout.contains(&b'{'),
        "a line of the stream on stdout"
    );
    use sha2::Digest as _;
    let hash = format!("{:x}", sha2::Sha256::digest(&run.stdout));
    assert_eq!(run.receipt.artifacts.stdout_hash, hash);
    assert_eq!(run.receipt.artifacts.stdout_bytes, run.stdout.len() as u64);
    // With --quiet and a silent command, stderr holds the stream and nothing else.
    let lines = lines_of(run.stderr.as_bytes());
    assert_agrees(&run, &lines);
    assert_ground_truth(&run, &sandbox, &lines);
}

#[test]
fn events_fd_writes_to_an_inherited_descriptor_the_command_does_not_get() {
    let sandbox = Sandbox::new(&SUITE);
    let events = sandbox.root.join("fd3.jsonl");
    let receipt = sandbox.root.join("receipt.json");
    // The shell opens descriptor 3 for glasshouse; the command reports whether it has one.
    let script = "exec \"$0\" run --profile host --quiet --receipt \"$1\" --events-fd 3 -- \
                  sh -c 'if [ -e /proc/self/fd/3 ]; then echo has-3; else echo no-3; fi' 3>\"$2\"";
    let out = Command::new("sh")
        .current_dir(&sandbox.root)
        .args(["-c", script, common::BIN])
        .arg(&receipt)
        .arg(&events)
        .env_remove("GLASSHOUSE_CAPTURE_ARGV")
        .env_remove("GLASSHOUSE_BPF_DIR")
        .env_remove("GLASSHOUSE_KEEP_PROGRAMS")
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(124),
        "the sensor could not start:\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no-3\n");
    assert!(stderr.trim().is_empty(), "{stderr}");
    let json = common::read_receipt(&receipt);
    let lines = lines_of(&fs::read(&events).expect("the stream"));
    assert_eq!(lines[0].run, json["execution_id"].as_str().unwrap());
    let execs = lines
        .iter()
        .filter(
            |l| matches!(&l.event, Event::Exec(e) if e.argv.first() == Some(&OsText::from("sh"))),
        )
        .count();
    assert_eq!(execs, 1);
    assert!(matches!(
        lines.last().map(|l| &l.event),
        Some(Event::End(_))
    ));
}

#[test]
fn a_closed_reader_costs_lines_never_the_receipt() {
    let sandbox = ground_sandbox();
    let receipt = sandbox.root.join("receipt.json");
    let (reader, writer) = rustix::pipe::pipe().expect("a pipe");
    drop(reader);
    let cmd = ground_command(&sandbox, Path::new("/bin/true"));
    let mut command = glasshouse(&sandbox.root);
    command
        .args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(&receipt)
        .args(["--events-fd", "3", "--"])
        .args(&cmd)
        .stdin(Stdio::null());
    let fd = std::os::fd::AsRawFd::as_raw_fd(&writer);
    // SAFETY: dup2 is async-signal-safe and touches only the child's descriptor table.
    unsafe {
        use std::os::unix::process::CommandExt as _;
        command.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().expect("run glasshouse");
    drop(writer);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(124),
        "the sensor could not start:\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("the event stream stopped"), "{stderr}");
    let json = common::read_receipt(&receipt);
    assert_eq!(json["sensor"]["complete"], true, "{:#}", json["sensor"]);
    // Whether the receipt notes dropped lines depends on whether the writer met the closed pipe
    // before the sensor finished (the test below makes sure it does); everything the tester
    // did is in the receipt either way.
    let reads = json["filesystem"]["reads"].to_string();
    assert!(
        reads.contains(sandbox.w("in.txt").to_str().unwrap()),
        "{reads}"
    );
    let attempts = json["network"]["attempts"].as_array().expect("attempts");
    assert!(attempts.iter().any(|a| a["result"] == "connected"));
    assert!(attempts.iter().any(|a| a["result"] == "refused"));
}

/// Flags, environment, and what the refusal must say.
type Refusal<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn an_unusable_destination_refuses_the_run_before_the_command() {
    let sandbox = Sandbox::new(&SUITE);
    let marker = sandbox.w("ran");
    let touch = ["touch", marker.to_str().unwrap()];
    let dir = sandbox.root.to_str().unwrap();
    let no_env: &[(&str, &str)] = &[];
    let cases: [Refusal; 5] = [
        (
            &["--events", "/nonexistent-gh-dir/events.jsonl"],
            no_env,
            "cannot open the event stream",
        ),
        (&["--events-fd", "1"], no_env, "descriptors 0 and 1"),
        (&["--events-fd", "57"], no_env, "descriptor 57 is not open"),
        (&["--events", dir], no_env, "cannot open the event stream"),
        (
            &["--events", "-"],
            &[("GLASSHOUSE_EVENTS_QUEUE", "0")],
            "GLASSHOUSE_EVENTS_QUEUE=0: give a number of lines",
        ),
    ];
    for (flags, env, message) in cases {
        let out = glasshouse(&sandbox.root)
            .args(["run", "--profile", "host", "--receipt", "r.json"])
            .args(flags)
            .envs(env.iter().copied())
            .arg("--")
            .args(touch)
            .stdin(Stdio::null())
            .output()
            .expect("run glasshouse");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{flags:?}: {stderr}");
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
        assert!(!marker.exists(), "{flags:?}: the command ran");
        assert!(
            !sandbox.root.join("r.json").exists(),
            "{flags:?}: a receipt was written"
        );
    }
}

#[test]
fn a_reader_that_stops_reading_costs_lines_never_the_receipt() {
    // More distinct failed opens than the queue holds lines (GLASSHOUSE_EVENTS_QUEUE), with a
    // reader that reads nothing until glasshouse has exited: the drain must not wait for it,
    // and glasshouse must end.
    const OPENS: u32 = 20_000;
    let sandbox = Sandbox::new(&SUITE);
    let receipt = sandbox.root.join("receipt.json");
    let absent = sandbox.w("absent");
    let (reader, writer) = rustix::pipe::pipe().expect("a pipe");
    let mut command = glasshouse(&sandbox.root);
    command
        .args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(&receipt)
        .args(["--events-fd", "3", "--"])
        .arg(PROGRAMS.path("fail_many"))
        .env("GLASSHOUSE_EVENTS_QUEUE", "1000")
        .arg(&absent)
        .arg(OPENS.to_string())
        .stdin(Stdio::null());
    let fd = std::os::fd::AsRawFd::as_raw_fd(&writer);
    // SAFETY: dup2 is async-signal-safe and touches only the child's descriptor table.
    unsafe {
        use std::os::unix::process::CommandExt as _;
        command.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .expect("start glasshouse");
    drop(writer);
    let stderr = common::reader(child.stderr.take().expect("stderr"));
    let status = common::wait_within(&mut child, SUITE.run_deadline, "glasshouse did not end");
    let stderr = String::from_utf8_lossy(&stderr.recv().unwrap_or_default()).into_owned();
    assert_ne!(
        status.code(),
        Some(124),
        "the sensor could not start:\n{stderr}"
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("the event stream"), "{stderr}");

    let json = common::read_receipt(&receipt);
    let sensor = &json["sensor"];
    assert_eq!(sensor["complete"], true, "{sensor:#}");
    assert!(sensor["notes"]
        .to_string()
        .contains("the live event stream (--events) dropped"));
    let prefix = absent.to_str().unwrap();
    let failed = json["filesystem"]["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .filter(|f| f["target"].as_str().is_some_and(|t| t.starts_with(prefix)))
        .count();
    assert_eq!(
        failed, OPENS as usize,
        "every failed open is in the receipt"
    );

    // What the pipe took is whole lines, from the first one on.
    let mut taken = Vec::new();
    std::io::Read::read_to_end(&mut fs::File::from(reader), &mut taken).expect("read the pipe");
    let lines = lines_of(&taken);
    assert!(!lines.is_empty());
    assert!(lines.iter().enumerate().all(|(i, l)| l.seq == i as u64));
}

#[test]
fn the_stream_equals_the_receipt_in_the_namespace_sandbox_too() {
    let sandbox = ground_sandbox();
    let events = sandbox.root.join("events.jsonl");
    let cmd = ground_command(&sandbox, Path::new("/bin/true"));
    let cmd: Vec<&OsStr> = cmd.iter().map(|a| a.as_os_str()).collect();
    let flags = [
        "--backend",
        "namespace",
        "--events",
        events.to_str().expect("a UTF-8 path"),
    ];
    let run = sandbox
        .start("receipt.json", &flags, &[], &cmd)
        .finish(SUITE.run_deadline);
    let lines = lines_of(&fs::read(&events).expect("the stream's file"));
    let Event::Start(start) = &lines[0].event else {
        panic!("the first line is not start");
    };
    assert_eq!(start.backend, "namespace");
    assert_agrees(&run, &lines);
    assert_ground_truth(&run, &sandbox, &lines);
}

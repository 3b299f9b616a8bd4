//! The live event stream of `run --events` (these load real eBPF): every line is valid against
//! the committed schema (schema/events.v1.json), and for a ground-truth tester that execs,
//! reads, writes, deletes, fails and connects to loopback, the stream's processes, execs, files,
//! destinations, failures and descriptors equal the receipt's exactly, under the process and
//! the namespace backend; a secret in an argv is redacted in the stream as in the receipt; `-`
//! goes to stderr and leaves stdout (and its hash) as the command wrote it. Destinations and
//! slow readers: events_io.rs.

mod common;
mod events_support;

use common::real_path;
use events_support::{
    assert_agrees, assert_ground_truth, canary, ground_command, ground_sandbox, lines_of, ports,
    SUITE,
};
use glasshouse_events::Event;
use glasshouse_receipt::OsText;
use std::ffi::OsStr;
use std::fs;
use std::path::Path;

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

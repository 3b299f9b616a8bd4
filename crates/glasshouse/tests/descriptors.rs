//! Descriptors the traced tree did not open: a file the command inherits from its caller
//! (stdin redirected from a file, an extra descriptor) and a file received over a unix socket
//! (SCM_RIGHTS) are named in `filesystem.descriptors` with their paths and access, and not
//! claimed as opened (`filesystem.reads`). These load real eBPF and fail without it.

mod common;

use common::{os, read_receipt, wait_for_file, Sandbox, Suite, Testers, BIN};
use glasshouse_receipt::SensorCoverage;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

static SUITE: Suite = Suite {
    prefix: "gh-fds-",
    run_deadline: Duration::from_secs(120),
    wait_deadline: Duration::from_secs(30),
    extra_hooks: &[],
};

static PROGRAMS: Testers = Testers::new(
    "programs_fds",
    "fds-programs",
    &["-O1", "-Wall", "-Wextra"],
    &[],
);

/// The entries of `filesystem.descriptors` for `path`, without the pid.
fn descriptors_of(receipt: &Value, path: &Path) -> Vec<Value> {
    receipt["filesystem"]["descriptors"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|d| d["path"] == path.to_string_lossy().as_ref())
                .map(|d| json!({"how": d["how"], "fd": d["fd"], "read": d["read"], "write": d["write"]}))
                .collect()
        })
        .unwrap_or_default()
}

fn reads(receipt: &Value) -> Vec<String> {
    receipt["filesystem"]["reads"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `glasshouse run -- read_inherited < input 3< extra`, started by a shell outside the tree:
/// both files were opened by the caller, and the command reads both.
#[test]
fn inherited_stdin_and_an_extra_descriptor_are_named() {
    let s = Sandbox::new(&SUITE);
    let (input, extra) = (s.w("input.txt"), s.w("extra.txt"));
    std::fs::write(&input, b"the command's stdin\n").expect("write input");
    std::fs::write(&extra, b"descriptor 3\n").expect("write extra");
    let receipt_path = s.root.join("receipt.json");
    let status = Command::new("sh")
        .current_dir(&s.root)
        .env_remove("GLASSHOUSE_KEEP_PROGRAMS")
        .env_remove("GLASSHOUSE_BPF_DIR")
        .env_remove("GLASSHOUSE_CAPTURE_ARGV")
        .args([
            os("-c"),
            os(r#"exec "$0" run --profile host --receipt "$1" -- "$2" < "$3" 3< "$4""#),
            os(BIN),
            receipt_path.as_os_str(),
            PROGRAMS.path("read_inherited").as_os_str(),
            input.as_os_str(),
            extra.as_os_str(),
        ])
        .status()
        .expect("run glasshouse through sh");
    assert!(status.success(), "read_inherited failed: {status}");
    let receipt = read_receipt(&receipt_path);
    assert_eq!(
        descriptors_of(&receipt, &input),
        vec![json!({"how": "inherited", "fd": 0, "read": true, "write": false})],
        "{}",
        receipt["filesystem"]
    );
    assert_eq!(
        descriptors_of(&receipt, &extra),
        vec![json!({"how": "inherited", "fd": 3, "read": true, "write": false})],
        "{}",
        receipt["filesystem"]
    );
    let root = receipt["process_tree"]
        .as_array()
        .and_then(|t| t.first())
        .map(|p| p["pid"].clone())
        .expect("the command's process");
    for d in receipt["filesystem"]["descriptors"]
        .as_array()
        .expect("descriptors")
    {
        assert_eq!(d["pid"], root, "only the command inherits: {d}");
    }
    let reads = reads(&receipt);
    for file in [&input, &extra] {
        assert!(
            !reads.contains(&file.to_string_lossy().into_owned()),
            "not opened by the tree: {reads:?}"
        );
    }
    let sensor: SensorCoverage =
        serde_json::from_value(receipt["sensor"].clone()).expect("the sensor section");
    common::assert_complete_but_for_missing_tracepoints(&sensor, &receipt["sensor"].to_string());
}

/// send_fd, which runs outside glasshouse, opens each file and sends its descriptor in a message
/// of its own; recv_fd receives them with `how` and reads each.
fn receive(s: &Sandbox, how: &str, contents: &[&str]) -> (common::Run, Vec<std::path::PathBuf>) {
    let files: Vec<_> = (0..contents.len())
        .map(|i| s.w(&format!("secret{i}.txt")))
        .collect();
    for (file, text) in files.iter().zip(contents) {
        std::fs::write(file, text).expect("write the file");
    }
    let socket = s.w("fd.sock");
    let mut sender = Command::new(PROGRAMS.path("send_fd"))
        .arg(&socket)
        .args(&files)
        .spawn()
        .expect("start send_fd");
    wait_for_file(&socket, SUITE.wait_deadline);
    let mut argv = vec![
        PROGRAMS.path("recv_fd").into_os_string(),
        socket.clone().into_os_string(),
        os(how).to_owned(),
    ];
    argv.extend(contents.iter().map(|c| os(c).to_owned()));
    let argv: Vec<&std::ffi::OsStr> = argv.iter().map(|a| a.as_os_str()).collect();
    let run = s.run_ok(&argv);
    assert!(sender.wait().expect("wait for send_fd").success());
    (run, files)
}

/// Runs send_fd and recv_fd (see [`receive`]) and checks that every file is named once as
/// received, read-only, and not as opened by the tree.
fn received_descriptors_are_named(how: &str, contents: &[&str]) {
    let s = Sandbox::new(&SUITE);
    let (run, files) = receive(&s, how, contents);
    let reads = reads(&run.json);
    for file in &files {
        let received = descriptors_of(&run.json, file);
        assert_eq!(
            received.len(),
            1,
            "{how}: {file:?}\n{}",
            run.json["filesystem"]
        );
        assert_eq!(received[0]["how"], "received", "{how}");
        assert_eq!(
            (received[0]["read"].clone(), received[0]["write"].clone()),
            (json!(true), json!(false)),
            "{how}"
        );
        assert!(
            received[0]["fd"].as_i64().is_some_and(|fd| fd > 2),
            "{how}: {}",
            received[0]
        );
        assert!(
            !reads.contains(&file.to_string_lossy().into_owned()),
            "{how}: {reads:?}"
        );
    }
    run.assert_complete();
}

/// recvmsg(2): one message, one descriptor.
#[test]
fn a_descriptor_received_over_a_unix_socket_is_named() {
    received_descriptors_are_named("recvmsg", &["handed over"]);
}

/// recvmmsg(2): two messages in one call, a descriptor in each (the second message's control
/// data is found at its place in the vector).
#[test]
fn descriptors_received_with_recvmmsg_are_named() {
    received_descriptors_are_named("recvmmsg", &["first", "second"]);
}

/// IORING_OP_RECVMSG: two operations, a descriptor each, named at their completions.
#[test]
fn descriptors_received_with_io_uring_recvmsg_are_named() {
    received_descriptors_are_named("uring", &["first", "second"]);
}

/// recvmmsg(2) of nine messages in one call: the descriptors of the first eight are named, the
/// ninth message is not looked at, and the receipt says so and is incomplete.
#[test]
fn recvmmsg_messages_past_the_first_eight_are_counted() {
    let s = Sandbox::new(&SUITE);
    let contents = ["0", "1", "2", "3", "4", "5", "6", "7", "8"];
    let (run, files) = receive(&s, "recvmmsg", &contents);
    for file in &files[..8] {
        assert_eq!(
            descriptors_of(&run.json, file).len(),
            1,
            "{file:?}\n{}",
            run.json["filesystem"]
        );
    }
    assert_eq!(descriptors_of(&run.json, &files[8]), Vec::<Value>::new());
    let sensor = &run.json["sensor"];
    assert_eq!(sensor["complete"], false, "{sensor}");
    let noted = sensor["notes"].as_array().is_some_and(|notes| {
        notes.iter().any(|n| {
            n.as_str().is_some_and(|n| {
                n.starts_with("1 received messages may have carried descriptors (SCM_RIGHTS)")
            })
        })
    });
    assert!(noted, "{sensor}");
}

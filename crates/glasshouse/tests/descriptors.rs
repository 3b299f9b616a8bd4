//! Descriptors the traced tree did not open: a file the command inherits from its caller
//! (stdin redirected from a file, an extra descriptor) and a file received over a unix socket
//! (SCM_RIGHTS) are named in `filesystem.descriptors` with their paths and access, and not
//! claimed as opened (`filesystem.reads`). These load real eBPF and fail without it.

mod common;

use common::{os, read_receipt, wait_for_file, Sandbox, Suite, Testers, BIN};
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
    assert_eq!(receipt["sensor"]["complete"], true, "{}", receipt["sensor"]);
}

/// recv_fd receives a descriptor of a file opened by send_fd, which runs outside glasshouse, and
/// reads it: the file is named as received, read-only, and not as opened by the tree.
#[test]
fn a_descriptor_received_over_a_unix_socket_is_named() {
    let s = Sandbox::new(&SUITE);
    let secret = s.w("secret.txt");
    std::fs::write(&secret, b"handed over").expect("write the file");
    let socket = s.w("fd.sock");
    let mut sender = Command::new(PROGRAMS.path("send_fd"))
        .args([socket.as_os_str(), secret.as_os_str()])
        .spawn()
        .expect("start send_fd");
    wait_for_file(&socket, SUITE.wait_deadline);
    let run = s.run_ok(&[
        PROGRAMS.path("recv_fd").as_os_str(),
        socket.as_os_str(),
        os("handed over"),
    ]);
    assert!(sender.wait().expect("wait for send_fd").success());
    let received = descriptors_of(&run.json, &secret);
    assert_eq!(received.len(), 1, "{}", run.json["filesystem"]);
    assert_eq!(received[0]["how"], "received");
    assert_eq!(
        (received[0]["read"].clone(), received[0]["write"].clone()),
        (json!(true), json!(false))
    );
    assert!(
        received[0]["fd"].as_i64().is_some_and(|fd| fd > 2),
        "{}",
        received[0]
    );
    assert!(!reads(&run.json).contains(&secret.to_string_lossy().into_owned()));
    assert_eq!(
        run.json["sensor"]["complete"], true,
        "{}",
        run.json["sensor"]
    );
}

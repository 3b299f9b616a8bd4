//! The recorder outlives its command (issue 11, item 2): no BPF object or glasshouse
//! descriptor leaks into the command, glasshouse's state directory is root's alone, and when
//! glasshouse is killed the command's whole tree dies with it.

mod common;

use common::glasshouse;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

fn wait_for(path: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = fs::read_to_string(path) {
            if text.ends_with('\n') {
                return text;
            }
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` still runs (a zombie waiting for its reaper does not).
fn runs(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

#[test]
fn killing_glasshouse_ends_the_whole_tree() {
    let dir = tempfile::tempdir().unwrap();
    let script = "sleep 300 & echo $! > bg.tmp && mv bg.tmp bg; echo $$ > root.tmp && mv root.tmp root; wait";
    let mut child = glasshouse(dir.path())
        .args([
            "run",
            "--profile",
            "host",
            "--quiet",
            "--",
            "sh",
            "-c",
            script,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let bg: i32 = wait_for(&dir.path().join("bg")).trim().parse().unwrap();
    let root: i32 = wait_for(&dir.path().join("root")).trim().parse().unwrap();
    assert!(runs(bg) && runs(root));
    child.kill().unwrap(); // SIGKILL, by handle
    child.wait().unwrap();
    let start = Instant::now();
    while (runs(bg) || runs(root)) && start.elapsed() < DEADLINE {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<i32> = [bg, root].into_iter().filter(|p| runs(*p)).collect();
    // Never leave them behind, even when the test fails: they are this test's processes.
    for pid in &left {
        // SAFETY: kill(2) of a pid this test's command reported and that still runs.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    assert!(
        left.is_empty(),
        "still running after glasshouse was killed: {left:?}"
    );
}

#[test]
fn no_bpf_object_or_glasshouse_descriptor_reaches_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = glasshouse(dir.path())
        .args(["run", "--profile", "host", "--quiet", "--"])
        .args([
            "sh",
            "-c",
            "for f in /proc/$$/fd/*; do echo \"$f $(readlink $f)\"; done",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let fds = String::from_utf8_lossy(&out.stdout);
    assert!(fds.contains("/proc/"), "{fds}");
    // Descriptors the test harness itself passes down may appear; none of glasshouse's own
    // (BPF maps, programs and links, pidfds, its eventfd) may.
    for line in fds.lines() {
        assert!(!line.contains("anon_inode"), "{fds}");
    }
}

#[test]
fn glasshouse_state_directory_is_root_only() {
    let dir = tempfile::tempdir().unwrap();
    let status = glasshouse(dir.path())
        .args(["run", "--profile", "host", "--quiet", "--", "true"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    for path in ["/run/glasshouse", "/run/glasshouse/bpf"] {
        let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{path} is mode {mode:o}");
    }
}

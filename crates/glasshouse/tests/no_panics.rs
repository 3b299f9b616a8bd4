//! No panics on any argument (issue 11, item 9): ranges are validated before the command runs,
//! a broken stderr never turns the command's status into a panic's, and a property test over
//! `run`'s arguments finds only documented exit codes.

mod common;

use common::glasshouse;
use proptest::prelude::*;
use std::os::fd::OwnedFd;
use std::process::Stdio;

/// Exit codes `glasshouse run` documents, besides the command's own.
const GLASSHOUSE_CODES: [i32; 7] = [121, 122, 123, 124, 125, 126, 127];

#[test]
fn linger_out_of_range_is_refused_before_the_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    for linger in ["1e20", "inf", "NaN", "-1", "86401"] {
        let out = glasshouse(dir.path())
            .args(["run", "--profile", "host", &format!("--linger={linger}")])
            .args(["--", "touch", "marker"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "--linger {linger}: {stderr}");
        assert!(stderr.contains("--linger"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !dir.path().join("marker").exists(),
            "--linger {linger}: the command ran"
        );
    }
}

/// A pipe whose reading end is already closed.
fn broken_pipe() -> OwnedFd {
    let (read, write) = rustix::pipe::pipe().unwrap();
    drop(read);
    write
}

#[test]
fn a_broken_stderr_does_not_panic_and_the_command_status_stands() {
    let dir = tempfile::tempdir().unwrap();
    for profile in [&["--profile", "host"][..], &[]] {
        let status = glasshouse(dir.path())
            .arg("run")
            .args(profile)
            .args(["--", "sh", "-c", "echo out; exit 3"])
            .stdout(Stdio::null())
            .stderr(Stdio::from(broken_pipe()))
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(3), "{profile:?}");
    }
    // An error message on a broken stderr: the documented code, not a panic's 101.
    let status = glasshouse(dir.path())
        .args(["run", "--profile", "host", "--linger", "x", "--", "true"])
        .stderr(Stdio::from(broken_pipe()))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(125));
}

fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("--profile".to_owned()),
        Just("host".to_owned()),
        Just("guest".to_owned()),
        Just("--receipt".to_owned()),
        Just("-".to_owned()),
        Just("r.json".to_owned()),
        Just("/dev/null".to_owned()),
        Just("--linger".to_owned()),
        Just("--kill-after".to_owned()),
        Just("--user".to_owned()),
        Just("--policy".to_owned()),
        Just("--enforce-exit".to_owned()),
        Just("--quiet".to_owned()),
        Just("--backend".to_owned()),
        Just("kata".to_owned()),
        Just("--".to_owned()),
        any::<f64>().prop_map(|f| f.to_string()),
        // Prefixed, so that a random word never names a real program that would keep running.
        "[ -~]{0,12}".prop_map(|s| format!("zz{s}")),
        "\\PC{0,8}".prop_map(|s| format!("zz{s}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn run_arguments_never_panic(args in prop::collection::vec(arg(), 0..7)) {
        let dir = tempfile::tempdir().unwrap();
        // The command, when one is reached, is `true` (or whatever the arguments name).
        let out = glasshouse(dir.path())
            .arg("run")
            .args(&args)
            .args(["--", "true"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let code = out.status.code();
        prop_assert!(
            code.is_some_and(|c| c == 0 || c == 1 || GLASSHOUSE_CODES.contains(&c)),
            "{args:?}: exit {code:?}: {stderr}"
        );
    }
}

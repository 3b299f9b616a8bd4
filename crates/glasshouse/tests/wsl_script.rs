//! scripts/run-wsl.sh as a user runs it: `--help`, and a real traced run of a command through it
//! (root and BPF needed, as for every sensor test), with its argv-capture flag reaching the
//! receipt and the command's exit status coming back.

use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/run-wsl.sh")
}

#[test]
fn help_names_the_options_and_exits_0() {
    let out = Command::new(script()).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--capture-argv",
        "--force-capture-argv",
        "--receipt",
        "-- COMMAND",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
    let out = Command::new(script()).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn runs_the_command_after_the_separator_under_the_sensor() {
    let dir = tempfile::tempdir().unwrap();
    let receipt = dir.path().join("r.json");
    let marker = dir.path().join("marker.txt");
    std::fs::write(&marker, "x").unwrap();
    let out = Command::new(script())
        .env("GLASSHOUSE", env!("CARGO_BIN_EXE_glasshouse"))
        .env_remove("GLASSHOUSE_CAPTURE_ARGV")
        .arg("--force-capture-argv")
        .arg("--receipt")
        .arg(&receipt)
        .arg("--")
        .args(["sh", "-c", "cat \"$1\" >/dev/null; exit 3", "sh"])
        .arg(&marker)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    // The summary is `glasshouse show`'s.
    assert!(stderr.contains("glasshouse receipt v0.4.0"), "{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&receipt).unwrap()).unwrap();
    assert_eq!(r["outcome"]["exit_code"], 3);
    assert_eq!(r["sensor"]["argv_capture"]["requested"], "force");
    assert_eq!(r["sensor"]["argv_capture"]["captured"], true);
    let reads: Vec<&str> = r["filesystem"]["reads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let marker = marker.canonicalize().unwrap();
    assert!(reads.contains(&marker.to_str().unwrap()), "{reads:?}");
}

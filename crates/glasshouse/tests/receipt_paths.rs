//! Receipt paths (issue 11, item 8): targets that are not regular files are refused before the
//! command runs and never replaced; `--receipt -` writes to stdout; the pre-check catches what
//! the final write would hit; a final write that fails anyway puts the receipt in the fallback
//! location, names it and exits 121.

mod common;

use common::{glasshouse, parse_receipt};
use std::fs;
use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;
use std::process::Output;

fn run(dir: &Path, receipt: &str, command: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = glasshouse(dir);
    cmd.args([
        "run",
        "--profile",
        "host",
        "--quiet",
        "--receipt",
        receipt,
        "--",
    ])
    .args(command);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run glasshouse")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A character device node made by the test (the same device as `/dev/null` or `/dev/full`),
/// so that a glasshouse which wrongly replaces it cannot damage the machine's own nodes.
fn device_node(dir: &Path, name: &str, minor: u32) -> std::path::PathBuf {
    let path = dir.join(name);
    let status = std::process::Command::new("mknod")
        .arg(&path)
        .args(["c", "1", &minor.to_string()])
        .status()
        .expect("run mknod");
    assert!(status.success(), "mknod (the test runs as root)");
    path
}

fn is_device(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

#[test]
fn device_targets_are_refused_before_the_command_runs_and_stay_devices() {
    let dir = tempfile::tempdir().unwrap();
    let devices = tempfile::tempdir().unwrap();
    for (name, minor) in [("null", 3), ("full", 7)] {
        let device = device_node(devices.path(), name, minor);
        let out = run(
            dir.path(),
            device.to_str().unwrap(),
            &["touch", "marker"],
            &[],
        );
        assert_eq!(out.status.code(), Some(125), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a regular file"),
            "{name}: {}",
            stderr(&out)
        );
        assert!(
            !dir.path().join("marker").exists(),
            "{name}: the command ran"
        );
        assert!(is_device(&device), "{name} was replaced");
    }
}

#[test]
fn a_symlink_to_a_device_is_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let device = device_node(dir.path(), "null", 3);
    std::os::unix::fs::symlink(&device, dir.path().join("r.json")).unwrap();
    let out = run(dir.path(), "r.json", &["true"], &[]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(is_device(&device));
    assert!(fs::symlink_metadata(dir.path().join("r.json"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn dash_writes_the_receipt_to_stdout_after_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), "-", &["sh", "-c", "echo hello; exit 3"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let json = text
        .strip_prefix("hello\n")
        .expect("the command's output comes first");
    let (_, receipt) = parse_receipt(Path::new("stdout"), json);
    assert_eq!(receipt.exit_code, 3);
    assert!(!dir.path().join("-").exists());
    assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn trailing_slash_and_overlong_names_are_refused_before_the_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    let long = "n".repeat(300);
    for target in ["receipt.json/", "missing-dir/", long.as_str()] {
        let out = run(dir.path(), target, &["touch", "marker"], &[]);
        assert_eq!(out.status.code(), Some(125), "{target}: {}", stderr(&out));
        assert!(
            !dir.path().join("marker").exists(),
            "{target}: the command ran"
        );
        assert!(
            fs::read_dir(dir.path()).unwrap().next().is_none(),
            "{target}: something was left behind"
        );
    }
}

/// A small tmpfs mounted for one test and unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "glasshouse-test",
            ])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount a tmpfs (the test runs as root)");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_receipt_the_full_disk_cannot_take_goes_to_the_fallback_location() {
    let full = Tmpfs::mount("256k");
    let fallback = tempfile::tempdir().unwrap();
    let receipt = full.path().join("receipt.json");
    // The command fills the file system the receipt is to be written on.
    let fill = format!(
        "head -c 1M /dev/zero > {}/fill; echo ran",
        full.path().display()
    );
    let out = run(
        full.path(),
        receipt.to_str().unwrap(),
        &["sh", "-c", &fill],
        &[("TMPDIR", fallback.path())],
    );
    assert_eq!(out.status.code(), Some(121), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
    assert!(!receipt.exists());
    let kept: Vec<_> = fs::read_dir(fallback.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        stderr(&out).contains(&kept[0].display().to_string()),
        "the message names the fallback: {}",
        stderr(&out)
    );
    let (_, saved) = parse_receipt(&kept[0], &fs::read_to_string(&kept[0]).unwrap());
    assert_eq!(saved.exit_code, 0);
    assert!(saved
        .process_tree
        .iter()
        .any(|p| p.argv.first().is_some_and(|a| a.as_bytes() == b"sh")));
}

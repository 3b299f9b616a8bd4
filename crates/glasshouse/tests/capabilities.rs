//! Capabilities without root (issue 11, item 4): a glasshouse given file capabilities and run
//! by an ordinary user refuses the overrides that change what is loaded into the kernel.

mod common;

use common::BIN;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

#[test]
fn a_setcap_glasshouse_refuses_glasshouse_bpf_dir_for_an_ordinary_user() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("glasshouse");
    fs::copy(BIN, &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let status = Command::new("setcap")
        .args(["cap_bpf,cap_perfmon,cap_dac_override+ep"])
        .arg(&bin)
        .status()
        .expect("run setcap");
    assert!(status.success(), "setcap (the test runs as root)");
    // An object of the user's own, where the built-in one would otherwise be loaded.
    let evil = dir.path().join("evil");
    fs::create_dir(&evil).unwrap();
    fs::write(
        evil.join("glasshouse.bpf.o"),
        b"not the object glasshouse ships",
    )
    .unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(&bin)
        .args(["run", "--profile", "host", "--receipt", "-", "--", "true"])
        .current_dir(dir.path())
        .env("GLASSHOUSE_BPF_DIR", &evil)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("GLASSHOUSE_BPF_DIR"), "{stderr}");
    assert!(stderr.contains("capabilities"), "{stderr}");
}

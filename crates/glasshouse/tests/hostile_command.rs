//! A hostile command against its recorder: run as an unprivileged user under a root glasshouse
//! (started through sudo), it tries to turn glasshouse's root privileges against the machine or
//! to act outside the recorded tree. Real BPF, real users (`nobody`, as sudo would name it).

mod common;

use common::{glasshouse, read_receipt};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

const NOBODY: u32 = 65534;

/// A directory every user may enter and write.
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

fn owner(path: &Path) -> (u32, u32) {
    let meta =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.uid(), meta.gid())
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The receipt's directory belongs to the user; while it runs, the command moves it away and
/// puts a symlink to a directory only root may write in its place. glasshouse (root) must not
/// follow it: the receipt and its envelope go to the directory the user named when the run
/// started, and nothing appears in the root-only directory.
#[test]
fn the_command_cannot_redirect_the_receipt_into_a_directory_it_cannot_write() {
    let dir = open_dir();
    let out = dir.path().join("out");
    let moved = dir.path().join("out.old");
    let root_only = dir.path().join("root-only");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::chown(&out, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::create_dir(&root_only).unwrap();
    std::fs::set_permissions(&root_only, std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = dir.path().join("ci.key");
    let keygen = glasshouse(dir.path())
        .args(["keygen", "--key"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");

    let script = format!(
        "test -w {root} && exit 9; mv {out} {moved} && ln -s {root} {out}",
        root = root_only.display(),
        out = out.display(),
        moved = moved.display()
    );
    let run = glasshouse(dir.path())
        .args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(out.join("receipt.json"))
        .arg("--sign-key")
        .arg(&key)
        .args(["--", "sh", "-c", &script])
        .env("SUDO_UID", NOBODY.to_string())
        .env("SUDO_GID", NOBODY.to_string())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    assert_eq!(
        names_in(&root_only),
        Vec::<String>::new(),
        "root wrote into a directory the command cannot write, through its symlink: {run:?}"
    );
    assert_eq!(
        names_in(&moved),
        ["receipt.json", "receipt.json.intoto.jsonl"],
        "{run:?}"
    );
    let receipt = moved.join("receipt.json");
    assert_eq!(read_receipt(&receipt)["execution"]["user"]["uid"], NOBODY);
    for name in ["receipt.json", "receipt.json.intoto.jsonl"] {
        assert_eq!(owner(&moved.join(name)), (NOBODY, NOBODY), "{name}");
    }
}

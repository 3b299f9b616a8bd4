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

/// A `glasshouse` command in `dir`, started as through sudo by `nobody`.
fn under_sudo(dir: &Path) -> std::process::Command {
    let mut cmd = glasshouse(dir);
    cmd.env("SUDO_UID", NOBODY.to_string())
        .env("SUDO_GID", NOBODY.to_string());
    cmd
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
    common::keygen(dir.path(), &key);

    let script = format!(
        "test -w {root} && exit 9; mv {out} {moved} && ln -s {root} {out}",
        root = root_only.display(),
        out = out.display(),
        moved = moved.display()
    );
    let run = under_sudo(dir.path())
        .args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(out.join("receipt.json"))
        .arg("--sign-key")
        .arg(&key)
        .args(["--", "sh", "-c", &script])
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

/// A command may leave anything in the directories its user owns, for the next run: here a
/// symlink named like the event stream of the next run, to a file only root may read. The next
/// run (root, for the same user) must refuse that path instead of truncating the file it points
/// to and giving it to the user.
#[test]
fn an_event_stream_path_planted_by_an_earlier_command_is_refused() {
    let dir = open_dir();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::os::unix::fs::chown(&work, Some(NOBODY), Some(NOBODY)).unwrap();
    let secret = dir.path().join("root-only-secret");
    std::fs::write(&secret, "root's own\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let events = work.join("events.jsonl");
    let run = |script: &str| {
        under_sudo(&work)
            .args(["run", "--profile", "host", "--quiet", "--receipt"])
            .arg(work.join("receipt.json"))
            .arg("--events")
            .arg(&events)
            .args(["--", "sh", "-c", script])
            .output()
            .unwrap()
    };
    let plant = format!(
        "cat {s} 2>/dev/null && exit 9; rm {e} && ln -s {s} {e}",
        s = secret.display(),
        e = events.display()
    );
    let first = run(&plant);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    assert!(
        std::fs::symlink_metadata(&events)
            .unwrap()
            .file_type()
            .is_symlink(),
        "{first:?}"
    );

    let second = run("true");
    assert_eq!(second.status.code(), Some(125), "{second:?}");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root's own\n");
    assert_eq!(owner(&secret), (0, 0));
}

/// An existing file of another user at the event stream's path (a hard link, say) is not
/// truncated or given to the invoking user either.
#[test]
fn an_event_stream_path_of_another_user_is_refused() {
    let dir = open_dir();
    let other = dir.path().join("roots.jsonl");
    std::fs::write(&other, "root's own\n").unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = under_sudo(dir.path())
        .args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(dir.path().join("receipt.json"))
        .arg("--events")
        .arg(&other)
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "root's own\n");
    assert_eq!(owner(&other), (0, 0));
}

/// A command may also leave, for the next run, a symlink where its user's receipt directory
/// will be named: the next run (root, for that user) refuses to write through it into a
/// directory the user cannot write, before anything runs.
#[test]
fn a_receipt_directory_planted_by_an_earlier_command_is_refused() {
    let dir = open_dir();
    let work = dir.path().join("work");
    let root_only = dir.path().join("root-only");
    std::fs::create_dir(&work).unwrap();
    std::os::unix::fs::chown(&work, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::create_dir(&root_only).unwrap();
    std::fs::set_permissions(&root_only, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = work.join("out");
    let run = |script: &str| {
        under_sudo(&work)
            .args(["run", "--profile", "host", "--quiet", "--receipt"])
            .arg(out.join("receipt.json"))
            .args(["--", "sh", "-c", script])
            .output()
            .unwrap()
    };
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::chown(&out, Some(NOBODY), Some(NOBODY)).unwrap();
    let plant = format!(
        "mv {out} {out}.old && ln -s {root} {out}",
        out = out.display(),
        root = root_only.display()
    );
    let first = run(&plant);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let second = run("true");
    assert_eq!(second.status.code(), Some(125), "{second:?}");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("not writable by uid 65534"), "{stderr}");
    assert_eq!(names_in(&root_only), Vec::<String>::new(), "{second:?}");
}

/// A signing key of the invoking user's is readable by the command, which runs as that user:
/// it could take the key and sign receipts of runs that never happened. Such a key is refused
/// before anything runs; a key only root can read is used.
#[test]
fn a_signing_key_the_command_could_read_is_refused() {
    let dir = open_dir();
    let key = dir.path().join("ci.key");
    common::keygen(dir.path(), &key);
    let marker = dir.path().join("ran");
    let run = || {
        under_sudo(dir.path())
            .args(["run", "--profile", "host", "--quiet", "--receipt"])
            .arg(dir.path().join("receipt.json"))
            .arg("--sign-key")
            .arg(&key)
            .args(["--", "touch"])
            .arg(&marker)
            .output()
            .unwrap()
    };
    // root's key (keygen as root: mode 0600): signed, as before.
    let fine = run();
    assert_eq!(fine.status.code(), Some(0), "{fine:?}");
    assert!(dir.path().join("receipt.json.intoto.jsonl").exists());
    std::fs::remove_file(&marker).unwrap();

    std::os::unix::fs::chown(&key, Some(NOBODY), Some(NOBODY)).unwrap();
    let refused = run();
    assert_eq!(refused.status.code(), Some(125), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("can be read by uid 65534"), "{stderr}");
    assert!(!marker.exists(), "the command ran: {refused:?}");
}

/// What a command that tries to type into its caller's terminal reports: the open of
/// `/dev/tty` (its controlling terminal) and TIOCSTI on it and on its stdin, each `injected`
/// or the errno's name.
const TYPE_INTO_TERMINAL: &str = r##"
import errno, fcntl, os, termios
def attempt(open_fd):
    try:
        fcntl.ioctl(open_fd(), termios.TIOCSTI, b"#")
        return "injected"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
print("tty:" + attempt(lambda: os.open("/dev/tty", os.O_RDWR)), "stdin:" + attempt(lambda: 0))
"##;

/// glasshouse started from an interactive shell (the terminal its controlling terminal and its
/// stdin) with its output to files or a pipe, as `sudo glasshouse run ... > log` is: the
/// command, run as the user, must not share glasshouse's session, or it could push keystrokes
/// into the shell that started glasshouse (root's, under sudo), which runs them after
/// glasshouse has ended, outside the recorded tree.
fn typing_into_the_callers_terminal(profile: bool) -> String {
    let dir = open_dir();
    let (master, slave) = common::open_pty();
    let mut cmd = under_sudo(dir.path());
    cmd.arg("run");
    if profile {
        cmd.args(["--profile", "host", "--quiet"]);
    }
    cmd.args(["--", "/usr/bin/python3", "-c", TYPE_INTO_TERMINAL])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    common::on_terminal(&mut cmd, slave, &[0]);
    let run = cmd.output().unwrap();
    drop(master);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    String::from_utf8(run.stdout).unwrap()
}

#[test]
fn the_command_cannot_type_into_the_terminal_of_the_shell_that_started_glasshouse() {
    // No controlling terminal for the command (ENXIO), and its stdin, the caller's terminal,
    // is not one it may inject into (EPERM).
    assert_eq!(
        typing_into_the_callers_terminal(true),
        "tty:ENXIO stdin:EPERM\n"
    );
}

#[test]
fn a_plain_run_as_another_user_cannot_type_into_the_callers_terminal() {
    assert_eq!(
        typing_into_the_callers_terminal(false),
        "tty:ENXIO stdin:EPERM\n"
    );
}

/// Under sudo, the files a user names for glasshouse to read (`--policy`, `--redaction-rules`,
/// and `policy check`'s policy) are read with that user's rights: a root-only file is refused
/// with an error that shows none of it (a parse error would quote its first line), and the
/// command does not run. The same file made readable is read (and fails to parse: it is no TOML).
#[test]
fn files_named_under_sudo_are_read_with_the_invoking_users_rights() {
    let dir = open_dir();
    let secret = dir.path().join("root-only.toml");
    std::fs::write(&secret, "root-secret-line: not toml\n").unwrap();
    let ran = dir.path().join("ran");
    let run = ["run", "--profile", "host", "--receipt", "r.json"];
    let command = ["--", "touch", "ran"];
    let cases: [(Vec<&str>, &str, &[&str], i32); 3] = [
        (run.to_vec(), "--policy", &command, 125),
        (run.to_vec(), "--redaction-rules", &command, 125),
        (vec!["policy", "check"], "--policy", &["r.json"], 2),
    ];
    // 0640 root:root: readable only with root's groups, which the reading thread must not keep.
    for (mode, readable) in [(0o600, false), (0o640, false), (0o644, true)] {
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(mode)).unwrap();
        for (before, flag, after, code) in &cases {
            let out = under_sudo(dir.path())
                .args(before)
                .arg(flag)
                .arg(&secret)
                .args(*after)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("{before:?} {flag}, mode {mode:o}");
            assert_eq!(out.status.code(), Some(*code), "{what}: {stderr}");
            // Read: it fails to parse. Not read: the refusal names the user, and nothing of it.
            assert_eq!(stderr.contains("TOML"), readable, "{what}: {stderr}");
            assert_eq!(
                stderr.contains("as uid 65534"),
                !readable,
                "{what}: {stderr}"
            );
            if !readable {
                assert!(!stderr.contains("root-secret-line"), "{what}: {stderr}");
            }
            assert!(!ran.exists(), "{what}: the command ran");
        }
    }
}

/// Under sudo, a `--redaction-key` that does not exist is not made by root (wherever its path
/// leads): the run is refused before anything runs and nothing is created, in a directory of
/// root's or of the user's. An existing key is used.
#[test]
fn a_redaction_key_named_under_sudo_is_not_made_by_root() {
    let dir = open_dir();
    let roots = dir.path().join("roots");
    std::fs::create_dir(&roots).unwrap();
    std::fs::set_permissions(&roots, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |key: &Path| {
        under_sudo(dir.path())
            .args(["run", "--profile", "host", "--quiet", "--receipt", "r.json"])
            .arg("--redaction-key")
            .arg(key)
            .args(["--", "touch", "ran"])
            .output()
            .unwrap()
    };
    let mine = dir.path().join("mine.key");
    for key in [
        roots.join("new.key"),
        roots.join("sub/dir/new.key"),
        mine.clone(),
    ] {
        let out = run(&key);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{}: {stderr}", key.display());
        assert!(stderr.contains("uid 65534"), "{stderr}");
        assert_eq!(names_in(&roots), Vec::<String>::new(), "{stderr}");
        assert!(!mine.exists() && !dir.path().join("ran").exists());
    }
    std::fs::write(&mine, [7u8; 32]).unwrap();
    std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&mine);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(dir.path().join("ran").exists());
}

/// Under sudo, `show`, `diff` and `policy check` read a receipt with the invoking user's rights
/// too: a root-only receipt is refused and nothing of it is shown; the same receipt made
/// readable is shown.
#[test]
fn receipts_read_under_sudo_are_read_with_the_invoking_users_rights() {
    let dir = open_dir();
    let out = glasshouse(dir.path())
        .args([
            "run",
            "--profile",
            "host",
            "--quiet",
            "--receipt",
            "roots.json",
        ])
        .args(["--", "cat", "/etc/hostname"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let receipt = dir.path().join("roots.json");
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, "version = 1\ndefault = \"deny\"\n").unwrap();
    std::fs::set_permissions(&policy, std::fs::Permissions::from_mode(0o644)).unwrap();
    // What each says of a receipt it could read: its content, or that nothing differs.
    let cases: [(&[&str], &str); 3] = [
        (&["show", "roots.json"], "/etc/hostname"),
        (&["diff", "roots.json", "roots.json"], "no differences"),
        (
            &["policy", "check", "--policy", "p.toml", "roots.json"],
            "/etc/hostname",
        ),
    ];
    for (mode, readable) in [(0o600, false), (0o644, true)] {
        std::fs::set_permissions(&receipt, std::fs::Permissions::from_mode(mode)).unwrap();
        for (args, says) in cases {
            let out = under_sudo(dir.path()).args(args).output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let what = format!("{args:?}, mode {mode:o}");
            assert_eq!(text.contains("as uid 65534"), !readable, "{what}: {text}");
            assert_eq!(text.contains(says), readable, "{what}: {text}");
            assert!(
                readable || !text.contains("/etc/hostname"),
                "{what}: {text}"
            );
        }
    }
}

/// Under sudo, a FIFO (which would hold glasshouse, acting as the user, until someone wrote to
/// it) and a file of `/proc` (which would show glasshouse's own process to the user) named as a
/// policy are refused at once, before anything runs.
#[test]
fn a_fifo_or_a_proc_file_named_under_sudo_is_refused_at_once() {
    let dir = open_dir();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o666)).unwrap();
    for (path, says) in [
        (fifo.as_path(), "not a regular file"),
        (Path::new("/proc/self/maps"), "a file of /proc"),
    ] {
        let mut child = under_sudo(dir.path())
            .args([
                "run",
                "--profile",
                "host",
                "--receipt",
                "r.json",
                "--policy",
            ])
            .arg(path)
            .args(["--", "touch", "ran"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let status = common::wait_within(
            &mut child,
            std::time::Duration::from_secs(20),
            "glasshouse waited on the policy file",
        );
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(125), "{}: {stderr}", path.display());
        assert!(stderr.contains(says), "{}: {stderr}", path.display());
        assert!(!dir.path().join("ran").exists());
    }
}

/// Under sudo, a receipt directory that is writable but lies beneath one the user cannot enter
/// is refused: the user could not have reached it.
#[test]
fn a_receipt_directory_the_user_cannot_reach_is_refused() {
    let dir = open_dir();
    let closed = dir.path().join("closed");
    let inner = closed.join("open");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = under_sudo(dir.path())
        .args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(inner.join("receipt.json"))
        .args(["--", "touch", "ran"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("not writable by uid 65534"), "{stderr}");
    assert_eq!(names_in(&inner), Vec::<String>::new());
    assert!(!dir.path().join("ran").exists());
}

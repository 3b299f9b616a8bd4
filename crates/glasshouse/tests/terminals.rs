//! Terminals (issue 11, item 6): when glasshouse's stdout or stderr is a terminal, the command
//! still sees one (isatty, the window size and its changes) while what reaches the terminal is
//! hashed, and the receipt lists which streams were terminals.

mod common;

use common::{glasshouse, on_terminal, open_pty, read_master, read_receipt, wait_for_output};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::process::Stdio;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn set_window(master: &OwnedFd, rows: u16, cols: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which outlives the call.
    assert_eq!(
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) },
        0
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The paths of the receipt's file lists that are terminal devices.
fn terminal_paths(receipt: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (key, list) in receipt["filesystem"].as_object().into_iter().flatten() {
        if key == "descriptors" {
            continue;
        }
        for entry in list.as_array().into_iter().flatten() {
            let text = entry.to_string();
            if text.contains("/dev/ptmx") || text.contains("/dev/pts") {
                found.push(format!("{key}: {text}"));
            }
        }
    }
    found
}

/// Python, run under glasshouse on a terminal: says which of its streams are terminals and the
/// window size, then reports a resize and echoes the line typed.
const INTERACTIVE: &str = r#"
import os, signal, sys
def winch(*_):
    s = os.get_terminal_size(1)
    print("winch", s.columns, s.lines, flush=True)
signal.signal(signal.SIGWINCH, winch)
print("isatty", os.isatty(0), os.isatty(1), os.isatty(2))
s = os.get_terminal_size(1)
print("size", s.columns, s.lines)
print("ready", flush=True)
print("read", sys.stdin.readline().strip(), flush=True)
"#;

#[test]
fn the_command_sees_the_terminal_its_size_and_what_is_typed_and_the_output_is_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let (master, slave) = open_pty();
    set_window(&master, 24, 80);
    let mut cmd = glasshouse(dir.path());
    cmd.args(["run", "--profile", "host", "--quiet", "--"])
        .args(["python3", "-c", INTERACTIVE])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // stdin and stdout are the terminal; stderr is a pipe.
    on_terminal(&mut cmd, slave, &[0, 1]);
    let input = master.try_clone().unwrap();
    let (seen, reader) = read_master(master);
    let mut child = cmd.spawn().unwrap();
    wait_for_output(&seen, "ready", DEADLINE);
    // The window changes: glasshouse (the terminal's foreground job) gets SIGWINCH and
    // passes the size on.
    set_window(&input, 30, 100);
    wait_for_output(&seen, "winch 100 30", DEADLINE);
    // Enter on a raw terminal is a carriage return; the command's terminal turns it into a
    // newline, as the real one would have.
    assert_eq!(rustix::io::write(&input, b"hello\r").unwrap(), 6);
    let status = common::wait_within(&mut child, DEADLINE, "glasshouse did not end");
    reader.join().unwrap();
    let bytes = seen.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}\n{text}");
    // The terminal's output processing and echo, as the real terminal would have shown them.
    assert!(text.contains("isatty True True False\r\n"), "{text:?}");
    assert!(text.contains("size 80 24\r\n"), "{text:?}");
    assert!(text.contains("hello\r\nread hello\r\n"), "{text:?}");

    let receipt = read_receipt(&dir.path().join("receipt.json"));
    let artifacts = &receipt["artifacts"];
    assert_eq!(
        artifacts["terminals"],
        serde_json::json!(["stdin", "stdout"])
    );
    assert!(artifacts.get("stderr_in_stdout").is_none(), "{artifacts}");
    // Everything that reached the terminal came through the hash, and nothing else.
    assert_eq!(artifacts["stdout_hash"], sha256_hex(&bytes), "{text:?}");
    assert_eq!(artifacts["stdout_bytes"], bytes.len());
    // glasshouse opened the pty before the command existed: the command did not.
    assert_eq!(terminal_paths(&receipt), Vec::<String>::new());
    // The sensor saw the command start with a terminal as stdin and stdout.
    let descriptors = receipt["filesystem"]["descriptors"].as_array().unwrap();
    for fd in [0, 1] {
        let entry = descriptors
            .iter()
            .find(|d| d["fd"] == fd)
            .unwrap_or_else(|| panic!("no descriptor {fd}: {descriptors:?}"));
        let path = entry["path"].to_string();
        assert!(path.contains("/dev/pts/"), "{entry}");
    }
}

#[test]
fn stdout_and_stderr_on_one_terminal_share_one_hash() {
    one_terminal_for_both(&[], sha256_hex);
}

#[test]
fn the_terminal_copy_hashes_with_blake3_when_asked() {
    one_terminal_for_both(&["--output-hash", "blake3"], |bytes| {
        format!("blake3:{}", blake3::hash(bytes).to_hex())
    });
}

/// glasshouse's stdout and stderr on one terminal: one pty carries both, hashed by `digest`.
fn one_terminal_for_both(flags: &[&str], digest: fn(&[u8]) -> String) {
    let dir = tempfile::tempdir().unwrap();
    let (master, slave) = open_pty();
    // A raw terminal: the bytes read here are exactly the ones glasshouse wrote.
    // SAFETY: tcgetattr/tcsetattr on the master just opened, with a termios on the stack.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(master.as_raw_fd(), &mut t), 0);
        libc::cfmakeraw(&mut t);
        assert_eq!(libc::tcsetattr(master.as_raw_fd(), libc::TCSANOW, &t), 0);
    }
    let script = "[ -t 0 ] || echo stdin-not-a-terminal; [ -t 1 ] && [ -t 2 ] && echo both-terminals; echo to-stderr >&2; echo to-stdout";
    let mut cmd = glasshouse(dir.path());
    cmd.args(["run", "--profile", "host", "--quiet"])
        .args(flags)
        .args(["--", "sh", "-c", script])
        .stdin(Stdio::null());
    on_terminal(&mut cmd, slave, &[1, 2]);
    let (seen, reader) = read_master(master);
    let mut child = cmd.spawn().unwrap();
    let status = common::wait_within(&mut child, DEADLINE, "glasshouse did not end");
    reader.join().unwrap();
    let bytes = seen.lock().unwrap().clone();
    assert_eq!(
        status.code(),
        Some(0),
        "{:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        "stdin-not-a-terminal\nboth-terminals\nto-stderr\nto-stdout\n"
    );
    let receipt = read_receipt(&dir.path().join("receipt.json"));
    let artifacts = &receipt["artifacts"];
    assert_eq!(
        artifacts["terminals"],
        serde_json::json!(["stdout", "stderr"])
    );
    assert_eq!(artifacts["stderr_in_stdout"], true);
    assert_eq!(artifacts["stdout_hash"], digest(&bytes));
    assert_eq!(artifacts["stdout_bytes"], bytes.len());
    assert_eq!(artifacts["stderr_hash"], digest(b""));
    assert_eq!(artifacts["stderr_bytes"], 0);
    assert_eq!(terminal_paths(&receipt), Vec::<String>::new());
}

/// A minimal job-control shell in Python: runs ARGV as a foreground job of its own on its
/// terminal, reports when the job stops and whether the terminal is back in its normal
/// (canonical) mode, continues it in the foreground (`fg`; once the file FG_WHEN exists, when
/// set), and reports its exit status.
const SHELL: &str = r#"
import os, signal, sys, termios, time
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.tcsetpgrp(0, os.getpgrp())
    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
    os.execv(sys.argv[1], sys.argv[1:])
try:
    os.setpgid(pid, pid)
except PermissionError:
    pass  # the child has done it and exec'd already
os.tcsetpgrp(0, pid)
_, status = os.waitpid(pid, os.WUNTRACED)
print("shell: stopped", os.WIFSTOPPED(status), flush=True)
os.tcsetpgrp(0, os.getpgrp())
print("shell: canonical", bool(termios.tcgetattr(0)[3] & termios.ICANON), flush=True)
while not os.path.exists(os.environ.get("FG_WHEN", "/")):
    time.sleep(0.02)
os.tcsetpgrp(0, pid)
os.killpg(pid, signal.SIGCONT)
_, status = os.waitpid(pid, 0)
os.tcsetpgrp(0, os.getpgrp())
print("shell: exit", os.waitstatus_to_exitcode(status), flush=True)
"#;

/// Under glasshouse the command leads a session of its own, whose process group the kernel
/// does not stop with the SIGTSTP of Ctrl-Z (an orphaned group, docs/terminals.md); a stop by
/// SIGSTOP, which no group escapes, is followed. The command stops itself with it here, as a
/// program that handles Ctrl-Z itself or a debugger would.
const STOPS_ITSELF: &str = "import os, signal
print('ready', flush=True)
input()
os.kill(os.getpid(), signal.SIGSTOP)
print('read', input())";

#[test]
fn a_stopped_command_stops_glasshouse_and_fg_continues_both() {
    let dir = tempfile::tempdir().unwrap();
    let (master, slave) = open_pty();
    let mut cmd = std::process::Command::new("python3");
    cmd.current_dir(dir.path())
        .args([
            "-c",
            SHELL,
            common::BIN,
            "run",
            "--profile",
            "host",
            "--quiet",
            "--",
        ])
        .args(["python3", "-c", STOPS_ITSELF])
        .env_remove("GLASSHOUSE_CAPTURE_ARGV")
        .env_remove("GLASSHOUSE_BPF_DIR")
        .env_remove("GLASSHOUSE_KEEP_PROGRAMS");
    on_terminal(&mut cmd, slave, &[0, 1, 2]);
    let input = master.try_clone().unwrap();
    let (seen, reader) = read_master(master);
    let mut child = cmd.spawn().unwrap();
    wait_for_output(&seen, "ready", DEADLINE);
    // The command stops; glasshouse follows, and the shell sees its job stopped with the
    // terminal in its normal mode again.
    assert_eq!(rustix::io::write(&input, b"z\r").unwrap(), 2);
    wait_for_output(&seen, "shell: stopped True", DEADLINE);
    wait_for_output(&seen, "shell: canonical True", DEADLINE);
    // `fg` continued both: what is typed reaches the command again.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rustix::io::write(&input, b"hello\r").unwrap(), 6);
    wait_for_output(&seen, "read hello", DEADLINE);
    wait_for_output(&seen, "shell: exit 0", DEADLINE);
    let status = common::wait_within(&mut child, DEADLINE, "the shell did not end");
    assert!(status.success());
    drop(input);
    reader.join().unwrap();
    let receipt = read_receipt(&dir.path().join("receipt.json"));
    assert_eq!(
        receipt["artifacts"]["terminals"],
        serde_json::json!(["stdin", "stdout", "stderr"])
    );
    assert_eq!(receipt["outcome"]["exit_code"], 0);
}

/// The child of `pid` whose command line holds `needle` and is not glasshouse's own (the guard
/// is a fork of glasshouse, with its command line).
fn child_running(pid: u32, needle: &str) -> Option<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
        {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline);
            if text.contains(needle) && !text.contains("glasshouse") {
                return Some(child);
            }
        }
    }
    None
}

/// The state letter of /proc/PID/stat (`T` when stopped).
fn state_of(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap()
}

#[test]
fn a_stopped_command_stays_stopped_where_no_shell_could_continue_glasshouse() {
    let dir = tempfile::tempdir().unwrap();
    let (master, slave) = open_pty();
    let mut cmd = glasshouse(dir.path());
    cmd.args(["run", "--profile", "host", "--quiet", "--"])
        .args(["python3", "-c", STOPS_ITSELF])
        .stderr(Stdio::piped());
    // glasshouse leads the terminal's session: its group is orphaned, nothing would continue it.
    on_terminal(&mut cmd, slave, &[0, 1]);
    let input = master.try_clone().unwrap();
    let (seen, reader) = read_master(master);
    let mut child = cmd.spawn().unwrap();
    wait_for_output(&seen, "ready", DEADLINE);
    let command = child_running(child.id(), "signal.SIGSTOP");
    let command = command.expect("the command is glasshouse's child");
    assert_eq!(rustix::io::write(&input, b"z\r").unwrap(), 2);
    let start = std::time::Instant::now();
    while state_of(command) != 'T' {
        assert!(start.elapsed() < DEADLINE, "the command never stopped");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Well past glasshouse's 50 ms check: it did not continue the command behind its back.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(state_of(command), 'T');
    // SAFETY: kill(2) of the command this test's glasshouse runs, which is alive (stopped).
    assert_eq!(unsafe { libc::kill(command as i32, libc::SIGCONT) }, 0);
    assert_eq!(rustix::io::write(&input, b"hello\r").unwrap(), 6);
    wait_for_output(&seen, "read hello", DEADLINE);
    let status = common::wait_within(&mut child, DEADLINE, "glasshouse did not end");
    assert_eq!(status.code(), Some(0));
    drop(input);
    reader.join().unwrap();
}

/// Ctrl-Z typed while glasshouse's output goes to a file (`glasshouse run ... > log` in a
/// shell): the command, in a session of its own (so that it cannot type into the terminal),
/// stops with glasshouse, and the shell's `fg` continues both.
#[test]
fn ctrl_z_stops_a_command_of_its_own_session_with_glasshouse_and_fg_continues_it() {
    let dir = tempfile::tempdir().unwrap();
    let (master, slave) = open_pty();
    let ready = dir.path().join("ready");
    let (go, fg) = (dir.path().join("go"), dir.path().join("fg"));
    let script = format!(
        "echo $$ > {r}.tmp && mv {r}.tmp {r}; while [ ! -e {go} ]; do sleep 0.05; done",
        r = ready.display(),
        go = go.display()
    );
    let job = format!(
        "exec {bin} run --profile host --quiet -- sh -c '{script}' > log 2>&1",
        bin = common::BIN
    );
    let mut cmd = std::process::Command::new("python3");
    cmd.current_dir(dir.path())
        .args(["-c", SHELL, "/bin/sh", "-c", &job])
        .env("FG_WHEN", &fg)
        .env_remove("GLASSHOUSE_CAPTURE_ARGV")
        .env_remove("GLASSHOUSE_BPF_DIR")
        .env_remove("GLASSHOUSE_KEEP_PROGRAMS");
    on_terminal(&mut cmd, slave, &[0, 1, 2]);
    let input = master.try_clone().unwrap();
    let (seen, reader) = read_master(master);
    let mut child = cmd.spawn().unwrap();
    let start = std::time::Instant::now();
    while !ready.exists() {
        assert!(start.elapsed() < DEADLINE, "the command never became ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let command: u32 = std::fs::read_to_string(&ready)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(rustix::io::write(&input, b"\x1a").unwrap(), 1);
    wait_for_output(&seen, "shell: stopped True", DEADLINE);
    assert_eq!(
        state_of(command),
        'T',
        "the command did not stop with glasshouse"
    );
    std::fs::write(&fg, "").unwrap();
    std::fs::write(&go, "").unwrap();
    wait_for_output(&seen, "shell: exit 0", DEADLINE);
    let status = common::wait_within(&mut child, DEADLINE, "the shell did not end");
    assert!(status.success());
    drop(input);
    reader.join().unwrap();
}

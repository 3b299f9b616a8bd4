//! Signals (issue 11, item 7): one Ctrl-C reaches the command once, and a command that ignores
//! a forwarded SIGTERM is killed after `--kill-after`, which the receipt says.

mod common;

use common::{glasshouse, on_terminal, open_pty, read_master, read_receipt, Testers};
use std::fs;
use std::os::fd::AsRawFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

static TESTERS: Testers = Testers::new("programs_run", "programs_run", &["-O1"], &[]);

const DEADLINE: Duration = Duration::from_secs(30);

fn wait_for_file(path: &Path, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("glasshouse ended before the command was ready: {status}");
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("the command never became ready");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Everything left to read from one of a child's piped streams.
fn read_all(stream: Option<impl std::io::Read>) -> String {
    let mut text = String::new();
    stream
        .expect("a piped stream")
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn wait_or_fail(child: &mut Child) -> std::process::ExitStatus {
    common::wait_within(child, DEADLINE, "glasshouse did not end")
}

#[test]
fn one_ctrl_c_reaches_the_command_once() {
    let dir = tempfile::tempdir().unwrap();
    let (master, slave) = open_pty();
    let ready = dir.path().join("ready");
    let mut cmd = glasshouse(dir.path());
    cmd.args(["run", "--profile", "host", "--quiet", "--"])
        .arg(TESTERS.path("sigcount"))
        .arg(&ready)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A session of its own whose controlling terminal is the pty, with glasshouse in its
    // foreground process group, the terminal as stdin only: as in an interactive shell.
    on_terminal(&mut cmd, slave, &[0]);
    let mut child = cmd.spawn().unwrap();
    wait_for_file(&ready, &mut child);
    // Ctrl-C typed on the terminal, three times: the line discipline sends SIGINT to the
    // foreground group, which the command shares with glasshouse. A copy forwarded on top would
    // often merge with the one still pending; three rounds give it three chances to show.
    for _ in 0..3 {
        let n = rustix::io::write(&master, b"\x03").unwrap();
        assert_eq!(n, 1);
        std::thread::sleep(Duration::from_millis(300));
    }
    let status = wait_or_fail(&mut child);
    let out = read_all(child.stdout.take());
    let err = read_all(child.stderr.take());
    assert_eq!(out, "SIGINT 3\n", "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
    drop(master);
}

/// Sends SIGINT to glasshouse's whole process group three times, 300 ms apart, as `kill -INT
/// -PGID` from another terminal would.
fn interrupt_group_three_times(glasshouse_pid: u32) {
    for _ in 0..3 {
        // SAFETY: kill(2) of the process group this test's own child leads (it called setsid).
        assert_eq!(
            unsafe { libc::kill(-(glasshouse_pid as i32), libc::SIGINT) },
            0
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_signal_to_glasshouses_group_reaches_the_command_once_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mut cmd = glasshouse(dir.path());
    cmd.args(["run", "--profile", "host", "--quiet", "--"])
        .arg(TESTERS.path("sigcount"))
        .arg(&ready)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A session of its own without a terminal, as under a service manager or an agent.
    // SAFETY: setsid between fork and exec is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    wait_for_file(&ready, &mut child);
    interrupt_group_three_times(child.id());
    let status = wait_or_fail(&mut child);
    let out = read_all(child.stdout.take());
    let err = read_all(child.stderr.take());
    // The command has a process group of its own: only glasshouse's copy reached it.
    assert_eq!(out, "SIGINT 3\n", "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn a_signal_to_glasshouses_group_reaches_the_command_once_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (master, slave) = open_pty();
    let before = termios_of(&master);
    let ready = dir.path().join("ready");
    let mut cmd = glasshouse(dir.path());
    cmd.args(["run", "--profile", "host", "--quiet", "--"])
        .arg(TESTERS.path("sigcount"))
        .arg(&ready)
        .stderr(Stdio::piped());
    on_terminal(&mut cmd, slave, &[0, 1]);
    let (seen, reader) = read_master(master.try_clone().unwrap());
    let mut child = cmd.spawn().unwrap();
    wait_for_file(&ready, &mut child);
    // While the command runs, glasshouse's terminal is raw: the keys go to the command's.
    let raw = termios_of(&master);
    assert_eq!(raw.c_lflag & (libc::ICANON | libc::ECHO | libc::ISIG), 0);
    interrupt_group_three_times(child.id());
    let status = wait_or_fail(&mut child);
    reader.join().unwrap();
    let out = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let err = read_all(child.stderr.take());
    // The command runs in a session of its own on glasshouse's pty.
    assert_eq!(out, "SIGINT 3\r\n", "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
    // glasshouse gave its terminal back the settings it found.
    let after = termios_of(&master);
    assert_eq!(
        (after.c_lflag, after.c_iflag, after.c_oflag),
        (before.c_lflag, before.c_iflag, before.c_oflag)
    );
}

#[test]
fn ctrl_c_on_glasshouses_terminal_reaches_a_command_with_a_pty_once() {
    let dir = tempfile::tempdir().unwrap();
    let (master, slave) = open_pty();
    let ready = dir.path().join("ready");
    let mut cmd = glasshouse(dir.path());
    cmd.args(["run", "--profile", "host", "--quiet", "--"])
        .arg(TESTERS.path("sigcount"))
        .arg(&ready)
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    // Only stdout is the terminal: it stays in its normal mode, and its Ctrl-C goes to
    // glasshouse's group, not to the command's session; glasshouse forwards one copy.
    on_terminal(&mut cmd, slave, &[1]);
    let (seen, reader) = read_master(master.try_clone().unwrap());
    let mut child = cmd.spawn().unwrap();
    wait_for_file(&ready, &mut child);
    for _ in 0..3 {
        assert_eq!(rustix::io::write(&master, b"\x03").unwrap(), 1);
        std::thread::sleep(Duration::from_millis(300));
    }
    let status = wait_or_fail(&mut child);
    reader.join().unwrap();
    let out = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let err = read_all(child.stderr.take());
    // The terminal echoes each Ctrl-C as ^C; the command counted three.
    assert_eq!(out.matches("SIGINT").count(), 1, "{out:?} {err}");
    assert!(out.contains("SIGINT 3\r"), "{out:?} {err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

fn termios_of(fd: &std::os::fd::OwnedFd) -> libc::termios {
    // SAFETY: tcgetattr fills the termios on the stack from a descriptor this test holds.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(fd.as_raw_fd(), &mut t), 0);
        t
    }
}

#[test]
fn a_command_ignoring_sigterm_is_killed_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = glasshouse(dir.path())
        .args([
            "run",
            "--profile",
            "host",
            "--quiet",
            "--kill-after",
            "1",
            "--linger",
            "0",
        ])
        .args([
            "--",
            "sh",
            "-c",
            "trap '' TERM; touch ready; exec sleep 100",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&dir.path().join("ready"), &mut child);
    // `touch ready` ran; give the shell the moment it needs to exec sleep.
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    // SAFETY: kill(2) on the child this test started and still holds (not yet waited for).
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = wait_or_fail(&mut child);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(status.code(), Some(128 + libc::SIGKILL));
    let receipt = read_receipt(&dir.path().join("receipt.json"));
    assert_eq!(receipt["outcome"]["signal"], libc::SIGKILL);
    let error = receipt["outcome"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("--kill-after 1"), "{error}");
    let root = &receipt["process_tree"][0];
    assert_eq!(root["ended_by_glasshouse"], true, "{root}");
    let _ = fs::remove_file(dir.path().join("ready"));
}

//! Signals (issue 11, item 7): one Ctrl-C reaches the command once, and a command that ignores
//! a forwarded SIGTERM is killed after `--kill-after`, which the receipt says.

mod common;

use common::{glasshouse, read_receipt, Testers};
use std::ffi::CStr;
use std::fs;
use std::io::Read as _;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
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

fn wait_or_fail(child: &mut Child) -> std::process::ExitStatus {
    common::wait_within(child, DEADLINE, "glasshouse did not end")
}

/// A new pseudo-terminal: its master and the path of its slave.
fn open_pty() -> (OwnedFd, std::ffi::CString) {
    // SAFETY: posix_openpt/grantpt/unlockpt/ptsname_r are called as documented, on the
    // descriptor just opened and a buffer of the size passed.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let slave = CStr::from_ptr(name.as_ptr()).to_owned();
        (OwnedFd::from_raw_fd(master), slave)
    }
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
    // SAFETY: between fork and exec only async-signal-safe calls: setsid, open, ioctl, dup2,
    // close, signal.
    unsafe {
        cmd.pre_exec(move || {
            // A session of its own whose controlling terminal is the pty, with glasshouse in
            // its foreground process group: as in an interactive shell.
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let fd = libc::open(slave.as_ptr(), libc::O_RDWR);
            if fd < 0 || libc::ioctl(fd, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::dup2(fd, 0);
            libc::close(fd);
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
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
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(out, "SIGINT 3\n", "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
    let _ = master.as_raw_fd();
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

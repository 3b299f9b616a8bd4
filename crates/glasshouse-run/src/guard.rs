//! The recorder outlives its command: if glasshouse dies (even by SIGKILL), the command's whole
//! tree dies with it instead of running on unobserved.
//!
//! Two mechanisms, each enough for its part:
//! - glasshouse moves itself into a cgroup of its own (cgroup v2, `glasshouse/run-PID-N` under
//!   the first cgroup2 mount) just before it spawns the command, which every descendant then
//!   inherits (glasshouse joins rather than the child, so that the join is not among the
//!   command's recorded actions); a small guard process, forked just before, outside it, waits
//!   for glasshouse's end (end of file on a pipe whose other end glasshouse keeps open until it
//!   exits) and then kills the cgroup (`cgroup.kill`, by then glasshouse has exited) and removes it;
//! - the command itself gets `PR_SET_PDEATHSIG` = SIGKILL (set after any change of user, which
//!   clears it), in case no cgroup could be made.
//!
//! The guard runs as root and holds no descriptor of glasshouse's but its pipe, so a non-root
//! command can neither signal it nor keep its pipe open.

use glasshouse_backend::BeforeExecHook;
use std::ffi::CString;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

/// A run's cgroup, killed by the guard when glasshouse ends.
pub struct Guard {
    cgroup: Option<PathBuf>,
}

impl Guard {
    /// Makes the run's cgroup, forks the guard and moves glasshouse into the cgroup. Without
    /// cgroup v2 (or when it refuses) there is no cgroup, and only the command's death signal
    /// remains.
    pub fn start() -> Self {
        let cgroup = make_cgroup().and_then(|dir| {
            let Some(alive) = fork_guard(&dir) else {
                let _ = std::fs::remove_dir(&dir);
                return None;
            };
            // Kept open until glasshouse exits, whichever way: its closing is the guard's
            // signal, so it is never closed by hand.
            std::mem::forget(alive);
            std::fs::write(dir.join("cgroup.procs"), "0")
                .ok()
                .map(|()| dir)
        });
        Self { cgroup }
    }

    /// The run's cgroup, when there is one.
    pub fn cgroup(&self) -> Option<&Path> {
        self.cgroup.as_deref()
    }
}

/// The death-signal hook: SIGKILL when glasshouse's spawning thread ends. It must run after
/// any change of credentials (which clears it); if glasshouse is already gone, the command
/// does not start.
pub fn death_signal_hook() -> BeforeExecHook {
    let parent = std::process::id() as i32;
    Box::new(move || {
        // SAFETY: prctl and getppid are raw system calls, async-signal-safe.
        unsafe {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(std::io::Error::other(
                    "glasshouse ended before the command started",
                ));
            }
        }
        Ok(())
    })
}

/// The first cgroup2 mount, from /proc/self/mountinfo.
fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        (right.split_whitespace().next() == Some("cgroup2"))
            .then(|| left.split_whitespace().nth(4).map(PathBuf::from))
            .flatten()
    })
}

fn make_cgroup() -> Option<PathBuf> {
    let base = cgroup2_mount()?.join("glasshouse");
    let _ = std::fs::create_dir(&base);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = base.join(format!("run-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir).ok()?;
    dir.join("cgroup.kill")
        .exists()
        .then_some(dir.clone())
        .or_else(|| {
            let _ = std::fs::remove_dir(&dir);
            None
        })
}

/// Forks the guard; returns the pipe end glasshouse keeps.
fn fork_guard(cgroup: &Path) -> Option<OwnedFd> {
    let kill = CString::new(cgroup.join("cgroup.kill").as_os_str().as_bytes()).ok()?;
    let dir = CString::new(cgroup.as_os_str().as_bytes()).ok()?;
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ok()?;
    let read_fd = read.as_raw_fd();
    // SAFETY: fork in a threaded process: the child makes only async-signal-safe raw system
    // calls (signal, dup2, close_range, read, open, write, rmdir, nanosleep, _exit) on data
    // prepared before the fork, and never returns into Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return None;
    }
    if pid == 0 {
        // SAFETY: see above.
        unsafe { guard_main(read_fd, &kill, &dir) }
    }
    drop(read);
    Some(write)
}

/// The guard: waits for end of file on `read_fd`, kills the cgroup, removes it, exits.
///
/// # Safety
/// Only to be called in the child of a fork; never returns.
unsafe fn guard_main(read_fd: i32, kill: &CString, dir: &CString) -> ! {
    // SAFETY: raw system calls on descriptors and buffers this function owns.
    unsafe {
        // A terminal's Ctrl-C reaches the whole foreground group: the guard stays.
        for sig in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGPIPE,
        ] {
            libc::signal(sig, libc::SIG_IGN);
        }
        libc::dup2(read_fd, 0);
        libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32);
        let mut byte = 0u8;
        loop {
            let n = libc::read(0, (&mut byte as *mut u8).cast(), 1);
            if n == 0 || (n < 0 && *libc::__errno_location() != libc::EINTR) {
                break;
            }
        }
        let fd = libc::open(kill.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd >= 0 {
            libc::write(fd, b"1".as_ptr().cast(), 1);
            libc::close(fd);
        }
        // The cgroup can be removed once its last process is gone.
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        for _ in 0..500 {
            if libc::rmdir(dir.as_ptr()) == 0 {
                break;
            }
            libc::nanosleep(&pause, std::ptr::null_mut());
        }
        libc::_exit(0)
    }
}

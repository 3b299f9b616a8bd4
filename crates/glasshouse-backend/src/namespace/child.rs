//! The two processes inside the sandbox, between clone and exec: raw system calls on memory
//! the parent prepared, no allocation, no locks (glasshouse has other threads).
//!
//! The first process is pid 1 of the new pid namespace. It builds the file system and the
//! loopback, forks the command, passes the command's pidfd to glasshouse, reports the
//! command's status, and reaps orphans until the namespace is empty. As the namespace's init
//! it cannot be killed from inside (`kill -9 $PPID` in the command is ignored), and when it
//! ends the kernel ends everything left in the namespace.
//!
//! The command waits until glasshouse has registered it with the sensor (a byte on the
//! control socket), then drops to the invoking user, restricts itself with Landlock and execs.

use super::landlock;
use super::mounts::{self, errno, Op};
use crate::credentials::Switch;
use std::ffi::CStr;
use std::os::fd::RawFd;

/// Control socket messages from the sandbox to glasshouse.
pub(crate) const MSG_READY: u8 = b'R';
pub(crate) const MSG_ERROR: u8 = b'E';
pub(crate) const MSG_STATUS: u8 = b'S';
/// The resources of everything the init reaped (the tree, not the init itself).
pub(crate) const MSG_RESOURCES: u8 = b'U';
/// From glasshouse to the command: registered, go on.
pub(crate) const MSG_GO: u8 = b'G';

/// Steps that are not mount plan entries, as reported in a setup error.
pub(crate) const STEP_LOOPBACK: u32 = u32::MAX - 1;
pub(crate) const STEP_FORK: u32 = u32::MAX - 2;
pub(crate) const STEP_PIDFD: u32 = u32::MAX - 3;

/// Steps of the command itself before exec, as reported on the exec error pipe.
pub(crate) const CMD_EXEC: u32 = 0;
pub(crate) const CMD_USER: u32 = 1;
pub(crate) const CMD_LANDLOCK: u32 = 2;
pub(crate) const CMD_CWD: u32 = 3;
pub(crate) const CMD_STDIO: u32 = 4;
pub(crate) const CMD_SECCOMP: u32 = 5;

/// Everything the two processes need, prepared by glasshouse.
pub(crate) struct ChildPlan<'a> {
    pub ops: &'a [Op],
    pub loopback: bool,
    pub hostname: &'a CStr,
    pub ctl: RawFd,
    pub exec_err: RawFd,
    pub stdout: Option<RawFd>,
    pub stderr: Option<RawFd>,
    pub program: &'a CStr,
    pub argv: *const *const libc::c_char,
    pub envp: *const *const libc::c_char,
    pub cwd: &'a CStr,
    /// The switch to the user the command runs as (the child's own copy of it is written to
    /// when the groups are read back).
    pub user: Option<*mut Switch>,
    pub landlock: Option<(RawFd, u64)>,
    pub tmp: &'a CStr,
    pub seccomp: &'a [libc::sock_filter],
}

fn write_all(fd: RawFd, bytes: &[u8]) {
    let mut done = 0;
    while done < bytes.len() {
        // SAFETY: writes from a live buffer.
        let n = unsafe { libc::write(fd, bytes[done..].as_ptr().cast(), bytes.len() - done) };
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            return;
        }
        done += n as usize;
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit ends the process without running the parent's atexit handlers or
    // flushing its buffers, which belong to glasshouse.
    unsafe { libc::_exit(code) }
}

fn report_setup_error(ctl: RawFd, step: u32, err: i32) -> ! {
    let mut msg = [0u8; 9];
    msg[0] = MSG_ERROR;
    msg[1..5].copy_from_slice(&step.to_ne_bytes());
    msg[5..9].copy_from_slice(&err.to_ne_bytes());
    write_all(ctl, &msg);
    exit(1)
}

fn report_command_error(fd: RawFd, step: u32, err: i32) -> ! {
    let mut msg = [0u8; 8];
    msg[0..4].copy_from_slice(&step.to_ne_bytes());
    msg[4..8].copy_from_slice(&err.to_ne_bytes());
    write_all(fd, &msg);
    exit(127)
}

/// Every signal back to its default action and none blocked (glasshouse's handlers and mask
/// are not the sandbox's).
fn reset_signals() {
    // SAFETY: signal/sigprocmask with valid arguments; failures for SIGKILL/SIGSTOP are
    // expected and harmless.
    unsafe {
        for sig in 1..libc::SIGRTMAX() {
            libc::signal(sig, libc::SIG_DFL);
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}

/// Closes every descriptor above stderr except `keep` (a forked copy of glasshouse holds all of
/// glasshouse's: its BPF programs, maps and links must not stay reachable or attached here).
fn close_all_but(keep: [RawFd; 5]) {
    let mut keep = keep;
    keep.sort_unstable();
    let mut from: libc::c_uint = 3;
    for fd in keep {
        if fd < from as RawFd {
            continue;
        }
        if fd as libc::c_uint > from {
            // SAFETY: close_range closes descriptors of this process only.
            unsafe { libc::syscall(libc::SYS_close_range, from, fd as libc::c_uint - 1, 0) };
        }
        from = fd as libc::c_uint + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, from, libc::c_uint::MAX, 0) };
}

/// The sandbox's pid 1. Never returns.
pub(crate) fn init_main(plan: &ChildPlan<'_>) -> ! {
    // SAFETY: prctl with constant arguments.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    close_all_but([
        plan.ctl,
        plan.exec_err,
        plan.stdout.unwrap_or(-1),
        plan.stderr.unwrap_or(-1),
        plan.landlock.map_or(-1, |(fd, _)| fd),
    ]);
    reset_signals();
    for (i, op) in plan.ops.iter().enumerate() {
        if let Err(e) = mounts::execute(op) {
            report_setup_error(plan.ctl, i as u32, e);
        }
    }
    if plan.loopback {
        if let Err(e) = super::net::loopback_up() {
            report_setup_error(plan.ctl, STEP_LOOPBACK, e);
        }
    }
    // SAFETY: a NUL-terminated name; the uts namespace is the sandbox's own.
    unsafe { libc::sethostname(plan.hostname.as_ptr(), plan.hostname.to_bytes().len()) };

    // A plain fork without the C library's fork handlers, which may not run here.
    // SAFETY: clone with only SIGCHLD is fork(); the child continues on a copy of this stack.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0) };
    if pid == 0 {
        command_main(plan);
    }
    if pid < 0 {
        report_setup_error(plan.ctl, STEP_FORK, errno());
    }
    let pid = pid as libc::pid_t;
    // SAFETY: closing this process's copies of descriptors only the command needs.
    unsafe {
        for fd in [plan.stdout, plan.stderr].into_iter().flatten() {
            libc::close(fd);
        }
        libc::close(plan.exec_err);
    }
    // SAFETY: pidfd_open takes a pid and flags.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        report_setup_error(plan.ctl, STEP_PIDFD, errno());
    }
    send_with_fd(plan.ctl, MSG_READY, pidfd as RawFd);
    // SAFETY: the pidfd was opened above and has been passed on.
    unsafe { libc::close(pidfd as RawFd) };

    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a live integer.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r == pid {
            let mut msg = [0u8; 5];
            msg[0] = MSG_STATUS;
            msg[1..5].copy_from_slice(&status.to_ne_bytes());
            write_all(plan.ctl, &msg);
        } else if r < 0 && errno() != libc::EINTR {
            report_resources(plan.ctl);
            exit(0);
        }
    }
}

/// Sends the user and system time (ms) and the largest RSS (KiB) of the reaped children.
fn report_resources(ctl: RawFd) {
    // SAFETY: getrusage fills a zeroed struct it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    };
    let ms = |t: libc::timeval| (t.tv_sec.max(0) as u64) * 1000 + (t.tv_usec.max(0) as u64) / 1000;
    let mut msg = [0u8; 25];
    msg[0] = MSG_RESOURCES;
    msg[1..9].copy_from_slice(&ms(ru.ru_utime).to_ne_bytes());
    msg[9..17].copy_from_slice(&ms(ru.ru_stime).to_ne_bytes());
    msg[17..25].copy_from_slice(&(ru.ru_maxrss.max(0) as u64).to_ne_bytes());
    write_all(ctl, &msg);
}

/// Sends one byte with a descriptor attached (SCM_RIGHTS).
fn send_with_fd(sock: RawFd, byte: u8, fd: RawFd) {
    #[repr(C, align(8))]
    struct Control([u8; 64]);
    let mut payload = [byte];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = Control([0; 64]);
    // SAFETY: the message header points at live buffers; CMSG_* compute positions inside
    // `control`, which is large enough for one descriptor.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::copy_nonoverlapping(
            (&fd as *const RawFd).cast::<u8>(),
            libc::CMSG_DATA(cmsg),
            std::mem::size_of::<RawFd>(),
        );
        libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
    }
}

/// The command's process until exec. Never returns.
fn command_main(plan: &ChildPlan<'_>) -> ! {
    // SAFETY: every call below is a plain system call on values the plan holds.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        let mut byte = 0u8;
        loop {
            let n = libc::read(plan.ctl, (&mut byte as *mut u8).cast(), 1);
            if n == 1 && byte == MSG_GO {
                break;
            }
            if n < 0 && errno() == libc::EINTR {
                continue;
            }
            // glasshouse went away or refused: never run unobserved.
            exit(1);
        }
        libc::close(plan.ctl);
        // Its own session: no signal to its process group (`kill 0`) reaches glasshouse, and
        // it cannot push input into glasshouse's terminal.
        libc::setsid();
        for (fd, target) in [(plan.stdout, 1), (plan.stderr, 2)] {
            if let Some(fd) = fd {
                if libc::dup2(fd, target) < 0 {
                    report_command_error(plan.exec_err, CMD_STDIO, errno());
                }
            }
        }
        if let Some(switch) = plan.user {
            // SAFETY: the switch lives in glasshouse's stack frame that this forked process
            // has a private copy of; nothing else in this process refers to it.
            if let Err(e) = (*switch).apply() {
                report_command_error(plan.exec_err, CMD_USER, e);
            }
            // A change of credentials clears the death signal: set it again.
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
        }
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if let Some((ruleset, rights)) = plan.landlock {
            if let Err(e) = landlock::restrict_self(ruleset, rights, plan.tmp) {
                report_command_error(plan.exec_err, CMD_LANDLOCK, e);
            }
        }
        if libc::chdir(plan.cwd.as_ptr()) < 0 {
            report_command_error(plan.exec_err, CMD_CWD, errno());
        }
        if let Err(e) = super::seccomp::install(plan.seccomp) {
            report_command_error(plan.exec_err, CMD_SECCOMP, e);
        }
        libc::execve(plan.program.as_ptr(), plan.argv, plan.envp);
        report_command_error(plan.exec_err, CMD_EXEC, errno())
    }
}

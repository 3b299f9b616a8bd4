//! glasshouse's side of starting a sandboxed command: prepare, clone, register, release.

use super::child::{self, ChildPlan};
use super::mounts::{self, Layer, Placed};
use super::{landlock, net, NamespaceBackend, NetworkMode, SandboxError};
use crate::{BackendError, ChildControl, CommandSpec, SpawnedChild, Termination};
use std::ffi::{CString, OsStr, OsString};
use std::io::Read as _;
use std::os::fd::{AsFd as _, AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;

fn setup(step: &str, source: std::io::Error) -> BackendError {
    BackendError::Sandbox(SandboxError::Setup {
        step: step.to_owned(),
        source,
    })
}

fn c_string(s: &OsStr) -> Result<CString, BackendError> {
    CString::new(s.as_bytes()).map_err(|_| {
        BackendError::Sandbox(SandboxError::Invalid {
            what: format!("{} contains a NUL byte", s.to_string_lossy()),
        })
    })
}

/// The environment the command gets: glasshouse's, with the user's `HOME`, `USER` and
/// `LOGNAME`, and the proxy's variables in proxy mode.
fn environment(network: NetworkMode, user: Option<&crate::Credentials>) -> Vec<OsString> {
    let login = user.map(crate::Credentials::environment);
    let replaced = |k: &OsStr| login.iter().flatten().any(|(name, _)| k == *name);
    let proxy_vars = [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "GLASSHOUSE_PROXY_SOCKET",
    ];
    let mut env: Vec<OsString> = std::env::vars_os()
        .filter(|(k, _)| {
            network != NetworkMode::Proxy || !proxy_vars.iter().any(|v| k.eq_ignore_ascii_case(v))
        })
        .filter(|(k, _)| !replaced(k))
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            kv
        })
        .collect();
    for (name, value) in login.iter().flatten() {
        if let Some(v) = value {
            let mut kv = OsString::from(name);
            kv.push("=");
            kv.push(v);
            env.push(kv);
        }
    }
    if network == NetworkMode::Proxy {
        let http = format!("http://127.0.0.1:{}", net::PROXY_PORT);
        let socks = format!("socks5h://127.0.0.1:{}", net::PROXY_PORT);
        for (k, v) in [
            ("HTTP_PROXY", &http),
            ("http_proxy", &http),
            ("HTTPS_PROXY", &http),
            ("https_proxy", &http),
            ("ALL_PROXY", &socks),
            ("all_proxy", &socks),
        ] {
            env.push(format!("{k}={v}").into());
        }
        env.push(
            format!(
                "GLASSHOUSE_PROXY_SOCKET={}/proxy.sock",
                mounts::PROXY_DIR_INSIDE
            )
            .into(),
        );
    }
    env
}

fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

fn pipe() -> Result<(OwnedFd, OwnedFd), BackendError> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| setup("create a pipe", e.into()))
}

/// Reads the pid a pidfd names in glasshouse's pid namespace (`/proc/self/fdinfo`).
fn pid_of(pidfd: &OwnedFd) -> std::io::Result<u32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()))?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|p| *p > 0)
        .map(|p| p as u32)
        .ok_or_else(|| std::io::Error::other("the command ended before it was registered"))
}

pub(super) fn spawn(
    b: &mut NamespaceBackend,
    spec: CommandSpec,
) -> Result<SpawnedChild, BackendError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(BackendError::Sandbox(SandboxError::NeedsRoot));
    }
    let program = spec.program.to_string_lossy().into_owned();
    let resolved = crate::process::find_in_path(&spec.program).ok_or_else(|| {
        BackendError::CommandNotFound {
            program: program.clone(),
        }
    })?;
    let cwd = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .map_err(|e| setup("find the working directory", e))?;

    // The file system, outermost layers first.
    let mut layers = vec![
        Placed {
            path: "/tmp".into(),
            layer: Layer::PrivateTmp,
            source: "/tmp".into(),
        },
        Placed {
            path: cwd.clone(),
            layer: Layer::Writable,
            source: cwd.clone(),
        },
    ];
    let mut builtin_hidden: Vec<PathBuf> = mounts::hidden_fs_mounts();
    builtin_hidden.push("/run/glasshouse".into());
    if let Ok(exe) = std::env::current_exe().and_then(std::fs::canonicalize) {
        builtin_hidden.push(exe);
    }
    for h in builtin_hidden.into_iter().filter(|p| p.exists()) {
        layers.push(Placed {
            source: h.clone(),
            path: h,
            layer: Layer::Hidden,
        });
    }
    for p in &b.config.writable {
        layers.push(Placed {
            path: p.clone(),
            layer: Layer::Writable,
            source: p.clone(),
        });
    }
    for p in &b.config.read_only {
        layers.push(Placed {
            path: p.clone(),
            layer: Layer::ReadOnly,
            source: p.clone(),
        });
    }
    for p in &b.config.hidden {
        layers.push(Placed {
            path: p.clone(),
            layer: Layer::Hidden,
            source: p.clone(),
        });
    }
    if b.config.network == NetworkMode::Proxy {
        let dir = b.start_proxy().map_err(BackendError::Sandbox)?;
        layers.push(Placed {
            path: mounts::PROXY_DIR_INSIDE.into(),
            layer: Layer::ProxySocket,
            source: dir,
        });
    }
    let layers = mounts::order(layers);
    let ops = mounts::plan(&layers).map_err(BackendError::Sandbox)?;

    let writable: Vec<&std::path::Path> = layers
        .iter()
        .filter(|l| l.layer == Layer::Writable)
        .map(|l| l.path.as_path())
        .chain(std::iter::once(std::path::Path::new("/dev")))
        .collect();
    let ruleset = landlock::prepare(
        &writable,
        b.config.limit_reads.as_ref(),
        b.config.limit_writes.as_ref(),
    )
    .map_err(|what| BackendError::Sandbox(SandboxError::Invalid { what }))?;
    b.writable_inside = layers
        .iter()
        .filter(|l| matches!(l.layer, Layer::Writable | Layer::PrivateTmp))
        .map(|l| l.path.clone())
        .collect();

    let program_c = c_string(resolved.as_os_str())?;
    let argv: Vec<CString> = std::iter::once(spec.program.as_os_str())
        .chain(spec.args.iter().map(OsString::as_os_str))
        .map(c_string)
        .collect::<Result<_, _>>()?;
    let envv: Vec<CString> = environment(b.config.network, spec.user.as_ref())
        .iter()
        .map(|s| c_string(s))
        .collect::<Result<_, _>>()?;
    let (argv_p, envp_p) = (pointers(&argv), pointers(&envv));
    let cwd_c = c_string(cwd.as_os_str())?;
    let mut switch = spec.user.as_ref().map(crate::credentials::Switch::new);
    let filter = super::seccomp::program();

    let (parent_ctl, child_ctl) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| setup("create the control socket", e.into()))?;
    let (err_r, err_w) = pipe()?;
    let outputs = if spec.capture_output {
        Some((pipe()?, pipe()?))
    } else {
        None
    };

    let plan = ChildPlan {
        ops: &ops,
        loopback: b.config.network != NetworkMode::Host,
        hostname: c"glasshouse",
        ctl: child_ctl.as_raw_fd(),
        exec_err: err_w.as_raw_fd(),
        stdout: outputs.as_ref().map(|((_, w), _)| w.as_raw_fd()),
        stderr: outputs.as_ref().map(|(_, (_, w))| w.as_raw_fd()),
        program: &program_c,
        argv: argv_p.as_ptr(),
        envp: envp_p.as_ptr(),
        cwd: &cwd_c,
        user: switch.as_mut().map(|s| s as *mut _),
        landlock: ruleset.as_ref().map(|r| (r.raw_fd(), r.tmp_rights())),
        tmp: c"/tmp",
        seccomp: &filter,
    };
    let mut flags =
        libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC;
    if b.config.network != NetworkMode::Host {
        flags |= libc::CLONE_NEWNET;
    }
    let init_pidfd = clone_init(flags as u64, &plan)?;
    drop((child_ctl, err_w));
    let (stdout, stderr) = match outputs {
        Some(((out_r, out_w), (err_read, err_write))) => {
            drop((out_w, err_write));
            (
                Some(std::process::ChildStdout::from(out_r)),
                Some(std::process::ChildStderr::from(err_read)),
            )
        }
        None => (None, None),
    };
    let init_pid = pid_of(&init_pidfd).map_err(|e| setup("read the sandbox's pid", e))?;
    b.init = Some((init_pid, init_pidfd));
    b.applied = vec!["mount", "pid", "uts", "ipc"];
    if b.config.network != NetworkMode::Host {
        b.applied.push("net");
    }
    b.applied.push("ro-root");
    if ruleset.is_some() {
        b.applied.push("landlock");
    }
    b.applied.push("seccomp");

    let command_pidfd = receive_ready(&parent_ctl, &ops)?;
    let pid = pid_of(&command_pidfd).map_err(|e| setup("read the command's pid", e))?;
    if let Some(tracker) = spec.tracker.as_ref() {
        tracker
            .track(pid, command_pidfd.as_fd())
            .map_err(|e| setup("register the command with the sensor", e))?;
    }
    if b.config.network == NetworkMode::Proxy {
        let (listener, socket) = match (b.init.as_ref(), b.proxy.as_ref()) {
            (Some((_, fd)), Some(proxy)) => (
                net::listener_in(fd.as_fd())
                    .map_err(|e| setup("listen on the sandbox's loopback", e))?,
                proxy.socket_path().to_owned(),
            ),
            _ => return Err(setup("start the proxy", std::io::Error::other("no proxy"))),
        };
        b.forwarder = Some(
            glasshouse_proxy::Forwarder::start(listener, socket)
                .map_err(|e| setup("start the proxy forwarder", e))?,
        );
    }
    rustix::io::write(&parent_ctl, &[child::MSG_GO])
        .map_err(|e| setup("release the command", e.into()))?;
    b.ctl = Some(parent_ctl);
    let control = ChildControl::from_pidfd(pid, command_pidfd);
    b.control = Some(control.clone());
    check_exec(err_r, &program)?;
    Ok(SpawnedChild {
        pid,
        stdout,
        stderr,
        control,
    })
}

/// clone3 into the new namespaces; the child becomes the sandbox's init and never returns.
fn clone_init(flags: u64, plan: &ChildPlan<'_>) -> Result<OwnedFd, BackendError> {
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    let mut pidfd: RawFd = -1;
    let args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 without CLONE_VM and without a stack is a fork: the child gets a copy of
    // this address space and continues here, where it runs only `init_main` (raw system calls
    // on the plan) and never returns.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if rc == 0 {
        child::init_main(plan);
    }
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EPERM) {
            BackendError::Sandbox(SandboxError::NeedsRoot)
        } else {
            setup("create the namespaces (clone3)", e)
        });
    }
    // SAFETY: CLONE_PIDFD stored a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(pidfd) })
}

/// Waits for the init's first message: the command's pidfd, or the step that failed.
fn receive_ready(ctl: &OwnedFd, ops: &[mounts::Op]) -> Result<OwnedFd, BackendError> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut byte = [0u8; 1];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut ancillary = RecvAncillaryBuffer::new(&mut space);
    let received = rustix::net::recvmsg(
        ctl,
        &mut [std::io::IoSliceMut::new(&mut byte)],
        &mut ancillary,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(|e| setup("hear from the sandbox", e.into()))?;
    let fd = ancillary.drain().find_map(|m| match m {
        RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
        _ => None,
    });
    match (received.bytes, byte[0], fd) {
        (1, child::MSG_READY, Some(fd)) => Ok(fd),
        (1, child::MSG_ERROR, _) => {
            let mut rest = [0u8; 8];
            let mut reader = std::fs::File::from(ctl.try_clone().map_err(|e| setup("read", e))?);
            reader
                .read_exact(&mut rest)
                .map_err(|e| setup("hear from the sandbox", e))?;
            let step = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let errno = i32::from_ne_bytes([rest[4], rest[5], rest[6], rest[7]]);
            let what = match step {
                child::STEP_LOOPBACK => "bring up the sandbox's loopback".to_owned(),
                child::STEP_FORK => "fork the command".to_owned(),
                child::STEP_PIDFD => "open the command's pidfd".to_owned(),
                i => ops
                    .get(i as usize)
                    .map_or_else(|| format!("step {i}"), mounts::Op::describe),
            };
            Err(setup(&what, std::io::Error::from_raw_os_error(errno)))
        }
        _ => Err(setup(
            "hear from the sandbox",
            std::io::Error::other("the sandbox ended before it was ready"),
        )),
    }
}

/// End of file on the exec pipe means exec succeeded; otherwise which step failed and why.
fn check_exec(err_r: OwnedFd, program: &str) -> Result<(), BackendError> {
    let mut msg = [0u8; 8];
    let mut file = std::fs::File::from(err_r);
    let mut got = 0;
    while got < msg.len() {
        match file.read(&mut msg[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(setup("hear whether the command started", e)),
        }
    }
    if got == 0 {
        return Ok(());
    }
    let step = u32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]);
    let err =
        std::io::Error::from_raw_os_error(i32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]));
    Err(match step {
        child::CMD_EXEC => crate::process::classify_spawn_error(program.to_owned(), err),
        child::CMD_USER => setup("switch to the user the command runs as", err),
        child::CMD_LANDLOCK => setup("apply Landlock", err),
        child::CMD_CWD => setup("enter the working directory inside the sandbox", err),
        child::CMD_SECCOMP => setup("install the seccomp filter", err),
        _ => setup("connect the command's output", err),
    })
}

/// Reads the tree's resources the init sent before it exited (none when it was killed).
pub(super) fn read_resources(ctl: &OwnedFd) -> Option<crate::TreeResources> {
    let mut msg = [0u8; 25];
    let mut file = std::fs::File::from(ctl.try_clone().ok()?);
    file.read_exact(&mut msg).ok()?;
    if msg[0] != child::MSG_RESOURCES {
        return None;
    }
    let field = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&msg[at..at + 8]);
        u64::from_ne_bytes(b)
    };
    Some(crate::TreeResources {
        user_time_ms: field(1),
        system_time_ms: field(9),
        max_rss_kb: field(17),
    })
}

/// Reads the command's wait status from the control socket.
pub(super) fn read_status(ctl: &OwnedFd) -> std::io::Result<Termination> {
    let mut msg = [0u8; 5];
    let mut file = std::fs::File::from(ctl.try_clone()?);
    file.read_exact(&mut msg)?;
    if msg[0] != child::MSG_STATUS {
        return Err(std::io::Error::other("unexpected message from the sandbox"));
    }
    let status = i32::from_ne_bytes([msg[1], msg[2], msg[3], msg[4]]);
    Ok(if libc::WIFSIGNALED(status) {
        Termination::Signaled(libc::WTERMSIG(status))
    } else {
        Termination::Exited(libc::WEXITSTATUS(status))
    })
}

//! The `process` backend: the command runs as a direct child of glasshouse, without isolation.

use crate::{
    BackendError, BackendInfo, BeforeExecHook, ChildControl, CommandSpec, ExecutionBackend,
    SpawnedChild, Termination,
};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{Child, Command, Stdio};

/// Runs the command as a plain child process.
#[derive(Debug, Default)]
pub struct ProcessBackend {
    child: Option<Child>,
    control: Option<ChildControl>,
}

impl ProcessBackend {
    /// A backend with no child yet.
    pub fn new() -> Self {
        Self::default()
    }
}

pub(crate) fn classify_spawn_error(program: String, err: std::io::Error) -> BackendError {
    match err.raw_os_error() {
        Some(libc::ENOENT) => BackendError::CommandNotFound { program },
        Some(libc::EACCES | libc::EPERM | libc::ENOEXEC | libc::EISDIR | libc::ENOTDIR) => {
            BackendError::NotExecutable {
                program,
                source: err,
            }
        }
        _ => BackendError::SpawnFailed {
            program,
            source: err,
        },
    }
}

/// The file `program` names: itself when it contains a slash, else the first executable match
/// in `PATH` (or a non-executable match, so that exec reports why it cannot run it).
pub(crate) fn find_in_path(program: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::fs::PermissionsExt as _;
    if program.as_bytes().contains(&b'/') {
        return Some(program.into());
    }
    if program.is_empty() {
        return None;
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let candidates: Vec<_> = std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .filter(|c| c.is_file())
        .collect();
    let executable = candidates.iter().find(|c| {
        c.metadata()
            .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    });
    executable.or(candidates.first()).cloned()
}

/// The switch to `user` as a hook for the child (see [`crate::credentials`]), and the read
/// end of a pipe on which a failed switch leaves its errno (std passes only an errno back from
/// a hook, which alone would read as "not executable"). No `no_new_privs`: this backend gives
/// the command what the user has without glasshouse, set-id programs (`sudo`, `passwd`) too.
fn switch_user_hook(
    user: &crate::Credentials,
) -> std::io::Result<(BeforeExecHook, std::os::fd::OwnedFd)> {
    use rustix::pipe::PipeFlags;
    let (report_r, report_w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    let mut switch = crate::credentials::Switch::new(user);
    let hook: BeforeExecHook = Box::new(move || {
        switch.apply().map_err(|errno| {
            let _ = rustix::io::write(&report_w, &errno.to_ne_bytes());
            std::io::Error::from_raw_os_error(errno)
        })
    });
    Ok((hook, report_r))
}

/// The errno a failed switch left on its pipe, if it failed.
fn switch_failure(report: &std::os::fd::OwnedFd) -> Option<std::io::Error> {
    let mut errno = [0u8; 4];
    match rustix::io::read(report, &mut errno) {
        Ok(4) => Some(std::io::Error::from_raw_os_error(i32::from_ne_bytes(errno))),
        _ => None,
    }
}

impl ExecutionBackend for ProcessBackend {
    fn identify(&self) -> BackendInfo {
        BackendInfo {
            name: "process",
            isolation: "none",
            has_guest_sensor: false,
        }
    }

    fn spawn(&mut self, spec: CommandSpec) -> Result<SpawnedChild, BackendError> {
        let program = spec.program.to_string_lossy().into_owned();
        // Search PATH here rather than in the child, so the child makes one exec, not one per
        // PATH entry (which a sensor would faithfully record as failed execs).
        let resolved =
            find_in_path(&spec.program).ok_or_else(|| BackendError::CommandNotFound {
                program: program.clone(),
            })?;
        let mut cmd = Command::new(&resolved);
        cmd.arg0(&spec.program)
            .args(&spec.args)
            .stdin(Stdio::inherit());
        if spec.capture_output {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        // This backend cannot hold its child from the parent (spawn returns after exec), so
        // the child registers itself; it shares glasshouse's pid namespace, so its pid is right.
        // It does so first, while it still has glasshouse's credentials.
        let session = crate::session::apply(&mut cmd, spec.session)
            .map_err(|e| classify_spawn_error(program.clone(), e))?;
        let tracking = spec.tracker.as_ref().map(|t| t.self_tracking_hook());
        let mut switch = None;
        let mut switch_report = None;
        if let Some(user) = spec.user.as_ref() {
            for (name, value) in user.environment() {
                match value {
                    Some(v) => cmd.env(name, v),
                    None => cmd.env_remove(name),
                };
            }
            let (hook, report) =
                switch_user_hook(user).map_err(|source| BackendError::SpawnFailed {
                    program: program.clone(),
                    source,
                })?;
            switch = Some(hook);
            switch_report = Some(report);
        }
        for hook in session
            .into_iter()
            .chain(tracking)
            .chain(switch)
            .chain(spec.before_exec)
        {
            // SAFETY: the hooks' contract (BeforeExecHook) is async-signal-safety: they make raw
            // system calls only, which is what pre_exec requires between fork and exec.
            unsafe {
                cmd.pre_exec(hook);
            }
        }
        let mut child = cmd.spawn().map_err(|e| {
            match (switch_report.as_ref().and_then(switch_failure), spec.user) {
                (Some(errno), Some(user)) => BackendError::SpawnFailed {
                    program: program.clone(),
                    source: std::io::Error::new(
                        errno.kind(),
                        format!(
                            "cannot switch to uid {} gid {} with {} groups before exec: {errno}",
                            user.uid,
                            user.gid,
                            user.groups.len()
                        ),
                    ),
                },
                _ => classify_spawn_error(program.clone(), e),
            }
        })?;
        let pid = child.id();
        let control = ChildControl::open(pid);
        let spawned = SpawnedChild {
            pid,
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            control: control.clone(),
        };
        self.child = Some(child);
        self.control = Some(control);
        Ok(spawned)
    }

    fn wait(&mut self) -> Result<Termination, BackendError> {
        let child = self.child.as_mut().ok_or(BackendError::Control {
            action: "wait for",
            pid: 0,
            source: std::io::Error::other("no command was started"),
        })?;
        let pid = child.id();
        let status = child.wait().map_err(|source| BackendError::Control {
            action: "wait for",
            pid,
            source,
        })?;
        Ok(match (status.code(), status.signal()) {
            (Some(code), _) => Termination::Exited(code),
            (None, Some(sig)) => Termination::Signaled(sig),
            (None, None) => Termination::Exited(status.into_raw()),
        })
    }

    fn supports_terminal(&self) -> bool {
        true
    }

    fn kill(&self, signal: i32) -> Result<(), BackendError> {
        // The pidfd keeps naming the original child even after it was reaped, so this can never
        // signal a reused pid.
        self.control.as_ref().map_or(Ok(()), |c| c.signal(signal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(program: &str, args: &[&str]) -> CommandSpec {
        CommandSpec {
            program: program.into(),
            args: args.iter().map(Into::into).collect(),
            capture_output: false,
            before_exec: Vec::new(),
            tracker: None,
            user: None,
            session: crate::Session::Shared,
        }
    }

    #[test]
    fn exit_status_is_reported() {
        let mut b = ProcessBackend::new();
        b.spawn(spec("sh", &["-c", "exit 7"])).unwrap();
        assert_eq!(b.wait().unwrap(), Termination::Exited(7));
    }

    #[test]
    fn signal_is_reported_and_kill_after_wait_is_harmless() {
        let mut b = ProcessBackend::new();
        b.spawn(spec("sleep", &["30"])).unwrap();
        b.kill(libc::SIGTERM).unwrap();
        let t = b.wait().unwrap();
        assert_eq!(t, Termination::Signaled(libc::SIGTERM));
        assert_eq!(t.exit_code(), 143);
        b.kill(libc::SIGKILL).unwrap();
    }

    #[test]
    fn missing_and_non_executable_commands_are_classified() {
        let mut b = ProcessBackend::new();
        let not_executable = tempfile::NamedTempFile::new().unwrap();
        assert!(matches!(
            b.spawn(spec("glasshouse-no-such-command", &[])),
            Err(BackendError::CommandNotFound { .. })
        ));
        assert!(matches!(
            b.spawn(spec(not_executable.path().to_str().unwrap(), &[])),
            Err(BackendError::NotExecutable { .. })
        ));
    }

    #[test]
    fn the_command_runs_as_the_user_asked_for_with_its_groups_and_no_capability() {
        use std::io::Read as _;
        let mut b = ProcessBackend::new();
        let mut s = spec(
            "sh",
            &[
                "-c",
                "id -u; id -g; id -G; echo $HOME $USER; grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status",
            ],
        );
        s.capture_output = true;
        let login = crate::Login::new("nobody".into(), "/nonexistent".into());
        s.user = Some(crate::Credentials::new(
            65534,
            65534,
            vec![65534, 4],
            Some(login),
        ));
        let mut child = b.spawn(s).unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(b.wait().unwrap(), Termination::Exited(0));
        let caps = ["CapInh", "CapPrm", "CapEff", "CapAmb"]
            .map(|c| format!("{c}:\t0000000000000000\n"))
            .concat();
        assert_eq!(
            out,
            format!("65534\n65534\n65534 4\n/nonexistent nobody\n{caps}")
        );
    }

    #[test]
    fn a_switch_the_kernel_refuses_stops_the_command_and_says_why() {
        let mut b = ProcessBackend::new();
        let marker = tempfile::tempdir().unwrap();
        let ran = marker.path().join("ran");
        let script = format!("touch {}", ran.display());
        let mut s = spec("sh", &["-c", &script]);
        // More groups than the kernel takes (NGROUPS_MAX is 65536): setgroups fails.
        s.user = Some(crate::Credentials::new(
            65534,
            65534,
            (0..70_000).collect(),
            None,
        ));
        let err = b.spawn(s).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, BackendError::SpawnFailed { .. }), "{text}");
        assert!(
            text.contains("cannot switch to uid 65534 gid 65534 with 70000 groups"),
            "{text}"
        );
        assert!(!ran.exists());
    }

    #[test]
    fn vm_backends_say_they_are_not_available() {
        for kind in [crate::BackendKind::Kata, crate::BackendKind::Firecracker] {
            let err = kind.open().err().unwrap();
            assert!(err.to_string().contains("not available in this build"));
        }
        assert!(crate::backends_with_guest_sensor().is_empty());
    }
}

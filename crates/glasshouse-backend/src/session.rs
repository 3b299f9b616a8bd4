//! Where the command stands towards glasshouse's session, process group and terminal.

use crate::BeforeExecHook;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

/// How the command is placed among sessions and process groups (see docs/terminals.md).
#[derive(Debug, Default)]
#[non_exhaustive]
pub enum Session {
    /// glasshouse's own process group: a terminal's keys reach both, and the command may read
    /// the terminal that is glasshouse's stdin. A signal sent to the whole group from outside
    /// reaches the command directly and again through glasshouse.
    #[default]
    Shared,
    /// A process group of its own in glasshouse's session: a signal sent to glasshouse's group
    /// reaches it only as glasshouse's forwarded copy.
    OwnGroup,
    /// A session of its own without a controlling terminal: the command cannot open
    /// `/dev/tty` nor push input into glasshouse's terminal (TIOCSTI on a terminal that is not
    /// one's controlling terminal is refused), though it still reads and writes the terminal
    /// descriptors it inherits. For a command that must not act on its caller's terminal.
    OwnSession,
    /// A session of its own whose controlling terminal is a pseudo-terminal of glasshouse's.
    Terminal(Terminal),
}

/// A pseudo-terminal given to the command: its slave becomes the streams named here, and the
/// command's controlling terminal.
#[derive(Debug)]
#[non_exhaustive]
pub struct Terminal {
    /// The slave side, opened by glasshouse (so the open is glasshouse's, not the command's).
    pub slave: OwnedFd,
    /// The command's stdin is the slave.
    pub stdin: bool,
    /// Its stdout is the slave.
    pub stdout: bool,
    /// Its stderr is the slave.
    pub stderr: bool,
}

impl Terminal {
    /// The slave for the streams named (at least one of stdout and stderr, in practice).
    pub fn new(slave: OwnedFd, stdin: bool, stdout: bool, stderr: bool) -> Self {
        Self {
            slave,
            stdin,
            stdout,
            stderr,
        }
    }
}

/// Applies `session` to `cmd` (after its stdio is set): the streams on a terminal, and the hook
/// that must run in the child before any other (before the command is tracked, so that its
/// `setsid` and `ioctl` are not counted as the command's).
pub(crate) fn apply(
    cmd: &mut Command,
    session: Session,
) -> std::io::Result<Option<BeforeExecHook>> {
    use std::os::unix::process::CommandExt as _;
    match session {
        Session::Shared => Ok(None),
        Session::OwnGroup => {
            // std calls setpgid between fork and exec, before any hook.
            cmd.process_group(0);
            Ok(None)
        }
        Session::OwnSession => Ok(Some(Box::new(|| {
            rustix::process::setsid()?;
            Ok(())
        }))),
        Session::Terminal(t) => {
            let mut controlling = None;
            for (on, fd) in [(t.stdin, 0), (t.stdout, 1), (t.stderr, 2)] {
                if !on {
                    continue;
                }
                let slave = Stdio::from(t.slave.try_clone()?);
                match fd {
                    0 => cmd.stdin(slave),
                    1 => cmd.stdout(slave),
                    _ => cmd.stderr(slave),
                };
                controlling.get_or_insert(fd);
            }
            let Some(fd) = controlling else {
                return Ok(None);
            };
            Ok(Some(Box::new(move || {
                // SAFETY: raw system calls on the child's own descriptor `fd` (std has made it
                // the slave), async-signal-safe as the hook contract demands.
                unsafe {
                    if libc::setsid() < 0 || libc::ioctl(fd, libc::TIOCSCTTY, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            })))
        }
    }
}

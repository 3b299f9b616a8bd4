//! Signalling one process through a pidfd, shared by every backend: a signal never reaches a
//! process that merely reused the pid.

use crate::BackendError;
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// Signals one process through a pidfd, so a signal never reaches a reused pid.
#[derive(Debug, Clone)]
pub struct ChildControl {
    pid: u32,
    pidfd: Option<Arc<OwnedFd>>,
}

impl ChildControl {
    /// A handle for `pid`, opened now. `None` inside when the process is already gone.
    pub fn open(pid: u32) -> Self {
        let pidfd = rustix::process::Pid::from_raw(pid as i32)
            .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok())
            .map(Arc::new);
        Self { pid, pidfd }
    }

    /// A handle for `pid` from a pidfd that already names it (one opened before the process
    /// could have exited, so it cannot name another).
    pub fn from_pidfd(pid: u32, pidfd: OwnedFd) -> Self {
        Self {
            pid,
            pidfd: Some(Arc::new(pidfd)),
        }
    }

    /// The process id (in glasshouse's pid namespace).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pidfd, when the process existed at opening.
    pub fn pidfd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd as _;
        self.pidfd.as_deref().map(|fd| fd.as_fd())
    }

    /// Sends `signal`. A process that has already exited is not an error.
    pub fn signal(&self, signal: i32) -> Result<(), BackendError> {
        let Some(pidfd) = &self.pidfd else {
            return Ok(());
        };
        let control_error = |source| BackendError::Control {
            action: "signal",
            pid: self.pid,
            source,
        };
        let sig = rustix::process::Signal::from_named_raw(signal)
            .ok_or_else(|| control_error(std::io::Error::from_raw_os_error(libc::EINVAL)))?;
        match rustix::process::pidfd_send_signal(pidfd, sig) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(control_error(e.into())),
        }
    }
}

impl ChildControl {
    /// Sends `signal` and says whether it reached a process that had not been reaped yet (a
    /// process that is already gone is not an error, and answers false).
    pub fn signal_alive(&self, signal: i32) -> bool {
        let (Some(pidfd), Some(sig)) =
            (&self.pidfd, rustix::process::Signal::from_named_raw(signal))
        else {
            return false;
        };
        rustix::process::pidfd_send_signal(pidfd, sig).is_ok()
    }
}

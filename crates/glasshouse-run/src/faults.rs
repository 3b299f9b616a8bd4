//! Faults injected by the unit tests (compiled into test builds only): failures the kernel
//! gives too rarely to provoke on demand, at the exact point the run meets them.

use glasshouse_backend::{BackendError, Termination};
use std::cell::Cell;

thread_local! {
    /// Set by a test: the next wait for the command on this thread fails (after the command
    /// was reaped, as a failed `waitid` would leave it).
    static FAIL_WAIT: Cell<bool> = const { Cell::new(false) };
}

/// The next wait on this thread fails.
pub(crate) fn fail_next_wait() {
    FAIL_WAIT.set(true);
}

/// The wait's result, or the injected failure.
pub(crate) fn wait(
    result: Result<Termination, BackendError>,
    pid: u32,
) -> Result<Termination, BackendError> {
    if !FAIL_WAIT.replace(false) {
        return result;
    }
    Err(BackendError::Control {
        action: "wait for",
        pid,
        source: std::io::Error::other("failure injected by a test"),
    })
}

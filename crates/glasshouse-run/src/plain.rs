//! The plain runner (`run` without `--profile`): no sensor, no receipt, output inherited.

use crate::supervise::{spawn_error_code, SignalForwarder};
use crate::RunError;
use glasshouse_backend::{BackendKind, CommandSpec, NamespaceConfig};
use std::ffi::OsString;

/// How a plain run ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct PlainRun {
    /// The command's status (127/126 when it could not start).
    pub status: i32,
    /// Why it could not start, if it did not.
    pub spawn_error: Option<String>,
}

/// Runs `command` on `backend` (configured by `sandbox` for the namespace backend) with signals
/// forwarded, as the user [`crate::user::resolve`] gives for `user` (the `--user` value).
pub fn run_plain(
    backend: BackendKind,
    sandbox: &NamespaceConfig,
    command: &[OsString],
    kill_after: std::time::Duration,
    user: Option<&str>,
) -> Result<PlainRun, RunError> {
    let user = crate::user::resolve(user)?;
    let mut backend = backend
        .open_with(sandbox)
        .map_err(|e| RunError::Refused(e.to_string()))?;
    let Some((program, args)) = command.split_first() else {
        return Err(RunError::Refused("no command given".to_owned()));
    };
    // A command run as another user leads a session of its own: in glasshouse's it could push
    // keystrokes into the caller's terminal (TIOCSTI), to be run as the caller after it ends.
    let own_session = user.switch;
    let spec = CommandSpec {
        program: program.clone(),
        args: args.to_vec(),
        capture_output: false,
        before_exec: Vec::new(),
        tracker: None,
        user: user.switch.then_some(user.command),
        session: if own_session {
            glasshouse_backend::Session::OwnSession
        } else {
            glasshouse_backend::Session::Shared
        },
    };
    let signals = SignalForwarder::install()?;
    match backend.spawn(spec) {
        Ok(child) => {
            let forwarding =
                signals.forward_to(child.control.clone(), kill_after, own_session, false);
            let termination = backend.wait();
            let _ = forwarding.close();
            termination
                .map(|t| PlainRun {
                    status: t.exit_code(),
                    spawn_error: None,
                })
                .map_err(|e| RunError::Refused(e.to_string()))
        }
        Err(e) => {
            signals.close();
            let code = spawn_error_code(&e)?;
            Ok(PlainRun {
                status: code,
                spawn_error: Some(e.to_string()),
            })
        }
    }
}

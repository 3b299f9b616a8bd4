//! `glasshouse run` as a library: a [`RunPlan`] goes through a fixed list of [`Stage`]s and
//! comes out as a written receipt and the command's status.
//!
//! The stages, in order (see [`Stage::ALL`]):
//!
//! | stage    | what it does                                                        | module        |
//! |----------|---------------------------------------------------------------------|---------------|
//! | check    | refuse anything that can be refused before a process exists         | [`check`]     |
//! | attach   | start the kernel sensor, become a child subreaper                   | this file     |
//! | spawn    | fork the command with the tracking hook, start the output tees      | [`supervise`] |
//! | wait     | wait for the command, forwarding signals                            | [`supervise`] |
//! | linger   | keep recording descendants up to `--linger`, then end them          | [`supervise`] |
//! | finish   | detach, drain, collect the sensor's observations and the output hashes | this file  |
//! | assemble | put everything into a [`Receipt`] (legacy fields included)          | [`assemble`]  |
//! | policy   | evaluate the policy and record its verdict (and, with `--enforce`, how each rule was applied) | [`check`] |
//! | redact   | [`Hooks::redactors`] rewrite the receipt (none by default)          | [`hooks`]     |
//! | sign     | [`Hooks::signers`] produce attachments such as an envelope (none by default) | [`hooks`] |
//! | write    | write the receipt and the attachments atomically                   | [`write`]     |
//!
//! Later features plug into a stage through [`Hooks`] rather than into the orchestration:
//! [`Observer`] sees every stage boundary (the seam for a live event stream), [`Enforcer`]
//! sees the compiled policy and the command before spawn (the seam for turning a policy into
//! enforcement), [`Redactor`] and [`Signer`] are the redact and sign stages.

pub mod access;
pub mod assemble;
pub mod check;
mod enforce;
mod enforce_report;
#[cfg(test)]
mod faults;
pub mod guard;
pub mod hooks;
mod plain;
pub mod pty;
#[cfg(test)]
mod run_tests;
pub mod supervise;
pub mod tee;
pub mod user;
pub mod write;

pub use check::Profile;
pub use hooks::{Attachment, Enforcer, HookError, Hooks, Observer, Redactor, Signer};
pub use plain::{run_plain, PlainRun};

use glasshouse_backend::{BackendKind, CommandSpec, NamespaceConfig};
pub use glasshouse_receipt::OutputHash;
use glasshouse_receipt::Receipt;
use glasshouse_sensor::{Sensor, SensorOptions};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// One step of a profiled run, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Validate the plan; nothing has run yet.
    Check,
    /// Start the sensor.
    Attach,
    /// Start the command.
    Spawn,
    /// Wait for the command to end.
    Wait,
    /// Follow descendants that outlive it, then end them.
    Linger,
    /// Stop the sensor and collect what it saw.
    Finish,
    /// Build the receipt.
    Assemble,
    /// Judge the receipt.
    Policy,
    /// Remove secrets from the receipt.
    Redact,
    /// Sign the receipt.
    Sign,
    /// Write the receipt and its attachments.
    Write,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 11] = [
        Self::Check,
        Self::Attach,
        Self::Spawn,
        Self::Wait,
        Self::Linger,
        Self::Finish,
        Self::Assemble,
        Self::Policy,
        Self::Redact,
        Self::Sign,
        Self::Write,
    ];

    /// The stage's name, as documentation and event streams spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Attach => "attach",
            Self::Spawn => "spawn",
            Self::Wait => "wait",
            Self::Linger => "linger",
            Self::Finish => "finish",
            Self::Assemble => "assemble",
            Self::Policy => "policy",
            Self::Redact => "redact",
            Self::Sign => "sign",
            Self::Write => "write",
        }
    }
}

/// Errors that end a run. Each says which stage refused and why; the binary maps them to
/// its exit codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The plan was refused before the command started (bad option, unsupported profile or
    /// backend, unusable receipt path or policy). Nothing ran.
    #[error("{0}")]
    Refused(String),
    /// The kernel sensor could not start. Nothing ran.
    #[error("{0}")]
    SensorUnavailable(String),
    /// The command ran but its receipt could not be written.
    #[error("{message}")]
    ReceiptNotWritten {
        /// What failed, naming the path.
        message: String,
        /// The command's status (what glasshouse would otherwise have exited with).
        command_status: i32,
    },
    /// A hook (redact, sign, enforce) failed. Before spawn nothing ran; after it, the receipt
    /// was not written.
    #[error("{stage} stage: {source}")]
    Hook {
        /// The stage whose hook failed.
        stage: &'static str,
        /// The hook's error.
        source: HookError,
    },
}

/// The grace a command has after a forwarded SIGTERM or SIGHUP (`--kill-after`).
pub const DEFAULT_KILL_AFTER: Duration = Duration::from_secs(10);

/// What a profiled run does.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunPlan {
    /// The program and its arguments.
    pub command: Vec<OsString>,
    /// The profile (only `host` runs in this build).
    pub profile: Profile,
    /// The execution backend.
    pub backend: BackendKind,
    /// Where the receipt goes.
    pub receipt_path: PathBuf,
    /// How long descendants that outlive the command are still recorded.
    pub linger: Duration,
    /// A policy file to judge the receipt with.
    pub policy: Option<PathBuf>,
    /// Apply what the sandbox can express of the policy (`--enforce`; namespace backend only).
    pub enforce: bool,
    /// The sandbox of the namespace backend (other backends refuse anything but the default).
    pub sandbox: NamespaceConfig,
    /// How long the command has to end after a forwarded SIGTERM or SIGHUP before it is
    /// killed with SIGKILL.
    pub kill_after: Duration,
    /// `--user NAME|UID`: who the command runs as, instead of the invoking user (see
    /// [`user`]).
    pub user: Option<String>,
    /// The digest of stdout and stderr (`--output-hash`): SHA-256 unless BLAKE3 is chosen.
    pub output_hash: OutputHash,
}

impl RunPlan {
    /// A plan for `command` with the defaults: host profile, process backend, `receipt.json`,
    /// 3 s linger, no policy, 10 s kill-after, SHA-256 of the output.
    pub fn new(command: Vec<OsString>) -> Self {
        Self {
            command,
            profile: Profile::Host,
            backend: BackendKind::Process,
            receipt_path: PathBuf::from("receipt.json"),
            linger: Duration::from_secs(3),
            policy: None,
            enforce: false,
            sandbox: NamespaceConfig::default(),
            kill_after: DEFAULT_KILL_AFTER,
            user: None,
            output_hash: OutputHash::Sha256,
        }
    }
}

/// What a finished run produced.
#[derive(Debug)]
#[non_exhaustive]
pub struct RunReport {
    /// The receipt as written.
    pub receipt: Receipt,
    /// Where it was written (`-`: stdout; the fallback location when `receipt_not_written_to`
    /// says why the path asked for failed).
    pub receipt_path: PathBuf,
    /// When the receipt could not be written where the plan said: why. It is then in the
    /// fallback location ([`write::fallback_path`]), which `receipt_path` names.
    pub fallback_reason: Option<String>,
    /// Whether the policy denied anything.
    pub policy_violated: bool,
    /// Why the command could not start, if it did not.
    pub spawn_error: Option<String>,
}

impl RunReport {
    /// The command's status (shell convention: 128+N for signal N).
    pub fn command_status(&self) -> i32 {
        self.receipt.exit_code
    }
}

/// Runs `plan` through every stage, with `hooks` plugged in.
pub fn run(plan: &RunPlan, hooks: &mut Hooks) -> Result<RunReport, RunError> {
    hooks.stage(Stage::Check);
    let checked = check::check(plan)?;
    let mut backend = checked.backend;
    if let Some(enforcer) = hooks.enforcer.as_mut() {
        enforcer
            .prepare(
                checked.policy.as_ref().map(check::LoadedPolicy::policy),
                plan,
            )
            .map_err(|source| RunError::Hook {
                stage: Stage::Check.name(),
                source,
            })?;
    }

    hooks.stage(Stage::Attach);
    check::refuse_privileged_overrides()?;
    let sensor_options = SensorOptions::from_env().map_err(|e| RunError::Refused(e.to_string()))?;
    // Named before the sensor starts, so that a live event stream's lines carry it.
    let execution_id = assemble::new_execution_id();
    let events = hooks.event_sink(&execution_id);
    let sensor = Sensor::start_streaming(&sensor_options, std::process::id(), events)
        .map_err(|e| RunError::SensorUnavailable(e.to_string()))?;
    // Orphaned descendants are re-parented to glasshouse, so they can be waited for and ended.
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| RunError::Refused(format!("cannot become a child subreaper: {e}")))?;
    let mut receipt = assemble::start_receipt(
        plan,
        execution_id,
        checked.provenance,
        backend.identify(),
        &checked.user,
    );
    let signals = supervise::SignalForwarder::install()?;

    hooks.stage(Stage::Spawn);
    // Nothing of the tree may outlive glasshouse unobserved (see guard.rs); and glasshouse's
    // memory and descriptors stay out of reach of same-user processes (/proc/PID/fd, ptrace).
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let _guard = guard::Guard::start();
    let before_exec = vec![guard::death_signal_hook()];
    let terminals = pty::Streams::of_glasshouse();
    let owner = checked.user.switch.then_some(checked.user.command.uid);
    let (session, connection, pty_note) = connect(backend.as_ref(), terminals, owner);
    let spec = CommandSpec {
        program: plan.command[0].clone(),
        args: plan.command[1..].to_vec(),
        capture_output: true,
        before_exec,
        tracker: Some(Box::new(supervise::SensorTracker(sensor.registration()))),
        user: checked.user.switch.then(|| checked.user.command.clone()),
        session,
    };
    let mut supervised = supervise::supervise(
        backend.as_mut(),
        spec,
        signals,
        &sensor,
        plan,
        hooks,
        connection,
    )?;
    receipt.timing.duration_ms = supervised.duration.as_millis() as u64;
    // The tree has ended: the backend can say what it applied (and stop its proxy).
    let isolation = backend.isolation();

    hooks.stage(Stage::Finish);
    supervise::reap_orphans();
    let observed = sensor.finish(supervised.root_pid, &supervised.ended, supervised.linger_ms);

    hooks.stage(Stage::Assemble);
    let spawn_error = supervised.spawn_error.clone();
    supervised.notes.extend(pty_note);
    assemble::terminals(&mut receipt, terminals, &supervised);
    assemble::assemble(&mut receipt, supervised, observed, plan.output_hash);
    assemble::isolation(&mut receipt, isolation);
    assemble::privilege(&mut receipt, &checked.user);

    hooks.stage(Stage::Policy);
    let policy_violated = checked
        .policy
        .as_ref()
        .is_some_and(|p| p.apply(&mut receipt));
    if let (Some(policy), Some(plan)) = (checked.policy.as_ref(), checked.enforcement.as_ref()) {
        policy.record_enforcement(plan, &mut receipt);
    }

    hooks.stage(Stage::Redact);
    for redactor in &mut hooks.redactors {
        redactor
            .redact(&mut receipt)
            .map_err(|source| RunError::Hook {
                stage: Stage::Redact.name(),
                source,
            })?;
    }
    // Redaction may have changed what the legacy copies mirror.
    receipt.fill_legacy();

    hooks.stage(Stage::Sign);
    let mut attachments = Vec::new();
    for signer in &mut hooks.signers {
        attachments.extend(signer.sign(&receipt).map_err(|source| RunError::Hook {
            stage: Stage::Sign.name(),
            source,
        })?);
    }

    hooks.stage(Stage::Write);
    let (receipt_path, fallback_reason) = match write::write(
        &receipt,
        &plan.receipt_path,
        &checked.dirs,
        &attachments,
        checked.user.receipt_owner,
    )? {
        write::Written::AsAsked(path) => (path, None),
        write::Written::Fallback { path, error } => (path, Some(error)),
    };
    Ok(RunReport {
        receipt,
        receipt_path,
        fallback_reason,
        policy_violated,
        spawn_error,
    })
}

/// The command's session and streams (docs/terminals.md): a pty when glasshouse's stdout or
/// stderr is a terminal and the backend can give one; else a session of its own without a
/// controlling terminal while glasshouse has one (sharing glasshouse's would let the command
/// push keystrokes into the terminal of the shell that started glasshouse, which runs them
/// after glasshouse ends, outside the recorded tree), and a process group of its own without
/// one. The note says why a terminal became a pipe.
/// `owner`: the user the command runs as, when glasshouse switches to one (the pty's slave is
/// theirs, as a login's terminal is).
fn connect(
    backend: &(dyn glasshouse_backend::ExecutionBackend + Send),
    terminals: pty::Streams,
    owner: Option<u32>,
) -> (
    glasshouse_backend::Session,
    supervise::Connection,
    Option<String>,
) {
    use glasshouse_backend::Session;
    let mut note = None;
    if backend.supports_terminal() {
        match pty::Pty::open(terminals, owner) {
            Ok(Some(mut pty)) => match pty.terminal() {
                Ok(terminal) => {
                    let connection = supervise::Connection {
                        pty: Some(pty),
                        own_group: true,
                    };
                    return (Session::Terminal(terminal), connection, None);
                }
                Err(e) => note = Some(e.to_string()),
            },
            Ok(None) => {}
            Err(e) => note = Some(e.to_string()),
        }
    }
    let note = note.map(|e| {
        format!("glasshouse could not open a pseudo-terminal for the command ({e}): its output streams were pipes")
    });
    let session = if supervise::has_controlling_terminal() {
        Session::OwnSession
    } else {
        Session::OwnGroup
    };
    let connection = supervise::Connection {
        pty: None,
        own_group: backend.supports_terminal(),
    };
    (session, connection, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_run_in_the_documented_order() {
        let names: Vec<_> = Stage::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names.join(" -> "),
            "check -> attach -> spawn -> wait -> linger -> finish -> assemble -> policy -> redact -> sign -> write"
        );
    }

    #[test]
    fn attachments_are_named_after_the_receipt() {
        assert_eq!(
            write::attachment_path(std::path::Path::new("out/r.json"), ".dsse.json"),
            PathBuf::from("out/r.json.dsse.json")
        );
    }
}

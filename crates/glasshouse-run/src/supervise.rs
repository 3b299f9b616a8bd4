//! The spawn, wait and linger stages: start the command with its output hashed, forward
//! signals while waiting for it, then follow and end what outlives it.

use crate::tee::{Tee, TeeResult};
use crate::{Hooks, RunError, RunPlan, Stage};
use glasshouse_backend::{BackendError, ChildControl, CommandSpec, ExecutionBackend, Termination};
use glasshouse_sensor::Sensor;
use std::time::{Duration, Instant};

/// 127 and 126 are the shell's codes for a command that is missing or cannot be executed.
pub const NOT_FOUND: i32 = 127;
/// See [`NOT_FOUND`].
pub const NOT_EXECUTABLE: i32 = 126;

/// How long the output tees may take to reach end of file after the tree ended (a process
/// outside the tree may hold the pipe open).
const TEE_DEADLINE: Duration = Duration::from_secs(2);

/// What the spawn, wait and linger stages found.
#[derive(Debug)]
pub(crate) struct Supervised {
    /// The command's pid, when it started.
    pub root_pid: Option<u32>,
    /// How it ended (127/126 when it could not start).
    pub termination: Termination,
    /// Why it could not start, if it did not.
    pub spawn_error: Option<String>,
    /// From spawn to the command's end.
    pub duration: Duration,
    /// Processes ended after the linger.
    pub ended: Vec<u32>,
    /// How long the linger lasted.
    pub linger_ms: u64,
    /// What passed through stdout and stderr (none when the command did not start).
    pub stdout: Option<TeeResult>,
    /// See `stdout`.
    pub stderr: Option<TeeResult>,
}

/// Spawns, waits and lingers.
pub(crate) fn supervise(
    backend: &mut (dyn ExecutionBackend + Send),
    spec: CommandSpec,
    signals: SignalForwarder,
    sensor: &Sensor,
    plan: &RunPlan,
    hooks: &mut Hooks,
) -> Result<Supervised, RunError> {
    let started = Instant::now();
    let mut child = match backend.spawn(spec) {
        Ok(child) => child,
        Err(e) => {
            signals.close();
            let code = spawn_error_code(&e)?;
            return Ok(Supervised {
                root_pid: None,
                termination: Termination::Exited(code),
                spawn_error: Some(e.to_string()),
                duration: started.elapsed(),
                ended: Vec::new(),
                linger_ms: 0,
                stdout: None,
                stderr: None,
            });
        }
    };
    hooks.spawned(child.pid);
    let stdout = child
        .stdout
        .take()
        .map(|s| Tee::start(s, std::io::stdout()));
    let stderr = child
        .stderr
        .take()
        .map(|s| Tee::start(s, std::io::stderr()));
    let forwarding = signals.forward_to(child.control.clone());

    hooks.stage(Stage::Wait);
    let termination = backend.wait();
    let duration = started.elapsed();

    hooks.stage(Stage::Linger);
    let linger_started = Instant::now();
    let ended = linger(sensor, plan.linger);
    let linger_ms = linger_started.elapsed().as_millis() as u64;
    forwarding.close();
    let termination = termination.map_err(|e| RunError::Refused(e.to_string()))?;
    Ok(Supervised {
        root_pid: Some(child.pid),
        termination,
        spawn_error: None,
        duration,
        ended,
        linger_ms,
        stdout: stdout.map(|t| t.finish(TEE_DEADLINE)),
        stderr: stderr.map(|t| t.finish(TEE_DEADLINE)),
    })
}

/// 127/126 for a command that could not start; other spawn failures are glasshouse's own.
pub fn spawn_error_code(e: &BackendError) -> Result<i32, RunError> {
    match e {
        BackendError::CommandNotFound { .. } => Ok(NOT_FOUND),
        BackendError::NotExecutable { .. } => Ok(NOT_EXECUTABLE),
        other => Err(RunError::Refused(other.to_string())),
    }
}

/// After the root exits, keeps recording while descendants still run, for up to `linger`;
/// then ends what is left of the tree (by pidfd, never by name) and returns their pids.
fn linger(sensor: &Sensor, linger: Duration) -> Vec<u32> {
    let start = Instant::now();
    while !sensor.live_processes().is_empty() && start.elapsed() < linger {
        reap_orphans();
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = sensor.live_processes();
    for pid in &left {
        let _ = ChildControl::open(*pid).signal(libc::SIGKILL);
    }
    // SIGKILL is not instant: give the kernel a moment to report the exits.
    let kill_deadline = Instant::now() + Duration::from_secs(2);
    while !sensor.live_processes().is_empty() && Instant::now() < kill_deadline {
        reap_orphans();
        std::thread::sleep(Duration::from_millis(10));
    }
    left
}

/// Waits for every exited child glasshouse has (orphans re-parented to it as subreaper).
pub(crate) fn reap_orphans() {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    while let Ok(status) = waitpid(nix::unistd::Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// The sensor's registration as the backends' [`glasshouse_backend::Tracker`].
pub(crate) struct SensorTracker(pub glasshouse_sensor::Registration);

impl glasshouse_backend::Tracker for SensorTracker {
    fn track(&self, pid: u32, pidfd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<()> {
        self.0.track(pid, pidfd)
    }

    fn self_tracking_hook(&self) -> glasshouse_backend::BeforeExecHook {
        self.0.self_tracking_hook()
    }
}

/// Catches SIGINT, SIGTERM and SIGHUP from before the child exists (so none can kill
/// glasshouse and orphan the child) and forwards them to the child once it runs; glasshouse
/// itself keeps going so that it can finish the receipt.
pub struct SignalForwarder {
    signals: signal_hook::iterator::Signals,
}

/// The running forwarder thread.
pub struct Forwarding {
    handle: signal_hook::iterator::Handle,
    thread: std::thread::JoinHandle<()>,
}

impl SignalForwarder {
    /// Installs the handlers.
    pub fn install() -> Result<Self, RunError> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| RunError::Refused(format!("cannot install signal handlers: {e}")))?;
        Ok(Self { signals })
    }

    /// Forwards what was caught so far, and everything caught later, to the child.
    pub fn forward_to(mut self, control: ChildControl) -> Forwarding {
        let handle = self.signals.handle();
        let thread = std::thread::spawn(move || {
            for sig in self.signals.forever() {
                let _ = control.signal(sig);
            }
        });
        Forwarding { handle, thread }
    }

    /// Stops catching.
    pub fn close(self) {
        self.signals.handle().close();
    }
}

impl Forwarding {
    /// Stops forwarding.
    pub fn close(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}

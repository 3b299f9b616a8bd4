//! The spawn, wait and linger stages: start the command with its output hashed, forward
//! signals while waiting for it, then follow and end what outlives it.

use crate::pty::Pty;
use crate::tee::{Tee, TeeResult};
use crate::{Hooks, RunError, RunPlan, Stage};
use glasshouse_backend::{BackendError, ChildControl, CommandSpec, ExecutionBackend, Termination};
use glasshouse_sensor::Sensor;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::iterator::SignalsInfo;
use signal_hook::low_level::siginfo::Cause;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// 127 and 126 are the shell's codes for a command that is missing or cannot be executed.
pub const NOT_FOUND: i32 = 127;
/// See [`NOT_FOUND`].
pub const NOT_EXECUTABLE: i32 = 126;

/// The status recorded when waiting for the command failed (its own is unknown); the receipt's
/// `outcome.error` says why. The binary's set-up error code.
pub const WAIT_FAILED: i32 = 125;

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
    /// Why it could not start, or why waiting for it failed.
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
    /// The command ignored a forwarded SIGTERM/SIGHUP and was killed after this grace.
    pub killed_after: Option<Duration>,
    /// One pty carried both stdout and stderr: `stdout` holds both.
    pub stderr_in_stdout: bool,
    /// What the receipt's `sensor.notes` must say about the streams.
    pub notes: Vec<String>,
}

/// How the command is connected: the pty it gets (when glasshouse's stdout or stderr is a
/// terminal), and whether it leads a process group of its own (forwarded signals then go to
/// the whole group, as a terminal's or a group kill would have).
pub(crate) struct Connection {
    pub pty: Option<Pty>,
    pub own_group: bool,
}

/// Spawns, waits and lingers.
pub(crate) fn supervise(
    backend: &mut (dyn ExecutionBackend + Send),
    spec: CommandSpec,
    signals: SignalForwarder,
    sensor: &Sensor,
    plan: &RunPlan,
    hooks: &mut Hooks,
    connection: Connection,
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
                killed_after: None,
                stderr_in_stdout: false,
                notes: Vec::new(),
            });
        }
    };
    hooks.spawned(child.pid);
    let on_pty = connection.pty.as_ref().map(Pty::streams);
    let terminal = connection
        .pty
        .map(|p| p.start(child.control.clone(), plan.output_hash));
    let stdout = child
        .stdout
        .take()
        .map(|s| Tee::start(s, std::io::stdout(), plan.output_hash));
    let stderr = child
        .stderr
        .take()
        .map(|s| Tee::start(s, std::io::stderr(), plan.output_hash));
    let forwarding = signals.forward_to(
        child.control.clone(),
        plan.kill_after,
        connection.own_group,
        terminal.is_some(),
    );

    hooks.stage(Stage::Wait);
    let termination = backend.wait();
    #[cfg(test)]
    let termination = crate::faults::wait(termination, child.pid);
    let duration = started.elapsed();
    forwarding.command_ended();

    hooks.stage(Stage::Linger);
    let linger_started = Instant::now();
    let ended = linger(sensor, plan.linger);
    let linger_ms = linger_started.elapsed().as_millis() as u64;
    let forwarded = forwarding.close();
    // The command ran: an error while waiting for it still gives a receipt, with the error.
    let (termination, wait_error) = match termination {
        Ok(t) => (t, None),
        Err(e) => (Termination::Exited(WAIT_FAILED), Some(e.to_string())),
    };
    let mut stdout = stdout.map(|t| t.finish(TEE_DEADLINE));
    let mut stderr = stderr.map(|t| t.finish(TEE_DEADLINE));
    // The terminal gets its settings back here, once the tree's output has ended.
    let (on_terminal, notes) = terminal.map_or((None, Vec::new()), |t| t.finish(TEE_DEADLINE));
    match on_pty {
        Some(streams) if streams.stdout => stdout = on_terminal,
        Some(_) => stderr = on_terminal,
        None => {}
    }
    Ok(Supervised {
        root_pid: Some(child.pid),
        termination,
        spawn_error: wait_error,
        duration,
        ended,
        linger_ms,
        stdout,
        stderr,
        stderr_in_stdout: on_pty.is_some_and(|s| s.stdout && s.stderr),
        notes,
        killed_after: (forwarded.killed_after_grace
            && termination == Termination::Signaled(libc::SIGKILL))
        .then_some(plan.kill_after),
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
    let mut left = Vec::new();
    for control in open_members(&mut || sensor.live_processes()) {
        let _ = control.signal(libc::SIGKILL);
        left.push(control.pid());
    }
    // SIGKILL is not instant: give the kernel a moment to report the exits.
    let kill_deadline = Instant::now() + Duration::from_secs(2);
    while !sensor.live_processes().is_empty() && Instant::now() < kill_deadline {
        reap_orphans();
        std::thread::sleep(Duration::from_millis(10));
    }
    left
}

/// Pidfds for the processes of the tree that `live` (the sensor's `tracked` map) lists.
///
/// A pid read from `tracked` may have exited and been reused since: a pidfd opened now names
/// whoever holds the pid now, so membership is checked again after opening it. The kernel
/// removes a process from `tracked` before its pid can be reused, so a pid still tracked after
/// its pidfd was opened names a process of the tree.
pub(crate) fn open_members(live: &mut dyn FnMut() -> Vec<u32>) -> Vec<ChildControl> {
    let listed = live();
    let controls: Vec<ChildControl> = listed.iter().map(|pid| ChildControl::open(*pid)).collect();
    let still = live();
    controls
        .into_iter()
        .filter(|c| still.contains(&c.pid()))
        .collect()
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
/// glasshouse and orphan the child) and forwards them to the child once it runs, exactly once:
/// glasshouse itself keeps going so that it can finish the receipt. SIGTSTP stops the child
/// (with SIGSTOP) and then glasshouse; SIGCONT, continuing glasshouse, continues the child.
///
/// A signal the child has already received is not forwarded again: one the kernel generated
/// (a terminal's Ctrl-C, Ctrl-\\ or hang-up goes to its whole foreground process group, which the
/// child shares with glasshouse), and one sent by a process of the traced tree (it can reach the
/// command itself; `kill 0` already did). After a forwarded SIGTERM or SIGHUP the command has
/// `kill_after` to end before it is killed with SIGKILL.
pub struct SignalForwarder {
    signals: SignalsInfo<WithOrigin>,
}

/// The running forwarder thread.
pub struct Forwarding {
    handle: signal_hook::iterator::Handle,
    thread: std::thread::JoinHandle<()>,
    /// Dropped when the command ended: that stops the grace timer.
    ended: mpsc::Sender<()>,
    killed: Arc<AtomicBool>,
}

/// What the forwarder did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Forwarded {
    /// The command outlived the grace after a forwarded SIGTERM/SIGHUP and was sent SIGKILL.
    pub killed_after_grace: bool,
}

impl SignalForwarder {
    /// Installs the handlers.
    pub fn install() -> Result<Self, RunError> {
        use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGTERM, SIGTSTP};
        let signals =
            SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP, SIGTSTP, SIGCONT])
                .map_err(|e| RunError::Refused(format!("cannot install signal handlers: {e}")))?;
        Ok(Self { signals })
    }

    /// Forwards what was caught so far, and everything caught later, to the child; a command
    /// that does not end within `kill_after` of a forwarded SIGTERM or SIGHUP is killed.
    /// With `to_group` (the command leads a process group of its own) the signal goes to that
    /// whole group, as a terminal's key or a kill of glasshouse's group would have reached it.
    /// `stops_followed`: a pty follows the command's stops and stops glasshouse itself.
    pub fn forward_to(
        mut self,
        control: ChildControl,
        kill_after: Duration,
        to_group: bool,
        stops_followed: bool,
    ) -> Forwarding {
        let handle = self.signals.handle();
        let (ended, grace_over) = mpsc::channel::<()>();
        let killed = Arc::new(AtomicBool::new(false));
        let shared = Arc::clone(&killed);
        let thread = std::thread::spawn(move || {
            let mut timer = Some((grace_over, shared));
            for origin in self.signals.forever() {
                let sender = origin.process.as_ref().map(|p| p.pid);
                let forward = should_forward(origin.cause == Cause::Kernel, sender, control.pid());
                let send = |signal| {
                    if to_group {
                        signal_group(&control, signal);
                    } else {
                        let _ = control.signal(signal);
                    }
                };
                if origin.signal == libc::SIGTSTP {
                    // glasshouse's job is stopped (Ctrl-Z, `kill -TSTP`): the command stops
                    // with it (SIGSTOP: the kernel ignores SIGTSTP for a group without a
                    // parent in its session outside it, which a command of its own session
                    // is), then glasshouse stops, as SIGTSTP's default action would have:
                    // unless its own group is such a group, and with a pty, whose follower
                    // stops glasshouse once it sees the command stopped (after giving the
                    // terminal back its settings).
                    if crate::pty::shell_can_continue_us() {
                        if forward {
                            send(libc::SIGSTOP);
                        }
                        if !stops_followed {
                            crate::pty::stop_glasshouse();
                        }
                    }
                    continue;
                }
                if !forward {
                    continue;
                }
                send(origin.signal);
                if matches!(origin.signal, libc::SIGTERM | libc::SIGHUP) {
                    if let Some((grace_over, killed)) = timer.take() {
                        let control = control.clone();
                        std::thread::spawn(move || {
                            if grace_over.recv_timeout(kill_after)
                                == Err(mpsc::RecvTimeoutError::Timeout)
                                && control.signal_alive(libc::SIGKILL)
                            {
                                killed.store(true, Ordering::SeqCst);
                            }
                        });
                    }
                }
            }
        });
        Forwarding {
            handle,
            thread,
            ended,
            killed,
        }
    }

    /// Stops catching.
    pub fn close(self) {
        self.signals.handle().close();
    }
}

impl Forwarding {
    /// The command ended: stops the grace timer.
    pub fn command_ended(&self) {
        let _ = self.ended.send(());
    }

    /// Stops forwarding and says what was done.
    pub fn close(self) -> Forwarded {
        self.command_ended();
        self.handle.close();
        let _ = self.thread.join();
        Forwarded {
            killed_after_grace: self.killed.load(Ordering::SeqCst),
        }
    }
}

/// Sends `signal` to the process group the command leads. Its id is the command's pid, which
/// cannot name anyone else while the command is not reaped (its pidfd still takes signal 0) or
/// any member of its group lives; once the command is gone, only the command itself is signalled
/// (through its pidfd, which does nothing then).
fn signal_group(control: &ChildControl, signal: i32) {
    let group = rustix::process::Pid::from_raw(control.pid() as i32);
    let sig = rustix::process::Signal::from_named_raw(signal);
    match (group, sig, control.pidfd()) {
        (Some(group), Some(sig), Some(pidfd)) if not_reaped(pidfd) => {
            let _ = rustix::process::kill_process_group(group, sig);
        }
        _ => {
            let _ = control.signal(signal);
        }
    }
}

/// Whether the process behind `pidfd` has not been reaped yet (signal 0 still reaches it).
fn not_reaped(pidfd: std::os::fd::BorrowedFd<'_>) -> bool {
    use std::os::fd::AsRawFd as _;
    // SAFETY: pidfd_send_signal with signal 0 and no siginfo only checks that the process
    // exists; the descriptor is borrowed and valid for the call.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            0,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        ) == 0
    }
}

/// Whether glasshouse has a controlling terminal (field 7 of /proc/self/stat, `tty_nr`).
pub(crate) fn has_controlling_terminal() -> bool {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let after = &stat[stat.rfind(')')? + 1..];
            after.split_whitespace().nth(4)?.parse::<i64>().ok()
        })
        .is_some_and(|tty| tty != 0)
}

/// Whether a caught signal must be forwarded to the command `child` (see [`SignalForwarder`]):
/// `from_kernel` when the kernel generated it (a terminal), `sender` the process that sent it.
fn should_forward(from_kernel: bool, sender: Option<i32>, child: u32) -> bool {
    if from_kernel {
        let ours = rustix::process::getpgrp();
        let theirs = rustix::process::Pid::from_raw(child as i32)
            .and_then(|p| rustix::process::getpgid(Some(p)).ok());
        return theirs != Some(ours);
    }
    sender.is_none_or(|pid| !descends_from_us(pid))
}

/// Whether `pid` is glasshouse's descendant (the command, or any process of its tree,
/// re-parented orphans included), by its chain of parents in /proc.
fn descends_from_us(pid: i32) -> bool {
    let us = std::process::id() as i32;
    let mut pid = pid;
    for _ in 0..4096 {
        if pid == us {
            return true;
        }
        if pid <= 1 {
            return false;
        }
        match parent_of(pid) {
            Some(ppid) => pid = ppid,
            None => return false,
        }
    }
    false
}

/// The parent pid in /proc/PID/stat (the field after the parenthesised command name).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_signals_reach_a_child_of_our_group_without_forwarding() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let pid = child.id();
        // The child shares the test's process group: a terminal's signal reached it already.
        assert!(!should_forward(true, None, pid));
        // A signal sent by a process outside the tree (pid 1 here) is forwarded once.
        assert!(should_forward(false, Some(1), pid));
        // One sent by the child itself (or its tree) is not sent back to it.
        assert!(!should_forward(false, Some(pid as i32), pid));
        let _ = child.kill();
        let _ = child.wait();
    }
}

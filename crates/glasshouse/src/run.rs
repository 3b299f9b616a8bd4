//! `glasshouse run`: spawn -> (attach sensor) -> release child -> wait -> linger -> receipt -> policy.

use crate::exit::{self, Exit};
use crate::tee::{self, Tee};
use anyhow::Result;
use glasshouse_backend::{BackendError, BackendKind, ChildControl, CommandSpec, Termination};
use glasshouse_receipt::{LegacyProcess, OsText, Provenance, Receipt};
use glasshouse_sensor::{Sensor, SensorOptions};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options of `glasshouse run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Turn profiling on and write a receipt: `host` traces the tree with the kernel sensor;
    /// `guest` and `combined` need a VM backend.
    #[arg(long, value_enum)]
    profile: Option<ProfileArg>,
    /// Where to write the receipt (only with --profile) [default: receipt.json]
    #[arg(long, value_name = "PATH")]
    receipt: Option<PathBuf>,
    /// Execution backend.
    #[arg(long, value_enum, default_value = "process")]
    backend: BackendArg,
    /// Seconds to keep recording descendants that outlive the command before ending them.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    linger: f64,
    /// Evaluate this policy against the receipt and record the verdict in it.
    #[arg(long, value_name = "FILE", requires = "profile")]
    policy: Option<PathBuf>,
    /// Exit with 122 when the policy finds violations, instead of the command's exit code.
    #[arg(long, requires = "policy")]
    enforce_exit: bool,
    /// Print no summary after the run.
    #[arg(long, short)]
    quiet: bool,
    /// The command and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    command: Vec<OsString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ProfileArg {
    Host,
    Guest,
    Combined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BackendArg {
    Process,
    Kata,
    Firecracker,
}

impl BackendArg {
    fn kind(self) -> BackendKind {
        match self {
            Self::Process => BackendKind::Process,
            Self::Kata => BackendKind::Kata,
            Self::Firecracker => BackendKind::Firecracker,
        }
    }
}

/// Runs the command; returns glasshouse's exit code.
pub fn run(args: RunArgs) -> Result<i32> {
    let mut backend = args
        .backend
        .kind()
        .open()
        .map_err(|e| Exit::new(exit::USAGE, e.to_string()))?;
    let info = backend.identify();
    let provenance = match args.profile {
        None => None,
        Some(ProfileArg::Host) => Some(Provenance::Host),
        Some(p @ (ProfileArg::Guest | ProfileArg::Combined)) => {
            let name = if p == ProfileArg::Guest {
                "guest"
            } else {
                "combined"
            };
            let supporting = glasshouse_backend::backends_with_guest_sensor();
            let which = if supporting.is_empty() {
                "no backend in this build has one (kata and firecracker are not available)"
                    .to_owned()
            } else {
                format!("use --backend {}", supporting.join(" or "))
            };
            return Err(Exit::new(
                exit::USAGE,
                format!("--profile {name} needs a backend with a guest sensor, and {which}; use --profile host"),
            )
            .into());
        }
    };
    if !(args.linger.is_finite() && args.linger >= 0.0) {
        return Err(Exit::new(
            exit::USAGE,
            format!("--linger {} is not a number of seconds >= 0", args.linger),
        )
        .into());
    }
    let Some(provenance) = provenance else {
        if args.receipt.is_some() {
            eprintln!("glasshouse: warning: --receipt has no effect without --profile: no receipt is written");
        }
        return run_plain(backend.as_mut(), &args);
    };
    let receipt_path = args
        .receipt
        .clone()
        .unwrap_or_else(|| PathBuf::from("receipt.json"));

    // Everything that can be refused is checked before the command starts.
    glasshouse_receipt::check_writable(&receipt_path)
        .map_err(|e| Exit::new(exit::USAGE, format!("{e}; choose another --receipt path")))?;
    let policy = match &args.policy {
        Some(path) => Some(
            crate::policy_cmd::LoadedPolicy::load(path)
                .map_err(|e| Exit::new(exit::USAGE, format!("{e:#}")))?,
        ),
        None => None,
    };

    let sensor_options =
        SensorOptions::from_env().map_err(|e| Exit::new(exit::USAGE, e.to_string()))?;
    let sensor = Sensor::start(&sensor_options, std::process::id())
        .map_err(|e| Exit::new(exit::SENSOR_UNAVAILABLE, e.to_string()))?;
    // Orphaned descendants are re-parented to glasshouse, so they can be waited for and ended.
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| Exit::new(exit::USAGE, format!("cannot become a child subreaper: {e}")))?;

    let execution_id = uuid::Uuid::now_v7().to_string();
    let timestamp = now_rfc3339();
    let mut receipt = Receipt::new(execution_id, provenance, timestamp);
    fill_environment(&mut receipt, &args.command);
    receipt.execution.backend = info.name.to_owned();
    receipt.execution.isolation = info.isolation.to_owned();

    let signals = SignalForwarder::install()?;
    let started = Instant::now();
    let spec = CommandSpec {
        program: args.command[0].clone(),
        args: args.command[1..].to_vec(),
        capture_output: true,
        before_exec: vec![sensor.tracking_hook()],
    };
    let mut ended = Vec::new();
    let mut linger_ms = 0;
    let mut run_notes = Vec::new();
    let mut root_pid = None;
    let termination = match backend.spawn(spec) {
        Ok(mut child) => {
            root_pid = Some(child.pid);
            let stdout = child
                .stdout
                .take()
                .map(|s| Tee::start(s, std::io::stdout()));
            let stderr = child
                .stderr
                .take()
                .map(|s| Tee::start(s, std::io::stderr()));
            let forwarding = signals.forward_to(child.control.clone());
            let termination = backend.wait();
            receipt.timing.duration_ms = started.elapsed().as_millis() as u64;
            let linger_started = Instant::now();
            ended = linger(&sensor, Duration::from_secs_f64(args.linger));
            linger_ms = linger_started.elapsed().as_millis() as u64;
            forwarding.close();
            let termination = termination?;
            let deadline = Duration::from_secs(2);
            for (stream, tee, hash, bytes) in [
                (
                    "stdout",
                    stdout,
                    &mut receipt.artifacts.stdout_hash,
                    &mut receipt.artifacts.stdout_bytes,
                ),
                (
                    "stderr",
                    stderr,
                    &mut receipt.artifacts.stderr_hash,
                    &mut receipt.artifacts.stderr_bytes,
                ),
            ] {
                let result = tee.map(|t| t.finish(deadline));
                *hash = result
                    .as_ref()
                    .map_or_else(tee::empty_sha256, |r| r.sha256.clone());
                *bytes = result.as_ref().map_or(0, |r| r.bytes);
                if result.is_some_and(|r| !r.complete) {
                    run_notes.push(format!(
                        "{stream} was still held open by a process outside the traced tree when the run ended; artifacts.{stream}_hash covers what was written until then"
                    ));
                }
            }
            termination
        }
        Err(e) => {
            signals.close();
            receipt.timing.duration_ms = started.elapsed().as_millis() as u64;
            receipt.artifacts.stdout_hash = tee::empty_sha256();
            receipt.artifacts.stderr_hash = tee::empty_sha256();
            let code = spawn_error_code(&e)?;
            eprintln!("glasshouse: {e}");
            receipt.outcome.error = Some(e.to_string());
            Termination::Exited(code)
        }
    };
    reap_orphans();
    record_outcome(&mut receipt, termination, root_pid.is_some());
    fill_resources(&mut receipt);
    let observed = sensor.finish(root_pid, &ended, linger_ms);
    receipt.process_tree = observed.process_tree;
    // Policy violations are added later, from the finished receipt.
    receipt.filesystem = observed.filesystem;
    receipt.network = observed.network;
    receipt.syscalls = observed.syscalls;
    let mut coverage = observed.coverage;
    coverage.notes.extend(run_notes);
    receipt.sensor = Some(coverage);
    receipt.processes = receipt
        .process_tree
        .iter()
        .map(|p| {
            let mut legacy = LegacyProcess::default();
            legacy.pid = p.pid;
            legacy.ppid = p.ppid;
            legacy.cmd = p
                .argv
                .iter()
                .map(|a| a.display_lossy())
                .collect::<Vec<_>>()
                .join(" ");
            legacy
        })
        .collect();

    let violated = policy.as_ref().is_some_and(|p| p.apply(&mut receipt));
    receipt.write_atomic(&receipt_path).map_err(|e| {
        Exit::new(
            exit::RECEIPT_WRITE_FAILED,
            format!("{e}; the command exited with {}", receipt.exit_code),
        )
    })?;
    if !args.quiet {
        eprintln!("{}", summary(&receipt, &receipt_path));
    }
    if violated && args.enforce_exit {
        return Ok(exit::POLICY_VIOLATION);
    }
    Ok(receipt.exit_code)
}

/// Plain runner: no sensor, no receipt, output inherited untouched.
fn run_plain(
    backend: &mut (dyn glasshouse_backend::ExecutionBackend + Send),
    args: &RunArgs,
) -> Result<i32> {
    let spec = CommandSpec {
        program: args.command[0].clone(),
        args: args.command[1..].to_vec(),
        capture_output: false,
        before_exec: Vec::new(),
    };
    let signals = SignalForwarder::install()?;
    match backend.spawn(spec) {
        Ok(child) => {
            let forwarding = signals.forward_to(child.control.clone());
            let termination = backend.wait();
            forwarding.close();
            Ok(termination?.exit_code())
        }
        Err(e) => {
            signals.close();
            let code = spawn_error_code(&e)?;
            eprintln!("glasshouse: {e}");
            Ok(code)
        }
    }
}

/// 127/126 for a command that could not start; other spawn failures are glasshouse's own.
fn spawn_error_code(e: &BackendError) -> Result<i32> {
    match e {
        BackendError::CommandNotFound { .. } => Ok(exit::NOT_FOUND),
        BackendError::NotExecutable { .. } => Ok(exit::NOT_EXECUTABLE),
        other => Err(Exit::new(exit::USAGE, other.to_string()).into()),
    }
}

fn record_outcome(receipt: &mut Receipt, termination: Termination, ran: bool) {
    match termination {
        Termination::Exited(code) => receipt.outcome.exit_code = Some(code),
        Termination::Signaled(sig) => {
            receipt.outcome.signal = Some(sig);
            if ran {
                receipt.outcome.error =
                    Some(format!("killed by signal {sig} ({})", signal_name(sig)));
            }
        }
    }
    receipt.exit_code = termination.exit_code();
    receipt.duration_ms = receipt.timing.duration_ms;
}

/// Resource usage of every descendant glasshouse (or a descendant) has reaped.
fn fill_resources(receipt: &mut Receipt) {
    use nix::sys::resource::{getrusage, UsageWho};
    use nix::sys::time::TimeValLike as _;
    let Ok(usage) = getrusage(UsageWho::RUSAGE_CHILDREN) else {
        return;
    };
    receipt.resources.user_time_ms = usage.user_time().num_milliseconds().max(0) as u64;
    receipt.resources.system_time_ms = usage.system_time().num_milliseconds().max(0) as u64;
    receipt.resources.cpu_time_ms =
        receipt.resources.user_time_ms + receipt.resources.system_time_ms;
    receipt.resources.max_rss_kb = usage.max_rss().max(0) as u64;
    receipt.timing.cpu_time_ms = receipt.resources.cpu_time_ms;
}

fn fill_environment(receipt: &mut Receipt, command: &[OsString]) {
    let env = &mut receipt.environment;
    env.os = std::env::consts::OS.to_owned();
    env.arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
    .to_owned();
    env.runtime = runtime_name(&command[0]);
    env.sandbox.network = "enabled".to_owned();
    env.kernel = Some(
        rustix::system::uname()
            .release()
            .to_string_lossy()
            .into_owned(),
    );
    env.working_dir = std::env::current_dir()
        .ok()
        .map(|d| OsText::from(d.as_path()));
    env.home = std::env::var_os("HOME").map(|h| OsText::from(h.as_os_str()));
}

/// The program's name, which for an interpreter is the runtime (`python3`, `node`, `bash`).
fn runtime_name(program: &OsString) -> String {
    std::path::Path::new(program).file_name().map_or_else(
        || program.to_string_lossy().into_owned(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGXCPU => "SIGXCPU",
        _ => "signal",
    }
}

/// One line saying what the receipt holds.
fn summary(r: &Receipt, path: &std::path::Path) -> String {
    let fs = &r.filesystem;
    let mut lines = vec![format!(
        "glasshouse: receipt {}: exit {}, {} processes, {} reads, {} writes, {} deletes, {} network attempts, {} failed operations ({} denied)",
        path.display(),
        r.exit_code,
        r.process_tree.len(),
        fs.reads.len(),
        fs.writes.len(),
        fs.deletes.len(),
        r.network.attempts.len(),
        fs.failed.len(),
        r.syscalls.denied.len(),
    )];
    let ended = r
        .process_tree
        .iter()
        .filter(|p| p.ended_by_glasshouse)
        .count();
    if ended > 0 {
        lines.push(format!(
            "glasshouse: ended {ended} processes that outlived the command past --linger"
        ));
    }
    if let Some(p) = &r.policy {
        lines.push(format!(
            "glasshouse: policy {}: {} violations",
            p.verdict,
            p.violations.len()
        ));
    }
    match &r.sensor {
        Some(s) if s.complete => lines.push(format!(
            "glasshouse: sensor coverage complete ({} hooks attached, no event lost)",
            s.hooks.len()
        )),
        Some(s) => {
            lines.push(format!(
                "glasshouse: sensor coverage INCOMPLETE: {} events lost, {} cut short; see sensor in the receipt",
                s.events_lost,
                s.truncated.len()
            ));
            lines.extend(s.notes.iter().map(|n| format!("glasshouse:   {n}")));
        }
        None => {}
    }
    lines.join("\n")
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
fn reap_orphans() {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    while let Ok(status) = waitpid(nix::unistd::Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// Catches SIGINT, SIGTERM and SIGHUP from before the child exists (so none can kill
/// glasshouse and orphan the child) and forwards them to the child once it runs; glasshouse
/// itself keeps going so that it can finish the receipt.
struct SignalForwarder {
    signals: signal_hook::iterator::Signals,
}

/// The running forwarder thread.
struct Forwarding {
    handle: signal_hook::iterator::Handle,
    thread: std::thread::JoinHandle<()>,
}

impl SignalForwarder {
    fn install() -> Result<Self> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| Exit::new(exit::USAGE, format!("cannot install signal handlers: {e}")))?;
        Ok(Self { signals })
    }

    /// Forwards what was caught so far, and everything caught later, to the child.
    fn forward_to(mut self, control: ChildControl) -> Forwarding {
        let handle = self.signals.handle();
        let thread = std::thread::spawn(move || {
            for sig in self.signals.forever() {
                let _ = control.signal(sig);
            }
        });
        Forwarding { handle, thread }
    }

    fn close(self) {
        self.signals.handle().close();
    }
}

impl Forwarding {
    fn close(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}

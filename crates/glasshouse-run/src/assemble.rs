//! The assemble stage: the receipt's identity and environment (taken when the run starts) and
//! everything the other stages found, put together.

use crate::supervise::Supervised;
use crate::tee;
use crate::user::RunUser;
use crate::RunPlan;
use glasshouse_backend::{BackendInfo, Termination};
use glasshouse_receipt::{OsText, OutputHash, Provenance, Receipt};
use glasshouse_sensor::Observations;
use std::ffi::OsString;

/// A new run's `execution_id`.
pub(crate) fn new_execution_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A receipt with the run's identity, environment and backend, taken before the command starts.
pub(crate) fn start_receipt(
    plan: &RunPlan,
    execution_id: String,
    provenance: Provenance,
    info: BackendInfo,
    user: &RunUser,
) -> Receipt {
    let mut receipt = Receipt::new(execution_id, provenance, now_rfc3339());
    fill_environment(&mut receipt, &plan.command);
    receipt.environment.home = user.home().map(|h| OsText::from(h.as_os_str()));
    receipt.execution.backend = info.name.to_owned();
    receipt.execution.isolation = info.isolation.to_owned();
    receipt.execution.user = Some(user.record());
    receipt
}

/// A command that ran as root could have reached the sensor and hidden what it did: the
/// receipt says so (`sensor.command_privileged` and a note). It stays `complete` when nothing
/// else is missing, because that field says what the sensor saw of its own gaps; a reader who
/// must rule out tampering checks `command_privileged` too (docs/receipt.md).
pub(crate) fn privilege(receipt: &mut Receipt, user: &RunUser) {
    if !user.privileged() {
        return;
    }
    if let Some(sensor) = receipt.sensor.as_mut() {
        sensor.command_privileged = true;
        sensor.notes.push(
            "the command ran as root (uid 0): it could have tampered with the sensor (its BPF maps and programs, /run/glasshouse, glasshouse itself) and hidden what it did; run it as an ordinary user (through sudo, or with --user) for a receipt it cannot falsify".to_owned(),
        );
    }
}

/// What the backend applied: `execution.isolation`, `environment.sandbox`, `network.proxied`.
pub(crate) fn isolation(receipt: &mut Receipt, applied: glasshouse_backend::Isolation) {
    let paths = |list: Vec<std::path::PathBuf>| -> Vec<OsText> {
        list.iter().map(|p| OsText::from(p.as_path())).collect()
    };
    receipt.execution.isolation = applied.isolation;
    let sandbox = &mut receipt.environment.sandbox;
    sandbox.network = applied.network;
    sandbox.writable = paths(applied.writable);
    sandbox.read_only = paths(applied.read_only);
    sandbox.hidden = paths(applied.hidden);
    receipt.network.proxied = applied.proxied;
    if let Some(tree) = applied.resources {
        let r = &mut receipt.resources;
        r.user_time_ms = tree.user_time_ms;
        r.system_time_ms = tree.system_time_ms;
        r.cpu_time_ms = tree.user_time_ms + tree.system_time_ms;
        r.max_rss_kb = tree.max_rss_kb;
        receipt.timing.cpu_time_ms = r.cpu_time_ms;
    }
}

/// Which of glasshouse's streams were terminals, and whether one pty carried stdout and stderr.
pub(crate) fn terminals(receipt: &mut Receipt, streams: crate::pty::Streams, run: &Supervised) {
    receipt.artifacts.terminals = streams.names();
    receipt.artifacts.stderr_in_stdout = run.stderr_in_stdout;
}

/// Puts the outcome, output hashes, resources and observations into `receipt`.
pub(crate) fn assemble(
    receipt: &mut Receipt,
    run: Supervised,
    observed: Observations,
    algorithm: OutputHash,
) {
    let mut notes = run.notes;
    for (stream, result, hash, bytes) in [
        (
            "stdout",
            run.stdout,
            &mut receipt.artifacts.stdout_hash,
            &mut receipt.artifacts.stdout_bytes,
        ),
        (
            "stderr",
            run.stderr,
            &mut receipt.artifacts.stderr_hash,
            &mut receipt.artifacts.stderr_bytes,
        ),
    ] {
        *hash = result
            .as_ref()
            .map_or_else(|| tee::empty_hash(algorithm), |r| r.hash.clone());
        *bytes = result.as_ref().map_or(0, |r| r.bytes);
        if result.is_some_and(|r| !r.complete) {
            notes.push(format!(
                "{stream} was still held open by a process outside the traced tree when the run ended; artifacts.{stream}_hash covers what was written until then"
            ));
        }
    }
    receipt.outcome.error = run.spawn_error;
    record_outcome(receipt, run.termination, run.root_pid.is_some());
    if let Some(grace) = run.killed_after {
        receipt.outcome.error = Some(format!(
            "the command did not end within --kill-after {} s of the forwarded SIGTERM/SIGHUP; glasshouse killed it with SIGKILL",
            grace.as_secs_f64()
        ));
    }
    fill_resources(receipt);
    receipt.process_tree = observed.process_tree;
    if run.killed_after.is_some() {
        let root = run.root_pid;
        for p in receipt
            .process_tree
            .iter_mut()
            .filter(|p| Some(p.pid) == root)
        {
            p.ended_by_glasshouse = true;
        }
    }
    // Policy violations are added later, from the finished receipt.
    receipt.filesystem = observed.filesystem;
    receipt.network = observed.network;
    receipt.syscalls = observed.syscalls;
    let mut coverage = observed.coverage;
    coverage.notes.extend(notes);
    receipt.sensor = Some(coverage);
    receipt.fill_legacy();
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
    env.runtime = command.first().map(runtime_name).unwrap_or_default();
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

/// The conventional name of a signal number.
pub fn signal_name(sig: i32) -> &'static str {
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

//! `glasshouse run`: its arguments, turned into a [`RunPlan`] for the glasshouse-run pipeline.

use crate::exit::{self, Exit};
use anyhow::Result;
use glasshouse_backend::{BackendKind, NamespaceConfig, NetworkMode};
use glasshouse_run::{OutputHash, Profile, RunError, RunPlan};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Seconds (0 to 86400) to keep recording descendants that outlive the command before
    /// ending them.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    linger: f64,
    /// Seconds (0 to 86400) the command has to end after a forwarded SIGTERM or SIGHUP before
    /// glasshouse kills it with SIGKILL (the receipt says so).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    kill_after: f64,
    /// Evaluate this policy against the receipt and record the verdict in it.
    #[arg(long, value_name = "FILE", requires = "profile")]
    policy: Option<PathBuf>,
    /// Exit with 122 when the policy finds violations, instead of the command's exit code.
    #[arg(long, requires = "policy")]
    enforce_exit: bool,
    /// With --backend namespace: apply what the sandbox can express of the policy (Landlock,
    /// read-only and hidden paths, the proxy); the receipt's `enforcement` lists every rule
    /// as enforced or evaluated only.
    #[arg(long)]
    enforce: bool,
    /// The namespace backend's network: `none` (a loopback of its own), `host`, or `proxy`
    /// (only glasshouse's allowlisting proxy, see --allow-host) [default: none]
    #[arg(long, value_enum, value_name = "MODE")]
    network: Option<NetworkArg>,
    /// With --network proxy: a host the command may reach (`example.com`, `*.example.com`,
    /// optionally `:PORT`); repeatable. Everything else is refused and recorded.
    #[arg(long = "allow-host", value_name = "PATTERN")]
    allow_host: Vec<String>,
    /// With --network proxy: let the proxy reach loopback, link-local and private addresses
    /// (refused by default, even for allowed names).
    #[arg(long)]
    proxy_allow_private: bool,
    /// With --network proxy: the most connections the proxy serves at once (1 to 4096); one
    /// more is answered 503 and recorded as denied [default: 128]
    #[arg(long, value_name = "N")]
    proxy_max_connections: Option<usize>,
    /// With --backend namespace: also make PATH writable (besides the working directory and
    /// a private /tmp); repeatable.
    #[arg(long = "rw", value_name = "PATH")]
    rw: Vec<PathBuf>,
    /// With --backend namespace: make PATH read-only (inside a writable one); repeatable.
    #[arg(long = "ro", value_name = "PATH")]
    ro: Vec<PathBuf>,
    /// With --backend namespace: replace PATH by an empty directory or file; repeatable.
    #[arg(long = "hide", value_name = "PATH")]
    hide: Vec<PathBuf>,
    /// Run the command as this user (a name or uid; its group, groups and home come from the
    /// passwd and group databases). Started through sudo, the command runs as the invoking user
    /// by default; `--user root` runs it as root, which can tamper with the sensor (the receipt
    /// says so).
    #[arg(long, value_name = "NAME|UID")]
    user: Option<String>,
    /// The digest of stdout and stderr in the receipt: `sha256` (bare hex, as v0.3.0 defines
    /// it) or `blake3` (about four times faster, for large output; written `blake3:<hex>`).
    #[arg(
        long,
        value_enum,
        value_name = "ALGORITHM",
        default_value = "sha256",
        requires = "profile"
    )]
    output_hash: OutputHashArg,
    /// Print no summary after the run.
    #[arg(long, short)]
    quiet: bool,
    /// At the end, print the receipt's `glasshouse show` view on stderr instead of the short
    /// summary (colored when stderr is a terminal and NO_COLOR is unset).
    #[arg(long, conflicts_with = "quiet")]
    summary: bool,
    #[command(flatten)]
    protect: crate::protect::ProtectArgs,
    #[command(flatten)]
    events: crate::events::EventArgs,
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
enum OutputHashArg {
    Sha256,
    Blake3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum NetworkArg {
    None,
    Host,
    Proxy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BackendArg {
    Process,
    Namespace,
    Kata,
    Firecracker,
}

impl BackendArg {
    fn kind(self) -> BackendKind {
        match self {
            Self::Process => BackendKind::Process,
            Self::Namespace => BackendKind::Namespace,
            Self::Kata => BackendKind::Kata,
            Self::Firecracker => BackendKind::Firecracker,
        }
    }
}

/// The sandbox options as the namespace backend takes them.
fn sandbox_config(args: &RunArgs) -> Result<NamespaceConfig> {
    if args.network.is_some() && args.backend != BackendArg::Namespace {
        return Err(Exit::new(
            exit::USAGE,
            "--network needs --backend namespace (the process backend always has the host's network)",
        )
        .into());
    }
    let mut sandbox = NamespaceConfig::default();
    sandbox.network = match args.network {
        None | Some(NetworkArg::None) => NetworkMode::None,
        Some(NetworkArg::Host) => NetworkMode::Host,
        Some(NetworkArg::Proxy) => NetworkMode::Proxy,
    };
    if args.proxy_allow_private && sandbox.network != NetworkMode::Proxy {
        return Err(Exit::new(exit::USAGE, "--proxy-allow-private needs --network proxy").into());
    }
    sandbox.allow_hosts = args.allow_host.clone();
    sandbox.allow_internal = args.proxy_allow_private;
    sandbox.proxy_max_connections = args.proxy_max_connections;
    sandbox.writable = args.rw.clone();
    sandbox.read_only = args.ro.clone();
    sandbox.hidden = args.hide.clone();
    Ok(sandbox)
}

/// Runs the command; returns glasshouse's exit code.
pub fn run(args: RunArgs) -> Result<i32> {
    if args.enforce && args.policy.is_none() {
        return Err(Exit::new(
            exit::USAGE,
            "--enforce needs --policy FILE (and --profile host): it applies that policy's rules in the sandbox",
        )
        .into());
    }
    let sandbox = sandbox_config(&args)?;
    let kill_after = seconds("--kill-after", args.kill_after)?;
    let Some(profile) = args.profile else {
        if args.receipt.is_some() {
            say!("glasshouse: warning: --receipt has no effect without --profile: no receipt is written");
        }
        let plain = glasshouse_run::run_plain(
            args.backend.kind(),
            &sandbox,
            &args.command,
            kill_after,
            args.user.as_deref(),
        )
        .map_err(exit_of)?;
        if let Some(e) = &plain.spawn_error {
            say!("glasshouse: {e}");
        }
        return Ok(plain.status);
    };
    let linger = seconds("--linger", args.linger)?;
    let mut plan = RunPlan::new(args.command);
    plan.profile = match profile {
        ProfileArg::Host => Profile::Host,
        ProfileArg::Guest => Profile::Guest,
        ProfileArg::Combined => Profile::Combined,
    };
    plan.backend = args.backend.kind();
    if let Some(path) = args.receipt {
        plan.receipt_path = path;
    }
    plan.linger = linger;
    plan.kill_after = kill_after;
    plan.policy = args.policy;
    plan.enforce = args.enforce;
    plan.sandbox = sandbox;
    plan.user = args.user;
    plan.output_hash = match args.output_hash {
        OutputHashArg::Sha256 => OutputHash::Sha256,
        OutputHashArg::Blake3 => OutputHash::Blake3,
    };

    // The command's home (the invoking user's under sudo) is the one `--redact-home` hides.
    let user = glasshouse_run::user::resolve(plan.user.as_deref()).map_err(exit_of)?;
    let mut protection =
        crate::protect::Protection::new(&args.protect, &plan.command, user.home(), &user)
            .map_err(|e| Exit::new(exit::USAGE, e))?;
    let events = crate::events::EventStream::open(
        &args.events,
        &plan.command,
        plan.backend.name(),
        protection.redactor(),
    )
    .map_err(|e| Exit::new(exit::USAGE, e))?;
    if let Some(events) = &events {
        protection.hooks.observers.push(events.observer());
    }
    let result = glasshouse_run::run(&plan, &mut protection.hooks);
    if let Some(warning) = events.as_ref().and_then(|e| e.finish(result.as_ref())) {
        say!("glasshouse: warning: {warning}");
    }
    let report = result.map_err(exit_of)?;
    if let Some(e) = &report.spawn_error {
        say!("glasshouse: {}", protection.line(e));
    }
    if args.summary {
        let style = crate::show::stderr_style();
        let options = glasshouse_view::ShowOptions { all: false, style };
        say!(
            "{}",
            glasshouse_view::render_show(&report.receipt, &options).trim_end()
        );
    } else if !args.quiet {
        say!(
            "{}",
            crate::summary::summary(&report.receipt, &report.receipt_path)
        );
    }
    if let Some(reason) = &report.fallback_reason {
        say!(
            "glasshouse: error: {reason}; the receipt was written to {} instead; the command exited with {}",
            report.receipt_path.display(),
            report.command_status()
        );
        return Ok(exit::RECEIPT_IN_FALLBACK);
    }
    if report.policy_violated && args.enforce_exit {
        return Ok(exit::POLICY_VIOLATION);
    }
    Ok(report.command_status())
}

/// Longest wait an option takes (one day), so that every duration fits the clock's arithmetic.
const MAX_SECONDS: f64 = 86_400.0;

/// A number of seconds given to `option`, checked to lie in 0..=[`MAX_SECONDS`].
fn seconds(option: &str, value: f64) -> Result<Duration> {
    if (0.0..=MAX_SECONDS).contains(&value) {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Exit::new(
            exit::USAGE,
            format!("{option} {value} is not a number of seconds from 0 to {MAX_SECONDS}"),
        )
        .into())
    }
}

/// The exit code and message for a pipeline error.
fn exit_of(e: RunError) -> anyhow::Error {
    let code = match &e {
        RunError::SensorUnavailable(_) => exit::SENSOR_UNAVAILABLE,
        RunError::ReceiptNotWritten { .. } => exit::RECEIPT_WRITE_FAILED,
        _ => exit::USAGE,
    };
    Exit::new(code, e.to_string()).into()
}

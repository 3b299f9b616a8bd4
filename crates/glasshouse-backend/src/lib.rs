//! Execution backends: how glasshouse starts, waits for and stops the command it records.
//!
//! The contract is [`ExecutionBackend`]. The `process` backend runs the command as a plain child
//! (isolation `none`); `kata` and `firecracker` are named so that users get a clear answer, and
//! answer [`BackendError::NotAvailable`] in this build. Backends never decide what is recorded:
//! the sensor observes whatever a backend starts.

mod control;
mod credentials;
mod namespace;
mod process;
mod session;

pub use control::ChildControl;
pub use credentials::{Credentials, Login};
pub use glasshouse_proxy::AddressPolicy;
pub use namespace::{
    landlock_abi, AccessLimit, NamespaceBackend, NamespaceConfig, NetworkMode, SandboxError,
    LANDLOCK_MIN_ABI, MAX_PROXY_CONNECTIONS,
};
pub use process::ProcessBackend;
pub use session::{Session, Terminal};

use std::ffi::OsString;
use std::process::{ChildStderr, ChildStdout};

/// Errors of an execution backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The backend exists in glasshouse's design but not in this build or on this machine.
    #[error("backend {backend:?} is not available in this build: {reason}")]
    NotAvailable {
        /// The backend's name.
        backend: &'static str,
        /// Why, and what to use instead.
        reason: &'static str,
    },
    /// The command was not found (exit code 127 by convention).
    #[error("command not found: {program}")]
    CommandNotFound {
        /// The program as given.
        program: String,
    },
    /// The command exists but cannot be executed (exit code 126 by convention).
    #[error("command cannot be executed: {program}: {source}")]
    NotExecutable {
        /// The program as given.
        program: String,
        /// The kernel's answer.
        source: std::io::Error,
    },
    /// Starting the command failed for another reason (resources, a failed pre-exec hook).
    #[error("cannot start {program}: {source}")]
    SpawnFailed {
        /// The program as given.
        program: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The sandbox could not be set up (bad options, missing privileges, a failed step).
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// Waiting for or signalling the command failed.
    #[error("cannot {action} process {pid}: {source}")]
    Control {
        /// What was attempted.
        action: &'static str,
        /// The process.
        pid: u32,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A hook run in the child after fork and before exec. It must be async-signal-safe: no
/// allocation, no locks; raw system calls only.
pub type BeforeExecHook = Box<dyn FnMut() -> std::io::Result<()> + Send + Sync>;

/// Registers the command with whatever records it (the sensor), so that it is followed from
/// its first instruction.
pub trait Tracker: Send + Sync {
    /// Called by glasshouse, before the command may exec, with its pid in glasshouse's pid
    /// namespace and a pidfd naming it. Backends that can hold their child between fork and
    /// exec (the namespace backend: a sync socket) use this.
    fn track(&self, pid: u32, pidfd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<()>;

    /// The same registration as a hook the child runs on itself between fork and exec, for
    /// backends that cannot hold their child from the parent (std's spawn waits for exec).
    /// Only correct when the child shares glasshouse's pid namespace.
    fn self_tracking_hook(&self) -> BeforeExecHook;
}

/// What to run and how to connect it.
pub struct CommandSpec {
    /// The program (looked up in `PATH` when it has no slash).
    pub program: OsString,
    /// Its arguments, without the program name.
    pub args: Vec<OsString>,
    /// Pipe stdout and stderr to glasshouse (for hashing) instead of inheriting them.
    pub capture_output: bool,
    /// Hooks run in the child just before exec, in order, after the switch to `user`.
    pub before_exec: Vec<BeforeExecHook>,
    /// The user the command runs as (`HOME`, `USER` and `LOGNAME` follow); `None` keeps
    /// glasshouse's own. The child switches between fork and exec, after the sensor's
    /// registration, and checks the result: a command never starts with other credentials.
    pub user: Option<Credentials>,
    /// Registers the command with the sensor before it execs (see [`Tracker`]).
    pub tracker: Option<Box<dyn Tracker>>,
    /// Its process group, session and terminal (backends that cannot honour a terminal say so
    /// with [`ExecutionBackend::supports_terminal`]; the namespace backend always gives the
    /// command a session of its own).
    pub session: Session,
}

/// What a backend applied, for the receipt (`execution.isolation`, `environment.sandbox`,
/// `network.proxied`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Isolation {
    /// The mechanisms applied, comma-separated (`mount,pid,uts,ipc,net,ro-root,landlock,seccomp`), or
    /// `none`.
    pub isolation: String,
    /// `enabled` (the host's network, no sandbox), `none`, `host` or `proxy`.
    pub network: String,
    /// Writable paths inside (working directory, private `/tmp`, `--rw`); empty without a
    /// sandbox, where everything the user may write is writable.
    pub writable: Vec<std::path::PathBuf>,
    /// Paths made read-only with `--ro`.
    pub read_only: Vec<std::path::PathBuf>,
    /// Paths hidden with `--hide`.
    pub hidden: Vec<std::path::PathBuf>,
    /// Every request through the sandbox's proxy.
    pub proxied: Vec<glasshouse_proxy::ProxiedRequest>,
    /// The tree's resources, when the backend's own process in between (a sandbox's init)
    /// would otherwise be counted among glasshouse's children.
    pub resources: Option<TreeResources>,
}

/// Resource usage of a command's tree, as the process that reaped it measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeResources {
    /// User CPU time.
    pub user_time_ms: u64,
    /// System CPU time.
    pub system_time_ms: u64,
    /// Largest resident set size of any process of the tree, in KiB.
    pub max_rss_kb: u64,
}

impl Isolation {
    /// No sandbox: a plain child with the host's network.
    pub fn none() -> Self {
        Self {
            isolation: "none".to_owned(),
            network: "enabled".to_owned(),
            ..Self::default()
        }
    }
}

/// A started command.
#[derive(Debug)]
#[non_exhaustive]
pub struct SpawnedChild {
    /// The child's process id.
    pub pid: u32,
    /// Its stdout, when captured.
    pub stdout: Option<ChildStdout>,
    /// Its stderr, when captured.
    pub stderr: Option<ChildStderr>,
    /// A handle that signals the child from any thread (for forwarding signals while another
    /// thread waits).
    pub control: ChildControl,
}

/// How a process ended (POSIX knows exactly these two ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// It exited with this status.
    Exited(i32),
    /// A signal ended it.
    Signaled(i32),
}

impl Termination {
    /// The shell convention: the status, or 128+N for signal N.
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Exited(code) => code,
            Self::Signaled(sig) => 128 + sig,
        }
    }
}

/// What a backend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendInfo {
    /// `process`, `kata`, `firecracker`.
    pub name: &'static str,
    /// The isolation it applies (`none` for `process`).
    pub isolation: &'static str,
    /// Whether a sensor can run inside its guest (`--profile guest|combined`).
    pub has_guest_sensor: bool,
}

/// The contract every execution backend keeps.
pub trait ExecutionBackend {
    /// Names the backend and what it supports. Never fails.
    fn identify(&self) -> BackendInfo;

    /// Starts the command. On success the command's first instruction has not run before every
    /// `before_exec` hook succeeded, stdin is inherited, and stdout/stderr are piped when asked.
    /// A program that is missing or not executable is reported as such, never as a generic error.
    fn spawn(&mut self, spec: CommandSpec) -> Result<SpawnedChild, BackendError>;

    /// Blocks until the command (the root process only) ends, and reports how. Descendants are
    /// not waited for.
    fn wait(&mut self) -> Result<Termination, BackendError>;

    /// Sends a signal to the command. Safe against pid reuse: after the command has been waited
    /// for, this does nothing.
    fn kill(&self, signal: i32) -> Result<(), BackendError>;

    /// Whether the backend honours [`Session::Terminal`] (otherwise the caller keeps pipes).
    fn supports_terminal(&self) -> bool {
        false
    }

    /// What the backend applied, once the run is over (stops a proxy, so call it after the
    /// command's tree has ended).
    fn isolation(&mut self) -> Isolation {
        Isolation::none()
    }
}

/// The backends glasshouse knows of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendKind {
    /// A plain child process, no isolation.
    Process,
    /// Linux namespaces, a read-only root, Landlock, and no network or only a proxy.
    Namespace,
    /// Kata Containers (a VM per command).
    Kata,
    /// Firecracker microVM.
    Firecracker,
}

impl BackendKind {
    /// Every backend, for help texts.
    pub const ALL: [BackendKind; 4] = [
        Self::Process,
        Self::Namespace,
        Self::Kata,
        Self::Firecracker,
    ];

    /// The backend's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Process => "process",
            Self::Namespace => "namespace",
            Self::Kata => "kata",
            Self::Firecracker => "firecracker",
        }
    }

    /// Opens the backend (a sandbox with its defaults), or says why it is not available.
    pub fn open(self) -> Result<Box<dyn ExecutionBackend + Send>, BackendError> {
        self.open_with(&NamespaceConfig::default())
    }

    /// Opens the backend; `sandbox` configures the namespace backend (the others refuse any
    /// setting but the default, so an option is never silently ignored).
    pub fn open_with(
        self,
        sandbox: &NamespaceConfig,
    ) -> Result<Box<dyn ExecutionBackend + Send>, BackendError> {
        if self != Self::Namespace && !sandbox.is_default() {
            return Err(BackendError::Sandbox(SandboxError::Invalid {
                what: format!(
                    "--network, --allow-host, --rw, --ro and --hide need --backend namespace (the backend is {})",
                    self.name()
                ),
            }));
        }
        match self {
            Self::Process => Ok(Box::new(ProcessBackend::new())),
            Self::Namespace => Ok(Box::new(NamespaceBackend::new(sandbox)?)),
            Self::Kata => Err(BackendError::NotAvailable {
                backend: "kata",
                reason: "this build has no Kata runtime integration; use --backend process",
            }),
            Self::Firecracker => Err(BackendError::NotAvailable {
                backend: "firecracker",
                reason: "this build has no Firecracker integration; use --backend process",
            }),
        }
    }
}

/// Backends whose guest can run a sensor (for `--profile guest|combined`). None in this build.
pub fn backends_with_guest_sensor() -> Vec<&'static str> {
    BackendKind::ALL
        .iter()
        .filter_map(|k| k.open().ok())
        .filter(|b| b.identify().has_guest_sensor)
        .map(|b| b.identify().name)
        .collect()
}

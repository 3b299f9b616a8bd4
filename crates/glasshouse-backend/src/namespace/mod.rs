//! The `namespace` backend: the command runs in new mount, pid, uts, ipc and (unless
//! `--network host`) network namespaces, with the host's root read-only, the working
//! directory, a private `/tmp` and `--rw` paths writable, `--hide` paths empty, glasshouse's
//! BPF file systems, `/run/glasshouse` and its own executable invisible, Landlock limiting
//! writes where the kernel has it, and the network either absent (a loopback of its own), the
//! host's, or only glasshouse's allowlisting proxy.
//!
//! Order of a spawn: glasshouse prepares every string and the mount plan, clones the sandbox's
//! init into the new namespaces (see `child`), which builds the file system and forks the
//! command; the init passes the command's pidfd back; glasshouse reads the command's pid in its
//! own pid namespace from it, registers it with the sensor ([`crate::Tracker`]), creates the
//! proxy forwarder inside the network namespace, and only then lets the command exec.

mod child;
mod landlock;
mod mounts;
mod net;
mod seccomp;
mod spawn;

use crate::{
    BackendError, BackendInfo, ChildControl, CommandSpec, ExecutionBackend, Isolation,
    SpawnedChild, Termination,
};
use glasshouse_proxy::{Allowlist, Forwarder, Proxy, ProxyConfig, DEFAULT_MAX_CONNECTIONS};

/// The most `--proxy-max-connections` takes.
pub const MAX_PROXY_CONNECTIONS: usize = 4096;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// What the sandbox's network is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NetworkMode {
    /// A network namespace with only its own loopback.
    #[default]
    None,
    /// The host's network.
    Host,
    /// A network namespace whose only way out is glasshouse's allowlisting proxy.
    Proxy,
}

impl NetworkMode {
    /// The name the receipt and the CLI use.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Host => "host",
            Self::Proxy => "proxy",
        }
    }
}

/// How the sandbox is set up.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NamespaceConfig {
    /// The network.
    pub network: NetworkMode,
    /// Host patterns the proxy lets through (`--network proxy` only).
    pub allow_hosts: Vec<String>,
    /// Let the proxy reach loopback, link-local and private addresses.
    pub allow_internal: bool,
    /// The most connections the proxy serves at once (`None`: [`DEFAULT_MAX_CONNECTIONS`]);
    /// from 1 to [`MAX_PROXY_CONNECTIONS`].
    pub proxy_max_connections: Option<usize>,
    /// More writable paths (besides the working directory and the private `/tmp`).
    pub writable: Vec<PathBuf>,
    /// Paths made read-only (inside a writable one, say).
    pub read_only: Vec<PathBuf>,
    /// Paths replaced by an empty directory or file.
    pub hidden: Vec<PathBuf>,
    /// With `--enforce`: reads allowed only beneath these paths (a Landlock allow-list);
    /// `None`: reads are not limited.
    pub limit_reads: Option<AccessLimit>,
    /// With `--enforce`: writes allowed only beneath these paths, on top of the writable set
    /// (Landlock grants the paths both allow); `None`: the writable set alone.
    pub limit_writes: Option<AccessLimit>,
    /// With `--enforce`: the proxy also judges every destination address by this.
    pub address_policy: Option<glasshouse_proxy::AddressPolicy>,
}

/// An allow-list of directory trees and files for one kind of access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessLimit {
    /// Existing, absolute, symlink-free paths; access is allowed beneath each.
    pub beneath: Vec<PathBuf>,
    /// Also allowed in the private `/tmp` (which exists only inside the sandbox).
    pub private_tmp: bool,
}

impl AccessLimit {
    /// Access beneath `beneath` (and in the private `/tmp` when `private_tmp`).
    pub fn new(beneath: Vec<PathBuf>, private_tmp: bool) -> Self {
        Self {
            beneath,
            private_tmp,
        }
    }
}

/// Errors of the namespace backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The options do not make a sandbox (bad path, contradicting options).
    #[error("{what}")]
    Invalid {
        /// What is wrong and how to fix it.
        what: String,
    },
    /// Creating namespaces needs privileges this process lacks.
    #[error("the namespace backend needs root (CAP_SYS_ADMIN) in this build; run glasshouse with sudo, or use --backend process")]
    NeedsRoot,
    /// A step of building the sandbox failed.
    #[error("cannot set up the sandbox: {step}: {source}")]
    Setup {
        /// The step.
        step: String,
        /// The kernel's answer.
        source: std::io::Error,
    },
    /// The proxy could not start.
    #[error(transparent)]
    Proxy(#[from] glasshouse_proxy::ProxyError),
}

fn invalid(what: String) -> SandboxError {
    SandboxError::Invalid { what }
}

/// An absolute, symlink-free form of a `--rw/--ro/--hide` path that must exist.
fn existing(flag: &str, p: &Path) -> Result<PathBuf, SandboxError> {
    std::fs::canonicalize(p).map_err(|e| {
        invalid(format!(
            "{flag} {}: {e}; give a path that exists",
            p.display()
        ))
    })
}

impl NamespaceConfig {
    /// Whether nothing was set (what a backend without sandbox accepts).
    pub fn is_default(&self) -> bool {
        self.network == NetworkMode::None
            && self.allow_hosts.is_empty()
            && !self.allow_internal
            && self.proxy_max_connections.is_none()
            && self.writable.is_empty()
            && self.read_only.is_empty()
            && self.hidden.is_empty()
            && self.limit_reads.is_none()
            && self.limit_writes.is_none()
            && self.address_policy.is_none()
    }

    /// Checks the options and resolves their paths, before anything runs.
    pub fn validate(&self) -> Result<ResolvedConfig, SandboxError> {
        if self.network != NetworkMode::Proxy && !self.allow_hosts.is_empty() {
            return Err(invalid(format!(
                "--allow-host needs --network proxy (the network is {}); add --network proxy",
                self.network.name()
            )));
        }
        if let Some(n) = self.proxy_max_connections {
            if self.network != NetworkMode::Proxy {
                return Err(invalid(format!(
                    "--proxy-max-connections needs --network proxy (the network is {}); add --network proxy",
                    self.network.name()
                )));
            }
            if !(1..=MAX_PROXY_CONNECTIONS).contains(&n) {
                return Err(invalid(format!(
                    "--proxy-max-connections {n} is out of range: give 1 to {MAX_PROXY_CONNECTIONS} (each connection is served on a thread of its own)"
                )));
            }
        }
        let allow = Allowlist::parse(&self.allow_hosts)?;
        let resolve = |flag: &str, list: &[PathBuf]| -> Result<Vec<PathBuf>, SandboxError> {
            list.iter().map(|p| existing(flag, p)).collect()
        };
        let writable = resolve("--rw", &self.writable)?;
        let read_only = resolve("--ro", &self.read_only)?;
        let hidden = resolve("--hide", &self.hidden)?;
        if hidden.iter().any(|h| h == Path::new("/")) {
            return Err(invalid(
                "--hide / would hide everything; hide the directories you mean".into(),
            ));
        }
        for (flag, list) in [("--rw", &writable), ("--ro", &read_only)] {
            for p in list.iter() {
                if let Some(h) = hidden.iter().find(|h| p.starts_with(h)) {
                    return Err(invalid(format!(
                        "{flag} {} is inside --hide {}: a hidden path shows nothing below it; drop one of the two",
                        p.display(),
                        h.display()
                    )));
                }
            }
        }
        for p in &writable {
            if let Some(r) = read_only.iter().find(|r| *r == p) {
                return Err(invalid(format!(
                    "{} is given both as --rw and as --ro; keep one",
                    r.display()
                )));
            }
        }
        if (self.limit_reads.is_some() || self.limit_writes.is_some())
            && landlock::kernel_abi() < LANDLOCK_MIN_ABI
        {
            return Err(invalid(format!(
                "a Landlock allow-list needs Landlock ABI {LANDLOCK_MIN_ABI} (Linux 6.2) and this kernel has ABI {}",
                landlock::kernel_abi()
            )));
        }
        if self.address_policy.is_some() && self.network != NetworkMode::Proxy {
            return Err(invalid(format!(
                "a policy's connect rules are enforced through the proxy, and the network is {}; add --network proxy",
                self.network.name()
            )));
        }
        Ok(ResolvedConfig {
            network: self.network,
            allow,
            allow_internal: self.allow_internal,
            max_connections: self
                .proxy_max_connections
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            writable,
            read_only,
            hidden,
            limit_reads: self.limit_reads.clone(),
            limit_writes: self.limit_writes.clone(),
            address_policy: self.address_policy.clone(),
        })
    }
}

/// A checked configuration with absolute paths.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    network: NetworkMode,
    allow: Allowlist,
    allow_internal: bool,
    max_connections: usize,
    writable: Vec<PathBuf>,
    read_only: Vec<PathBuf>,
    hidden: Vec<PathBuf>,
    limit_reads: Option<AccessLimit>,
    limit_writes: Option<AccessLimit>,
    address_policy: Option<glasshouse_proxy::AddressPolicy>,
}

/// The kernel's Landlock ABI version (0 without Landlock); the namespace backend applies
/// Landlock from [`LANDLOCK_MIN_ABI`] on.
pub fn landlock_abi() -> i32 {
    landlock::kernel_abi()
}

/// The Landlock ABI the namespace backend needs to apply Landlock at all (Linux 6.2).
pub const LANDLOCK_MIN_ABI: i32 = 3;

/// Runs the command in a sandbox of namespaces.
pub struct NamespaceBackend {
    config: ResolvedConfig,
    /// The sandbox's init (pid in glasshouse's namespace, pidfd).
    init: Option<(u32, OwnedFd)>,
    /// glasshouse's end of the control socket.
    ctl: Option<OwnedFd>,
    control: Option<ChildControl>,
    proxy: Option<Proxy>,
    forwarder: Option<Forwarder>,
    socket_dir: Option<tempfile::TempDir>,
    applied: Vec<&'static str>,
    writable_inside: Vec<PathBuf>,
}

impl std::fmt::Debug for NamespaceBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamespaceBackend")
            .field("config", &self.config)
            .field("init", &self.init.as_ref().map(|i| i.0))
            .finish_non_exhaustive()
    }
}

impl NamespaceBackend {
    /// A backend with this configuration (checked here).
    pub fn new(config: &NamespaceConfig) -> Result<Self, SandboxError> {
        Ok(Self {
            config: config.validate()?,
            init: None,
            ctl: None,
            control: None,
            proxy: None,
            forwarder: None,
            socket_dir: None,
            applied: Vec::new(),
            writable_inside: Vec::new(),
        })
    }

    fn start_proxy(&mut self) -> Result<PathBuf, SandboxError> {
        let dir = tempfile::Builder::new()
            .prefix("glasshouse-proxy-")
            .tempdir()
            .map_err(|source| SandboxError::Setup {
                step: "create the proxy's socket directory".into(),
                source,
            })?;
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).map_err(
                |source| SandboxError::Setup {
                    step: "open the proxy's socket directory to the sandbox".into(),
                    source,
                },
            )?;
        }
        let mut proxy_config = ProxyConfig::new(self.config.allow.clone());
        proxy_config.allow_internal = self.config.allow_internal;
        proxy_config.max_connections = self.config.max_connections;
        proxy_config.address_policy = self.config.address_policy.clone();
        let proxy = Proxy::start(&dir.path().join("proxy.sock"), proxy_config)?;
        let path = dir.path().to_owned();
        self.proxy = Some(proxy);
        self.socket_dir = Some(dir);
        Ok(path)
    }
}

impl ExecutionBackend for NamespaceBackend {
    fn identify(&self) -> BackendInfo {
        BackendInfo {
            name: "namespace",
            isolation: "namespaces",
            has_guest_sensor: false,
        }
    }

    fn spawn(&mut self, spec: CommandSpec) -> Result<SpawnedChild, BackendError> {
        spawn::spawn(self, spec)
    }

    fn wait(&mut self) -> Result<Termination, BackendError> {
        let pid = self.control.as_ref().map_or(0, ChildControl::pid);
        let ctl = self.ctl.as_ref().ok_or(BackendError::Control {
            action: "wait for",
            pid,
            source: std::io::Error::other("no command was started"),
        })?;
        spawn::read_status(ctl).map_err(|source| BackendError::Control {
            action: "wait for",
            pid,
            source,
        })
    }

    fn kill(&self, signal: i32) -> Result<(), BackendError> {
        self.control.as_ref().map_or(Ok(()), |c| c.signal(signal))
    }

    fn isolation(&mut self) -> Isolation {
        if let Some(f) = self.forwarder.take() {
            f.stop();
        }
        // The tree has ended, so the init is ending too: reap it now, so that the resources
        // of everything it reaped count among glasshouse's children for the receipt.
        let mut resources = None;
        if let Some((pid, pidfd)) = self.init.take() {
            reap_init(pid, &pidfd);
            resources = self.ctl.as_ref().and_then(spawn::read_resources);
        }
        let mut isolation = Isolation::none();
        isolation.isolation = self.applied.join(",");
        isolation.network = self.config.network.name().to_owned();
        isolation.writable = self.writable_inside.clone();
        isolation.read_only = self.config.read_only.clone();
        isolation.hidden = self.config.hidden.clone();
        isolation.proxied = self.proxy.take().map(Proxy::finish).unwrap_or_default();
        isolation.resources = resources;
        isolation
    }
}

/// Waits up to a second for the sandbox's init to exit on its own, ends it otherwise (the
/// kernel then ends whatever is left in its pid namespace), and reaps it.
fn reap_init(pid: u32, pidfd: &OwnedFd) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    use std::os::fd::AsFd as _;
    let fd = pidfd.as_fd();
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let second = Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    if !matches!(poll(&mut fds, Some(&second)), Ok(n) if n > 0) {
        let _ = rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL);
    }
    let _ = rustix::process::waitpid(
        rustix::process::Pid::from_raw(pid as i32),
        rustix::process::WaitOptions::empty(),
    );
}

impl Drop for NamespaceBackend {
    fn drop(&mut self) {
        if let Some(f) = self.forwarder.take() {
            f.stop();
        }
        // The sandbox ends with its init; the kernel ends whatever is left inside.
        if let Some((pid, pidfd)) = self.init.take() {
            let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
            reap_init(pid, &pidfd);
        }
    }
}

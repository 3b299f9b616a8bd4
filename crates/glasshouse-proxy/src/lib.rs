//! glasshouse's allowlisting proxy: the only way out of a `--network proxy` sandbox.
//!
//! It listens on a unix socket (bound into the sandbox) and speaks HTTP (CONNECT tunnels and
//! plain requests with absolute URLs) and SOCKS5 (CONNECT, with names or addresses) on the same
//! socket, told apart by the first byte. A request is allowed when a [`HostPattern`] matches
//! its host and port; the proxy then resolves the name itself, so the sandbox needs no DNS, and
//! refuses destinations that resolve only to loopback, link-local or private addresses unless
//! [`ProxyConfig::allow_internal`] is set. Every request, allowed or not, becomes a
//! [`ProxiedRequest`] with the decision, its rule or reason, and the bytes carried each way.
//! An [`AddressPolicy`] (a policy's connect rules, with `run --enforce`) also judges every
//! address a name resolves to. At most [`ProxyConfig::max_connections`] connections are
//! served at once; one more is answered with a refusal and recorded.

mod allow;
mod forward;
mod http;
mod relay;
mod resolve;
mod socks;

pub use allow::{Allowlist, HostPattern};
pub use forward::Forwarder;
pub use glasshouse_receipt::ProxiedRequest;
pub use relay::Counters;

use relay::Duplex;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Errors of the proxy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// An allowlist pattern is not valid.
    #[error("--allow-host {pattern:?} is not a valid host pattern: {reason}; write a name (example.com), a wildcard (*.example.com), optionally with :PORT")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The unix socket could not be created.
    #[error("cannot listen on the proxy socket {path}: {source}")]
    Listen {
        /// The socket's path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A judge of destination addresses: `Ok(rule)` lets the address through, naming the rule
/// that allowed it; `Err((rule, reason))` refuses it.
pub type AddressJudge = dyn Fn(SocketAddr) -> Result<String, (String, String)> + Send + Sync;

/// Judges every address a request would connect to (a policy's connect rules).
#[derive(Clone)]
pub struct AddressPolicy {
    judge: Arc<AddressJudge>,
}

impl AddressPolicy {
    /// A policy of `judge`.
    pub fn new(judge: Arc<AddressJudge>) -> Self {
        Self { judge }
    }
}

impl std::fmt::Debug for AddressPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AddressPolicy")
    }
}

/// How many connections the proxy serves at once by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;

/// What the proxy allows.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Hosts that may be reached. Empty with an [`AddressPolicy`]: every name, the addresses
    /// being judged by the policy.
    pub allow: Allowlist,
    /// Also reach loopback, link-local and private addresses (for test servers on this machine).
    pub allow_internal: bool,
    /// How long one connect to a destination may take.
    pub connect_timeout: Duration,
    /// Judges each resolved address too (with `run --enforce`).
    pub address_policy: Option<AddressPolicy>,
    /// Connections served at once; one more is refused (and recorded).
    pub max_connections: usize,
}

impl ProxyConfig {
    /// Allows exactly `allow`, public addresses only, 10 s connect timeout, at most
    /// [`DEFAULT_MAX_CONNECTIONS`] connections at once.
    pub fn new(allow: Allowlist) -> Self {
        Self {
            allow,
            allow_internal: false,
            connect_timeout: Duration::from_secs(10),
            address_policy: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// One recorded request and its live byte counts.
struct Entry {
    record: Mutex<ProxiedRequest>,
    counters: Arc<Counters>,
}

/// State shared by the accept loop and the connection threads.
struct Shared {
    config: ProxyConfig,
    stop: AtomicBool,
    entries: Mutex<Vec<Arc<Entry>>>,
    /// Every socket of a connection still running, so that finishing can close them.
    open: Mutex<Vec<OpenSocket>>,
    connections: Mutex<Vec<JoinHandle<()>>>,
    /// Connections being served now.
    active: AtomicUsize,
}

enum OpenSocket {
    Unix(UnixStream),
    Tcp(TcpStream),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Why a request does not get through.
pub(crate) enum Refusal {
    /// The allowlist or the address ranges refuse it.
    Denied(String),
    /// Allowed, but no connection came about.
    Failed(std::io::Error),
}

impl Shared {
    fn record(&self, protocol: &str, host: &str, port: u16) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            record: Mutex::new(ProxiedRequest::new(protocol, host, port)),
            counters: Arc::default(),
        });
        lock(&self.entries).push(Arc::clone(&entry));
        entry
    }

    /// Decides on `host:port`, records the decision, and connects when allowed.
    fn open(
        &self,
        protocol: &str,
        host: &str,
        port: u16,
    ) -> (Arc<Entry>, Result<TcpStream, Refusal>) {
        let entry = self.record(protocol, host, port);
        let result = self.decide_and_connect(&entry, host, port);
        (entry, result)
    }

    fn decide_and_connect(
        &self,
        entry: &Entry,
        host: &str,
        port: u16,
    ) -> Result<TcpStream, Refusal> {
        let mut record = lock(&entry.record);
        let by_policy = self.config.allow.is_empty() && self.config.address_policy.is_some();
        let rule = if by_policy {
            None
        } else if let Some(rule) = self.config.allow.find(host, port) {
            Some(rule.as_str().to_owned())
        } else {
            record.decision = "denied".to_owned();
            let reason = format!("no allowed host pattern matches {host}:{port}");
            record.reason = Some(reason.clone());
            return Err(Refusal::Denied(reason));
        };
        let matches = rule
            .as_deref()
            .map_or_else(String::new, |r| format!("matches {r}, but "));
        let mut addresses = match resolve::destinations(host, port, self.config.allow_internal) {
            Ok(a) => a,
            Err(reason) => {
                record.decision = "denied".to_owned();
                record.reason = Some(format!("{matches}{reason}"));
                return Err(Refusal::Denied(reason));
            }
        };
        let mut policy_rule = None;
        if let Some(policy) = &self.config.address_policy {
            let mut refusal = None;
            addresses.retain(|a| match (policy.judge)(*a) {
                Ok(allowed_by) => {
                    policy_rule.get_or_insert(allowed_by);
                    true
                }
                Err(denied) => {
                    refusal.get_or_insert((*a, denied));
                    false
                }
            });
            if addresses.is_empty() {
                let (address, (denied_by, why)) =
                    refusal.unwrap_or((SocketAddr::from(([0, 0, 0, 0], port)), Default::default()));
                let reason = format!("{matches}policy rule {denied_by} denies {address}: {why}");
                record.decision = "denied".to_owned();
                record.rule = Some(format!("policy:{denied_by}"));
                record.address = Some(address.to_string());
                record.reason = Some(reason.clone());
                return Err(Refusal::Denied(reason));
            }
        }
        let rule = match (rule, policy_rule) {
            (Some(r), Some(p)) => format!("{r} policy:{p}"),
            (Some(r), None) => r,
            (None, Some(p)) => format!("policy:{p}"),
            (None, None) => String::new(),
        };
        record.decision = "allowed".to_owned();
        record.rule = Some(rule);
        drop(record);
        let mut last = std::io::Error::other("no address");
        for address in addresses {
            match TcpStream::connect_timeout(&address, self.config.connect_timeout) {
                Ok(stream) => {
                    lock(&entry.record).address = Some(address.to_string());
                    return Ok(stream);
                }
                Err(e) => last = e,
            }
        }
        lock(&entry.record).error = Some(format!("cannot connect: {last}"));
        Err(Refusal::Failed(last))
    }

    /// Notes an error of a request that got no further than the request itself.
    fn bad_request(&self, protocol: &str, why: &str) {
        let entry = self.record(protocol, "", 0);
        let mut record = lock(&entry.record);
        record.decision = "denied".to_owned();
        record.reason = Some(why.to_owned());
    }

    /// Relays an established connection, closable by [`Proxy::finish`].
    fn tunnel(&self, entry: &Entry, client: UnixStream, upstream: TcpStream) {
        if let (Ok(c), Ok(u)) = (client.duplicate(), upstream.duplicate()) {
            let mut open = lock(&self.open);
            open.push(OpenSocket::Unix(c));
            open.push(OpenSocket::Tcp(u));
        }
        if self.stop.load(Ordering::SeqCst) {
            return;
        }
        relay::relay(client, upstream, &entry.counters);
    }
}

/// A running proxy.
pub struct Proxy {
    socket: PathBuf,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on `socket` (created, mode 0666 so that the sandboxed user can connect; it lives
    /// in a directory only the sandbox and glasshouse reach) and serves until [`Proxy::finish`].
    pub fn start(socket: &Path, config: ProxyConfig) -> Result<Self, ProxyError> {
        let listen_error = |source| ProxyError::Listen {
            path: socket.to_owned(),
            source,
        };
        let listener = UnixListener::bind(socket).map_err(listen_error)?;
        listener.set_nonblocking(true).map_err(listen_error)?;
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666))
                .map_err(listen_error)?;
        }
        let shared = Arc::new(Shared {
            config,
            stop: AtomicBool::new(false),
            entries: Mutex::default(),
            open: Mutex::default(),
            connections: Mutex::default(),
            active: AtomicUsize::new(0),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("glasshouse-proxy".into())
            .spawn(move || accept_loop(&listener, &accept_shared))
            .map_err(listen_error)?;
        Ok(Self {
            socket: socket.to_owned(),
            shared,
            accept: Some(accept),
        })
    }

    /// The socket the proxy listens on.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// Requests handled so far, with their byte counts now.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        lock(&self.shared.entries)
            .iter()
            .map(|e| {
                let mut r = lock(&e.record).clone();
                r.bytes_sent = e.counters.sent.load(Ordering::Relaxed);
                r.bytes_received = e.counters.received.load(Ordering::Relaxed);
                r
            })
            .collect()
    }

    /// Stops accepting, closes connections still open, and returns every request in the order
    /// they arrived.
    pub fn finish(mut self) -> Vec<ProxiedRequest> {
        self.stop();
        self.requests()
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        for socket in lock(&self.shared.open).drain(..) {
            match socket {
                OpenSocket::Unix(s) => s.shut(Shutdown::Both),
                OpenSocket::Tcp(s) => s.shut(Shutdown::Both),
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        let threads: Vec<_> = lock(&self.shared.connections).drain(..).collect();
        for t in threads {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if self.accept.is_some() {
            self.stop();
        }
    }
}

/// Waits up to 50 ms for `fd` to become readable, so that loops notice a stop request.
pub(crate) fn wait_readable(fd: std::os::fd::BorrowedFd<'_>) {
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    let timeout = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    let _ = rustix::event::poll(&mut fds, Some(&timeout));
}

fn accept_loop(listener: &UnixListener, shared: &Arc<Shared>) {
    use std::os::fd::AsFd as _;
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                if shared.active.load(Ordering::SeqCst) >= shared.config.max_connections {
                    refuse_over_limit(client, shared);
                    continue;
                }
                shared.active.fetch_add(1, Ordering::SeqCst);
                let conn_shared = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name("glasshouse-proxy-conn".into())
                    .spawn(move || {
                        serve(client, &conn_shared);
                        conn_shared.active.fetch_sub(1, Ordering::SeqCst);
                    });
                match spawned {
                    Ok(handle) => {
                        let mut connections = lock(&shared.connections);
                        connections.retain(|t| !t.is_finished());
                        connections.push(handle);
                    }
                    Err(_) => {
                        shared.active.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => wait_readable(listener.as_fd()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // Out of descriptors, say: wait rather than spin.
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A connection past [`ProxyConfig::max_connections`]: recorded as denied and closed. Its
/// request is not read (that would take a thread), so the record names no host; the client is
/// told why in an HTTP 503 answer (which a SOCKS5 client takes for a failed handshake).
fn refuse_over_limit(client: UnixStream, shared: &Shared) {
    use std::io::Write as _;
    let most = shared.config.max_connections;
    let why = format!(
        "the proxy serves at most {most} connection{} at once",
        if most == 1 { "" } else { "s" }
    );
    shared.bad_request("unknown", &why);
    let _ = client.set_write_timeout(Some(Duration::from_millis(100)));
    let body = format!("{why}\n");
    let _ = write!(
        &client,
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    client.shut(Shutdown::Both);
}

/// One client connection: SOCKS5 when its first byte is version 5, else HTTP.
fn serve(mut client: UnixStream, shared: &Shared) {
    use std::io::Read as _;
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut first = [0u8; 1];
    if !matches!(client.read(&mut first), Ok(1)) {
        return;
    }
    let established = if first[0] == socks::VERSION {
        socks::handshake(&mut client, shared)
    } else {
        http::handshake(&mut client, first[0], shared)
    };
    if let Some((entry, upstream)) = established {
        let _ = client.set_read_timeout(None);
        shared.tunnel(&entry, client, upstream);
    }
}

//! Ground-truth tests of the kernel sensor's network, io_uring, denied-operation, syscall-count
//! and volume coverage ("Sensor II").
//!
//! Each test runs one tiny tester program (C sources in `tests/programs_net/`, compiled once per
//! test binary with `cc`) that does one known thing, under `glasshouse run --profile host`, and
//! checks that the receipt holds exactly that: the exact `network.attempts` list, the exact
//! failed operation, the exact byte counts. Servers the testers talk to (a TCP echo or holding
//! server, a unix socket listener) run inside this test process, outside the traced tree, so
//! nothing they do can appear in a receipt.
//!
//! Only loopback addresses (127.0.0.0/8 and ::1) are ever used. A "closed port" is one the test
//! bound and released just before the run.
//!
//! These tests need BPF: when the sensor cannot load they FAIL (glasshouse exits 124), they never
//! skip. Every receipt is validated against the committed JSON Schema and read back with the
//! receipt crate. There are no timing assertions: waits are bounded by generous deadlines that
//! panic. The only processes a test ends are glasshouse runs it started itself, by handle.

use glasshouse_receipt::{OsText, ProcessNode, Receipt};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The glasshouse binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_glasshouse");

/// How long one glasshouse run may take before the test gives up (and fails).
const RUN_DEADLINE: Duration = Duration::from_secs(300);

/// How long a test waits for a connection or a pipe before it fails.
const WAIT_DEADLINE: Duration = Duration::from_secs(60);

/// The tracepoints these tests cannot work without.
const CORE_HOOKS: &[&str] = &[
    "sched_process_fork",
    "sched_process_exec",
    "sched_process_exit",
    "sys_enter",
    "sys_exit",
    "inet_sock_set_state",
    "sock_send_length",
    "sock_recv_length",
    "io_uring_submit_req",
    "io_uring_complete",
];

// ---------------------------------------------------------------------------------------------
// Tester programs
// ---------------------------------------------------------------------------------------------

/// Extra `cc` arguments of the testers that need a library.
const LINK_FLAGS: &[(&str, &[&str])] = &[("uring", &["-luring"])];

/// The path of compiled tester program `name` (`tests/programs_net/<name>.c`).
fn program(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let path = DIR.get_or_init(build_programs).join(name);
    assert!(path.is_file(), "no tester program {}", path.display());
    path
}

/// Compiles every `tests/programs_net/*.c` into cargo's temporary directory for integration
/// tests. Each binary is written under a temporary name and renamed into place, so concurrent
/// runs of this test binary never see a half-written program.
fn build_programs() -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs_net");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("net-programs");
    fs::create_dir_all(&out).unwrap_or_else(|e| panic!("create {}: {e}", out.display()));
    let out = canonical(&out);
    let mut built = 0;
    for entry in fs::read_dir(&src).unwrap_or_else(|e| panic!("read {}: {e}", src.display())) {
        let path = entry.expect("read_dir entry").path();
        if path.extension() != Some(OsStr::new("c")) {
            continue;
        }
        let name = path.file_stem().expect("file stem").to_owned();
        let target = out.join(&name);
        let tmp = out.join(format!(
            "{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let extra = LINK_FLAGS
            .iter()
            .find(|(n, _)| OsStr::new(n) == name)
            .map_or(&[][..], |(_, flags)| flags);
        let result = Command::new("cc")
            .args(["-O1", "-Wall", "-Wextra", "-o"])
            .arg(&tmp)
            .arg(&path)
            .args(extra)
            .output()
            .unwrap_or_else(|e| panic!("cannot run cc (a C compiler is needed): {e}"));
        assert!(
            result.status.success(),
            "cc {} {extra:?} failed (the io_uring tester needs liburing-dev):\n{}",
            path.display(),
            String::from_utf8_lossy(&result.stderr)
        );
        fs::rename(&tmp, &target)
            .unwrap_or_else(|e| panic!("rename {} -> {}: {e}", tmp.display(), target.display()));
        built += 1;
    }
    assert!(built > 0, "no tester programs in {}", src.display());
    out
}

// ---------------------------------------------------------------------------------------------
// Paths, ports and servers
// ---------------------------------------------------------------------------------------------

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|e| panic!("canonicalize {}: {e}", path.display()))
}

fn path_of(text: &OsText) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(text.as_bytes()))
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// A TCP port on `ip` (a loopback address) that nothing listens on: bound, then released.
fn closed_port(ip: &str) -> u16 {
    let addr: SocketAddr = format!("{ip}:0")
        .parse()
        .unwrap_or_else(|e| panic!("{ip}: {e}"));
    let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    let port = listener.local_addr().expect("local_addr").port();
    drop(listener);
    port
}

/// What the TCP server of a test does with each connection it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serve {
    /// Echo everything read until the client shuts down writing, then close.
    Echo,
    /// Read nothing, send nothing and keep the connection open until [`TcpServer::finish`]
    /// (after the glasshouse run), so no state change of the client's socket after the
    /// handshake comes from this side during the run.
    Hold,
}

/// Per connection: the bytes echoed, and the stream when it is held.
type Served = Vec<(u64, Option<TcpStream>)>;

/// A TCP server on 127.0.0.1 in this test process (outside the traced tree). It accepts
/// `connections` connections one after the other and serves each as `serve` says.
/// [`TcpServer::finish`] returns the number of bytes echoed per connection (0 when held).
struct TcpServer {
    port: u16,
    handle: JoinHandle<Result<Served, String>>,
}

impl TcpServer {
    fn start(connections: usize, serve: Serve) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test server");
        let port = listener.local_addr().expect("local_addr").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let handle = std::thread::spawn(move || {
            let mut served = Vec::new();
            let start = Instant::now();
            while served.len() < connections {
                let stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if start.elapsed() > RUN_DEADLINE {
                            return Err(format!(
                                "test server: {} of {connections} connections came",
                                served.len()
                            ));
                        }
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    Err(e) => return Err(format!("test server: accept: {e}")),
                };
                served.push(match serve {
                    Serve::Echo => (echo(stream).map_err(|e| format!("echo: {e}"))?, None),
                    Serve::Hold => (0, Some(stream)),
                });
            }
            Ok(served)
        });
        Self { port, handle }
    }

    /// Waits for the server to have served all its connections, closes the held ones and
    /// returns the bytes echoed per connection.
    fn finish(self) -> Vec<u64> {
        self.handle
            .join()
            .expect("test server thread")
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|(n, _held)| n)
            .collect()
    }
}

fn echo(mut stream: TcpStream) -> std::io::Result<u64> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(WAIT_DEADLINE))?;
    let mut total = 0u64;
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// A temporary directory for one test: glasshouse runs in it and writes its receipt there; the
/// tester works in its `w` subdirectory, which nothing else touches.
struct Sandbox {
    _dir: tempfile::TempDir,
    /// Canonical path of the temporary directory.
    root: PathBuf,
    /// Canonical path of the tester's working directory (`root/w`).
    work: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gh-net-")
            .tempdir()
            .expect("create temp dir");
        let root = canonical(dir.path());
        let work = root.join("w");
        fs::create_dir_all(&work).unwrap_or_else(|e| panic!("mkdir {}: {e}", work.display()));
        Self {
            _dir: dir,
            root,
            work,
        }
    }

    /// `w/<rel>`.
    fn w(&self, rel: &str) -> PathBuf {
        self.work.join(rel)
    }

    /// Starts `glasshouse run --profile host --receipt ROOT/<receipt> -- CMD` in ROOT.
    fn start(&self, receipt: &str, cmd: &[&OsStr]) -> Running {
        let receipt = self.root.join(receipt);
        let mut command = Command::new(BIN);
        command
            .current_dir(&self.root)
            .env_remove("GLASSHOUSE_CAPTURE_ARGV")
            .env_remove("GLASSHOUSE_BPF_DIR")
            .args(["run", "--profile", "host", "--receipt"])
            .arg(&receipt)
            .arg("--")
            .args(cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let what = format!("{command:?}");
        let mut child = command.spawn().expect("start glasshouse");
        let stdout = reader(child.stdout.take().expect("stdout pipe"));
        let stderr = reader(child.stderr.take().expect("stderr pipe"));
        Running {
            child,
            receipt,
            stdout,
            stderr,
            what,
        }
    }

    /// Runs glasshouse to the end, writing `receipt`.
    fn run_as(&self, receipt: &str, cmd: &[&OsStr]) -> Run {
        self.start(receipt, cmd).finish(RUN_DEADLINE)
    }

    /// Runs glasshouse to the end; the command must have exited 0.
    fn run_ok(&self, cmd: &[&OsStr]) -> Run {
        let run = self.run_as("receipt.json", cmd);
        run.assert_exit(0);
        run
    }
}

/// Reads a pipe to its end on a thread.
fn reader(mut pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// A glasshouse process started by a test.
struct Running {
    child: Child,
    receipt: PathBuf,
    stdout: mpsc::Receiver<Vec<u8>>,
    stderr: mpsc::Receiver<Vec<u8>>,
    what: String,
}

impl Running {
    /// Waits (at most `deadline`) for glasshouse to exit, then reads and checks its receipt.
    fn finish(mut self, deadline: Duration) -> Run {
        let start = Instant::now();
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => panic!("waiting for glasshouse: {e}"),
            }
            if start.elapsed() > deadline {
                // Only glasshouse itself, which this test started, is ended here.
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self
                    .stderr
                    .recv_timeout(Duration::from_secs(5))
                    .unwrap_or_default();
                panic!(
                    "glasshouse did not exit within {deadline:?}: {}\nstderr:\n{}",
                    self.what,
                    String::from_utf8_lossy(&stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let pipe = |rx: &mpsc::Receiver<Vec<u8>>, name: &str| {
            rx.recv_timeout(WAIT_DEADLINE).unwrap_or_else(|_| {
                panic!("glasshouse's {name} stayed open after it exited (a process escaped?)")
            })
        };
        let _stdout = pipe(&self.stdout, "stdout");
        let stderr = String::from_utf8_lossy(&pipe(&self.stderr, "stderr")).into_owned();
        assert_ne!(
            status.code(),
            Some(124),
            "the eBPF sensor could not start (glasshouse exited 124); these tests need BPF \
             (root on a BPF-capable kernel) and fail without it:\n{stderr}"
        );
        let text = fs::read_to_string(&self.receipt).unwrap_or_else(|e| {
            panic!(
                "no receipt at {} ({e}); glasshouse {status}: {}\nstderr:\n{stderr}",
                self.receipt.display(),
                self.what
            )
        });
        let json = validate(&self.receipt, &text);
        let receipt = Receipt::from_json(&text).unwrap_or_else(|e| {
            panic!("receipt {} does not read back: {e}", self.receipt.display())
        });
        let run = Run {
            status,
            stderr,
            json,
            receipt,
            glasshouse_pid: self.child.id(),
        };
        run.check_common();
        run
    }
}

/// The committed schema, compiled once.
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(glasshouse_receipt::schema_file_name());
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read committed schema {}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text).expect("committed schema is JSON");
        jsonschema::validator_for(&schema).expect("committed schema compiles")
    })
}

/// Parses a receipt and checks it against the committed schema.
fn validate(path: &Path, text: &str) -> Value {
    let value: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("receipt {} is not JSON: {e}", path.display()));
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .map(|e| format!("  at {}: {e}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "receipt {} does not match {}:\n{}",
        path.display(),
        glasshouse_receipt::schema_file_name(),
        errors.join("\n")
    );
    assert_eq!(value["version"], glasshouse_receipt::SCHEMA_VERSION);
    value
}

/// A finished glasshouse run.
struct Run {
    status: ExitStatus,
    stderr: String,
    json: Value,
    receipt: Receipt,
    glasshouse_pid: u32,
}

/// Which list of `filesystem` a path is in.
#[derive(Debug, Clone, Copy)]
enum List {
    Reads,
    Writes,
    Deletes,
}

impl Run {
    /// What every receipt must hold: the kernel sensor ran with the hooks these tests rely on,
    /// and exactly one process (the root) has glasshouse as its parent.
    fn check_common(&self) {
        let sensor = &self.json["sensor"];
        assert_eq!(
            sensor["kind"], "ebpf",
            "the kernel sensor did not run: {sensor:#}\nstderr:\n{}",
            self.stderr
        );
        let hooks = sensor["hooks"].as_array().cloned().unwrap_or_default();
        for hook in CORE_HOOKS {
            assert!(
                hooks.iter().any(|h| h["attached"] == true
                    && h["name"].as_str().is_some_and(|n| n.ends_with(hook))),
                "hook {hook} is not attached: {sensor:#}"
            );
        }
        let roots = self
            .receipt
            .process_tree
            .iter()
            .filter(|p| p.ppid == self.glasshouse_pid)
            .count();
        assert_eq!(
            roots,
            1,
            "exactly one process must have glasshouse (pid {}) as its parent\n{}",
            self.glasshouse_pid,
            self.excerpt()
        );
    }

    /// The command's process: its parent is glasshouse.
    fn root(&self) -> &ProcessNode {
        self.receipt
            .process_tree
            .iter()
            .find(|p| p.ppid == self.glasshouse_pid)
            .expect("root process (checked when the run finished)")
    }

    fn assert_exit(&self, code: i32) {
        assert_eq!(
            self.status.code(),
            Some(code),
            "glasshouse exit status (the command's); stderr:\n{}\n{}",
            self.stderr,
            self.excerpt()
        );
    }

    /// The paths of list `which` at or below `dir`.
    fn under(&self, which: List, dir: &Path) -> BTreeSet<PathBuf> {
        let fs = &self.receipt.filesystem;
        let list = match which {
            List::Reads => &fs.reads,
            List::Writes => &fs.writes,
            List::Deletes => &fs.deletes,
        };
        list.iter()
            .map(path_of)
            .filter(|p| p.starts_with(dir))
            .collect()
    }

    /// The reads, writes and deletes at or below `dir` are exactly the given ones.
    fn assert_files(&self, dir: &Path, reads: &[PathBuf], writes: &[PathBuf], deletes: &[PathBuf]) {
        let expected = |v: &[PathBuf]| v.iter().cloned().collect::<BTreeSet<_>>();
        let want = [expected(reads), expected(writes), expected(deletes)];
        let got = [List::Reads, List::Writes, List::Deletes].map(|l| self.under(l, dir));
        assert!(
            want == got,
            "filesystem lists under {} differ\n  expected reads   {:?}\n  got reads        {:?}\n  \
             expected writes  {:?}\n  got writes       {:?}\n  expected deletes {:?}\n  \
             got deletes      {:?}\n{}",
            dir.display(),
            want[0],
            got[0],
            want[1],
            got[1],
            want[2],
            got[2],
            self.excerpt()
        );
    }

    /// `network.attempts` as written.
    fn attempts(&self) -> &Value {
        &self.json["network"]["attempts"]
    }

    /// `network.attempts` is exactly `expected`.
    fn assert_attempts(&self, expected: Value) {
        assert_eq!(
            self.attempts(),
            &expected,
            "network.attempts differ\n{}",
            self.excerpt()
        );
    }

    /// The entries of `filesystem.failed` that satisfy `pred`, as written.
    fn failed_where(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.json["filesystem"]["failed"]
            .as_array()
            .map(|a| a.iter().filter(|f| pred(f)).cloned().collect())
            .unwrap_or_default()
    }

    fn denied(&self) -> Vec<Value> {
        self.json["syscalls"]["denied"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn sensor(&self) -> &glasshouse_receipt::SensorCoverage {
        self.receipt.sensor.as_ref().expect("sensor section")
    }

    fn syscall_count(&self, name: &str) -> u64 {
        self.receipt.syscalls.counts.get(name).copied().unwrap_or(0)
    }

    /// The parts of the receipt a failure message needs (the process tree cut to 20 entries).
    fn excerpt(&self) -> String {
        let tree: Vec<Value> = self.json["process_tree"]
            .as_array()
            .map(|a| a.iter().take(20).cloned().collect())
            .unwrap_or_default();
        let failed: Vec<Value> = self.json["filesystem"]["failed"]
            .as_array()
            .map(|a| a.iter().take(40).cloned().collect())
            .unwrap_or_default();
        let excerpt = json!({
            "process_tree (first 20)": tree,
            "process_tree length": self.receipt.process_tree.len(),
            "network": self.json["network"],
            "filesystem.failed (first 40)": failed,
            "syscalls.denied": self.json["syscalls"]["denied"],
            "syscalls.io_uring": self.json["syscalls"]["io_uring"],
            "sensor": self.json["sensor"],
        });
        format!(
            "receipt excerpt (glasshouse pid {}):\n{}",
            self.glasshouse_pid,
            serde_json::to_string_pretty(&excerpt).unwrap_or_default()
        )
    }
}

/// One `network.attempts` entry as the schema writes it: `errno` only for a failure, `count`
/// (processes that made the attempt) always.
fn attempt(dst: &str, protocol: &str, result: &str, errno: Option<i32>, count: u64) -> Value {
    let mut a = json!({ "dst": dst, "protocol": protocol, "result": result });
    if let Some(errno) = errno {
        a["errno"] = json!(errno);
    }
    a["count"] = json!(count);
    a
}

/// One `filesystem.failed` / `syscalls.denied` entry as the schema writes it.
fn failure(syscall: &str, target: &str, errno: i32, error: &str, count: u64) -> Value {
    json!({ "syscall": syscall, "target": target, "errno": errno, "error": error, "count": count })
}

// ---------------------------------------------------------------------------------------------
// 1-3. UDP and refused TCP
// ---------------------------------------------------------------------------------------------

/// sendto(2) of one 5-byte datagram to 127.0.0.1:9 on an unconnected UDP socket: one attempt
/// {dst "127.0.0.1:9", udp, sent}, and exactly those 5 bytes sent on inet sockets.
#[test]
fn udp_sendto_without_connect_is_sent() {
    let s = Sandbox::new();
    let run = s.run_ok(&[
        program("udp_send").as_os_str(),
        os("127.0.0.1"),
        os("9"),
        os("1"),
    ]);
    run.assert_attempts(json!([attempt("127.0.0.1:9", "udp", "sent", None, 1)]));
    let net = &run.receipt.network;
    assert_eq!(
        (net.bytes_sent, net.bytes_received),
        (5, 0),
        "network.bytes_sent/bytes_received\n{}",
        run.excerpt()
    );
    assert!(
        run.failed_where(|f| f["syscall"] == "sendto").is_empty(),
        "a successful sendto is no failure\n{}",
        run.excerpt()
    );
}

/// A blocking connect(2) to a closed port on 127.0.0.1: one attempt {refused, errno 111}, the
/// same failure in filesystem.failed as a "connect", and nothing in syscalls.denied.
#[test]
fn refused_tcp_connect_is_refused_and_failed() {
    let s = Sandbox::new();
    let port = closed_port("127.0.0.1");
    let dst = format!("127.0.0.1:{port}");
    let run = s.run_ok(&[
        program("tcp_connect").as_os_str(),
        os("refused"),
        os("127.0.0.1"),
        os(&port.to_string()),
    ]);
    run.assert_attempts(json!([attempt(&dst, "tcp", "refused", Some(111), 1)]));
    assert_eq!(
        run.failed_where(|f| f["syscall"] == "connect"),
        vec![failure("connect", &dst, 111, "ECONNREFUSED", 1)],
        "filesystem.failed must hold the refused connect\n{}",
        run.excerpt()
    );
    assert!(
        !run.denied().iter().any(|d| d["target"] == dst.as_str()),
        "ECONNREFUSED is no denial\n{}",
        run.excerpt()
    );
    assert_eq!(run.receipt.network.bytes_sent, 0, "{}", run.excerpt());
}

/// A blocking connect(2) to a closed port on ::1: dst "[::1]:P", tcp, refused.
#[test]
fn refused_ipv6_connect_renders_brackets() {
    let s = Sandbox::new();
    let port = closed_port("[::1]");
    let dst = format!("[::1]:{port}");
    let run = s.run_ok(&[
        program("tcp_connect").as_os_str(),
        os("refused"),
        os("::1"),
        os(&port.to_string()),
    ]);
    run.assert_attempts(json!([attempt(&dst, "tcp", "refused", Some(111), 1)]));
    assert_eq!(
        run.failed_where(|f| f["syscall"] == "connect"),
        vec![failure("connect", &dst, 111, "ECONNREFUSED", 1)],
        "{}",
        run.excerpt()
    );
}

// ---------------------------------------------------------------------------------------------
// 4-5. Connected TCP, bytes, and connects in progress
// ---------------------------------------------------------------------------------------------

/// A TCP exchange of exactly 4096 bytes each way with an echo server of this test process:
/// one attempt {connected}, and bytes_sent == bytes_received == 4096 (the tester uses no other
/// inet socket).
#[test]
fn tcp_exchange_counts_bytes_both_ways() {
    let server = TcpServer::start(1, Serve::Echo);
    let s = Sandbox::new();
    let dst = format!("127.0.0.1:{}", server.port);
    let run = s.run_ok(&[
        program("tcp_connect").as_os_str(),
        os("echo"),
        os("127.0.0.1"),
        os(&server.port.to_string()),
        os("4096"),
    ]);
    assert_eq!(server.finish(), vec![4096], "the server echoed 4096 bytes");
    run.assert_attempts(json!([attempt(&dst, "tcp", "connected", None, 1)]));
    let net = &run.receipt.network;
    assert_eq!(
        (net.bytes_sent, net.bytes_received),
        (4096, 4096),
        "network.bytes_sent/bytes_received\n{}",
        run.excerpt()
    );
}

/// How many non-blocking connects the in-progress tests make, one after the other: the outcome
/// of every one must be followed, and one is enough to show in the attempts list when it is not.
const NONBLOCKING_CONNECTS: usize = 20;

/// Non-blocking connect(2)s to a server of this test (each: EINPROGRESS, then poll for POLLOUT
/// and SO_ERROR == 0): every attempt's outcome is followed to "connected", none is left
/// "attempted". The server holds the connections open until the run is over, so the outcome
/// must come from the handshake itself, not from the connections' teardown.
#[test]
fn nonblocking_connect_is_followed_to_connected() {
    let server = TcpServer::start(NONBLOCKING_CONNECTS, Serve::Hold);
    let s = Sandbox::new();
    let dst = format!("127.0.0.1:{}", server.port);
    let run = s.run_as(
        "receipt.json",
        &[
            program("tcp_connect").as_os_str(),
            os("nonblock"),
            os("127.0.0.1"),
            os(&server.port.to_string()),
            os(&NONBLOCKING_CONNECTS.to_string()),
        ],
    );
    assert_ne!(
        run.status.code(),
        Some(3),
        "the tester's non-blocking connect completed at once, so the in-progress path was not \
         exercised (a test problem, not a sensor one): {}",
        run.stderr
    );
    run.assert_exit(0);
    assert_eq!(
        server.finish().len(),
        NONBLOCKING_CONNECTS,
        "every connection came"
    );
    run.assert_attempts(json!([attempt(&dst, "tcp", "connected", None, 1)]));
    assert!(
        run.failed_where(|f| f["syscall"] == "connect").is_empty(),
        "EINPROGRESS is no failure\n{}",
        run.excerpt()
    );
}

/// Non-blocking connect(2)s to a closed port on 127.0.0.1 (each: EINPROGRESS, then SO_ERROR ==
/// ECONNREFUSED): every attempt's outcome is followed to {refused, errno 111}.
#[test]
fn nonblocking_connect_is_followed_to_refused() {
    let s = Sandbox::new();
    let port = closed_port("127.0.0.1");
    let dst = format!("127.0.0.1:{port}");
    let run = s.run_as(
        "receipt.json",
        &[
            program("tcp_connect").as_os_str(),
            os("nonblock-refused"),
            os("127.0.0.1"),
            os(&port.to_string()),
            os(&NONBLOCKING_CONNECTS.to_string()),
        ],
    );
    assert_ne!(
        run.status.code(),
        Some(3),
        "the tester's non-blocking connect failed at once, so the in-progress path was not \
         exercised (a test problem, not a sensor one): {}",
        run.stderr
    );
    run.assert_exit(0);
    run.assert_attempts(json!([attempt(&dst, "tcp", "refused", Some(111), 1)]));
}

/// A non-blocking connect(2) to a closed port (EINPROGRESS, SO_ERROR == ECONNREFUSED, socket
/// closed), then a blocking connect(2) to a server of this test: the first stays {refused}, the
/// second is {connected}. The second socket is likely to get the first one's kernel memory, so
/// an outcome keyed by a stale socket pointer would be credited to the wrong attempt.
#[test]
fn refused_attempt_is_not_credited_with_a_later_connection() {
    let server = TcpServer::start(1, Serve::Hold);
    let s = Sandbox::new();
    let port = closed_port("127.0.0.1");
    let refused = format!("127.0.0.1:{port}");
    let connected = format!("127.0.0.1:{}", server.port);
    let run = s.run_as(
        "receipt.json",
        &[
            program("tcp_connect").as_os_str(),
            os("nonblock-refused-then"),
            os("127.0.0.1"),
            os(&port.to_string()),
            os(&server.port.to_string()),
        ],
    );
    assert_ne!(
        run.status.code(),
        Some(3),
        "the tester's non-blocking connect failed at once, so the in-progress path was not \
         exercised (a test problem, not a sensor one): {}",
        run.stderr
    );
    run.assert_exit(0);
    assert_eq!(server.finish().len(), 1, "the second connection came");
    let mut expected = vec![
        attempt(&refused, "tcp", "refused", Some(111), 1),
        attempt(&connected, "tcp", "connected", None, 1),
    ];
    expected.sort_by(|a, b| a["dst"].as_str().cmp(&b["dst"].as_str()));
    run.assert_attempts(Value::Array(expected));
}

// ---------------------------------------------------------------------------------------------
// 6. Unix sockets
// ---------------------------------------------------------------------------------------------

/// connect(2) to a unix socket path bound by this test: {dst the path, unix, connected}; to the
/// abstract name "\0gh-test-<pid>" where nothing listens: {dst "@gh-test-<pid>", unix, refused}.
#[test]
fn unix_path_connected_and_abstract_refused() {
    let s = Sandbox::new();
    let sock_path = s.root.join("s.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path)
        .unwrap_or_else(|e| panic!("bind {}: {e}", sock_path.display()));
    let name = format!("gh-test-{}", std::process::id());
    let run = s.run_ok(&[
        program("unix_connect").as_os_str(),
        sock_path.as_os_str(),
        os(&name),
    ]);
    drop(listener);
    let path = sock_path.to_str().expect("UTF-8 temp path");
    let abstract_dst = format!("@{name}");
    let mut expected = vec![
        attempt(path, "unix", "connected", None, 1),
        attempt(&abstract_dst, "unix", "refused", Some(111), 1),
    ];
    expected.sort_by(|a, b| a["dst"].as_str().cmp(&b["dst"].as_str()));
    run.assert_attempts(Value::Array(expected));
    assert_eq!(
        run.failed_where(|f| f["syscall"] == "connect"),
        vec![failure("connect", &abstract_dst, 111, "ECONNREFUSED", 1)],
        "{}",
        run.excerpt()
    );
    let net = &run.receipt.network;
    assert_eq!(
        (net.bytes_sent, net.bytes_received),
        (0, 0),
        "unix sockets carry no inet bytes\n{}",
        run.excerpt()
    );
}

// ---------------------------------------------------------------------------------------------
// 7. io_uring
// ---------------------------------------------------------------------------------------------

/// IORING_OP_OPENAT creating w/created, IORING_OP_UNLINKAT of w/victim and IORING_OP_CONNECT to
/// a closed port on 127.0.0.1: the new file is written, the victim deleted, the connect refused,
/// the three operations counted in syscalls.io_uring, and a note says io_uring was used.
#[test]
fn io_uring_openat_unlinkat_connect() {
    let s = Sandbox::new();
    let created = s.w("created");
    let victim = s.w("victim");
    fs::write(&victim, b"to be removed\n").expect("write victim");
    let port = closed_port("127.0.0.1");
    let dst = format!("127.0.0.1:{port}");
    let run = s.run_ok(&[
        program("uring").as_os_str(),
        created.as_os_str(),
        victim.as_os_str(),
        os(&port.to_string()),
    ]);
    assert!(created.is_file(), "the tester created w/created");
    assert!(!victim.exists(), "the tester removed w/victim");
    run.assert_files(&s.work, &[], &[created], &[victim]);
    run.assert_attempts(json!([attempt(&dst, "tcp", "refused", Some(111), 1)]));
    let failed = run.failed_where(|f| f["target"] == dst.as_str());
    assert!(
        failed.len() == 1 && failed[0]["errno"] == 111 && failed[0]["error"] == "ECONNREFUSED",
        "filesystem.failed must hold the refused io_uring connect once\n{}",
        run.excerpt()
    );
    let want: BTreeMap<String, u64> = [("connect", 1), ("openat", 1), ("unlinkat", 1)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(
        run.receipt.syscalls.io_uring,
        want,
        "syscalls.io_uring\n{}",
        run.excerpt()
    );
    assert!(
        run.sensor().notes.iter().any(|n| n.contains("io_uring")),
        "a note in sensor.notes must say the tree used io_uring\n{}",
        run.excerpt()
    );
    assert!(
        run.syscall_count("io_uring_setup") >= 1,
        "{}",
        run.excerpt()
    );
    assert!(
        run.syscall_count("io_uring_enter") >= 3,
        "{}",
        run.excerpt()
    );
}

// ---------------------------------------------------------------------------------------------
// 8-9. Denied operations and syscall counts
// ---------------------------------------------------------------------------------------------

/// After dropping to uid/gid 65534, openat(2) of a root-owned 0600 file fails with EACCES:
/// filesystem.failed has {openat, the path, 13, EACCES} and syscalls.denied holds the same.
#[test]
fn permission_denied_open_is_failed_and_denied() {
    let s = Sandbox::new();
    // The directories must be searchable by the unprivileged tester, so the error is the
    // file's own mode and not a directory's.
    for dir in [&s.root, &s.work] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.display()));
    }
    let secret = s.w("secret");
    fs::write(&secret, b"root only\n").expect("write secret");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).expect("chmod 0600");
    let run = s.run_ok(&[program("eacces").as_os_str(), secret.as_os_str()]);
    let target = secret.to_str().expect("UTF-8 temp path");
    let want = failure("openat", target, libc::EACCES, "EACCES", 1);
    assert_eq!(
        run.failed_where(|f| f["target"] == target),
        vec![want.clone()],
        "filesystem.failed\n{}",
        run.excerpt()
    );
    let denied: Vec<Value> = run
        .denied()
        .into_iter()
        .filter(|d| d["target"] == target)
        .collect();
    assert_eq!(denied, vec![want], "syscalls.denied\n{}", run.excerpt());
    run.assert_files(&s.work, &[], &[], &[]);
}

/// 1000 distinct files opened with openat(2) and closed with close(2): the counts are at least
/// 1000 each, and every file is read.
#[test]
fn syscall_counts_cover_a_thousand_opens() {
    const COUNT: usize = 1000;
    let s = Sandbox::new();
    let files: Vec<PathBuf> = (0..COUNT).map(|i| s.w(&format!("f{i}"))).collect();
    for f in &files {
        fs::write(f, b"x").unwrap_or_else(|e| panic!("write {}: {e}", f.display()));
    }
    let run = s.run_ok(&[
        program("open_loop").as_os_str(),
        s.work.as_os_str(),
        os(&COUNT.to_string()),
        os(&COUNT.to_string()),
    ]);
    for name in ["openat", "close"] {
        assert!(
            run.syscall_count(name) >= COUNT as u64,
            "syscalls.counts.{name} = {} (at least {COUNT} calls made)\n{}",
            run.syscall_count(name),
            run.excerpt()
        );
    }
    run.assert_files(&s.work, &files, &[], &[]);
}

// ---------------------------------------------------------------------------------------------
// 10. Floods
// ---------------------------------------------------------------------------------------------

/// 10,000 short-lived processes (fork + exec /bin/true, one after the other): either all
/// 10,001 processes are in the tree, or the receipt says it lost events (events_lost > 0 and
/// complete == false). A receipt that misses processes without saying so fails.
#[test]
fn flood_of_ten_thousand_processes_is_complete_or_says_so() {
    const COUNT: usize = 10_000;
    let s = Sandbox::new();
    let run = s.run_ok(&[program("spawn_flood").as_os_str(), os(&COUNT.to_string())]);
    let root = run.root();
    let real_true = canonical(Path::new("/bin/true"));
    let children = run
        .receipt
        .process_tree
        .iter()
        .filter(|p| {
            p.ppid == root.pid
                && path_of(&p.exe) == real_true
                && p.argv
                    .iter()
                    .map(OsText::as_bytes)
                    .eq([&b"true"[..], b"flood"])
        })
        .count();
    let tree = run.receipt.process_tree.len();
    let sensor = run.sensor();
    let all_seen = tree == COUNT + 1 && children == COUNT;
    let says_lost = sensor.events_lost > 0 && !sensor.complete;
    assert!(
        all_seen || says_lost,
        "{children} of {COUNT} children seen ({tree} processes in the tree) but the receipt \
         does not say events were lost\n{}",
        run.excerpt()
    );
    if sensor.events_lost > 0 {
        assert!(
            !sensor.complete,
            "events lost yet complete\n{}",
            run.excerpt()
        );
    }
    if sensor.complete {
        assert!(
            all_seen,
            "complete, yet {children} of {COUNT} children\n{}",
            run.excerpt()
        );
    }
    assert!(
        run.syscall_count("fork") + run.syscall_count("clone") + run.syscall_count("clone3")
            >= COUNT as u64,
        "{}",
        run.excerpt()
    );
}

/// 1,000,000 open + close of the same three files: every call is counted, and nothing is lost
/// unless the receipt says so.
#[test]
fn flood_of_a_million_opens_is_counted() {
    const COUNT: u64 = 1_000_000;
    let s = Sandbox::new();
    let files: Vec<PathBuf> = (0..3).map(|i| s.w(&format!("f{i}"))).collect();
    for f in &files {
        fs::write(f, b"x").unwrap_or_else(|e| panic!("write {}: {e}", f.display()));
    }
    let run = s.run_ok(&[
        program("open_loop").as_os_str(),
        s.work.as_os_str(),
        os(&COUNT.to_string()),
        os("3"),
    ]);
    let sensor = run.sensor();
    assert!(
        sensor.events_lost == 0 || !sensor.complete,
        "events lost yet complete\n{}",
        run.excerpt()
    );
    for name in ["openat", "close"] {
        assert!(
            run.syscall_count(name) >= COUNT,
            "syscalls.counts.{name} = {} (at least {COUNT} calls made)\n{}",
            run.syscall_count(name),
            run.excerpt()
        );
    }
    if sensor.complete {
        run.assert_files(&s.work, &files, &[], &[]);
    }
}

// ---------------------------------------------------------------------------------------------
// 11. Determinism
// ---------------------------------------------------------------------------------------------

/// The same UDP workload twice (two processes sending 50 datagrams each to 127.0.0.1:9, then
/// one process to [::1]:9 and one to 127.0.0.2:9): both receipts have the identical, exact
/// attempts list, each destination once with the number of processes that sent to it.
#[test]
fn udp_attempts_are_deduplicated_deterministically() {
    let s = Sandbox::new();
    let udp = program("udp_send");
    let script = r#"set -e
"$1" 127.0.0.1 9 50 fork
"$1" ::1 9 20
"$1" 127.0.0.2 9 3"#;
    let cmd = [
        os("/bin/sh"),
        os("-c"),
        os(script),
        os("sh"),
        udp.as_os_str(),
    ];
    let first = s.run_as("first.json", &cmd);
    first.assert_exit(0);
    let second = s.run_as("second.json", &cmd);
    second.assert_exit(0);
    let expected = json!([
        attempt("127.0.0.1:9", "udp", "sent", None, 2),
        attempt("127.0.0.2:9", "udp", "sent", None, 1),
        attempt("[::1]:9", "udp", "sent", None, 1),
    ]);
    assert_eq!(
        first.attempts(),
        second.attempts(),
        "two runs of the same workload differ\nfirst {}\nsecond {}",
        first.excerpt(),
        second.excerpt()
    );
    first.assert_attempts(expected);
    for run in [&first, &second] {
        assert_eq!(
            run.receipt.network.bytes_sent,
            (50 * 2 + 20 + 3) * 5,
            "network.bytes_sent\n{}",
            run.excerpt()
        );
    }
}

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

mod common;

use common::{os, path_of, real_path, Run, Sandbox, Suite, Testers};
use glasshouse_receipt::OsText;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The network suite's temporary directories, deadlines (longer: it floods) and hooks: the
/// network and io_uring tracepoints besides the core ones.
static SUITE: Suite = Suite {
    prefix: "gh-net-",
    run_deadline: Duration::from_secs(300),
    wait_deadline: Duration::from_secs(60),
    extra_hooks: &[
        "inet_sock_set_state",
        "sock_send_length",
        "sock_recv_length",
        "io_uring_submit_req|io_uring_submit_sqe",
        "io_uring_complete",
    ],
};

// ---------------------------------------------------------------------------------------------
// Tester programs
// ---------------------------------------------------------------------------------------------

/// The testers of `tests/programs_net/`. The io_uring ones drive their rings by raw system calls
/// (`uring_tester.h`), so they need no library beyond libc.
static PROGRAMS: Testers = Testers::new(
    "programs_net",
    "net-programs",
    &["-O1", "-Wall", "-Wextra"],
    &[],
);

/// The path of compiled tester program `name` (`tests/programs_net/<name>.c`).
fn program(name: &str) -> PathBuf {
    PROGRAMS.path(name)
}

// ---------------------------------------------------------------------------------------------
// Ports and servers
// ---------------------------------------------------------------------------------------------

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
                        if start.elapsed() > SUITE.run_deadline {
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
    stream.set_read_timeout(Some(SUITE.wait_deadline))?;
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

/// `network.bytes_sent` and `network.bytes_received` (bytes on inet sockets) are exactly these.
fn assert_inet_bytes(run: &Run, sent: u64, received: u64) {
    let net = &run.receipt.network;
    if !common::kernel_has_tracepoint("sock_send_length") {
        // Before 6.3 nothing counts them: zero, and the receipt says it is incomplete (checked
        // with the hooks by check_common).
        assert_eq!((net.bytes_sent, net.bytes_received), (0, 0));
        assert_eq!(run.json["sensor"]["complete"], false, "{}", run.excerpt());
        return;
    }
    assert_eq!(
        (net.bytes_sent, net.bytes_received),
        (sent, received),
        "network.bytes_sent/bytes_received\n{}",
        run.excerpt()
    );
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
    let s = Sandbox::new(&SUITE);
    let run = s.run_ok(&[
        program("udp_send").as_os_str(),
        os("127.0.0.1"),
        os("9"),
        os("1"),
    ]);
    run.assert_attempts(json!([attempt("127.0.0.1:9", "udp", "sent", None, 1)]));
    assert_inet_bytes(&run, 5, 0);
    assert!(
        run.failed_where(|f| f["syscall"] == "sendto").is_empty(),
        "a successful sendto is no failure\n{}",
        run.excerpt()
    );
}

/// Runs the tester's blocking connect(2) to a closed port on `ip` (`host` is the same address as
/// a socket address writes it, `[::1]` for `::1`): one attempt {dst "HOST:PORT", tcp, refused,
/// errno 111}, and the same failure in filesystem.failed as a "connect". Returns the run and dst.
fn refused_blocking_connect(ip: &str, host: &str) -> (Run, String) {
    let s = Sandbox::new(&SUITE);
    let port = closed_port(host);
    let dst = format!("{host}:{port}");
    let run = s.run_ok(&[
        program("tcp_connect").as_os_str(),
        os("refused"),
        os(ip),
        os(&port.to_string()),
    ]);
    run.assert_attempts(json!([attempt(&dst, "tcp", "refused", Some(111), 1)]));
    assert_eq!(
        run.failed_where(|f| f["syscall"] == "connect"),
        vec![failure("connect", &dst, 111, "ECONNREFUSED", 1)],
        "filesystem.failed must hold the refused connect\n{}",
        run.excerpt()
    );
    (run, dst)
}

/// A blocking connect(2) to a closed port on 127.0.0.1: one attempt {refused, errno 111}, the
/// same failure in filesystem.failed as a "connect", and nothing in syscalls.denied.
#[test]
fn refused_tcp_connect_is_refused_and_failed() {
    let (run, dst) = refused_blocking_connect("127.0.0.1", "127.0.0.1");
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
    refused_blocking_connect("::1", "[::1]");
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
    let s = Sandbox::new(&SUITE);
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
    assert_inet_bytes(&run, 4096, 4096);
}

/// How many non-blocking connects the in-progress tests make, one after the other: the outcome
/// of every one must be followed, and one is enough to show in the attempts list when it is not.
const NONBLOCKING_CONNECTS: usize = 20;

/// Runs the tester's non-blocking `mode` against 127.0.0.1:`port` with `last` as its last
/// argument. The tester exits 3 when a connect `at_once` ("completed" or "failed") at once
/// instead of returning EINPROGRESS; the run must not have, so that the in-progress path was
/// exercised, and must have exited 0.
fn nonblocking_connect(mode: &str, port: u16, last: &str, at_once: &str) -> Run {
    let s = Sandbox::new(&SUITE);
    let run = s.run(&[
        program("tcp_connect").as_os_str(),
        os(mode),
        os("127.0.0.1"),
        os(&port.to_string()),
        os(last),
    ]);
    assert_ne!(
        run.status.code(),
        Some(3),
        "the tester's non-blocking connect {at_once} at once, so the in-progress path was not \
         exercised (a test problem, not a sensor one): {}",
        run.stderr
    );
    run.assert_exit(0);
    run
}

/// `network.attempts` in the order the receipt writes them: sorted by dst.
fn sorted_by_dst(mut attempts: Vec<Value>) -> Value {
    attempts.sort_by(|a, b| a["dst"].as_str().cmp(&b["dst"].as_str()));
    Value::Array(attempts)
}

/// Non-blocking connect(2)s to a server of this test (each: EINPROGRESS, then poll for POLLOUT
/// and SO_ERROR == 0): every attempt's outcome is followed to "connected", none is left
/// "attempted". The server holds the connections open until the run is over, so the outcome
/// must come from the handshake itself, not from the connections' teardown.
#[test]
fn nonblocking_connect_is_followed_to_connected() {
    let server = TcpServer::start(NONBLOCKING_CONNECTS, Serve::Hold);
    let dst = format!("127.0.0.1:{}", server.port);
    let run = nonblocking_connect(
        "nonblock",
        server.port,
        &NONBLOCKING_CONNECTS.to_string(),
        "completed",
    );
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
    let port = closed_port("127.0.0.1");
    let dst = format!("127.0.0.1:{port}");
    let run = nonblocking_connect(
        "nonblock-refused",
        port,
        &NONBLOCKING_CONNECTS.to_string(),
        "failed",
    );
    run.assert_attempts(json!([attempt(&dst, "tcp", "refused", Some(111), 1)]));
}

/// A non-blocking connect(2) to a closed port (EINPROGRESS, SO_ERROR == ECONNREFUSED, socket
/// closed), then a blocking connect(2) to a server of this test: the first stays {refused}, the
/// second is {connected}. The second socket is likely to get the first one's kernel memory, so
/// an outcome keyed by a stale socket pointer would be credited to the wrong attempt.
#[test]
fn refused_attempt_is_not_credited_with_a_later_connection() {
    let server = TcpServer::start(1, Serve::Hold);
    let port = closed_port("127.0.0.1");
    let refused = format!("127.0.0.1:{port}");
    let connected = format!("127.0.0.1:{}", server.port);
    let run = nonblocking_connect(
        "nonblock-refused-then",
        port,
        &server.port.to_string(),
        "failed",
    );
    assert_eq!(server.finish().len(), 1, "the second connection came");
    run.assert_attempts(sorted_by_dst(vec![
        attempt(&refused, "tcp", "refused", Some(111), 1),
        attempt(&connected, "tcp", "connected", None, 1),
    ]));
}

// ---------------------------------------------------------------------------------------------
// 6. Unix sockets
// ---------------------------------------------------------------------------------------------

/// connect(2) to a unix socket path bound by this test: {dst the path, unix, connected}; to the
/// abstract name "\0gh-test-<pid>" where nothing listens: {dst "@gh-test-<pid>", unix, refused}.
#[test]
fn unix_path_connected_and_abstract_refused() {
    let s = Sandbox::new(&SUITE);
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
    run.assert_attempts(sorted_by_dst(vec![
        attempt(path, "unix", "connected", None, 1),
        attempt(&abstract_dst, "unix", "refused", Some(111), 1),
    ]));
    assert_eq!(
        run.failed_where(|f| f["syscall"] == "connect"),
        vec![failure("connect", &abstract_dst, 111, "ECONNREFUSED", 1)],
        "{}",
        run.excerpt()
    );
    // Unix sockets carry no inet bytes.
    assert_inet_bytes(&run, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// 7. io_uring
// ---------------------------------------------------------------------------------------------

/// IORING_OP_OPENAT creating w/created, IORING_OP_UNLINKAT of w/victim and IORING_OP_CONNECT to
/// a closed port on 127.0.0.1: the new file is written, the victim deleted, the connect refused,
/// the three operations counted in syscalls.io_uring, and a note says io_uring was used.
#[test]
fn io_uring_openat_unlinkat_connect() {
    let s = Sandbox::new(&SUITE);
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

/// IORING_OP_OPENAT into the ring's fixed-file table (a direct descriptor, no fd of the process):
/// the file opened for reading is a read and the one created a write, taken from the submitted
/// paths; nothing else under the work directory is recorded.
#[test]
fn io_uring_direct_opens_record_their_paths() {
    let s = Sandbox::new(&SUITE);
    let existing = s.w("existing");
    let created = s.w("created");
    fs::write(&existing, b"read through a fixed file\n").expect("write existing");
    let run = s.run_ok(&[
        program("uring_direct").as_os_str(),
        existing.as_os_str(),
        created.as_os_str(),
    ]);
    assert!(created.is_file(), "the tester created w/created");
    run.assert_files(&s.work, &[existing], &[created], &[]);
    assert_eq!(
        run.receipt.syscalls.io_uring.get("openat"),
        Some(&2),
        "syscalls.io_uring\n{}",
        run.excerpt()
    );
}

/// IORING_OP_SETXATTR by path changes the file's metadata: the file is a write, like
/// setxattr(2) (or, on a file system without user attributes, a failure naming the file).
#[test]
fn io_uring_setxattr_by_path_is_a_write() {
    let s = Sandbox::new(&SUITE);
    let file = s.w("f");
    fs::write(&file, b"x").expect("write f");
    let run = s.run_ok(&[program("uring_xattr").as_os_str(), file.as_os_str()]);
    let target = file.to_str().expect("utf-8 path");
    match run.stdout.as_slice() {
        b"set\n" => run.assert_files(&s.work, &[], std::slice::from_ref(&file), &[]),
        b"unsupported\n" => {
            run.assert_files(&s.work, &[], &[], &[]);
            let failed = run.failed_where(|f| f["target"] == target);
            assert!(
                failed.len() == 1 && failed[0]["syscall"] == "io_uring:setxattr",
                "the refused setxattr names the file\n{}",
                run.excerpt()
            );
        }
        other => panic!(
            "unexpected tester output {:?}",
            String::from_utf8_lossy(other)
        ),
    }
}

/// bind(2) of a unix socket to a relative path makes the socket's file: it is a write, resolved
/// against the cwd; an abstract name and an inet address make no file and are not attempts.
#[test]
fn binding_a_unix_socket_to_a_path_writes_its_file() {
    let s = Sandbox::new(&SUITE);
    let name = format!("gh-bind-{}", std::process::id());
    let run = s.run_ok(&[
        program("unix_bind").as_os_str(),
        s.work.as_os_str(),
        os(&name),
    ]);
    assert!(s.w("sock").exists(), "the tester bound w/sock");
    run.assert_files(&s.work, &[], &[s.w("sock")], &[]);
    run.assert_attempts(json!([]));
}

/// IORING_OP_SEND with a destination (sendto style) to [::1]:A from an unconnected socket, and
/// IORING_OP_SEND without one on a socket connect(2) pointed at 127.0.0.1:B: the first is an
/// attempt {"[::1]:A", udp, sent}, the second adds nothing to the connect's own attempt, and both
/// sends are counted in syscalls.io_uring.
#[test]
fn io_uring_send_with_a_destination_is_an_attempt() {
    let s = Sandbox::new(&SUITE);
    let run = s.run_ok(&[program("uring_send").as_os_str(), os("9"), os("9")]);
    run.assert_attempts(json!([
        attempt("127.0.0.1:9", "udp", "connected", None, 1),
        attempt("[::1]:9", "udp", "sent", None, 1),
    ]));
    assert_eq!(
        run.receipt.syscalls.io_uring.get("send"),
        Some(&2),
        "syscalls.io_uring\n{}",
        run.excerpt()
    );
    assert_inet_bytes(&run, 10, 0);
}

// ---------------------------------------------------------------------------------------------
// 8-9. Denied operations and syscall counts
// ---------------------------------------------------------------------------------------------

/// After dropping to uid/gid 65534, openat(2) of a root-owned 0600 file fails with EACCES:
/// filesystem.failed has {openat, the path, 13, EACCES} and syscalls.denied holds the same.
#[test]
fn permission_denied_open_is_failed_and_denied() {
    let s = Sandbox::new(&SUITE);
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

/// Creates `distinct` files w/f0, w/f1, ... and runs the open_loop tester on them: `count` times
/// openat(2) of the next file and close(2). The command must exit 0 and both syscalls.counts
/// must be at least `count`. Returns the run and the files.
fn run_open_loop(s: &Sandbox, count: u64, distinct: usize) -> (Run, Vec<PathBuf>) {
    let files: Vec<PathBuf> = (0..distinct).map(|i| s.w(&format!("f{i}"))).collect();
    for f in &files {
        fs::write(f, b"x").unwrap_or_else(|e| panic!("write {}: {e}", f.display()));
    }
    let run = s.run_ok(&[
        program("open_loop").as_os_str(),
        s.work.as_os_str(),
        os(&count.to_string()),
        os(&distinct.to_string()),
    ]);
    for name in ["openat", "close"] {
        assert!(
            run.syscall_count(name) >= count,
            "syscalls.counts.{name} = {} (at least {count} calls made)\n{}",
            run.syscall_count(name),
            run.excerpt()
        );
    }
    (run, files)
}

/// 1000 distinct files opened with openat(2) and closed with close(2): the counts are at least
/// 1000 each, and every file is read.
#[test]
fn syscall_counts_cover_a_thousand_opens() {
    let s = Sandbox::new(&SUITE);
    let (run, files) = run_open_loop(&s, 1000, 1000);
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
    let s = Sandbox::new(&SUITE);
    let run = s.run_ok(&[program("spawn_flood").as_os_str(), os(&COUNT.to_string())]);
    let root = run.root();
    let real_true = real_path("/bin/true");
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
    let s = Sandbox::new(&SUITE);
    let (run, files) = run_open_loop(&s, 1_000_000, 3);
    let sensor = run.sensor();
    assert!(
        sensor.events_lost == 0 || !sensor.complete,
        "events lost yet complete\n{}",
        run.excerpt()
    );
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
    let s = Sandbox::new(&SUITE);
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
        assert_inet_bytes(run, (50 * 2 + 20 + 3) * 5, 0);
    }
}

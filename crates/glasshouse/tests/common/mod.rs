//! Helpers shared by the integration tests of the `glasshouse` binary (`cli.rs`, `config.rs`,
//! `sensor.rs` and `net_uring.rs`). Each test binary compiles this module on its own with
//! `mod common;` and uses only part of it, hence `allow(dead_code)`.
//!
//! - [`BIN`] and [`glasshouse`]: the binary under test, and a command for it with none of the
//!   environment variables that change what it records.
//! - [`validator`], [`parse_receipt`] and [`read_receipt`]: every receipt a test reads is valid
//!   against the committed JSON Schema, carries the version this glasshouse writes and reads back
//!   with the receipt crate's own reader.
//! - [`Testers`] and [`compile_c`]: C tester programs, compiled once per test binary with `cc`;
//!   the shared header `tests/programs/tester.h` is on the include path of every one.
//! - [`Suite`], [`Sandbox`], [`Running`] and [`Run`]: the ground-truth suites run one tester under
//!   `glasshouse run --profile host` in a fresh temporary directory and query the receipt of the
//!   finished run. The suites differ only in what a [`Suite`] holds: deadlines and extra hooks.
//!
//! There are no timing assertions: waits are bounded by generous deadlines that panic. The only
//! process these helpers ever end is a glasshouse run the test started itself, by handle.
#![allow(dead_code)]

use glasshouse_receipt::{OsText, ProcessNode, Receipt, SensorCoverage};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The binary, the schema and receipts
// ---------------------------------------------------------------------------------------------

/// The glasshouse binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_glasshouse");

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The committed receipt schema file.
pub fn schema_path() -> PathBuf {
    repo_root().join(glasshouse_receipt::schema_file_name())
}

/// The committed schema, compiled once per test binary.
pub fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = schema_path();
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read committed schema {}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text).expect("committed schema is JSON");
        jsonschema::validator_for(&schema).expect("committed schema compiles")
    })
}

/// A `glasshouse` command run in `dir`, without the environment variables that change what
/// glasshouse records or how it loads its sensor (`GLASSHOUSE_CAPTURE_ARGV`,
/// `GLASSHOUSE_BPF_DIR`, `GLASSHOUSE_KEEP_PROGRAMS`), or who the command runs as (`SUDO_UID`,
/// `SUDO_GID`: tests started through sudo still run their commands as root unless they say).
pub fn glasshouse(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_remove("GLASSHOUSE_CAPTURE_ARGV")
        .env_remove("GLASSHOUSE_BPF_DIR")
        .env_remove("GLASSHOUSE_KEEP_PROGRAMS")
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID");
    cmd
}

/// Receipts longer than this are not quoted whole in failure messages.
const QUOTE_LIMIT: usize = 64 * 1024;

/// A receipt's text for a failure message: whole when it is short, else only its size.
fn quoted(text: &str) -> String {
    if text.len() <= QUOTE_LIMIT {
        text.to_owned()
    } else {
        format!("(receipt of {} bytes, not shown)", text.len())
    }
}

/// Parses receipt `text` (read from `path`), checks that it is valid against the committed
/// schema, carries the version this glasshouse writes and reads back with the receipt crate's
/// own reader; returns it both as JSON and as the receipt crate reads it.
pub fn parse_receipt(path: &Path, text: &str) -> (Value, Receipt) {
    let value: Value = serde_json::from_str(text).unwrap_or_else(|e| {
        panic!(
            "receipt {} is not JSON: {e}\n{}",
            path.display(),
            quoted(text)
        )
    });
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .map(|e| format!("  at {}: {e}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "receipt {} does not match {}:\n{}\n{}",
        path.display(),
        glasshouse_receipt::schema_file_name(),
        errors.join("\n"),
        quoted(text)
    );
    assert_eq!(value["version"], glasshouse_receipt::SCHEMA_VERSION);
    let receipt = Receipt::from_json(text)
        .unwrap_or_else(|e| panic!("receipt {} does not read back: {e}", path.display()));
    (value, receipt)
}

/// Reads the receipt at `path`, checks it as [`parse_receipt`] does and returns it as JSON.
pub fn read_receipt(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("read receipt {}: {e}", path.display()));
    parse_receipt(path, &text).0
}

// ---------------------------------------------------------------------------------------------
// Paths and pipes
// ---------------------------------------------------------------------------------------------

/// `path` with every symlink resolved (as the kernel names it in a receipt).
pub fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|e| panic!("canonicalize {}: {e}", path.display()))
}

/// The real file behind `path`, as [`canonical`] names it: what a receipt records for
/// `/bin/true` where `/bin` is a link to `/usr/bin`.
pub fn real_path(path: &str) -> PathBuf {
    canonical(Path::new(path))
}

/// A receipt path as a path.
pub fn path_of(text: &OsText) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(text.as_bytes()))
}

/// `s` as an argument of a command line.
pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Creates directory `path` and its parents.
pub fn mkdir(path: &Path) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
}

/// Reads a pipe to its end on a thread.
pub fn reader(mut pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

// ---------------------------------------------------------------------------------------------
// C tester programs
// ---------------------------------------------------------------------------------------------

/// Folder (relative to this crate) of the header shared by every tester, `tester.h`.
const TESTER_INCLUDE_DIR: &str = "tests/programs";

/// Compiles the C file `src` into `target` with `cc FLAGS -I tests/programs -o TARGET SRC LIBS`.
/// The binary is written under a temporary name and renamed into place, so concurrent test
/// binaries never see a half-written program.
pub fn compile_c(src: &Path, target: &Path, flags: &[&str], libs: &[&str]) {
    let name = target
        .file_name()
        .expect("target file name")
        .to_string_lossy();
    let tmp = target.with_file_name(format!("{name}.{}.tmp", std::process::id()));
    let result = Command::new("cc")
        .args(flags)
        .arg("-I")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(TESTER_INCLUDE_DIR))
        .arg("-o")
        .arg(&tmp)
        .arg(src)
        .args(libs)
        .output()
        .unwrap_or_else(|e| panic!("cannot run cc (a C compiler is needed): {e}"));
    let hint = if libs.is_empty() {
        ""
    } else {
        " (linking a library needs its development package)"
    };
    assert!(
        result.status.success(),
        "cc {} {libs:?} failed{hint}:\n{}",
        src.display(),
        String::from_utf8_lossy(&result.stderr)
    );
    fs::rename(&tmp, target)
        .unwrap_or_else(|e| panic!("rename {} -> {}: {e}", tmp.display(), target.display()));
}

/// A folder of C tester programs (`tests/<src>/*.c`), all compiled on first use into
/// `<src>`'s own folder in cargo's temporary directory for integration tests.
pub struct Testers {
    /// The sources' folder, relative to `tests/`.
    src: &'static str,
    /// The binaries' folder, relative to cargo's temporary directory.
    out: &'static str,
    /// `cc` flags of every tester.
    flags: &'static [&'static str],
    /// Extra `cc` arguments after the source (libraries), by tester name.
    libs: &'static [(&'static str, &'static [&'static str])],
    /// The binaries' folder, once built.
    built: OnceLock<PathBuf>,
}

impl Testers {
    /// The testers of `tests/<src>/`, built into `<out>` with `cc FLAGS ... LIBS`.
    pub const fn new(
        src: &'static str,
        out: &'static str,
        flags: &'static [&'static str],
        libs: &'static [(&'static str, &'static [&'static str])],
    ) -> Self {
        Self {
            src,
            out,
            flags,
            libs,
            built: OnceLock::new(),
        }
    }

    /// The path of compiled tester `name` (`tests/<src>/<name>.c`), building them all first
    /// when this is the first one asked for.
    pub fn path(&self, name: &str) -> PathBuf {
        let path = self.built.get_or_init(|| self.build()).join(name);
        assert!(path.is_file(), "no tester program {}", path.display());
        path
    }

    fn build(&self) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(self.src);
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(self.out);
        mkdir(&out);
        let out = canonical(&out);
        let mut built = 0;
        for entry in fs::read_dir(&src).unwrap_or_else(|e| panic!("read {}: {e}", src.display())) {
            let path = entry.expect("read_dir entry").path();
            if path.extension() != Some(OsStr::new("c")) {
                continue;
            }
            let name = path.file_stem().expect("file stem").to_owned();
            let libs = self
                .libs
                .iter()
                .find(|(n, _)| OsStr::new(n) == name)
                .map_or(&[][..], |(_, libs)| libs);
            compile_c(&path, &out.join(&name), self.flags, libs);
            built += 1;
        }
        assert!(built > 0, "no tester programs in {}", src.display());
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Ground-truth runs: sandbox, running and finished glasshouse
// ---------------------------------------------------------------------------------------------

/// The tracepoints the sensor cannot work without: every receipt of a [`Run`] shows them
/// attached.
/// Whether the running kernel has tracepoint `name`, by its `btf_trace_<name>` type in the
/// kernel's BTF (read independently of the sensor's own parser).
pub fn kernel_has_tracepoint(name: &str) -> bool {
    let btf = std::fs::read("/sys/kernel/btf/vmlinux").expect("the kernel's BTF");
    let wanted = format!("\0btf_trace_{name}\0");
    btf.windows(wanted.len()).any(|w| w == wanted.as_bytes())
}

/// `sensor.complete` is true; or, on a kernel without a tracepoint the sensor uses (6.1 has
/// no `sock_send_length` and `sock_recv_length`), false for that reason alone: every hook
/// not attached is a tracepoint this kernel lacks, reported with its reason and a note, and
/// nothing was lost, truncated or noted as another gap.
pub fn assert_complete_but_for_missing_tracepoints(sensor: &SensorCoverage, context: &str) {
    let unattached: Vec<_> = sensor.hooks.iter().filter(|h| !h.attached).collect();
    if unattached.is_empty() {
        assert!(sensor.complete, "sensor.complete\n{}", context);
        return;
    }
    assert!(!sensor.complete, "hooks missing, yet complete\n{}", context);
    let mut hook_notes = Vec::new();
    for hook in unattached {
        let tracepoint = hook.name.strip_prefix("tp_btf/").unwrap_or(&hook.name);
        assert!(
            !kernel_has_tracepoint(tracepoint),
            "hook {} did not attach though this kernel has it\n{}",
            hook.name,
            context
        );
        assert!(
            hook.error
                .as_deref()
                .is_some_and(|e| e.contains("no tracepoint")),
            "hook {} is not reported with its reason\n{}",
            hook.name,
            context
        );
        let note = sensor
            .notes
            .iter()
            .find(|n| n.starts_with(&format!("hook {} did not attach: ", hook.name)));
        assert!(
            note.is_some_and(|n| n.ends_with("this receipt is incomplete")),
            "no note says what the receipt misses without hook {}\n{}",
            hook.name,
            context
        );
        hook_notes.extend(note);
    }
    assert_eq!(sensor.events_lost, 0, "{}", context);
    assert!(sensor.truncated.is_empty(), "{}", context);
    const GAPS: &[&str] = &[
        "incomplete",
        "missing",
        "could not",
        "not listed",
        "not seen",
        "failed",
    ];
    let other_gaps: Vec<&String> = sensor
        .notes
        .iter()
        .filter(|n| !hook_notes.contains(n) && GAPS.iter().any(|g| n.contains(g)))
        .collect();
    assert_eq!(other_gaps, Vec::<&String>::new(), "{}", context);
}

pub const CORE_HOOKS: &[&str] = &[
    "sched_process_fork",
    "sched_process_exec",
    "sched_process_exit",
    "sys_enter",
    "sys_exit",
];

/// What differs between the suites that run testers under glasshouse.
pub struct Suite {
    /// Prefix of the suite's temporary directories.
    pub prefix: &'static str,
    /// How long one glasshouse run may take before the test gives up (and fails).
    pub run_deadline: Duration,
    /// How long a test waits for a file, a pipe or a connection before it fails.
    pub wait_deadline: Duration,
    /// Hooks the suite relies on besides [`CORE_HOOKS`]: every receipt shows them attached too.
    pub extra_hooks: &'static [&'static str],
}

/// A temporary directory for one test: glasshouse runs in it and writes its receipt there; the
/// tester works in its `w` subdirectory, which nothing else touches.
pub struct Sandbox {
    _dir: tempfile::TempDir,
    suite: &'static Suite,
    /// Canonical path of the temporary directory.
    pub root: PathBuf,
    /// Canonical path of the tester's working directory (`root/w`).
    pub work: PathBuf,
}

impl Sandbox {
    /// A fresh sandbox for a test of `suite`.
    pub fn new(suite: &'static Suite) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(suite.prefix)
            .tempdir()
            .expect("create temp dir");
        let root = canonical(dir.path());
        let work = root.join("w");
        mkdir(&work);
        Self {
            _dir: dir,
            suite,
            root,
            work,
        }
    }

    /// `w/<rel>`.
    pub fn w(&self, rel: &str) -> PathBuf {
        self.work.join(rel)
    }

    /// Starts `glasshouse run --profile host --receipt ROOT/<receipt> FLAGS -- CMD` in ROOT,
    /// with the environment variables `env` set.
    pub fn start(
        &self,
        receipt: &str,
        flags: &[&str],
        env: &[(&str, &str)],
        cmd: &[&OsStr],
    ) -> Running {
        let receipt = self.root.join(receipt);
        let mut command = glasshouse(&self.root);
        command
            .envs(env.iter().copied())
            .args(["run", "--profile", "host", "--receipt"])
            .arg(&receipt)
            .args(flags)
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
            suite: self.suite,
            receipt,
            stdout,
            stderr,
            what,
        }
    }

    /// Runs glasshouse to the end with default options, writing `receipt`.
    pub fn run_as(&self, receipt: &str, cmd: &[&OsStr]) -> Run {
        self.start(receipt, &[], &[], cmd)
            .finish(self.suite.run_deadline)
    }

    /// Runs glasshouse to the end with default options.
    pub fn run(&self, cmd: &[&OsStr]) -> Run {
        self.run_as("receipt.json", cmd)
    }

    /// [`Self::run`], and the command must have exited 0.
    pub fn run_ok(&self, cmd: &[&OsStr]) -> Run {
        let run = self.run(cmd);
        run.assert_exit(0);
        run
    }
}

/// Writes a small file at `path`, making its directory.
pub fn touch(path: &Path) {
    if let Some(dir) = path.parent() {
        mkdir(dir);
    }
    fs::write(path, b"ground truth\n").unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Waits until `path` exists, failing after `deadline`.
pub fn wait_for_file(path: &Path, deadline: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < deadline,
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends SIGKILL to `pid` only when its command line contains `marker` (so a reused pid that
/// is not ours is never touched).
pub fn kill_if_ours(pid: u32, marker: &[u8]) -> bool {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if cmdline.windows(marker.len()).any(|w| w == marker) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        return true;
    }
    false
}

/// A glasshouse process started by a test.
pub struct Running {
    child: Child,
    suite: &'static Suite,
    receipt: PathBuf,
    stdout: mpsc::Receiver<Vec<u8>>,
    stderr: mpsc::Receiver<Vec<u8>>,
    what: String,
}

impl Running {
    /// glasshouse's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Direct children of glasshouse (the command it started).
    pub fn children(&self) -> Vec<u32> {
        let pid = self.pid();
        fs::read_dir(format!("/proc/{pid}/task"))
            .expect("glasshouse's tasks")
            .flatten()
            .map(|task| fs::read_to_string(task.path().join("children")).unwrap_or_default())
            .collect::<String>()
            .split_whitespace()
            .map(|p| p.parse().expect("a pid"))
            .collect()
    }

    /// Ends glasshouse itself with SIGKILL, as a crash would, leaving its tree running.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (at most `deadline`) for glasshouse to exit, then reads and checks its receipt
    /// ([`parse_receipt`], [`Run::check_common`]). Fails when the sensor could not start.
    pub fn finish(mut self, deadline: Duration) -> Run {
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
            rx.recv_timeout(self.suite.wait_deadline)
                .unwrap_or_else(|_| {
                    panic!("glasshouse's {name} stayed open after it exited (a process escaped?)")
                })
        };
        let stdout = pipe(&self.stdout, "stdout");
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
        let (json, receipt) = parse_receipt(&self.receipt, &text);
        let run = Run {
            status,
            stdout,
            stderr,
            json,
            receipt,
            glasshouse_pid: self.child.id(),
            suite: self.suite,
        };
        run.check_common();
        run
    }
}

/// A finished glasshouse run.
pub struct Run {
    /// glasshouse's exit status (the command's, unless glasshouse failed).
    pub status: ExitStatus,
    /// What glasshouse passed through to its stdout.
    pub stdout: Vec<u8>,
    /// What glasshouse wrote to its stderr.
    pub stderr: String,
    /// The receipt as written.
    pub json: Value,
    /// The receipt as the receipt crate reads it.
    pub receipt: Receipt,
    /// glasshouse's pid: the parent of the command's process.
    pub glasshouse_pid: u32,
    suite: &'static Suite,
}

/// Which list of `filesystem` a path is in.
#[derive(Debug, Clone, Copy)]
pub enum List {
    Reads,
    Writes,
    Deletes,
}

impl Run {
    /// What every receipt must hold: the kernel sensor ran with the hooks the suite relies on,
    /// and exactly one process (the root) has glasshouse as its parent.
    pub fn check_common(&self) {
        let sensor = &self.json["sensor"];
        assert_eq!(
            sensor["kind"], "ebpf",
            "the kernel sensor did not run: {sensor:#}\nstderr:\n{}",
            self.stderr
        );
        let hooks = sensor["hooks"].as_array().cloned().unwrap_or_default();
        for hook in CORE_HOOKS.iter().chain(self.suite.extra_hooks) {
            // `a|b`: the tracepoint's name differs between kernel versions.
            let names: Vec<&str> = hook.split('|').collect();
            let named = |h: &Value| {
                h["name"]
                    .as_str()
                    .is_some_and(|n| names.iter().any(|name| n.ends_with(name)))
            };
            if hooks.iter().any(|h| h["attached"] == true && named(h)) {
                continue;
            }
            // Only a tracepoint this kernel does not have may be missing, and then the receipt
            // must say so: the hook with its reason, incomplete, a note.
            assert!(
                names.iter().all(|name| !kernel_has_tracepoint(name)),
                "hook {hook} is not attached: {sensor:#}"
            );
            assert!(
                hooks.iter().any(|h| named(h)
                    && h["attached"] == false
                    && h["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("no tracepoint"))),
                "hook {hook}, which this kernel lacks, is not reported with its reason: {sensor:#}"
            );
            let noted = sensor["notes"].as_array().is_some_and(|notes| {
                notes.iter().any(|n| {
                    n.as_str().is_some_and(|n| {
                        n.contains("did not attach") && names.iter().any(|m| n.contains(m))
                    })
                })
            });
            assert!(
                sensor["complete"] == false && noted,
                "a receipt without hook {hook} must be incomplete and say what it misses: {sensor:#}"
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
    pub fn root(&self) -> &ProcessNode {
        self.receipt
            .process_tree
            .iter()
            .find(|p| p.ppid == self.glasshouse_pid)
            .expect("root process (checked when the run finished)")
    }

    /// glasshouse exited with `code` (the command's).
    pub fn assert_exit(&self, code: i32) {
        assert_eq!(
            self.status.code(),
            Some(code),
            "glasshouse exit status (the command's); stderr:\n{}\n{}",
            self.stderr,
            self.excerpt()
        );
    }

    /// `filesystem`'s list `which`.
    pub fn list(&self, which: List) -> &[OsText] {
        let fs = &self.receipt.filesystem;
        match which {
            List::Reads => &fs.reads,
            List::Writes => &fs.writes,
            List::Deletes => &fs.deletes,
        }
    }

    /// The paths of list `which` at or below `dir`.
    pub fn under(&self, which: List, dir: &Path) -> BTreeSet<PathBuf> {
        self.list(which)
            .iter()
            .map(path_of)
            .filter(|p| p.starts_with(dir))
            .collect()
    }

    /// Every path of every list (and every failed target) at or below `dir`.
    pub fn anything_under(&self, dir: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = [List::Reads, List::Writes, List::Deletes]
            .into_iter()
            .flat_map(|l| self.under(l, dir))
            .collect();
        found.extend(
            self.receipt
                .filesystem
                .failed
                .iter()
                .filter_map(|f| f.target.as_ref().map(path_of))
                .filter(|p| p.starts_with(dir)),
        );
        found
    }

    /// The reads, writes and deletes at or below `dir` are exactly the given ones.
    pub fn assert_files(
        &self,
        dir: &Path,
        reads: &[PathBuf],
        writes: &[PathBuf],
        deletes: &[PathBuf],
    ) {
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
            self.excerpt_under(dir)
        );
    }

    /// The executable file of process `node` is `expected`.
    pub fn assert_exe(&self, node: &ProcessNode, expected: &Path) {
        assert_eq!(
            path_of(&node.exe),
            expected,
            "exe of process {}\n{}",
            node.pid,
            self.excerpt()
        );
    }

    /// Processes whose argv is exactly `argv`.
    pub fn with_argv(&self, argv: &[&[u8]]) -> Vec<&ProcessNode> {
        self.receipt
            .process_tree
            .iter()
            .filter(|p| {
                p.argv.len() == argv.len()
                    && p.argv.iter().zip(argv).all(|(a, b)| a.as_bytes() == *b)
            })
            .collect()
    }

    /// The one process whose argv is exactly `argv`.
    pub fn one_with_argv(&self, argv: &[&[u8]]) -> &ProcessNode {
        let found = self.with_argv(argv);
        assert_eq!(
            found.len(),
            1,
            "expected exactly one process with argv {:?}\n{}",
            argv.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>(),
            self.excerpt()
        );
        found[0]
    }

    /// The process `pid`, which must be in the tree.
    pub fn process(&self, pid: u32) -> &ProcessNode {
        self.receipt
            .process_tree
            .iter()
            .find(|p| p.pid == pid)
            .unwrap_or_else(|| panic!("no process {pid} in the tree\n{}", self.excerpt()))
    }

    /// The pids of the process tree.
    pub fn pids(&self) -> BTreeSet<u32> {
        self.receipt.process_tree.iter().map(|p| p.pid).collect()
    }

    /// Every process's parent is glasshouse or another process of the tree.
    pub fn assert_tree_closed(&self) {
        let pids = self.pids();
        for p in &self.receipt.process_tree {
            assert!(
                p.ppid == self.glasshouse_pid || pids.contains(&p.ppid),
                "process {} has a parent ({}) outside the tree\n{}",
                p.pid,
                p.ppid,
                self.excerpt()
            );
        }
    }

    /// `network.attempts` as written.
    pub fn attempts(&self) -> &Value {
        &self.json["network"]["attempts"]
    }

    /// `network.attempts` is exactly `expected`.
    pub fn assert_attempts(&self, expected: Value) {
        assert_eq!(
            self.attempts(),
            &expected,
            "network.attempts differ\n{}",
            self.excerpt()
        );
    }

    /// The entries of `filesystem.failed` that satisfy `pred`, as written.
    pub fn failed_where(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.json["filesystem"]["failed"]
            .as_array()
            .map(|a| a.iter().filter(|f| pred(f)).cloned().collect())
            .unwrap_or_default()
    }

    /// `syscalls.denied` as written.
    pub fn denied(&self) -> Vec<Value> {
        self.json["syscalls"]["denied"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The `sensor` section, which every [`Run`] has.
    pub fn sensor(&self) -> &SensorCoverage {
        self.receipt.sensor.as_ref().expect("sensor section")
    }

    /// `sensor.complete` is true, or false only for hooks this kernel lacks: see
    /// [`assert_complete_but_for_missing_tracepoints`].
    pub fn assert_complete(&self) {
        assert_complete_but_for_missing_tracepoints(self.sensor(), &self.excerpt());
    }

    /// `syscalls.counts.<name>`, 0 when absent.
    pub fn syscall_count(&self, name: &str) -> u64 {
        self.receipt.syscalls.counts.get(name).copied().unwrap_or(0)
    }

    /// The parts of the receipt a failure message needs: the process tree (its first 50
    /// entries), the file lists and failed operations (40 entries each), the network, the
    /// denied and io_uring operations and the sensor.
    pub fn excerpt(&self) -> String {
        self.excerpt_of(None)
    }

    /// [`Self::excerpt`] with the file lists and failed operations cut to those at or below
    /// `dir`.
    pub fn excerpt_under(&self, dir: &Path) -> String {
        self.excerpt_of(Some(dir))
    }

    fn excerpt_of(&self, dir: Option<&Path>) -> String {
        let in_dir = |p: &Path| dir.is_none_or(|d| p.starts_with(d));
        let files = |which: List| -> Vec<String> {
            self.list(which)
                .iter()
                .filter(|t| in_dir(&path_of(t)))
                .take(40)
                .map(|t| t.display_lossy().into_owned())
                .collect()
        };
        let failed: Vec<&Value> = self.json["filesystem"]["failed"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|f| {
                        dir.is_none() || f["target"].as_str().is_some_and(|t| in_dir(Path::new(t)))
                    })
                    .take(40)
                    .collect()
            })
            .unwrap_or_default();
        let tree: Vec<&Value> = self.json["process_tree"]
            .as_array()
            .map(|all| all.iter().take(50).collect())
            .unwrap_or_default();
        let excerpt = json!({
            "process_tree (first 50)": tree,
            "process_tree length": self.receipt.process_tree.len(),
            "filesystem (first 40 of each list)": {
                "reads": files(List::Reads),
                "writes": files(List::Writes),
                "deletes": files(List::Deletes),
                "failed": failed,
            },
            "network": self.json["network"],
            "syscalls.denied": self.json["syscalls"]["denied"],
            "syscalls.io_uring": self.json["syscalls"]["io_uring"],
            "sensor": self.json["sensor"],
        });
        format!(
            "receipt excerpt (glasshouse pid {}, file lists {}):\n{}",
            self.glasshouse_pid,
            dir.map_or_else(
                || "unfiltered".to_owned(),
                |d| format!("under {}", d.display())
            ),
            serde_json::to_string_pretty(&excerpt).unwrap_or_default()
        )
    }
}

/// Waits at most `deadline` for `child` to end; past it, kills it and fails with `what`.
pub fn wait_within(
    child: &mut std::process::Child,
    deadline: Duration,
    what: &str,
) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// Terminals
// ---------------------------------------------------------------------------------------------

/// A new pseudo-terminal: its master and the path of its slave.
pub fn open_pty() -> (std::os::fd::OwnedFd, std::ffi::CString) {
    use std::os::fd::FromRawFd as _;
    // SAFETY: posix_openpt/grantpt/unlockpt/ptsname_r are called as documented, on the
    // descriptor just opened and a buffer of the size passed.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let slave = std::ffi::CStr::from_ptr(name.as_ptr()).to_owned();
        (std::os::fd::OwnedFd::from_raw_fd(master), slave)
    }
}

/// Makes `cmd` the leader of a new session whose controlling terminal is the pty `slave`, with
/// the slave as each of the descriptors `fds` (an interactive shell's job, in its own terminal).
pub fn on_terminal(cmd: &mut Command, slave: std::ffi::CString, fds: &'static [i32]) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: between fork and exec only async-signal-safe calls: setsid, open, ioctl, dup2,
    // close, signal.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let fd = libc::open(slave.as_ptr(), libc::O_RDWR);
            if fd < 0 || libc::ioctl(fd, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for &target in fds {
                libc::dup2(fd, target);
            }
            if !fds.contains(&fd) {
                libc::close(fd);
            }
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
}

/// Reads everything from a pty's master until its last slave is closed (EIO), on a thread.
/// The bytes read so far are shared, so a test can wait for a line before it acts.
pub fn read_master(
    master: std::os::fd::OwnedFd,
) -> (
    std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    std::thread::JoinHandle<()>,
) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let shared = std::sync::Arc::clone(&seen);
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match rustix::io::read(&master, &mut buf) {
                Ok(0) => return,
                Ok(n) => shared.lock().unwrap().extend_from_slice(&buf[..n]),
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
        }
    });
    (seen, thread)
}

/// Waits until `seen` holds `text`, for at most `deadline`.
pub fn wait_for_output(seen: &std::sync::Mutex<Vec<u8>>, text: &str, deadline: Duration) {
    let start = Instant::now();
    loop {
        let now = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
        if now.contains(text) {
            return;
        }
        assert!(
            start.elapsed() < deadline,
            "{text:?} never appeared on the terminal; it shows {now:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `glasshouse keygen --key KEY`, run in `dir`; it must succeed.
pub fn keygen(dir: &Path, key: &Path) {
    let out = glasshouse(dir)
        .args(["keygen", "--key"])
        .arg(key)
        .output()
        .unwrap();
    assert!(out.status.success(), "keygen {}: {out:?}", key.display());
}

/// Each of `cases` (arguments of `run --profile host`, and what stderr must say) is refused with
/// exit 125 before the command (`touch ran`, in `dir`) runs.
pub fn assert_refused_before_running(dir: &Path, cases: &[(Vec<&str>, &str)]) {
    for (args, message) in cases {
        let out = glasshouse(dir)
            .args(["run", "--profile", "host", "--receipt"])
            .arg(dir.join("r.json"))
            .args(args)
            .args(["--", "touch", "ran"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!dir.join("ran").exists(), "{args:?} ran the command");
    }
}

/// Runs `sh -c script` under `--profile host --backend namespace` plus `args`, in `dir`.
pub fn run_ns(dir: &Path, args: &[&str], script: &str) -> (std::process::Output, Value) {
    let receipt = dir.join("receipt.json");
    let mut cmd = glasshouse(dir);
    cmd.args([
        "run",
        "--profile",
        "host",
        "--quiet",
        "--backend",
        "namespace",
        "--receipt",
    ])
    .arg(&receipt)
    .args(args)
    .args(["--", "sh", "-c", script]);
    for v in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
        cmd.env_remove(v).env_remove(v.to_ascii_uppercase());
    }
    let out = cmd.output().expect("run glasshouse");
    assert!(
        receipt.exists(),
        "no receipt; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = read_receipt(&receipt);
    (out, value)
}

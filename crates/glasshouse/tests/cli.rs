//! End-to-end tests of the `glasshouse` command line: exit codes, signal forwarding, stdio
//! passthrough, output hashes, receipt atomicity and schema conformance.
//!
//! Every test runs glasshouse in its own temporary directory (its current directory), so the
//! default `./receipt.json` never lands in the source tree and tests never see each other's files.
//! Every receipt a test reads goes through [`read_receipt`], which validates it against the
//! committed JSON Schema.
//!
//! The assertions hold with and without the kernel sensor: they check what the process backend
//! fills (outcome, artifacts, environment, execution, the root process), never `sensor.kind`.
//! There are no timing assertions; waits poll with a generous deadline and fail (after ending the
//! processes they started) instead of hanging.

mod common;

use common::{glasshouse, read_receipt, schema_path, validator};
use serde_json::Value;
use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// SHA-256 of the empty string.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How long a test waits for a process or a file before it gives up and fails.
const DEADLINE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A temporary directory that is the current directory of the glasshouse runs of one test.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("create temp dir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The directory as the kernel names it (what `getcwd` returns in the child).
    fn canonical(&self) -> PathBuf {
        fs::canonicalize(self.path()).expect("canonicalize temp dir")
    }

    /// A `glasshouse` command with this directory as its current directory, a defined signal
    /// disposition and no environment variable that changes what glasshouse records.
    fn std_cmd(&self) -> std::process::Command {
        let mut cmd = glasshouse(self.path());
        // SAFETY: the closure only makes async-signal-safe libc calls (signal, sigemptyset,
        // sigprocmask), as pre_exec requires between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // A test harness started in the background may ignore SIGINT/SIGQUIT, and ignored
                // signals survive exec: reset them so a forwarded signal does what it says.
                for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                Ok(())
            });
        }
        cmd
    }

    /// [`Self::std_cmd`] as an `assert_cmd` command with the given arguments.
    fn cmd<I, S>(&self, args: I) -> assert_cmd::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut std_cmd = self.std_cmd();
        std_cmd.args(args);
        let mut cmd = assert_cmd::Command::from_std(std_cmd);
        cmd.timeout(Duration::from_secs(120));
        cmd
    }

    /// Runs `glasshouse run --profile host FLAGS -- COMMAND`, which must exit `code`.
    fn run_profiled(
        &self,
        flags: &[&str],
        command: &[&str],
        code: i32,
    ) -> assert_cmd::assert::Assert {
        self.cmd(["run", "--profile", "host"])
            .args(flags)
            .arg("--")
            .args(command)
            .assert()
            .code(code)
    }

    /// Runs `glasshouse OPTIONS -- COMMAND` with `input` on its stdin; it must exit 0. Returns
    /// what it wrote.
    fn run_with_input(&self, options: &[&str], command: &[&str], input: &[u8]) -> Output {
        let assert = self
            .cmd(options)
            .arg("--")
            .args(command)
            .write_stdin(input.to_vec())
            .assert()
            .code(0);
        assert.get_output().clone()
    }

    /// Runs `glasshouse OPTIONS -- COMMAND`, which must exit `code` and say `needle` on stderr;
    /// returns what it said there.
    fn assert_fails(&self, options: &[&str], command: &[&str], code: i32, needle: &str) -> String {
        let out = self
            .cmd(options)
            .arg("--")
            .args(command)
            .assert()
            .code(code);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(stderr.contains(needle), "{stderr}");
        stderr
    }

    /// The names of the directory's entries, sorted.
    fn entries(&self) -> Vec<String> {
        names_in(self.path())
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Checks the fields of a `--profile host` receipt that the process backend fills, whatever
/// the sensor: identity, environment, execution, the legacy copies and, when the command
/// started, its process node.
fn assert_host_receipt(r: &Value, sandbox: &Sandbox, argv: &[&str], started: bool) {
    assert_eq!(r["provenance"], "host", "{r:#}");
    let id = r["execution_id"].as_str().expect("execution_id");
    assert_eq!(id.len(), 36, "execution_id is a UUID: {id}");
    let ts = r["timestamp"].as_str().expect("timestamp");
    assert!(
        ts.contains('T') && (ts.ends_with('Z') || ts.contains('+')),
        "timestamp is RFC 3339: {ts}"
    );
    assert_eq!(r["execution"]["backend"], "process");
    assert_eq!(r["execution"]["isolation"], "none");
    assert_eq!(r["environment"]["os"], "linux");
    assert!(!r["environment"]["arch"].as_str().unwrap().is_empty());
    let program = Path::new(argv[0]).file_name().unwrap().to_str().unwrap();
    assert_eq!(r["environment"]["runtime"], program);
    assert_eq!(r["environment"]["sandbox"]["network"], "enabled");
    let cwd = sandbox.canonical();
    assert_eq!(
        r["environment"]["working_dir"],
        cwd.to_str().unwrap(),
        "environment.working_dir is the directory glasshouse ran in"
    );
    assert_eq!(r["duration_ms"], r["timing"]["duration_ms"]);
    for hash in ["stdout_hash", "stderr_hash"] {
        let h = r["artifacts"][hash].as_str().unwrap();
        assert!(
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "artifacts.{hash} is lowercase hex SHA-256: {h}"
        );
    }
    if started {
        // The command's process. A shell may exec its last command in place (`sh -c 'exec
        // sleep 30'`); a kernel sensor then records the later image as the process's argv and
        // the earlier ones in `execs`, so the command's argv is found in either.
        let wanted = serde_json::json!(argv);
        let tree = r["process_tree"].as_array().expect("process_tree");
        let root = tree
            .iter()
            .find(|p| {
                p["argv"] == wanted
                    || p["execs"]
                        .as_array()
                        .is_some_and(|execs| execs.iter().any(|e| e["argv"] == wanted))
            })
            .unwrap_or_else(|| panic!("no process with argv {argv:?} in {tree:#?}"));
        assert_eq!(root["working_dir"], cwd.to_str().unwrap());
        let exe = root["exe"].as_str().expect("exe is text");
        assert!(exe.starts_with('/'), "exe is an absolute path: {exe}");
        let pid = root["pid"].as_u64().unwrap();
        assert!(pid > 0);
        let legacy = r["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pid"].as_u64() == Some(pid))
            .unwrap_or_else(|| panic!("no legacy process entry for pid {pid}: {r:#}"));
        let root_cmd: Vec<&str> = root["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().expect("argv is text"))
            .collect();
        assert_eq!(legacy["cmd"], root_cmd.join(" "));
    }
}

/// The receipt `name` of a `--profile host` run of `argv` in `sandbox`, read with
/// [`read_receipt`] and checked with [`assert_host_receipt`].
fn host_receipt(sandbox: &Sandbox, name: &str, argv: &[&str], started: bool) -> Value {
    let r = read_receipt(&sandbox.join(name));
    assert_host_receipt(&r, sandbox, argv, started);
    r
}

/// The receipt says the command exited by itself with `code`, and so did glasshouse.
fn assert_exited(r: &Value, code: i32) {
    assert_eq!(r["outcome"]["exit_code"], code, "{r:#}");
    assert!(r["outcome"]["signal"].is_null(), "{r:#}");
    assert!(r["outcome"]["error"].is_null(), "{r:#}");
    assert_eq!(r["exit_code"], code);
}

/// The receipt says signal `sig` killed the command, and glasshouse exited `code` (128 + sig).
fn assert_killed(r: &Value, sig: i32, code: i32) {
    assert_eq!(r["outcome"]["signal"], sig, "{r:#}");
    assert!(
        r["outcome"]["exit_code"].is_null(),
        "a process killed by a signal has no exit status: {r:#}"
    );
    assert_eq!(r["exit_code"], code);
}

/// Lowercase hex SHA-256 of `data`, computed by `sha256sum` (independently of glasshouse).
fn sha256_hex(data: &[u8]) -> String {
    let mut child = std::process::Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    // sha256sum writes nothing before end of input, so writing everything first cannot block.
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "sha256sum failed");
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// The receipt's `artifacts` say the command wrote exactly `stdout` to its stdout and `stderr`
/// to its stderr: their SHA-256 (computed by [`sha256_hex`]) and sizes.
fn assert_artifacts(r: &Value, stdout: &[u8], stderr: &[u8]) {
    let artifacts = &r["artifacts"];
    assert_eq!(
        artifacts["stdout_hash"],
        sha256_hex(stdout).as_str(),
        "{r:#}"
    );
    assert_eq!(artifacts["stdout_bytes"], stdout.len(), "{r:#}");
    assert_eq!(
        artifacts["stderr_hash"],
        sha256_hex(stderr).as_str(),
        "{r:#}"
    );
    assert_eq!(artifacts["stderr_bytes"], stderr.len(), "{r:#}");
}

/// Every byte value, repeated to 1 MiB.
fn all_bytes_mib() -> Vec<u8> {
    (0..=255u8).cycle().take(1 << 20).collect()
}

/// Writes `text` to `path` and gives it the permission bits `mode`.
fn write_with_mode(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The permission bits of `path`.
fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Sends `sig` to `pid`.
fn send(pid: u32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// A glasshouse process started by a test, ended for sure if the test fails.
struct Running {
    child: Child,
    /// The command's pid, once known: ended too if the test fails.
    command_pid: Option<u32>,
}

impl Running {
    fn spawn(mut cmd: std::process::Command) -> Self {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start glasshouse");
        Self {
            child,
            command_pid: None,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Ends what this test started and fails with `why`.
    fn fail(&mut self, why: &str) -> ! {
        if let Some(pid) = self.command_pid {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("{why}; glasshouse stderr:\n{}", self.stderr());
    }

    fn stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut s);
        }
        s
    }

    /// Waits for the command to write its pid to `ready` (via a rename, so it is whole).
    fn wait_ready(&mut self, ready: &Path) -> u32 {
        let start = Instant::now();
        loop {
            if let Ok(text) = fs::read_to_string(ready) {
                if let Ok(pid) = text.trim().parse::<u32>() {
                    self.command_pid = Some(pid);
                    return pid;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.fail(&format!(
                    "glasshouse exited ({status}) before the command was ready"
                ));
            }
            if start.elapsed() > DEADLINE {
                self.fail(&format!("{} did not appear", ready.display()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until glasshouse has a handler installed for `sig` (so the signal is forwarded
    /// rather than killing glasshouse by its default action).
    fn wait_handler(&mut self, sig: i32) {
        let start = Instant::now();
        let status = format!("/proc/{}/status", self.pid());
        loop {
            let caught = fs::read_to_string(&status).ok().and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            });
            if caught.is_some_and(|mask| mask & (1u64 << (sig - 1)) != 0) {
                return;
            }
            if start.elapsed() > DEADLINE {
                self.fail(&format!(
                    "glasshouse never installed a handler for signal {sig}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for glasshouse to exit; returns its status and stderr.
    fn wait(mut self) -> (ExitStatus, String) {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    let stderr = self.stderr();
                    return (status, stderr);
                }
                Ok(None) => {}
                Err(e) => self.fail(&format!("try_wait: {e}")),
            }
            if start.elapsed() > DEADLINE {
                self.fail("glasshouse did not exit in time");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A shell script that reports its pid in `./ready` once it is set up.
const ANNOUNCE: &str = "echo $$ > ready.tmp && mv ready.tmp ready";

/// Starts `glasshouse OPTIONS -- sh -c SCRIPT` in `sb` (the script runs [`ANNOUNCE`] once it is
/// set up), waits until the script is ready and glasshouse handles `sig`, sends `sig` to
/// glasshouse and waits for it to exit. Returns the script's pid, glasshouse's exit status and
/// what it wrote to stderr.
fn signal_when_ready(
    sb: &Sandbox,
    options: &[&str],
    script: &str,
    sig: i32,
) -> (u32, ExitStatus, String) {
    let mut cmd = sb.std_cmd();
    cmd.args(options).args(["--", "sh", "-c", script]);
    let mut gh = Running::spawn(cmd);
    let command = gh.wait_ready(&sb.join("ready"));
    gh.wait_handler(sig);
    send(gh.pid(), sig);
    let (status, stderr) = gh.wait();
    (command, status, stderr)
}

// ---------------------------------------------------------------------------------------------
// 1. Exit codes
// ---------------------------------------------------------------------------------------------

#[test]
fn exit_zero_passes_through() {
    let sb = Sandbox::new();
    sb.cmd(["run", "--", "true"]).assert().code(0);

    let argv = ["sh", "-c", "exit 0"];
    sb.run_profiled(&["--quiet"], &argv, 0);
    let r = host_receipt(&sb, "receipt.json", &argv, true);
    assert_exited(&r, 0);
}

#[test]
fn nonzero_exit_code_passes_through() {
    let sb = Sandbox::new();
    sb.cmd(["run", "--", "sh", "-c", "exit 3"]).assert().code(3);

    let argv = ["sh", "-c", "exit 3"];
    sb.run_profiled(&[], &argv, 3);
    let r = host_receipt(&sb, "receipt.json", &argv, true);
    assert_exited(&r, 3);
}

#[test]
fn killed_by_signal_exits_128_plus_n() {
    for (sig, name) in [(9, "KILL"), (15, "TERM")] {
        let sb = Sandbox::new();
        let script = format!("kill -{name} $$");
        let argv = ["sh", "-c", script.as_str()];
        let code = 128 + sig;

        sb.cmd(["run", "--"]).args(argv).assert().code(code);

        sb.run_profiled(&["--receipt", "r.json"], &argv, code);
        let r = host_receipt(&sb, "r.json", &argv, true);
        assert_killed(&r, sig, code);
    }
}

#[test]
fn command_not_found_exits_127() {
    let sb = Sandbox::new();
    let missing = "glasshouse-test-no-such-command";
    let stderr = sb.assert_fails(&["run"], &[missing], 127, missing);
    assert!(stderr.contains("not found"), "{stderr}");
    assert!(sb.entries().is_empty(), "no receipt without --profile");

    sb.run_profiled(&[], &[missing, "arg"], 127);
    let r = host_receipt(&sb, "receipt.json", &[missing, "arg"], false);
    assert_eq!(r["outcome"]["exit_code"], 127);
    assert!(r["outcome"]["signal"].is_null());
    let error = r["outcome"]["error"]
        .as_str()
        .expect("outcome.error says why");
    assert!(error.contains("not found"), "{error}");
    assert_eq!(r["exit_code"], 127);
    assert_eq!(r["artifacts"]["stdout_hash"], EMPTY_SHA256);
    assert_eq!(r["artifacts"]["stderr_hash"], EMPTY_SHA256);
}

#[test]
fn command_not_executable_exits_126() {
    let sb = Sandbox::new();
    let script = sb.join("script.sh");
    write_with_mode(&script, "#!/bin/sh\ntouch ran\n", 0o644);
    let path = script.to_str().unwrap();

    sb.cmd(["run", "--", path]).assert().code(126);

    sb.run_profiled(&[], &[path], 126);
    let r = host_receipt(&sb, "receipt.json", &[path], false);
    assert_eq!(r["outcome"]["exit_code"], 126);
    assert!(r["outcome"]["error"].is_string(), "{r:#}");
    assert_eq!(r["exit_code"], 126);
    assert!(!sb.join("ran").exists());
}

#[test]
fn bad_flag_exits_125_and_does_not_run_the_command() {
    let sb = Sandbox::new();
    sb.assert_fails(&["run", "--bogus"], &["touch", "marker"], 125, "--bogus");
    assert!(sb.entries().is_empty(), "{:?}", sb.entries());

    // `run` with no command at all is a usage error too.
    sb.cmd(["run"]).assert().code(125);
}

#[test]
fn guest_profile_exits_125_and_does_not_run_the_command() {
    let sb = Sandbox::new();
    for profile in ["guest", "combined"] {
        let options = ["run", "--profile", profile];
        sb.assert_fails(&options, &["touch", "marker"], 125, profile);
        assert!(
            !sb.join("marker").exists(),
            "--profile {profile} ran the command"
        );
        assert!(sb.entries().is_empty(), "{:?}", sb.entries());
    }
}

#[test]
fn unwritable_receipt_path_exits_125_and_does_not_run_the_command() {
    let sb = Sandbox::new();
    let options = [
        "run",
        "--profile",
        "host",
        "--receipt",
        "no-such-dir/receipt.json",
    ];
    sb.assert_fails(&options, &["touch", "marker"], 125, "no-such-dir");
    assert!(!sb.join("marker").exists(), "the command ran");
    assert!(sb.entries().is_empty(), "{:?}", sb.entries());
}

#[test]
fn receipt_write_failure_after_the_run_uses_the_fallback_and_exits_121() {
    // The directory exists when glasshouse checks it and is gone when the receipt is written:
    // the command ran, so the receipt goes to the fallback location ($TMPDIR) and the exit is 121.
    let sb = Sandbox::new();
    let fallback = tempfile::tempdir().unwrap();
    fs::create_dir(sb.join("out")).unwrap();
    let out = sb
        .cmd(["run", "--profile", "host", "--receipt", "out/receipt.json"])
        .env("TMPDIR", fallback.path())
        .args(["--", "sh", "-c", "rmdir out && touch marker"])
        .assert()
        .code(121);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(sb.join("marker").exists(), "the command ran");
    assert_eq!(sb.entries(), ["marker"]);
    let kept = names_in(fallback.path());
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].starts_with("glasshouse-receipt-"), "{kept:?}");
    assert!(stderr.contains(&kept[0]), "{stderr}");
    read_receipt(&fallback.path().join(&kept[0]));
}

#[test]
fn receipt_write_failure_everywhere_prints_the_receipt_on_stderr_and_exits_123() {
    let sb = Sandbox::new();
    fs::create_dir(sb.join("out")).unwrap();
    let out = sb
        .cmd(["run", "--profile", "host", "--receipt", "out/receipt.json"])
        .env("TMPDIR", sb.join("no-such-dir"))
        .args(["--", "sh", "-c", "rmdir out && touch marker"])
        .assert()
        .code(123);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(sb.join("marker").exists(), "the command ran");
    assert!(stderr.contains("printed on stderr"), "{stderr}");
    let start = stderr.find("{\n").expect("the receipt is on stderr");
    let end = stderr[start..].find("\n}\n").expect("the receipt ends") + start + 2;
    let receipt: Value = serde_json::from_str(&stderr[start..end]).expect("the receipt is JSON");
    assert_eq!(receipt["exit_code"], 0);
}

// ---------------------------------------------------------------------------------------------
// 2. Signal forwarding
// ---------------------------------------------------------------------------------------------

#[test]
fn sigterm_is_forwarded_to_a_command_that_traps_it() {
    let script = format!(
        "trap 'echo got-term > seen; exit 143' TERM; {ANNOUNCE}; while :; do sleep 0.05; done"
    );
    for profile in [false, true] {
        let sb = Sandbox::new();
        let options: &[&str] = if profile {
            &["run", "--profile", "host"]
        } else {
            &["run"]
        };
        let (_, status, stderr) = signal_when_ready(&sb, options, &script, libc::SIGTERM);
        assert_eq!(status.code(), Some(143), "profile={profile}: {stderr}");
        assert_eq!(
            fs::read_to_string(sb.join("seen")).unwrap_or_default(),
            "got-term\n",
            "profile={profile}: the command's trap did not run"
        );
        if profile {
            let r = host_receipt(&sb, "receipt.json", &["sh", "-c", &script], true);
            assert_exited(&r, 143);
        } else {
            assert!(!sb.join("receipt.json").exists());
        }
    }
}

#[test]
fn sigterm_and_sighup_are_forwarded_to_a_command_that_does_not_trap_them() {
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
        let sb = Sandbox::new();
        let script = format!("{ANNOUNCE}; exec sleep 30");
        let (command, status, stderr) = signal_when_ready(&sb, &["run"], &script, sig);
        assert_eq!(status.code(), Some(code), "signal {sig}: {stderr}");
        let comm = fs::read_to_string(format!("/proc/{command}/comm"));
        assert!(
            !matches!(comm.as_deref().map(str::trim), Ok("sleep")),
            "the command outlived glasshouse"
        );
    }
}

#[test]
fn sigint_is_forwarded_and_the_receipt_is_still_written() {
    let sb = Sandbox::new();
    let script = format!("{ANNOUNCE}; exec sleep 30");
    let options = ["run", "--profile", "host", "--receipt", "r.json"];
    let (_, status, stderr) = signal_when_ready(&sb, &options, &script, libc::SIGINT);
    assert_eq!(status.code(), Some(130), "{stderr}");
    let r = host_receipt(&sb, "r.json", &["sh", "-c", &script], true);
    assert_killed(&r, libc::SIGINT, 130);
    assert_eq!(mode_of(&sb.join("r.json")), 0o600);
}

// ---------------------------------------------------------------------------------------------
// 3. Stdio passthrough
// ---------------------------------------------------------------------------------------------

#[test]
fn binary_stdin_and_stdout_pass_through_unchanged() {
    let data = all_bytes_mib();
    let sb = Sandbox::new();

    // Plain runner: inherited descriptors.
    let o = sb.run_with_input(&["run"], &["cat"], &data);
    assert!(o.stdout == data, "stdout differs from stdin (plain runner)");
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Profiled: stdout goes through glasshouse's tee.
    let o = sb.run_with_input(&["run", "--profile", "host", "--quiet"], &["cat"], &data);
    assert_eq!(o.stdout.len(), data.len());
    assert!(
        o.stdout == data,
        "stdout differs from stdin (--profile host)"
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = host_receipt(&sb, "receipt.json", &["cat"], true);
    assert_artifacts(&r, &data, b"");
}

#[test]
fn binary_stderr_passes_through_unchanged() {
    let data = all_bytes_mib();
    let expected_hash = sha256_hex(&data);
    let sb = Sandbox::new();
    let argv = ["sh", "-c", "cat >&2"];

    // Plain runner: exactly the command's bytes.
    let o = sb.run_with_input(&["run"], &argv, &data);
    assert!(o.stdout.is_empty());
    assert!(o.stderr == data, "stderr differs (plain runner)");

    // Profiled with --quiet: exactly the command's bytes.
    let o = sb.run_with_input(&["run", "--profile", "host", "--quiet"], &argv, &data);
    assert!(o.stdout.is_empty());
    assert_eq!(o.stderr.len(), data.len(), "stderr length (--quiet)");
    assert!(o.stderr == data, "stderr differs (--profile host --quiet)");
    let r = host_receipt(&sb, "receipt.json", &argv, true);
    assert_artifacts(&r, b"", &data);

    // Profiled with the summary: the command's bytes first, then glasshouse's own lines.
    let o = sb.run_with_input(&["run", "--profile", "host"], &argv, &data);
    assert!(
        o.stderr.starts_with(&data),
        "the command's stderr is not passed through whole before glasshouse's summary"
    );
    let own = String::from_utf8(o.stderr[data.len()..].to_vec()).expect("summary is text");
    assert!(!own.is_empty(), "no summary without --quiet");
    assert!(own.ends_with('\n'), "{own:?}");
    for line in own.lines() {
        assert!(line.starts_with("glasshouse: "), "{line:?}");
    }
    assert!(own.contains("receipt.json"), "{own}");
    // The summary is glasshouse's, not the command's: the hash covers only the command's bytes.
    let r = read_receipt(&sb.join("receipt.json"));
    assert_eq!(r["artifacts"]["stderr_hash"], expected_hash.as_str());
}

// ---------------------------------------------------------------------------------------------
// 4. Output hashes
// ---------------------------------------------------------------------------------------------

#[test]
fn sha256_helper_matches_known_values() {
    assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

/// Runs `sh -c SCRIPT` under `--profile host --quiet`: the script's output must pass through as
/// exactly `stdout` and `stderr`, and the receipt must hash and count exactly those bytes.
fn assert_output_hashed(script: &str, stdout: &[u8], stderr: &[u8]) {
    let sb = Sandbox::new();
    let argv = ["sh", "-c", script];
    let out = sb.run_profiled(&["--quiet"], &argv, 0);
    assert_eq!(out.get_output().stdout, stdout);
    assert_eq!(out.get_output().stderr, stderr);
    let r = host_receipt(&sb, "receipt.json", &argv, true);
    assert_artifacts(&r, stdout, stderr);
}

#[test]
fn stdout_hash_and_size_match_what_the_command_wrote() {
    assert_output_hashed(
        "printf 'glasshouse hash test\\n'; printf 'line two'",
        b"glasshouse hash test\nline two",
        b"",
    );
}

#[test]
fn stdout_and_stderr_are_hashed_separately() {
    assert_output_hashed(
        "printf to-out; printf to-err >&2; printf more-out",
        b"to-outmore-out",
        b"to-err",
    );
}

#[test]
fn empty_output_hashes_to_sha256_of_nothing() {
    let sb = Sandbox::new();
    sb.run_profiled(&[], &["true"], 0).stdout("");
    let r = host_receipt(&sb, "receipt.json", &["true"], true);
    assert_artifacts(&r, b"", b"");
}

// ---------------------------------------------------------------------------------------------
// 5. Receipt atomicity
// ---------------------------------------------------------------------------------------------

#[test]
fn receipt_is_0600_at_the_default_path_and_leaves_no_temp_files() {
    let sb = Sandbox::new();
    sb.run_profiled(&[], &["touch", "made-by-command"], 0);
    assert_eq!(sb.entries(), ["made-by-command", "receipt.json"]);
    assert_eq!(mode_of(&sb.join("receipt.json")), 0o600);
    read_receipt(&sb.join("receipt.json"));

    // A chosen path in a subdirectory: the temp file lives beside it and is gone afterwards.
    fs::create_dir(sb.join("out")).unwrap();
    sb.run_profiled(&["--receipt", "out/r.json", "--quiet"], &["true"], 0);
    assert_eq!(names_in(&sb.join("out")), ["r.json"]);
    assert_eq!(mode_of(&sb.join("out/r.json")), 0o600);
    assert_eq!(sb.entries(), ["made-by-command", "out", "receipt.json"]);
    read_receipt(&sb.join("out/r.json"));
}

#[test]
fn receipt_path_that_is_a_directory_exits_125_and_creates_nothing() {
    let sb = Sandbox::new();
    fs::create_dir(sb.join("rdir")).unwrap();
    let options = ["run", "--profile", "host", "--receipt", "rdir"];
    sb.assert_fails(&options, &["touch", "marker"], 125, "rdir");
    assert_eq!(sb.entries(), ["rdir"], "the command ran or a file was left");
    assert!(names_in(&sb.join("rdir")).is_empty());
}

#[test]
fn existing_receipt_is_replaced_atomically() {
    let sb = Sandbox::new();
    let path = sb.join("receipt.json");
    write_with_mode(&path, "old receipt, not JSON\n", 0o644);
    // A second name for the old file: an in-place rewrite would change what it shows.
    fs::hard_link(&path, sb.join("old-link")).unwrap();
    let old_inode = fs::metadata(&path).unwrap().ino();

    let argv = ["sh", "-c", "exit 5"];
    sb.run_profiled(&["--quiet"], &argv, 5);

    let r = read_receipt(&path);
    assert_host_receipt(&r, &sb, &argv, true);
    assert_eq!(r["exit_code"], 5, "the receipt is the new run's");
    assert_ne!(
        fs::metadata(&path).unwrap().ino(),
        old_inode,
        "the receipt was rewritten in place, not renamed over the old one"
    );
    assert_eq!(
        fs::read_to_string(sb.join("old-link")).unwrap(),
        "old receipt, not JSON\n"
    );
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(sb.entries(), ["old-link", "receipt.json"]);
}

#[test]
fn each_run_gets_its_own_execution_id() {
    let sb = Sandbox::new();
    let mut ids = Vec::new();
    for name in ["a.json", "b.json"] {
        sb.run_profiled(&["--quiet", "--receipt", name], &["true"], 0);
        ids.push(read_receipt(&sb.join(name))["execution_id"].clone());
    }
    assert_ne!(ids[0], ids[1]);
}

// ---------------------------------------------------------------------------------------------
// 7. Schema and help
// ---------------------------------------------------------------------------------------------

#[test]
fn schema_command_prints_the_committed_schema() {
    let sb = Sandbox::new();
    let out = sb.cmd(["schema"]).assert().code(0);
    let committed = fs::read(schema_path()).unwrap();
    assert!(
        out.get_output().stdout == committed,
        "`glasshouse schema` differs from the committed {}; regenerate it with `glasshouse schema > {}`",
        glasshouse_receipt::schema_file_name(),
        glasshouse_receipt::schema_file_name()
    );
    // The committed schema compiles and names the version glasshouse writes.
    validator();
    let schema: Value = serde_json::from_slice(&committed).unwrap();
    assert!(schema["$id"]
        .as_str()
        .unwrap()
        .contains(glasshouse_receipt::SCHEMA_VERSION));
}

#[test]
fn schema_validation_is_not_vacuous() {
    // The helper must reject what the schema forbids, or every check above proves nothing.
    let sb = Sandbox::new();
    sb.run_profiled(&["--quiet"], &["true"], 0);
    let good = read_receipt(&sb.join("receipt.json"));
    assert!(validator().is_valid(&good));
    let mut wrong_type = good.clone();
    wrong_type["exit_code"] = "zero".into();
    assert!(!validator().is_valid(&wrong_type));
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("outcome");
    assert!(!validator().is_valid(&missing));
    let mut bad_provenance = good;
    bad_provenance["provenance"] = "vm".into();
    assert!(!validator().is_valid(&bad_provenance));
}

#[test]
fn help_has_examples_and_the_exit_code_table() {
    let sb = Sandbox::new();
    let out = sb.cmd(["--help"]).assert().code(0);
    let help = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(help.contains("Example"), "{help}");
    assert!(help.contains("run"), "{help}");

    let out = sb.cmd(["run", "--help"]).assert().code(0);
    let help = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(help.contains("Example"), "{help}");
    let table = &help[help.find("Exit codes").expect("an exit-code table")..];
    for code in ["125", "126", "127", "128+N"] {
        assert!(
            table.lines().any(|l| l.trim_start().starts_with(code)),
            "exit code {code} missing from the table:\n{table}"
        );
    }
    for option in ["--profile", "--receipt", "--quiet"] {
        assert!(help.contains(option), "{option} missing:\n{help}");
    }
}

// ---------------------------------------------------------------------------------------------
// 8. No receipt without --profile
// ---------------------------------------------------------------------------------------------

#[test]
fn no_receipt_without_profile() {
    let sb = Sandbox::new();
    sb.cmd(["run", "--", "sh", "-c", "echo hello"])
        .assert()
        .code(0)
        .stdout("hello\n")
        .stderr("");
    assert!(sb.entries().is_empty(), "{:?}", sb.entries());

    // --receipt alone does not turn profiling on (whether it is accepted or refused as a usage
    // error, no receipt appears).
    let out = sb
        .cmd(["run", "--receipt", "r.json", "--", "true"])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 125)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!sb.join("r.json").exists());
    assert!(sb.entries().is_empty(), "{:?}", sb.entries());
}

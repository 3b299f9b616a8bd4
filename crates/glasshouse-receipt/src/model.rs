//! The receipt's types: every field of the v0.3.0 contract, plus the optional fields added since.
//!
//! Fields marked "since v0.4.0" are additive: a v0.3.0 reader ignores them and a v0.3.0 receipt
//! reads back with them absent. Lists are sorted and deduplicated by the writer so that two runs
//! doing the same thing give the same receipt apart from volatile fields (ids, pids, times).

use crate::OsText;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One receipt: what the operating system saw while a command ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Receipt {
    /// Schema version, `vMAJOR.MINOR.PATCH`. Readers refuse an unknown major version.
    pub version: String,
    /// Unique id of this execution (a UUIDv7: sortable by creation time).
    pub execution_id: String,
    /// Where the observations came from.
    pub provenance: Provenance,
    /// When the command was started, RFC 3339 in UTC.
    pub timestamp: String,
    /// How the command ended.
    pub outcome: Outcome,
    /// Wall and CPU time.
    pub timing: Timing,
    /// Every process of the traced tree, sorted by pid.
    pub process_tree: Vec<ProcessNode>,
    /// Files read, written and deleted.
    pub filesystem: Filesystem,
    /// Outbound network attempts and socket traffic.
    pub network: Network,
    /// System call counts and operations refused by the kernel.
    pub syscalls: Syscalls,
    /// Resource usage of the whole tree.
    pub resources: Resources,
    /// The environment the command ran in.
    pub environment: Environment,
    /// The execution backend that ran the command.
    pub execution: Execution,
    /// Hashes of what the command wrote to stdout and stderr.
    pub artifacts: Artifacts,
    /// Legacy copy of the exit code glasshouse exited with (128+N for signal N).
    pub exit_code: i32,
    /// Legacy copy of `timing.duration_ms`.
    pub duration_ms: u64,
    /// Legacy flat process list (pid, ppid, command line).
    pub processes: Vec<LegacyProcess>,
    /// Since v0.4.0: what the sensor could and could not see. Absent in v0.3.0 receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<SensorCoverage>,
    /// Since v0.4.0: the policy evaluated against this receipt, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyReport>,
    /// Since v0.4.0: what was redacted before the receipt left memory, when redaction ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<RedactionReport>,
    /// Since v0.4.0: how `run --enforce` applied each rule of the policy (see `policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<crate::Enforcement>,
}

/// Where the observations of a receipt came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provenance {
    /// A sensor on the host kernel.
    Host,
    /// A sensor inside a guest VM.
    Guest,
    /// Both host and guest sensors.
    Combined,
}

impl Provenance {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Guest => "guest",
            Self::Combined => "combined",
        }
    }
}

/// How the command ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Outcome {
    /// The exit status when the command exited normally, 127/126 when it could not start.
    pub exit_code: Option<i32>,
    /// The signal number that killed the command, if one did.
    pub signal: Option<i32>,
    /// Why the command did not run or did not finish normally, if known.
    pub error: Option<String>,
}

/// Wall and CPU time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Timing {
    /// Wall time from spawn to the end of the root process, from a monotonic clock.
    pub duration_ms: u64,
    /// User + system CPU time of the whole tree.
    pub cpu_time_ms: u64,
}

/// One process of the traced tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ProcessNode {
    /// Process id (thread-group id) as seen by glasshouse.
    pub pid: u32,
    /// Since v0.4.0: the process id in its own pid namespace (what `getpid()` returned there),
    /// when it differs from `pid`: under the namespace backend, where the command is 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ns_pid: Option<u32>,
    /// Parent process id at creation; 0 when unknown (the fork was among the events lost, and
    /// `sensor.complete` is false).
    pub ppid: u32,
    /// The executable file of the last program image, resolved in the kernel.
    pub exe: OsText,
    /// The argument vector of the last program image, read from the new image.
    pub argv: Vec<OsText>,
    /// Working directory at the last exec (or at fork, for a process that never exec'd).
    pub working_dir: OsText,
    /// Since v0.4.0: the argv was longer than the capture limit and is cut short.
    #[serde(default, skip_serializing_if = "is_false")]
    pub argv_truncated: bool,
    /// Since v0.4.0: every program image in exec order, when the process exec'd more than once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub execs: Vec<ExecImage>,
    /// Since v0.4.0: exit status, when the process exited normally while traced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Since v0.4.0: the signal that ended the process, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Since v0.4.0: glasshouse ended this process because it outlived the root past `--linger`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ended_by_glasshouse: bool,
}

/// One program image a process ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ExecImage {
    /// The executable file.
    pub exe: OsText,
    /// The argument vector.
    pub argv: Vec<OsText>,
    /// Working directory at exec.
    pub working_dir: OsText,
    /// The argv is cut short.
    #[serde(default, skip_serializing_if = "is_false")]
    pub argv_truncated: bool,
}

/// Files read, written and deleted: absolute, normalized paths, sorted and deduplicated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Filesystem {
    /// Files opened for reading.
    pub reads: Vec<OsText>,
    /// Files opened for writing, created, truncated, the target of a rename or link, or whose
    /// metadata was changed by path (chmod, chown, utimes, extended attributes).
    pub writes: Vec<OsText>,
    /// Files and directories unlinked or removed, and the sources of renames.
    pub deletes: Vec<OsText>,
    /// File actions that a policy denied (filled only when a policy was evaluated).
    pub policy_violations: Vec<PolicyViolation>,
    /// Since v0.4.0: file operations that failed, with the error the kernel returned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedOperation>,
    /// Files the tree was handed as descriptors it did not open itself: inherited by the
    /// command from its caller, or received over a unix socket. Sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descriptors: Vec<HandedDescriptor>,
}

/// A file a process of the tree held through a descriptor someone else opened.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct HandedDescriptor {
    /// The file, resolved from the descriptor.
    pub path: OsText,
    /// `inherited` (the command had it when it started) or `received` (SCM_RIGHTS).
    pub how: String,
    /// The process that held it.
    pub pid: u32,
    /// Its descriptor number in that process.
    pub fd: i32,
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
}

impl HandedDescriptor {
    /// Descriptor `fd` of process `pid`, naming `path`, that arrived `how`.
    pub fn new(path: OsText, how: &str, pid: u32, fd: i32, read: bool, write: bool) -> Self {
        Self {
            path,
            how: how.to_owned(),
            pid,
            fd,
            read,
            write,
        }
    }
}

/// An operation the kernel refused or that failed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct FailedOperation {
    /// The system call (or io_uring operation) name.
    pub syscall: String,
    /// The path or address it named, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<OsText>,
    /// The errno value.
    pub errno: i32,
    /// The errno name (`EACCES`, `ENOENT`, ...).
    pub error: String,
    /// How many times it failed this way.
    pub count: u64,
}

impl FailedOperation {
    /// One failure of `syscall` on `target` with `errno` (named `error`), counted once.
    pub fn new(syscall: &str, target: Option<OsText>, errno: i32, error: &str) -> Self {
        Self {
            syscall: syscall.to_owned(),
            target,
            errno,
            error: error.to_owned(),
            count: 1,
        }
    }
}

/// Outbound network activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Network {
    /// Every outbound attempt, deduplicated by (dst, protocol, result, errno), sorted.
    pub attempts: Vec<NetworkAttempt>,
    /// Bytes the tree sent on sockets.
    pub bytes_sent: u64,
    /// Bytes the tree received on sockets.
    pub bytes_received: u64,
    /// Since v0.4.0: every request the sandbox's allowlisting proxy handled (`--network proxy`),
    /// in the order they arrived.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxied: Vec<ProxiedRequest>,
}

/// One request to glasshouse's allowlisting proxy: where the command asked to go, what the proxy
/// decided and why, and how many bytes it carried.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ProxiedRequest {
    /// How the command asked: `http` (a plain HTTP request with an absolute URL), `connect` (an
    /// HTTP CONNECT tunnel, as for HTTPS) or `socks5`.
    pub protocol: String,
    /// The host name (or address literal) as the command gave it.
    pub host: String,
    /// The destination port.
    pub port: u16,
    /// `allowed` or `denied`.
    pub decision: String,
    /// The allowlist pattern that allowed the request; with `--enforce`, `policy:RULE` for the
    /// policy rule (or `policy:default`) that decided on its address, allowed or denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Why a request was denied (no pattern matched, or the name resolved only to addresses the
    /// proxy does not reach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The address the proxy connected to (`ip:port`, `[v6]:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Why an allowed request still failed (the destination refused, a timeout, bad request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Bytes forwarded from the command to the destination.
    pub bytes_sent: u64,
    /// Bytes forwarded from the destination to the command.
    pub bytes_received: u64,
}

impl ProxiedRequest {
    /// A request for `host:port` over `protocol`, not decided yet.
    pub fn new(protocol: &str, host: &str, port: u16) -> Self {
        Self {
            protocol: protocol.to_owned(),
            host: host.to_owned(),
            port,
            ..Self::default()
        }
    }
}

/// One outbound network attempt.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct NetworkAttempt {
    /// `ip:port`, `[v6]:port`, a unix socket path, or `@name` for an abstract unix socket.
    pub dst: OsText,
    /// `tcp`, `udp`, `unix`, or another socket type's name.
    pub protocol: String,
    /// `connected` (the connect succeeded), `refused` (ECONNREFUSED), `failed` (another error,
    /// see `errno`), `sent` (a datagram or message sent to an address without connect), or
    /// `attempted` (a connect still in progress when the run ended).
    pub result: String,
    /// Since v0.4.0: errno for a failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    /// Since v0.4.0: how many processes of the tree made this attempt.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: u64,
}

impl NetworkAttempt {
    /// An attempt seen `count` times.
    pub fn new(dst: OsText, protocol: &str, result: &str, errno: Option<i32>, count: u64) -> Self {
        Self {
            dst,
            protocol: protocol.to_owned(),
            result: result.to_owned(),
            errno,
            count,
        }
    }
}

/// System call activity of the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Syscalls {
    /// Calls per system call name, counted in the kernel.
    pub counts: BTreeMap<String, u64>,
    /// Operations that failed with EPERM or EACCES.
    pub denied: Vec<FailedOperation>,
    /// Since v0.4.0: io_uring operations submitted by the tree, per opcode name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub io_uring: BTreeMap<String, u64>,
}

/// Resource usage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Resources {
    /// Largest resident set size of any process of the tree, in KiB.
    pub max_rss_kb: u64,
    /// User + system CPU time of the whole tree.
    pub cpu_time_ms: u64,
    /// Since v0.4.0: user CPU time of the tree.
    #[serde(default)]
    pub user_time_ms: u64,
    /// Since v0.4.0: system CPU time of the tree.
    #[serde(default)]
    pub system_time_ms: u64,
}

/// The environment the command ran in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Environment {
    /// The runtime of the command, when recognized (`python3.11`, `node`, ...), else its program name.
    pub runtime: String,
    /// Operating system (`linux`).
    pub os: String,
    /// CPU architecture in Go's naming (`amd64`, `arm64`), as in v0.3.0.
    pub arch: String,
    /// What the sandbox allowed.
    pub sandbox: SandboxSettings,
    /// Since v0.4.0: the kernel release the run was observed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Since v0.4.0: the directory the command was started in (what `${CWD}` means to a policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<OsText>,
    /// Since v0.4.0: the command's `HOME` (what `${HOME}` means to a policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<OsText>,
}

/// What the sandbox allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct SandboxSettings {
    /// `enabled` when the command had the host's network without a sandbox (the process
    /// backend); under `--backend namespace`: `none` (a loopback of its own), `host` or
    /// `proxy` (only glasshouse's allowlisting proxy, see `network.proxied`).
    pub network: String,
    /// Since v0.4.0: the paths the sandbox let the command write (its working directory, the
    /// private `/tmp`, `--rw` paths); absent without a sandbox.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable: Vec<OsText>,
    /// Since v0.4.0: paths made read-only with `--ro`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_only: Vec<OsText>,
    /// Since v0.4.0: paths hidden with `--hide` (glasshouse's own files are always hidden and
    /// not listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<OsText>,
}

/// The execution backend.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Execution {
    /// Backend name (`process`).
    pub backend: String,
    /// Isolation applied: `none` for the process backend; for the namespace backend the
    /// mechanisms, comma-separated (`mount,pid,uts,ipc,net,ro-root,landlock,seccomp`).
    pub isolation: String,
    /// Since v0.4.0: the user, group and groups the command ran as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<crate::CommandUser>,
}

/// Hashes of the command's output streams.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Artifacts {
    /// SHA-256 (lowercase hex) of everything written to stdout; since v0.4.0, with
    /// `run --output-hash blake3`, `blake3:` followed by the BLAKE3 in lowercase hex.
    pub stdout_hash: String,
    /// The same digest of everything written to stderr.
    pub stderr_hash: String,
    /// Since v0.4.0: bytes written to stdout.
    #[serde(default)]
    pub stdout_bytes: u64,
    /// Since v0.4.0: bytes written to stderr.
    #[serde(default)]
    pub stderr_bytes: u64,
    /// Since v0.4.0: glasshouse's streams that were terminals (`stdin`, `stdout`, `stderr`, in
    /// that order). When stdout or stderr is listed, the command had a pseudo-terminal of
    /// glasshouse's in their place, and that stream's hash and count cover what reached the
    /// terminal (after the terminal's output processing, such as `\n` to `\r\n`, and with the
    /// echo of what was typed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terminals: Vec<String>,
    /// Since v0.4.0: stdout and stderr were one terminal, so one pseudo-terminal carried both:
    /// `stdout_hash` and `stdout_bytes` cover both streams in the order the terminal received
    /// them, and `stderr_hash` is the hash of nothing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stderr_in_stdout: bool,
}

/// Legacy flat process entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct LegacyProcess {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// The command line: argv joined by spaces (display only).
    pub cmd: String,
}

/// One action a policy denied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct PolicyViolation {
    /// `exec`, `read`, `write`, `delete` or `connect`.
    pub action: String,
    /// The path, executable or address acted on.
    pub target: String,
    /// The rule that denied it (its name, or `rule[N]` by position; `default` for the default).
    pub rule: String,
    /// The rule's stated reason.
    pub reason: String,
}

impl PolicyViolation {
    /// A violation record.
    pub fn new(action: &str, target: &str, rule: &str, reason: &str) -> Self {
        Self {
            action: action.to_owned(),
            target: target.to_owned(),
            rule: rule.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

/// The policy evaluated against a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct PolicyReport {
    /// SHA-256 of the policy file's bytes.
    pub digest: String,
    /// `pass` when nothing was denied, `fail` otherwise.
    pub verdict: String,
    /// Every violation (file, exec and network), sorted.
    pub violations: Vec<PolicyViolation>,
}

impl PolicyReport {
    /// A report from its parts.
    pub fn new(digest: String, verdict: String, violations: Vec<PolicyViolation>) -> Self {
        Self {
            digest,
            verdict,
            violations,
        }
    }
}

/// What the sensor could see. An empty list in the receipt is only trustworthy when `complete`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct SensorCoverage {
    /// `ebpf` for the kernel sensor, `none` when no sensor ran.
    pub kind: String,
    /// True only when every hook attached, no event was lost and nothing was truncated.
    pub complete: bool,
    /// Every hook the sensor tried, with its result.
    pub hooks: Vec<HookStatus>,
    /// Events the kernel side could not deliver (ring buffer full), all hooks together.
    pub events_lost: u64,
    /// Lost events per hook, for the hooks that lost any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lost_by_hook: BTreeMap<String, u64>,
    /// Paths and argv vectors that were cut short.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<Truncation>,
    /// Whether argv was captured, and why (see `GLASSHOUSE_CAPTURE_ARGV`).
    pub argv_capture: ArgvCapture,
    /// How long glasshouse kept watching descendants after the root exited, in ms.
    #[serde(default)]
    pub linger_ms: u64,
    /// Since v0.4.0: the command ran as root, so it could have tampered with the sensor (its
    /// maps, pinned programs, glasshouse itself) and hidden what it did; a note says so.
    /// Absent (false) for a command that ran as another user.
    #[serde(default, skip_serializing_if = "is_false")]
    pub command_privileged: bool,
    /// Anything else a reader must know to trust the receipt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One hook of the sensor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct HookStatus {
    /// The program's name and attach point.
    pub name: String,
    /// Whether it was attached for the whole run.
    pub attached: bool,
    /// Why it did not attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl HookStatus {
    /// A hook status.
    pub fn new(name: String, attached: bool, error: Option<String>) -> Self {
        Self {
            name,
            attached,
            error,
        }
    }
}

/// Something the sensor had to cut short.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Truncation {
    /// `path` or `argv`.
    pub kind: String,
    /// The process it happened in.
    pub pid: u32,
    /// The part that was kept.
    pub kept: OsText,
}

impl Truncation {
    /// A truncation record.
    pub fn new(kind: &str, pid: u32, kept: OsText) -> Self {
        Self {
            kind: kind.to_owned(),
            pid,
            kept,
        }
    }
}

/// Whether argv was captured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct ArgvCapture {
    /// The value of `GLASSHOUSE_CAPTURE_ARGV` (`default` when unset).
    pub requested: String,
    /// Whether argv was captured in this run.
    pub captured: bool,
    /// Why not, or anything notable about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ArgvCapture {
    /// An argv-capture record.
    pub fn new(requested: &str, captured: bool, note: Option<String>) -> Self {
        Self {
            requested: requested.to_owned(),
            captured,
            note,
        }
    }
}

/// What redaction changed in a receipt. Each secret is replaced by a marker
/// `[REDACTED:<rule>:<12 hex digits of an HMAC-SHA-256 of the secret>]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct RedactionReport {
    /// `sha256:<hex>` of the rules in force (built-in and from the rules file).
    pub rules_digest: String,
    /// A public name of the HMAC key (not the key): markers compare only under the same key.
    pub key_id: String,
    /// Secrets replaced by markers, all fields together.
    pub values_redacted: u64,
    /// Secrets replaced per field: the JSON path, `[]` for the elements of a list and `{}` for
    /// map keys (`process_tree[].argv[]`, `filesystem.reads[]`, `processes[].cmd`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, u64>,
    /// The home directory was shown as `~` (`--redact-home`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub home_as_tilde: bool,
    /// How many home directory paths were shown as `~`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub home_paths: u64,
}

impl RedactionReport {
    /// A report of no redaction yet, under the given rules and key.
    pub fn new(rules_digest: String, key_id: String) -> Self {
        Self {
            rules_digest,
            key_id,
            ..Self::default()
        }
    }
}

//! The live event stream of `glasshouse run --events`: one JSON object per line, each a
//! [`Line`] (the run's id, a sequence number, a monotonic timestamp) around an [`Event`] named
//! by its `type`.
//!
//! The sensor emits an event where its aggregate adds a new entry to one of the receipt's sets
//! (a process, an exec, a (path, action), a destination per process, a failure kind), so the
//! stream and the receipt agree by construction. Emitting goes through an [`EventSink`]
//! (module `queue`): a bounded queue that never blocks its producer; a line that does not fit is
//! dropped and counted. This crate does no I/O and no redaction: the binary's writer takes the
//! lines off the [`EventQueue`], redacts each like the receipt and writes it.
//!
//! The line types generate the committed JSON Schema (`schema/events.v1.json`, see
//! [`schema_json`]); docs/events.md says what each field means.

mod queue;

pub use queue::{channel, EventQueue, EventSink, Limits};

use glasshouse_receipt::OsText;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The stream format's version: it names the schema file. Adding optional fields or line
/// types keeps it; removing or changing the meaning of a field bumps it.
pub const EVENTS_VERSION: &str = "v1";

/// One line of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Line {
    /// The run's id: the receipt's `execution_id`.
    pub run: String,
    /// The line's number in the stream, from 0, counting dropped lines too: a gap in `seq`
    /// is where lines were dropped.
    pub seq: u64,
    /// CLOCK_MONOTONIC, in nanoseconds, when glasshouse recorded what the line says (not when
    /// the kernel saw it: the sensor reads its ring buffer in batches, at least every 10 ms).
    /// Never decreases from one line to the next.
    pub ts_ns: u64,
    /// What happened; its `type` names it.
    #[serde(flatten)]
    pub event: Event,
}

/// What a line reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The sensor is attached and the command is about to start: always the first line.
    Start(Start),
    /// A new process of the tree (fork, vfork, clone).
    Fork(Fork),
    /// A process of the tree executed a program (the command's own exec included).
    Exec(Exec),
    /// A process of the tree ended.
    Exit(Exit),
    /// A file was first read, written or deleted in this run (one line per path and action,
    /// like the receipt's `filesystem` lists).
    File(File),
    /// A descriptor the tree did not open itself (`filesystem.descriptors`).
    Descriptor(Descriptor),
    /// A process first tried to reach a destination with this result (`network.attempts`).
    Network(Network),
    /// An operation first failed this way in this run (`filesystem.failed`).
    Failure(Failure),
    /// A path or argument area was cut short (`sensor.truncated`).
    Truncated(Truncated),
    /// Something was not seen or not streamed (see [`LossSource`]).
    Loss(Loss),
    /// The run is over and its receipt written: always the last line (when it is written).
    End(End),
}

/// `type: start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Start {
    /// The command as given to glasshouse (redacted like the receipt).
    pub argv: Vec<OsText>,
    /// glasshouse's pid: the command's parent (the `ppid` of the command's `exec` line).
    pub glasshouse_pid: u32,
    /// The execution backend (`process`, `namespace`).
    pub backend: String,
}

/// `type: fork`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Fork {
    /// The new process.
    pub pid: u32,
    /// Its parent.
    pub ppid: u32,
}

/// `type: exec`, with the fields of the receipt's process entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Exec {
    /// The process.
    pub pid: u32,
    /// Its parent as known at the exec (glasshouse's pid for the command itself).
    pub ppid: u32,
    /// The file the kernel executed.
    pub exe: OsText,
    /// The arguments, read from the new program image.
    pub argv: Vec<OsText>,
    /// The working directory at the exec.
    pub working_dir: OsText,
    /// The argument area was longer than glasshouse reads.
    #[serde(default, skip_serializing_if = "is_false")]
    pub argv_truncated: bool,
}

/// `type: exit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Exit {
    /// The process.
    pub pid: u32,
    /// Its exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

/// What a [`File`] line says was done to the file.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FileAction {
    /// Listed in `filesystem.reads`.
    Read,
    /// Listed in `filesystem.writes`.
    Write,
    /// Listed in `filesystem.deletes`.
    Delete,
}

/// `type: file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct File {
    /// The process whose operation first put the path in its list.
    pub pid: u32,
    /// The absolute path, resolved as the receipt's.
    pub path: OsText,
    /// Which list.
    pub action: FileAction,
}

/// `type: descriptor`, with the fields of `filesystem.descriptors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Descriptor {
    /// The process that held it.
    pub pid: u32,
    /// The file behind it.
    pub path: OsText,
    /// `inherited` or `received`.
    pub how: String,
    /// Its number in that process.
    pub fd: i32,
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
}

/// `type: network`, with the fields of `network.attempts` (one line per process: the
/// receipt's `count` is the number of lines with the same destination and result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Network {
    /// The process.
    pub pid: u32,
    /// `ip:port`, `[v6]:port`, a unix socket path or `@name`.
    pub dst: OsText,
    /// `tcp`, `udp`, `unix`, `icmp`, `raw`.
    pub protocol: String,
    /// `connected`, `refused`, `failed`, `sent` or `attempted`.
    pub result: String,
    /// The error of a failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
}

/// `type: failure`, with the fields of `filesystem.failed` but its count (the receipt counts;
/// the stream reports each kind once, when it first happens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Failure {
    /// The process whose operation failed first.
    pub pid: u32,
    /// The system call (or `io_uring_*` operation).
    pub syscall: String,
    /// The path or destination it named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<OsText>,
    /// The error number.
    pub errno: i32,
    /// Its name (`ENOENT`, ...).
    pub error: String,
}

/// `type: truncated`, with the fields of `sensor.truncated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Truncated {
    /// The process.
    pub pid: u32,
    /// `path` or `argv`.
    pub kind: String,
    /// The part kept.
    pub kept: OsText,
}

/// Where a [`Loss`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LossSource {
    /// Events the kernel could not deliver (`sensor.events_lost`): in the receipt too.
    Kernel,
    /// Distinct entries a full receipt list did not take (its `list`): in the receipt's notes.
    List,
    /// Records that could not be decoded: in the receipt's notes.
    Undecoded,
    /// Lines of this stream dropped because its reader did not keep up (or stopped
    /// reading); the receipt holds what they said.
    Stream,
}

/// `type: loss`: written at the end of the run, when the counters are read; for the kernel's
/// losses also while the run lasts, as a running total (`running: true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct Loss {
    /// Where.
    pub source: LossSource,
    /// How many events, entries or lines.
    pub count: u64,
    /// Kernel losses by hook (`sensor.lost_by_hook`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_hook: BTreeMap<String, u64>,
    /// The receipt list that was full (`filesystem.reads`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
    /// A running total while the run lasts: the kernel's loss counters are read every second,
    /// and a line is written when they grew. The last `loss` line of a source, just before
    /// `end`, holds the run's total and has no `running`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub running: bool,
}

/// `type: end`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct End {
    /// glasshouse's status for the command (128+N for signal N), when the run got that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The receipt's `sensor.complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    /// Where the receipt was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<OsText>,
    /// Why the run failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Lines of this stream dropped before this one.
    pub dropped: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Start {
    /// A `start` line's event.
    pub fn new(argv: Vec<OsText>, glasshouse_pid: u32, backend: impl Into<String>) -> Self {
        Self {
            argv,
            glasshouse_pid,
            backend: backend.into(),
        }
    }
}

impl Fork {
    /// A `fork` line's event.
    pub fn new(pid: u32, ppid: u32) -> Self {
        Self { pid, ppid }
    }
}

impl Exec {
    /// An `exec` line's event.
    pub fn new(pid: u32, ppid: u32, exe: OsText, argv: Vec<OsText>, working_dir: OsText) -> Self {
        Self {
            pid,
            ppid,
            exe,
            argv,
            working_dir,
            argv_truncated: false,
        }
    }
}

impl Exit {
    /// An `exit` line's event from a wait status.
    pub fn from_status(pid: u32, status: i32) -> Self {
        let sig = status & 0x7f;
        Self {
            pid,
            exit_code: (sig == 0).then_some((status >> 8) & 0xff),
            signal: (sig != 0).then_some(sig),
        }
    }
}

impl File {
    /// A `file` line's event.
    pub fn new(pid: u32, path: OsText, action: FileAction) -> Self {
        Self { pid, path, action }
    }
}

impl Descriptor {
    /// A `descriptor` line's event.
    pub fn new(pid: u32, path: OsText, how: &str, fd: i32, read: bool, write: bool) -> Self {
        Self {
            pid,
            path,
            how: how.to_owned(),
            fd,
            read,
            write,
        }
    }
}

impl Network {
    /// A `network` line's event.
    pub fn new(pid: u32, dst: OsText, protocol: &str, result: &str, errno: Option<i32>) -> Self {
        Self {
            pid,
            dst,
            protocol: protocol.to_owned(),
            result: result.to_owned(),
            errno,
        }
    }
}

impl Failure {
    /// A `failure` line's event.
    pub fn new(
        pid: u32,
        syscall: String,
        target: Option<OsText>,
        errno: i32,
        error: String,
    ) -> Self {
        Self {
            pid,
            syscall,
            target,
            errno,
            error,
        }
    }
}

impl Truncated {
    /// A `truncated` line's event.
    pub fn new(pid: u32, kind: &str, kept: OsText) -> Self {
        Self {
            pid,
            kind: kind.to_owned(),
            kept,
        }
    }
}

impl Loss {
    /// A `loss` line's event.
    pub fn new(source: LossSource, count: u64) -> Self {
        Self {
            source,
            count,
            by_hook: BTreeMap::new(),
            list: None,
            running: false,
        }
    }
}

impl Event {
    /// Roughly how many bytes a queued line of this event holds (the line and event
    /// themselves, the run's id and the small strings, plus the texts): what the queue's byte
    /// limit counts.
    pub fn weight(&self) -> usize {
        let text = |t: &OsText| t.as_bytes().len();
        192 + match self {
            Self::Start(s) => s.argv.iter().map(text).sum(),
            Self::Exec(e) => {
                text(&e.exe) + text(&e.working_dir) + e.argv.iter().map(text).sum::<usize>()
            }
            Self::File(f) => text(&f.path),
            Self::Descriptor(d) => text(&d.path),
            Self::Network(n) => text(&n.dst),
            Self::Failure(f) => f.target.as_ref().map_or(0, text),
            Self::Truncated(t) => text(&t.kept),
            Self::Fork(_) | Self::Exit(_) | Self::Loss(_) | Self::End(_) => 0,
        }
    }
}

/// The JSON Schema of one line, pretty-printed with a trailing newline.
pub fn schema_json() -> String {
    let mut schema = schemars::schema_for!(Line);
    schema.insert(
        "$id".to_owned(),
        serde_json::Value::String(format!(
            "https://glasshouse.invalid/schema/events.{EVENTS_VERSION}.json"
        )),
    );
    schema.insert(
        "title".to_owned(),
        serde_json::Value::String(format!("glasshouse event line {EVENTS_VERSION}")),
    );
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

/// The committed schema file's name, relative to the repository root.
pub fn schema_file_name() -> String {
    format!("schema/events.{EVENTS_VERSION}.json")
}

#[cfg(test)]
mod tests;

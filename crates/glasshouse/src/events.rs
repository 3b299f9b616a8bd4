//! `run --events PATH|-` and `--events-fd N`: where the live event stream goes, the thread
//! that writes it (each line redacted like the receipt, with the same rules and key), and the
//! lines glasshouse adds itself: `start` before the command, `loss` and `end` after the
//! receipt. The sensor's lines come through the pipeline's observer seam (docs/events.md).

use glasshouse_events::{self as ev, Event, EventQueue, EventSink, Limits, LossSource};
use glasshouse_receipt::OsText;
use glasshouse_redact::Redactor;
use glasshouse_run::{Observer, RunError, RunReport, Stage};
use std::ffi::OsString;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsFd as _, FromRawFd as _, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Options of the event stream.
#[derive(Debug, clap::Args)]
pub struct EventArgs {
    /// Write a live JSON Lines stream of what the sensor sees (execs, exits, files, network,
    /// failures, losses; docs/events.md) to PATH (made 0600), or to stderr with `-`.
    #[arg(
        long,
        value_name = "PATH|-",
        requires = "profile",
        conflicts_with = "events_fd"
    )]
    events: Option<PathBuf>,
    /// Write the event stream to descriptor N, which glasshouse inherited open for writing
    /// (e.g. `3>events.jsonl`); the command does not inherit it.
    #[arg(long, value_name = "N", requires = "profile")]
    events_fd: Option<i32>,
}

/// How long glasshouse waits, after the run, for the stream's reader to take more lines: it
/// waits as long as lines keep being written, and gives up after this long without one.
const LAST_LINES_DEADLINE: Duration = Duration::from_secs(5);

/// The most lines `GLASSHOUSE_EVENTS_QUEUE` may ask the queue to hold.
const MAX_QUEUE_LINES: usize = 1 << 24;

/// The queue's limits: the default, or `GLASSHOUSE_EVENTS_QUEUE` lines.
fn limits() -> Result<Limits, String> {
    let mut limits = Limits::default();
    let Some(value) = std::env::var_os("GLASSHOUSE_EVENTS_QUEUE") else {
        return Ok(limits);
    };
    match value.to_str().and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(lines) if (1..=MAX_QUEUE_LINES).contains(&lines) => {
            limits.lines = lines;
            Ok(limits)
        }
        _ => Err(format!(
            "GLASSHOUSE_EVENTS_QUEUE={}: give a number of lines from 1 to {MAX_QUEUE_LINES}, or unset it for the default ({})",
            value.to_string_lossy(),
            limits.lines
        )),
    }
}

/// The stream's destination, opened before anything runs (an unusable one refuses the run).
fn open(args: &EventArgs) -> Result<Option<File>, String> {
    let stderr = || {
        std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map(File::from)
            .map_err(|e| format!("cannot use stderr for the event stream: {e}"))
    };
    match (&args.events, args.events_fd) {
        (Some(path), _) if path.as_os_str() == "-" => stderr().map(Some),
        (Some(path), _) => {
            // Like the receipt, the stream belongs to the user who ran sudo.
            let owner = glasshouse_run::user::resolve(None)
                .ok()
                .and_then(|u| u.receipt_owner);
            open_path(path, owner).map(Some).map_err(|e| {
                format!(
                    "cannot open the event stream --events {}: {e}; give a file that can be written, - for stderr, or --events-fd N",
                    path.display()
                )
            })
        }
        (None, Some(2)) => stderr().map(Some),
        (None, Some(fd)) => inherited(fd).map(Some),
        (None, None) => Ok(None),
    }
}

/// Opens `path` for the stream. For another user (`owner`, under sudo) root opens nothing the
/// user could not have named themselves: not a symbolic link (a command of an earlier run may
/// have left one pointing at a file of root's), not an existing file of someone else (a hard
/// link); a new file is created for the user, an existing one of theirs truncated.
fn open_path(path: &std::path::Path, owner: Option<(u32, u32)>) -> std::io::Result<File> {
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let Some((uid, gid)) = owner else {
        return std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path);
    };
    let refuse = |why: String| std::io::Error::new(std::io::ErrorKind::PermissionDenied, why);
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    match created {
        Ok(file) => {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
            return Ok(file);
        }
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        Err(_) => {}
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => refuse(
                "it is a symbolic link, which glasshouse (root) does not follow for another user"
                    .to_owned(),
            ),
            _ => e,
        })?;
    let meta = file.metadata()?;
    if meta.is_file() {
        if meta.uid() != uid {
            return Err(refuse(format!(
                "it exists and belongs to uid {}, not to uid {uid} the stream is written for",
                meta.uid()
            )));
        }
        file.set_len(0)?;
    }
    Ok(file)
}

/// Takes over descriptor `fd`, which glasshouse's caller left open: it is moved to a
/// close-on-exec descriptor, so the command cannot write into the stream.
fn inherited(fd: i32) -> Result<File, String> {
    if fd == 0 || fd == 1 || fd < 0 {
        return Err(format!(
            "--events-fd {fd}: descriptors 0 and 1 are the command's input and output; use --events - for stderr, or pass another descriptor (e.g. 3>events.jsonl)"
        ));
    }
    // SAFETY: F_GETFL only reads the flags of a descriptor number; it touches no memory.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(format!(
            "--events-fd {fd}: descriptor {fd} is not open; open it for glasshouse (e.g. {fd}>events.jsonl)"
        ));
    }
    if flags & libc::O_ACCMODE == libc::O_RDONLY {
        return Err(format!(
            "--events-fd {fd}: descriptor {fd} is open for reading only; open it for writing (e.g. {fd}>events.jsonl)"
        ));
    }
    // SAFETY: the descriptor is open (F_GETFL succeeded) and was inherited: nothing else in
    // glasshouse owns it (0-2 are excluded above), so this is its only owner.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // The copy is close-on-exec; dropping `owned` closes the number the command would inherit.
    owned
        .try_clone()
        .map(File::from)
        .map_err(|e| format!("--events-fd {fd}: cannot take over descriptor {fd}: {e}"))
}

struct Inner {
    file: Option<File>,
    redactor: Arc<Redactor>,
    argv: Vec<OsText>,
    backend: String,
    limits: Limits,
    sink: Option<EventSink>,
    writer: Option<JoinHandle<Option<String>>>,
}

/// The event stream of one run (none without `--events`/`--events-fd`).
#[derive(Clone)]
pub struct EventStream(Arc<Mutex<Inner>>);

impl EventStream {
    /// Opens the stream's destination; `None` when no stream was asked for.
    pub fn open(
        args: &EventArgs,
        command: &[OsString],
        backend: &str,
        redactor: Arc<Redactor>,
    ) -> Result<Option<Self>, String> {
        if args.events.is_none() && args.events_fd.is_none() {
            return Ok(None);
        }
        let limits = limits()?;
        Ok(open(args)?.map(|file| {
            Self(Arc::new(Mutex::new(Inner {
                file: Some(file),
                limits,
                redactor,
                argv: command
                    .iter()
                    .map(|a| OsText::from(a.as_os_str()))
                    .collect(),
                backend: backend.to_owned(),
                sink: None,
                writer: None,
            })))
        }))
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pipeline's observer for this stream.
    pub fn observer(&self) -> Box<dyn Observer> {
        Box::new(self.clone())
    }

    /// Ends the stream after the run: a `loss` line when lines were dropped, the `end` line,
    /// then waits for the writer while it makes progress (at most [`LAST_LINES_DEADLINE`]
    /// without a line written). Returns a warning for
    /// glasshouse's stderr when the stream did not reach its reader whole.
    pub fn finish(&self, result: Result<&RunReport, &RunError>) -> Option<String> {
        let (sink, writer) = {
            let mut inner = self.inner();
            (inner.sink.take()?, inner.writer.take()?)
        };
        let dropped = sink.dropped();
        if dropped > 0 {
            sink.emit_final(Event::Loss(ev::Loss::new(LossSource::Stream, dropped)));
        }
        let mut end = ev::End::default();
        match result {
            Ok(report) => {
                end.exit_code = Some(report.command_status());
                end.complete = report.receipt.sensor.as_ref().map(|s| s.complete);
                end.receipt = Some(OsText::from(report.receipt_path.as_path()));
            }
            Err(e) => end.error = Some(e.to_string()),
        }
        end.dropped = dropped;
        sink.emit_final(Event::End(end));
        sink.close();
        let (mut progress, mut written) = (Instant::now(), sink.written());
        while !writer.is_finished() {
            let now_written = sink.written();
            if now_written != written {
                (progress, written) = (Instant::now(), now_written);
            } else if progress.elapsed() > LAST_LINES_DEADLINE {
                return Some(format!(
                    "the event stream's reader took no line for {} s; the stream ends without its last {} lines ({} dropped before)",
                    LAST_LINES_DEADLINE.as_secs(),
                    sink.emitted().saturating_sub(written + sink.dropped()),
                    sink.dropped()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let error = writer
            .join()
            .unwrap_or_else(|_| Some("its writer failed".into()));
        match (error, sink.dropped()) {
            (Some(e), n) => Some(format!(
                "the event stream stopped ({e}); {n} of its {} lines were not written",
                sink.emitted()
            )),
            (None, 0) => None,
            (None, n) => Some(format!(
                "the event stream dropped {n} of its {} lines: its reader did not keep up",
                sink.emitted()
            )),
        }
    }
}

impl Observer for EventStream {
    fn stage(&mut self, stage: Stage) {
        if stage != Stage::Spawn {
            return;
        }
        let inner = self.inner();
        if let Some(sink) = &inner.sink {
            let start = ev::Start::new(inner.argv.clone(), std::process::id(), &inner.backend);
            sink.emit(Event::Start(start));
        }
    }

    fn event_sink(&mut self, run_id: &str) -> Option<EventSink> {
        let mut inner = self.inner();
        let file = inner.file.take()?;
        let (sink, queue) = glasshouse_events::channel(run_id, inner.limits);
        let redactor = Arc::clone(&inner.redactor);
        let writer = std::thread::Builder::new()
            .name("glasshouse-events".into())
            .spawn(move || write_lines(&queue, file, &redactor))
            .ok()?;
        inner.sink = Some(sink.clone());
        inner.writer = Some(writer);
        Some(sink)
    }
}

/// Bytes one write(2) to a pipe puts in whole or not at all (PIPE_BUF on Linux).
const ATOMIC_WRITE: usize = 4096;

/// The writer thread: takes the queued lines in batches, redacts each as the receipt is
/// redacted and writes whole lines, in writes of at most [`ATOMIC_WRITE`] bytes where lines
/// allow (so that a reader of a pipe never sees half a line, even when glasshouse exits in the
/// middle of a batch, and `-` does not cut into the command's stderr); on a write error it
/// stops (every later line is dropped and counted) and returns the error.
fn write_lines(queue: &EventQueue, mut out: File, redactor: &Redactor) -> Option<String> {
    let mut batch = Vec::new();
    let mut chunk = Vec::with_capacity(2 * ATOMIC_WRITE);
    let mut line_bytes = Vec::new();
    while queue.next_batch(&mut batch) {
        let taken = batch.len() as u64;
        // Lines of this batch written, and lines waiting in `chunk`.
        let (mut written, mut pending) = (0u64, 0u64);
        for line in batch.drain(..) {
            line_bytes.clear();
            // The line types serialize infallibly (string keys only).
            if let Ok(mut value) = serde_json::to_value(&line) {
                redactor.redact_json(&mut value);
                if serde_json::to_writer(&mut line_bytes, &value).is_ok() {
                    line_bytes.push(b'\n');
                }
            }
            if !chunk.is_empty() && chunk.len() + line_bytes.len() > ATOMIC_WRITE {
                if let Err(e) = out.write_all(&chunk) {
                    queue.stop(taken - written);
                    return Some(e.to_string());
                }
                written += pending;
                queue.wrote(pending);
                pending = 0;
                chunk.clear();
            }
            chunk.extend_from_slice(&line_bytes);
            pending += 1;
        }
        if let Err(e) = out.write_all(&chunk) {
            queue.stop(taken - written);
            return Some(e.to_string());
        }
        queue.wrote(pending);
        chunk.clear();
    }
    None
}

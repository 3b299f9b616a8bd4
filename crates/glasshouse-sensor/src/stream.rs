//! The sensor's side of the live event stream (`run --events`): a typed event for each new
//! entry the aggregate adds to one of the receipt's sets, handed to a bounded queue that never
//! blocks. No I/O and no redaction here: a writer elsewhere empties the queue. Without a sink
//! every call is one branch.

use glasshouse_events::{self as ev, Event, EventSink, FileAction, LossSource};
use glasshouse_receipt::{OsText, SensorCoverage, Truncation};

/// Where the aggregate's new entries go, if anywhere.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stream(Option<EventSink>);

impl Stream {
    pub(crate) fn new(sink: Option<EventSink>) -> Self {
        Self(sink)
    }

    /// Emits the event `make` builds, only when there is a sink (building costs copies).
    fn emit(&self, make: impl FnOnce() -> Event) {
        if let Some(sink) = &self.0 {
            sink.emit(make());
        }
    }

    pub(crate) fn fork(&self, pid: u32, ppid: u32) {
        self.emit(|| Event::Fork(ev::Fork::new(pid, ppid)));
    }

    pub(crate) fn exec(
        &self,
        pid: u32,
        ppid: u32,
        exe: &[u8],
        argv: &[Vec<u8>],
        cwd: &[u8],
        argv_truncated: bool,
    ) {
        self.emit(|| {
            let argv = argv.iter().map(|a| OsText::from_bytes(a.clone())).collect();
            let text = |b: &[u8]| OsText::from_bytes(b.to_vec());
            let mut exec = ev::Exec::new(pid, ppid, text(exe), argv, text(cwd));
            exec.argv_truncated = argv_truncated;
            Event::Exec(exec)
        });
    }

    pub(crate) fn exit(&self, pid: u32, status: i64) {
        self.emit(|| Event::Exit(ev::Exit::from_status(pid, status as i32)));
    }

    pub(crate) fn file(&self, pid: u32, path: &[u8], action: FileAction) {
        self.emit(|| {
            Event::File(ev::File::new(
                pid,
                OsText::from_bytes(path.to_vec()),
                action,
            ))
        });
    }

    pub(crate) fn descriptor(&self, path: &[u8], how: &str, pid: u32, fd: i32, rw: (bool, bool)) {
        self.emit(|| {
            let path = OsText::from_bytes(path.to_vec());
            Event::Descriptor(ev::Descriptor::new(pid, path, how, fd, rw.0, rw.1))
        });
    }

    pub(crate) fn network(
        &self,
        pid: u32,
        dst: &[u8],
        protocol: &str,
        result: &str,
        errno: Option<i32>,
    ) {
        self.emit(|| {
            let dst = OsText::from_bytes(dst.to_vec());
            Event::Network(ev::Network::new(pid, dst, protocol, result, errno))
        });
    }

    /// The first failure of `nr` on `target` with `errno`, as `filesystem.failed` names it.
    pub(crate) fn failure(&self, pid: u32, nr: u32, target: &[u8], errno: i32) {
        self.emit(|| {
            Event::Failure(ev::Failure::new(
                pid,
                crate::names::syscall_name(nr),
                (!target.is_empty()).then(|| OsText::from_bytes(target.to_vec())),
                errno,
                crate::names::errno_name(errno),
            ))
        });
    }

    pub(crate) fn truncated(&self, t: &Truncation) {
        self.emit(|| Event::Truncated(ev::Truncated::new(t.pid, &t.kind, t.kept.clone())));
    }

    /// Whether there is a sink at all.
    pub(crate) fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// While the run lasts: the kernel has lost `total` events so far, `by_hook` of them.
    pub(crate) fn kernel_losses_so_far(
        &self,
        total: u64,
        by_hook: std::collections::BTreeMap<String, u64>,
    ) {
        self.emit(|| {
            let mut loss = ev::Loss::new(LossSource::Kernel, total);
            loss.by_hook = by_hook;
            loss.running = true;
            Event::Loss(loss)
        });
    }

    /// At the end of the run: a `loss` line for each kind of gap the receipt counts, then the
    /// note saying how many lines the stream itself dropped, if any.
    pub(crate) fn losses(
        &self,
        coverage: &mut SensorCoverage,
        omitted: &[(&'static str, u64)],
        malformed: u64,
    ) {
        let Some(sink) = &self.0 else {
            return;
        };
        if coverage.events_lost > 0 {
            let mut loss = ev::Loss::new(LossSource::Kernel, coverage.events_lost);
            loss.by_hook = coverage.lost_by_hook.clone();
            sink.emit_final(Event::Loss(loss));
        }
        for (list, n) in omitted {
            let mut loss = ev::Loss::new(LossSource::List, *n);
            loss.list = Some((*list).to_owned());
            sink.emit_final(Event::Loss(loss));
        }
        if malformed > 0 {
            sink.emit_final(Event::Loss(ev::Loss::new(LossSource::Undecoded, malformed)));
        }
        let dropped = sink.dropped();
        if dropped > 0 {
            coverage.notes.push(format!(
                "the live event stream (--events) dropped {dropped} of its lines: its reader did not keep up or stopped reading; this receipt lost nothing for it"
            ));
        }
    }
}

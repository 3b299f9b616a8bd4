//! The bounded queue between whoever emits lines (the sensor's drain thread, glasshouse's own
//! start and end lines) and the one thread that writes them. Emitting never blocks and never
//! fails: a line that does not fit is dropped and counted, and keeps its number, so the gap
//! shows in `seq`. A slow reader therefore costs lines of the stream, never events of the
//! receipt.

use crate::{Event, Line};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// How much the queue holds before it drops lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Lines waiting to be written.
    pub lines: usize,
    /// Bytes those lines hold, roughly ([`Event::weight`]).
    pub bytes: usize,
    /// Lines [`EventSink::emit_final`] may add past `lines` (and `bytes` past the byte limit,
    /// 256 bytes each, plus their own weight), so that the end of the stream reaches a reader
    /// that caught up.
    pub reserve: usize,
}

impl Default for Limits {
    /// 262,144 lines or 64 MiB, whichever comes first, and 64 final lines: a burst of a
    /// quarter million new entries (more than a tar of 5,000 files makes) waits for a writer
    /// that redacts more slowly than the drain folds events in.
    fn default() -> Self {
        Self {
            lines: 262_144,
            bytes: 64 << 20,
            reserve: 64,
        }
    }
}

impl Limits {
    /// Limits of `lines` lines and `bytes` bytes, with the default reserve.
    pub fn new(lines: usize, bytes: usize) -> Self {
        Self {
            lines,
            bytes,
            ..Self::default()
        }
    }
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Line>,
    bytes: usize,
    /// The next line's number.
    seq: u64,
    dropped: u64,
    /// Lines the writer reported written.
    written: u64,
    /// No more lines will be emitted.
    closed: bool,
    /// The writer gave up: everything from now on is dropped.
    stopped: bool,
}

#[derive(Debug)]
struct Shared {
    run: String,
    limits: Limits,
    state: Mutex<State>,
    ready: Condvar,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent counts.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The producers' end: cheap to clone, safe to share between threads.
#[derive(Debug, Clone)]
pub struct EventSink(Arc<Shared>);

/// The writer's end.
#[derive(Debug)]
pub struct EventQueue(Arc<Shared>);

/// A queue for the lines of run `run`.
pub fn channel(run: impl Into<String>, limits: Limits) -> (EventSink, EventQueue) {
    let shared = Arc::new(Shared {
        run: run.into(),
        limits,
        state: Mutex::default(),
        ready: Condvar::new(),
    });
    (EventSink(Arc::clone(&shared)), EventQueue(shared))
}

/// CLOCK_MONOTONIC in nanoseconds.
fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

impl EventSink {
    /// The run the lines belong to.
    pub fn run(&self) -> &str {
        &self.0.run
    }

    /// Queues `event` as the next line, or drops it (counted) when the queue is full.
    pub fn emit(&self, event: Event) {
        self.push(event, false);
    }

    /// [`Self::emit`] for the last lines of a run (losses, the end), which may use the
    /// reserve on top of the limits.
    pub fn emit_final(&self, event: Event) {
        self.push(event, true);
    }

    fn push(&self, event: Event, final_line: bool) {
        let weight = event.weight();
        let limits = self.0.limits;
        let (max_lines, max_bytes) = if final_line {
            (
                limits.lines + limits.reserve,
                limits.bytes + limits.reserve * 256 + weight,
            )
        } else {
            (limits.lines, limits.bytes)
        };
        let mut s = self.0.state();
        let seq = s.seq;
        s.seq += 1;
        // Stamped under the lock: the stream's timestamps follow its order.
        let ts_ns = monotonic_ns();
        if s.closed || s.stopped || s.queue.len() >= max_lines || s.bytes + weight > max_bytes {
            s.dropped += 1;
            return;
        }
        let was_empty = s.queue.is_empty();
        s.queue.push_back(Line {
            run: self.0.run.clone(),
            seq,
            ts_ns,
            event,
        });
        s.bytes += weight;
        drop(s);
        // The writer waits only for an empty queue: one wake-up per batch, not per line.
        if was_empty {
            self.0.ready.notify_one();
        }
    }

    /// Lines dropped so far.
    pub fn dropped(&self) -> u64 {
        self.0.state().dropped
    }

    /// Lines the writer reported written so far: how a caller waiting for it sees progress.
    pub fn written(&self) -> u64 {
        self.0.state().written
    }

    /// Lines emitted so far, dropped ones included (the next line's `seq`).
    pub fn emitted(&self) -> u64 {
        self.0.state().seq
    }

    /// No more lines: the writer ends once it wrote what is queued.
    pub fn close(&self) {
        self.0.state().closed = true;
        self.0.ready.notify_all();
    }
}

impl EventQueue {
    /// Waits for lines and moves every queued one into `out`; false once the sink was closed
    /// and everything was taken.
    pub fn next_batch(&self, out: &mut Vec<Line>) -> bool {
        let mut s = self.0.state();
        while s.queue.is_empty() && !s.closed {
            s = self.0.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.queue.is_empty() {
            return false;
        }
        out.extend(s.queue.drain(..));
        s.bytes = 0;
        true
    }

    /// The writer wrote `lines` more lines.
    pub fn wrote(&self, lines: u64) {
        self.0.state().written += lines;
    }

    /// The writer can write no more: the `unwritten` lines it holds, every queued line and
    /// every line emitted from now on count as dropped.
    pub fn stop(&self, unwritten: u64) {
        let mut s = self.0.state();
        s.stopped = true;
        s.dropped += unwritten + s.queue.len() as u64;
        s.queue.clear();
        s.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Fork, Loss, LossSource};

    fn fork(pid: u32) -> Event {
        Event::Fork(Fork::new(pid, 1))
    }

    #[test]
    fn a_full_queue_drops_and_numbers_what_it_drops() {
        let (sink, queue) = channel("r", Limits::new(2, 1 << 20));
        for pid in 0..5 {
            sink.emit(fork(pid));
        }
        assert_eq!(sink.dropped(), 3);
        sink.emit_final(Event::Loss(Loss::new(LossSource::Stream, 3)));
        let mut lines = Vec::new();
        assert!(queue.next_batch(&mut lines));
        let seqs: Vec<u64> = lines.iter().map(|l| l.seq).collect();
        // The final line fits in the reserve, after the gap of the dropped ones.
        assert_eq!(seqs, vec![0, 1, 5]);
        assert!(lines.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
        assert!(lines.iter().all(|l| l.run == "r"));
        sink.emit(fork(9));
        sink.close();
        lines.clear();
        assert!(queue.next_batch(&mut lines));
        assert_eq!(lines.len(), 1);
        assert!(!queue.next_batch(&mut lines));
    }

    #[test]
    fn the_byte_limit_counts_too() {
        let (sink, queue) = channel("r", Limits::new(100, 600));
        sink.emit(fork(1)); // 192
        sink.emit(fork(2)); // 384
        sink.emit(fork(3)); // 576
        sink.emit(fork(4)); // would be 768
        assert_eq!(sink.dropped(), 1);
        let mut lines = Vec::new();
        queue.next_batch(&mut lines);
        // Taken lines free the queue.
        sink.emit(fork(5));
        assert_eq!(sink.dropped(), 1);
    }

    #[test]
    fn a_stopped_writer_drops_everything_after() {
        let (sink, queue) = channel("r", Limits::default());
        sink.emit(fork(1));
        sink.emit(fork(2));
        queue.stop(4);
        sink.emit(fork(3));
        sink.emit_final(fork(4));
        assert_eq!(sink.dropped(), 4 + 2 + 2);
        assert_eq!(sink.emitted(), 4);
    }

    #[test]
    fn the_writer_wakes_for_lines_from_another_thread() {
        let (sink, queue) = channel("r", Limits::default());
        let producer = std::thread::spawn(move || {
            for pid in 0..1000 {
                sink.emit(fork(pid));
            }
            sink.close();
        });
        let mut lines = Vec::new();
        while queue.next_batch(&mut lines) {}
        producer.join().unwrap();
        assert_eq!(lines.len(), 1000);
        assert!(lines.iter().enumerate().all(|(i, l)| l.seq == i as u64));
    }
}

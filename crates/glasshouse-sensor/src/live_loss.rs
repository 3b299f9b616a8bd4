//! The kernel's losses while the run lasts, for the live event stream: the loss counters are
//! read about once a second on the drain thread, and a running total is streamed when they grew,
//! so that a reader learns of a gap when it happens rather than at the end.

use crate::counters::{Counters, HOOK_NAMES, STAT_COUNT};
use crate::stream::Stream;
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::time::{Duration, Instant};

/// How often the counters are read.
const INTERVAL: Duration = Duration::from_secs(1);

/// The loss counters' totals by slot, or why they could not be read.
pub(crate) type Totals = Box<dyn FnMut() -> Result<Vec<u64>, String> + Send>;

/// Reads the kernel's loss counters now and then, and streams what grew.
pub(crate) struct LiveLosses {
    totals: Totals,
    reported: u64,
    next: Instant,
}

impl LiveLosses {
    /// Over the `stats` array open at `fd` (a duplicate the drain thread owns, so that it stays
    /// valid for as long as the thread reads it).
    pub(crate) fn on(fd: OwnedFd, cpus: usize) -> Self {
        let counters = Counters::on_fd(fd.as_raw_fd(), STAT_COUNT, cpus);
        Self::with(Box::new(move || {
            let _owned = &fd;
            counters.totals()
        }))
    }

    fn with(totals: Totals) -> Self {
        Self {
            totals,
            reported: 0,
            next: Instant::now() + INTERVAL,
        }
    }

    /// At `now`, if the interval has passed: reads the counters and streams the kernel's losses
    /// when they grew since the last line. A failed read says nothing here: the end of the run
    /// reads them again and the receipt says what failed.
    pub(crate) fn poll(&mut self, now: Instant, stream: &Stream) {
        if now < self.next {
            return;
        }
        self.next = now + INTERVAL;
        let Ok(totals) = (self.totals)() else {
            return;
        };
        let by_hook: BTreeMap<String, u64> = HOOK_NAMES
            .iter()
            .zip(&totals)
            .filter(|(_, n)| **n > 0)
            .map(|(name, n)| ((*name).to_owned(), *n))
            .collect();
        let total = by_hook.values().sum();
        if total > self.reported {
            self.reported = total;
            stream.kernel_losses_so_far(total, by_hook);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glasshouse_events::{Event, EventQueue, EventSink, Limits};
    use std::sync::{Arc, Mutex};

    /// A stream into a queue, and the counters a test sets.
    fn setup() -> (
        Stream,
        EventSink,
        EventQueue,
        Arc<Mutex<Vec<u64>>>,
        LiveLosses,
    ) {
        let (sink, queue) = glasshouse_events::channel("run", Limits::default());
        let stream = Stream::new(Some(sink.clone()));
        let counters = Arc::new(Mutex::new(vec![0u64; STAT_COUNT as usize]));
        let source = Arc::clone(&counters);
        let live = LiveLosses::with(Box::new(move || Ok(source.lock().unwrap().clone())));
        (stream, sink, queue, counters, live)
    }

    /// A `loss` line: count, by hook, running.
    type LossLine = (u64, Vec<(String, u64)>, bool);

    /// The `loss` lines streamed.
    fn losses(sink: &EventSink, queue: &EventQueue) -> Vec<LossLine> {
        sink.close();
        let mut lines = Vec::new();
        while queue.next_batch(&mut lines) {}
        lines
            .into_iter()
            .filter_map(|line| match line.event {
                Event::Loss(l) => Some((l.count, l.by_hook.into_iter().collect(), l.running)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_running_total_is_streamed_when_the_losses_grew_at_most_once_an_interval() {
        let (stream, sink, queue, counters, mut live) = setup();
        let start = Instant::now();
        live.poll(start + INTERVAL, &stream); // nothing lost: nothing said
        counters.lock().unwrap()[3] = 5; // sys_enter
        live.poll(start + INTERVAL + Duration::from_millis(10), &stream); // too soon
        live.poll(start + 2 * INTERVAL + Duration::from_millis(10), &stream);
        live.poll(start + 4 * INTERVAL, &stream); // unchanged: no second line
        counters.lock().unwrap()[0] = 2; // sched_process_fork
        live.poll(start + 6 * INTERVAL, &stream);
        let fork = ("sched_process_fork".to_owned(), 2);
        let enter = ("sys_enter".to_owned(), 5);
        assert_eq!(
            losses(&sink, &queue),
            [(5, vec![enter.clone()], true), (7, vec![fork, enter], true)]
        );
    }

    #[test]
    fn counters_other_than_the_losses_and_failed_reads_say_nothing() {
        let (stream, sink, queue, counters, mut live) = setup();
        counters.lock().unwrap()[crate::counters::STAT_BYTES_SENT] = 1 << 20;
        live.poll(Instant::now() + INTERVAL, &stream);
        let mut failing = LiveLosses::with(Box::new(|| Err("injected".to_owned())));
        failing.poll(Instant::now() + INTERVAL, &stream);
        assert!(losses(&sink, &queue).is_empty());
    }
}

//! The drain thread: empties the ring buffer in batches into the aggregate while the run lasts.

use crate::aggregate::Aggregator;
use crate::live_loss::LiveLosses;
use crate::SensorError;
use aya::maps::{MapData, RingBuf};
use std::os::fd::AsFd as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Tells the drain thread to finish, and wakes it at once rather than at its next poll
/// timeout (a run's end would otherwise wait up to a whole timeout for nothing).
pub(crate) struct StopSignal {
    stopping: AtomicBool,
    wake: nix::sys::eventfd::EventFd,
    /// Makes the drain thread panic at its next round: how tests prove that a failed drain
    /// marks the receipt incomplete.
    #[cfg(test)]
    pub(crate) fail: AtomicBool,
}

impl StopSignal {
    pub(crate) fn new() -> Result<Self, SensorError> {
        use nix::sys::eventfd::{EfdFlags, EventFd};
        let wake = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|e| SensorError::Load(format!("cannot create an eventfd: {e}")))?;
        Ok(Self {
            stopping: AtomicBool::new(false),
            wake,
            #[cfg(test)]
            fail: AtomicBool::new(false),
        })
    }

    pub(crate) fn raise(&self) {
        self.stopping.store(true, Ordering::Release);
        // A failed write only costs the drain thread one poll timeout.
        let _ = self.wake.write(1);
    }

    fn raised(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

/// How often the drain thread empties the ring buffer on its own. The BPF side wakes it sooner
/// only when a quarter of the ring is waiting, so events are taken in batches, not one by one.
const DRAIN_INTERVAL_MS: u8 = 10;

/// What the drain thread hands back: the aggregate, and what went wrong on the way.
pub(crate) struct Drained {
    pub(crate) agg: Aggregator,
    /// Times the thread could not wait for events, and the first error.
    pub(crate) wait_errors: u64,
    pub(crate) first_wait_error: Option<String>,
}

impl Drained {
    /// The gaps the drain itself caused, as notes for the receipt.
    pub(crate) fn faults(&self) -> Vec<String> {
        match &self.first_wait_error {
            Some(first) => vec![format!(
                "the drain thread could not wait for events {} times (first: {first}): it read the ring buffer on its own timer instead, and a burst may have overflowed it between reads",
                self.wait_errors
            )],
            None => Vec::new(),
        }
    }
}

/// Drains the ring buffer until told to stop, then once more; with `live_losses` (a live event
/// stream), also streams the kernel's losses as they grow.
pub(crate) fn drain(
    mut ring: RingBuf<MapData>,
    agg: Aggregator,
    stop: &StopSignal,
    mut live_losses: Option<LiveLosses>,
) -> Drained {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut out = Drained {
        agg,
        wait_errors: 0,
        first_wait_error: None,
    };
    loop {
        let stopping = stop.raised();
        let mut taken = 0u32;
        while let Some(item) = ring.next() {
            out.agg.push_raw(&item);
            taken += 1;
            // A ring that never empties still ends a batch now and then.
            if taken.is_multiple_of(4096) {
                out.agg.end_batch();
            }
        }
        out.agg.end_batch();
        if let Some(live) = live_losses.as_mut() {
            live.poll(std::time::Instant::now(), &out.agg.stream);
        }
        #[cfg(test)]
        if stop.fail.load(Ordering::Acquire) {
            panic!("drain failure injected by a test");
        }
        if stopping {
            return out;
        }
        let mut fds = [
            PollFd::new(ring.as_fd(), PollFlags::POLLIN),
            PollFd::new(stop.wake.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::from(DRAIN_INTERVAL_MS)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                // Not waiting would spin: wait the interval without the ring's wake-up.
                out.wait_errors += 1;
                out.first_wait_error
                    .get_or_insert_with(|| format!("poll: {e}"));
                std::thread::sleep(std::time::Duration::from_millis(DRAIN_INTERVAL_MS.into()));
            }
        }
    }
}

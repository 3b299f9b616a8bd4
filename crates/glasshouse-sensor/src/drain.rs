//! The drain thread: empties the ring buffer in batches into the aggregate while the run lasts.

use crate::aggregate::Aggregator;
use crate::SensorError;
use aya::maps::{MapData, RingBuf};
use std::os::fd::AsFd as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Tells the drain thread to finish, and wakes it at once rather than at its next poll
/// timeout (a run's end would otherwise wait up to a whole timeout for nothing).
pub(crate) struct StopSignal {
    stopping: AtomicBool,
    wake: nix::sys::eventfd::EventFd,
}

impl StopSignal {
    pub(crate) fn new() -> Result<Self, SensorError> {
        use nix::sys::eventfd::{EfdFlags, EventFd};
        let wake = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|e| SensorError::Load(format!("cannot create an eventfd: {e}")))?;
        Ok(Self {
            stopping: AtomicBool::new(false),
            wake,
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

/// Drains the ring buffer until told to stop, then once more.
pub(crate) fn drain(
    mut ring: RingBuf<MapData>,
    mut agg: Aggregator,
    stop: &StopSignal,
) -> Aggregator {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let stopping = stop.raised();
        let mut taken = 0u32;
        while let Some(item) = ring.next() {
            agg.push_raw(&item);
            taken += 1;
            // A ring that never empties still ends a batch now and then.
            if taken.is_multiple_of(4096) {
                agg.end_batch();
            }
        }
        agg.end_batch();
        if stopping {
            return agg;
        }
        let mut fds = [
            PollFd::new(ring.as_fd(), PollFlags::POLLIN),
            PollFd::new(stop.wake.as_fd(), PollFlags::POLLIN),
        ];
        let _ = poll(&mut fds, PollTimeout::from(DRAIN_INTERVAL_MS));
    }
}

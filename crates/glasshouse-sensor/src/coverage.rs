//! What the sensor could and could not see: `sensor` of the receipt, its notes, and whether the
//! receipt may call itself complete. Every gap that is counted somewhere ends up here.

use crate::aggregate::{self, Aggregator};
use crate::counters::{
    HOOK_NAMES, STAT_FDS_UNINSPECTED, STAT_MMSG_UNINSPECTED, STAT_TRACK_FULL,
    STAT_URING_PENDING_FULL,
};
use glasshouse_receipt::{ArgvCapture, HookStatus, SensorCoverage};

/// What a run knows at its end about its own sight.
pub(crate) struct Sight<'a> {
    /// Each hook, attached or not.
    pub(crate) hooks: Vec<HookStatus>,
    /// For each hook that did not attach, what the receipt does not show.
    pub(crate) hook_notes: Vec<String>,
    /// The self-check's finding when its probe was not seen exactly (see `self_check`).
    pub(crate) self_check: Option<String>,
    /// The totals of the `stats` counters.
    pub(crate) stats: &'a [u64],
    /// The aggregate the drain thread returned.
    pub(crate) agg: &'a Aggregator,
    /// Whether the tree used io_uring at all.
    pub(crate) used_io_uring: bool,
    pub(crate) argv_capture: ArgvCapture,
    pub(crate) linger_ms: u64,
    /// Gaps user space itself caused (a failed drain, unreadable counters), as notes.
    pub(crate) faults: Vec<String>,
    /// Notes that leave the receipt complete (a kept set discarded and loaded afresh).
    pub(crate) notes: Vec<String>,
}

/// The coverage section, with a note for every gap; complete only when there is none.
pub(crate) fn assess(sight: Sight<'_>) -> SensorCoverage {
    let Sight {
        hooks,
        mut hook_notes,
        self_check,
        stats,
        agg,
        used_io_uring,
        argv_capture,
        linger_ms,
        faults,
        notes,
    } = sight;
    let mut coverage = SensorCoverage::default();
    coverage.kind = "ebpf".into();
    coverage.notes = notes;
    coverage.hooks = hooks;
    for (i, name) in HOOK_NAMES.iter().enumerate() {
        if stats[i] > 0 {
            coverage.lost_by_hook.insert((*name).to_owned(), stats[i]);
        }
    }
    coverage.events_lost = coverage.lost_by_hook.values().sum();
    coverage.truncated = agg.truncations();
    coverage.argv_capture = argv_capture;
    coverage.linger_ms = linger_ms;
    if stats[STAT_TRACK_FULL] > 0 {
        coverage.notes.push(format!(
            "{} processes or threads could not be followed: the kernel could not add them to this run's tables (full, or out of memory)",
            stats[STAT_TRACK_FULL]
        ));
    }
    if stats[STAT_URING_PENDING_FULL] > 0 {
        coverage.notes.push(format!(
            "{} io_uring operations could not be followed: the table of pending requests was full",
            stats[STAT_URING_PENDING_FULL]
        ));
    }
    if stats[STAT_MMSG_UNINSPECTED] > 0 {
        coverage.notes.push(format!(
            "{} sendmmsg messages past the first 8 of a call were sent without their destinations being read",
            stats[STAT_MMSG_UNINSPECTED]
        ));
    }
    if stats[STAT_FDS_UNINSPECTED] > 0 {
        coverage.notes.push(format!(
            "{} received messages may have carried descriptors (SCM_RIGHTS) that are not named in filesystem.descriptors (more than 8 descriptors or 2 control messages in one message, recvmmsg messages past the first 8 of a call, or a multishot io_uring recvmsg)",
            stats[STAT_FDS_UNINSPECTED]
        ));
    }
    if used_io_uring {
        coverage.notes.push(
            "the tree used io_uring: open, unlink, rename, mkdir, link, symlink, setxattr, connect, sendmsg and send operations are decoded like their system calls; other operations are counted in syscalls.io_uring".to_owned(),
        );
    }
    let omitted = agg.omitted();
    for (list, n) in &omitted {
        coverage.notes.push(format!(
            "{list} holds its first {} distinct entries; {n} events with further distinct entries were not listed",
            aggregate::MAX_LISTED
        ));
    }
    if agg.malformed > 0 {
        coverage.notes.push(format!(
            "{} events could not be decoded (the BPF object does not match this glasshouse)",
            agg.malformed
        ));
    }
    coverage.notes.append(&mut hook_notes);
    let self_checked = self_check.is_none();
    coverage.notes.extend(self_check);
    let faulted = !faults.is_empty();
    coverage.notes.extend(faults);
    coverage.complete = !faulted
        && self_checked
        && coverage.hooks.iter().all(|h| h.attached)
        && coverage.events_lost == 0
        && coverage.truncated.is_empty()
        && agg.malformed == 0
        && omitted.is_empty()
        && stats[STAT_TRACK_FULL] == 0
        && stats[STAT_URING_PENDING_FULL] == 0
        && stats[STAT_MMSG_UNINSPECTED] == 0
        && stats[STAT_FDS_UNINSPECTED] == 0;
    coverage
}

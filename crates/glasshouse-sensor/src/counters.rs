//! The per-CPU counter arrays (syscall counts, io_uring operations, loss and byte counters), read
//! and zeroed whole with one batched bpf(2) call each, rather than one call per slot and CPU set:
//! a run reads about 600 slots at its end, and a kept set zeroes them at its start.

use aya::maps::Map;
use std::os::fd::{AsFd as _, AsRawFd as _, RawFd};

/// Names of the loss counters of `stats`, by index (`GH_HOOK_*` in the object).
pub(crate) const HOOK_NAMES: [&str; 8] = [
    "sched_process_fork",
    "sched_process_exec",
    "sched_process_exit",
    "sys_enter",
    "sys_exit",
    "io_uring",
    "network",
    "reserved",
];
/// The other slots of `stats` (`GH_STAT_*` in the object).
pub(crate) const STAT_TRACK_FULL: usize = 8;
pub(crate) const STAT_BYTES_SENT: usize = 9;
pub(crate) const STAT_BYTES_RECEIVED: usize = 10;
pub(crate) const STAT_URING_PENDING_FULL: usize = 11;
pub(crate) const STAT_MMSG_UNINSPECTED: usize = 12;
pub(crate) const STAT_FDS_UNINSPECTED: usize = 13;
/// Slots of `stats`, `uring_ops` and `syscall_counts`.
pub(crate) const STAT_COUNT: u32 = 16;
pub(crate) const URING_OPS: u32 = 64;
pub(crate) const MAX_SYSCALLS: u32 = 512;

/// `union bpf_attr` for the BPF_MAP_*_BATCH commands.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
const BPF_MAP_UPDATE_BATCH: libc::c_long = 26;

/// A per-CPU array of `u64` counters.
pub(crate) struct Counters {
    fd: RawFd,
    slots: u32,
    cpus: usize,
}

impl Counters {
    /// `map` as an array of `slots` counters per CPU, on `cpus` possible CPUs.
    pub(crate) fn of(map: &Map, slots: u32, cpus: usize) -> Result<Self, String> {
        match map {
            Map::PerCpuArray(data) => Ok(Self {
                fd: data.fd().as_fd().as_raw_fd(),
                slots,
                cpus,
            }),
            _ => Err("not a per-CPU array".into()),
        }
    }

    /// The per-CPU array open at `fd` (which must outlive the returned value), as [`Counters::of`].
    pub(crate) fn on_fd(fd: RawFd, slots: u32, cpus: usize) -> Self {
        Self { fd, slots, cpus }
    }

    /// Each slot's sum over the CPUs.
    pub(crate) fn totals(&self) -> Result<Vec<u64>, String> {
        let mut keys = vec![0u32; self.slots as usize];
        let mut values = vec![0u64; self.slots as usize * self.cpus];
        let mut next = 0u32;
        let mut attr = BatchAttr {
            out_batch: &mut next as *mut u32 as u64,
            keys: keys.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            count: self.slots,
            map_fd: self.fd as u32,
            ..BatchAttr::default()
        };
        // ENOENT: the array ended before `count` slots, which still holds how many were read.
        match bpf(BPF_MAP_LOOKUP_BATCH, &mut attr) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(format!("reading counters: {e}")),
        }
        let mut totals = vec![0u64; self.slots as usize];
        let read = (attr.count as usize).min(keys.len());
        if read < keys.len() {
            // Every slot of an array exists: fewer is a failure, not zeros.
            return Err(format!("reading counters: {read} of {} slots", keys.len()));
        }
        for (i, key) in keys.iter().take(read).enumerate() {
            let per_cpu = &values[i * self.cpus..(i + 1) * self.cpus];
            if let Some(total) = totals.get_mut(*key as usize) {
                *total = per_cpu.iter().sum();
            }
        }
        Ok(totals)
    }

    /// Sets every slot on every CPU to zero.
    pub(crate) fn zero(&self) -> Result<(), String> {
        self.set_all(&vec![0u64; self.slots as usize * self.cpus])
    }

    /// Sets every slot to zero but `slot` on the first CPU, to `value`: what a test makes the
    /// kernel seem to have counted.
    #[cfg(test)]
    pub(crate) fn set_one(&self, slot: u32, value: u64) -> Result<(), String> {
        let mut values = vec![0u64; self.slots as usize * self.cpus];
        values[slot as usize * self.cpus] = value;
        self.set_all(&values)
    }

    /// Writes `values` (`cpus` per slot) into every slot.
    fn set_all(&self, values: &[u64]) -> Result<(), String> {
        if values.len() != self.slots as usize * self.cpus {
            return Err("writing counters: a value for every slot and CPU is needed".into());
        }
        let keys: Vec<u32> = (0..self.slots).collect();
        let mut attr = BatchAttr {
            keys: keys.as_ptr() as u64,
            values: values.as_ptr() as u64,
            count: self.slots,
            map_fd: self.fd as u32,
            ..BatchAttr::default()
        };
        bpf(BPF_MAP_UPDATE_BATCH, &mut attr).map_err(|e| format!("writing counters: {e}"))
    }
}

fn bpf(cmd: libc::c_long, attr: &mut BatchAttr) -> std::io::Result<()> {
    // SAFETY: bpf(2) reads `attr` and, for the batch commands, reads or writes `count` keys and
    // `count` per-CPU values at the addresses it holds; the callers point them at buffers of
    // exactly that many keys and values (a value being `cpus` u64s, the kernel's layout of a
    // per-CPU u64), which outlive the call. `count` is written back into `attr`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut BatchAttr,
            std::mem::size_of::<BatchAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

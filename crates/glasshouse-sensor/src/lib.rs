//! glasshouse's kernel sensor: eBPF programs (in `bpf/`, compiled object committed) that follow
//! one process tree by tgid and report what it did, and the user-space side that loads them with
//! aya, drains their ring buffer on a dedicated thread and folds the events into receipt parts.
//!
//! Life cycle: [`Sensor::start`] loads and attaches every hook; [`Sensor::tracking_hook`] is run
//! by the child between fork and exec, so the command is followed from its first instruction;
//! [`Sensor::live_processes`] tells which processes of the tree are still running;
//! [`Sensor::finish`] detaches, drains what is left and returns [`Observations`].
//!
//! The modules follow the stages a run goes through: `options`, then `load` (or `kept`, a set
//! kept loaded by an earlier run, found through `pool`), `track` (the hook before exec),
//! `drain` (ring buffer to aggregate), `event` (decoding), `interpret` (what an operation
//! means; `table` holds the decoded syscalls, from `bpf/syscalls.h`), `aggregate` (the
//! receipt's lists), `coverage` (what was not seen), and `names`.

mod aggregate;
mod counters;
mod coverage;
mod drain;
mod error;
pub mod event;
#[cfg(test)]
mod fault_tests;
mod identity;
mod interpret;
mod kept;
#[cfg(test)]
mod kept_tests;
mod kernel_btf;
mod live_loss;
mod load;
mod names;
mod net;
mod options;
mod paths;
mod pool;
mod relocated;
mod self_check;
mod stream;
mod table;
mod track;
mod variants;

pub use error::SensorError;
pub use names::{errno_name, syscall_name, uring_op_name};
pub use options::{ArgvSetting, SensorOptions};

use aggregate::Aggregator;
use aya::maps::{HashMap as BpfHashMap, Map, MapData, RingBuf};
use counters::{
    Counters, MAX_SYSCALLS, STAT_BYTES_RECEIVED, STAT_BYTES_SENT, STAT_COUNT, URING_OPS,
};
use drain::{drain, Drained, StopSignal};
use glasshouse_receipt::{
    ArgvCapture, Filesystem, HookStatus, Network, ProcessNode, SensorCoverage, Syscalls,
};
use load::{Attached, EMBEDDED_OBJECT};
use std::collections::BTreeMap;
use std::os::fd::{AsFd as _, AsRawFd as _, RawFd};
use std::sync::Arc;
use std::thread::JoinHandle;

/// File name of the object inside `GLASSHOUSE_BPF_DIR`.
pub const OBJECT_NAME: &str = "glasshouse.bpf.o";

/// What the sensor saw, as receipt parts.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Observations {
    /// Every process of the tree, sorted by pid.
    pub process_tree: Vec<ProcessNode>,
    /// Files read, written, deleted, and failed operations.
    pub filesystem: Filesystem,
    /// Network activity.
    pub network: Network,
    /// Syscall counts and denied operations.
    pub syscalls: Syscalls,
    /// What the sensor could and could not see.
    pub coverage: SensorCoverage,
}

/// Registers processes with a running sensor; valid while the [`Sensor`] it came from runs.
#[derive(Debug, Clone)]
pub struct Registration {
    tracked_fd: RawFd,
    threads_fd: RawFd,
    entry: Vec<u8>,
    root_ppid: u32,
}

impl Registration {
    /// Adds process `pid` (in the sensor's pid namespace), whose one thread `pidfd` names, to
    /// the tree, from another process: for a command held before exec by its parent, such as a
    /// sandbox's, whose own getpid() would name its pid namespace's number instead.
    pub fn track(&self, pid: u32, pidfd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<()> {
        use std::os::fd::AsRawFd as _;
        track::track_process(
            self.tracked_fd,
            self.threads_fd,
            &self.entry,
            pid,
            u64::from(self.root_ppid),
            pidfd.as_raw_fd(),
        )
    }

    /// The same registration run by the child itself between fork and exec.
    pub fn self_tracking_hook(&self) -> Box<dyn FnMut() -> std::io::Result<()> + Send + Sync> {
        let (tracked, threads, entry) = (self.tracked_fd, self.threads_fd, self.entry.clone());
        Box::new(move || track::track_self(tracked, threads, &entry))
    }
}

/// A running sensor.
pub struct Sensor {
    /// Owns the attached programs: dropping it detaches every hook.
    programs: Option<Attached>,
    tracked: Map,
    syscall_counts: Map,
    uring_ops: Map,
    stats: Map,
    tracked_fd: RawFd,
    /// Task storage with an entry per thread of the tree (`inflight` in the object), held so
    /// that `threads_fd` stays open for the tracking hook.
    _threads: Map,
    threads_fd: RawFd,
    /// An entry of `_threads` for the command's first thread: as long as the kernel's entries,
    /// stamped with this run's generation.
    first_thread_entry: Vec<u8>,
    root_ppid: u32,
    hooks: Vec<HookStatus>,
    /// Notes for the hooks that did not attach, saying what the receipt misses.
    hook_notes: Vec<String>,
    /// The self-check's note when its probe was not seen exactly.
    self_check: Option<String>,
    argv_capture: ArgvCapture,
    stop: Arc<StopSignal>,
    drain: Option<JoinHandle<Drained>>,
    /// What went wrong while the run lasted that the receipt must own up to (a list of the
    /// live processes that could not be read), noted at its end.
    faults: std::sync::Mutex<Vec<String>>,
    /// Notes on how the programs were found (a kept set discarded), for the receipt.
    load_notes: Vec<String>,
    /// Makes every counter read fail: how tests prove that unreadable counters mark the
    /// receipt incomplete.
    #[cfg(test)]
    counters_fail: bool,
    /// The kept program set this run holds, released after the run's last read of its maps.
    _slot: Option<pool::Slot>,
    /// Possible CPUs: the number of values of each per-CPU counter.
    cpus: usize,
    /// The live event stream, if the run has one.
    stream: stream::Stream,
}

impl Sensor {
    /// Loads the object (or takes a set of its programs kept loaded by an earlier run),
    /// attaches every hook it can and starts draining. The tree is empty until a process
    /// registers itself through [`Sensor::tracking_hook`].
    pub fn start(options: &SensorOptions, root_ppid: u32) -> Result<Self, SensorError> {
        Self::start_streaming(options, root_ppid, None)
    }

    /// [`Sensor::start`], telling `events` about every new entry of the receipt's lists as
    /// the drain folds it in (the lines of `run --events`). Emitting never blocks the drain: a
    /// full queue drops lines, which the receipt's notes then count.
    pub fn start_streaming(
        options: &SensorOptions,
        root_ppid: u32,
        events: Option<glasshouse_events::EventSink>,
    ) -> Result<Self, SensorError> {
        let stream = stream::Stream::new(events);
        if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
            return Err(SensorError::NoBtf);
        }
        let object: std::borrow::Cow<'_, [u8]> = match &options.bpf_dir {
            Some(dir) => {
                let path = dir.join(OBJECT_NAME);
                std::fs::read(&path)
                    .map(Into::into)
                    .map_err(|source| SensorError::Object { path, source })?
            }
            None => EMBEDDED_OBJECT.into(),
        };
        let (capture, note) = options.argv.decide(options::running_on_wsl());
        let argv_capture = ArgvCapture::new(options.argv.name(), capture, note);
        let cpus =
            aya::util::nr_cpus().map_err(|(what, e)| SensorError::Load(format!("{what}: {e}")))?;

        let key = relocated::cache_key(&object);
        // Which program serves each hook on this kernel; below the minimum, nothing is loaded.
        let plan = match &options.kernel_btf {
            // The minimum-kernel test's stand-in for an older kernel: never cached.
            Some(btf) => variants::Plan::for_kernel(btf),
            None => variants::for_this_boot(key.as_deref()),
        }
        .map_err(SensorError::Load)?;
        if let Some(missing) = &plan.missing {
            return Err(SensorError::Unsupported(missing.clone()));
        }
        // A deliberately wrong offset (the self-check's test) is never kept for later runs.
        let keep = options.keep_programs && options.fault_f_path == 0;
        let slot = match &key {
            Some(key) if keep => pool::take(&pool::set_name(key, capture)),
            _ => None,
        };
        let globals = load::Globals {
            cpus,
            capture,
            fault_f_path: options.fault_f_path,
        };
        let (mut kernel, slot) =
            kept::kept_or_loaded(slot, &object, key.as_deref(), &plan, globals)?;
        let hooks = std::mem::take(&mut kernel.hooks);
        let hook_notes = plan.notes(&hooks);
        if hooks.iter().all(|h| !h.attached) {
            let first = hooks
                .first()
                .and_then(|h| h.error.clone())
                .unwrap_or_default();
            return Err(SensorError::NoHooks(first));
        }
        let missing = |name: &str| SensorError::Load(format!("the object has no map {name:?}"));
        let gen = kernel.gen;
        let tracked = kernel.take_map("tracked")?;
        let tracked_fd = match &tracked {
            Map::HashMap(data) => data.fd().as_fd().as_raw_fd(),
            _ => return Err(missing("tracked (a hash map)")),
        };
        let threads = kernel.take_map("inflight")?;
        let (threads_fd, first_thread_entry) = match &threads {
            Map::Unsupported(data) => {
                let info = data
                    .info()
                    .map_err(|e| SensorError::Load(format!("inflight: {e}")))?;
                let mut entry = vec![0u8; info.value_size() as usize];
                // `gen` is the entry's first field.
                if let Some(head) = entry.get_mut(..4) {
                    head.copy_from_slice(&gen.to_ne_bytes());
                }
                (data.fd().as_fd().as_raw_fd(), entry)
            }
            _ => return Err(missing("inflight (task storage)")),
        };
        let syscall_counts = kernel.take_map("syscall_counts")?;
        let stats = kernel.take_map("stats")?;
        let uring_ops = kernel.take_map("uring_ops")?;
        let mut ring = match kernel.ring.take() {
            Some(ring) => ring,
            None => RingBuf::try_from(kernel.take_map("events")?)
                .map_err(|e| SensorError::Load(e.to_string()))?,
        };
        // Before the drain thread takes the ring: the probe's event is read here.
        let self_check = self_check::run(threads_fd, &first_thread_entry, &mut ring);
        let stop = Arc::new(StopSignal::new()?);
        // Only for a live stream: a duplicate of the loss counters' descriptor, the drain
        // thread's own. Without one the losses still arrive at the end.
        let live_losses = match &stats {
            aya::maps::Map::PerCpuArray(data) if stream.is_on() => {
                data.fd().as_fd().try_clone_to_owned().ok()
            }
            _ => None,
        }
        .map(|fd| live_loss::LiveLosses::on(fd, cpus));
        let drain = {
            let stop = Arc::clone(&stop);
            let agg = Aggregator::new(root_ppid, stream.clone());
            std::thread::Builder::new()
                .name("glasshouse-drain".into())
                .spawn(move || drain(ring, agg, &stop, live_losses))
                .map_err(|e| SensorError::Load(format!("cannot start the drain thread: {e}")))?
        };
        Ok(Self {
            programs: Some(kernel.programs),
            tracked,
            syscall_counts,
            uring_ops,
            stats,
            tracked_fd,
            _threads: threads,
            threads_fd,
            first_thread_entry,
            root_ppid,
            hooks,
            hook_notes,
            self_check,
            argv_capture,
            stop,
            drain: Some(drain),
            faults: std::sync::Mutex::new(Vec::new()),
            load_notes: std::mem::take(&mut kernel.notes),
            #[cfg(test)]
            counters_fail: false,
            _slot: slot,
            cpus,
            stream,
        })
    }

    /// A hook for the child to run after fork and before exec: it adds the child's own process
    /// and thread to the traced set, so the command is followed from its first instruction.
    /// Async-signal-safe (raw system calls only).
    pub fn tracking_hook(&self) -> Box<dyn FnMut() -> std::io::Result<()> + Send + Sync> {
        let (tracked, threads) = (self.tracked_fd, self.threads_fd);
        // Allocated here, in the parent: the hook itself must not allocate.
        let entry = self.first_thread_entry.clone();
        Box::new(move || track::track_self(tracked, threads, &entry))
    }

    /// What registers a process with this run from outside it: see [`Registration::track`].
    pub fn registration(&self) -> Registration {
        Registration {
            tracked_fd: self.tracked_fd,
            threads_fd: self.threads_fd,
            entry: self.first_thread_entry.clone(),
            root_ppid: self.root_ppid,
        }
    }

    /// Processes of the tree that have not exited yet. When the kernel's list cannot be read,
    /// none (the receipt then says that some may have outlived the run unobserved).
    pub fn live_processes(&self) -> Vec<u32> {
        let listed = BpfHashMap::<&MapData, u32, u64>::try_from(&self.tracked)
            .and_then(|m| m.keys().collect::<Result<Vec<u32>, _>>());
        match listed {
            Ok(pids) => pids,
            Err(e) => {
                self.fault(format!(
                    "the processes of the tree still running could not be listed ({}): glasshouse may have stopped waiting for some, and what they did afterwards is missing",
                    load::error_chain(&e)
                ));
                Vec::new()
            }
        }
    }

    /// Records a gap for the receipt's notes, once per kind.
    fn fault(&self, note: String) {
        if let Ok(mut faults) = self.faults.lock() {
            if !faults.contains(&note) {
                faults.push(note);
            }
        }
    }

    /// Detaches, drains everything still buffered and returns what was seen. `root` is the
    /// command's pid (none when it never started); `ended` lists the processes glasshouse
    /// itself ended after `--linger`.
    pub fn finish(mut self, root: Option<u32>, ended: &[u32], linger_ms: u64) -> Observations {
        // Detach first (dropping the programs drops their links) so no event arrives after
        // the final drain.
        drop(self.programs.take());
        self.stop.raise();
        let mut faults = match self.faults.lock() {
            Ok(mut faults) => std::mem::take(&mut *faults),
            Err(_) => vec!["a thread failed while holding the sensor's list of gaps: some gaps may not be named".to_owned()],
        };
        let mut agg = match self.drain.take().map(JoinHandle::join) {
            Some(Ok(drained)) => {
                faults.extend(drained.faults());
                drained.agg
            }
            Some(Err(panic)) => {
                faults.push(format!(
                    "the drain thread failed ({}): the events of this run are missing from this receipt",
                    panic_message(panic.as_ref())
                ));
                Aggregator::new(self.root_ppid, self.stream.clone())
            }
            None => {
                faults.push("the drain thread was not running: the events of this run are missing from this receipt".to_owned());
                Aggregator::new(self.root_ppid, self.stream.clone())
            }
        };
        let mut obs = Observations::default();
        for mut node in agg.processes() {
            node.ended_by_glasshouse = ended.contains(&node.pid);
            // A process first seen at its exec had its fork event lost: its parent is unknown
            // (0), unless it is the command itself.
            if node.ppid == self.root_ppid && Some(node.pid) != root {
                node.ppid = 0;
            }
            obs.process_tree.push(node);
        }
        let [reads, writes, deletes] = agg.take_files();
        obs.filesystem.reads = reads;
        obs.filesystem.writes = writes;
        obs.filesystem.deletes = deletes;
        obs.filesystem.failed = agg.take_failed();
        obs.filesystem.descriptors = agg.take_descriptors();
        obs.network.attempts = agg.take_attempts();
        obs.syscalls.denied = obs
            .filesystem
            .failed
            .iter()
            .filter(|f| f.errno == libc::EPERM || f.errno == libc::EACCES)
            .cloned()
            .collect();
        let mut read = |map: &Map, slots: u32, what: &str, so: &str| {
            self.totals(map, slots).unwrap_or_else(|e| {
                faults.push(format!("{what} could not be read ({e}): {so}"));
                vec![0; slots as usize]
            })
        };
        let counts = read(
            &self.syscall_counts,
            MAX_SYSCALLS,
            "the syscall counters",
            "syscalls.counts is empty",
        );
        let uring_ops = read(
            &self.uring_ops,
            URING_OPS,
            "the io_uring counters",
            "syscalls.io_uring is empty",
        );
        let stats = read(
            &self.stats,
            STAT_COUNT,
            "the loss and byte counters",
            "events the kernel could not deliver are not counted, and the network byte counts are zero",
        );
        obs.syscalls.counts = named(counts, syscall_name);
        obs.syscalls.io_uring = named(uring_ops, |op| uring_op_name(op).to_owned());
        obs.network.bytes_sent = stats[STAT_BYTES_SENT];
        obs.network.bytes_received = stats[STAT_BYTES_RECEIVED];
        obs.coverage = coverage::assess(coverage::Sight {
            hooks: std::mem::take(&mut self.hooks),
            hook_notes: std::mem::take(&mut self.hook_notes),
            self_check: self.self_check.take(),
            stats: &stats,
            agg: &agg,
            used_io_uring: !obs.syscalls.io_uring.is_empty(),
            argv_capture: self.argv_capture.clone(),
            linger_ms,
            faults,
            notes: std::mem::take(&mut self.load_notes),
        });
        self.stream
            .losses(&mut obs.coverage, &agg.omitted(), agg.malformed);
        obs
    }

    /// Each slot's total of the per-CPU counter array `map`.
    fn totals(&self, map: &Map, slots: u32) -> Result<Vec<u64>, String> {
        #[cfg(test)]
        if self.counters_fail {
            return Err("failure injected by a test".into());
        }
        Counters::of(map, slots, self.cpus).and_then(|c| c.totals())
    }
}

/// What a panic said, when it said it with a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic")
}

/// The non-zero slots of `totals`, by name.
fn named(totals: Vec<u64>, name: impl Fn(u32) -> String) -> BTreeMap<String, u64> {
    (0u32..)
        .zip(totals)
        .filter(|(_, total)| *total > 0)
        .map(|(slot, total)| (name(slot), total))
        .collect()
}

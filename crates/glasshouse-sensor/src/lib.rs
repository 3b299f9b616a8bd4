//! glasshouse's kernel sensor: eBPF programs (in `bpf/`, compiled object committed) that follow
//! one process tree by tgid and report what it did, and the user-space side that loads them with
//! aya, drains their ring buffer on a dedicated thread and folds the events into receipt parts.
//!
//! Life cycle: [`Sensor::start`] loads and attaches every hook; [`Sensor::tracking_hook`] is run
//! by the child between fork and exec, so the command is followed from its first instruction;
//! [`Sensor::live_processes`] tells which processes of the tree are still running;
//! [`Sensor::finish`] detaches, drains what is left and returns [`Observations`].

mod aggregate;
mod counters;
pub mod event;
mod net;
mod pool;
mod relocated;

use aggregate::Aggregator;
use aya::maps::{HashMap as BpfHashMap, Map, MapData, RingBuf};
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf, EbpfLoader};
use counters::Counters;
use glasshouse_receipt::{
    ArgvCapture, Filesystem, HookStatus, Network, ProcessNode, SensorCoverage, Syscalls,
};
use std::collections::BTreeMap;
use std::os::fd::{AsFd as _, AsRawFd as _, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The compiled BPF object, built by `scripts/build-ebpf.sh` from `bpf/*.c`.
static EMBEDDED_OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/glasshouse.bpf.o");

/// File name of the object inside `GLASSHOUSE_BPF_DIR`.
pub const OBJECT_NAME: &str = "glasshouse.bpf.o";

/// The programs of the object and the tracepoints they attach to.
const HOOKS: &[(&str, &str)] = &[
    ("gh_fork", "sched_process_fork"),
    ("gh_exec", "sched_process_exec"),
    ("gh_exit", "sched_process_exit"),
    ("gh_sys_enter", "sys_enter"),
    ("gh_sys_exit", "sys_exit"),
    ("gh_tcp_state", "inet_sock_set_state"),
    ("gh_sock_send", "sock_send_length"),
    ("gh_sock_recv", "sock_recv_length"),
    ("gh_uring_submit", "io_uring_submit_req"),
    ("gh_uring_complete", "io_uring_complete"),
];

/// Names of the loss counters, by index (`GH_HOOK_*`).
const HOOK_NAMES: [&str; 8] = [
    "sched_process_fork",
    "sched_process_exec",
    "sched_process_exit",
    "sys_enter",
    "sys_exit",
    "io_uring",
    "network",
    "reserved",
];
const STAT_TRACK_FULL: usize = 8;
const STAT_BYTES_SENT: usize = 9;
const STAT_BYTES_RECEIVED: usize = 10;
const STAT_URING_PENDING_FULL: usize = 11;
const STAT_MMSG_UNINSPECTED: usize = 12;
const STAT_COUNT: u32 = 16;
const URING_OPS: u32 = 64;
const MAX_SYSCALLS: u32 = 512;

/// Errors starting the sensor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SensorError {
    /// The kernel exposes no BTF, which CO-RE programs need.
    #[error("the kernel has no BTF (/sys/kernel/btf/vmlinux is missing): the eBPF sensor needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf,
    /// `GLASSHOUSE_BPF_DIR` names a directory without a readable object.
    #[error("cannot read {path}: {source} (GLASSHOUSE_BPF_DIR must name a directory holding {OBJECT_NAME}; unset it to use the built-in object)")]
    Object {
        /// The object's path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `GLASSHOUSE_CAPTURE_ARGV` has a value glasshouse does not know.
    #[error("GLASSHOUSE_CAPTURE_ARGV={0:?} is not understood: use 0, 1 or force")]
    BadArgvSetting(String),
    /// `GLASSHOUSE_KEEP_PROGRAMS` has a value glasshouse does not know.
    #[error("GLASSHOUSE_KEEP_PROGRAMS={0:?} is not understood: use 1 (keep loaded programs for later runs, the default) or 0")]
    BadKeepSetting(String),
    /// The kernel refused to load the object.
    #[error("the kernel refused the eBPF sensor: {0}")]
    Load(String),
    /// The kernel refused for lack of privileges.
    #[error("not allowed to load the eBPF sensor ({0}): run as root (or with CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE), or drop --profile")]
    NotPermitted(String),
    /// Not one hook could be attached.
    #[error("no eBPF hook could be attached: {0}")]
    NoHooks(String),
}

/// `GLASSHOUSE_CAPTURE_ARGV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgvSetting {
    /// Unset: on where it works (native Linux), off on WSL.
    Default,
    /// `0`: never.
    Off,
    /// `1`: on; on WSL it stays off with a note.
    On,
    /// `force`: on, even on WSL.
    Force,
}

impl ArgvSetting {
    /// Parses the variable's value.
    pub fn parse(value: Option<&str>) -> Result<Self, SensorError> {
        match value.map(str::trim) {
            None | Some("") => Ok(Self::Default),
            Some("0") | Some("off") | Some("false") => Ok(Self::Off),
            Some("1") | Some("on") | Some("true") => Ok(Self::On),
            Some("force") => Ok(Self::Force),
            Some(other) => Err(SensorError::BadArgvSetting(other.to_owned())),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Off => "0",
            Self::On => "1",
            Self::Force => "force",
        }
    }

    /// Whether argv is captured on this kernel, and the note explaining a refusal.
    fn decide(self, wsl: bool) -> (bool, Option<String>) {
        match (self, wsl) {
            (Self::Off, _) => (false, Some("argv capture turned off by GLASSHOUSE_CAPTURE_ARGV=0".into())),
            (Self::Force, _) | (Self::Default | Self::On, false) => (true, None),
            (Self::Default | Self::On, true) => (
                false,
                Some("argv capture skipped on WSL (its verifier may refuse it); GLASSHOUSE_CAPTURE_ARGV=force forces it".into()),
            ),
        }
    }
}

/// How to start the sensor.
#[derive(Debug, Clone)]
pub struct SensorOptions {
    /// Where to load the object from (`GLASSHOUSE_BPF_DIR`); the built-in object when `None`.
    pub bpf_dir: Option<PathBuf>,
    /// `GLASSHOUSE_CAPTURE_ARGV`.
    pub argv: ArgvSetting,
    /// Whether loaded programs are kept for later runs (`GLASSHOUSE_KEEP_PROGRAMS`, on unless
    /// `0`).
    pub keep_programs: bool,
}

impl SensorOptions {
    /// Options from `GLASSHOUSE_BPF_DIR`, `GLASSHOUSE_CAPTURE_ARGV` and
    /// `GLASSHOUSE_KEEP_PROGRAMS`.
    pub fn from_env() -> Result<Self, SensorError> {
        let argv = std::env::var("GLASSHOUSE_CAPTURE_ARGV").ok();
        let keep = std::env::var("GLASSHOUSE_KEEP_PROGRAMS").ok();
        Ok(Self {
            bpf_dir: std::env::var_os("GLASSHOUSE_BPF_DIR").map(PathBuf::from),
            argv: ArgvSetting::parse(argv.as_deref())?,
            keep_programs: parse_keep_programs(keep.as_deref())?,
        })
    }
}

/// `GLASSHOUSE_KEEP_PROGRAMS`: unset or `1` keeps loaded programs for later runs, `0` does not.
fn parse_keep_programs(value: Option<&str>) -> Result<bool, SensorError> {
    match value.map(str::trim) {
        None | Some("") | Some("1") | Some("on") | Some("true") => Ok(true),
        Some("0") | Some("off") | Some("false") => Ok(false),
        Some(other) => Err(SensorError::BadKeepSetting(other.to_owned())),
    }
}

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
    argv_capture: ArgvCapture,
    stop: Arc<StopSignal>,
    drain: Option<JoinHandle<Aggregator>>,
    /// The kept program set this run holds, released after the run's last read of its maps.
    _slot: Option<pool::Slot>,
    /// Possible CPUs: the number of values of each per-CPU counter.
    cpus: usize,
}

/// The programs a run has attached.
enum Attached {
    /// Loaded by this run; the object may also have been pinned for later runs.
    Object(Ebpf),
    /// A kept set's programs, held for their links.
    Pinned { _programs: Vec<BtfTracePoint> },
}

/// The loaded sensor as a run uses it: attached programs and the maps user space touches.
struct Kernel {
    programs: Attached,
    hooks: Vec<HookStatus>,
    /// The maps of [`pool::PINNED_MAPS`], by name.
    maps: BTreeMap<&'static str, Map>,
    /// The ring buffer, when it is already mapped (a kept set's, emptied).
    ring: Option<RingBuf<MapData>>,
    /// This run's generation (see `run` in the object).
    gen: u32,
}

impl Kernel {
    fn take_map(&mut self, name: &str) -> Result<Map, SensorError> {
        self.maps
            .remove(name)
            .ok_or_else(|| SensorError::Load(format!("the object has no map {name:?}")))
    }

    /// A set kept by an earlier run, attached after its state is reset for this run.
    fn from_pins(slot: &pool::Slot, cpus: usize) -> Result<Self, String> {
        let mut maps = BTreeMap::new();
        for name in pool::PINNED_MAPS {
            let data = MapData::from_pin(slot.pin(name)).map_err(|e| error_chain(&e))?;
            let map = Map::from_map_data(data).map_err(|e| error_chain(&e))?;
            maps.insert(*name, map);
        }
        let ring = reset(&mut maps, cpus).map_err(|e| format!("resetting the kept set: {e}"))?;
        // Before attaching: from the first event on, thread entries of earlier runs match
        // nothing.
        let gen = next_generation(&mut maps)?;
        let mut programs = Vec::new();
        let mut hooks = Vec::new();
        for (name, tracepoint) in HOOKS {
            // A kept set is attached whole or not at all: on any failure the run loads afresh
            // and reports what that load could attach.
            let mut program =
                BtfTracePoint::from_pin(slot.pin(name)).map_err(|e| error_chain(&e))?;
            program.attach().map_err(|e| error_chain(&e))?;
            hooks.push(HookStatus::new(format!("tp_btf/{tracepoint}"), true, None));
            programs.push(program);
        }
        Ok(Self {
            programs: Attached::Pinned {
                _programs: programs,
            },
            hooks,
            maps,
            ring: Some(ring),
            gen,
        })
    }

    /// Loads the object and attaches its programs. `key` names the object's relocation for this
    /// boot ([`relocated::cache_key`]).
    fn load(
        object: &[u8],
        key: Option<&str>,
        cpus: usize,
        capture: bool,
    ) -> Result<Self, SensorError> {
        // The kernel's BTF names the tracepoints the programs attach to. aya's loader parses a
        // copy of its own when it is created; parse ours alongside it.
        let btf_parse = std::thread::spawn(Btf::from_sys_fs);
        let load = |bytes: &[u8]| load_object(bytes, cpus as u32, capture.into());

        // An object relocated for this boot by an earlier run loads without relocating again.
        let cache = std::path::Path::new(relocated::CACHE_DIR);
        let cached = key.and_then(|key| relocated::load(cache, key));
        let forget_cached = || {
            if let Some(key) = key {
                relocated::forget(cache, key);
            }
        };
        let from_cache = match cached.map(|bytes| load(&bytes)) {
            Some(Ok(ebpf)) => Some(ebpf),
            Some(Err(_)) => {
                // Whatever is wrong with the cached copy, a fresh relocation replaces it.
                forget_cached();
                None
            }
            None => None,
        };
        let btf = btf_parse
            .join()
            .map_err(|_| SensorError::Load("the BTF parser thread panicked".into()))?
            .map_err(|e| SensorError::Load(format!("reading kernel BTF: {e}")))?;
        let cache_used = from_cache.is_some();
        let mut ebpf = match from_cache {
            Some(ebpf) => ebpf,
            None => {
                let bytes = relocated::relocate(object, &btf).map_err(SensorError::Load)?;
                let ebpf = load(&bytes)?;
                if let Some(key) = key {
                    relocated::store(cache, key, &bytes);
                }
                ebpf
            }
        };

        // Verification is most of the start-up time and each program is verified on its own:
        // load them side by side, one thread each.
        let mut programs: std::collections::HashMap<&str, &mut aya::programs::Program> =
            ebpf.programs_mut().collect();
        let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let loading: Vec<_> = HOOKS
                .iter()
                .map(|(name, tracepoint)| {
                    let program = programs.remove(name);
                    let btf = &btf;
                    scope.spawn(move || attach(program, name, tracepoint, btf))
                })
                .collect();
            loading
                .into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|_| Err("the loader thread panicked".into()))
                })
                .collect()
        });
        let hooks: Vec<HookStatus> = HOOKS
            .iter()
            .zip(results)
            .map(|((_, tracepoint), result)| {
                HookStatus::new(format!("tp_btf/{tracepoint}"), result.is_ok(), result.err())
            })
            .collect();
        if cache_used && hooks.iter().any(|h| !h.attached) {
            // Not the cache's doing as far as anyone can tell, but the next run should not
            // have to wonder: it relocates afresh.
            forget_cached();
        }
        let mut maps = BTreeMap::new();
        for name in pool::PINNED_MAPS {
            if let Some(map) = ebpf.take_map(name) {
                maps.insert(*name, map);
            }
        }
        // New maps hold no entries of any earlier run: the generation can be taken after the
        // programs were attached.
        let gen = next_generation(&mut maps).map_err(SensorError::Load)?;
        Ok(Self {
            programs: Attached::Object(ebpf),
            hooks,
            maps,
            ring: None,
            gen,
        })
    }

    /// Pins every program and map of a freshly loaded object in `slot`, for later runs.
    fn pin(&mut self, slot: &pool::Slot) -> Result<(), String> {
        let Attached::Object(ebpf) = &mut self.programs else {
            return Ok(());
        };
        for (name, _) in HOOKS {
            let program = ebpf
                .program_mut(name)
                .ok_or_else(|| format!("program {name} is missing"))?;
            program.pin(slot.pin(name)).map_err(|e| error_chain(&e))?;
        }
        for (name, map) in &self.maps {
            map.pin(slot.pin(name)).map_err(|e| error_chain(&e))?;
        }
        Ok(())
    }
}

/// The programs of the kept set `slot` holds; or, when there is none or it cannot be used, the
/// object loaded afresh, and pinned in `slot` for later runs when every hook attached. Returns
/// the slot still held, if any.
fn kept_or_loaded(
    slot: Option<pool::Slot>,
    object: &[u8],
    key: Option<&str>,
    cpus: usize,
    capture: bool,
) -> Result<(Kernel, Option<pool::Slot>), SensorError> {
    let Some(slot) = slot else {
        return Ok((Kernel::load(object, key, cpus, capture)?, None));
    };
    let programs: Vec<&str> = HOOKS.iter().map(|(name, _)| *name).collect();
    if slot.is_complete(&programs) {
        if let Ok(kernel) = Kernel::from_pins(&slot, cpus) {
            return Ok((kernel, Some(slot)));
        }
    }
    // Incomplete (a run died while pinning) or unusable: whatever is there goes.
    slot.clear();
    let mut kernel = Kernel::load(object, key, cpus, capture)?;
    if kernel.hooks.iter().all(|h| h.attached) && kernel.pin(&slot).is_ok() {
        return Ok((kernel, Some(slot)));
    }
    slot.clear();
    Ok((kernel, None))
}

/// Readies a kept set's maps for a new run: nothing of an earlier run may show in this one.
/// The programs are detached while this runs, so nothing writes the maps meanwhile. Returns
/// the emptied ring buffer.
fn reset(maps: &mut BTreeMap<&'static str, Map>, cpus: usize) -> Result<RingBuf<MapData>, String> {
    let err = |e: aya::maps::MapError| error_chain(&e);
    let events = maps.remove("events").ok_or("the set has no ring buffer")?;
    let mut ring = RingBuf::try_from(events).map_err(err)?;
    // Records of a run that crashed before draining them.
    while ring.next().is_some() {}
    // Processes of an earlier tree that are still alive are not this run's.
    if let Some(map) = maps.get_mut("tracked") {
        clear_hash::<u32, u64>(map).map_err(err)?;
    }
    for name in ["tcp_pending", "uring_pending"] {
        if let Some(map) = maps.get_mut(name) {
            clear_hash::<u64, u32>(map).map_err(err)?;
        }
    }
    for (name, slots) in [
        ("syscall_counts", MAX_SYSCALLS),
        ("uring_ops", URING_OPS),
        ("stats", STAT_COUNT),
    ] {
        if let Some(map) = maps.get(name) {
            Counters::of(map, slots, cpus)
                .and_then(|c| c.zero())
                .map_err(|e| format!("{name}: {e}"))?;
        }
    }
    Ok(ring)
}

/// Deletes every entry of a hash map.
fn clear_hash<K: aya::Pod, V: aya::Pod>(map: &mut Map) -> Result<(), aya::maps::MapError> {
    let mut hash = BpfHashMap::<&mut MapData, K, V>::try_from(map)?;
    let keys: Vec<K> = hash.keys().filter_map(Result::ok).collect();
    for key in keys {
        hash.remove(&key)?;
    }
    Ok(())
}

/// Gives the run a generation of its own (the `run` map) and returns it.
fn next_generation(maps: &mut BTreeMap<&'static str, Map>) -> Result<u32, String> {
    let err = |e: aya::maps::MapError| format!("run: {}", error_chain(&e));
    let run = maps.get_mut("run").ok_or("the object has no map \"run\"")?;
    let mut state = aya::maps::Array::<&mut MapData, u32>::try_from(run).map_err(err)?;
    let gen = state.get(&0, 0).map_err(err)?.wrapping_add(1).max(1);
    state.set(0, gen, 0).map_err(err)?;
    Ok(gen)
}

fn running_on_wsl() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| {
            let r = r.to_ascii_lowercase();
            r.contains("microsoft") || r.contains("wsl")
        })
        .unwrap_or(false)
}

impl Sensor {
    /// Loads the object (or takes a set of its programs kept loaded by an earlier run),
    /// attaches every hook it can and starts draining. The tree is empty until a process
    /// registers itself through [`Sensor::tracking_hook`].
    pub fn start(options: &SensorOptions, root_ppid: u32) -> Result<Self, SensorError> {
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
        let (capture, note) = options.argv.decide(running_on_wsl());
        let argv_capture = ArgvCapture::new(options.argv.name(), capture, note);
        let cpus =
            aya::util::nr_cpus().map_err(|(what, e)| SensorError::Load(format!("{what}: {e}")))?;

        let key = relocated::cache_key(&object);
        let slot = match &key {
            Some(key) if options.keep_programs => pool::take(&pool::set_name(key, capture)),
            _ => None,
        };
        let (mut kernel, slot) = kept_or_loaded(slot, &object, key.as_deref(), cpus, capture)?;
        let hooks = std::mem::take(&mut kernel.hooks);
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
        let ring = match kernel.ring.take() {
            Some(ring) => ring,
            None => RingBuf::try_from(kernel.take_map("events")?)
                .map_err(|e| SensorError::Load(e.to_string()))?,
        };
        let stop = Arc::new(StopSignal::new()?);
        let drain = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("glasshouse-drain".into())
                .spawn(move || drain(ring, Aggregator::new(root_ppid), &stop))
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
            argv_capture,
            stop,
            drain: Some(drain),
            _slot: slot,
            cpus,
        })
    }

    /// A hook for the child to run after fork and before exec: it adds the child's own process
    /// and thread to the traced set, so the command is followed from its first instruction.
    /// Async-signal-safe (raw system calls only).
    pub fn tracking_hook(&self) -> Box<dyn FnMut() -> std::io::Result<()> + Send + Sync> {
        let (tracked, threads) = (self.tracked_fd, self.threads_fd);
        // Allocated here, in the parent: the hook itself must not allocate.
        let entry = self.first_thread_entry.clone();
        Box::new(move || track_self(tracked, threads, &entry))
    }

    /// Processes of the tree that have not exited yet.
    pub fn live_processes(&self) -> Vec<u32> {
        BpfHashMap::<&MapData, u32, u64>::try_from(&self.tracked)
            .map(|m| m.keys().filter_map(Result::ok).collect())
            .unwrap_or_default()
    }

    /// Detaches, drains everything still buffered and returns what was seen. `root` is the
    /// command's pid (none when it never started); `ended` lists the processes glasshouse
    /// itself ended after `--linger`.
    pub fn finish(mut self, root: Option<u32>, ended: &[u32], linger_ms: u64) -> Observations {
        // Detach first (dropping the programs drops their links) so no event arrives after
        // the final drain.
        drop(self.programs.take());
        self.stop.raise();
        let mut agg = self
            .drain
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
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
        obs.network.attempts = agg.attempts();
        obs.syscalls.denied = obs
            .filesystem
            .failed
            .iter()
            .filter(|f| f.errno == libc::EPERM || f.errno == libc::EACCES)
            .cloned()
            .collect();
        obs.syscalls.counts = named(
            self.totals(&self.syscall_counts, MAX_SYSCALLS),
            syscall_name,
        );
        obs.syscalls.io_uring = named(self.totals(&self.uring_ops, URING_OPS), |op| {
            uring_op_name(op).to_owned()
        });
        let stats = self.stats();
        obs.network.bytes_sent = stats[STAT_BYTES_SENT];
        obs.network.bytes_received = stats[STAT_BYTES_RECEIVED];
        let mut coverage = SensorCoverage::default();
        coverage.kind = "ebpf".into();
        coverage.hooks = std::mem::take(&mut self.hooks);
        for (i, name) in HOOK_NAMES.iter().enumerate() {
            if stats[i] > 0 {
                coverage.lost_by_hook.insert((*name).to_owned(), stats[i]);
            }
        }
        coverage.events_lost = coverage.lost_by_hook.values().sum();
        coverage.truncated = agg.truncations();
        coverage.argv_capture = self.argv_capture.clone();
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
        if !obs.syscalls.io_uring.is_empty() {
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
        for h in coverage.hooks.iter().filter(|h| !h.attached) {
            coverage.notes.push(format!(
                "hook {} did not attach: what it observes is missing from this receipt",
                h.name
            ));
        }
        coverage.complete = coverage.hooks.iter().all(|h| h.attached)
            && coverage.events_lost == 0
            && coverage.truncated.is_empty()
            && agg.malformed == 0
            && omitted.is_empty()
            && stats[STAT_TRACK_FULL] == 0
            && stats[STAT_URING_PENDING_FULL] == 0
            && stats[STAT_MMSG_UNINSPECTED] == 0;
        obs.coverage = coverage;
        obs
    }

    fn stats(&self) -> Vec<u64> {
        self.totals(&self.stats, STAT_COUNT)
    }

    /// Each slot's total of the per-CPU counter array `map` (zeros when it cannot be read).
    fn totals(&self, map: &Map, slots: u32) -> Vec<u64> {
        Counters::of(map, slots, self.cpus)
            .and_then(|c| c.totals())
            .unwrap_or_else(|_| vec![0; slots as usize])
    }
}

/// Creates the maps of an already relocated object (nothing is left for aya to relocate, so
/// it is given no kernel BTF).
fn load_object(bytes: &[u8], cpus: u32, capture_argv: u32) -> Result<Ebpf, SensorError> {
    EbpfLoader::new()
        .btf(None)
        // aya has no type for task storage (the per-thread map); glasshouse reaches it with raw
        // bpf(2) calls.
        .allow_unsupported_maps()
        .map_max_entries("scratch", cpus)
        .override_global("cfg_capture_argv", &capture_argv, true)
        .load(bytes)
        .map_err(|e| {
            let detail = error_chain(&e);
            if detail.contains("Operation not permitted") || detail.contains("Permission denied") {
                SensorError::NotPermitted(detail)
            } else {
                SensorError::Load(detail)
            }
        })
}

/// The non-zero slots of `totals`, by name.
fn named(totals: Vec<u64>, name: impl Fn(u32) -> String) -> BTreeMap<String, u64> {
    (0u32..)
        .zip(totals)
        .filter(|(_, total)| *total > 0)
        .map(|(slot, total)| (name(slot), total))
        .collect()
}

fn attach(
    program: Option<&mut aya::programs::Program>,
    name: &str,
    tracepoint: &str,
    btf: &Btf,
) -> Result<(), String> {
    let prog: &mut BtfTracePoint = program
        .ok_or_else(|| format!("program {name} is missing from the object"))?
        .try_into()
        .map_err(|e| format!("{name}: {e}"))?;
    prog.load(tracepoint, btf).map_err(|e| error_chain(&e))?;
    prog.attach().map_err(|e| error_chain(&e))?;
    Ok(())
}

/// An error with its sources, on one line. A verifier log is cut to its last lines, where the
/// kernel says why it refused the program.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    let lines: Vec<&str> = s.lines().collect();
    if lines.len() > 12 {
        let mut short = format!("{} [... verifier log cut ...]", lines[0]);
        for line in &lines[lines.len() - 10..] {
            short.push('\n');
            short.push_str(line);
        }
        return short;
    }
    s
}

/// Tells the drain thread to finish, and wakes it at once rather than at its next poll
/// timeout (a run's end would otherwise wait up to a whole timeout for nothing).
struct StopSignal {
    stopping: AtomicBool,
    wake: nix::sys::eventfd::EventFd,
}

impl StopSignal {
    fn new() -> Result<Self, SensorError> {
        use nix::sys::eventfd::{EfdFlags, EventFd};
        let wake = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map_err(|e| SensorError::Load(format!("cannot create an eventfd: {e}")))?;
        Ok(Self {
            stopping: AtomicBool::new(false),
            wake,
        })
    }

    fn raise(&self) {
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
fn drain(mut ring: RingBuf<MapData>, mut agg: Aggregator, stop: &StopSignal) -> Aggregator {
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

/// Adds the calling process to the `tracked` map and gives its (only) thread an entry in the
/// per-thread task storage, `entry`, through raw bpf(2) calls.
fn track_self(tracked_fd: RawFd, threads_fd: RawFd, entry: &[u8]) -> std::io::Result<()> {
    // SAFETY: getpid/getppid have no preconditions and are async-signal-safe.
    let (pid, ppid) = unsafe { (libc::getpid(), libc::getppid() as u64) };
    map_update(tracked_fd, &(pid as u32), &ppid)?;
    // Task storage is keyed by a pidfd from user space. Before exec this process has one
    // thread, which the pidfd names.
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let pidfd = pidfd as i32;
    let result = map_update(threads_fd, &pidfd, entry);
    // SAFETY: pidfd is a descriptor this function opened and nothing else uses.
    unsafe { libc::close(pidfd) };
    result
}

/// One BPF_MAP_UPDATE_ELEM through the raw system call (async-signal-safe).
fn map_update<K, V: ?Sized>(map_fd: RawFd, key: &K, value: &V) -> std::io::Result<()> {
    #[repr(C)]
    struct MapUpdateAttr {
        map_fd: u32,
        pad: u32,
        key: u64,
        value: u64,
        flags: u64,
    }
    const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
    let attr = MapUpdateAttr {
        map_fd: map_fd as u32,
        pad: 0,
        key: key as *const K as u64,
        value: value as *const V as *const u8 as u64,
        flags: 0,
    };
    // SAFETY: bpf(BPF_MAP_UPDATE_ELEM) reads `attr` and the key and value it points to, which
    // the caller's references keep alive for the duration of the call; the callers pass the
    // map's own key and value sizes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_UPDATE_ELEM,
            &attr as *const MapUpdateAttr,
            std::mem::size_of::<MapUpdateAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The x86-64 name of a syscall number, or `io_uring:OP` for an io_uring operation reported
/// as a syscall number above [`event::URING_NR_BASE`].
pub fn syscall_name(nr: u32) -> String {
    if nr >= event::URING_NR_BASE {
        return format!("io_uring:{}", uring_op_name(nr - event::URING_NR_BASE));
    }
    syscalls::Sysno::new(nr as usize)
        .map_or_else(|| format!("syscall_{nr}"), |s| s.name().to_owned())
}

/// The syscall whose meaning an io_uring operation shares (for path semantics), or `nr` itself.
pub(crate) fn uring_as_syscall(nr: u32) -> u32 {
    if nr < event::URING_NR_BASE {
        return nr;
    }
    match uring_op_name(nr - event::URING_NR_BASE) {
        "unlinkat" => 263,
        "renameat" => 316,
        "mkdirat" => 258,
        "linkat" => 265,
        "symlinkat" => 266,
        "setxattr" => 188,
        "openat" => 257,
        "openat2" => 437,
        _ => nr,
    }
}

/// io_uring opcode names (`IORING_OP_*`, lowercase), in opcode order.
const URING_OP_NAMES: [&str; 63] = [
    "nop",
    "readv",
    "writev",
    "fsync",
    "read_fixed",
    "write_fixed",
    "poll_add",
    "poll_remove",
    "sync_file_range",
    "sendmsg",
    "recvmsg",
    "timeout",
    "timeout_remove",
    "accept",
    "async_cancel",
    "link_timeout",
    "connect",
    "fallocate",
    "openat",
    "close",
    "files_update",
    "statx",
    "read",
    "write",
    "fadvise",
    "madvise",
    "send",
    "recv",
    "openat2",
    "epoll_ctl",
    "splice",
    "provide_buffers",
    "remove_buffers",
    "tee",
    "shutdown",
    "renameat",
    "unlinkat",
    "mkdirat",
    "symlinkat",
    "linkat",
    "msg_ring",
    "fsetxattr",
    "setxattr",
    "fgetxattr",
    "getxattr",
    "socket",
    "uring_cmd",
    "send_zc",
    "sendmsg_zc",
    "read_multishot",
    "waitid",
    "futex_wait",
    "futex_wake",
    "futex_waitv",
    "fixed_fd_install",
    "ftruncate",
    "bind",
    "listen",
    "recv_zc",
    "epoll_wait",
    "readv_fixed",
    "writev_fixed",
    "pipe",
];

/// The name of an io_uring opcode.
pub fn uring_op_name(op: u32) -> &'static str {
    URING_OP_NAMES
        .get(op as usize)
        .copied()
        .unwrap_or("unknown")
}

/// The symbolic name of an errno value (`EACCES`).
pub fn errno_name(errno: i32) -> String {
    format!("{:?}", nix::errno::Errno::from_raw(errno))
}

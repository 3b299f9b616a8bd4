//! Loading the object: relocated (or taken from this boot's relocation cache), its maps
//! created, every program verified and attached on a thread of its own.

use crate::{pool, relocated, variants, SensorError};
use aya::maps::{Map, MapData, RingBuf};
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf, EbpfLoader};
use glasshouse_receipt::HookStatus;
use std::collections::BTreeMap;

/// The compiled BPF object, built by `scripts/build-ebpf.sh` from `bpf/*.c`.
pub(crate) static EMBEDDED_OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/glasshouse.bpf.o");

/// What the loader sets in the object before loading it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Globals {
    /// Possible CPUs: one scratch area each.
    pub(crate) cpus: usize,
    /// `cfg_capture_argv`.
    pub(crate) capture: bool,
    /// `cfg_fault_f_path` (`SensorOptions::fault_f_path`).
    pub(crate) fault_f_path: u32,
}

/// The programs a run has attached.
pub(crate) enum Attached {
    /// Loaded by this run; the object may also have been pinned for later runs.
    Object(Ebpf),
    /// A kept set's programs, held for their links.
    Pinned { _programs: Vec<BtfTracePoint> },
}

/// The loaded sensor as a run uses it: attached programs and the maps user space touches.
pub(crate) struct Kernel {
    pub(crate) programs: Attached,
    pub(crate) hooks: Vec<HookStatus>,
    /// The maps of [`pool::PINNED_MAPS`], by name.
    pub(crate) maps: BTreeMap<&'static str, Map>,
    /// The ring buffer, when it is already mapped (a kept set's, emptied).
    pub(crate) ring: Option<RingBuf<MapData>>,
    /// This run's generation (see `run` in the object).
    pub(crate) gen: u32,
    /// What the receipt should know about how the programs were found (a kept set discarded).
    pub(crate) notes: Vec<String>,
}

impl Kernel {
    pub(crate) fn take_map(&mut self, name: &str) -> Result<Map, SensorError> {
        self.maps
            .remove(name)
            .ok_or_else(|| SensorError::Load(format!("the object has no map {name:?}")))
    }

    /// Loads the object and attaches the programs `plan` chose. `key` names the object's
    /// relocation for this boot ([`relocated::cache_key`]).
    pub(crate) fn load(
        object: &[u8],
        key: Option<&str>,
        plan: &variants::Plan,
        globals: Globals,
    ) -> Result<Self, SensorError> {
        let cache = std::path::Path::new(relocated::CACHE_DIR);
        Self::load_cached_in(cache, object, key, plan, globals)
    }

    /// [`Kernel::load`] with the relocated object kept in `cache`.
    fn load_cached_in(
        cache: &std::path::Path,
        object: &[u8],
        key: Option<&str>,
        plan: &variants::Plan,
        globals: Globals,
    ) -> Result<Self, SensorError> {
        // The kernel's BTF names the tracepoints the programs attach to. aya's loader parses a
        // copy of its own when it is created; parse ours alongside it.
        let btf_parse = std::thread::spawn(Btf::from_sys_fs);
        let load = |bytes: &[u8]| load_object(bytes, globals);

        // An object relocated for this boot by an earlier run loads without relocating again.
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
        let results: BTreeMap<&str, Result<(), String>> = std::thread::scope(|scope| {
            let loading: Vec<_> = plan
                .loadable()
                .map(|(name, variant)| {
                    let program = programs.remove(variant.program);
                    let btf = &btf;
                    let (program_name, tracepoint) = (variant.program, variant.tracepoint);
                    let attached =
                        scope.spawn(move || attach(program, program_name, tracepoint, btf));
                    (name, attached)
                })
                .collect();
            loading
                .into_iter()
                .map(|(name, t)| {
                    let result = t
                        .join()
                        .unwrap_or_else(|_| Err("the loader thread panicked".into()));
                    (name, result)
                })
                .collect()
        });
        let hooks: Vec<HookStatus> = plan.statuses(|name| match results.get(name) {
            Some(Ok(())) => None,
            Some(Err(e)) => Some(e.clone()),
            None => Some("not loaded".to_owned()),
        });
        if cache_used && a_chosen_program_failed(&results) {
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
            notes: Vec::new(),
        })
    }
}

/// Whether a program the plan chose for this kernel failed to load or attach. A hook the kernel
/// has no tracepoint for is not among them (it was never tried), so it does not count against
/// the cached object: on such a kernel (6.1 has no `sock_send_length`) the cache must still be
/// kept, or every run relocates afresh.
fn a_chosen_program_failed(results: &BTreeMap<&str, Result<(), String>>) -> bool {
    results.values().any(Result::is_err)
}

/// Creates the maps of an already relocated object (nothing is left for aya to relocate, so
/// it is given no kernel BTF).
fn load_object(bytes: &[u8], globals: Globals) -> Result<Ebpf, SensorError> {
    let capture_argv = u32::from(globals.capture);
    EbpfLoader::new()
        .btf(None)
        // aya has no type for task storage (the per-thread map); glasshouse reaches it with raw
        // bpf(2) calls.
        .allow_unsupported_maps()
        .map_max_entries("scratch", globals.cpus as u32)
        .override_global("cfg_capture_argv", &capture_argv, true)
        .override_global("cfg_fault_f_path", &globals.fault_f_path, true)
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
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
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

/// Gives the run a generation of its own (the `run` map) and returns it.
pub(crate) fn next_generation(maps: &mut BTreeMap<&'static str, Map>) -> Result<u32, String> {
    let err = |e: aya::maps::MapError| format!("run: {}", error_chain(&e));
    let run = maps.get_mut("run").ok_or("the object has no map \"run\"")?;
    let mut state = aya::maps::Array::<&mut MapData, u32>::try_from(run).map_err(err)?;
    let gen = state.get(&0, 0).map_err(err)?.wrapping_add(1).max(1);
    state.set(0, gen, 0).map_err(err)?;
    Ok(gen)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel without one of the tracepoints (6.1 has no `sock_send_length`): the plan leaves
    /// that hook out, and a load from the cached object, which attaches everything else, keeps
    /// the cached object for the next run. (Loads the real object: needs root.)
    #[test]
    fn a_hook_the_kernel_lacks_does_not_discard_the_cached_object() {
        let key = relocated::cache_key(crate::EMBEDDED_OBJECT).expect("boot id");
        let running =
            variants::Plan::for_kernel(std::path::Path::new(crate::kernel_btf::KERNEL_BTF))
                .expect("the kernel's plan");
        let text: String = running
            .to_text()
            .lines()
            .map(|line| match line.split_once(' ') {
                Some(("gh_sock_send", _)) => {
                    "gh_sock_send - this kernel has no tracepoint sock_send_length\n".to_owned()
                }
                _ => format!("{line}\n"),
            })
            .collect();
        let plan = variants::Plan::from_text(&text).expect("the plan of a kernel like 6.1");
        let globals = Globals {
            cpus: aya::util::nr_cpus().expect("cpus"),
            capture: true,
            fault_f_path: 0,
        };
        // A cache of its own: glasshouse runs of another build on this machine replace the
        // shared one's object with theirs.
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("cache");
        for run in ["relocates and stores", "loads the stored copy"] {
            let kernel =
                Kernel::load_cached_in(&cache, crate::EMBEDDED_OBJECT, Some(&key), &plan, globals)
                    .expect("the sensor loads (run the tests as root)");
            let unattached: Vec<&str> = kernel
                .hooks
                .iter()
                .filter(|h| !h.attached)
                .map(|h| h.name.as_str())
                .collect();
            assert_eq!(unattached, ["tp_btf/sock_send_length"], "{run}");
            assert!(
                relocated::load(&cache, &key).is_some(),
                "the relocated object is kept after the run that {run}"
            );
        }
    }
}

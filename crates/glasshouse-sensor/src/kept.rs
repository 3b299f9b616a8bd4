//! Using a kept program set (see [`crate::pool`] for how sets are found and held): attached
//! after its state is reset for this run, or, when there is none or it cannot be used, the
//! object loaded afresh and pinned as a new set.

use crate::counters::{Counters, MAX_SYSCALLS, STAT_COUNT, URING_OPS};
use crate::load::{error_chain, next_generation, Attached, Globals, Kernel};
use crate::{identity, pool, variants, SensorError};
use aya::maps::{HashMap as BpfHashMap, Map, MapData, RingBuf};
use aya::programs::BtfTracePoint;
use std::collections::BTreeMap;
use std::os::fd::AsFd as _;

impl Kernel {
    /// A set kept by an earlier run, attached after its pins were checked against the record of
    /// the run that pinned them and its state was reset for this run.
    pub(crate) fn from_pins(
        slot: &pool::Slot,
        cpus: usize,
        plan: &variants::Plan,
    ) -> Result<Self, String> {
        let recorded = slot
            .recorded()
            .ok_or("there is no record of what was pinned in it")?;
        let mut found = Vec::new();
        let mut maps = BTreeMap::new();
        for name in pool::PINNED_MAPS {
            let data = MapData::from_pin(slot.pin(name)).map_err(|e| error_chain(&e))?;
            found.push(identity::map(name, data.fd().as_fd())?);
            let map = Map::from_map_data(data).map_err(|e| error_chain(&e))?;
            maps.insert(*name, map);
        }
        let mut pinned = Vec::new();
        // Pinned under the hook's name, whichever variant serves it on this kernel.
        for (name, _) in plan.loadable() {
            let program = BtfTracePoint::from_pin(slot.pin(name)).map_err(|e| error_chain(&e))?;
            let fd = program.fd().map_err(|e| error_chain(&e))?;
            found.push(identity::program(name, fd.as_fd())?);
            pinned.push(program);
        }
        // Checked on the very descriptors that are used below: what is attached is what was
        // compared.
        if let Some(difference) = identity::mismatch(&recorded, &found) {
            return Err(format!("it is not what was pinned in it ({difference})"));
        }
        let ring = reset(&mut maps, cpus).map_err(|e| format!("resetting the kept set: {e}"))?;
        // Before attaching: from the first event on, thread entries of earlier runs match
        // nothing.
        let gen = next_generation(&mut maps)?;
        let mut programs = Vec::new();
        for mut program in pinned {
            // A kept set is attached whole or not at all: on any failure the run loads afresh
            // and reports what that load could attach.
            program.attach().map_err(|e| error_chain(&e))?;
            programs.push(program);
        }
        let hooks = plan.statuses(|_| None);
        Ok(Self {
            programs: Attached::Pinned {
                _programs: programs,
            },
            hooks,
            maps,
            ring: Some(ring),
            gen,
            notes: Vec::new(),
        })
    }

    /// Pins every program and map of a freshly loaded object in `slot`, for later runs, and
    /// records what was pinned (in the order [`Kernel::from_pins`] finds it).
    fn pin(&mut self, slot: &pool::Slot, plan: &variants::Plan) -> Result<(), String> {
        let Attached::Object(ebpf) = &mut self.programs else {
            return Ok(());
        };
        for (name, map) in &self.maps {
            map.pin(slot.pin(name)).map_err(|e| error_chain(&e))?;
        }
        let mut record = String::new();
        for name in pool::PINNED_MAPS {
            let data = MapData::from_pin(slot.pin(name)).map_err(|e| error_chain(&e))?;
            record.push_str(&identity::map(name, data.fd().as_fd())?);
            record.push('\n');
        }
        // Under the hook's name, whichever variant serves it.
        for (name, variant) in plan.loadable() {
            let program = ebpf
                .program_mut(variant.program)
                .ok_or_else(|| format!("program {} is missing", variant.program))?;
            program.pin(slot.pin(name)).map_err(|e| error_chain(&e))?;
            let fd = program.fd().map_err(|e| error_chain(&e))?;
            record.push_str(&identity::program(name, fd.as_fd())?);
            record.push('\n');
        }
        slot.record(&record)
    }
}

/// The programs of the kept set `slot` holds; or, when there is none or it cannot be used, the
/// object loaded afresh, and pinned in `slot` for later runs when every hook this kernel has
/// attached. Returns the slot still held, if any.
pub(crate) fn kept_or_loaded(
    slot: Option<pool::Slot>,
    object: &[u8],
    key: Option<&str>,
    plan: &variants::Plan,
    globals: Globals,
) -> Result<(Kernel, Option<pool::Slot>), SensorError> {
    let Some(slot) = slot else {
        return Ok((Kernel::load(object, key, plan, globals)?, None));
    };
    let programs: Vec<&str> = plan.loadable().map(|(name, _)| name).collect();
    let mut notes = Vec::new();
    if slot.is_complete(&programs) {
        match Kernel::from_pins(&slot, globals.cpus, plan) {
            Ok(kernel) => return Ok((kernel, Some(slot))),
            Err(why) => notes.push(format!(
                "the kept program set {} was discarded and the programs loaded afresh: {why}",
                slot.number()
            )),
        }
    }
    // Incomplete (a run died while pinning) or unusable: whatever is there goes.
    slot.clear();
    let mut kernel = Kernel::load(object, key, plan, globals)?;
    kernel.notes = notes;
    let attached = kernel.hooks.iter().filter(|h| h.attached).count();
    if attached == programs.len() && kernel.pin(&slot, plan).is_ok() {
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
    // A key that cannot be listed would stay, and belong to the next run: fail instead.
    let keys: Vec<K> = hash.keys().collect::<Result<_, _>>()?;
    for key in keys {
        hash.remove(&key)?;
    }
    Ok(())
}

//! The sensor's self-check at attach, on the running kernel: it passes with the programs as
//! relocated, and a deliberately wrong offset (struct file's `f_path` read 8 bytes off) makes the
//! receipt incomplete with a note. Needs root and BPF; fails (never skips) without them.

use glasshouse_sensor::{Sensor, SensorOptions};

fn options(fault_f_path: u32) -> SensorOptions {
    let mut options = SensorOptions::from_env().expect("sensor options");
    options.fault_f_path = fault_f_path;
    options
}

fn self_check_notes(fault_f_path: u32) -> (bool, bool, Vec<String>) {
    let sensor =
        Sensor::start(&options(fault_f_path), std::process::id()).expect("the sensor starts");
    let coverage = sensor.finish(None, &[], 0).coverage;
    let notes = coverage
        .notes
        .iter()
        .filter(|n| n.contains("self-check"))
        .cloned()
        .collect();
    let all_attached = coverage.hooks.iter().all(|h| h.attached);
    (coverage.complete, all_attached, notes)
}

#[test]
fn the_self_check_passes_on_this_kernel() {
    let (complete, all_attached, notes) = self_check_notes(0);
    assert_eq!(notes, Vec::<String>::new());
    // Nothing ran, nothing was lost: complete, unless this kernel lacks a hook.
    assert_eq!(complete, all_attached);
}

#[test]
fn a_wrong_offset_is_caught_by_the_self_check() {
    let (complete, _, notes) = self_check_notes(8);
    assert!(!complete, "a wrong offset must make the receipt incomplete");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("/proc/sys/kernel/osrelease")
            && notes[0].contains("may be wrong or missing"),
        "{}",
        notes[0]
    );
}

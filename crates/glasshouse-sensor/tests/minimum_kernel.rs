//! A kernel below the sensor's minimum is refused before anything loads, naming what it lacks.
//! The older kernel is this kernel's BTF with one feature's name changed, so that the kernel
//! no longer says it has it (`BPF_FUNC_loop`, the `bpf_loop` helper of 5.17), and with
//! `sched_process_exit` renamed (an essential tracepoint). Needs root (the sensor's checks run
//! as they would for a run).

use glasshouse_sensor::{Sensor, SensorError, SensorOptions};

/// This kernel's BTF with the NUL-terminated name `from` replaced by `to` (same length).
fn doctored_btf(dir: &std::path::Path, from: &str, to: &str) -> std::path::PathBuf {
    assert_eq!(from.len(), to.len());
    let mut btf = std::fs::read("/sys/kernel/btf/vmlinux").expect("the kernel's BTF");
    let needle = format!("\0{from}\0");
    let at = btf
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("{from} is not in this kernel's BTF"));
    btf[at + 1..at + 1 + to.len()].copy_from_slice(to.as_bytes());
    let path = dir.join(format!("{to}.btf"));
    std::fs::write(&path, btf).expect("write the doctored BTF");
    path
}

fn refusal(kernel_btf: std::path::PathBuf) -> String {
    let mut options = SensorOptions::from_env().expect("sensor options");
    options.kernel_btf = Some(kernel_btf);
    match Sensor::start(&options, std::process::id()) {
        Err(e @ SensorError::Unsupported(_)) => e.to_string(),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a kernel below the minimum was not refused"),
    }
}

#[test]
fn a_kernel_without_bpf_loop_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let message = refusal(doctored_btf(dir.path(), "BPF_FUNC_loop", "BPF_FUNC_lXop"));
    assert!(
        message.contains("the bpf_loop helper (Linux 5.17)"),
        "{message}"
    );
    assert!(message.contains("5.17 or newer"), "{message}");
}

#[test]
fn a_kernel_without_an_essential_tracepoint_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let message = refusal(doctored_btf(
        dir.path(),
        "btf_trace_sched_process_exit",
        "btf_trace_sched_process_exiX",
    ));
    assert!(
        message.contains("no tracepoint sched_process_exit"),
        "{message}"
    );
}

#[test]
fn this_kernel_is_not_refused() {
    let mut options = SensorOptions::from_env().expect("sensor options");
    options.kernel_btf = Some("/sys/kernel/btf/vmlinux".into());
    let sensor = Sensor::start(&options, std::process::id()).expect("the sensor starts here");
    let coverage = sensor.finish(None, &[], 0).coverage;
    // Complete, unless this kernel lacks a hook (then the receipt says which).
    let all_attached = coverage.hooks.iter().all(|h| h.attached);
    assert_eq!(coverage.complete, all_attached, "{:?}", coverage.notes);
}

//! Faults on the way from the kernel to the receipt, injected into a real sensor: each must
//! leave the receipt incomplete, with a note naming it, and nothing else missing. These load
//! the real BPF object (they need root, and fail when it cannot load).

use crate::{ArgvSetting, Observations, Sensor, SensorOptions};
use std::os::unix::process::CommandExt as _;
use std::sync::atomic::Ordering;

/// The built-in object, loaded afresh (not kept), no fault.
fn options() -> SensorOptions {
    SensorOptions {
        bpf_dir: None,
        argv: ArgvSetting::Default,
        keep_programs: false,
        fault_f_path: 0,
        kernel_btf: None,
    }
}

fn started() -> Sensor {
    Sensor::start(&options(), std::process::id())
        .expect("the sensor starts (run the tests as root)")
}

/// Runs `cat /etc/hostname` traced by `sensor` and finishes the run.
pub(crate) fn cat_hostname(sensor: Sensor) -> Observations {
    let hook = sensor.tracking_hook();
    let mut cmd = std::process::Command::new("cat");
    cmd.arg("/etc/hostname").stdout(std::process::Stdio::null());
    // SAFETY: the hook makes raw system calls only and allocates nothing, as a pre_exec hook
    // must (it runs in the forked child).
    unsafe { cmd.pre_exec(hook) };
    let mut child = cmd.spawn().expect("spawn cat");
    let root = child.id();
    assert!(child.wait().expect("wait for cat").success());
    sensor.finish(Some(root), &[], 0)
}

pub(crate) fn read_hostname(obs: &Observations) -> bool {
    obs.filesystem
        .reads
        .iter()
        .any(|p| p.to_string() == "/etc/hostname")
}

#[test]
fn a_clean_run_is_complete() {
    let obs = cat_hostname(started());
    assert!(read_hostname(&obs), "{:?}", obs.filesystem.reads);
    assert!(obs.coverage.complete, "{:?}", obs.coverage.notes);
}

#[test]
fn a_failed_drain_thread_makes_the_receipt_incomplete() {
    let sensor = started();
    sensor.stop.fail.store(true, Ordering::Release);
    let obs = cat_hostname(sensor);
    assert!(!obs.coverage.complete);
    assert!(
        obs.coverage.notes.iter().any(|n| n.starts_with(
            "the drain thread failed (drain failure injected by a test): the events of this run are missing"
        )),
        "{:?}",
        obs.coverage.notes
    );
    assert!(obs.process_tree.is_empty() && !read_hostname(&obs));
}

#[test]
fn unreadable_counters_make_the_receipt_incomplete() {
    let mut sensor = started();
    sensor.counters_fail = true;
    let obs = cat_hostname(sensor);
    assert!(!obs.coverage.complete);
    for what in [
        "the syscall counters",
        "the io_uring counters",
        "the loss and byte counters",
    ] {
        let note = format!("{what} could not be read (failure injected by a test): ");
        assert!(
            obs.coverage.notes.iter().any(|n| n.starts_with(&note)),
            "{what}: {:?}",
            obs.coverage.notes
        );
    }
    assert!(obs.syscalls.counts.is_empty());
    // What the events said is still there.
    assert!(read_hostname(&obs), "{:?}", obs.filesystem.reads);
}

/// The kernel's losses reach a live event stream while the run lasts, as a running total, and
/// again at the end with the run's total: the stats array is set as if the kernel had lost 3
/// events at sys_enter.
#[test]
fn kernel_losses_are_streamed_while_the_run_lasts() {
    use glasshouse_events::{Event, Limits};
    let (sink, queue) = glasshouse_events::channel("run", Limits::default());
    let sensor = Sensor::start_streaming(&options(), std::process::id(), Some(sink.clone()))
        .expect("the sensor starts (run the tests as root)");
    let counters =
        crate::counters::Counters::of(&sensor.stats, crate::counters::STAT_COUNT, sensor.cpus)
            .unwrap();
    counters.set_one(3, 3).unwrap(); // sys_enter
                                     // The drain thread reads the counters about once a second.
    let (seen_tx, seen) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut lines = Vec::new();
        while queue.next_batch(&mut lines) {
            for line in lines.drain(..) {
                if let Event::Loss(loss) = line.event {
                    if loss.running {
                        let _ = seen_tx.send(());
                    }
                    all.push((loss.count, loss.running, loss.by_hook));
                }
            }
        }
        all
    });
    seen.recv_timeout(std::time::Duration::from_secs(20))
        .expect("a running loss line while the run lasts");
    let obs = cat_hostname(sensor);
    sink.close();
    let losses = reader.join().unwrap();
    let by_hook = std::collections::BTreeMap::from([("sys_enter".to_owned(), 3)]);
    assert_eq!(
        losses,
        [(3, true, by_hook.clone()), (3, false, by_hook)],
        "one running line, then the end's total"
    );
    assert_eq!(obs.coverage.events_lost, 3);
    assert!(!obs.coverage.complete);
}

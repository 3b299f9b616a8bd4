//! Program sets kept loaded between runs (`/run/glasshouse/bpf`): a run that takes a set an
//! earlier run used must see nothing of that run, and runs at the same time must not see each
//! other. These load real eBPF and fail without it.
//!
//! The tests of this binary run one at a time (a lock): with no other run of this binary
//! holding a set, a run takes the lowest-numbered free set, so the run after a crashed one
//! takes the very set the crashed run held. Processes are ended only by pid, after checking
//! that their command line carries this test's marker path.

mod common;

use common::{kill_if_ours, touch, wait_for_file, List, Run, Running, Sandbox, Suite, Testers};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

static SUITE: Suite = Suite {
    prefix: "gh-kept-",
    run_deadline: Duration::from_secs(120),
    wait_deadline: Duration::from_secs(30),
    extra_hooks: &[],
};

static PROGRAMS: Testers = Testers::new(
    "programs",
    "kept-programs",
    &["-O1", "-Wall", "-Wextra", "-pthread"],
    &[],
);

/// One test at a time (see the module's comment).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// `busy MARKER READY` under glasshouse: opens MARKER in a loop until it is killed. Returns the
/// running glasshouse and the busy process. glasshouse's children include its guard (which
/// ends the run's cgroup when glasshouse ends), so the tester is found by its command line.
///
/// With `escaping`, busy runs as a grandchild (`sh -c 'busy ... & wait'`) and is then moved
/// out of the run's cgroup: a process the guard cannot reach, as a root command that left its
/// cgroup would be. It survives a crash of glasshouse, with its thread entries in the set.
fn start_busy(
    s: &Sandbox,
    receipt: &str,
    marker: &Path,
    ready: &Path,
    escaping: bool,
) -> (Running, Busy) {
    touch(marker);
    let busy = PROGRAMS.path("busy");
    let direct = [busy.as_os_str(), marker.as_os_str(), ready.as_os_str()];
    let wrapped = [
        OsStr::new("/bin/sh"),
        OsStr::new("-c"),
        OsStr::new("\"$0\" \"$1\" \"$2\" & wait"),
        busy.as_os_str(),
        marker.as_os_str(),
        ready.as_os_str(),
    ];
    let command: &[&OsStr] = if escaping { &wrapped } else { &direct };
    let running = s.start(receipt, &[], &[], command);
    wait_for_file(ready, SUITE.wait_deadline);
    let found = descendants(running.pid())
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                c.split(|b| *b == 0)
                    .any(|arg| arg == marker.as_os_str().as_bytes())
            }) && std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == busy)
        })
        .collect::<Vec<_>>();
    assert_eq!(
        found.len(),
        1,
        "the busy tester among glasshouse's descendants: {found:?}"
    );
    let busy = Busy {
        pid: found[0],
        marker: marker.to_owned(),
    };
    if escaping {
        std::fs::write("/sys/fs/cgroup/cgroup.procs", busy.pid.to_string())
            .expect("moving the busy tester to the root cgroup");
    }
    (running, busy)
}

/// Every descendant of `root`, from the kernel's children lists.
fn descendants(root: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|p| p.parse().ok()) {
                found.push(child);
                todo.push(child);
            }
        }
    }
    found
}

/// `/bin/cat FILE` under glasshouse, after writing FILE; it must exit 0.
fn cat(s: &Sandbox, receipt: &str, file: &Path) -> Run {
    touch(file);
    let run = s.run_as(receipt, &[OsStr::new("/bin/cat"), file.as_os_str()]);
    run.assert_exit(0);
    run
}

/// Ends a `busy` tester (by pid, when its command line names `marker`) when dropped.
struct Busy {
    pid: u32,
    marker: PathBuf,
}

impl Busy {
    fn alive(&self) -> bool {
        Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        kill_if_ours(self.pid, self.marker.as_os_str().as_bytes());
    }
}

/// The first set of every object kept under /run/glasshouse/bpf, by one of its pins, with that
/// pin's inode: a set that is cleared and pinned again gets new inodes.
fn first_sets() -> BTreeMap<PathBuf, u64> {
    let Ok(objects) = std::fs::read_dir("/run/glasshouse/bpf") else {
        return BTreeMap::new();
    };
    objects
        .flatten()
        .map(|object| object.path().join("0/gh_sys_enter"))
        .filter_map(|pin| Some((pin.clone(), std::fs::metadata(&pin).ok()?.ino())))
        .collect()
}

/// A run is killed (SIGKILL, as in a crash) while its tree keeps opening a file, so its set is
/// left with the tree's thread entries, its tracked process and undrained events. The next run
/// takes that set as it is (its pins keep their inodes: it is not unloaded and loaded again) and
/// must record its own command only: not one open of the leftover process (which goes on the
/// whole time), not its process, and syscall counts of its own size.
#[test]
fn the_run_after_a_crash_sees_nothing_of_the_crashed_runs_tree() {
    let _serial = serial();
    let s = Sandbox::new(&SUITE);
    let marker = s.w("left-behind");
    let (crashed, busy) = start_busy(&s, "crashed.json", &marker, &s.w("ready"), true);
    crashed.crash();
    assert!(busy.alive(), "the crashed run's tree keeps running");
    let sets = first_sets();
    assert!(!sets.is_empty(), "the crashed run's set is kept");

    let mine = s.w("mine");
    let run = cat(&s, "next.json", &mine);
    assert_eq!(first_sets(), sets, "the run took the kept set as it was");
    assert!(
        busy.alive(),
        "the leftover process ran during the whole run"
    );
    assert_eq!(
        run.anything_under(&s.work),
        vec![mine.clone()],
        "only the command's own file, nothing of the leftover process\n{}",
        run.excerpt()
    );
    assert_eq!(
        run.under(List::Reads, &s.work),
        BTreeSet::from([mine]),
        "{}",
        run.excerpt()
    );
    let pids: Vec<u32> = run.receipt.process_tree.iter().map(|p| p.pid).collect();
    assert!(
        !pids.contains(&busy.pid),
        "the leftover process {} is not in this run's tree: {pids:?}",
        busy.pid
    );
    assert_eq!(pids.len(), 1, "cat alone: {pids:?}");
    // cat opens a few dozen files at most; the leftover opens thousands a second.
    let openat = run
        .receipt
        .syscalls
        .counts
        .get("openat")
        .copied()
        .unwrap_or(0);
    assert!(
        (1..200).contains(&openat),
        "openat count {openat} is cat's own\n{}",
        run.excerpt()
    );
    run.assert_complete();
}

/// Two runs at the same time hold two sets: each records its own command and nothing of the
/// other's, though both run the whole time.
#[test]
fn runs_at_the_same_time_do_not_see_each_other() {
    let _serial = serial();
    let s = Sandbox::new(&SUITE);
    let marker = s.w("first-run");
    let (first, busy) = start_busy(&s, "first.json", &marker, &s.w("ready"), false);

    let mine = s.w("second-run");
    let second = cat(&s, "second.json", &mine);
    assert!(busy.alive(), "the first run was active during the second");
    assert_eq!(
        second.anything_under(&s.work),
        vec![mine.clone()],
        "{}",
        second.excerpt()
    );

    drop(busy); // ends the first run's command
    let first = first.finish(SUITE.run_deadline);
    assert_eq!(first.status.code(), Some(128 + libc::SIGKILL));
    let seen: BTreeSet<PathBuf> = first.anything_under(&s.work).into_iter().collect();
    assert!(seen.contains(&marker), "{}", first.excerpt());
    assert!(!seen.contains(&mine), "{}", first.excerpt());
}

/// `GLASSHOUSE_KEEP_PROGRAMS=0` loads programs for the one run; what is recorded is the same.
#[test]
fn programs_loaded_for_one_run_record_the_same() {
    let _serial = serial();
    let s = Sandbox::new(&SUITE);
    let file = s.w("file");
    touch(&file);
    let cmd = [OsStr::new("/bin/cat"), file.as_os_str()];
    let kept = s.run_as("kept.json", &cmd);
    let own = s
        .start("own.json", &[], &[("GLASSHOUSE_KEEP_PROGRAMS", "0")], &cmd)
        .finish(SUITE.run_deadline);
    for run in [&kept, &own] {
        run.assert_exit(0);
        assert_eq!(
            run.anything_under(&s.work),
            vec![file.clone()],
            "{}",
            run.excerpt()
        );
    }
    assert_eq!(kept.receipt.filesystem.reads, own.receipt.filesystem.reads);
    assert_eq!(
        kept.receipt.syscalls.counts.get("openat"),
        own.receipt.syscalls.counts.get("openat")
    );
}

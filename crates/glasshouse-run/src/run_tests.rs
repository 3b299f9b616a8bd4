//! The two narrow windows of issue 11 item 11, reproduced at the point the run meets them: a
//! pid of the tree reused by another process before the linger kill, and a failed wait.

use crate::supervise::open_members;
use crate::{faults, run, Hooks, RunPlan};
use std::process::Command;
use std::time::Duration;

#[test]
fn the_linger_kill_spares_a_process_that_took_a_listed_pid() {
    // `bystander` holds, now, a pid the tree's map listed: the tree's process of that pid exited
    // (the kernel then removed it from the map) and the pid was given to `bystander`.
    let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
    let mut member = Command::new("sleep").arg("30").spawn().unwrap();
    let (reused, alive) = (bystander.id(), member.id());
    let mut listings = 0;
    let chosen = open_members(&mut || {
        listings += 1;
        if listings == 1 {
            vec![reused, alive]
        } else {
            vec![alive]
        }
    });
    let pids: Vec<u32> = chosen.iter().map(|c| c.pid()).collect();
    assert_eq!(pids, vec![alive], "only the tree's own process is ended");
    for control in &chosen {
        control.signal(libc::SIGKILL).unwrap();
    }
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(member.wait().unwrap().signal(), Some(libc::SIGKILL));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the bystander lives"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

#[test]
fn a_failed_wait_still_writes_the_receipt_with_the_error() {
    // Needs the real sensor (root, BPF): it fails, never skips, without them.
    let dir = tempfile::tempdir().unwrap();
    let mut plan = RunPlan::new(vec!["true".into()]);
    plan.receipt_path = dir.path().join("receipt.json");
    plan.linger = Duration::ZERO;
    faults::fail_next_wait();
    let report = run(&plan, &mut Hooks::default()).expect("the run still ends with a receipt");
    assert_eq!(report.receipt_path, plan.receipt_path);
    let written = glasshouse_receipt::Receipt::read(&plan.receipt_path).unwrap();
    let error = written.outcome.error.clone().unwrap_or_default();
    assert!(
        error.contains("cannot wait for process") && error.contains("failure injected by a test"),
        "{error}"
    );
    assert_eq!(
        written.outcome.exit_code,
        Some(crate::supervise::WAIT_FAILED)
    );
    // The command ran and was recorded.
    let root = written
        .process_tree
        .first()
        .expect("the command is in the tree");
    assert!(root.exe.to_string().ends_with("/true"), "{root:?}");
}

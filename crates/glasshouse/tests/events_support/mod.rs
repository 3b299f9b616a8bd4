//! What the event stream tests share (`events.rs`, `events_io.rs`): the suite, the
//! ground-truth tester, the committed schema of the lines, and the check that a run's stream
//! agrees with its receipt entry for entry.
#![allow(dead_code)]

use crate::common::{real_path, Run, Sandbox, Suite, Testers};
use glasshouse_events::{Event, FileAction, Line};
use glasshouse_receipt::OsText;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

pub static SUITE: Suite = Suite {
    prefix: "gh-events-",
    run_deadline: Duration::from_secs(180),
    wait_deadline: Duration::from_secs(30),
    extra_hooks: &[],
};

pub static PROGRAMS: Testers = Testers::new(
    "programs_events",
    "events-programs",
    &["-O1", "-Wall", "-Wextra"],
    &[],
);

/// A GitHub-token-shaped canary, built here so that no live-looking token sits in the source.
pub fn canary() -> String {
    format!(
        "ghp_{}",
        "Zq7Rk2Xp9Lw4Mn8Tb3Vc6Hd1Jf5Gs0Ya".repeat(2)[..36].to_owned()
    )
}

/// The committed schema of the lines, compiled once.
pub fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = crate::common::repo_root().join(glasshouse_events::schema_file_name());
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read committed schema {}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text).expect("committed schema is JSON");
        jsonschema::validator_for(&schema).expect("committed schema compiles")
    })
}

/// Every line of `text`: valid against the schema, read back as a [`Line`].
pub fn lines_of(text: &[u8]) -> Vec<Line> {
    let text = String::from_utf8_lossy(text);
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the stream ends in the middle of a line"
    );
    text.lines()
        .map(|l| {
            let value: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a line of the stream is not JSON ({e}): {l}"));
            let errors: Vec<String> = validator()
                .iter_errors(&value)
                .map(|e| format!("at {}: {e}", e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "line {l} does not match the schema: {errors:?}"
            );
            serde_json::from_value(value)
                .unwrap_or_else(|e| panic!("line {l} does not read back: {e}"))
        })
        .collect()
}

/// A run's stream is whole and agrees with its receipt: numbered without gaps, timestamps that
/// never decrease, the receipt's id, `start` first and `end` last, and every set the receipt
/// holds (processes, execs, exits, files, destinations, failures, descriptors, truncations)
/// made of exactly the stream's lines.
pub fn assert_agrees(run: &Run, lines: &[Line]) {
    let excerpt = || run.excerpt();
    assert!(lines.len() >= 3, "too few lines: {lines:?}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l.seq, i as u64, "a gap in the stream (a dropped line?)");
        assert_eq!(l.run, run.receipt.execution_id);
    }
    assert!(lines.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
    let Event::Start(start) = &lines[0].event else {
        panic!("the first line is not start: {:?}", lines[0]);
    };
    assert_eq!(start.glasshouse_pid, run.glasshouse_pid);
    let Some(Event::End(end)) = lines.last().map(|l| &l.event) else {
        panic!("the last line is not end: {:?}", lines.last());
    };
    assert_eq!(end.exit_code, run.status.code());
    assert_eq!(end.complete, Some(run.sensor().complete));
    assert_eq!(end.dropped, 0);

    let mut forks = BTreeMap::new();
    let mut execs: BTreeMap<u32, Vec<(OsText, Vec<OsText>, OsText)>> = BTreeMap::new();
    let mut exits = BTreeMap::new();
    let mut files = BTreeSet::new();
    let mut attempts: BTreeMap<(OsText, String, String, Option<i32>), BTreeSet<u32>> =
        BTreeMap::new();
    let mut failures = BTreeSet::new();
    let mut descriptors = BTreeSet::new();
    let mut truncated = BTreeSet::new();
    for l in &lines[1..lines.len() - 1] {
        match &l.event {
            Event::Fork(f) => assert!(
                forks.insert(f.pid, f.ppid).is_none(),
                "two forks of {}",
                f.pid
            ),
            Event::Exec(e) => execs.entry(e.pid).or_default().push((
                e.exe.clone(),
                e.argv.clone(),
                e.working_dir.clone(),
            )),
            Event::Exit(x) => assert!(exits.insert(x.pid, (x.exit_code, x.signal)).is_none()),
            Event::File(f) => assert!(files.insert((f.path.clone(), f.action)), "{f:?} twice"),
            Event::Network(n) => assert!(
                attempts
                    .entry((n.dst.clone(), n.protocol.clone(), n.result.clone(), n.errno))
                    .or_default()
                    .insert(n.pid),
                "{n:?} twice"
            ),
            Event::Failure(f) => {
                assert!(
                    failures.insert((f.syscall.clone(), f.target.clone(), f.errno)),
                    "{f:?} twice"
                )
            }
            Event::Descriptor(d) => {
                descriptors.insert((d.path.clone(), d.how.clone(), d.pid, d.fd, d.read, d.write));
            }
            Event::Truncated(t) => {
                truncated.insert((t.kind.clone(), t.pid, t.kept.clone()));
            }
            Event::Loss(loss) => panic!("a loss in a run that lost nothing: {loss:?}"),
            other => panic!("{other:?} in the middle of the stream"),
        }
    }

    let tree = &run.receipt.process_tree;
    let pids: BTreeSet<u32> = tree.iter().map(|p| p.pid).collect();
    let seen: BTreeSet<u32> = forks.keys().chain(execs.keys()).copied().collect();
    assert_eq!(
        seen,
        pids,
        "the stream's processes differ from the receipt's\n{}",
        excerpt()
    );
    for node in tree {
        let streamed = execs.get(&node.pid).cloned().unwrap_or_default();
        let listed: Vec<_> = if !node.execs.is_empty() {
            node.execs
                .iter()
                .map(|x| (x.exe.clone(), x.argv.clone(), x.working_dir.clone()))
                .collect()
        } else if !streamed.is_empty() {
            vec![(
                node.exe.clone(),
                node.argv.clone(),
                node.working_dir.clone(),
            )]
        } else {
            // A process that never executed anything shows its parent's program.
            assert_eq!(
                forks.get(&node.pid),
                Some(&node.ppid),
                "process {}",
                node.pid
            );
            Vec::new()
        };
        assert_eq!(
            streamed,
            listed,
            "the execs of process {}\n{}",
            node.pid,
            excerpt()
        );
        if let Some(exit) = exits.get(&node.pid) {
            assert_eq!(*exit, (node.exit_code, node.signal), "process {}", node.pid);
        }
        if let Some(ppid) = forks.get(&node.pid) {
            assert_eq!(*ppid, node.ppid, "the parent of {}", node.pid);
        }
    }
    assert!(exits.keys().all(|pid| pids.contains(pid)));

    let fs = &run.receipt.filesystem;
    let listed: BTreeSet<(OsText, FileAction)> = [
        (&fs.reads, FileAction::Read),
        (&fs.writes, FileAction::Write),
        (&fs.deletes, FileAction::Delete),
    ]
    .into_iter()
    .flat_map(|(list, action)| list.iter().map(move |p| (p.clone(), action)))
    .collect();
    assert_eq!(
        files,
        listed,
        "the stream's files differ from the receipt's\n{}",
        excerpt()
    );

    let counted: BTreeMap<_, u64> = attempts
        .into_iter()
        .map(|(key, pids)| (key, pids.len() as u64))
        .collect();
    let listed: BTreeMap<_, u64> = run
        .receipt
        .network
        .attempts
        .iter()
        .map(|a| {
            (
                (a.dst.clone(), a.protocol.clone(), a.result.clone(), a.errno),
                a.count,
            )
        })
        .collect();
    assert_eq!(
        counted, listed,
        "the stream's destinations differ from the receipt's"
    );

    let listed: BTreeSet<_> = fs
        .failed
        .iter()
        .map(|f| (f.syscall.clone(), f.target.clone(), f.errno))
        .collect();
    assert_eq!(
        failures, listed,
        "the stream's failures differ from the receipt's"
    );
    let listed: BTreeSet<_> = fs
        .descriptors
        .iter()
        .map(|d| (d.path.clone(), d.how.clone(), d.pid, d.fd, d.read, d.write))
        .collect();
    assert_eq!(
        descriptors, listed,
        "the stream's descriptors differ from the receipt's"
    );
    let listed: BTreeSet<_> = run
        .sensor()
        .truncated
        .iter()
        .map(|t| (t.kind.clone(), t.pid, t.kept.clone()))
        .collect();
    assert_eq!(truncated, listed);
}

/// The ground-truth tester's files in a fresh sandbox.
pub fn ground_sandbox() -> Sandbox {
    let sandbox = Sandbox::new(&SUITE);
    fs::write(sandbox.w("in.txt"), b"ground truth\n").unwrap();
    fs::write(sandbox.w("gone.txt"), b"to be deleted\n").unwrap();
    sandbox
}

/// The ground-truth tester's command: it ends by executing `/bin/true --token CANARY`.
pub fn ground_command(sandbox: &Sandbox, true_bin: &Path) -> Vec<std::ffi::OsString> {
    vec![
        PROGRAMS.path("ground").into_os_string(),
        sandbox.work.clone().into_os_string(),
        true_bin.as_os_str().to_owned(),
        "--token".into(),
        canary().into(),
    ]
}

/// The ports the tester printed: (listening, bound but not listening).
pub fn ports(stdout: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(stdout);
    let mut words = text.trim().split(' ');
    assert_eq!(words.next(), Some("ports"), "tester output: {text}");
    let listening = words.next().expect("a port").to_owned();
    let bound = words.next().expect("a port").to_owned();
    (listening, bound)
}

/// What the ground truth must show in the receipt (and so, once they agree, in the stream).
pub fn assert_ground_truth(run: &Run, sandbox: &Sandbox, lines: &[Line]) {
    run.assert_exit(0);
    run.assert_files(
        &sandbox.work,
        &[sandbox.w("in.txt")],
        &[sandbox.w("out.txt")],
        &[sandbox.w("gone.txt")],
    );
    let missing = OsText::from(sandbox.w("missing.txt").as_path());
    assert!(lines.iter().any(|l| matches!(&l.event,
        Event::Failure(f) if f.target.as_ref() == Some(&missing) && f.error == "ENOENT")));
    let (listening, bound) = ports(&run.stdout);
    let dst = |port: &str| OsText::from(format!("127.0.0.1:{port}"));
    for (port, result) in [(&listening, "connected"), (&bound, "refused")] {
        assert!(
            lines.iter().any(|l| matches!(&l.event,
                Event::Network(n) if n.dst == dst(port) && n.result == result && n.protocol == "tcp")),
            "no {result} line for port {port}"
        );
    }
    let true_bin = real_path("/bin/true");
    assert!(lines.iter().any(|l| matches!(&l.event,
        Event::Exec(e) if e.exe == OsText::from(true_bin.as_path()))));
}

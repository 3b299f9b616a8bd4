//! Ground-truth tests of the kernel sensor ("Sensor I").
//!
//! Each test runs one tiny tester program (C sources in `tests/programs/`, compiled once per test
//! binary with `cc`) that does one known thing, under `glasshouse run --profile host`, and checks
//! that the receipt holds exactly that: the exact path in the right list (and in no other list),
//! the exact exec, the exact parent. Every tester works in a fresh temporary directory (canonical
//! path), so the set of receipt paths under that directory can be compared for equality.
//!
//! These tests need BPF: when the sensor cannot load they FAIL (glasshouse exits 124), they never
//! skip. Every receipt is validated against the committed JSON Schema, read back with the receipt
//! crate, and its root process (the one whose parent is glasshouse) must be unique.
//!
//! There are no timing assertions: waits are bounded by generous deadlines that panic. Only
//! processes a test started are ever signalled, by pid, after checking that they are ours.

mod common;

use common::{kill_if_ours, mkdir, os, path_of, real_path, touch, List, Sandbox, Suite, Testers};
use glasshouse_receipt::OsText;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The sensor suite's temporary directories, deadlines and hooks (the core ones only).
static SUITE: Suite = Suite {
    prefix: "gh-sensor-",
    run_deadline: Duration::from_secs(180),
    wait_deadline: Duration::from_secs(30),
    extra_hooks: &[],
};

// ---------------------------------------------------------------------------------------------
// Tester programs, paths and files
// ---------------------------------------------------------------------------------------------

/// The testers of `tests/programs/` (some start threads, hence `-pthread`).
static PROGRAMS: Testers = Testers::new(
    "programs",
    "sensor-programs",
    &["-O1", "-Wall", "-Wextra", "-pthread"],
    &[],
);

/// The path of compiled tester program `name` (`tests/programs/<name>.c`).
fn program(name: &str) -> PathBuf {
    PROGRAMS.path(name)
}

fn bytes_of(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

fn symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link)
        .unwrap_or_else(|e| panic!("symlink {} -> {target}: {e}", link.display()));
}

/// Waits until `path` exists, failing after the suite's wait deadline.
fn wait_for_file(path: &Path) {
    common::wait_for_file(path, SUITE.wait_deadline);
}

/// Standard base64 decoding (written here so the check does not depend on the product's codec).
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET
            .iter()
            .position(|a| *a == c)
            .unwrap_or_else(|| panic!("{text:?} is not base64")) as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Ends a process the test started directly, whatever happens to the test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Ends the daemon grandchild named by a pid file if it is still alive when the test ends
/// (it should not be: glasshouse must end it).
struct DaemonGuard {
    pidfile: PathBuf,
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        if let Some(pid) = fs::read_to_string(&self.pidfile)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        {
            kill_if_ours(pid, bytes_of(&self.pidfile));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1-6. Files
// ---------------------------------------------------------------------------------------------

/// Creates the files `rel` (relative to w/), runs tester `name` with w/ as its argument, and
/// checks that under w/ the receipt holds exactly those files, read, and nothing else.
fn assert_tester_reads_exactly(name: &str, rel: &[&str]) {
    assert_tester_reads_exactly_with(name, rel, &[]);
}

/// [`assert_tester_reads_exactly`] with the environment variables `env` set for glasshouse.
fn assert_tester_reads_exactly_with(name: &str, rel: &[&str], env: &[(&str, &str)]) {
    let s = Sandbox::new(&SUITE);
    let files: Vec<PathBuf> = rel.iter().map(|r| s.w(r)).collect();
    for file in &files {
        touch(file);
    }
    let run = s
        .start(
            "receipt.json",
            &[],
            env,
            &[program(name).as_os_str(), s.work.as_os_str()],
        )
        .finish(SUITE.run_deadline);
    run.assert_exit(0);
    run.assert_files(&s.work, &files, &[], &[]);
}

/// open("sub/a") and openat(AT_FDCWD, "sub/b") after chdir(DIR): the absolute paths are read.
#[test]
fn relative_paths_after_chdir_are_recorded_absolute() {
    assert_tester_reads_exactly("relpath", &["sub/a", "sub/b"]);
}

/// openat(dfd, "f") and openat(dfd, "sub/g") with an O_PATH dirfd, after chdir("/"): the paths
/// are resolved against the dirfd, and the O_PATH open of the directory is no read.
#[test]
fn openat_with_a_dirfd_is_resolved_against_the_dirfd() {
    assert_tester_reads_exactly("dirfd", &["f", "sub/g"]);
}

/// openat2(dfd, "new", O_CREAT|O_WRONLY) writes (and does not read) "new"; openat2 of an
/// existing file for reading reads it.
#[test]
fn openat2_create_is_a_write_and_openat2_rdonly_a_read() {
    let s = Sandbox::new(&SUITE);
    touch(&s.w("existing"));
    let run = s.run_ok(&[program("openat2").as_os_str(), s.work.as_os_str()]);
    assert!(s.w("new").is_file(), "the tester did not create w/new");
    run.assert_files(&s.work, &[s.w("existing")], &[s.w("new")], &[]);
    assert!(
        run.syscall_count("openat2") >= 2,
        "syscalls.counts.openat2 = {} (2 calls made)",
        run.syscall_count("openat2")
    );
}

/// Opening through a file symlink and through a directory symlink reads the real files; the
/// links themselves are not recorded.
#[test]
fn open_through_a_symlink_records_the_target() {
    let s = Sandbox::new(&SUITE);
    touch(&s.w("real/target"));
    touch(&s.w("real/other"));
    symlink("real/target", &s.w("link"));
    symlink("real", &s.w("dlink"));
    let run = s.run_ok(&[
        program("open_paths").as_os_str(),
        s.w("link").as_os_str(),
        s.w("dlink/other").as_os_str(),
    ]);
    run.assert_files(&s.work, &[s.w("real/target"), s.w("real/other")], &[], &[]);
}

/// unlink, unlinkat, rmdir, unlinkat(AT_REMOVEDIR) delete; rename and renameat2 delete the
/// source and write the target; open("x/../g") reads "g".
#[test]
fn unlink_rmdir_rename_and_dotdot() {
    let s = Sandbox::new(&SUITE);
    for f in ["f", "f2", "a", "c", "g"] {
        touch(&s.w(f));
    }
    for d in ["d", "d2", "x"] {
        mkdir(&s.w(d));
    }
    let run = s.run_ok(&[program("pathops").as_os_str(), s.work.as_os_str()]);
    for gone in ["f", "f2", "a", "c", "d", "d2"] {
        assert!(!s.w(gone).exists(), "the tester left w/{gone}");
    }
    for made in ["b", "e"] {
        assert!(s.w(made).is_file(), "the tester did not make w/{made}");
    }
    run.assert_files(
        &s.work,
        &[s.w("g")],
        &[s.w("b"), s.w("e")],
        &[s.w("f"), s.w("f2"), s.w("d"), s.w("d2"), s.w("a"), s.w("c")],
    );
}

/// unlink("lnk/../h") where lnk is a symlink to deep/er: the kernel resolves `..` after
/// following the link, so deep/h is removed (w/h is untouched), and that is what is deleted.
#[test]
fn unlink_through_a_symlink_then_dotdot_records_the_real_file() {
    let s = Sandbox::new(&SUITE);
    mkdir(&s.w("deep/er"));
    touch(&s.w("deep/h"));
    touch(&s.w("h"));
    symlink("deep/er", &s.w("lnk"));
    let run = s.run_ok(&[
        program("unlink_path").as_os_str(),
        s.w("lnk/../h").as_os_str(),
    ]);
    assert!(!s.w("deep/h").exists(), "the kernel removed deep/h");
    assert!(s.w("h").exists(), "w/h is untouched");
    run.assert_files(&s.work, &[], &[], &[s.w("deep/h")]);
}

/// truncate(path) writes; open(O_WRONLY|O_TRUNC) writes (no read); open(O_RDWR) reads and
/// writes.
#[test]
fn truncate_otrunc_and_ordwr() {
    let s = Sandbox::new(&SUITE);
    for f in ["t1", "t2", "t3"] {
        touch(&s.w(f));
    }
    let run = s.run_ok(&[program("truncate").as_os_str(), s.work.as_os_str()]);
    for f in ["t1", "t2"] {
        assert_eq!(
            fs::metadata(s.w(f)).unwrap().len(),
            0,
            "w/{f} was truncated"
        );
    }
    run.assert_files(
        &s.work,
        &[s.w("t3")],
        &[s.w("t1"), s.w("t2"), s.w("t3")],
        &[],
    );
}

// ---------------------------------------------------------------------------------------------
// 7-11. Processes
// ---------------------------------------------------------------------------------------------

/// execveat(dirfd of /bin, "true") and execveat(fd of /bin/true, "", AT_EMPTY_PATH): each
/// child's exe is the real file (not /dev/fd/N/...), with its argv, under the tester.
#[test]
fn execveat_with_a_dirfd_and_with_empty_path() {
    let s = Sandbox::new(&SUITE);
    let run = s.run_ok(&[program("execveat").as_os_str()]);
    let real_true = real_path("/bin/true");
    let root = run.root();
    run.assert_exe(root, &program("execveat"));
    for marker in ["via-dirfd", "via-empty-path"] {
        let child = run.one_with_argv(&[b"true", marker.as_bytes()]);
        assert_eq!(
            path_of(&child.exe),
            real_true,
            "{marker}: exe\n{}",
            run.excerpt()
        );
        assert_eq!(child.ppid, root.pid, "{marker}: ppid\n{}", run.excerpt());
        assert_eq!(child.exit_code, Some(0), "{marker}: exit code");
    }
    assert_eq!(run.receipt.process_tree.len(), 3, "{}", run.excerpt());
    assert!(
        run.syscall_count("execveat") >= 2,
        "syscalls.counts.execveat"
    );
}

/// fexecve of a memfd holding /bin/true: the process's image is the memfd, shown as the kernel
/// names it ("/memfd:gh-memfd (deleted)"); its first image was the tester.
#[test]
fn fexecve_of_a_memfd() {
    let s = Sandbox::new(&SUITE);
    let run = s.run_ok(&[program("memfd").as_os_str()]);
    let root = run.root();
    let exe = root.exe.display_lossy().into_owned();
    assert!(
        exe.starts_with("/memfd:gh-memfd"),
        "root exe {exe:?} should start with /memfd:gh-memfd\n{}",
        run.excerpt()
    );
    let argv: Vec<&[u8]> = root.argv.iter().map(OsText::as_bytes).collect();
    assert_eq!(argv, [&b"gh-memfd-true"[..], b"from-memfd"], "root argv");
    assert_eq!(root.execs.len(), 2, "two images\n{}", run.excerpt());
    assert_eq!(path_of(&root.execs[0].exe), program("memfd"));
    assert_eq!(root.execs[1].exe, root.exe);
    assert_eq!(run.receipt.process_tree.len(), 1, "{}", run.excerpt());
}

/// A non-leader thread calls execv("/bin/echo"): the process (same pid) shows echo's real path
/// and the argv given; a thread is not a process of its own.
#[test]
fn exec_from_a_non_leader_thread() {
    let s = Sandbox::new(&SUITE);
    let run = s.run_ok(&[program("thread_exec").as_os_str()]);
    assert_eq!(
        run.stdout, b"from-thread x\n",
        "echo's output passes through"
    );
    let root = run.root();
    run.assert_exe(root, &real_path("/bin/echo"));
    let argv: Vec<&[u8]> = root.argv.iter().map(OsText::as_bytes).collect();
    assert_eq!(argv, [&b"echo"[..], b"from-thread", b"x"], "root argv");
    assert_eq!(root.execs.len(), 2, "two images\n{}", run.excerpt());
    assert_eq!(path_of(&root.execs[0].exe), program("thread_exec"));
    assert_eq!(run.receipt.process_tree.len(), 1, "{}", run.excerpt());
}

/// Files opened, created and deleted only by threads other than the group leader (one of them
/// started by another thread) are recorded exactly, and the threads are not processes.
#[test]
fn files_of_non_leader_threads_are_recorded() {
    let s = Sandbox::new(&SUITE);
    let reads: Vec<PathBuf> = (0..4).map(|n| s.w(&format!("t{n}"))).collect();
    for file in &reads {
        touch(file);
    }
    touch(&s.w("gone"));
    let run = s.run_ok(&[program("thread_files").as_os_str(), s.work.as_os_str()]);
    run.assert_files(&s.work, &reads, &[s.w("nested")], &[s.w("gone")]);
    assert_eq!(run.receipt.process_tree.len(), 1, "{}", run.excerpt());
    assert!(
        run.syscall_count("clone3") + run.syscall_count("clone") >= 5,
        "five threads were started\n{}",
        run.excerpt()
    );
}

/// fchmod, fchown and futimens (and, where supported, fsetxattr/fremovexattr) on read-only
/// descriptors change the files' metadata: each file is a write as well as a read, exactly as
/// chmod by path.
#[test]
fn metadata_changes_through_a_descriptor_are_writes() {
    let s = Sandbox::new(&SUITE);
    let files = [s.w("f"), s.w("g")];
    for file in &files {
        touch(file);
    }
    let run = s.run_ok(&[program("fd_meta").as_os_str(), s.work.as_os_str()]);
    run.assert_files(&s.work, &files, &files, &[]);
    for call in ["fchmod", "fchown"] {
        assert!(
            run.syscall_count(call) >= 1,
            "{call} counted\n{}",
            run.excerpt()
        );
    }
}

/// renameat2 with RENAME_EXCHANGE swaps two files: both names are written, neither is deleted.
#[test]
fn rename_exchange_writes_both_names_and_deletes_none() {
    let s = Sandbox::new(&SUITE);
    let (a, b) = (s.w("a"), s.w("b"));
    fs::write(&a, b"first").expect("write a");
    fs::write(&b, b"second").expect("write b");
    let run = s.run_ok(&[program("rename_exchange").as_os_str(), s.work.as_os_str()]);
    assert_eq!(
        fs::read(&a).expect("read a"),
        b"second",
        "the tester swapped the files"
    );
    run.assert_files(&s.work, &[], &[a, b], &[]);
}

/// vfork + exec: the child is recorded with the tester as its parent.
#[test]
fn vfork_then_exec() {
    let s = Sandbox::new(&SUITE);
    let run = s.run_ok(&[program("vfork").as_os_str()]);
    let root = run.root();
    run.assert_exe(root, &program("vfork"));
    let child = run.one_with_argv(&[b"true", b"vfork-child"]);
    assert_eq!(child.ppid, root.pid, "{}", run.excerpt());
    run.assert_exe(child, &real_path("/bin/true"));
    assert_eq!(child.exit_code, Some(0));
    assert_eq!(run.receipt.process_tree.len(), 2, "{}", run.excerpt());
}

/// Double fork: the grandchild (setsid, sleeping 120 s) outlives the root. With `--linger 1`
/// glasshouse ends it, records `ended_by_glasshouse`, exits with the root's code (7) long
/// before the sleep would end, and leaves no process behind.
#[test]
fn double_fork_daemon_is_recorded_and_ended() {
    let s = Sandbox::new(&SUITE);
    let pidfile = s.w("daemon.pid");
    let _guard = DaemonGuard {
        pidfile: pidfile.clone(),
    };
    let run = s
        .start(
            "receipt.json",
            &["--linger", "1"],
            &[],
            &[
                program("daemon").as_os_str(),
                pidfile.as_os_str(),
                os("120"),
            ],
        )
        // Far below the grandchild's 120 s sleep: glasshouse must not wait for it.
        .finish(Duration::from_secs(60));
    run.assert_exit(7);
    let gpid: u32 = fs::read_to_string(&pidfile)
        .expect("the grandchild wrote its pid")
        .trim()
        .parse()
        .expect("pid");

    // The grandchild must be gone (ended and reaped), not left running or as a zombie.
    let start = Instant::now();
    let proc_dir = PathBuf::from(format!("/proc/{gpid}"));
    while proc_dir.exists() {
        if start.elapsed() > SUITE.wait_deadline {
            let state = fs::read_to_string(proc_dir.join("status")).unwrap_or_default();
            let killed = kill_if_ours(gpid, bytes_of(&pidfile));
            panic!(
                "the daemon grandchild {gpid} still exists after glasshouse exited \
                 (killed by the test now: {killed}):\n{state}"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let root = run.root();
    assert_eq!(root.exit_code, Some(7));
    assert!(!root.ended_by_glasshouse);
    let grandchild = run.process(gpid);
    assert!(
        grandchild.ended_by_glasshouse,
        "grandchild {gpid} must be ended_by_glasshouse\n{}",
        run.excerpt()
    );
    assert_eq!(grandchild.signal, Some(libc::SIGKILL), "{}", run.excerpt());
    let child = run.process(grandchild.ppid);
    assert_eq!(child.ppid, root.pid, "{}", run.excerpt());
    assert_eq!(child.exit_code, Some(0));
    assert!(!child.ended_by_glasshouse);
    assert_eq!(run.receipt.process_tree.len(), 3, "{}", run.excerpt());
    assert!(run.sensor().linger_ms > 0, "sensor.linger_ms");
}

// ---------------------------------------------------------------------------------------------
// 12-14. Volume and isolation
// ---------------------------------------------------------------------------------------------

/// 20,000 distinct files opened: every one is in reads, nothing is lost, coverage is complete
/// (but for the hooks a kernel lacks, which the receipt names).
#[test]
fn twenty_thousand_files_are_all_recorded() {
    const COUNT: usize = 20_000;
    let s = Sandbox::new(&SUITE);
    let expected: Vec<PathBuf> = (0..COUNT).map(|i| s.w(&format!("f{i:05}"))).collect();
    for path in &expected {
        fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    }
    let run = s.run_ok(&[
        program("open_many").as_os_str(),
        s.work.as_os_str(),
        os(&COUNT.to_string()),
    ]);
    let sensor = run.sensor();
    assert_eq!(sensor.events_lost, 0, "{}", run.excerpt_under(&s.work));
    let reads = run.under(List::Reads, &s.work);
    let want: BTreeSet<PathBuf> = expected.into_iter().collect();
    let missing: Vec<&PathBuf> = want.difference(&reads).take(10).collect();
    let extra: Vec<&PathBuf> = reads.difference(&want).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} of {COUNT} files read; first missing {missing:?}; first unexpected {extra:?}\n{}",
        reads.len(),
        run.excerpt_under(&s.work)
    );
    run.assert_files(&s.work, &want.iter().cloned().collect::<Vec<_>>(), &[], &[]);
    run.assert_complete();
    assert!(run.syscall_count("openat") >= COUNT as u64);
}

/// Two glasshouse runs at the same time (they wait for each other inside): each receipt holds
/// its own marker and processes, and nothing of the other.
#[test]
fn two_concurrent_runs_do_not_mix() {
    let a = Sandbox::new(&SUITE);
    let b = Sandbox::new(&SUITE);
    for s in [&a, &b] {
        touch(&s.w("marker"));
    }
    let start = |me: &Sandbox, other: &Sandbox, name: &str| {
        me.start(
            "receipt.json",
            &[],
            &[],
            &[
                program("rendezvous").as_os_str(),
                me.w("marker").as_os_str(),
                me.w("ready").as_os_str(),
                other.w("ready").as_os_str(),
                os(name),
            ],
        )
    };
    let running_a = start(&a, &b, "run-a");
    let running_b = start(&b, &a, "run-b");
    assert_ne!(running_a.pid(), running_b.pid());
    let run_a = running_a.finish(SUITE.run_deadline);
    let run_b = running_b.finish(SUITE.run_deadline);
    for (run, me, other, mine, theirs) in [
        (&run_a, &a, &b, "run-a", "run-b"),
        (&run_b, &b, &a, "run-b", "run-a"),
    ] {
        run.assert_exit(0);
        run.assert_files(&me.work, &[me.w("marker")], &[me.w("ready")], &[]);
        let leaked = run.anything_under(&other.work);
        assert!(
            leaked.is_empty(),
            "{mine}'s receipt holds the other run's files {leaked:?}"
        );
        let child = run.one_with_argv(&[b"true", mine.as_bytes()]);
        assert_eq!(child.ppid, run.root().pid);
        assert!(
            run.with_argv(&[b"true", theirs.as_bytes()]).is_empty(),
            "{mine}'s receipt holds {theirs}'s process\n{}",
            run.excerpt()
        );
        assert_eq!(run.receipt.process_tree.len(), 2, "{}", run.excerpt());
        run.assert_tree_closed();
    }
    let shared: Vec<u32> = run_a.pids().intersection(&run_b.pids()).copied().collect();
    assert!(shared.is_empty(), "both receipts hold processes {shared:?}");
}

/// A busy process outside glasshouse, opening its own marker in a loop for the whole run:
/// neither its file nor its pid appears in the receipt.
#[test]
fn unrelated_busy_process_is_not_recorded() {
    let busy_dir = Sandbox::new(&SUITE);
    let marker = busy_dir.w("busy-marker");
    let ready = busy_dir.w("busy-ready");
    touch(&marker);
    let mut busy = KillOnDrop(
        Command::new(program("busy"))
            .arg(&marker)
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the busy process"),
    );
    let busy_pid = busy.0.id();
    wait_for_file(&ready);

    let s = Sandbox::new(&SUITE);
    touch(&s.w("own-marker"));
    let run = s.run_ok(&[
        os("/bin/sh"),
        os("-c"),
        os(r#"cat "$1" >/dev/null && sleep 0.3 && cat "$1" >/dev/null"#),
        os("sh"),
        s.w("own-marker").as_os_str(),
    ]);
    assert!(
        busy.0.try_wait().expect("try_wait").is_none(),
        "the busy process must still be running (it ran during the whole glasshouse run)"
    );
    run.assert_files(&s.work, &[s.w("own-marker")], &[], &[]);
    let leaked = run.anything_under(&busy_dir.root);
    assert!(
        leaked.is_empty(),
        "the receipt holds the busy process's files {leaked:?}"
    );
    assert!(
        !run.pids().contains(&busy_pid),
        "the receipt holds the busy process {busy_pid}\n{}",
        run.excerpt()
    );
    run.assert_tree_closed();
}

// ---------------------------------------------------------------------------------------------
// 15-17. argv and interpreters
// ---------------------------------------------------------------------------------------------

/// A child exec'd with ["true", "a\xffb", "plain"]: the non-UTF-8 argument is kept losslessly
/// as {"base64": ...}.
#[test]
fn non_utf8_argv_is_kept_losslessly() {
    let s = Sandbox::new(&SUITE);
    let run = s.run_ok(&[program("exec_argv").as_os_str(), os("nonutf8")]);
    let child = run.one_with_argv(&[b"true", b"a\xffb", b"plain"]);
    assert_eq!(child.ppid, run.root().pid);
    assert!(!child.argv_truncated);
    let node = run.json["process_tree"]
        .as_array()
        .expect("process_tree")
        .iter()
        .find(|p| p["pid"].as_u64() == Some(u64::from(child.pid)))
        .expect("the child in the JSON");
    let arg = &node["argv"][1];
    let encoded = arg["base64"]
        .as_str()
        .unwrap_or_else(|| panic!("argv[1] must be {{\"base64\": ...}}, got {arg}"));
    assert_eq!(
        base64_decode(encoded),
        b"a\xffb",
        "argv[1] decodes to the bytes given"
    );
    assert_eq!(node["argv"][0], "true");
    assert_eq!(node["argv"][2], "plain");
}

/// A child exec'd with an argv of more than 8192 bytes: the kept part is a prefix, the process
/// says argv_truncated, sensor.truncated has an "argv" entry for it and coverage is incomplete.
#[test]
fn argv_longer_than_the_limit_is_flagged_truncated() {
    let s = Sandbox::new(&SUITE);
    let run = s.run_ok(&[program("exec_argv").as_os_str(), os("long")]);
    let real_true = real_path("/bin/true");
    let child = run
        .receipt
        .process_tree
        .iter()
        .find(|p| path_of(&p.exe) == real_true)
        .unwrap_or_else(|| panic!("no /bin/true process\n{}", run.excerpt()));
    assert_eq!(child.ppid, run.root().pid);
    assert!(child.argv_truncated, "argv_truncated\n{}", run.excerpt());
    let full: Vec<u8> = [
        b"true".to_vec(),
        vec![b'a'; 4000],
        vec![b'b'; 4000],
        vec![b'c'; 4000],
    ]
    .join(&0u8);
    let kept: Vec<u8> = child
        .argv
        .iter()
        .map(|a| a.as_bytes().to_vec())
        .collect::<Vec<_>>()
        .join(&0u8);
    assert!(
        kept.len() >= 8000 && kept.len() < full.len() && full.starts_with(&kept),
        "the kept argv ({} bytes) must be a prefix of the real one ({} bytes)",
        kept.len(),
        full.len()
    );
    assert_eq!(child.argv[1].as_bytes(), &[b'a'; 4000][..]);
    let sensor = run.sensor();
    assert!(
        sensor
            .truncated
            .iter()
            .any(|t| t.kind == "argv" && t.pid == child.pid),
        "sensor.truncated must have an argv entry for pid {}\n{}",
        child.pid,
        run.excerpt()
    );
    assert!(!sensor.complete, "sensor.complete must be false");
    assert!(!run.root().argv_truncated);
}

/// GLASSHOUSE_CAPTURE_ARGV=0: processes are still recorded, every argv is empty and the
/// receipt says argv was not captured.
#[test]
fn argv_capture_off() {
    let s = Sandbox::new(&SUITE);
    let run = s
        .start(
            "receipt.json",
            &[],
            &[("GLASSHOUSE_CAPTURE_ARGV", "0")],
            &[program("exec_argv").as_os_str(), os("nonutf8")],
        )
        .finish(SUITE.run_deadline);
    run.assert_exit(0);
    let capture = &run.sensor().argv_capture;
    assert!(!capture.captured, "argv_capture.captured");
    assert_eq!(capture.requested, "0");
    let real_true = real_path("/bin/true");
    assert!(
        run.receipt
            .process_tree
            .iter()
            .any(|p| path_of(&p.exe) == real_true && p.ppid == run.root().pid),
        "the /bin/true child is still recorded\n{}",
        run.excerpt()
    );
    for p in &run.receipt.process_tree {
        assert!(
            p.argv.is_empty() && p.execs.iter().all(|e| e.argv.is_empty()),
            "process {} has argv although capture is off\n{}",
            p.pid,
            run.excerpt()
        );
    }
    assert!(run.receipt.processes.iter().all(|p| p.cmd.is_empty()));
}

/// A `#!/bin/sh` script: the process's exe is the interpreter's real file, and argv is what
/// the kernel builds: the interpreter as written, the script path, then the arguments.
#[test]
fn shebang_script_runs_its_interpreter() {
    let s = Sandbox::new(&SUITE);
    let script = s.w("script.sh");
    fs::write(&script, "#!/bin/sh\nexit 3\n").expect("write script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    let run = s.run(&[script.as_os_str(), os("arg1")]);
    run.assert_exit(3);
    let root = run.root();
    run.assert_exe(root, &real_path("/bin/sh"));
    let argv: Vec<OsString> = root
        .argv
        .iter()
        .map(|a| OsString::from_vec(a.as_bytes().to_vec()))
        .collect();
    assert_eq!(
        argv,
        [os("/bin/sh"), script.as_os_str(), os("arg1")],
        "{}",
        run.excerpt()
    );
    assert_eq!(root.exit_code, Some(3));
}

/// The sensor keeps its object, relocated for the running kernel, in /run/glasshouse between
/// runs. A damaged copy there must not change what is recorded: the run relocates afresh,
/// records exactly what the tester did, and leaves a good copy behind. (The runs load their own
/// programs: a run that takes a kept set reads no object at all.)
#[test]
fn a_damaged_relocation_cache_is_replaced() {
    let load_own = [("GLASSHOUSE_KEEP_PROGRAMS", "0")];
    let cache = Path::new("/run/glasshouse");
    let entries = || -> Vec<PathBuf> {
        fs::read_dir(cache)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("core-"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // Let this glasshouse leave its entry, then damage it.
    Sandbox::new(&SUITE)
        .start("receipt.json", &[], &load_own, &[os("true")])
        .finish(SUITE.run_deadline)
        .assert_exit(0);
    let damaged = entries();
    assert!(
        !damaged.is_empty(),
        "a traced run leaves its relocated object in {cache:?}"
    );
    for entry in &damaged {
        fs::write(entry, b"not an ELF object").expect("damage the cached object");
    }
    assert_tester_reads_exactly_with("relpath", &["sub/a", "sub/b"], &load_own);
    // The damaged entry was replaced (and any stale one of another build removed).
    let after = entries();
    assert!(
        !after.is_empty(),
        "the run stored its relocated object again"
    );
    for entry in after {
        let bytes = fs::read(&entry).expect("read cached object");
        assert!(bytes.starts_with(b"\x7fELF"), "{entry:?} was not replaced");
    }
}

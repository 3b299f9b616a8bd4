//! Where the live event stream goes, and what a reader that does not read costs (these load
//! real eBPF): `--events-fd` writes to an inherited descriptor the command does not get; a
//! closed reader and a reader that stops reading cost lines of the stream (counted), never
//! receipt data, and glasshouse still ends; a bad destination or queue size refuses the run
//! (exit 125) before the command runs.

mod common;
mod events_support;

use common::{glasshouse, Sandbox};
use events_support::{ground_command, ground_sandbox, lines_of, PROGRAMS, SUITE};
use glasshouse_events::Event;
use glasshouse_receipt::OsText;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn events_fd_writes_to_an_inherited_descriptor_the_command_does_not_get() {
    let sandbox = Sandbox::new(&SUITE);
    let events = sandbox.root.join("fd3.jsonl");
    let receipt = sandbox.root.join("receipt.json");
    // The shell opens descriptor 3 for glasshouse; the command reports whether it has one.
    let script = "exec \"$0\" run --profile host --quiet --receipt \"$1\" --events-fd 3 -- \
                  sh -c 'if [ -e /proc/self/fd/3 ]; then echo has-3; else echo no-3; fi' 3>\"$2\"";
    let out = Command::new("sh")
        .current_dir(&sandbox.root)
        .args(["-c", script, common::BIN])
        .arg(&receipt)
        .arg(&events)
        .env_remove("GLASSHOUSE_CAPTURE_ARGV")
        .env_remove("GLASSHOUSE_BPF_DIR")
        .env_remove("GLASSHOUSE_KEEP_PROGRAMS")
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(124),
        "the sensor could not start:\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no-3\n");
    assert!(stderr.trim().is_empty(), "{stderr}");
    let json = common::read_receipt(&receipt);
    let lines = lines_of(&fs::read(&events).expect("the stream"));
    assert_eq!(lines[0].run, json["execution_id"].as_str().unwrap());
    let execs = lines
        .iter()
        .filter(
            |l| matches!(&l.event, Event::Exec(e) if e.argv.first() == Some(&OsText::from("sh"))),
        )
        .count();
    assert_eq!(execs, 1);
    assert!(matches!(
        lines.last().map(|l| &l.event),
        Some(Event::End(_))
    ));
}

#[test]
fn a_closed_reader_costs_lines_never_the_receipt() {
    let sandbox = ground_sandbox();
    let receipt = sandbox.root.join("receipt.json");
    let (reader, writer) = rustix::pipe::pipe().expect("a pipe");
    drop(reader);
    let cmd = ground_command(&sandbox, Path::new("/bin/true"));
    let mut command = glasshouse(&sandbox.root);
    command
        .args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(&receipt)
        .args(["--events-fd", "3", "--"])
        .args(&cmd)
        .stdin(Stdio::null());
    let fd = std::os::fd::AsRawFd::as_raw_fd(&writer);
    // SAFETY: dup2 is async-signal-safe and touches only the child's descriptor table.
    unsafe {
        use std::os::unix::process::CommandExt as _;
        command.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().expect("run glasshouse");
    drop(writer);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(124),
        "the sensor could not start:\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("the event stream stopped"), "{stderr}");
    let json = common::read_receipt(&receipt);
    assert_eq!(json["sensor"]["complete"], true, "{:#}", json["sensor"]);
    // Whether the receipt notes dropped lines depends on whether the writer met the closed pipe
    // before the sensor finished (the test below makes sure it does); everything the tester
    // did is in the receipt either way.
    let reads = json["filesystem"]["reads"].to_string();
    assert!(
        reads.contains(sandbox.w("in.txt").to_str().unwrap()),
        "{reads}"
    );
    let attempts = json["network"]["attempts"].as_array().expect("attempts");
    assert!(attempts.iter().any(|a| a["result"] == "connected"));
    assert!(attempts.iter().any(|a| a["result"] == "refused"));
}

/// Flags, environment, and what the refusal must say.
type Refusal<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn an_unusable_destination_refuses_the_run_before_the_command() {
    let sandbox = Sandbox::new(&SUITE);
    let marker = sandbox.w("ran");
    let touch = ["touch", marker.to_str().unwrap()];
    let dir = sandbox.root.to_str().unwrap();
    let no_env: &[(&str, &str)] = &[];
    let cases: [Refusal; 5] = [
        (
            &["--events", "/nonexistent-gh-dir/events.jsonl"],
            no_env,
            "cannot open the event stream",
        ),
        (&["--events-fd", "1"], no_env, "descriptors 0 and 1"),
        (&["--events-fd", "57"], no_env, "descriptor 57 is not open"),
        (&["--events", dir], no_env, "cannot open the event stream"),
        (
            &["--events", "-"],
            &[("GLASSHOUSE_EVENTS_QUEUE", "0")],
            "GLASSHOUSE_EVENTS_QUEUE=0: give a number of lines",
        ),
    ];
    for (flags, env, message) in cases {
        let out = glasshouse(&sandbox.root)
            .args(["run", "--profile", "host", "--receipt", "r.json"])
            .args(flags)
            .envs(env.iter().copied())
            .arg("--")
            .args(touch)
            .stdin(Stdio::null())
            .output()
            .expect("run glasshouse");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{flags:?}: {stderr}");
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
        assert!(!marker.exists(), "{flags:?}: the command ran");
        assert!(
            !sandbox.root.join("r.json").exists(),
            "{flags:?}: a receipt was written"
        );
    }
}

#[test]
fn a_reader_that_stops_reading_costs_lines_never_the_receipt() {
    // More distinct failed opens than the queue holds lines (GLASSHOUSE_EVENTS_QUEUE), with a
    // reader that reads nothing until glasshouse has exited: the drain must not wait for it,
    // and glasshouse must end.
    const OPENS: u32 = 20_000;
    let sandbox = Sandbox::new(&SUITE);
    let receipt = sandbox.root.join("receipt.json");
    let absent = sandbox.w("absent");
    let (reader, writer) = rustix::pipe::pipe().expect("a pipe");
    let mut command = glasshouse(&sandbox.root);
    command
        .args(["run", "--profile", "host", "--quiet", "--receipt"])
        .arg(&receipt)
        .args(["--events-fd", "3", "--"])
        .arg(PROGRAMS.path("fail_many"))
        .env("GLASSHOUSE_EVENTS_QUEUE", "1000")
        .arg(&absent)
        .arg(OPENS.to_string())
        .stdin(Stdio::null());
    let fd = std::os::fd::AsRawFd::as_raw_fd(&writer);
    // SAFETY: dup2 is async-signal-safe and touches only the child's descriptor table.
    unsafe {
        use std::os::unix::process::CommandExt as _;
        command.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .expect("start glasshouse");
    drop(writer);
    let stderr = common::reader(child.stderr.take().expect("stderr"));
    let status = common::wait_within(&mut child, SUITE.run_deadline, "glasshouse did not end");
    let stderr = String::from_utf8_lossy(&stderr.recv().unwrap_or_default()).into_owned();
    assert_ne!(
        status.code(),
        Some(124),
        "the sensor could not start:\n{stderr}"
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("the event stream"), "{stderr}");

    let json = common::read_receipt(&receipt);
    let sensor = &json["sensor"];
    assert_eq!(sensor["complete"], true, "{sensor:#}");
    assert!(sensor["notes"]
        .to_string()
        .contains("the live event stream (--events) dropped"));
    let prefix = absent.to_str().unwrap();
    let failed = json["filesystem"]["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .filter(|f| f["target"].as_str().is_some_and(|t| t.starts_with(prefix)))
        .count();
    assert_eq!(
        failed, OPENS as usize,
        "every failed open is in the receipt"
    );

    // What the pipe took is whole lines, from the first one on.
    let mut taken = Vec::new();
    std::io::Read::read_to_end(&mut fs::File::from(reader), &mut taken).expect("read the pipe");
    let lines = lines_of(&taken);
    assert!(!lines.is_empty());
    assert!(lines.iter().enumerate().all(|(i, l)| l.seq == i as u64));
}

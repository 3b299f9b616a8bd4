//! Pipes (issue 11, item 5): when the reader of glasshouse's stdout or stderr goes away, the
//! command sees what it would see without glasshouse (SIGPIPE, or EPIPE when it ignores it).

mod common;

use common::glasshouse;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

/// Waits for `child` up to the deadline; ends it (by handle) and fails when it does not end.
fn wait_or_fail(mut child: Child, what: &str) -> std::process::ExitStatus {
    common::wait_within(
        &mut child,
        DEADLINE,
        &format!("{what}: glasshouse did not end after its reader went away"),
    )
}

/// `glasshouse run --profile host -- CMD` with the given stream piped to a reader that takes
/// one line and goes away, like `| head -1`. Returns glasshouse's status and the line.
fn first_line_then_close(command: &[&str], stderr: bool) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = glasshouse(dir.path());
    cmd.args(["run", "--profile", "host", "--quiet", "--"])
        .args(command)
        .stdin(Stdio::null());
    if stderr {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    }
    let mut child = cmd.spawn().unwrap();
    let pipe: Box<dyn std::io::Read> = if stderr {
        Box::new(child.stderr.take().unwrap())
    } else {
        Box::new(child.stdout.take().unwrap())
    };
    let mut line = String::new();
    BufReader::new(pipe).read_line(&mut line).unwrap();
    // The reader is dropped here: it went away.
    let status = wait_or_fail(child, &command.join(" "));
    (status.code(), line)
}

#[test]
fn yes_into_a_reader_that_leaves_ends_with_sigpipe_as_without_glasshouse() {
    let (code, line) = first_line_then_close(&["yes"], false);
    assert_eq!(line, "y\n");
    assert_eq!(code, Some(128 + libc::SIGPIPE), "yes is killed by SIGPIPE");
}

#[test]
fn a_reader_of_stderr_that_leaves_ends_the_writer_too() {
    let (code, line) = first_line_then_close(&["sh", "-c", "while :; do echo e >&2; done"], true);
    assert_eq!(line, "e\n");
    // The shell's echo gets EPIPE or the shell dies of SIGPIPE, as without glasshouse.
    assert!(
        code == Some(128 + libc::SIGPIPE) || code == Some(1),
        "exit {code:?}"
    );
}

#[test]
fn a_command_ignoring_sigpipe_gets_epipe() {
    // Python ignores SIGPIPE and turns EPIPE into BrokenPipeError: exit status 1 with a
    // traceback (on stderr, which here is not the closed pipe).
    let script = "import sys\nwhile True:\n    sys.stdout.write('x\\n'); sys.stdout.flush()";
    let (code, line) = first_line_then_close(&["python3", "-c", script], false);
    assert_eq!(line, "x\n");
    assert_eq!(code, Some(1));
}

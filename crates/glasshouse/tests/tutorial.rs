//! Runs every command of the tutorial (`info.md` at the repository root), in order, in a fresh
//! directory, as root with the real sensor, and checks each exit status, so the tutorial cannot
//! rot. Conventions of info.md that this test reads:
//! - in a ```console block, each line starting with `$ ` is a command, run with `bash -o pipefail
//!   -c`; a trailing `# exits N...` comment gives its expected status (0 otherwise);
//! - `<!-- file: NAME -->` before a block: the block's text is written to NAME first;
//! - `<!-- not run: WHY -->` before a block: its commands are not run; only the build of the
//!   binary this test already uses (and the PATH export that goes with it) may be marked so.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Debug)]
enum Step {
    File { name: String, text: String },
    Run { command: String, expected: i32 },
}

/// The steps of the tutorial in order, and the commands it marks as not run.
fn steps(markdown: &str) -> (Vec<Step>, Vec<String>) {
    let mut steps = Vec::new();
    let mut skipped = Vec::new();
    let mut marker: Option<String> = None;
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if let Some(m) = line
            .strip_prefix("<!-- ")
            .and_then(|l| l.strip_suffix(" -->"))
        {
            marker = Some(m.to_owned());
            continue;
        }
        let Some(lang) = line.strip_prefix("```") else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        let marker = marker.take();
        if let Some(name) = marker.as_deref().and_then(|m| m.strip_prefix("file: ")) {
            let mut text = body.join("\n");
            text.push('\n');
            steps.push(Step::File {
                name: name.to_owned(),
                text,
            });
            continue;
        }
        if lang != "console" {
            continue;
        }
        let not_run = marker
            .as_deref()
            .is_some_and(|m| m.starts_with("not run: "));
        for command in body.iter().filter_map(|l| l.strip_prefix("$ ")) {
            if not_run {
                skipped.push(command.to_owned());
                continue;
            }
            let expected = command
                .rsplit_once("# exits ")
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            steps.push(Step::Run {
                command: command.to_owned(),
                expected,
            });
        }
    }
    (steps, skipped)
}

#[test]
fn every_command_of_the_tutorial_runs_as_it_says() {
    let markdown = std::fs::read_to_string(repo().join("info.md")).unwrap();
    let (steps, skipped) = steps(&markdown);
    // Only the build may be skipped: the test runs the binary cargo built for it instead.
    assert!(!skipped.is_empty());
    for command in &skipped {
        assert!(
            command.starts_with("cargo build --release -p glasshouse")
                || command.starts_with("export PATH="),
            "only the build may be left to the reader: {command}"
        );
    }
    let commands = steps
        .iter()
        .filter(|s| matches!(s, Step::Run { .. }))
        .count();
    let dollar_lines = markdown.lines().filter(|l| l.starts_with("$ ")).count();
    assert_eq!(
        commands + skipped.len(),
        dollar_lines,
        "every `$ ` line is a step"
    );
    assert!(commands >= 12, "the tutorial lost its commands? {steps:?}");

    let dir = tempfile::tempdir().unwrap();
    for shared in ["demo", "examples"] {
        std::os::unix::fs::symlink(
            repo().join(shared).canonicalize().unwrap(),
            dir.path().join(shared),
        )
        .unwrap();
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_glasshouse"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for step in &steps {
        match step {
            Step::File { name, text } => std::fs::write(dir.path().join(name), text).unwrap(),
            Step::Run { command, expected } => {
                let out = Command::new("bash")
                    .args(["-o", "pipefail", "-c", command])
                    .current_dir(dir.path())
                    .env("PATH", &path)
                    .env_remove("NO_COLOR")
                    .env_remove("GLASSHOUSE_CAPTURE_ARGV")
                    .output()
                    .unwrap();
                assert_eq!(
                    out.status.code(),
                    Some(*expected),
                    "`{command}`\nstdout:\n{}\nstderr:\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    // The runs left what the tutorial says they leave.
    for receipt in [
        "receipt.json",
        "judged.json",
        "second.json",
        "third.json",
        "changes.json",
    ] {
        assert!(dir.path().join(receipt).is_file(), "{receipt}");
    }
    let changes: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("changes.json")).unwrap())
            .unwrap();
    let added = changes["files"]["read"]["added"].to_string();
    assert!(added.contains("/etc/hostname"), "{changes}");
}

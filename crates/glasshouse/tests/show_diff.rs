//! `glasshouse show`, `diff`, `completions` and `man` as a user runs them: exit codes, color
//! choice (`--color`, `NO_COLOR`, pipes), `--json`, and generated scripts and pages. What the
//! views say is covered by glasshouse-view's snapshot tests on the same fixture receipts.

use assert_cmd::Command;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../glasshouse-view/tests/fixtures")
        .join(format!("{name}.json"))
}

fn glasshouse() -> Command {
    let mut cmd = Command::cargo_bin("glasshouse").unwrap();
    cmd.env_remove("NO_COLOR");
    cmd
}

fn stdout(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn show_colors_only_when_asked_or_on_a_terminal() {
    let today = fixture("today");
    // stdout is a pipe here: auto means plain.
    let (code, auto) = stdout(glasshouse().arg("show").arg(&today));
    assert_eq!(code, 0);
    assert!(!auto.contains('\x1b') && auto.contains("INCOMPLETE"));
    let (_, always) = stdout(glasshouse().args(["show", "--color", "always"]).arg(&today));
    assert!(always.contains("\x1b[1;31m"));
    // NO_COLOR turns auto off; an explicit --color always still wins.
    let (_, no_color) = stdout(glasshouse().env("NO_COLOR", "1").arg("show").arg(&today));
    assert!(!no_color.contains('\x1b'));
    let (_, forced) = stdout(
        glasshouse()
            .env("NO_COLOR", "1")
            .args(["show", "--color=always"])
            .arg(&today),
    );
    assert!(forced.contains('\x1b'));
    let (_, never) = stdout(glasshouse().args(["show", "--color", "never"]).arg(&today));
    assert_eq!(never, auto);
}

#[test]
fn show_json_prints_the_receipt_unchanged_and_all_unfolds() {
    for name in ["baseline", "today", "legacy-v0.3.0"] {
        let out = glasshouse()
            .args(["show", "--json"])
            .arg(fixture(name))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(out.stdout, std::fs::read(fixture(name)).unwrap(), "{name}");
    }
    let (_, folded) = stdout(glasshouse().arg("show").arg(fixture("baseline")));
    let (_, all) = stdout(
        glasshouse()
            .args(["show", "--all"])
            .arg(fixture("baseline")),
    );
    assert!(folded.contains("more files") && folded.contains("--all unfolds"));
    assert!(!all.contains("more files") && all.contains(" typing.py"));
}

#[test]
fn show_refuses_what_is_not_a_receipt_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("not-json.json", "this is not json"),
        ("newer.json", r#"{"version": "v1.0.0"}"#),
        ("no-version.json", r#"{"outcome": {}}"#),
    ];
    for (name, text) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = glasshouse().arg("show").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("glasshouse: error: receipt ") && err.contains(name),
            "{err}"
        );
    }
    let missing = dir.path().join("missing.json");
    let out = glasshouse().arg("show").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn diff_exits_0_when_the_runs_match_1_when_they_differ_2_on_bad_input() {
    let (same, text) = stdout(
        glasshouse()
            .arg("diff")
            .arg(fixture("baseline"))
            .arg(fixture("rerun")),
    );
    assert_eq!(
        (same, text.as_str()),
        (0, "no differences (volatile fields ignored)\n")
    );
    let (differ, text) = stdout(
        glasshouse()
            .arg("diff")
            .arg(fixture("baseline"))
            .arg(fixture("today")),
    );
    assert_eq!(differ, 1);
    assert!(
        text.contains("+ /usr/bin/curl") && text.contains("- /home/ada/work/src/parse.py.orig")
    );
    // The reverse direction swaps the signs.
    let (_, reverse) = stdout(
        glasshouse()
            .arg("diff")
            .arg(fixture("today"))
            .arg(fixture("baseline")),
    );
    assert!(
        reverse.contains("- /usr/bin/curl")
            && reverse.contains("+ /home/ada/work/src/parse.py.orig")
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[]").unwrap();
    let out = glasshouse()
        .arg("diff")
        .arg(fixture("baseline"))
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = glasshouse()
        .args(["diff", "only-one.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error is bad input too");
}

#[test]
fn diff_json_is_machine_readable() {
    let (code, text) = stdout(
        glasshouse()
            .args(["diff", "--json"])
            .arg(fixture("baseline"))
            .arg(fixture("today")),
    );
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["same"], false);
    assert_eq!(
        v["executables"]["added"],
        serde_json::json!(["/usr/bin/curl"])
    );
    assert_eq!(
        v["outcome"],
        serde_json::json!({"old": "exit 0", "new": "exit 1"})
    );
    let (code, text) = stdout(
        glasshouse()
            .args(["diff", "--json", "--ignore-counts"])
            .arg(fixture("baseline"))
            .arg(fixture("rerun")),
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["same"], true);
}

#[test]
fn completions_generate_for_bash_zsh_and_fish() {
    let subcommands = ["run", "show", "diff", "policy", "completions", "man"];
    for (shell, marker) in [
        ("bash", "_glasshouse()"),
        ("zsh", "#compdef glasshouse"),
        ("fish", "complete -c glasshouse"),
    ] {
        let (code, script) = stdout(glasshouse().args(["completions", shell]));
        assert_eq!(code, 0, "{shell}");
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for sub in subcommands {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
        // Options of subcommands are completed too (fish names long options with -l).
        let option = |name: &str| match shell {
            "fish" => format!("-l {name}"),
            _ => format!("--{name}"),
        };
        assert!(
            script.contains(&option("profile")) && script.contains(&option("color")),
            "{shell}"
        );
    }
    // The bash script is valid bash.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("glasshouse.bash");
    std::fs::write(&path, stdout(glasshouse().args(["completions", "bash"])).1).unwrap();
    let status = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let out = glasshouse().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_pages_come_from_the_same_definition() {
    let (code, page) = stdout(glasshouse().arg("man"));
    assert_eq!(code, 0);
    assert!(page.contains(".TH glasshouse 1"));
    for sub in ["run", "show", "diff", "policy"] {
        assert!(page.contains(sub), "glasshouse(1) lacks {sub}");
        let (code, page) = stdout(glasshouse().args(["man", sub]));
        assert_eq!(code, 0, "{sub}");
        assert!(page.contains(&format!(".TH glasshouse-{sub} 1")), "{sub}");
    }
    let (_, show) = stdout(glasshouse().args(["man", "show"]));
    assert!(show.contains("\\-\\-all") && show.contains("NO_COLOR"));
    let out = glasshouse().args(["man", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_summary_prints_the_show_view_of_the_receipt_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let receipt = dir.path().join("r.json");
    let out = glasshouse()
        .args(["run", "--profile", "host", "--summary", "--receipt"])
        .arg(&receipt)
        .args(["--", "sh", "-c", "echo out; exit 4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(out.stdout, b"out\n", "the command's stdout is untouched");
    let (code, shown) = stdout(
        glasshouse()
            .args(["show", "--color", "never"])
            .arg(&receipt),
    );
    assert_eq!(code, 0);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.ends_with(&shown),
        "stderr:\n{stderr}\nshow:\n{shown}"
    );
    assert!(shown.contains("exit 4"));
}

//! Snapshot tests of `show` and `diff` on the fixed receipts in tests/fixtures: a baseline run of
//! an agent task, a rerun of it where only volatile fields differ, today's run that did new
//! things, and a v0.3.0 receipt. With and without color, folded and unfolded.

use glasshouse_receipt::Receipt;
use glasshouse_view::{render_show, Diff, DiffOptions, DiffRenderOptions, ShowOptions, Style};

fn fixture(name: &str) -> Receipt {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    Receipt::read(std::path::Path::new(&path)).unwrap()
}

fn show(name: &str, all: bool, style: Style) -> String {
    render_show(&fixture(name), &ShowOptions { all, style })
}

#[test]
fn show_baseline_folded() {
    let text = show("baseline", false, Style::PLAIN);
    assert!(!text.contains('\x1b'), "no color was asked for");
    insta::assert_snapshot!(text);
}

#[test]
fn show_baseline_all() {
    let folded = show("baseline", false, Style::PLAIN);
    let all = show("baseline", true, Style::PLAIN);
    assert!(folded.contains("… 4 more files") && !all.contains("more files"));
    assert!(!all.contains('…'), "nothing is folded with --all");
    assert!(all.contains(" typing.py"));
    insta::assert_snapshot!(all);
}

#[test]
fn show_today_puts_problems_first_in_color() {
    let text = show("today", false, Style::COLOR);
    let coverage = text.find("INCOMPLETE").unwrap();
    let violations = text.find("FAIL: 2 violations").unwrap();
    assert!(coverage < text.find("processes (").unwrap());
    assert!(violations < text.find("processes (").unwrap());
    assert!(
        text.contains("\x1b[1;31mINCOMPLETE"),
        "coverage problems are highlighted"
    );
    assert!(text.contains("… 2 more directories"));
    insta::assert_snapshot!(text);
}

#[test]
fn show_today_plain() {
    insta::assert_snapshot!(show("today", false, Style::PLAIN));
}

#[test]
fn show_names_the_recorded_user_and_warns_of_a_root_command() {
    let text = show("baseline", false, Style::PLAIN);
    let line = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(key))
            .map(str::to_owned)
    };
    assert_eq!(
        line(&text, "user").as_deref(),
        Some("  user      ada (uid 1000, gid 1000, groups 27,1000; the user who ran sudo), HOME /home/ada")
    );
    assert_eq!(line(&text, "privilege"), None);
    let mut root = fixture("baseline");
    root.execution.user = Some(glasshouse_receipt::CommandUser::new(
        0,
        0,
        vec![0],
        Some("root".into()),
        "--user",
    ));
    root.environment.home = Some("/root".into());
    if let Some(sensor) = root.sensor.as_mut() {
        sensor.command_privileged = true;
    }
    let text = render_show(&root, &ShowOptions::default());
    assert_eq!(
        line(&text, "user").as_deref(),
        Some("  user      root (uid 0, gid 0, groups 0; chosen with --user), HOME /root")
    );
    let privilege = text.find("  privilege the command ran as root").unwrap();
    assert!(privilege < text.find("processes (").unwrap(), "{text}");
}

#[test]
fn show_reads_a_v0_3_0_receipt() {
    let text = show("legacy-v0.3.0", false, Style::PLAIN);
    assert!(text.contains("v0.3.0") && text.contains("coverage  not recorded"));
    insta::assert_snapshot!(text);
}

#[test]
fn rerun_differs_only_in_volatile_fields() {
    let diff = Diff::between(
        &fixture("baseline"),
        &fixture("rerun"),
        &DiffOptions::default(),
    );
    assert!(diff.same, "{diff:#?}");
    assert_eq!(diff.differences(), 0);
    insta::assert_snapshot!(diff.render(&DiffRenderOptions::default()));
}

fn baseline_today() -> Diff {
    Diff::between(
        &fixture("baseline"),
        &fixture("today"),
        &DiffOptions::default(),
    )
}

#[test]
fn diff_today_against_the_baseline() {
    let diff = baseline_today();
    assert!(!diff.same);
    assert_eq!(diff.executables.added, vec!["/usr/bin/curl"]);
    assert_eq!(
        diff.files.delete.removed,
        vec!["/home/ada/work/src/parse.py.orig"]
    );
    // Temporary names and /proc/PID differ between the runs and are not reported.
    assert!(!format!("{diff:?}").contains("tmpq81"));
    assert!(!format!("{diff:?}").contains("/proc/"));
    let names: Vec<&str> = diff.counts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["syscalls.openat"]);
    insta::assert_snapshot!(diff.render(&DiffRenderOptions::default()));
}

#[test]
fn diff_today_unfolded_in_color() {
    let options = DiffRenderOptions {
        all: true,
        style: Style::COLOR,
    };
    let text = baseline_today().render(&options);
    assert!(
        text.contains("libnghttp2.so.14"),
        "--all lists folded directories"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn diff_today_as_json() {
    let json = serde_json::to_string_pretty(&baseline_today()).unwrap();
    insta::assert_snapshot!(json);
}

#[test]
fn diff_reports_a_command_that_now_runs_as_root_but_not_another_uid() {
    let baseline = fixture("baseline");
    let mut other_user = fixture("rerun");
    other_user.execution.user = Some(glasshouse_receipt::CommandUser::new(
        1001,
        1001,
        vec![1001],
        Some("bob".into()),
        "sudo",
    ));
    let diff = Diff::between(&baseline, &other_user, &DiffOptions::default());
    assert!(
        diff.same,
        "another ordinary user is not a difference: {diff:#?}"
    );
    let mut root = other_user.clone();
    root.execution.user = Some(glasshouse_receipt::CommandUser::new(
        0,
        0,
        vec![0],
        Some("root".into()),
        "--user",
    ));
    let diff = Diff::between(&baseline, &root, &DiffOptions::default());
    assert_eq!(diff.differences(), 1, "{diff:#?}");
    let text = diff.render(&DiffRenderOptions::default());
    assert!(
        text.contains("command user not root → root (it could have tampered with the sensor)"),
        "{text}"
    );
    // A receipt that did not record its user is not compared on it.
    let mut unrecorded = root.clone();
    unrecorded.execution.user = None;
    assert!(Diff::between(&baseline, &unrecorded, &DiffOptions::default()).same);
}

/// today's run as if it had run with `--enforce`: one rule of each kind the compiler gives.
fn enforced_today() -> Receipt {
    let mut r = serde_json::to_value(fixture("today")).unwrap();
    r["enforcement"] = serde_json::json!({
        "digest": "0".repeat(64),
        "rules": [
            {"rule": "no-ssh-keys", "number": 1, "action": "read", "effect": "deny",
             "target": "~/.ssh/**", "status": "enforced", "mechanism": "hidden",
             "matched": {"count": 0, "examples": []},
             "failed": {"count": 1, "examples": ["/home/dev/.ssh/id_ed25519"]}},
            {"rule": "rule[2]", "number": 2, "action": "write", "effect": "allow",
             "target": "${CWD}/**", "status": "enforced", "mechanism": "landlock",
             "matched": {"count": 3, "examples": ["/src/app/out.txt"]},
             "failed": {"count": 0, "examples": []}},
            {"rule": "rule[3]", "number": 3, "action": "exec", "effect": "deny",
             "target": "/usr/bin/curl", "status": "evaluated_only",
             "reason": "exec rules are judged on the receipt only",
             "matched": {"count": 1, "examples": ["/usr/bin/curl"]},
             "failed": {"count": 0, "examples": []}},
            {"rule": "default", "action": "write", "effect": "deny", "status": "enforced",
             "mechanism": "landlock", "matched": {"count": 0, "examples": []},
             "failed": {"count": 2, "examples": ["/etc/hosts"]}}
        ]
    });
    serde_json::from_value(r).unwrap()
}

#[test]
fn show_lists_how_an_enforced_policy_was_applied() {
    let text = render_show(
        &enforced_today(),
        &ShowOptions {
            all: false,
            style: Style::PLAIN,
        },
    );
    let start = text
        .find("\nenforcement (")
        .expect("an enforcement section");
    let end = text.find("\nfailures (").expect("the failures after it");
    assert!(start < end);
    insta::assert_snapshot!(&text[start + 1..end]);
    // A receipt of a run without --enforce has no such section.
    let plain = show("today", false, Style::PLAIN);
    assert!(!plain.contains("\nenforcement ("));
}

//! Table tests of what a rule's target matches, and of how rules combine into a decision.

mod common;

use common::{attempt, policy, policy_of, process, receipt, receipt_at_work};
use glasshouse_policy::{Action, Context, Effect, Status};
use glasshouse_receipt::{OsText, PolicyViolation};

fn work_context() -> Context {
    Context::new(Some(OsText::from("/work")), Some(OsText::from("/home/ada")))
}

/// Whether a single deny rule on `action`/`target` (default allow) denies `subject`.
fn denies(action: &str, target: &str, subject: &[u8], context: &Context) -> bool {
    let p = policy_of("allow", &[("deny", action, target)]);
    let a: Action = action.parse().unwrap();
    p.decide(a, subject, context).effect == Effect::Deny
}

#[test]
fn path_globs() {
    let table: &[(&str, &str, bool)] = &[
        // `*` stays within one segment.
        ("/etc/*", "/etc/passwd", true),
        ("/etc/*", "/etc/ssl/certs", false),
        ("/etc/*.conf", "/etc/resolv.conf", true),
        ("/etc/*.conf", "/etc/resolv.conf.bak", false),
        ("/w/*.rs", "/w/src/main.rs", false),
        // `**` spans zero or more segments, including the directory itself.
        ("/etc/**", "/etc/ssl/certs/ca.pem", true),
        ("/etc/**", "/etc", true),
        ("/etc/**", "/etcetera/x", false),
        ("/w/**/*.rs", "/w/main.rs", true),
        ("/w/**/*.rs", "/w/src/deep/main.rs", true),
        ("/w/**/*.rs", "/w/src/main.c", false),
        ("/a/**/b/**/c", "/a/x/b/y/z/c", true),
        ("/a/**/b/**/c", "/a/x/c", false),
        ("**/.env", "/w/app/.env", true),
        ("**/.env", "/w/app/.env.local", false),
        ("**", "/any/thing", true),
        ("/**", "/", true),
        // `?` and classes are one character.
        ("/w/?.txt", "/w/a.txt", true),
        ("/w/?.txt", "/w/ab.txt", false),
        ("/w/?.txt", "/w/.txt", false),
        ("/w/[ab].txt", "/w/b.txt", true),
        ("/w/[ab].txt", "/w/c.txt", false),
        ("/w/[!ab].txt", "/w/c.txt", true),
        ("/w/[a-f0-9]", "/w/7", true),
        ("/w/caf?", "/w/café", true),
        // Escapes make metacharacters literal.
        (r"/w/\*", "/w/*", true),
        (r"/w/\*", "/w/x", false),
        (r"/w/\[x]", "/w/[x]", true),
        // A pattern without `/` matches the file name.
        (".env", "/w/deep/.env", true),
        ("*.pem", "/etc/ssl/private/key.pem", true),
        ("*.pem", "/etc/ssl/private/key.pem.bak", false),
        ("*", "/anything/at/all", true),
        // Redundant slashes are not significant on either side.
        ("/w//x/", "/w/x", true),
        ("/w/x", "/w//x/", true),
    ];
    let context = work_context();
    for &(pattern, path, expected) in table {
        assert_eq!(
            denies("read", pattern, path.as_bytes(), &context),
            expected,
            "pattern {pattern:?} against {path:?}"
        );
    }
}

#[test]
fn non_utf8_paths_match_on_bytes() {
    let context = work_context();
    let invalid: &[u8] = b"/data/\xff\xfe.bin";
    assert!(denies("read", "/data/*", invalid, &context));
    assert!(
        denies("read", "/data/??.bin", invalid, &context),
        "each invalid byte is one `?`"
    );
    assert!(!denies("read", "/data/?.bin", invalid, &context));
    assert!(denies("read", "*.bin", invalid, &context));
    assert!(!denies("read", "/data/[a-z]*", invalid, &context));
    assert!(denies("read", "/data/[!a-z]*", invalid, &context));

    // The violation reports the path with `\xNN` escapes.
    let p = policy_of("allow", &[("deny", "read", "/data/**")]);
    let mut r = receipt();
    r.filesystem.reads = vec![OsText::from_bytes(invalid)];
    let verdict = p.evaluate(&r);
    assert_eq!(verdict.violations[0].target, r"/data/\xff\xfe.bin");
}

#[test]
fn variables_expand_to_the_receipts_values() {
    let table: &[(&str, &str, bool)] = &[
        ("${CWD}/**", "/work/src/main.rs", true),
        ("${CWD}/**", "/work", true),
        ("${CWD}/**", "/workshop/x", false),
        ("${CWD}/*.lock", "/work/Cargo.lock", true),
        ("${HOME}/.ssh/**", "/home/ada/.ssh/id_ed25519", true),
        ("${HOME}/.ssh/**", "/home/bob/.ssh/id_ed25519", false),
        ("${HOME}/.ssh/**", "/root/.ssh/id_ed25519", false),
    ];
    for &(pattern, path, expected) in table {
        assert_eq!(
            denies("read", pattern, path.as_bytes(), &work_context()),
            expected,
            "pattern {pattern:?} against {path:?}"
        );
    }

    // Values with trailing slashes, the root, and metacharacters are taken literally.
    let odd = Context::new(Some(OsText::from("/")), Some(OsText::from("/home/a*/")));
    assert!(denies("write", "${CWD}/**", b"/etc/passwd", &odd));
    assert!(denies("read", "${HOME}/.ssh/*", b"/home/a*/.ssh/id", &odd));
    assert!(!denies("read", "${HOME}/.ssh/*", b"/home/ab/.ssh/id", &odd));
}

#[test]
fn rules_naming_an_unknown_variable_never_match() {
    let p = policy_of(
        "deny",
        &[
            ("allow", "read", "${HOME}/**"),
            ("deny", "write", "${HOME}/**"),
        ],
    );
    for context in [
        Context::default(),
        Context::new(Some(OsText::from("/work")), Some(OsText::from(""))),
        Context::new(None, Some(OsText::from("relative/home"))),
    ] {
        // The allow cannot apply, so the default decides...
        let read = p.decide(Action::Read, b"/home/ada/notes", &context);
        assert_eq!((read.effect, read.rule.as_str()), (Effect::Deny, "default"));
        // ...and the deny cannot apply either: a missing HOME is not "every path".
        let write = p.decide(Action::Write, b"/home/ada/notes", &context);
        assert_eq!(
            (write.effect, write.rule.as_str()),
            (Effect::Deny, "default")
        );
        let write = p.decide(Action::Write, b"/etc/passwd", &context);
        assert_eq!(write.rule, "default");
    }
}

#[test]
fn connect_targets() {
    let table: &[(&str, &str, bool)] = &[
        ("*", "8.8.8.8:53", true),
        ("*", "[2001:db8::1]:443", true),
        ("*", "/run/user/1000/bus", true),
        ("*", "@abstract", true),
        // Addresses and ports.
        ("1.2.3.4:443", "1.2.3.4:443", true),
        ("1.2.3.4:443", "1.2.3.4:80", false),
        ("1.2.3.4:443", "1.2.3.5:443", false),
        ("1.2.3.4", "1.2.3.4:80", true),
        ("127.0.0.1:*", "127.0.0.1:5432", true),
        ("127.0.0.1:*", "127.0.0.2:5432", false),
        ("*:53", "9.9.9.9:53", true),
        ("*:53", "[2620:fe::fe]:53", true),
        ("*:53", "9.9.9.9:853", false),
        ("0.0.0.0/0:8000-8999", "1.1.1.1:8080", true),
        ("0.0.0.0/0:8000-8999", "1.1.1.1:9000", false),
        // CIDR blocks.
        ("10.0.0.0/8", "10.20.30.40:22", true),
        ("10.0.0.0/8", "11.0.0.1:22", false),
        ("10.0.0.0/8:443", "10.1.1.1:443", true),
        ("10.0.0.0/8:443", "10.1.1.1:80", false),
        ("172.16.0.0/12", "172.31.255.255:1", true),
        ("172.16.0.0/12", "172.32.0.0:1", false),
        ("0.0.0.0/0", "203.0.113.9:1", true),
        ("0.0.0.0/0", "[2001:db8::1]:1", false),
        // IPv6.
        ("[::1]:443", "[::1]:443", true),
        ("[::1]:443", "[::1]:80", false),
        ("[::1]:*", "[::1]:8080", true),
        ("[::1]", "[::1]:8080", true),
        ("::1", "[::1]:1", true),
        ("[fd00::/8]:443", "[fd12:3456::1]:443", true),
        ("fd00::/8", "[fe80::1]:443", false),
        ("[::/0]", "[2001:db8::1]:1", true),
        ("::/0", "1.2.3.4:1", false),
        // An IPv4-mapped IPv6 destination is judged as its IPv4 address.
        ("10.0.0.0/8", "[::ffff:10.1.2.3]:443", true),
        ("127.0.0.0/8", "[::ffff:127.0.0.1]:80", true),
        ("[::ffff:10.0.0.0/104]", "10.9.9.9:1", true),
        // Unix sockets: path globs, abstract names.
        ("/run/*.sock", "/run/docker.sock", true),
        ("/run/*.sock", "/run/user/1000/bus", false),
        ("**/docker.sock", "/var/run/docker.sock", true),
        ("${CWD}/*.sock", "/work/app.sock", true),
        ("@*", "@dbus-Xa1", true),
        ("@*", "/run/x.sock", false),
        ("@/tmp/.X11-unix/*", "@/tmp/.X11-unix/X0", true),
        // Address rules never match sockets, socket rules never match addresses.
        ("0.0.0.0/0", "/run/x.sock", false),
        ("*:80", "/run/x.sock", false),
        ("**", "1.2.3.4:80", false),
        ("**", "/run/x.sock", true),
    ];
    for &(pattern, dst, expected) in table {
        assert_eq!(
            denies("connect", pattern, dst.as_bytes(), &work_context()),
            expected,
            "connect target {pattern:?} against {dst:?}"
        );
    }
}

#[test]
fn deny_overrides_allow_whatever_the_order() {
    for rules in [
        [("allow", "read", "/w/**"), ("deny", "read", "/w/secret/**")],
        [("deny", "read", "/w/secret/**"), ("allow", "read", "/w/**")],
    ] {
        let p = policy_of("allow", &rules);
        let deny_rule = if rules[0].0 == "deny" { "r1" } else { "r2" };
        let allow_rule = if deny_rule == "r1" { "r2" } else { "r1" };
        let d = p.decide(Action::Read, b"/w/secret/key", &Context::default());
        assert_eq!((d.effect, d.rule.as_str()), (Effect::Deny, deny_rule));
        let d = p.decide(Action::Read, b"/w/notes", &Context::default());
        assert_eq!((d.effect, d.rule.as_str()), (Effect::Allow, allow_rule));
    }
}

#[test]
fn the_first_matching_rule_of_the_winning_effect_decides() {
    let p = policy_of(
        "deny",
        &[
            ("allow", "read", "/w/**"),
            ("allow", "read", "/w/*"),
            ("deny", "read", "*.key"),
            ("deny", "read", "/w/**"),
        ],
    );
    let d = p.decide(Action::Read, b"/w/a.key", &Context::default());
    assert_eq!(
        (d.effect, d.rule.as_str(), d.reason.as_str()),
        (Effect::Deny, "r3", "reason 3")
    );
    let p = policy_of(
        "deny",
        &[("allow", "read", "/w/**"), ("allow", "read", "/w/*")],
    );
    let d = p.decide(Action::Read, b"/w/a", &Context::default());
    assert_eq!((d.effect, d.rule.as_str()), (Effect::Allow, "r1"));
}

#[test]
fn defaults() {
    let p = policy_of("deny", &[("allow", "read", "/w/**")]);
    let d = p.decide(Action::Read, b"/etc/passwd", &Context::default());
    assert_eq!(
        (d.effect, d.rule.as_str(), d.number),
        (Effect::Deny, "default", None)
    );
    assert!(d.reason.contains("default is deny"), "{}", d.reason);
    // Rules of one action say nothing about another.
    let d = p.decide(Action::Write, b"/w/x", &Context::default());
    assert_eq!(d.rule, "default");

    let p = policy_of("allow", &[("deny", "read", "/w/**")]);
    let d = p.decide(Action::Read, b"/etc/passwd", &Context::default());
    assert_eq!((d.effect, d.rule.as_str()), (Effect::Allow, "default"));
}

#[test]
fn unnamed_rules_are_labelled_by_position() {
    let p = policy(
        r#"
version = 1
default = "allow"

[[rule]]
effect = "allow"
action = "read"
target = "/w/**"

[[rule]]
effect = "deny"
action = "read"
target = "/w/secret"
reason = "secret"
"#,
    );
    let d = p.decide(Action::Read, b"/w/secret", &Context::default());
    assert_eq!((d.rule.as_str(), d.number), ("rule[2]", Some(2)));
    assert_eq!(p.rules()[0].label(), "rule[1]");
    assert_eq!(p.rules()[1].line(), 10);
}

#[test]
fn a_receipt_is_judged_on_every_recorded_action() {
    let p = policy_of(
        "allow",
        &[
            ("deny", "exec", "curl"),
            ("deny", "read", "${HOME}/.ssh/**"),
            ("deny", "write", "/etc/**"),
            ("deny", "delete", "${CWD}/.git/**"),
            ("deny", "connect", "10.0.0.0/8"),
        ],
    );
    let mut r = receipt_at_work();
    // curl ran only as an earlier image of pid 11: every image counts, not only the last.
    r.process_tree = vec![
        process(10, b"/usr/bin/bash", &[]),
        process(11, b"/usr/bin/true", &[b"/usr/bin/curl"]),
    ];
    r.filesystem.reads = common::paths(&["/home/ada/.ssh/id_ed25519", "/work/src/main.rs"]);
    r.filesystem.writes = common::paths(&["/etc/hosts", "/work/out"]);
    r.filesystem.deletes = common::paths(&["/work/.git/index", ""]);
    r.network.attempts = vec![
        attempt("10.1.2.3:443", "tcp"),
        attempt("1.1.1.1:443", "tcp"),
    ];

    let verdict = p.evaluate(&r);
    assert_eq!(verdict.verdict, Status::Fail);
    assert_eq!(verdict.digest, p.digest());
    let expected = vec![
        PolicyViolation::new("connect", "10.1.2.3:443", "r5", "reason 5"),
        PolicyViolation::new("delete", "/work/.git/index", "r4", "reason 4"),
        PolicyViolation::new("exec", "/usr/bin/curl", "r1", "reason 1"),
        PolicyViolation::new("read", "/home/ada/.ssh/id_ed25519", "r2", "reason 2"),
        PolicyViolation::new("write", "/etc/hosts", "r3", "reason 3"),
    ];
    assert_eq!(verdict.violations, expected);

    // Recording changes the two policy fields and nothing else.
    let mut recorded = r.clone();
    assert!(verdict.record_in(&mut recorded));
    assert_eq!(
        recorded.filesystem.policy_violations,
        expected
            .iter()
            .filter(|v| ["read", "write", "delete"].contains(&v.action.as_str()))
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(recorded.policy, Some(verdict.to_report()));
    let mut restored = recorded.clone();
    restored.filesystem.policy_violations = r.filesystem.policy_violations.clone();
    restored.policy = r.policy.clone();
    assert_eq!(restored, r);

    // Recording is idempotent, and a recorded verdict is not an input to the next evaluation.
    assert_eq!(p.evaluate(&recorded), verdict);
    let mut twice = recorded.clone();
    verdict.record_in(&mut twice);
    assert_eq!(twice, recorded);
}

#[test]
fn a_clean_receipt_passes() {
    let p = policy_of("allow", &[("deny", "read", "/secret/**")]);
    let mut r = receipt();
    r.filesystem.reads = common::paths(&["/etc/hosts"]);
    let verdict = p.evaluate(&r);
    assert!(verdict.passed());
    assert!(verdict.violations.is_empty());
    let mut recorded = r.clone();
    assert!(!verdict.record_in(&mut recorded));
    assert_eq!(
        recorded.policy.as_ref().map(|p| p.verdict.as_str()),
        Some("pass")
    );
}

#[test]
fn explain_lists_every_matching_rule_and_marks_the_deciding_one() {
    let p = policy_of(
        "deny",
        &[
            ("allow", "read", "**"),
            ("deny", "read", "${HOME}/.ssh/**"),
            ("deny", "read", "id_*"),
            ("deny", "write", "**"),
            ("allow", "read", "/nowhere/**"),
        ],
    );
    let e = p.explain(Action::Read, b"/home/ada/.ssh/id_rsa", &work_context());
    assert_eq!(
        (e.decision.effect, e.decision.rule.as_str()),
        (Effect::Deny, "r2")
    );
    let findings: Vec<_> = e
        .rules
        .iter()
        .map(|r| (r.rule.as_str(), r.finding))
        .collect();
    use glasshouse_policy::Finding::*;
    assert_eq!(
        findings,
        vec![("r1", Matches), ("r2", Decides), ("r3", Matches)]
    );
    let text = e.to_string();
    assert!(
        text.starts_with("read /home/ada/.ssh/id_rsa: denied by r2 (rule[2], line "),
        "{text}"
    );
    assert!(text.contains("deny overrides allow"), "{text}");
    assert!(text.contains("* r2 (rule[2]"), "{text}");

    // Without a HOME the ssh rule cannot match, and the explanation says so.
    let e = p.explain(Action::Read, b"/home/ada/.ssh/config", &Context::default());
    assert_eq!(
        (e.decision.effect, e.decision.rule.as_str()),
        (Effect::Allow, "r1")
    );
    assert_eq!(e.rules[1].finding, NotExpanded);
    assert_eq!(e.rules[1].unknown_variable.as_deref(), Some("${HOME}"));
    assert!(e.to_string().contains("${HOME} is not known"), "{e}");

    // Nothing matches: the default decides.
    let e = p.explain(Action::Exec, b"/bin/ls", &Context::default());
    assert!(e.rules.is_empty());
    assert_eq!(e.decision.rule, "default");
    assert!(e.to_string().contains("denied by the default"), "{e}");
}

#[test]
fn violation_lines_are_one_line_each() {
    let v = PolicyViolation::new("read", "/w/a\nb\tc", "r1", "no");
    assert_eq!(
        glasshouse_policy::violation_line(&v),
        "read\t/w/a\\nb\\tc\tr1\tno"
    );
}

//! Broken policies: every error names the file, the exact line and column, and the problem.

use glasshouse_policy::{Policy, PolicyError, Problem};

/// A valid header followed by `rules`; the header takes lines 1 and 2.
fn with_rules(rules: &str) -> String {
    format!("version = 1\ndefault = \"deny\"\n{rules}")
}

fn error(text: &str) -> PolicyError {
    match Policy::parse(text.as_bytes(), "p.toml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts the error's position and that its message, which starts with the position, contains
/// every one of `words`.
fn assert_error(text: &str, line: usize, column: usize, words: &[&str]) -> Problem {
    let e = error(text);
    let message = e.to_string();
    assert_eq!((e.line, e.column), (line, column), "{message}");
    assert!(
        message.starts_with(&format!("p.toml:{line}:{column}: ")),
        "{message}"
    );
    for word in words {
        assert!(
            message.contains(word),
            "{message:?} should mention {word:?}"
        );
    }
    assert!(!message.contains('\n'), "one line: {message:?}");
    e.problem
}

#[test]
fn unknown_action() {
    let text = with_rules(
        "\n[[rule]]\neffect = \"deny\"\naction = \"fetch\"\ntarget = \"*\"\nreason = \"x\"\n",
    );
    let problem = assert_error(&text, 6, 10, &["unknown action \"fetch\"", "exec, read"]);
    assert!(matches!(problem, Problem::UnknownAction { found } if found == "fetch"));
}

#[test]
fn unknown_key() {
    let text = with_rules("\n[[rule]]\neffect = \"deny\"\n  tagret = \"/x\"\n");
    let problem = assert_error(&text, 6, 3, &["unknown field `tagret`", "`target`"]);
    assert!(matches!(problem, Problem::Structure { .. }));
    assert_error(
        "version = 1\ndefault = \"deny\"\nrules = []\n",
        3,
        1,
        &["unknown field `rules`"],
    );
}

#[test]
fn missing_and_mistyped_keys() {
    assert_error("default = \"deny\"\n", 1, 1, &["missing field `version`"]);
    assert_error(
        &with_rules("[[rule]]\neffect = \"deny\"\naction = \"read\"\n"),
        3,
        1,
        &["missing field `target`"],
    );
    assert_error(
        "version = \"1\"\ndefault = \"deny\"\n",
        1,
        11,
        &["invalid type", "string"],
    );
    assert_error(
        &with_rules("[[rule]]\neffect = [\"deny\"]\n"),
        4,
        10,
        &["invalid type"],
    );
    assert_error(
        &with_rules("[rule]\neffect = \"deny\"\n"),
        3,
        1,
        &["expected a sequence", "`[[rule]]`"],
    );
}

#[test]
fn wrong_version() {
    let problem = assert_error(
        "version = 2\ndefault = \"deny\"\n",
        1,
        11,
        &["version 2 is not supported", "version = 1"],
    );
    assert_eq!(
        problem,
        Problem::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    // A newer format is reported as such, not as keys this version does not know.
    assert_error(
        "\nversion = 3\nshiny = true\n",
        2,
        11,
        &["version 3 is not supported"],
    );
}

#[test]
fn toml_syntax() {
    let text = with_rules("[[rule]]\neffect = deny\n");
    let problem = assert_error(&text, 4, 10, &["TOML syntax error"]);
    assert!(matches!(problem, Problem::Syntax { .. }));
    // An unclosed string is reported where the closing quote was expected.
    assert_error(
        "version = 1\ndefault = \"deny\n",
        2,
        16,
        &["TOML syntax error"],
    );
}

#[test]
fn bad_effects_and_severities() {
    assert_error(
        "version = 1\ndefault = \"maybe\"\n",
        2,
        11,
        &["unknown default \"maybe\"", "\"allow\" or \"deny\""],
    );
    assert_error(
        &with_rules(
            "[[rule]]\neffect = \"block\"\naction = \"read\"\ntarget = \"/x\"\nreason = \"r\"\n",
        ),
        4,
        10,
        &["unknown effect \"block\""],
    );
    assert_error(
        &with_rules(
            "[[rule]]\neffect = \"deny\"\naction = \"read\"\ntarget = \"/x\"\nreason = \"r\"\nseverity = \"urgent\"\n",
        ),
        8,
        12,
        &["unknown severity \"urgent\"", "critical"],
    );
}

fn rule_with_target(action: &str, target: &str) -> String {
    with_rules(&format!(
        "[[rule]]\neffect = \"deny\"\naction = \"{action}\"\ntarget = '{target}'\nreason = \"r\"\n"
    ))
}

#[test]
fn bad_globs() {
    // The column is that of the target's opening quote.
    let cases: &[(&str, &[&str])] = &[
        (
            "/a/**b",
            &[
                "bad glob \"/a/**b\"",
                "`**` at character 4 must be a whole path segment",
            ],
        ),
        ("/a/***", &["`**`"]),
        ("/a/[bc", &["`[` at character 4 is not closed"]),
        ("/a/[z-a]", &["runs backwards"]),
        ("/a/[./]", &["includes `/`"]),
        ("/a/x\\", &["lone `\\`"]),
        ("", &["the pattern is empty"]),
        ("src/*.rs", &["must start with `/`", "${CWD}/src/*.rs"]),
        ("/a/${CWD", &["not closed by `}`"]),
    ];
    for (target, words) in cases {
        let problem = assert_error(&rule_with_target("write", target), 6, 10, words);
        assert!(matches!(problem, Problem::BadGlob { .. }), "{problem:?}");
    }
    let problem = assert_error(
        &rule_with_target("read", "${USER}/.ssh/**"),
        6,
        10,
        &["unknown variable ${USER}"],
    );
    assert!(matches!(problem, Problem::UnknownVariable { name, .. } if name == "USER"));
}

#[test]
fn bad_connect_targets() {
    let cidr: &[(&str, &[&str])] = &[
        (
            "10.0.0.1/8",
            &["bad CIDR block \"10.0.0.1/8\"", "did you mean `10.0.0.0/8`"],
        ),
        (
            "10.0.0.0/33",
            &["prefix `/33` must be a number from 0 to 32"],
        ),
        ("10.0.0.0/x:443", &["prefix `/x`"]),
        ("[fd00::/129]", &["from 0 to 128"]),
    ];
    for (target, words) in cidr {
        let problem = assert_error(&rule_with_target("connect", target), 6, 10, words);
        assert!(
            matches!(problem, Problem::BadCidr { .. }),
            "{target}: {problem:?}"
        );
    }
    let other: &[(&str, &[&str])] = &[
        ("example.com:443", &["not an address", "host names"]),
        ("1.2.3.4:99999", &["`99999` is not a port"]),
        ("1.2.3.4:90-80", &["runs backwards"]),
        ("1.2.3:80", &["`1.2.3` is not an IP address"]),
        ("[::1:443", &["not closed"]),
        ("[1.2.3.4]:80", &["brackets are for IPv6"]),
        ("[::1]443", &["expected `:PORT`"]),
        ("[::]/0", &["inside the brackets"]),
        ("fe80::1:443:x", &["in brackets"]),
        ("", &["empty"]),
    ];
    for (target, words) in other {
        let problem = assert_error(&rule_with_target("connect", target), 6, 10, words);
        assert!(
            matches!(problem, Problem::BadConnectTarget { .. }),
            "{target}: {problem:?}"
        );
    }
}

#[test]
fn deny_rules_need_a_reason() {
    // Missing: the error points at the rule's header.
    let text = with_rules("\n[[rule]]\neffect = \"deny\"\naction = \"read\"\ntarget = \"/x\"\n");
    assert_eq!(
        assert_error(&text, 4, 1, &["needs a non-empty `reason`"]),
        Problem::MissingReason
    );
    // Blank: the error points at the reason.
    let text = with_rules(
        "[[rule]]\neffect = \"deny\"\naction = \"read\"\ntarget = \"/x\"\nreason = \" \"\n",
    );
    assert_error(&text, 7, 10, &["`reason`"]);
    // An allow rule may go without.
    Policy::parse(
        with_rules("[[rule]]\neffect = \"allow\"\naction = \"read\"\ntarget = \"/x\"\n").as_bytes(),
        "p.toml",
    )
    .unwrap();
}

#[test]
fn rule_names() {
    let rule = |name: &str| {
        format!(
            "[[rule]]\nname = \"{name}\"\neffect = \"allow\"\naction = \"read\"\ntarget = \"/x\"\n"
        )
    };
    let text = with_rules(&format!("{}\n{}", rule("same"), rule("same")));
    let problem = assert_error(
        &text,
        9,
        1,
        &["duplicate rule name \"same\" (first used on line 3)"],
    );
    assert!(matches!(
        problem,
        Problem::DuplicateRuleName { first_line: 3, .. }
    ));
    assert_error(
        &with_rules(&rule("default")),
        4,
        8,
        &["bad rule name \"default\""],
    );
    assert_error(&with_rules(&rule("rule[1]")), 4, 8, &["ASCII letters"]);
    assert_error(&with_rules(&rule("a b")), 4, 8, &["ASCII letters"]);
    assert_error(&with_rules(&rule("")), 4, 8, &["empty"]);
}

#[test]
fn non_utf8() {
    let mut bytes = b"version = 1\ndefault = \"d".to_vec();
    bytes.push(0xff);
    bytes.extend_from_slice(b"\"\n");
    let e = Policy::parse(&bytes, "p.toml").unwrap_err();
    assert_eq!((e.line, e.column, &e.problem), (2, 13, &Problem::NotUtf8));
    assert_eq!(e.to_string(), "p.toml:2:13: the policy is not UTF-8 text");
}

#[test]
fn columns_count_characters() {
    // "é" is two bytes but one column.
    let text = with_rules("[[rule]]\neffect = \"deny\"\naction = \"read\"\ntarget = \"/é\" # é\nreason = \"é\"\nnope = 1\n");
    assert_error(&text, 8, 1, &["unknown field `nope`"]);
    let text = with_rules("# é\n[[rule]]\neffect = \"deny\"\naction = \"read\"\ntarget = \"/x\"\nreason = \"r\"\nname = \"é\"\n");
    assert_error(&text, 9, 8, &["bad rule name"]);
}

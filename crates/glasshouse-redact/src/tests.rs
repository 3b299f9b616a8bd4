//! Canary tests: every shape, every place, and the non-secrets that must stay.

use super::*;

pub(crate) fn redactor(seed: u8) -> Redactor {
    Redactor::new(
        Rules::builtin().unwrap(),
        RedactionKey::from_bytes([seed; KEY_LEN]),
    )
}

/// Canary secrets of every built-in shape, built at run time (no live-looking key in the source).
pub(crate) fn canaries() -> Vec<(&'static str, String)> {
    let alnum = |n: usize| -> String {
        "q7Rk2Zp9Xw4Lm8Tn3Vb6Hs1Jd5Fg0Yc"
            .chars()
            .cycle()
            .take(n)
            .collect()
    };
    vec![
        ("aws_access_key_id", format!("AKIA{}", "QZ7W3XMPL5RT2UVN")),
        ("aws_access_key_id", format!("ASIA{}", "Y4MNB7VCX2ZLKJHG")),
        ("github_token", format!("ghp_{}", alnum(36))),
        ("github_token", format!("gho_{}", alnum(36))),
        (
            "github_pat",
            format!("github_pat_{}_{}", alnum(22), alnum(59)),
        ),
        ("openai_key", format!("sk-proj-{}", alnum(48))),
        ("openai_key", format!("sk-{}", alnum(48))),
        ("anthropic_key", format!("sk-ant-api03-{}AA", alnum(93))),
        (
            "slack_token",
            format!("xoxb-1234567890{}-{}", "12", alnum(24)),
        ),
        (
            "jwt",
            format!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.{}", alnum(43)),
        ),
    ]
}

fn pem() -> String {
    format!(
        "-----BEGIN {}PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIO{}\n-----END {}PRIVATE KEY-----",
        "OPENSSH ", "Xk3s9QzLw", "OPENSSH "
    )
}

fn text(r: &Redactor, s: &str) -> String {
    String::from_utf8(r.redact_text(s.as_bytes()).bytes).unwrap()
}

fn argv(r: &Redactor, a: &[&str]) -> Vec<String> {
    let refs: Vec<&[u8]> = a.iter().map(|s| s.as_bytes()).collect();
    r.redact_argv(&refs)
        .into_iter()
        .map(|x| String::from_utf8(x.bytes).unwrap())
        .collect()
}

#[test]
fn every_shape_is_found_alone_and_inside_paths_and_socket_names() {
    let r = redactor(1);
    for (rule, secret) in canaries() {
        for (place, expected_rule) in [
            (secret.clone(), rule),
            (format!("/tmp/work/{secret}/config"), rule),
            (format!("/run/user/{secret}.sock"), rule),
            (format!("@{secret}"), rule),
            (format!("echo {secret} | tool"), rule),
        ] {
            let out = text(&r, &place);
            assert!(!out.contains(&secret), "{rule} kept in {place:?}: {out}");
            let marker = r.marker(expected_rule, secret.as_bytes());
            assert!(out.contains(&marker), "{place:?} -> {out}, wanted {marker}");
        }
    }
    let key = pem();
    let out = text(&r, &format!("key: {key} end"));
    assert!(
        !out.contains("Xk3s9QzLw") && !out.contains("BEGIN"),
        "{out}"
    );
    assert!(
        out.starts_with("key: [REDACTED:private_key:") && out.ends_with("] end"),
        "{out}"
    );
    // A block cut short by the argv capture limit is redacted to its end.
    let cut = &key[..key.len() - 20];
    assert!(!text(&r, cut).contains("Xk3s9QzLw"));
}

#[test]
fn marker_is_keyed_and_stable() {
    let a = redactor(1);
    let b = redactor(2);
    let s = format!("ghp_{}", "Ab3".repeat(12));
    let one = text(&a, &format!("--x {s}"));
    assert_eq!(one, text(&a, &format!("--x {s}")));
    assert_ne!(one, text(&b, &format!("--x {s}")));
    let m = a.marker("github_token", s.as_bytes());
    assert_eq!(m.len(), "[REDACTED:github_token:]".len() + 12);
    assert!(m[23..35].bytes().all(|c| c.is_ascii_hexdigit()), "{m}");
}

#[test]
fn secret_flags_in_argv() {
    let r = redactor(1);
    let out = argv(
        &r,
        &[
            "tool",
            "--password",
            "hunter2",
            "--verbose",
            "--token=abc123",
        ],
    );
    assert_eq!(out[0], "tool");
    assert_eq!(out[1], "--password");
    assert_eq!(out[2], r.marker("secret_flag", b"hunter2"));
    assert_eq!(out[3], "--verbose");
    assert_eq!(
        out[4],
        format!("--token={}", r.marker("secret_flag", b"abc123"))
    );
    let out = argv(
        &r,
        &[
            "gh",
            "-token",
            "t0ps3cret",
            "--client-secret",
            "cs",
            "--api-key=k",
        ],
    );
    assert!(
        !out.iter()
            .any(|a| a.contains("t0ps3cret") || a == "cs" || a.ends_with("=k")),
        "{out:?}"
    );
    // A flag followed by another flag has no value to redact; reference-like flags are kept.
    let keep = [
        "docker",
        "login",
        "--password-stdin",
        "-u",
        "me",
        "--token-file",
        "/run/t",
    ];
    assert_eq!(argv(&r, &keep), keep);
    assert_eq!(
        argv(&r, &["git", "--no-password", "x"]),
        ["git", "--no-password", "x"]
    );
}

#[test]
fn program_specific_short_flags() {
    let r = redactor(1);
    let m = |s: &str| r.marker("secret_flag", s.as_bytes());
    assert_eq!(argv(&r, &["sshpass", "-p", "pw1", "ssh", "h"])[2], m("pw1"));
    assert_eq!(
        argv(&r, &["/usr/bin/mysql", "-ppw2", "db"])[1],
        format!("-p{}", m("pw2"))
    );
    assert_eq!(argv(&r, &["mysql", "-p", "db"]), ["mysql", "-p", "db"]);
    assert_eq!(argv(&r, &["redis-cli", "-a", "pw3"])[2], m("pw3"));
    assert_eq!(
        argv(&r, &["curl", "-u", "me:pw4", "u"])[2],
        format!("me:{}", m("pw4"))
    );
    assert_eq!(
        argv(&r, &["curl", "--user=me:pw5"])[1],
        format!("--user=me:{}", m("pw5"))
    );
    assert_eq!(
        argv(&r, &["openssl", "enc", "-pass", "pass:pw6"])[3],
        format!("pass:{}", m("pw6"))
    );
    assert_eq!(argv(&r, &["docker", "login", "-p", "pw7"])[3], m("pw7"));
    // -p means other things elsewhere.
    for keep in [
        &["docker", "run", "-p", "8080:80", "img"][..],
        &["mkdir", "-p", "/tmp/a"],
        &["ssh", "-p", "2222", "host"],
        &["openssl", "enc", "-pass", "env:VAR"],
        &["curl", "-u", "justuser", "u"],
    ] {
        assert_eq!(argv(&r, keep), keep);
    }
}

#[test]
fn assignments_headers_and_urls() {
    let r = redactor(1);
    let out = argv(
        &r,
        &[
            "env",
            "API_KEY=v1",
            "GITHUB_TOKEN='v2'",
            "DB_PASSWORD=v3",
            "tool",
        ],
    );
    assert_eq!(
        out[1],
        format!("API_KEY={}", r.marker("secret_assignment", b"v1"))
    );
    assert_eq!(
        out[2],
        format!("GITHUB_TOKEN='{}'", r.marker("secret_assignment", b"v2"))
    );
    assert!(!out[3].contains("v3"));
    for keep in [
        "TOKENIZERS_PARALLELISM=false",
        "TOKEN_FILE=/run/t",
        "HOME=/root",
        "KEYBOARD=us",
    ] {
        assert_eq!(text(&r, keep), keep);
    }
    let out = text(&r, "Authorization: Bearer abc.def");
    assert_eq!(
        out,
        format!(
            "Authorization: Bearer {}",
            r.marker("auth_header", b"abc.def")
        )
    );
    let out = text(&r, "Cookie: sid=s1; theme=dark");
    assert_eq!(
        out,
        format!(
            "Cookie: {}",
            r.marker("cookie_header", b"sid=s1; theme=dark")
        )
    );
    assert!(!text(&r, "x-api-key: kk99").contains("kk99"));
    let out = text(&r, "postgres://app:pa55@db.local:5432/x");
    assert_eq!(
        out,
        format!(
            "postgres://app:{}@db.local:5432/x",
            r.marker("url_password", b"pa55")
        )
    );
    for keep in [
        "https://user@host/x",
        "http://127.0.0.1:8080/a:b",
        "Authorization",
    ] {
        assert_eq!(text(&r, keep), keep);
    }
}

#[test]
fn shell_script_bodies() {
    let r = redactor(1);
    let gh = format!("ghp_{}", "Zz9".repeat(12));
    let body = format!(
        "curl -H 'Authorization: Bearer T1x' http://127.0.0.1/; env API_KEY=T2x tool --password T3x && sshpass -p T4x ssh h; mysql -pT5x db; echo {gh} > /tmp/out; docker run -p 80:80 img"
    );
    let out = argv(&r, &["sh", "-c", &body]);
    for s in ["T1x", "T2x", "T3x", "T4x", "T5x", &gh] {
        assert!(!out[2].contains(s), "{s} kept: {}", out[2]);
    }
    assert!(out[2].contains("docker run -p 80:80 img"), "{}", out[2]);
    assert!(
        out[2].contains("http://127.0.0.1/; env API_KEY="),
        "{}",
        out[2]
    );
}

#[test]
fn aws_secret_near_its_key_id() {
    let r = redactor(1);
    let id = format!("AKIA{}", "QZ7W3XMPL5RT2UVN");
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzQ1aB2c3D4";
    let out = argv(&r, &["aws-tool", &id, secret]);
    assert!(!out[2].contains(secret), "{out:?}");
    assert_eq!(out[2], r.marker("aws_secret_access_key", secret.as_bytes()));
    let out = text(&r, &format!("id={id} s={secret}"));
    assert!(!out.contains(secret), "{out}");
    // Without a key id near, a 40-character token (a commit id) is kept.
    let sha = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(
        text(&r, &format!("git checkout {sha}")),
        format!("git checkout {sha}")
    );
    assert!(text(&r, &format!("AWS_SECRET_ACCESS_KEY={secret}"))
        .starts_with("AWS_SECRET_ACCESS_KEY=[REDACTED:"));
}

#[test]
fn non_secrets_are_kept() {
    let r = redactor(1);
    for keep in [
        "--verbose",
        "token_test.go",
        "/src/pkg/token/token_test.go",
        "/home/dev/secrets.md",
        "tokenizer --vocab 30000",
        "sk-learn",
        "task-manager-service-ab12",
        "make -j4 -k",
        "ls -la /etc",
        "git commit -m 'rotate the password'",
        "xoxo",
        "eyJ.short",
        "-----BEGIN PUBLIC KEY-----",
        "/tmp/.X11-unix/X0",
        "@/tmp/dbus-abc",
    ] {
        assert_eq!(text(&r, keep), keep);
    }
}

#[test]
fn redacting_twice_changes_nothing_more() {
    let r = redactor(3);
    for (_, s) in canaries() {
        let once = text(&r, &format!("x --password {s} API_KEY={s}"));
        assert_eq!(text(&r, &once), once);
    }
}

#[test]
fn rules_file_adds_patterns_and_allows_names() {
    let toml = r#"
        allow_names = ["DEPLOY_TOKEN", "--session-token"]
        secret_names = ["MY_PIN"]
        allow_values = ["dummy"]
        [[pattern]]
        name = "corp_ticket"
        regex = "corp_[a-z0-9]{12}"
    "#;
    let rules = Rules::from_toml(toml).unwrap();
    assert_ne!(rules.digest(), Rules::builtin().unwrap().digest());
    let r = Redactor::new(rules, RedactionKey::from_bytes([1; KEY_LEN]));
    assert_eq!(text(&r, "DEPLOY_TOKEN=abc"), "DEPLOY_TOKEN=abc");
    assert_eq!(
        argv(&r, &["x", "--session-token", "v"]),
        ["x", "--session-token", "v"]
    );
    assert!(!text(&r, "MY_PIN=1234").contains("1234"));
    assert_eq!(text(&r, "API_KEY=dummy"), "API_KEY=dummy");
    assert_eq!(
        text(&r, "/tmp/corp_abcdef123456/x"),
        format!("/tmp/{}/x", r.marker("corp_ticket", b"corp_abcdef123456"))
    );
    for (bad, says) in [
        (
            "[[pattern]]\nname = \"x\"\nregex = \"(\"",
            "does not compile",
        ),
        (
            "[[pattern]]\nname = \"Bad Name\"\nregex = \"x\"",
            "lowercase",
        ),
        ("allow = []", "unknown field"),
    ] {
        let err = Rules::from_toml(bad).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
    }
    assert_eq!(
        Rules::builtin().unwrap().digest(),
        Rules::builtin().unwrap().digest()
    );
}

#[test]
fn home_as_tilde() {
    let r = redactor(1).with_home(Some(b"/home/ann/"));
    let t = |s: &str| String::from_utf8(r.redact_text(s.as_bytes()).bytes).unwrap();
    assert_eq!(t("/home/ann"), "~");
    assert_eq!(t("/home/ann/src/x.rs"), "~/src/x.rs");
    assert_eq!(
        t("--out=/home/ann/o PATH=/home/ann/bin:/usr/bin"),
        "--out=~/o PATH=~/bin:/usr/bin"
    );
    for keep in ["/home/anna/x", "/x/home/ann/y", "/home/annex"] {
        assert_eq!(t(keep), keep);
    }
    assert_eq!(r.redact_text(b"/home/ann/a /home/ann/b").home_paths, 2);
}

//! Properties: ordinary command lines and paths come back unchanged, secrets of every shape
//! never survive whatever surrounds them, and the marker depends only on the secret and the key.

use glasshouse_redact::{RedactionKey, Redactor, Rules, KEY_LEN};
use proptest::prelude::*;
use std::sync::OnceLock;

fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| {
        Redactor::new(
            Rules::builtin().unwrap(),
            RedactionKey::from_bytes([9; KEY_LEN]),
        )
    })
}

fn other_key_redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| {
        Redactor::new(
            Rules::builtin().unwrap(),
            RedactionKey::from_bytes([8; KEY_LEN]),
        )
    })
}

/// Words of ordinary commands: options, paths, file names that merely mention secrets.
fn ordinary_word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_.]{0,12}",
        "(/[a-z0-9_.]{1,8}){1,4}",
        Just("--verbose".to_owned()),
        Just("-p".to_owned()),
        Just("-v".to_owned()),
        Just("--output".to_owned()),
        Just("token_test.go".to_owned()),
        Just("/src/auth/password_reset.rs".to_owned()),
        Just("secret_santa.txt".to_owned()),
        Just("KEY=value".to_owned()),
        Just("-j8".to_owned()),
        Just("http://127.0.0.1:8080/x".to_owned()),
    ]
}

/// Secrets of every shape the rules know, with random bodies.
fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z2-7]{16}".prop_map(|s| format!("AKIA{s}")),
        "[A-Za-z0-9]{36}".prop_map(|s| format!("ghp_{s}")),
        "[A-Za-z0-9]{36}".prop_map(|s| format!("gho_{s}")),
        "[A-Za-z0-9_]{82}".prop_map(|s| format!("github_pat_{s}")),
        "[A-Za-z0-9_-]{40}[0-9]".prop_map(|s| format!("sk-proj-{s}")),
        "[A-Za-z0-9_-]{90}".prop_map(|s| format!("sk-ant-api03-{s}")),
        "[0-9]{12}-[A-Za-z0-9]{24}".prop_map(|s| format!("xoxb-{s}")),
        ("[A-Za-z0-9_-]{20}", "[A-Za-z0-9_-]{30}")
            .prop_map(|(a, b)| format!("eyJhbGciOiJIUzI1NiJ9.eyJ{a}.{b}")),
    ]
}

/// A secret in one of the places a command shows it.
fn placed(secret: String, how: u8, word: String) -> Vec<String> {
    match how % 7 {
        0 => vec!["tool".into(), "--token".into(), secret],
        1 => vec!["env".into(), format!("API_KEY={secret}"), word],
        2 => vec![
            "sh".into(),
            "-c".into(),
            format!("{word} --password {secret}; true"),
        ],
        3 => vec!["cat".into(), format!("/tmp/{word}/{secret}/f")],
        4 => vec!["nc".into(), "-U".into(), format!("/run/{secret}.sock")],
        5 => vec![
            "curl".into(),
            "-H".into(),
            format!("Authorization: Bearer {secret}"),
        ],
        _ => vec![word, secret],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn ordinary_command_lines_are_kept(words in proptest::collection::vec(ordinary_word(), 1..8)) {
        let r = redactor();
        let refs: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        for (out, word) in r.redact_argv(&refs).iter().zip(&words) {
            prop_assert_eq!(&out.bytes, word.as_bytes());
        }
        let line = words.join(" ");
        prop_assert_eq!(r.redact_text(line.as_bytes()).bytes, line.as_bytes());
    }

    #[test]
    fn secrets_never_survive(s in secret(), how in any::<u8>(), word in ordinary_word()) {
        let r = redactor();
        let argv = placed(s.clone(), how, word);
        let refs: Vec<&[u8]> = argv.iter().map(|w| w.as_bytes()).collect();
        let out = r.redact_argv(&refs);
        let total: u64 = out.iter().map(|o| o.secrets).sum();
        prop_assert!(total >= 1);
        for o in &out {
            let text = String::from_utf8_lossy(&o.bytes);
            prop_assert!(!text.contains(&s), "{} kept in {:?}", s, text);
        }
        // The command line as one text (the legacy `cmd` field) loses it too.
        let joined = argv.join(" ");
        let text = String::from_utf8(r.redact_text(joined.as_bytes()).bytes).unwrap();
        prop_assert!(!text.contains(&s), "{} kept in {:?}", s, text);
    }

    #[test]
    fn same_secret_same_marker_other_key_other_marker(s in secret()) {
        let a = redactor();
        let b = other_key_redactor();
        let one = a.redact_text(format!("x {s}").as_bytes()).bytes;
        let two = a.redact_text(format!("x {s}").as_bytes()).bytes;
        let other = b.redact_text(format!("x {s}").as_bytes()).bytes;
        prop_assert_eq!(&one, &two);
        prop_assert_ne!(&one, &other);
    }

    #[test]
    fn any_bytes_are_safe_to_redact(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let r = redactor();
        let once = r.redact_text(&bytes);
        if once.secrets == 0 {
            prop_assert_eq!(&once.bytes, &bytes);
        }
        prop_assert_eq!(r.redact_text(&once.bytes).bytes, once.bytes);
    }
}

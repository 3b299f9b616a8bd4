//! Property tests: evaluation is deterministic, blind to the order and repetition of receipt
//! entries, survives a JSON round trip of the receipt, and no input makes the parser or the
//! matcher panic.

mod common;

use common::{attempt, process, receipt};
use glasshouse_policy::{Action, Context, Policy};
use glasshouse_receipt::{OsText, Receipt};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

const CODING_AGENT: &[u8] = include_bytes!("../../../examples/policies/coding-agent.toml");
const CI_JOB: &[u8] = include_bytes!("../../../examples/policies/ci-job.toml");
const MIXED: &str = r#"
version = 1
default = "deny"

[[rule]]
effect = "allow"
action = "read"
target = "**"

[[rule]]
effect = "deny"
action = "read"
target = "${HOME}/.*/**"
reason = "dot directories"

[[rule]]
effect = "allow"
action = "write"
target = "${CWD}/**"

[[rule]]
effect = "deny"
action = "write"
target = "*.[ch]"
reason = "no C"

[[rule]]
effect = "allow"
action = "delete"
target = "/tmp/?*"

[[rule]]
effect = "allow"
action = "exec"
target = "/usr/**"

[[rule]]
effect = "allow"
action = "connect"
target = "10.0.0.0/8:1-1024"

[[rule]]
effect = "allow"
action = "connect"
target = "[fd00::/8]"

[[rule]]
effect = "deny"
action = "connect"
target = "*:53"
reason = "no DNS"

[[rule]]
effect = "allow"
action = "connect"
target = "@*"
"#;

fn policies() -> Vec<Policy> {
    vec![
        Policy::parse(CODING_AGENT, "coding-agent.toml").unwrap(),
        Policy::parse(CI_JOB, "ci-job.toml").unwrap(),
        Policy::parse(MIXED.as_bytes(), "mixed.toml").unwrap(),
    ]
}

/// Paths that hit the policies' rules, made-up paths, and paths that are not UTF-8.
fn path() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        select(vec![
            "/home/ada/.ssh/id_rsa",
            "/home/ada/.aws/credentials",
            "/home/ada/.cache/x",
            "/work/src/main.rs",
            "/work/.env",
            "/work/lib.c",
            "/tmp/x",
            "/tmp",
            "/etc/passwd",
            "/usr/bin/curl",
            "/usr/bin/nc.openbsd",
            "/usr/bin/ls",
            "/proc/1/environ",
            "/",
        ])
        .prop_map(|p| p.as_bytes().to_vec()),
        vec("[a-z.]{1,5}|\\.env|\\.ssh|work|home|ada", 1..5).prop_map(|s| format!(
            "/{}",
            s.join("/")
        )
        .into_bytes()),
        vec(any::<u8>(), 0..10).prop_map(|tail| [b"/work/".as_slice(), &tail].concat()),
    ]
}

/// Network destinations of every kind a receipt records.
fn destination() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "127.0.0.53:53",
            "[::1]:8080",
            "10.1.2.3:443",
            "10.1.2.3:5000",
            "169.254.169.254:80",
            "[fd00:ec2::254]:80",
            "[::ffff:10.0.0.1]:22",
            "/run/docker.sock",
            "/tmp/t.sock",
            "@bus",
            "weird",
        ])
        .prop_map(str::to_owned),
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((
            Ipv4Addr::from(ip),
            port
        ))
        .to_string()),
        (any::<[u16; 8]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((
            Ipv6Addr::from(ip),
            port
        ))
        .to_string()),
    ]
}

/// The parts of a receipt that a policy looks at.
#[derive(Debug, Clone)]
struct Parts {
    processes: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    reads: Vec<Vec<u8>>,
    writes: Vec<Vec<u8>>,
    deletes: Vec<Vec<u8>>,
    destinations: Vec<String>,
    cwd: Option<&'static str>,
    home: Option<&'static str>,
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        vec((path(), vec(path(), 0..2)), 0..5),
        vec(path(), 0..8),
        vec(path(), 0..8),
        vec(path(), 0..4),
        vec(destination(), 0..8),
        proptest::option::of(select(vec!["/work", "/", "/work/"])),
        proptest::option::of(select(vec!["/home/ada", "/home/ada/", ""])),
    )
        .prop_map(
            |(processes, reads, writes, deletes, destinations, cwd, home)| Parts {
                processes,
                reads,
                writes,
                deletes,
                destinations,
                cwd,
                home,
            },
        )
}

/// The same parts with every list shuffled and its first entry repeated at the end.
fn reordered(parts: Parts) -> impl Strategy<Value = Parts> {
    fn repeat_first<T: Clone>(mut list: Vec<T>) -> Vec<T> {
        if let Some(first) = list.first().cloned() {
            list.push(first);
        }
        list
    }
    (
        Just(parts.processes.clone()).prop_shuffle(),
        Just(parts.reads.clone()).prop_shuffle(),
        Just(parts.writes.clone()).prop_shuffle(),
        Just(parts.deletes.clone()).prop_shuffle(),
        Just(parts.destinations.clone()).prop_shuffle(),
    )
        .prop_map(
            move |(processes, reads, writes, deletes, destinations)| Parts {
                processes: repeat_first(processes),
                reads: repeat_first(reads),
                writes: repeat_first(writes),
                deletes: repeat_first(deletes),
                destinations: repeat_first(destinations),
                ..parts.clone()
            },
        )
}

fn build(parts: &Parts) -> Receipt {
    let mut r = receipt();
    r.environment.working_dir = parts.cwd.map(OsText::from);
    r.environment.home = parts.home.map(OsText::from);
    r.process_tree = parts
        .processes
        .iter()
        .enumerate()
        .map(|(i, (exe, earlier))| {
            let earlier: Vec<&[u8]> = earlier.iter().map(Vec::as_slice).collect();
            process(100 + i as u32, exe, &earlier)
        })
        .collect();
    let texts = |list: &[Vec<u8>]| list.iter().map(|p| OsText::from_bytes(p.clone())).collect();
    r.filesystem.reads = texts(&parts.reads);
    r.filesystem.writes = texts(&parts.writes);
    r.filesystem.deletes = texts(&parts.deletes);
    r.network.attempts = parts
        .destinations
        .iter()
        .map(|d| attempt(d, "tcp"))
        .collect();
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn order_and_repetition_of_entries_do_not_matter(
        (original, shuffled) in parts().prop_flat_map(|p| (Just(p.clone()), reordered(p)))
    ) {
        let (a, b) = (build(&original), build(&shuffled));
        for policy in policies() {
            let (va, vb) = (policy.evaluate(&a), policy.evaluate(&b));
            prop_assert_eq!(serde_json::to_string(&va).unwrap(), serde_json::to_string(&vb).unwrap());
        }
    }

    #[test]
    fn a_json_round_trip_of_the_receipt_gives_the_same_verdict(parts in parts()) {
        let r = build(&parts);
        let back = Receipt::from_json(&r.to_json().unwrap()).unwrap();
        for policy in policies() {
            prop_assert_eq!(policy.evaluate(&r), policy.evaluate(&back));
        }
    }

    #[test]
    fn evaluation_is_deterministic(parts in parts()) {
        let r = build(&parts);
        let first: Vec<String> = policies().iter().map(|p| serde_json::to_string(&p.evaluate(&r)).unwrap()).collect();
        let again: Vec<String> = policies().iter().map(|p| serde_json::to_string(&p.evaluate(&r)).unwrap()).collect();
        prop_assert_eq!(first, again);
    }

    #[test]
    fn verdicts_are_sorted_and_unique(parts in parts()) {
        let r = build(&parts);
        for policy in policies() {
            let v = policy.evaluate(&r);
            prop_assert!(v.violations.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(v.passed(), v.violations.is_empty());
        }
    }

    #[test]
    fn arbitrary_patterns_never_panic(
        pattern in "[/*?\\[\\]!^a-c${}\\\\.é-]{0,16}",
        subject in vec(any::<u8>(), 0..24),
        action in select(Action::ALL.to_vec()),
    ) {
        let text = format!(
            "version = 1\ndefault = \"allow\"\n[[rule]]\neffect = \"deny\"\naction = \"{action}\"\ntarget = '{pattern}'\nreason = \"r\"\n"
        );
        if let Ok(policy) = Policy::parse(text.as_bytes(), "p.toml") {
            let context = Context::new(Some("/work".into()), Some("/home/ada".into()));
            let _ = policy.decide(action, &subject, &context);
            let _ = policy.explain(action, &subject, &context);
        }
    }

    #[test]
    fn an_escaped_path_matches_exactly_itself(segments in vec("[a-c*?\\[\\]\\\\]{1,4}", 1..4)) {
        let path = format!("/{}", segments.join("/"));
        let escaped: String = path
            .chars()
            .flat_map(|c| if "*?[]\\".contains(c) { vec!['\\', c] } else { vec![c] })
            .collect();
        let text = format!(
            "version = 1\ndefault = \"allow\"\n[[rule]]\neffect = \"deny\"\naction = \"read\"\ntarget = '{escaped}'\nreason = \"r\"\n"
        );
        let policy = Policy::parse(text.as_bytes(), "p.toml").unwrap();
        let context = Context::default();
        prop_assert_eq!(policy.decide(Action::Read, path.as_bytes(), &context).rule, "rule[1]");
        let longer = format!("{path}x");
        prop_assert_eq!(policy.decide(Action::Read, longer.as_bytes(), &context).rule, "default");
    }

    #[test]
    fn arbitrary_text_never_panics_the_parser(text in "(version|default|rule|\\[|\\]|=|\"|'|\\n| |1|deny|allow|target|\\*|/|\\{|\\}|,|\\.)*") {
        let _ = Policy::parse(text.as_bytes(), "p.toml");
    }
}

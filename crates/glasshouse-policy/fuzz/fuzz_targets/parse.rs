//! Fuzz target: for any bytes the policy parser returns a policy or a located error, never a
//! panic; parsing is deterministic; and an accepted policy evaluates and explains without panic.

#![no_main]

use glasshouse_policy::{Action, Context, Policy};
use glasshouse_receipt::{OsText, Provenance, Receipt};
use libfuzzer_sys::fuzz_target;

/// Targets of every shape the matchers see: paths, odd bytes, inet and unix destinations.
const TARGETS: &[&[u8]] = &[
    b"/work/src/main.rs",
    b"/home/u/.ssh/id_ed25519",
    b"/usr/bin/curl",
    b"/",
    b"",
    b"/data/\xff\xfe",
    b"127.0.0.1:80",
    b"[::1]:443",
    b"[::ffff:10.0.0.1]:22",
    b"/run/docker.sock",
    b"@abstract",
];

fuzz_target!(|data: &[u8]| {
    let policy = match Policy::parse(data, "fuzz.toml") {
        Ok(policy) => policy,
        Err(error) => {
            assert!(error.line >= 1 && error.column >= 1);
            assert!(!error.to_string().contains('\n'));
            return;
        }
    };
    assert_eq!(Policy::parse(data, "fuzz.toml").ok(), Some(policy.clone()));

    let context = Context::new(Some(OsText::from("/work")), Some(OsText::from("/home/u")));
    for action in Action::ALL {
        for target in TARGETS {
            let explanation = policy.explain(action, target, &context);
            assert_eq!(
                explanation.decision,
                policy.decide(action, target, &context)
            );
        }
    }

    let mut receipt = Receipt::new(String::new(), Provenance::Host, String::new());
    receipt.environment.working_dir = Some(OsText::from("/work"));
    receipt.filesystem.reads = TARGETS.iter().map(|t| OsText::from_bytes(*t)).collect();
    receipt.filesystem.writes = receipt.filesystem.reads.clone();
    let verdict = policy.evaluate(&receipt);
    assert_eq!(verdict.passed(), verdict.violations.is_empty());
});

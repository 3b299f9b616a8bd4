//! Redaction throughput on a synthetic receipt (run by bench/redact.sh, in release mode):
//! N file paths shaped like a build's (library paths with dashes, a few secrets among them) and
//! N/10 processes with ordinary argv, redacted as `glasshouse run` does. Prints the CPU time per
//! string (from /proc/self/schedstat, so a busy machine does not inflate it) and the peak RSS.

use glasshouse_receipt::{OsText, ProcessNode, Provenance, Receipt};
use glasshouse_redact::{RedactionKey, Redactor, Rules, KEY_LEN};
use std::time::Instant;

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Nanoseconds this process has run on a CPU (the machine may be busy: wall time is not cost).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut r = Receipt::new("id".into(), Provenance::Host, "t".into());
    for i in 0..n {
        let path = match i % 1000 {
            0 => format!("/tmp/build-{i}/ghp_{:036}/token_test.go", i),
            _ => format!(
                "/usr/lib/x86_64-linux-gnu/lib-part-{}/module_{i}.so.1.2",
                i % 97
            ),
        };
        r.filesystem.reads.push(OsText::from(path));
    }
    for i in 0..n / 10 {
        let mut p = ProcessNode::default();
        p.pid = i as u32;
        p.argv = [
            "cc",
            "-O2",
            "-c",
            "-o",
            "out.o",
            "-I/usr/include/x86_64-linux-gnu",
            "src/file.c",
        ]
        .iter()
        .map(|a| OsText::from(*a))
        .collect();
        r.process_tree.push(p);
    }
    r.fill_legacy();
    let strings = n + n / 10 * 8;
    let rss_before = peak_rss_kb();
    let redactor = Redactor::new(
        Rules::builtin().unwrap(),
        RedactionKey::from_bytes([1; KEY_LEN]),
    );
    let start = Instant::now();
    let cpu_start = cpu_ns();
    redactor.redact_receipt(&mut r).unwrap();
    let cpu = cpu_ns() - cpu_start;
    let took = start.elapsed();
    let report = r.redaction.as_ref().unwrap();
    println!(
        "redact: {n} paths + {} processes ({strings} strings): {:.3} s on CPU = {:.0} ns per string ({:.3} s wall); {} secrets; peak RSS {} MiB before, {} MiB after",
        n / 10,
        cpu as f64 / 1e9,
        cpu as f64 / strings as f64,
        took.as_secs_f64(),
        report.values_redacted,
        rss_before / 1024,
        peak_rss_kb() / 1024,
    );
}

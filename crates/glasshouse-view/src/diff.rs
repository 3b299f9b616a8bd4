//! `glasshouse diff`: what one run did that another did not, and the reverse, after removing
//! what differs between any two runs (ids, times, pids, temporary names: see [`crate::volatile`]).
//! The intended use is a CI gate: a baseline receipt of a known-good agent task against today's
//! run of it.

use crate::volatile::normalize_path;
use glasshouse_receipt::{OsText, Receipt};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// When a count is reported as changed: by at least this factor...
pub const COUNT_RATIO: u64 = 2;
/// ...and by at least this much.
pub const COUNT_MIN_CHANGE: u64 = 100;

/// What to compare.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiffOptions {
    /// Leave counts (system calls, bytes, processes) out of the comparison.
    pub ignore_counts: bool,
}

/// Entries only in the new run (`added`) and only in the old one (`removed`), sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SetChange {
    /// Only in the new run.
    pub added: Vec<String>,
    /// Only in the old run.
    pub removed: Vec<String>,
}

impl SetChange {
    fn between(old: BTreeSet<String>, new: BTreeSet<String>) -> Self {
        Self {
            added: new.difference(&old).cloned().collect(),
            removed: old.difference(&new).cloned().collect(),
        }
    }

    /// Nothing added or removed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// A value that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change<T> {
    /// In the old run.
    pub old: T,
    /// In the new run.
    pub new: T,
}

/// A count that changed a lot ([`COUNT_RATIO`], [`COUNT_MIN_CHANGE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountChange {
    /// What is counted: `syscalls.openat`, `network.bytes_sent`, `processes`, ...
    pub name: String,
    /// In the old run.
    pub old: u64,
    /// In the new run.
    pub new: u64,
}

/// File paths by action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileChanges {
    /// `filesystem.reads`.
    pub read: SetChange,
    /// `filesystem.writes`.
    pub write: SetChange,
    /// `filesystem.deletes`.
    pub delete: SetChange,
}

/// Everything that differs between two receipts. Its JSON form is what `diff --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Nothing below differs.
    pub same: bool,
    /// How the command ended (`exit 0`, `signal 9`, `error: ...`), when it changed.
    pub outcome: Option<Change<String>>,
    /// Sensor coverage (`complete`, or `incomplete: ...`), when it changed.
    pub coverage: Option<Change<String>>,
    /// Whether the command ran as root (`root`) or not (`not root`), when it changed; compared
    /// only when both receipts recorded the command's user (uids differ between machines, so
    /// only the privilege is compared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privilege: Option<Change<String>>,
    /// Executables run (`process_tree[].exe` and every exec'd image).
    pub executables: SetChange,
    /// Files read, written and deleted.
    pub files: FileChanges,
    /// Network destinations: `PROTOCOL DST RESULT`.
    pub network: SetChange,
    /// Failed operations: `SYSCALL ERRNO-NAME TARGET`.
    pub failures: SetChange,
    /// Policy violations: `ACTION TARGET RULE`.
    pub violations: SetChange,
    /// Counts that changed a lot.
    pub counts: Vec<CountChange>,
}

fn text(t: &OsText) -> String {
    normalize_path(&t.display_lossy()).into_owned()
}

fn paths(list: &[OsText]) -> BTreeSet<String> {
    list.iter()
        .filter(|p| !p.as_bytes().is_empty())
        .map(text)
        .collect()
}

fn executables(r: &Receipt) -> BTreeSet<String> {
    r.process_tree
        .iter()
        .flat_map(|p| std::iter::once(&p.exe).chain(p.execs.iter().map(|e| &e.exe)))
        .filter(|exe| !exe.as_bytes().is_empty())
        .map(text)
        .collect()
}

fn destinations(r: &Receipt) -> BTreeSet<String> {
    r.network
        .attempts
        .iter()
        .map(|a| format!("{} {} {}", a.protocol, text(&a.dst), a.result))
        .collect()
}

fn failures(r: &Receipt) -> BTreeSet<String> {
    r.filesystem
        .failed
        .iter()
        .chain(&r.syscalls.denied)
        .map(|f| {
            let target = f.target.as_ref().map(text).unwrap_or_default();
            format!("{} {} {target}", f.syscall, f.error)
                .trim_end()
                .to_owned()
        })
        .collect()
}

fn violations(r: &Receipt) -> BTreeSet<String> {
    r.policy
        .iter()
        .flat_map(|p| &p.violations)
        .map(|v| format!("{} {} {}", v.action, normalize_path(&v.target), v.rule))
        .collect()
}

/// How the command ended, in one word or two.
pub fn outcome(r: &Receipt) -> String {
    let o = &r.outcome;
    match (o.exit_code, o.signal, &o.error) {
        (_, _, Some(error)) => format!("error: {error}"),
        (_, Some(signal), _) => format!("signal {signal}"),
        (Some(code), _, _) => format!("exit {code}"),
        (None, None, None) => "unknown".to_owned(),
    }
}

/// `root` or `not root`, when the receipt recorded the command's user.
fn privilege(r: &Receipt) -> Option<&'static str> {
    r.execution
        .user
        .as_ref()
        .map(|u| if u.uid == 0 { "root" } else { "not root" })
}

/// Sensor coverage in one line; event counts are left out (they are counts, compared as such).
pub fn coverage(r: &Receipt) -> String {
    let Some(sensor) = &r.sensor else {
        return "not recorded".to_owned();
    };
    if sensor.complete {
        return "complete".to_owned();
    }
    let mut why = Vec::new();
    if sensor.events_lost > 0 {
        why.push("events lost".to_owned());
    }
    let detached: Vec<&str> = sensor
        .hooks
        .iter()
        .filter(|h| !h.attached)
        .map(|h| h.name.as_str())
        .collect();
    if !detached.is_empty() {
        why.push(format!("not attached: {}", detached.join(", ")));
    }
    if !sensor.truncated.is_empty() {
        why.push("values cut short".to_owned());
    }
    if why.is_empty() {
        "incomplete".to_owned()
    } else {
        format!("incomplete: {}", why.join("; "))
    }
}

fn counts(r: &Receipt) -> BTreeMap<String, u64> {
    let mut c: BTreeMap<String, u64> = r
        .syscalls
        .counts
        .iter()
        .map(|(name, n)| (format!("syscalls.{name}"), *n))
        .collect();
    c.extend(
        r.syscalls
            .io_uring
            .iter()
            .map(|(name, n)| (format!("io_uring.{name}"), *n)),
    );
    c.insert("processes".into(), r.process_tree.len() as u64);
    c.insert("network.bytes_sent".into(), r.network.bytes_sent);
    c.insert("network.bytes_received".into(), r.network.bytes_received);
    c.insert("artifacts.stdout_bytes".into(), r.artifacts.stdout_bytes);
    c.insert("artifacts.stderr_bytes".into(), r.artifacts.stderr_bytes);
    if let Some(sensor) = &r.sensor {
        c.insert("sensor.events_lost".into(), sensor.events_lost);
    }
    c
}

/// Whether `old` → `new` is a large change.
pub fn large_change(old: u64, new: u64) -> bool {
    let (low, high) = (old.min(new), old.max(new));
    high - low >= COUNT_MIN_CHANGE && high >= low.saturating_mul(COUNT_RATIO)
}

fn changed<T: PartialEq>(old: T, new: T) -> Option<Change<T>> {
    (old != new).then_some(Change { old, new })
}

impl Diff {
    /// Compares two receipts.
    pub fn between(old: &Receipt, new: &Receipt, options: &DiffOptions) -> Self {
        let mut count_changes = Vec::new();
        if !options.ignore_counts {
            let (a, b) = (counts(old), counts(new));
            let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for name in names {
                let (o, n) = (
                    a.get(name).copied().unwrap_or(0),
                    b.get(name).copied().unwrap_or(0),
                );
                if large_change(o, n) {
                    count_changes.push(CountChange {
                        name: name.clone(),
                        old: o,
                        new: n,
                    });
                }
            }
        }
        let (fo, fnew) = (&old.filesystem, &new.filesystem);
        let mut diff = Self {
            same: false,
            outcome: changed(outcome(old), outcome(new)),
            coverage: changed(coverage(old), coverage(new)),
            privilege: match (privilege(old), privilege(new)) {
                (Some(o), Some(n)) => changed(o.to_owned(), n.to_owned()),
                _ => None,
            },
            executables: SetChange::between(executables(old), executables(new)),
            files: FileChanges {
                read: SetChange::between(paths(&fo.reads), paths(&fnew.reads)),
                write: SetChange::between(paths(&fo.writes), paths(&fnew.writes)),
                delete: SetChange::between(paths(&fo.deletes), paths(&fnew.deletes)),
            },
            network: SetChange::between(destinations(old), destinations(new)),
            failures: SetChange::between(failures(old), failures(new)),
            violations: SetChange::between(violations(old), violations(new)),
            counts: count_changes,
        };
        diff.same = diff.differences() == 0;
        diff
    }

    /// How many things differ: each entry added or removed, each changed value, each count.
    pub fn differences(&self) -> usize {
        let sets = [
            &self.executables,
            &self.files.read,
            &self.files.write,
            &self.files.delete,
            &self.network,
            &self.failures,
            &self.violations,
        ];
        sets.iter()
            .map(|s| s.added.len() + s.removed.len())
            .sum::<usize>()
            + usize::from(self.outcome.is_some())
            + usize::from(self.coverage.is_some())
            + usize::from(self.privilege.is_some())
            + self.counts.len()
    }

    /// The text view ([`crate::diff_text`]).
    pub fn render(&self, options: &crate::diff_text::RenderOptions) -> String {
        crate::diff_text::render(self, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_changes_need_both_the_ratio_and_the_amount() {
        assert!(!large_change(10, 19));
        assert!(!large_change(10, 90)); // 9x but only 80 more
        assert!(large_change(0, 100));
        assert!(large_change(1000, 2000));
        assert!(!large_change(1000, 1999));
        assert!(large_change(5000, 100));
    }
}

//! `glasshouse show`: a receipt as a person reads it in ten seconds. What can make the receipt
//! untrustworthy (coverage) or the run unacceptable (policy violations) comes first; then the
//! process tree, files by directory, network destinations, how an enforced policy was applied
//! and failures by errno. Long lists are folded with a count of what is hidden;
//! [`ShowOptions::all`] unfolds them.

use crate::fold::{by_directory, cut, plural, split};
use crate::style::Style;
use glasshouse_receipt::{FailedOperation, ProcessNode, Receipt};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Directories listed before folding.
pub const DIRECTORIES: usize = 10;
/// Files listed per directory before folding.
pub const FILES_PER_DIRECTORY: usize = 4;
/// Processes listed before folding.
pub const PROCESSES: usize = 25;
/// Characters of a command line shown before folding.
pub const ARGV_CHARS: usize = 100;
/// Network destinations listed before folding.
pub const DESTINATIONS: usize = 12;
/// Targets named per errno before folding.
pub const TARGETS_PER_ERRNO: usize = 3;

/// How to render.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShowOptions {
    /// Unfold every list.
    pub all: bool,
    /// Colors or plain text.
    pub style: Style,
}

impl ShowOptions {
    pub(crate) fn limit(&self, n: usize) -> Option<usize> {
        (!self.all).then_some(n)
    }
}

/// The whole view, ending with a newline.
pub fn render(r: &Receipt, options: &ShowOptions) -> String {
    let mut out = String::new();
    header(&mut out, r, options.style);
    problems(&mut out, r, options.style);
    processes(&mut out, r, options);
    files(&mut out, r, options);
    network(&mut out, r, options);
    crate::enforcement::section(&mut out, r, options);
    failures(&mut out, r, options);
    if !options.all && out.contains('…') {
        let _ = writeln!(
            out,
            "{}",
            options.style.dim("(folded: --all unfolds every list)")
        );
    }
    out
}

fn header(out: &mut String, r: &Receipt, s: Style) {
    let _ = writeln!(
        out,
        "{} {} · {} · {} · {}",
        s.head("glasshouse receipt"),
        r.version,
        r.provenance.as_str(),
        r.timestamp,
        r.execution_id
    );
    let root = root_process(r);
    let command = root.map_or_else(|| "(no process recorded)".to_owned(), command_line);
    let _ = writeln!(
        out,
        "  command   {}",
        fold_chars(&command, Some(ARGV_CHARS))
    );
    let _ = writeln!(out, "  user      {}", user_line(r));
    let o = &r.outcome;
    let ended = match (o.exit_code, o.signal, &o.error) {
        (_, _, Some(error)) => s.bad(format!("error: {error}")),
        (_, Some(signal), _) => s.bad(format!("killed by signal {signal}")),
        (Some(0), _, _) => s.good("exit 0"),
        (Some(code), _, _) => s.warn(format!("exit {code}")),
        (None, None, None) => s.warn("unknown"),
    };
    let _ = writeln!(
        out,
        "  outcome   {ended} after {} (cpu {}, peak rss {} KiB)",
        seconds(r.timing.duration_ms),
        seconds(r.timing.cpu_time_ms),
        r.resources.max_rss_kb
    );
    let fs = &r.filesystem;
    let _ = writeln!(
        out,
        "  activity  {}, {} read, {} written, {} deleted, {}, {}",
        plural(r.process_tree.len(), "process", "processes"),
        fs.reads.len(),
        fs.writes.len(),
        fs.deletes.len(),
        plural(r.network.attempts.len(), "destination", "destinations"),
        plural(failed_total(r), "failure", "failures"),
    );
}

/// Who the command ran as: its recorded user (name, ids, how it was chosen); for a receipt from
/// before that was recorded, only its `HOME`.
fn user_line(r: &Receipt) -> String {
    let Some(u) = &r.execution.user else {
        return r
            .environment
            .home
            .as_ref()
            .map_or_else(|| "(not recorded)".to_owned(), |h| format!("HOME {h}"));
    };
    let groups: Vec<String> = u.groups.iter().map(u32::to_string).collect();
    let name = u
        .name
        .as_ref()
        .map_or_else(|| format!("uid {}", u.uid), ToString::to_string);
    let home = r
        .environment
        .home
        .as_ref()
        .map_or_else(String::new, |h| format!(", HOME {h}"));
    format!(
        "{name} (uid {}, gid {}, groups {}; {}){home}",
        u.uid,
        u.gid,
        if groups.is_empty() {
            "none".to_owned()
        } else {
            groups.join(",")
        },
        match u.source.as_str() {
            "sudo" => "the user who ran sudo",
            "--user" => "chosen with --user",
            "caller" => "glasshouse's own user",
            other => other,
        }
    )
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

/// Coverage and policy: the two things that decide whether the rest can be trusted or accepted;
/// and a root command, which could have falsified both.
fn problems(out: &mut String, r: &Receipt, s: Style) {
    if r.sensor.as_ref().is_some_and(|c| c.command_privileged) {
        let _ = writeln!(
            out,
            "  privilege {}",
            s.warn("the command ran as root: it could have tampered with the sensor and hidden some of what it did")
        );
    }
    match &r.sensor {
        None => {
            let _ = writeln!(
                out,
                "  coverage  {}",
                s.warn("not recorded (a receipt without a sensor section: every list may be incomplete)")
            );
        }
        Some(sensor) if sensor.complete => {
            let _ = writeln!(
                out,
                "  coverage  {} ({} attached, no event lost)",
                s.good("complete"),
                plural(sensor.hooks.len(), "hook", "hooks")
            );
        }
        Some(sensor) => {
            let mut why = Vec::new();
            if sensor.events_lost > 0 {
                let by_hook: Vec<String> = sensor
                    .lost_by_hook
                    .iter()
                    .map(|(hook, n)| format!("{hook} {n}"))
                    .collect();
                let detail = if by_hook.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", by_hook.join(", "))
                };
                why.push(format!("{} events lost{detail}", sensor.events_lost));
            }
            let detached: Vec<String> = sensor
                .hooks
                .iter()
                .filter(|h| !h.attached)
                .map(|h| match &h.error {
                    Some(e) => format!("{}: {e}", h.name),
                    None => h.name.clone(),
                })
                .collect();
            if !detached.is_empty() {
                why.push(format!("not attached: {}", detached.join("; ")));
            }
            if !sensor.truncated.is_empty() {
                why.push(format!("{} cut short", sensor.truncated.len()));
            }
            let reason = if why.is_empty() {
                String::new()
            } else {
                format!(": {}", why.join("; "))
            };
            let _ = writeln!(
                out,
                "  coverage  {}",
                s.bad(format!("INCOMPLETE{reason} (empty lists prove nothing)"))
            );
        }
    }
    if let Some(sensor) = &r.sensor {
        if !sensor.argv_capture.captured {
            let note = sensor.argv_capture.note.as_deref().unwrap_or("off");
            let _ = writeln!(
                out,
                "  argv      {}",
                s.warn(format!("not captured ({note})"))
            );
        }
        for note in &sensor.notes {
            let _ = writeln!(out, "  note      {}", s.warn(note));
        }
    }
    let Some(policy) = &r.policy else {
        return;
    };
    if policy.violations.is_empty() {
        let _ = writeln!(
            out,
            "  policy    {} (no violations)",
            s.good(&policy.verdict)
        );
        return;
    }
    let _ = writeln!(
        out,
        "  policy    {}",
        s.bad(format!(
            "{}: {}",
            policy.verdict.to_uppercase(),
            plural(policy.violations.len(), "violation", "violations")
        ))
    );
    for v in &policy.violations {
        let _ = writeln!(
            out,
            "    {} {} {}",
            s.bad(format!("{:<7}", v.action)),
            v.target,
            s.dim(format!("[{}] {}", v.rule, v.reason))
        );
    }
}

fn root_process(r: &Receipt) -> Option<&ProcessNode> {
    let pids: BTreeSet<u32> = r.process_tree.iter().map(|p| p.pid).collect();
    r.process_tree.iter().find(|p| !pids.contains(&p.ppid))
}

fn command_line(p: &ProcessNode) -> String {
    if p.argv.is_empty() {
        return p.exe.display_lossy().into_owned();
    }
    let words: Vec<String> = p.argv.iter().map(|a| quote(&a.display_lossy())).collect();
    let mut line = words.join(" ");
    if p.argv_truncated {
        line.push_str(" [argv cut short]");
    }
    line
}

/// A word as a shell would need it, when it needs quoting.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `text` cut to `limit` characters, saying how many were hidden.
fn fold_chars(text: &str, limit: Option<usize>) -> String {
    let total = text.chars().count();
    match limit {
        Some(limit) if total > limit => {
            let kept: String = text.chars().take(limit).collect();
            format!("{kept}… (+{} chars)", total - limit)
        }
        _ => text.to_owned(),
    }
}

fn processes(out: &mut String, r: &Receipt, o: &ShowOptions) {
    let s = o.style;
    let _ = writeln!(
        out,
        "\n{}",
        s.head(format!("processes ({})", r.process_tree.len()))
    );
    let pids: BTreeSet<u32> = r.process_tree.iter().map(|p| p.pid).collect();
    let mut children: BTreeMap<u32, Vec<&ProcessNode>> = BTreeMap::new();
    let mut roots = Vec::new();
    for p in &r.process_tree {
        if pids.contains(&p.ppid) && p.ppid != p.pid {
            children.entry(p.ppid).or_default().push(p);
        } else {
            roots.push(p);
        }
    }
    // Depth-first, children by pid: the order the tree was built in.
    let mut order: Vec<(usize, &ProcessNode)> = Vec::new();
    let mut stack: Vec<(usize, &ProcessNode)> = roots.iter().rev().map(|p| (0, *p)).collect();
    let mut seen = BTreeSet::new();
    while let Some((depth, p)) = stack.pop() {
        if !seen.insert(p.pid) {
            continue;
        }
        order.push((depth, p));
        if let Some(kids) = children.get(&p.pid) {
            stack.extend(kids.iter().rev().map(|k| (depth + 1, *k)));
        }
    }
    let (shown, hidden) = cut(order.len(), o.limit(PROCESSES));
    for (depth, p) in &order[..shown] {
        let status = match (p.exit_code, p.signal) {
            (_, Some(sig)) => s.warn(format!("signal {sig}")),
            (Some(0), _) => s.dim("exit 0"),
            (Some(code), _) => s.warn(format!("exit {code}")),
            (None, None) => s.dim("running at end"),
        };
        let ended = if p.ended_by_glasshouse {
            format!(" {}", s.warn("(ended by glasshouse after --linger)"))
        } else {
            String::new()
        };
        let line = fold_chars(&command_line(p), o.limit(ARGV_CHARS));
        let _ = writeln!(
            out,
            "  {}{} {line}  {status}{ended}",
            "  ".repeat(*depth),
            s.dim(p.pid)
        );
        if p.execs.len() > 1 {
            let images: Vec<String> = p
                .execs
                .iter()
                .map(|e| e.exe.display_lossy().into_owned())
                .collect();
            let _ = writeln!(
                out,
                "  {}  {}",
                "  ".repeat(*depth),
                s.dim(format!("exec'd {}: {}", images.len(), images.join(" → ")))
            );
        }
    }
    if hidden > 0 {
        let _ = writeln!(out, "  {}", s.dim(format!("… {hidden} more processes")));
    }
}

/// What a file saw: read, written, deleted.
#[derive(Debug, Clone, Copy, Default)]
struct Marks {
    read: bool,
    write: bool,
    delete: bool,
}

impl Marks {
    fn letters(self) -> String {
        [(self.read, 'r'), (self.write, 'w'), (self.delete, 'd')]
            .iter()
            .map(|&(on, c)| if on { c } else { '-' })
            .collect()
    }

    fn changes(self) -> bool {
        self.write || self.delete
    }
}

fn files(out: &mut String, r: &Receipt, o: &ShowOptions) {
    let s = o.style;
    let fs = &r.filesystem;
    let mut marks: BTreeMap<String, Marks> = BTreeMap::new();
    for p in &fs.reads {
        marks
            .entry(p.display_lossy().into_owned())
            .or_default()
            .read = true;
    }
    for p in &fs.writes {
        marks
            .entry(p.display_lossy().into_owned())
            .or_default()
            .write = true;
    }
    for p in &fs.deletes {
        marks
            .entry(p.display_lossy().into_owned())
            .or_default()
            .delete = true;
    }
    let groups = by_directory(marks.iter().map(|(path, m)| (path.as_str(), *m)));
    let _ = writeln!(
        out,
        "\n{}",
        s.head(format!(
            "files ({} read, {} written, {} deleted, in {})",
            fs.reads.len(),
            fs.writes.len(),
            fs.deletes.len(),
            plural(groups.len(), "directory", "directories")
        ))
    );
    // Directories where something changed come first: they are what a reader looks for.
    let mut dirs: Vec<(&str, &Vec<(&str, Marks)>)> = groups.iter().map(|(d, f)| (*d, f)).collect();
    dirs.sort_by_key(|(dir, files)| (!files.iter().any(|(_, m)| m.changes()), *dir));
    let (shown, hidden) = cut(dirs.len(), o.limit(DIRECTORIES));
    for (dir, entries) in &dirs[..shown] {
        let count = |f: fn(&Marks) -> bool| entries.iter().filter(|(_, m)| f(m)).count();
        let counts: Vec<String> = [
            ("r", count(|m| m.read)),
            ("w", count(|m| m.write)),
            ("d", count(|m| m.delete)),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
        let _ = writeln!(out, "  {} {}", s.head(dir), s.dim(counts.join(" · ")));
        let mut entries: Vec<&(&str, Marks)> = entries.iter().collect();
        entries.sort_by_key(|(name, m)| (!m.changes(), *name));
        let (shown, hidden) = cut(entries.len(), o.limit(FILES_PER_DIRECTORY));
        for (name, m) in &entries[..shown] {
            let letters = m.letters();
            let letters = if m.changes() {
                s.warn(letters)
            } else {
                s.dim(letters)
            };
            let _ = writeln!(out, "    {letters} {name}");
        }
        if hidden > 0 {
            let _ = writeln!(
                out,
                "    {}",
                s.dim(format!("… {}", plural(hidden, "more file", "more files")))
            );
        }
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "  {}",
            s.dim(format!(
                "… {}",
                plural(hidden, "more directory", "more directories")
            ))
        );
    }
}

fn network(out: &mut String, r: &Receipt, o: &ShowOptions) {
    let s = o.style;
    let n = &r.network;
    let _ = writeln!(
        out,
        "\n{}",
        s.head(format!(
            "network ({}, {} B sent, {} B received)",
            plural(n.attempts.len(), "destination", "destinations"),
            n.bytes_sent,
            n.bytes_received
        ))
    );
    let (shown, hidden) = cut(n.attempts.len(), o.limit(DESTINATIONS));
    for a in &n.attempts[..shown] {
        let result = match (a.result.as_str(), a.errno) {
            ("connected" | "sent", _) => s.good(&a.result),
            (result, Some(errno)) => s.warn(format!("{result} (errno {errno})")),
            (result, None) => s.warn(result),
        };
        let times = if a.count > 1 {
            format!(" {}", s.dim(format!("×{}", a.count)))
        } else {
            String::new()
        };
        let _ = writeln!(out, "  {:<5} {} {result}{times}", a.protocol, a.dst);
    }
    if hidden > 0 {
        let _ = writeln!(out, "  {}", s.dim(format!("… {hidden} more destinations")));
    }
    for p in &n.proxied {
        let _ = writeln!(
            out,
            "  proxy {} {}:{} {} {}",
            p.protocol,
            p.host,
            p.port,
            if p.decision == "allowed" {
                s.good(&p.decision)
            } else {
                s.bad(&p.decision)
            },
            s.dim(format!(
                "{} B sent, {} B received",
                p.bytes_sent, p.bytes_received
            ))
        );
    }
}

/// Every failed operation once: `filesystem.failed`, plus denied operations not already in it.
fn failed_operations(r: &Receipt) -> Vec<&FailedOperation> {
    let mut all: BTreeSet<&FailedOperation> = r.filesystem.failed.iter().collect();
    all.extend(r.syscalls.denied.iter());
    all.into_iter().collect()
}

fn failed_total(r: &Receipt) -> usize {
    failed_operations(r).iter().map(|f| f.count as usize).sum()
}

fn failures(out: &mut String, r: &Receipt, o: &ShowOptions) {
    let s = o.style;
    let mut by_errno: BTreeMap<(&str, i32), Vec<&FailedOperation>> = BTreeMap::new();
    for f in failed_operations(r) {
        by_errno
            .entry((f.error.as_str(), f.errno))
            .or_default()
            .push(f);
    }
    let _ = writeln!(
        out,
        "\n{}",
        s.head(format!(
            "failures ({}, by errno)",
            plural(failed_total(r), "failure", "failures")
        ))
    );
    // The most frequent error first.
    let mut groups: Vec<_> = by_errno.into_iter().collect();
    groups.sort_by_key(|((name, _), ops)| {
        (
            std::cmp::Reverse(ops.iter().map(|f| f.count).sum::<u64>()),
            *name,
        )
    });
    for ((name, errno), ops) in groups {
        let total: u64 = ops.iter().map(|f| f.count).sum();
        let mut calls: BTreeMap<&str, u64> = BTreeMap::new();
        for f in &ops {
            *calls.entry(f.syscall.as_str()).or_default() += f.count;
        }
        let calls: Vec<String> = calls.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
        let label = if matches!(name, "EACCES" | "EPERM") {
            s.bad(name)
        } else {
            s.warn(name)
        };
        let _ = writeln!(out, "  {label} ({errno}) {total}: {}", calls.join(", "));
        let targets: Vec<String> = ops
            .iter()
            .filter_map(|f| f.target.as_ref().map(|t| t.display_lossy().into_owned()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let (shown, hidden) = cut(targets.len(), o.limit(TARGETS_PER_ERRNO));
        for t in &targets[..shown] {
            let (dir, name) = split(t);
            let _ = writeln!(out, "    {}{name}", s.dim(dir));
        }
        if hidden > 0 {
            let _ = writeln!(out, "    {}", s.dim(format!("… {hidden} more targets")));
        }
    }
}

//! The text form of a [`Diff`]: `+` for what only the new run did, `-` for what only the old run
//! did; added paths and removed paths are grouped by directory and folded as in `show`.

use crate::diff::{Diff, SetChange};
use crate::fold::{by_directory, cut, plural};
use crate::style::Style;
use std::fmt::Write as _;

/// Entries of one directory listed before the directory is folded into one line.
pub const ENTRIES_PER_DIRECTORY: usize = 3;

/// How to render a diff.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// Unfold directories.
    pub all: bool,
    /// Colors or plain text.
    pub style: Style,
}

/// The whole view, ending with a newline.
pub fn render(diff: &Diff, o: &RenderOptions) -> String {
    let s = o.style;
    let mut out = String::new();
    if diff.same {
        let _ = writeln!(
            out,
            "{}",
            s.good("no differences (volatile fields ignored)")
        );
        return out;
    }
    if let Some(c) = &diff.outcome {
        let _ = writeln!(out, "{} {} → {}", s.head("outcome"), c.old, s.bad(&c.new));
    }
    if let Some(c) = &diff.coverage {
        let new = if c.new == "complete" {
            s.good(&c.new)
        } else {
            s.bad(&c.new)
        };
        let _ = writeln!(out, "{} {} → {new}", s.head("coverage"), c.old);
    }
    if let Some(c) = &diff.privilege {
        let new = if c.new == "root" {
            s.bad("root (it could have tampered with the sensor)")
        } else {
            s.good(&c.new)
        };
        let _ = writeln!(out, "{} {} → {new}", s.head("command user"), c.old);
    }
    section(&mut out, "executables", &diff.executables, false, o);
    section(&mut out, "files read", &diff.files.read, true, o);
    section(&mut out, "files written", &diff.files.write, true, o);
    section(&mut out, "files deleted", &diff.files.delete, true, o);
    section(&mut out, "network", &diff.network, false, o);
    section(&mut out, "failures", &diff.failures, false, o);
    section(&mut out, "policy violations", &diff.violations, false, o);
    if !diff.counts.is_empty() {
        let _ = writeln!(out, "{}", s.head("counts (large changes)"));
        for c in &diff.counts {
            let _ = writeln!(out, "  {} {} → {}", c.name, c.old, s.warn(c.new));
        }
    }
    let _ = writeln!(
        out,
        "{}",
        s.bad(plural(diff.differences(), "difference", "differences"))
    );
    out
}

fn section(out: &mut String, title: &str, change: &SetChange, fold: bool, o: &RenderOptions) {
    if change.is_empty() {
        return;
    }
    let s = o.style;
    let _ = writeln!(
        out,
        "{} {}",
        s.head(title),
        s.dim(format!(
            "(+{} -{})",
            change.added.len(),
            change.removed.len()
        ))
    );
    for (sign, list) in [('+', &change.added), ('-', &change.removed)] {
        let paint = |t: String| if sign == '+' { s.bad(t) } else { s.good(t) };
        if !fold || o.all {
            for entry in list {
                let _ = writeln!(out, "  {}", paint(format!("{sign} {entry}")));
            }
            continue;
        }
        for (dir, entries) in by_directory(list.iter().map(|p| (p.as_str(), ()))) {
            let (shown, hidden) = cut(entries.len(), Some(ENTRIES_PER_DIRECTORY));
            if hidden > 0 {
                let _ = writeln!(
                    out,
                    "  {} {}",
                    paint(format!("{sign} {dir}")),
                    s.dim(format!(
                        "({}, --all lists them)",
                        plural(entries.len(), "file", "files")
                    ))
                );
                continue;
            }
            for (name, ()) in &entries[..shown] {
                let _ = writeln!(out, "  {}", paint(format!("{sign} {dir}{name}")));
            }
        }
    }
}

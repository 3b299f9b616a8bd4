//! `glasshouse diff OLD NEW`: what the new run did that the old did not, and the reverse
//! (computed and rendered by glasshouse-view). A CI gate: exit 1 when they differ.

use crate::show::{read_receipt, ColorWhen};
use anyhow::Context as _;
use glasshouse_view::{Diff, DiffOptions, DiffRenderOptions};
use std::io::Write as _;
use std::path::PathBuf;

/// The runs match.
pub const EXIT_SAME: i32 = 0;
/// The runs differ.
pub const EXIT_DIFFER: i32 = 1;
/// A receipt could not be read or is not a receipt.
pub const EXIT_BAD_INPUT: i32 = 2;

const DIFF_HELP: &str = "\
Compared: executables, files read / written / deleted, network destinations (protocol,
destination, result), failed operations, policy violations, how the command ended, sensor
coverage, and counts that changed by at least 2x and by at least 100. Ignored: ids, times,
pids, and temporary-file names (Python's tmpXXXXXXXX, mktemp's tmp.XXXXXXXXXX, Rust's
.tmpXXXXXX, [PREFIX-]xxxxxxxx right under /tmp, /proc/PID; see docs/diff.md). `+` is only in NEW,
`-` only in OLD.

Exit status: 0 the runs match, 1 they differ, 2 bad input.

Example:
  glasshouse diff baseline.json receipt.json || echo 'the agent did something new'
  glasshouse diff --json baseline.json receipt.json";

/// Arguments of `glasshouse diff`.
#[derive(Debug, clap::Args)]
#[command(after_help = DIFF_HELP)]
pub struct DiffArgs {
    /// The baseline receipt.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The receipt to compare with it.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Print the differences as JSON.
    #[arg(long)]
    pub json: bool,
    /// List every path instead of folding directories.
    #[arg(long)]
    pub all: bool,
    /// Leave counts (system calls, bytes, processes) out of the comparison.
    #[arg(long)]
    pub ignore_counts: bool,
    /// When to use colors.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorWhen,
}

/// Runs `diff`; errors are printed here, as one line.
pub fn run(args: &DiffArgs) -> i32 {
    diff(args).unwrap_or_else(|e| {
        say!("glasshouse: error: {e:#}");
        EXIT_BAD_INPUT
    })
}

fn diff(args: &DiffArgs) -> anyhow::Result<i32> {
    let old = read_receipt(&args.old)?;
    let new = read_receipt(&args.new)?;
    let options = DiffOptions {
        ignore_counts: args.ignore_counts,
    };
    let diff = Diff::between(&old, &new, &options);
    let mut out = std::io::stdout().lock();
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&diff)?;
        json.push('\n');
        json
    } else {
        diff.render(&DiffRenderOptions {
            all: args.all,
            style: args.color.style(),
        })
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")?;
    Ok(if diff.same { EXIT_SAME } else { EXIT_DIFFER })
}

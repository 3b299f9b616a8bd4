//! `glasshouse show RECEIPT`: the receipt as a person reads it (rendered by glasshouse-view), or
//! unchanged with `--json`.

use anyhow::Context as _;
use glasshouse_receipt::{Receipt, ReceiptError};
use glasshouse_view::{render_show, ShowOptions, Style};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

/// The receipt could not be read or is not a receipt this build accepts.
pub const EXIT_BAD_INPUT: i32 = 2;

const SHOW_HELP: &str = "\
Coverage problems and policy violations come first. Long lists are folded with a count of
what is hidden; --all unfolds them. Colors are used on a terminal unless NO_COLOR is set.

Exit status: 0 shown, 2 the receipt cannot be read or is not a receipt.

Example:
  glasshouse show receipt.json
  glasshouse show --all --color never receipt.json | less";

/// When to color.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set (to anything but the empty string).
    #[default]
    Auto,
    /// Always, even into a pipe or with NO_COLOR.
    Always,
    /// Never.
    Never,
}

impl ColorWhen {
    /// The style for stdout.
    pub fn style(self) -> Style {
        Style::new(match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => !no_color() && std::io::stdout().is_terminal(),
        })
    }
}

/// `NO_COLOR` is set to something other than the empty string.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// The style for a view printed on stderr (`run --summary`): colors on a terminal only.
pub fn stderr_style() -> Style {
    Style::new(!no_color() && std::io::stderr().is_terminal())
}

/// Arguments of `glasshouse show`.
#[derive(Debug, clap::Args)]
#[command(after_help = SHOW_HELP)]
pub struct ShowArgs {
    /// The receipt to show.
    #[arg(value_name = "RECEIPT")]
    pub receipt: PathBuf,
    /// Unfold every list.
    #[arg(long)]
    pub all: bool,
    /// Print the receipt's JSON unchanged (after checking that it is a receipt).
    #[arg(long)]
    pub json: bool,
    /// When to use colors.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorWhen,
}

/// Runs `show`; errors are printed here, as one line.
pub fn run(args: &ShowArgs) -> i32 {
    show(args).unwrap_or_else(|e| {
        say!("glasshouse: error: {e:#}");
        EXIT_BAD_INPUT
    })
}

fn show(args: &ShowArgs) -> anyhow::Result<i32> {
    let (receipt, mut file) = open_receipt(&args.receipt)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        // The file this glasshouse opened and checked, not the path again (which could lead
        // elsewhere by now).
        drop(receipt);
        std::io::Seek::rewind(&mut file)
            .and_then(|()| std::io::copy(&mut file, &mut out))
            .with_context(|| format!("cannot copy receipt {} to stdout", args.receipt.display()))?;
        Ok(())
    } else {
        let options = ShowOptions {
            all: args.all,
            style: args.color.style(),
        };
        out.write_all(render_show(&receipt, &options).as_bytes())
    }
    .and_then(|()| out.flush())
    .context("cannot write to stdout")?;
    Ok(0)
}

/// Reads a receipt of any version this build accepts, under sudo with the invoking user's
/// rights (as `run` reads the files that user names); every error names the file.
pub fn read_receipt(path: &Path) -> anyhow::Result<Receipt> {
    open_receipt(path).map(|(receipt, _)| receipt)
}

/// [`read_receipt`], and the file it was read from.
fn open_receipt(path: &Path) -> anyhow::Result<(Receipt, std::fs::File)> {
    let invoker = glasshouse_run::user::invoker()?;
    let file = glasshouse_run::access::open_for("receipt", path, invoker.as_ref())
        .map_err(anyhow::Error::msg)?;
    // A ReceiptError's message already includes its cause, so only the message is kept: with
    // the cause chained as well, `{:#}` would print it twice.
    let receipt = Receipt::read_open(&file, path).map_err(|e| match e {
        ReceiptError::Io { .. } => anyhow::anyhow!("{e}"),
        other => anyhow::anyhow!("receipt {}: {other}", path.display()),
    })?;
    Ok((receipt, file))
}

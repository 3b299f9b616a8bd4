//! `glasshouse completions SHELL` and `glasshouse man [SUBCOMMAND]`: shell completions
//! (clap_complete) and roff man pages (clap_mangen), both generated from the one CLI definition,
//! so neither can drift from what the binary accepts.

use anyhow::Context as _;
use std::io::Write as _;

/// The shells completions are generated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// bash: `glasshouse completions bash > /etc/bash_completion.d/glasshouse`.
    Bash,
    /// zsh: `glasshouse completions zsh > "${fpath[1]}/_glasshouse"`.
    Zsh,
    /// fish: `glasshouse completions fish > ~/.config/fish/completions/glasshouse.fish`.
    Fish,
}

/// Arguments of `glasshouse completions`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  glasshouse completions bash > /etc/bash_completion.d/glasshouse\n  glasshouse completions zsh > \"${fpath[1]}/_glasshouse\"\n  glasshouse completions fish > ~/.config/fish/completions/glasshouse.fish"
)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_name = "SHELL")]
    pub shell: Shell,
}

/// Arguments of `glasshouse man`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  glasshouse man > /usr/local/share/man/man1/glasshouse.1\n  glasshouse man run > /usr/local/share/man/man1/glasshouse-run.1\n  glasshouse man | man -l -"
)]
pub struct ManArgs {
    /// A subcommand whose page to print (glasshouse-SUBCOMMAND(1)); without it, glasshouse(1).
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
}

/// Prints the completion script for `args.shell`.
pub fn completions(args: &CompletionsArgs, mut command: clap::Command) -> i32 {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "glasshouse", &mut script);
    finish(write_stdout(&script))
}

/// Prints a man page.
pub fn man(args: &ManArgs, command: clap::Command) -> i32 {
    finish(render_man(args, command).and_then(|page| write_stdout(&page)))
}

fn render_man(args: &ManArgs, command: clap::Command) -> anyhow::Result<Vec<u8>> {
    let (command, title) = match &args.subcommand {
        None => (command, "glasshouse".to_owned()),
        Some(name) => {
            let names: Vec<String> = command
                .get_subcommands()
                .map(|c| c.get_name().to_owned())
                .collect();
            let sub = command.find_subcommand(name).cloned().with_context(|| {
                format!("no subcommand {name:?} (one of: {})", names.join(", "))
            })?;
            // The page's name is glasshouse-SUBCOMMAND, as git's are.
            let title = format!("glasshouse-{}", sub.get_name());
            (sub.display_name(title.clone()), title)
        }
    };
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .title(title)
        .render(&mut page)
        .context("cannot render the man page")?;
    Ok(page)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
}

fn finish(result: anyhow::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            say!("glasshouse: error: {e:#}");
            2
        }
    }
}

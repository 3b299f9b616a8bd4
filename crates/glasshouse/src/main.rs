//! The glasshouse command line: thin glue over the receipt, backend, sensor and policy crates.

/// Writes one line on stderr. A stderr that cannot take it (a closed pipe, a full disk) is not
/// a reason to panic or to change the exit status, so the error is dropped.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod completions;
mod diff;
mod events;
mod exit;
mod keygen;
mod policy_cmd;
mod protect;
mod run;
mod schema;
mod show;
mod summary;
mod verify;

use clap::{CommandFactory as _, Parser, Subcommand};
use std::process::ExitCode;

const RUN_EXAMPLE: &str = "\
Example:
  sudo glasshouse run --profile host -- python3 demo/sneaky.py
  sudo glasshouse run --profile host --receipt out/r.json --policy examples/policies/coding-agent.toml -- make test
  glasshouse run -- ls -l          # plain runner: no sensor, no receipt, no root needed";

/// Auditing-first sandbox: run a command and get a receipt of what it really did on the machine.
#[derive(Debug, Parser)]
#[command(
    name = "glasshouse",
    version,
    after_help = "Example:\n  sudo glasshouse run --profile host -- python3 demo/sneaky.py\n  glasshouse policy check --policy examples/policies/coding-agent.toml receipt.json\n  glasshouse schema > receipt.schema.json"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command; with --profile, trace its whole process tree and write a receipt.
    #[command(after_help = format!("{RUN_EXAMPLE}\n\n{}\n\nEnvironment:\n  GLASSHOUSE_BPF_DIR        load glasshouse.bpf.o from this directory instead of the built-in object\n  GLASSHOUSE_CAPTURE_ARGV   argv capture: unset or 1 = on (default on native Linux), 0 = off, force = on even where it is off by default (WSL)\n  GLASSHOUSE_EVENTS_QUEUE   lines the --events stream holds for a slow reader (default 262144)", exit::TABLE))]
    Run(Box<run::RunArgs>),
    /// Print the JSON Schema of the receipts this glasshouse writes.
    #[command(after_help = "Example:\n  glasshouse schema > receipt.schema.json")]
    Schema,
    /// Evaluate receipts against a policy.
    #[command(
        subcommand,
        after_help = "Example:\n  glasshouse policy check --policy examples/policies/coding-agent.toml receipt.json\n  glasshouse policy explain --policy examples/policies/coding-agent.toml --action read --receipt receipt.json ~/.ssh/id_ed25519"
    )]
    Policy(policy_cmd::PolicyCommand),
    /// Make an Ed25519 key pair for signing receipts (`run --sign-key`).
    #[command(after_help = keygen::HELP)]
    Keygen(keygen::KeygenArgs),
    /// Check a signed envelope (`<receipt>.intoto.jsonl`) with a public key.
    #[command(after_help = verify::HELP)]
    Verify(verify::VerifyArgs),
    /// Summarize a receipt for a person: problems first, then processes, files, network, failures.
    Show(show::ShowArgs),
    /// Compare two receipts: what the new run did that the old did not, and the reverse.
    Diff(diff::DiffArgs),
    /// Print a shell completion script (bash, zsh, fish).
    Completions(completions::CompletionsArgs),
    /// Print a man page (roff) for glasshouse or one of its subcommands.
    Man(completions::ManArgs),
}

fn main() -> ExitCode {
    let is_run = std::env::args_os().nth(1).is_some_and(|a| a == "run");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                // `run` reserves the small codes for the command itself.
                _ if is_run => exit::USAGE,
                _ => 2,
            };
            return to_exit_code(code);
        }
    };
    let code = match cli.command {
        Command::Run(args) => match run::run(*args) {
            Ok(code) => code,
            Err(e) => report(&e),
        },
        Command::Schema => schema::run(),
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Keygen(args) => keygen::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Show(args) => show::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Completions(args) => completions::completions(&args, Cli::command()),
        Command::Man(args) => completions::man(&args, Cli::command()),
    };
    to_exit_code(code)
}

/// Prints a failure as one line and picks its exit code.
fn report(err: &anyhow::Error) -> i32 {
    match err.downcast_ref::<exit::Exit>() {
        Some(e) => {
            say!("glasshouse: error: {}", e.message);
            e.code
        }
        None => {
            say!("glasshouse: error: {err:#}");
            exit::USAGE
        }
    }
}

fn to_exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code & 0xff).unwrap_or(u8::MAX))
}

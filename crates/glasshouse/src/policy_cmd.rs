//! `glasshouse policy check|explain`: thin glue over the glasshouse-policy crate, which does
//! the judging.

use crate::show::read_receipt;
use anyhow::Context as _;
use glasshouse_policy::{violation_line, Action, Context, Effect, Finding};
use glasshouse_receipt::OsText;
use glasshouse_run::check::LoadedPolicy;
use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Nothing denied (check), or the action is allowed (explain).
const EXIT_PASS: i32 = 0;
/// Something denied (check), or the action is denied (explain).
const EXIT_FAIL: i32 = 1;
/// The policy or the receipt could not be used.
const EXIT_BAD_INPUT: i32 = 2;

const CHECK_HELP: &str = "\
Each violation is one line of four tab-separated fields: action, target, rule, reason.
The rule is the rule's name, rule[N] for the N-th unnamed rule, or `default`.

Exit status: 0 no violations, 1 violations, 2 bad input (policy or receipt unusable).

Example:
  glasshouse policy check --policy examples/policies/coding-agent.toml receipt.json
  glasshouse policy check --policy examples/policies/ci-job.toml --json receipt.json";

const EXPLAIN_HELP: &str = "\
${CWD} and ${HOME} in the policy expand to the values recorded in --receipt; without one,
rules that use them cannot match, and the explanation says so.

Exit status: 0 allowed, 1 denied, 2 bad input.

Example:
  glasshouse policy explain --policy examples/policies/coding-agent.toml \\
      --action read --receipt receipt.json /home/ada/.ssh/id_ed25519
  glasshouse policy explain --policy examples/policies/ci-job.toml \\
      --action connect 169.254.169.254:80";

/// Judge receipts against a policy (a TOML file; see docs/policy.md).
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Judge a receipt: print every violation, one per line, sorted.
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// Say which rule decides one action on one target, listing every rule that matches.
    #[command(after_help = EXPLAIN_HELP)]
    Explain(ExplainArgs),
}

/// Arguments of `glasshouse policy check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The policy file.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The receipt to judge.
    #[arg(value_name = "RECEIPT")]
    pub receipt: PathBuf,
    /// Print the verdict as JSON ({"digest", "verdict", "violations"}) instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `glasshouse policy explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The policy file.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The action to ask about.
    #[arg(long, value_name = "ACTION", value_parser = action_parser())]
    pub action: Action,
    /// The path, executable, or destination (`1.2.3.4:443`, `[::1]:80`, `/run/x.sock`).
    #[arg(value_name = "TARGET")]
    pub target: OsString,
    /// A receipt whose recorded working directory and HOME give ${CWD} and ${HOME}.
    #[arg(long, value_name = "RECEIPT")]
    pub receipt: Option<PathBuf>,
    /// Print the explanation as JSON.
    #[arg(long)]
    pub json: bool,
}

fn action_parser() -> impl clap::builder::TypedValueParser<Value = Action> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Action::ALL.map(Action::as_str))
        .try_map(|name| name.parse::<Action>())
}

/// Runs a `policy` subcommand and returns its exit status; errors are printed here, as one line.
pub fn run(command: PolicyCommand) -> i32 {
    let result = match command {
        PolicyCommand::Check(args) => check(&args),
        PolicyCommand::Explain(args) => explain(&args),
    };
    result.unwrap_or_else(|e| {
        say!("glasshouse: error: {e:#}");
        EXIT_BAD_INPUT
    })
}

fn check(args: &CheckArgs) -> anyhow::Result<i32> {
    let loaded = load_policy(&args.policy)?;
    let receipt = read_receipt(&args.receipt)?;
    let verdict = loaded.policy().evaluate(&receipt);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&verdict)?)
    } else {
        verdict
            .violations
            .iter()
            .try_for_each(|v| writeln!(out, "{}", violation_line(v)))
    }
    .and_then(|()| out.flush())
    .context("cannot write to stdout")?;
    if !args.json {
        let count = verdict.violations.len();
        say!(
            "glasshouse: policy {}: {} ({count} violation{})",
            args.policy.display(),
            verdict.verdict,
            if count == 1 { "" } else { "s" }
        );
    }
    Ok(if verdict.passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    })
}

fn explain(args: &ExplainArgs) -> anyhow::Result<i32> {
    let loaded = load_policy(&args.policy)?;
    let context = match &args.receipt {
        Some(path) => Context::from_receipt(&read_receipt(path)?),
        None => Context::default(),
    };
    let target = OsText::from(args.target.as_os_str());
    let explanation = loaded
        .policy()
        .explain(args.action, target.as_bytes(), &context);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&explanation)?)
    } else {
        write!(out, "{explanation}")
    }
    .and_then(|()| out.flush())
    .context("cannot write to stdout")?;
    let unexpanded = explanation
        .rules
        .iter()
        .any(|r| r.finding == Finding::NotExpanded);
    if unexpanded && args.receipt.is_none() {
        say!(
            "glasshouse: note: pass --receipt RECEIPT to give ${{CWD}} and ${{HOME}} their values"
        );
    }
    Ok(match explanation.decision.effect {
        Effect::Allow => EXIT_PASS,
        Effect::Deny => EXIT_FAIL,
    })
}

/// Reads and compiles the policy at `path`, with the invoking user's rights under sudo (as `run`
/// reads it). Errors read `PATH:LINE:COLUMN: problem`.
fn load_policy(path: &Path) -> anyhow::Result<LoadedPolicy> {
    let invoker = glasshouse_run::user::invoker()?;
    LoadedPolicy::load(path, invoker.as_ref()).map_err(anyhow::Error::msg)
}

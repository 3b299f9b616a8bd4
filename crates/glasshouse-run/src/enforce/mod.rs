//! `run --policy FILE --enforce`: the policy compiled into what the namespace backend can apply
//! exactly (a Landlock allow-list for reads and for writes, read-only mounts, hidden paths, the
//! proxy's judge of destination addresses), and for every rule whether it is enforced and by
//! what, or only evaluated and why. The receipt's section is built in [`crate::enforce_report`].
//!
//! A rule is enforced only where the mechanism refuses exactly what the rule denies. Where
//! enforcing the rest of a policy would refuse something the policy allows (an allow-list
//! entry Landlock cannot grant), the run is refused instead.

use crate::{RunError, RunPlan};
use glasshouse_backend::{
    AccessLimit, AddressPolicy, BackendKind, NamespaceConfig, NetworkMode, LANDLOCK_MIN_ABI,
};
use glasshouse_policy::{Action, Context, Effect, PathShape, Policy, Rule};
use glasshouse_receipt::OsText;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod files;

/// How one rule (or the default for one action) is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Applied {
    /// The sandbox refuses what it denies: `mechanism`, and what it covers when that is not
    /// self-evident.
    Enforced {
        mechanism: &'static str,
        note: Option<String>,
    },
    /// Judged on the receipt only, for this reason.
    EvaluatedOnly(String),
}

/// One entry of the plan: a rule by number, or the default (`None`) for `action`.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub number: Option<usize>,
    pub action: Action,
    pub applied: Applied,
}

/// The sandbox with the policy compiled in, and how each rule is applied.
pub(crate) struct Compiled {
    pub sandbox: NamespaceConfig,
    pub plan: Vec<Planned>,
}

fn refused(what: String) -> RunError {
    RunError::Refused(what)
}

fn enforced(mechanism: &'static str) -> Applied {
    Applied::Enforced {
        mechanism,
        note: None,
    }
}

fn only(why: impl Into<String>) -> Applied {
    Applied::EvaluatedOnly(why.into())
}

fn path_of(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

/// The values `${CWD}` and `${HOME}` will have in the receipt (see assemble).
pub(crate) fn run_context() -> Context {
    Context::new(
        std::env::current_dir()
            .ok()
            .map(|d| OsText::from(d.as_path())),
        std::env::var_os("HOME").map(|h| OsText::from(h.as_os_str())),
    )
}

/// Refuses `--enforce` where it cannot work, before anything runs.
pub(crate) fn check_flags(plan: &RunPlan) -> Result<(), RunError> {
    if !plan.enforce {
        return Ok(());
    }
    if plan.policy.is_none() {
        return Err(refused(
            "--enforce needs --policy FILE: it applies that policy's rules in the sandbox".into(),
        ));
    }
    if plan.backend != BackendKind::Namespace {
        return Err(refused(format!(
            "--enforce needs --backend namespace: the {} backend has no sandbox (Landlock, mounts, proxy) to apply a policy with; add --backend namespace, or drop --enforce to only evaluate the policy",
            plan.backend.name()
        )));
    }
    Ok(())
}

/// What an existing path is, or why it cannot be named to the kernel.
fn existing(rule: &Rule, path: &Path) -> Result<Option<PathBuf>, RunError> {
    match std::fs::canonicalize(path) {
        Ok(c) if c == path => Ok(Some(c)),
        Ok(c) => Err(refused(format!(
            "policy rule {} names {}, which resolves to {}: receipts record resolved paths and the kernel applies rules to the resolved file, so write {} in the rule",
            rule.label(),
            path.display(),
            c.display(),
            c.display()
        ))),
        Err(_) => Ok(None),
    }
}

/// The paths the sandbox lets the command write (host paths; the private `/tmp` apart).
struct Writable {
    paths: Vec<PathBuf>,
    cwd: PathBuf,
}

impl Writable {
    fn of(plan: &RunPlan) -> Result<Self, RunError> {
        let cwd = std::env::current_dir()
            .and_then(std::fs::canonicalize)
            .map_err(|e| refused(format!("cannot find the working directory: {e}")))?;
        let mut paths = vec![cwd.clone(), PathBuf::from("/dev")];
        paths.extend(
            plan.sandbox
                .writable
                .iter()
                .filter_map(|p| std::fs::canonicalize(p).ok()),
        );
        Ok(Self { paths, cwd })
    }

    /// A writable path `p` lies beneath.
    fn covering(&self, p: &Path) -> Option<&Path> {
        self.paths
            .iter()
            .map(PathBuf::as_path)
            .find(|w| p.starts_with(w))
    }

    /// Whether `p` lies in the sandbox's private `/tmp` (no working directory or `--rw` path
    /// bound over it from the host).
    fn private_tmp_only(&self, p: &Path) -> bool {
        p.starts_with(TMP) && self.covering(p).is_none()
    }

    /// A writable path strictly beneath `p` (which a mount at `p` would not cover).
    fn beneath(&self, p: &Path) -> Option<&Path> {
        self.paths
            .iter()
            .map(PathBuf::as_path)
            .find(|w| w.starts_with(p) && *w != p)
    }
}

const TMP: &str = "/tmp";

/// Read, write and delete rules always have a path target; this names the impossible case.
const NOT_A_PATH: &str = "the rule's target is not a path";

/// Compiles `policy` into `plan`'s sandbox. Errors refuse the run.
pub(crate) fn compile(policy: &Policy, plan: &RunPlan) -> Result<Compiled, RunError> {
    let context = run_context();
    let landlock = glasshouse_backend::landlock_abi();
    let writable = Writable::of(plan)?;
    let mut sandbox = plan.sandbox.clone();
    let mut planned = Vec::new();
    for action in Action::ALL {
        let mut c = ActionCompiler {
            policy,
            action,
            context: &context,
            landlock_ok: landlock >= LANDLOCK_MIN_ABI,
            landlock,
            writable: &writable,
            sandbox: &mut sandbox,
            planned: &mut planned,
        };
        match action {
            Action::Read | Action::Write => c.files()?,
            Action::Exec => c.all(only(
                "exec rules are judged on the receipt only: this build does not compile them into the sandbox",
            )),
            Action::Delete => c.all(only(
                "delete rules are judged on the receipt only: Landlock's remove rights belong to a directory's entries, not to the paths a pattern names",
            )),
            Action::Connect => c.connect(),
        }
    }
    // File order, then the defaults in the actions' order.
    planned.sort_by_key(|p| (p.number.is_none(), p.number, p.action));
    Ok(Compiled {
        sandbox,
        plan: planned,
    })
}

struct ActionCompiler<'a> {
    policy: &'a Policy,
    action: Action,
    context: &'a Context,
    landlock_ok: bool,
    landlock: i32,
    writable: &'a Writable,
    sandbox: &'a mut NamespaceConfig,
    planned: &'a mut Vec<Planned>,
}

impl ActionCompiler<'_> {
    fn rules(&self) -> impl Iterator<Item = &'_ Rule> + '_ {
        let action = self.action;
        self.policy
            .rules()
            .iter()
            .filter(move |r| r.action() == action)
    }

    fn push(&mut self, number: Option<usize>, applied: Applied) {
        self.planned.push(Planned {
            number,
            action: self.action,
            applied,
        });
    }

    /// Every rule of the action and its default, applied alike.
    fn all(&mut self, applied: Applied) {
        let numbers: Vec<usize> = self.rules().map(Rule::number).collect();
        for n in numbers {
            self.push(Some(n), applied.clone());
        }
        self.push(None, applied);
    }

    fn connect(&mut self) {
        if self.sandbox.network != NetworkMode::Proxy {
            let why = match self.sandbox.network {
                NetworkMode::Host => "--network host is not filtered; connect rules are enforced only with --network proxy",
                _ => "--network none already cuts every route out but the sandbox's own loopback; connect rules are compiled only for --network proxy",
            };
            return self.all(only(why));
        }
        let policy = self.policy.clone();
        let context = self.context.clone();
        self.sandbox.address_policy = Some(AddressPolicy::new(Arc::new(move |address| {
            let target = address.to_string();
            let decision = policy.decide(Action::Connect, target.as_bytes(), &context);
            match decision.effect {
                Effect::Allow => Ok(decision.rule),
                Effect::Deny => Err((decision.rule, decision.reason)),
            }
        })));
        let sockets = "unix sockets do not pass through the proxy";
        let rules: Vec<(usize, bool)> = self
            .rules()
            .map(|r| (r.number(), r.is_socket_target()))
            .collect();
        for (n, socket) in rules {
            let applied = if socket {
                only(format!(
                    "{sockets}: a unix socket rule is judged on the receipt only"
                ))
            } else {
                Applied::Enforced {
                    mechanism: "proxy",
                    note: Some(format!(
                        "for every address the proxy connects to; {sockets}"
                    )),
                }
            };
            self.push(Some(n), applied);
        }
        self.push(
            None,
            Applied::Enforced {
                mechanism: "proxy",
                note: Some(format!(
                    "for every address the proxy connects to; {sockets}"
                )),
            },
        );
    }

    fn files(&mut self) -> Result<(), RunError> {
        match self.policy.default_effect() {
            Effect::Deny => self.allow_list(),
            Effect::Allow => self.deny_list(),
        }
    }
}

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

    /// `default = "deny"`: a Landlock allow-list of the allow rules' trees.
    fn allow_list(&mut self) -> Result<(), RunError> {
        let action = self.action;
        if !self.landlock_ok {
            // No allow-list; deny rules still get what mounts can do.
            let why = format!(
                "this kernel's Landlock (ABI {}) is older than ABI {LANDLOCK_MIN_ABI} (Linux 6.2), which the sandbox needs to limit {action}s to an allow-list",
                self.landlock
            );
            let rules: Vec<Rule> = self.rules().cloned().collect();
            for rule in &rules {
                let applied = match rule.effect() {
                    Effect::Allow => only(why.clone()),
                    Effect::Deny => self.deny_rule(rule)?,
                };
                self.push(Some(rule.number()), applied);
            }
            self.push(None, only(why));
            return Ok(());
        }
        let rules: Vec<Rule> = self.rules().cloned().collect();
        let mut grants: Vec<PathBuf> = Vec::new();
        let mut private_tmp = false;
        let mut decided = Vec::new();
        for rule in rules.iter().filter(|r| r.effect() == Effect::Allow) {
            let stricter = |why: String| {
                refused(format!(
                    "policy rule {} allows {action} of {}, but {why}; enforcing the policy would refuse what the rule allows: write the target as a directory tree (`/dir/**`) or an existing file, or drop --enforce",
                    rule.label(),
                    rule.target()
                ))
            };
            let applied = match rule.path_shape(self.context) {
                Some(PathShape::Nothing(v)) => only(format!("matches nothing: {v} has no value")),
                Some(PathShape::Glob { .. }) => {
                    return Err(stricter(
                        "it is a glob, and Landlock grants directory trees and files only".into(),
                    ))
                }
                Some(PathShape::Tree(p)) => {
                    let p = path_of(&p);
                    if Path::new(TMP).starts_with(&p) {
                        private_tmp = true;
                    }
                    if self.writable.private_tmp_only(&p) && p != Path::new(TMP) {
                        return Err(stricter(format!(
                            "{} lies in the sandbox's private /tmp, which starts empty (allow /tmp/** instead)",
                            p.display()
                        )));
                    }
                    if p != Path::new(TMP) {
                        match existing(rule, &p)? {
                            Some(c) => grants.push(c),
                            None => {
                                return Err(stricter(format!(
                                    "{} does not exist, and Landlock grants only existing paths",
                                    p.display()
                                )))
                            }
                        }
                    }
                    enforced("landlock")
                }
                Some(PathShape::Exact(p)) => {
                    let p = path_of(&p);
                    match existing(rule, &p)? {
                        Some(c) if !c.is_dir() => {
                            grants.push(c);
                            enforced("landlock")
                        }
                        Some(_) => return Err(stricter(format!(
                            "{} is a directory, and Landlock would grant everything beneath it (write {}/** for the tree)",
                            p.display(),
                            p.display()
                        ))),
                        None => {
                            return Err(stricter(format!(
                                "{} does not exist, and Landlock grants only existing paths",
                                p.display()
                            )))
                        }
                    }
                }
                _ => only(NOT_A_PATH),
            };
            decided.push((rule.number(), applied));
        }
        let denies: Vec<&Rule> = rules
            .iter()
            .filter(|r| r.effect() == Effect::Deny)
            .collect();
        // Deny overrides allow: a denied tree that no granted tree holds takes the granted
        // trees inside it out of the grant (until nothing changes: a removal can uncover more).
        loop {
            let before = grants.len();
            for rule in &denies {
                if let Some(PathShape::Tree(p)) = rule.path_shape(self.context) {
                    let region = path_of(&p);
                    if !grants.iter().any(|g| region.starts_with(g) && *g != region) {
                        grants.retain(|g| !g.starts_with(&region));
                    }
                }
            }
            if grants.len() == before {
                break;
            }
        }
        for rule in denies {
            let applied = self.deny_in_allow_list(rule, &grants, private_tmp)?;
            decided.push((rule.number(), applied));
        }
        decided.sort_by_key(|(n, _)| *n);
        for (n, applied) in decided {
            self.push(Some(n), applied);
        }
        self.push(None, enforced("landlock"));
        let limit = Some(AccessLimit::new(grants, private_tmp));
        match action {
            Action::Read => self.sandbox.limit_reads = limit,
            _ => self.sandbox.limit_writes = limit,
        }
        Ok(())
    }

    /// A deny rule where only the allow rules' trees are granted.
    fn deny_in_allow_list(
        &mut self,
        rule: &Rule,
        allowed: &[PathBuf],
        private_tmp: bool,
    ) -> Result<Applied, RunError> {
        let (region, tree, glob) = match rule.path_shape(self.context) {
            Some(PathShape::Nothing(v)) => {
                return Ok(only(format!("matches nothing: {v} has no value")))
            }
            Some(PathShape::Tree(p)) => (path_of(&p), true, false),
            Some(PathShape::Exact(p)) => (path_of(&p), false, false),
            Some(PathShape::Glob { within }) => (path_of(&within), false, true),
            _ => return Ok(only(NOT_A_PATH)),
        };
        let covering = allowed
            .iter()
            .find(|a| region.starts_with(a))
            .cloned()
            .or_else(|| {
                (private_tmp && self.writable.private_tmp_only(&region)).then(|| PathBuf::from(TMP))
            });
        if covering.is_none() {
            if glob {
                if let Some(inside) = allowed.iter().find(|a| a.starts_with(&region)) {
                    return Ok(only(format!(
                        "a glob that reaches into the allowed tree {}: Landlock grants whole trees and cannot leave out the paths a glob names",
                        inside.display()
                    )));
                }
            }
            return Ok(Applied::Enforced {
                mechanism: "landlock",
                note: Some("outside every tree the policy allows".into()),
            });
        }
        let inside = covering.unwrap_or_default();
        self.deny_inside_allowed(rule, &region, tree, glob, &inside)
    }

    /// A deny inside a tree Landlock grants: only a mount can carve it out.
    fn deny_inside_allowed(
        &mut self,
        rule: &Rule,
        region: &Path,
        tree: bool,
        glob: bool,
        inside: &Path,
    ) -> Result<Applied, RunError> {
        let landlock_cannot = format!(
            "Landlock can only grant, and this lies inside the allowed tree {}",
            inside.display()
        );
        if glob {
            return Ok(only(format!(
                "{landlock_cannot}; a glob names no path a read-only mount or a hidden path could cover"
            )));
        }
        self.carve(rule, region, tree, &landlock_cannot)
    }

    /// `default = "allow"`: only deny rules restrict, each with a mount where it can.
    fn deny_list(&mut self) -> Result<(), RunError> {
        let why = format!(
            "the policy's default allows {}s: an allow rule changes no decision, so there is nothing to enforce",
            self.action
        );
        let rules: Vec<Rule> = self.rules().cloned().collect();
        for rule in &rules {
            let applied = if rule.effect() == Effect::Allow {
                only(why.clone())
            } else {
                self.deny_rule(rule)?
            };
            self.push(Some(rule.number()), applied);
        }
        self.push(None, only(why));
        Ok(())
    }

    /// A deny rule without an allow-list: a mount where one covers it exactly.
    fn deny_rule(&mut self, rule: &Rule) -> Result<Applied, RunError> {
        Ok(match rule.path_shape(self.context) {
            Some(PathShape::Nothing(v)) => only(format!("matches nothing: {v} has no value")),
            Some(PathShape::Tree(p)) => self.carve(rule, &path_of(&p), true, "")?,
            Some(PathShape::Exact(p)) => self.carve(rule, &path_of(&p), false, "")?,
            Some(PathShape::Glob { within }) => self.glob_deny(&path_of(&within)),
            _ => only(NOT_A_PATH),
        })
    }

    /// A glob deny without an allow-list: enforced only when the sandbox refuses the whole
    /// directory it lies in.
    fn glob_deny(&self, within: &Path) -> Applied {
        if self.action == Action::Write
            && self.writable.covering(within).is_none()
            && self.writable.beneath(within).is_none()
            && !self.writable.private_tmp_only(within)
            && !Path::new(TMP).starts_with(within)
        {
            return Applied::Enforced {
                mechanism: "ro-root",
                note: Some(format!(
                    "{} lies outside every writable path of the sandbox",
                    within.display()
                )),
            };
        }
        only("a glob names no existing path that a read-only mount or a hidden path could cover")
    }

    /// A deny of `path` (a tree, or exactly the path) with a read-only mount (write) or a
    /// hidden path (read).
    fn carve(
        &mut self,
        rule: &Rule,
        path: &Path,
        tree: bool,
        prefix: &str,
    ) -> Result<Applied, RunError> {
        let lead = |why: String| {
            if prefix.is_empty() {
                why
            } else {
                format!("{prefix}; {why}")
            }
        };
        if self.writable.private_tmp_only(path) || Path::new(TMP).starts_with(path) {
            return Ok(only(lead(format!(
                "{} reaches into the sandbox's private /tmp, which starts empty and has no path to mount over",
                path.display()
            ))));
        }
        let write = self.action == Action::Write;
        if let Some(w) = self.writable.beneath(path) {
            return Ok(only(lead(format!(
                "{} holds the writable {}, which the sandbox keeps writable",
                path.display(),
                w.display()
            ))));
        }
        if !write && self.writable.cwd.starts_with(path) {
            return Ok(only(lead(format!(
                "{} holds the working directory, which cannot be hidden",
                path.display()
            ))));
        }
        if write && self.writable.covering(path).is_none() {
            return Ok(Applied::Enforced {
                mechanism: "ro-root",
                note: Some(format!(
                    "{} lies outside every writable path of the sandbox",
                    path.display()
                )),
            });
        }
        let Some(existing) = existing(rule, path)? else {
            return Ok(only(lead(format!(
                "{} does not exist when the sandbox is built, and only an existing path can be {}",
                path.display(),
                if write { "mounted read-only" } else { "hidden" }
            ))));
        };
        if existing.is_dir() && !tree {
            return Ok(only(lead(format!(
                "the rule names the directory {} but not what lies beneath it, and a mount covers both",
                path.display()
            ))));
        }
        if write {
            self.sandbox.read_only.push(existing);
            Ok(enforced("ro-mount"))
        } else {
            if self.writable.covering(&existing).is_some() {
                return Ok(only(lead(format!(
                    "{} lies in a writable path, where a hidden path would also refuse writes the policy allows",
                    path.display()
                ))));
            }
            self.sandbox.hidden.push(existing);
            Ok(Applied::Enforced {
                mechanism: "hidden",
                note: Some(
                    "replaced by an empty directory or file: reads find nothing there rather than fail (and nothing beneath it can be run)"
                        .into(),
                ),
            })
        }
    }
}

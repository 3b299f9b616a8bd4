//! The check stage: everything that can be refused is refused here, before a process exists;
//! and the policy stage's compiled policy, loaded here so that a bad one stops the run early.

use crate::{RunError, RunPlan};
use glasshouse_backend::{Credentials, ExecutionBackend};
use glasshouse_policy::Policy;
use glasshouse_receipt::{Provenance, Receipt};
use std::path::Path;

/// Where the sensor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Profile {
    /// The host's kernel sensor follows the tree.
    Host,
    /// A sensor inside the backend's guest (needs a VM backend).
    Guest,
    /// Both (needs a VM backend).
    Combined,
}

impl Profile {
    /// The profile's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Guest => "guest",
            Self::Combined => "combined",
        }
    }
}

/// What the check stage hands on.
pub(crate) struct Checked {
    pub backend: Box<dyn ExecutionBackend + Send>,
    pub provenance: Provenance,
    pub policy: Option<LoadedPolicy>,
    pub user: crate::user::RunUser,
    /// With `--enforce`: how each rule is applied.
    pub enforcement: Option<Vec<crate::enforce::Planned>>,
    /// The receipt's directories, held open from now on.
    pub dirs: crate::write::Dirs,
}

/// Refuses a plan that cannot be carried out: an unavailable backend or profile, a user that
/// cannot be resolved, a receipt path
/// the write stage could not use, a policy that does not load.
pub(crate) fn check(plan: &RunPlan) -> Result<Checked, RunError> {
    crate::enforce::check_flags(plan)?;
    let user = crate::user::resolve(plan.user.as_deref())?;
    let policy = plan
        .policy
        .as_deref()
        .map(|path| LoadedPolicy::load(path, user.invoker.as_ref()))
        .transpose()
        .map_err(RunError::Refused)?;
    let (sandbox, enforcement) = match (&policy, plan.enforce) {
        (Some(p), true) => {
            let compiled = crate::enforce::compile(p.policy(), plan)?;
            (compiled.sandbox, Some(compiled.plan))
        }
        _ => (plan.sandbox.clone(), None),
    };
    let backend = plan
        .backend
        .open_with(&sandbox)
        .map_err(|e| RunError::Refused(e.to_string()))?;
    let provenance = match plan.profile {
        Profile::Host => Provenance::Host,
        other => {
            let supporting = glasshouse_backend::backends_with_guest_sensor();
            let which = if supporting.is_empty() {
                "no backend in this build has one (kata and firecracker are not available)"
                    .to_owned()
            } else {
                format!("use --backend {}", supporting.join(" or "))
            };
            return Err(RunError::Refused(format!(
                "--profile {} needs a backend with a guest sensor, and {which}; use --profile host",
                other.name()
            )));
        }
    };
    if plan.command.is_empty() {
        return Err(RunError::Refused("no command given".to_owned()));
    }
    crate::write::check_target(&plan.receipt_path)?;
    let dirs = crate::write::Dirs::open(&plan.receipt_path, user.invoker.as_ref())?;
    Ok(Checked {
        backend,
        provenance,
        policy,
        user,
        enforcement,
        dirs,
    })
}

/// A policy file read and compiled before the run, applied to the receipt after it.
#[derive(Debug)]
pub struct LoadedPolicy {
    policy: Policy,
}

impl LoadedPolicy {
    /// Reads (as `reader` may, see [`crate::access::read_as`]) and compiles the policy at `path`.
    /// Errors read `PATH:LINE:COLUMN: problem`.
    pub fn load(path: &Path, reader: Option<&Credentials>) -> Result<Self, String> {
        let bytes = crate::access::read_for("policy", path, reader)?;
        let policy =
            Policy::parse(&bytes, &path.display().to_string()).map_err(|e| e.to_string())?;
        Ok(Self { policy })
    }

    /// The compiled policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The policy stage: judges `receipt` and records the verdict in it (`policy`, and the
    /// file violations in `filesystem.policy_violations`); nothing else changes. Returns
    /// whether anything was denied.
    pub fn apply(&self, receipt: &mut Receipt) -> bool {
        self.policy.evaluate(receipt).record_in(receipt)
    }

    /// With `--enforce`: records how each rule was applied and what it matched.
    pub(crate) fn record_enforcement(
        &self,
        plan: &[crate::enforce::Planned],
        receipt: &mut Receipt,
    ) {
        receipt.enforcement = Some(crate::enforce_report::report(&self.policy, plan, receipt));
    }
}

/// Environment variables that change what glasshouse loads into the kernel.
const LOAD_OVERRIDES: [&str; 1] = ["GLASSHOUSE_BPF_DIR"];

/// Whether glasshouse runs with privileges its caller does not have: file capabilities or a
/// set-id bit (the kernel's AT_SECURE, which secure_getenv(3) obeys), or effective ids other
/// than the real ones.
pub fn runs_privileged_for_another() -> bool {
    // SAFETY: getauxval reads the process's auxiliary vector; getuid & co. cannot fail.
    let (secure, uid, euid, gid, egid) = unsafe {
        (
            libc::getauxval(libc::AT_SECURE),
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        )
    };
    secure != 0 || uid != euid || gid != egid
}

/// Refuses the overrides that change what is loaded (as secure_getenv would) when glasshouse
/// holds privileges its caller does not: with them, a caller's BPF object would be loaded
/// with capabilities the caller was never given.
pub(crate) fn refuse_privileged_overrides() -> Result<(), RunError> {
    if !runs_privileged_for_another() {
        return Ok(());
    }
    match LOAD_OVERRIDES.iter().find(|v| std::env::var_os(v).is_some()) {
        Some(var) => Err(RunError::Refused(format!(
            "{var} is refused: this glasshouse runs with file capabilities or set-id privileges its caller does not have, and it would load a BPF object of the caller's choosing with them; unset {var}, or run glasshouse as root (sudo) to use it"
        ))),
        None => Ok(()),
    }
}

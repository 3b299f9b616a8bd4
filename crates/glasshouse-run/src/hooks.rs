//! The seams where later features plug into the pipeline: observers of stage boundaries (a
//! live event stream), an enforcer that sees the policy before spawn, redactors and signers.
//!
//! Every hook list is empty by default, which makes the redact and sign stages pass-throughs.
//! A redaction crate plugs in by implementing [`Redactor`] and pushing it onto
//! [`Hooks::redactors`]; a signing crate implements [`Signer`], whose attachments the write
//! stage writes next to the receipt (`<receipt path><suffix>`), atomically, after the receipt.

use crate::{RunPlan, Stage};
use glasshouse_policy::Policy;
use glasshouse_receipt::Receipt;

/// An error a hook reports; the pipeline names the stage it failed in.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HookError(pub String);

/// Rewrites the finished, judged receipt before it is signed or written (redaction).
pub trait Redactor: Send {
    /// Changes `receipt` in place. Legacy fields are derived again afterwards.
    fn redact(&mut self, receipt: &mut Receipt) -> Result<(), HookError>;
}

/// Produces files that accompany the receipt (a signed envelope, say) from its final form.
pub trait Signer: Send {
    /// What to write next to the receipt.
    fn sign(&mut self, receipt: &Receipt) -> Result<Vec<Attachment>, HookError>;
}

/// A file written next to the receipt, at the receipt's path with `suffix` appended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attachment {
    /// Appended to the receipt's path, e.g. `.dsse.json`.
    pub suffix: String,
    /// The file's contents.
    pub bytes: Vec<u8>,
}

impl Attachment {
    /// An attachment written at `<receipt path><suffix>`.
    pub fn new(suffix: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            suffix: suffix.into(),
            bytes,
        }
    }
}

/// Sees the run as it goes: each stage is announced before it starts. The seam for a live
/// event stream (`--events`); an observer must not block, and never changes the receipt.
pub trait Observer: Send {
    /// `stage` is about to start.
    fn stage(&mut self, stage: Stage);
    /// The command was started with this pid (after the spawn stage).
    fn spawned(&mut self, _pid: u32) {}
    /// Run `run_id` (the receipt's `execution_id`) is about to start its sensor: a sink that
    /// should receive the sensor's events as they are recorded, if any. Only the first
    /// observer's sink is used.
    fn event_sink(&mut self, _run_id: &str) -> Option<glasshouse_events::EventSink> {
        None
    }
}

/// Turns the compiled policy into enforcement before the command starts (a sandboxing
/// backend, an allowlisting proxy). Called at the end of the check stage; an error refuses
/// the run before anything started.
pub trait Enforcer: Send {
    /// Prepares enforcement of `policy` (none when the run has no policy) for `plan`.
    fn prepare(&mut self, policy: Option<&Policy>, plan: &RunPlan) -> Result<(), HookError>;
}

/// Every hook a run has; [`Hooks::default`] has none.
#[derive(Default)]
#[non_exhaustive]
pub struct Hooks {
    /// Told about every stage.
    pub observers: Vec<Box<dyn Observer>>,
    /// Prepares enforcement before spawn.
    pub enforcer: Option<Box<dyn Enforcer>>,
    /// The redact stage, in order.
    pub redactors: Vec<Box<dyn Redactor>>,
    /// The sign stage, in order.
    pub signers: Vec<Box<dyn Signer>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("observers", &self.observers.len())
            .field("enforcer", &self.enforcer.is_some())
            .field("redactors", &self.redactors.len())
            .field("signers", &self.signers.len())
            .finish()
    }
}

impl Hooks {
    pub(crate) fn stage(&mut self, stage: Stage) {
        for o in &mut self.observers {
            o.stage(stage);
        }
    }

    pub(crate) fn event_sink(&mut self, run_id: &str) -> Option<glasshouse_events::EventSink> {
        self.observers.iter_mut().find_map(|o| o.event_sink(run_id))
    }

    pub(crate) fn spawned(&mut self, pid: u32) {
        for o in &mut self.observers {
            o.spawned(pid);
        }
    }
}

//! Temporary stand-in until the policy crate lands.
use glasshouse_receipt::Receipt;
use std::path::Path;

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Not yet available.
    Check,
}

pub fn run(_: PolicyCommand) -> i32 {
    eprintln!("glasshouse: error: policy evaluation is not available in this build");
    2
}

pub struct LoadedPolicy;

impl LoadedPolicy {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        anyhow::bail!(
            "cannot use policy {}: policy evaluation is not available in this build",
            path.display()
        )
    }
    pub fn apply(&self, _: &mut Receipt) -> bool {
        false
    }
}

//! glasshouse policies: parse a TOML policy, compile it, and judge a receipt against it.
//!
//! The crate is pure: no clock, no environment, no file or network I/O. The same policy bytes
//! and the same receipt give byte-identical output on every machine, whatever the order of the
//! receipt's lists. Enforcement lives elsewhere; this crate only says what a recorded run did
//! that the policy does not allow.
//!
//! ```
//! use glasshouse_policy::{Action, Context, Effect, Policy};
//!
//! let policy = Policy::parse(
//!     br#"
//! version = 1
//! default = "allow"
//!
//! [[rule]]
//! name = "ssh-keys"
//! effect = "deny"
//! action = "read"
//! target = "${HOME}/.ssh/**"
//! reason = "SSH keys are secrets"
//! "#,
//!     "example.toml",
//! )?;
//! let context = Context::new(None, Some("/home/ada".into()));
//! let decision = policy.decide(Action::Read, b"/home/ada/.ssh/id_ed25519", &context);
//! assert_eq!(decision.effect, Effect::Deny);
//! assert_eq!(decision.rule, "ssh-keys");
//! # Ok::<(), glasshouse_policy::PolicyError>(())
//! ```
//!
//! The format, the glob rules and the connect target forms are described in `docs/policy.md`.

mod context;
mod error;
mod eval;
mod explain;
mod glob;
mod net;
mod policy;
mod shape;

pub use context::{Context, Variable};
pub use error::{PolicyError, Problem};
pub use eval::{violation_line, Decision, Judged, Status, Verdict, DEFAULT_RULE};
pub use explain::{Explanation, Finding, RuleFinding};
pub use policy::{Action, Effect, Policy, Rule, Severity, UnknownAction, SUPPORTED_VERSION};
pub use shape::PathShape;

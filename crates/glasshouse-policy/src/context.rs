//! What `${CWD}` and `${HOME}` mean: the run's own values as recorded in its receipt, never the
//! evaluator's environment, so that a receipt is judged the same on every machine.

use glasshouse_receipt::{OsText, Receipt};
use std::fmt;

/// A variable a path pattern may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Variable {
    /// `${CWD}`: the directory the command was started in.
    Cwd,
    /// `${HOME}`: the command's `HOME`.
    Home,
}

impl Variable {
    /// The name as written between `${` and `}`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cwd => "CWD",
            Self::Home => "HOME",
        }
    }
}

impl fmt::Display for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{}}}", self.name())
    }
}

/// The values patterns expand to.
///
/// A value that is absent, empty or not absolute counts as unknown: a rule naming an unknown
/// variable matches nothing, because expanding it to anything else (an empty string, `/`) would
/// make the rule mean something its author did not write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The value of `${CWD}`.
    pub cwd: Option<OsText>,
    /// The value of `${HOME}`.
    pub home: Option<OsText>,
}

impl Context {
    /// A context from explicit values.
    pub fn new(cwd: Option<OsText>, home: Option<OsText>) -> Self {
        Self { cwd, home }
    }

    /// The context a receipt records: `environment.working_dir` and `environment.home`.
    pub fn from_receipt(receipt: &Receipt) -> Self {
        Self {
            cwd: receipt.environment.working_dir.clone(),
            home: receipt.environment.home.clone(),
        }
    }

    /// The usable value of `variable`, if it has one.
    pub fn value(&self, variable: Variable) -> Option<&[u8]> {
        let value = match variable {
            Variable::Cwd => self.cwd.as_ref(),
            Variable::Home => self.home.as_ref(),
        }?;
        let bytes = value.as_bytes();
        (bytes.first() == Some(&b'/')).then_some(bytes)
    }
}

//! ANSI styling that is either on or off: the caller decides (terminal, `NO_COLOR`, `--color`).

use std::fmt::Display;

/// How text is styled: plain, or with ANSI colors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Plain text.
    pub const PLAIN: Style = Style { color: false };
    /// ANSI colors.
    pub const COLOR: Style = Style { color: true };

    /// Colors when `color` is true.
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    fn paint(self, code: &str, text: impl Display) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// A problem: incomplete coverage, a violation, something only the new run did.
    pub fn bad(self, text: impl Display) -> String {
        self.paint("1;31", text)
    }

    /// Worth a look, not a problem by itself.
    pub fn warn(self, text: impl Display) -> String {
        self.paint("33", text)
    }

    /// All well; also what only the old run did, in a diff.
    pub fn good(self, text: impl Display) -> String {
        self.paint("32", text)
    }

    /// A heading.
    pub fn head(self, text: impl Display) -> String {
        self.paint("1", text)
    }

    /// Secondary detail: folds, counts of what is hidden.
    pub fn dim(self, text: impl Display) -> String {
        self.paint("2", text)
    }
}

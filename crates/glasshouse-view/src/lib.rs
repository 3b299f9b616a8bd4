//! glasshouse's views of receipts for people: [`show`] renders the summary a person reads in ten
//! seconds, [`diff`] compares two runs (the CI gate: a known-good baseline against today's run).
//!
//! The crate is pure: it takes parsed receipts and returns text or serializable values, so the
//! `show` and `diff` subcommands and `run --summary` render the same thing. Whether to color is
//! the caller's decision ([`Style`]).

pub mod diff;
pub mod diff_text;
mod enforcement;
mod fold;
pub mod show;
mod style;
pub mod volatile;

pub use diff::{Diff, DiffOptions};
pub use diff_text::RenderOptions as DiffRenderOptions;
pub use show::{render as render_show, ShowOptions};
pub use style::Style;

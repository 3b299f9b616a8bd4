//! Who the command ran as (`execution.user`).

use crate::OsText;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Since v0.4.0: the credentials the command started with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct CommandUser {
    /// Its user id (real, effective and saved alike).
    pub uid: u32,
    /// Its group id (real, effective and saved alike).
    pub gid: u32,
    /// Its supplementary groups, sorted.
    #[serde(default)]
    pub groups: Vec<u32>,
    /// The user's name in the passwd database, when it has an entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<OsText>,
    /// How it was chosen: `caller` (glasshouse's own user: root started it directly, or it
    /// ran without root), `sudo` (the user sudo named in `SUDO_UID`), `--user` (the option).
    pub source: String,
}

impl CommandUser {
    /// A record of the command's user.
    pub fn new(uid: u32, gid: u32, groups: Vec<u32>, name: Option<OsText>, source: &str) -> Self {
        Self {
            uid,
            gid,
            groups,
            name,
            source: source.to_owned(),
        }
    }
}

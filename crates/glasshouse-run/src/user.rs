//! Who the command runs as, and who owns the receipt: resolved in the check stage, before
//! anything runs.
//!
//! glasshouse runs as root (to load its sensor). Started through sudo (real uid 0 and
//! `SUDO_UID` set), the *invoking user* is the one sudo names, and the command runs as that
//! user unless `--user` chooses another; running it as root then takes `--user root`. Started
//! by root directly, the invoking user is root and so is the command. Without root, glasshouse
//! cannot change users: the command runs as glasshouse's own user and `--user` is refused
//! unless it names that user. The receipt and its attachments belong to the invoking user.

use crate::RunError;
use glasshouse_backend::{Credentials, Login};
use glasshouse_receipt::{CommandUser, OsText};
use nix::unistd::{Gid, Uid, User};
use std::ffi::{CString, OsString};

/// The user of a run, as the check stage resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunUser {
    /// What the command runs as.
    pub command: Credentials,
    /// Whether the backend must switch to it (false when it is glasshouse's own user).
    pub switch: bool,
    /// The uid and gid that get the receipt and its attachments (`None`: glasshouse's own):
    /// the invoking user's.
    pub receipt_owner: Option<(u32, u32)>,
    /// Under sudo, the invoking user (the one sudo names), whose rights glasshouse reads the
    /// files they name with (see [`crate::access::read_as`]).
    pub invoker: Option<Credentials>,
    /// How the user was chosen (`caller`, `sudo`, `--user`), for the receipt.
    pub source: &'static str,
}

impl RunUser {
    /// The receipt's record of the command's user.
    pub fn record(&self) -> CommandUser {
        let c = &self.command;
        let name = c.login.as_ref().map(|l| OsText::from(l.name.as_os_str()));
        CommandUser::new(c.uid, c.gid, c.groups.clone(), name, self.source)
    }

    /// The command's `HOME`: the user's home when it runs as another user, else glasshouse's.
    pub fn home(&self) -> Option<OsString> {
        if self.switch {
            self.command.login.as_ref().map(|l| l.home.clone())
        } else {
            std::env::var_os("HOME")
        }
    }

    /// Whether the command runs as root, and can therefore reach the sensor.
    pub fn privileged(&self) -> bool {
        self.command.uid == 0
    }
}

fn refused(message: String) -> RunError {
    RunError::Refused(message)
}

/// A passwd entry's credentials: its uid, `gid` (the entry's own unless given) and the groups
/// the group database gives its name.
fn credentials_of(user: &User, gid: Option<u32>) -> Result<Credentials, RunError> {
    let gid = gid.unwrap_or(user.gid.as_raw());
    let name = CString::new(user.name.as_bytes())
        .map_err(|_| refused(format!("user {:?} has a NUL byte in its name", user.name)))?;
    let groups = nix::unistd::getgrouplist(&name, Gid::from_raw(gid)).map_err(|e| {
        refused(format!(
            "cannot read the groups of user {} from the group database: {e}; check /etc/group and nsswitch.conf",
            user.name
        ))
    })?;
    let login = Login::new(
        OsString::from(user.name.clone()),
        user.dir.clone().into_os_string(),
    );
    Ok(Credentials::new(
        user.uid.as_raw(),
        gid,
        groups.iter().map(|g| g.as_raw()).collect(),
        Some(login),
    ))
}

fn lookup_uid(uid: u32) -> Result<Option<User>, RunError> {
    User::from_uid(Uid::from_raw(uid)).map_err(|e| {
        refused(format!(
            "cannot read uid {uid} from the passwd database: {e}; check /etc/passwd and nsswitch.conf"
        ))
    })
}

/// `--user NAME|UID`: a user name first, else a number (as chown does).
fn chosen(spec: &str) -> Result<Credentials, RunError> {
    let by_name = User::from_name(spec).map_err(|e| {
        refused(format!(
            "--user {spec}: cannot read the passwd database: {e}; check /etc/passwd and nsswitch.conf"
        ))
    })?;
    let user = match (by_name, spec.parse::<u32>()) {
        (Some(user), _) => user,
        (None, Ok(uid)) => lookup_uid(uid)?.ok_or_else(|| {
            refused(format!(
                "--user {spec}: uid {uid} has no entry in the passwd database, so its group and home are unknown; create the user or give one that exists (getent passwd lists them)"
            ))
        })?,
        (None, Err(_)) => {
            return Err(refused(format!(
                "--user {spec}: no such user in the passwd database; give an existing user name or uid (getent passwd lists them)"
            )))
        }
    };
    credentials_of(&user, None)
}

/// A `SUDO_UID`/`SUDO_GID` value, which must be a number when set.
fn sudo_id(var: &str) -> Result<Option<u32>, RunError> {
    match std::env::var_os(var) {
        None => Ok(None),
        Some(v) => v.to_str().and_then(|s| s.parse::<u32>().ok()).map(Some).ok_or_else(|| {
            refused(format!(
                "{var} is {v:?}, not a number: glasshouse runs the command as the user sudo names in SUDO_UID and SUDO_GID; start glasshouse through sudo, or unset {var} to run the command as root"
            ))
        }),
    }
}

/// The user sudo names: `SUDO_UID`, `SUDO_GID` (else the passwd entry's group) and the groups
/// of the passwd entry's name. A uid without an entry keeps only its group, and gets no
/// `HOME`, `USER` or `LOGNAME`.
fn sudo_user(uid: u32) -> Result<Credentials, RunError> {
    let gid = sudo_id("SUDO_GID")?;
    match lookup_uid(uid)? {
        Some(user) => credentials_of(&user, gid),
        None => {
            let gid = gid.ok_or_else(|| {
                refused(format!(
                    "SUDO_UID {uid} has no entry in the passwd database and SUDO_GID is not set, so the command's group is unknown; set SUDO_GID or run glasshouse through sudo"
                ))
            })?;
            Ok(Credentials::new(uid, gid, vec![gid], None))
        }
    }
}

/// glasshouse's own credentials, as the command inherits them without a switch.
fn own() -> Result<Credentials, RunError> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let groups = nix::unistd::getgroups()
        .map_err(|e| refused(format!("cannot read glasshouse's own groups: {e}")))?;
    let login = lookup_uid(uid)?.map(|u| {
        Login::new(
            OsString::from(u.name),
            std::env::var_os("HOME").unwrap_or_else(|| u.dir.into_os_string()),
        )
    });
    Ok(Credentials::new(
        uid,
        gid,
        groups.iter().map(|g| g.as_raw()).collect(),
        login,
    ))
}

/// Under sudo (glasshouse is root and `SUDO_UID` is set): the invoking user, with whose rights
/// the files they name are read; `None` otherwise.
pub fn invoker() -> Result<Option<Credentials>, RunError> {
    if !rustix::process::getuid().is_root() {
        return Ok(None);
    }
    sudo_id("SUDO_UID")?.map(sudo_user).transpose()
}

/// Resolves who the command runs as (`requested`: the `--user` value) and who gets the
/// receipt. Every problem is a refusal that names the fix.
pub fn resolve(requested: Option<&str>) -> Result<RunUser, RunError> {
    let root = rustix::process::getuid().is_root();
    if !root {
        let own = own()?;
        if let Some(spec) = requested {
            let wanted = chosen(spec)?;
            if wanted.uid != own.uid {
                return Err(refused(format!(
                    "--user {spec} needs glasshouse to run as root (it changes the command's user); start glasshouse with sudo"
                )));
            }
        }
        return Ok(RunUser {
            command: own,
            switch: false,
            receipt_owner: None,
            invoker: None,
            source: "caller",
        });
    }
    let invoker = invoker()?;
    let (command, source) = match (requested, &invoker) {
        (Some(spec), _) => (chosen(spec)?, "--user"),
        (None, Some(user)) => (user.clone(), "sudo"),
        (None, None) => (own()?, "caller"),
    };
    Ok(RunUser {
        switch: source != "caller",
        command,
        receipt_owner: invoker.as_ref().map(|u| (u.uid, u.gid)),
        invoker,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uids_resolve_through_the_passwd_database() {
        let root = chosen("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        assert_eq!(chosen("0").unwrap(), root);
        let err = chosen("glasshouse-no-such-user").unwrap_err().to_string();
        assert!(err.contains("no such user"), "{err}");
        assert!(err.contains("getent passwd"), "{err}");
    }
}

//! The user a command runs as, and the switch to it in the child between fork and exec.
//!
//! glasshouse is multithreaded when it forks the command. The C library's setuid, setgid and
//! setgroups change the credentials of every thread of the process (they signal the others and
//! wait for them), which in a forked child, where those threads do not exist, can misbehave or
//! hang. The switch therefore uses the raw system calls, which change the calling thread only:
//! in the child that is the whole process. Nothing here allocates.

use rustix::process::{Gid, Uid};
use rustix::thread::{CapabilitySet, CapabilitySets};

/// Who the command runs as: its real, effective and saved user and group ids, and its
/// supplementary groups.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// The supplementary groups, sorted and without duplicates (the kernel keeps them sorted,
    /// so they read back in this order).
    pub groups: Vec<u32>,
    /// `HOME`, `USER` and `LOGNAME` for the command's environment: the user's home and name
    /// from the passwd database. `None` when the user has no entry there: the three are then
    /// removed rather than left at glasshouse's values.
    pub login: Option<Login>,
}

/// A user's name and home directory, as the passwd database has them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Login {
    /// The user name (`USER`, `LOGNAME`).
    pub name: std::ffi::OsString,
    /// The home directory (`HOME`).
    pub home: std::ffi::OsString,
}

impl Credentials {
    /// Credentials for `uid`/`gid` with `groups` (sorted and deduplicated here).
    pub fn new(uid: u32, gid: u32, mut groups: Vec<u32>, login: Option<Login>) -> Self {
        groups.sort_unstable();
        groups.dedup();
        Self {
            uid,
            gid,
            groups,
            login,
        }
    }

    /// The environment variables the command gets for this user: `(name, Some(value))` to
    /// set, `(name, None)` to remove.
    pub fn environment(&self) -> [(&'static str, Option<&std::ffi::OsStr>); 3] {
        let login = self.login.as_ref();
        [
            ("HOME", login.map(|l| l.home.as_os_str())),
            ("USER", login.map(|l| l.name.as_os_str())),
            ("LOGNAME", login.map(|l| l.name.as_os_str())),
        ]
    }
}

impl Login {
    /// A user's name and home.
    pub fn new(name: std::ffi::OsString, home: std::ffi::OsString) -> Self {
        Self { name, home }
    }
}

/// What the switch in the child needs, prepared by the parent: the groups as the kernel takes
/// them and room to read them back.
pub(crate) struct Switch {
    uid: Uid,
    gid: Gid,
    groups: Vec<Gid>,
    readback: Vec<libc::gid_t>,
}

impl Switch {
    pub(crate) fn new(c: &Credentials) -> Self {
        Self {
            uid: Uid::from_raw(c.uid),
            gid: Gid::from_raw(c.gid),
            groups: c.groups.iter().map(|g| Gid::from_raw(*g)).collect(),
            // One more than expected, so that a longer list than set reads back as different.
            readback: vec![0; c.groups.len() + 1],
        }
    }

    /// Becomes the user, in the order that keeps the privilege each step needs (groups and
    /// group while still root, the user last), then checks that the kernel holds exactly those
    /// credentials and, for a user other than root, no capability at all. Runs in the child
    /// between fork and exec: raw system calls only. Returns the errno of what failed
    /// (`EPERM` when a check finds other credentials than asked for).
    pub(crate) fn apply(&mut self) -> Result<(), i32> {
        let errno = |e: rustix::io::Errno| e.raw_os_error();
        rustix::thread::set_thread_groups(&self.groups).map_err(errno)?;
        rustix::thread::set_thread_res_gid(self.gid, self.gid, self.gid).map_err(errno)?;
        // Ambient capabilities would survive exec for a non-root user: none may.
        rustix::thread::clear_ambient_capability_set().map_err(errno)?;
        rustix::thread::set_thread_res_uid(self.uid, self.uid, self.uid).map_err(errno)?;
        if !self.uid.is_root() {
            // The kernel clears the permitted and effective sets when the last root id goes,
            // but not the inheritable one, which a file's inheritable capabilities would turn
            // into real ones at exec. Lowering sets needs no privilege.
            let none = CapabilitySets {
                effective: CapabilitySet::empty(),
                permitted: CapabilitySet::empty(),
                inheritable: CapabilitySet::empty(),
            };
            rustix::thread::set_capabilities(None, none).map_err(errno)?;
        }
        self.verify()
    }

    fn verify(&mut self) -> Result<(), i32> {
        let (mut ids, mut gids) = ([0 as libc::uid_t; 3], [0 as libc::gid_t; 3]);
        let (u, g) = (ids.as_mut_ptr(), gids.as_mut_ptr());
        // SAFETY: getresuid/getresgid write three ids into live arrays of three; getgroups
        // writes at most `readback.len()` entries into a buffer of that length.
        let count = unsafe {
            if libc::syscall(libc::SYS_getresuid, u, u.add(1), u.add(2)) != 0
                || libc::syscall(libc::SYS_getresgid, g, g.add(1), g.add(2)) != 0
            {
                return Err(libc::EPERM);
            }
            libc::syscall(
                libc::SYS_getgroups,
                self.readback.len() as libc::c_long,
                self.readback.as_mut_ptr(),
            )
        };
        let groups_match = usize::try_from(count).is_ok_and(|n| {
            n == self.groups.len()
                && self
                    .readback
                    .iter()
                    .zip(&self.groups)
                    .all(|(got, want)| *got == want.as_raw())
        });
        let ids_match = ids.iter().all(|u| *u == self.uid.as_raw())
            && gids.iter().all(|g| *g == self.gid.as_raw());
        let caps_clear = self.uid.is_root()
            || rustix::thread::capabilities(None).is_ok_and(|c| {
                c.effective.is_empty() && c.permitted.is_empty() && c.inheritable.is_empty()
            });
        if groups_match && ids_match && caps_clear {
            Ok(())
        } else {
            Err(libc::EPERM)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_sorted_and_deduplicated_and_the_environment_follows_the_login() {
        let c = Credentials::new(
            1000,
            1000,
            vec![27, 1000, 27, 4],
            Some(Login::new("ada".into(), "/home/ada".into())),
        );
        assert_eq!(c.groups, vec![4, 27, 1000]);
        let env = c.environment();
        assert_eq!(env[0], ("HOME", Some(std::ffi::OsStr::new("/home/ada"))));
        assert_eq!(env[2], ("LOGNAME", Some(std::ffi::OsStr::new("ada"))));
        let unknown = Credentials::new(4242, 4242, vec![4242], None);
        assert!(unknown.environment().iter().all(|(_, v)| v.is_none()));
    }
}

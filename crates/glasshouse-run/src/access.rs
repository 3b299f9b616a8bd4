//! What another user may do with a file: asked of the kernel on a thread of its own whose
//! file-system ids and groups are that user's, so that nothing else of glasshouse (root) ever
//! runs with them. Used where root acts for the user: the receipt's directory, the signing key,
//! the policy and redaction rules a user names under sudo.

use glasshouse_backend::Credentials;
use std::ffi::CString;
use std::os::fd::{AsRawFd as _, BorrowedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

/// Create files in a directory (write and search).
pub const WRITE: i32 = libc::W_OK | libc::X_OK;
/// Read a file.
pub const READ: i32 = libc::R_OK;

/// Whether the user `uid`/`gid` with `groups` (none given: glasshouse's own, which errs towards
/// "allowed") may do `mode` ([`READ`], [`WRITE`]) to `path` relative to `dir`, or to `dir` itself
/// when `path` is `None`. Any failure to ask counts as allowed for [`READ`] (the caller refuses
/// what a user could read) and as refused for [`WRITE`].
pub fn allowed(
    dir: Option<BorrowedFd<'_>>,
    path: Option<&Path>,
    uid: u32,
    gid: u32,
    groups: &[u32],
    mode: i32,
) -> bool {
    let fd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    let failed = mode == READ;
    let Ok(name) = CString::new(path.map_or(&[][..], |p| p.as_os_str().as_bytes())) else {
        return failed;
    };
    let flags = libc::AT_EACCESS
        | if path.is_none() && dir.is_some() {
            libc::AT_EMPTY_PATH
        } else {
            0
        };
    as_user(uid, gid, groups, || {
        // SAFETY: a raw system call on plain integers and a NUL-terminated path that outlives
        // it.
        Some(unsafe { libc::syscall(libc::SYS_faccessat2, fd, name.as_ptr(), mode, flags) } == 0)
    })
    .unwrap_or(failed)
}

/// Reads the file at `path` as `reader` would (its ids and groups decide whether it may be
/// opened, through every directory and symlink of the path, in one open), or as glasshouse when
/// `reader` is `None` or root. Used for the files a user names under sudo (`--policy`,
/// `--redaction-rules`): root does not read for them what they could not read themselves.
pub fn read_as(path: &Path, reader: Option<&Credentials>) -> std::io::Result<Vec<u8>> {
    let Some(user) = reader.filter(|u| u.uid != 0) else {
        return std::fs::read(path);
    };
    let opened = as_user(user.uid, user.gid, &user.groups, || {
        Some(std::fs::File::open(path))
    });
    let mut file = opened.unwrap_or_else(|| {
        Err(std::io::Error::other(format!(
            "cannot take the ids of uid {} to open it",
            user.uid
        )))
    })?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok(bytes)
}

/// How an error reading a file for `reader` names the reader: empty for glasshouse itself.
pub fn as_whom(reader: Option<&Credentials>) -> String {
    match reader {
        Some(user) if user.uid != 0 => format!(
            " as uid {}, the user who started glasshouse through sudo (glasshouse reads the files that user names with that user's rights; name one they can read)",
            user.uid
        ),
        _ => String::new(),
    }
}

/// Runs `f` on a thread of its own whose file-system ids are `uid`/`gid` and whose groups are
/// `groups` (unchanged when empty). `None` when the ids could not be taken, or `f` said so.
fn as_user<T: Send>(
    uid: u32,
    gid: u32,
    groups: &[u32],
    f: impl FnOnce() -> Option<T> + Send,
) -> Option<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: raw per-thread system calls on plain integers and a slice that outlives
            // them; the thread ends right after `f`, so its changed ids go with it (the C
            // library's wrappers would change every thread's).
            let taken = unsafe {
                (groups.is_empty()
                    || libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) == 0)
                    && {
                        libc::syscall(libc::SYS_setfsgid, gid);
                        libc::syscall(libc::SYS_setfsuid, uid);
                        libc::syscall(libc::SYS_setfsuid, uid) == i64::from(uid)
                            && libc::syscall(libc::SYS_setfsgid, gid) == i64::from(gid)
                    }
            };
            if taken {
                f()
            } else {
                None
            }
        })
        .join()
        .ok()
        .flatten()
    })
}

//! What another user may do with a file: asked of the kernel on a thread of its own whose
//! file-system ids and groups are that user's, so that nothing else of glasshouse (root) ever
//! runs with them. Used where root acts for the user: the receipt's directory, the signing key.

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
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: raw per-thread system calls on plain integers, a slice that outlives
            // them and a NUL-terminated path; the thread ends right after, so its changed ids
            // go with it (the C library's wrappers would change every thread's).
            unsafe {
                if !groups.is_empty()
                    && libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) != 0
                {
                    return failed;
                }
                libc::syscall(libc::SYS_setfsgid, gid);
                libc::syscall(libc::SYS_setfsuid, uid);
                if libc::syscall(libc::SYS_setfsuid, uid) != i64::from(uid)
                    || libc::syscall(libc::SYS_setfsgid, gid) != i64::from(gid)
                {
                    return failed;
                }
                libc::syscall(libc::SYS_faccessat2, fd, name.as_ptr(), mode, flags) == 0
            }
        })
        .join()
        .unwrap_or(failed)
    })
}

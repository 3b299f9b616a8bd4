//! What another user may do with a file: asked of the kernel, or done, on a thread of its own
//! that has become that user (ids, groups, no capability), so that nothing else of glasshouse
//! (root) ever runs as them. Used where root acts for the user: the receipt's directory, the
//! signing key, and the policies, redaction rules and receipts a user names under sudo.

use glasshouse_backend::Credentials;
use std::ffi::CString;
use std::os::fd::{AsRawFd as _, BorrowedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

/// Create files in a directory (write and search).
pub const WRITE: i32 = libc::W_OK | libc::X_OK;
/// Read a file.
pub const READ: i32 = libc::R_OK;

/// Whether the user `uid`/`gid` with exactly `groups` may do `mode` ([`READ`], [`WRITE`]) to
/// `path` relative to `dir`, or to `dir` itself when `path` is `None`. Any failure to ask counts
/// as allowed for [`READ`] (the caller refuses what a user could read) and as refused for
/// [`WRITE`].
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

/// Largest file read for a user (a policy of 40,000 rules is about 4 MiB).
const READ_LIMIT: u64 = 64 << 20;

/// Reads the file at `path` as `reader` would (its ids, groups and no capability decide whether
/// it may be opened, through every directory and symlink of the path, in one open, and what it
/// shows), or as glasshouse when `reader` is `None` or root. Used for the files a user names
/// under sudo (`--policy`, `--redaction-rules`): root does not read for them what they could not
/// read themselves. For a user, only a regular file outside `/proc` is read, and at most
/// [`READ_LIMIT`] bytes of it.
pub fn read_as(path: &Path, reader: Option<&Credentials>) -> std::io::Result<Vec<u8>> {
    match reader.filter(|u| u.uid != 0) {
        None => std::fs::read(path),
        Some(user) => acting_as(user, || {
            use std::io::Read as _;
            let mut bytes = Vec::new();
            open_regular(path)?
                .take(READ_LIMIT + 1)
                .read_to_end(&mut bytes)?;
            if bytes.len() as u64 > READ_LIMIT {
                return Err(std::io::Error::other(format!(
                    "it is larger than {} MiB",
                    READ_LIMIT >> 20
                )));
            }
            Ok(bytes)
        }),
    }
}

/// Opens the file at `path` for reading as `reader` would ([`read_as`], for files too large to
/// hold whole, such as receipts: what is read from it later is what that open allowed).
pub fn open_as(path: &Path, reader: Option<&Credentials>) -> std::io::Result<std::fs::File> {
    match reader.filter(|u| u.uid != 0) {
        None => std::fs::File::open(path),
        Some(user) => acting_as(user, || open_regular(path)),
    }
}

/// [`read_as`], its error as a sentence naming `what` was read, the path and, under sudo, the
/// user it was read as.
pub fn read_for(what: &str, path: &Path, reader: Option<&Credentials>) -> Result<Vec<u8>, String> {
    read_as(path, reader).map_err(|e| cannot_read(what, path, reader, &e))
}

/// [`open_as`], its error as [`read_for`] words it.
pub fn open_for(
    what: &str,
    path: &Path,
    reader: Option<&Credentials>,
) -> Result<std::fs::File, String> {
    open_as(path, reader).map_err(|e| cannot_read(what, path, reader, &e))
}

fn cannot_read(
    what: &str,
    path: &Path,
    reader: Option<&Credentials>,
    e: &std::io::Error,
) -> String {
    let whom = match reader {
        Some(user) if user.uid != 0 => format!(
            " as uid {}, the user who started glasshouse through sudo (glasshouse reads the files that user names with that user's rights; name one they can read, or, in a root shell opened with sudo -i, unset SUDO_UID and SUDO_GID)",
            user.uid
        ),
        _ => String::new(),
    };
    format!("cannot read {what} {}{whom}: {e}", path.display())
}

/// Opens `path` without waiting (a FIFO would hold the acting thread, as the user, for as long
/// as nobody writes) and keeps it only when it is a regular file outside `/proc` (whose files
/// show the acting thread's own process, glasshouse, to it).
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, fstat, fstatfs, FileType, Mode, OFlags};
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    if FileType::from_raw_mode(fstat(&fd)?.st_mode) != FileType::RegularFile {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    if fstatfs(&fd)?.f_type as i64 == PROC_SUPER_MAGIC {
        return Err(std::io::Error::other("it is a file of /proc"));
    }
    fcntl_setfl(&fd, fcntl_getfl(&fd)? - OFlags::NONBLOCK)?;
    Ok(std::fs::File::from(fd))
}

/// `f` on a thread that has become `user` ([`as_user`]).
fn acting_as<T: Send>(
    user: &Credentials,
    f: impl FnOnce() -> std::io::Result<T> + Send,
) -> std::io::Result<T> {
    as_user(user.uid, user.gid, &user.groups, || Some(f())).unwrap_or_else(|| {
        Err(std::io::Error::other(format!(
            "cannot take the ids of uid {} to open it",
            user.uid
        )))
    })
}

/// Runs `f` on a thread of its own that has become the user `uid`/`gid` with exactly `groups`:
/// real, effective, saved and file-system ids, and (for a user other than root) no capability
/// at all, so that nothing root could see beyond the permission bits shows either. `None` when
/// the thread could not become that user, or `f` said so.
fn as_user<T: Send>(
    uid: u32,
    gid: u32,
    groups: &[u32],
    f: impl FnOnce() -> Option<T> + Send,
) -> Option<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: raw per-thread system calls on plain integers, a slice and two structs
            // on the stack that outlive them; the thread ends right after `f`, so what it gave
            // up goes with it (the C library's wrappers would change every thread of
            // glasshouse).
            let became = unsafe {
                libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) == 0
                    && libc::syscall(libc::SYS_setresgid, gid, gid, gid) == 0
                    && libc::syscall(libc::SYS_setresuid, uid, uid, uid) == 0
                    && (uid == 0 || drop_capabilities())
            };
            if became {
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

/// Empties this thread's capability sets (the kernel already did when its uids left root;
/// this makes sure of it).
///
/// # Safety
/// A raw capset(2) on this thread with structs of the kernel's version-3 layout.
unsafe fn drop_capabilities() -> bool {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: the caller's: the header and the two data structs are valid for the call.
    unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) == 0 }
}

#[cfg(test)]
mod tests {
    use super::as_user;

    /// The thread that acts for a user has that user's ids and groups and no capability left;
    /// the calling thread keeps its own.
    #[test]
    fn the_acting_thread_is_the_user_and_holds_no_capability() {
        assert!(
            rustix::process::geteuid().is_root(),
            "this test switches users: run it as root"
        );
        let status = || std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let field = |text: &str, name: &str| -> String {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        let theirs = as_user(65534, 65534, &[65534], || Some(status())).unwrap();
        assert_eq!(field(&theirs, "Uid:"), "65534 65534 65534 65534");
        assert_eq!(field(&theirs, "Gid:"), "65534 65534 65534 65534");
        assert_eq!(field(&theirs, "Groups:"), "65534");
        for set in ["CapInh:", "CapPrm:", "CapEff:", "CapAmb:"] {
            assert_eq!(field(&theirs, set), "0000000000000000", "{set}\n{theirs}");
        }
        assert_eq!(
            field(&status(), "Uid:"),
            "0 0 0 0",
            "the caller is still root"
        );
    }
}

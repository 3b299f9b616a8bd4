//! Atomic writes through a directory held open: a temporary file created in it (mode 0600, never
//! following a link), filled, given to its owner, synced, then renamed to its name in that same
//! directory.
//!
//! The directory is a descriptor, not a path, so that the write lands where the directory was
//! when it was opened: a root glasshouse opens the receipt's directory before the command runs,
//! and a command that then replaces that path with a symlink (to a directory only root may
//! write) cannot redirect the write.

use crate::ReceiptError;
use rustix::fs::{AtFlags, Mode, OFlags};
use std::ffi::{OsStr, OsString};
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// A directory held open for [`write_in`].
#[derive(Debug)]
pub struct HeldDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl HeldDir {
    /// Opens the directory `path` (following symlinks now, once).
    pub fn open(path: &Path) -> Result<Self, ReceiptError> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ReceiptError::Io {
            action: "cannot open the receipt's directory",
            path: path.to_owned(),
            cause: e.into(),
        })?;
        Ok(Self {
            fd,
            path: path.to_owned(),
        })
    }

    /// Opens the directory a file at `path` goes to (`.` for a bare name), and returns that
    /// file's name in it.
    pub fn of_file(path: &Path) -> Result<(Self, OsString), ReceiptError> {
        let name = path.file_name().ok_or_else(|| ReceiptError::Io {
            action: "cannot write receipt to",
            path: path.to_owned(),
            cause: std::io::Error::new(std::io::ErrorKind::InvalidInput, "it names no file"),
        })?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        Ok((Self::open(dir)?, name.to_owned()))
    }

    /// The path the directory was opened by (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::os::fd::AsFd for HeldDir {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The temporary name's length (`.receipt-XXXXXX.tmp`): a receipt path's directory must take
/// names this long.
pub const TEMP_NAME_LEN: usize = 19;

/// A temporary name for attempt `attempt`: six letters or digits that differ between processes,
/// calls and attempts. `O_EXCL` makes a taken name a retry, never a write into another's file.
fn temp_name(attempt: u32) -> String {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut x = u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(nanos).rotate_left(21)
        ^ calls.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ u64::from(attempt).rotate_left(42);
    let mut name = String::from(".receipt-");
    for _ in 0..6 {
        name.push(char::from(DIGITS[(x % 62) as usize]));
        x /= 62;
    }
    name.push_str(".tmp");
    name
}

/// Writes whatever `fill` writes to `name` in `dir`, atomically: into a new temporary file there
/// (mode 0600), buffered, synced, given to `owner` (uid, gid) if one is named, then renamed to
/// `name`. On any error `name` is untouched and the temporary file removed. `shown` names the
/// target in errors.
pub fn write_in(
    dir: &HeldDir,
    name: &OsStr,
    shown: &Path,
    owner: Option<(u32, u32)>,
    fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<(), ReceiptError> {
    let io = |cause: std::io::Error| ReceiptError::Io {
        action: "cannot write receipt to",
        path: shown.to_owned(),
        cause,
    };
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut attempt = 0;
    let (tmp, file) = loop {
        let tmp = temp_name(attempt);
        match rustix::fs::openat(&dir.fd, tmp.as_str(), flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => break (tmp, std::fs::File::from(fd)),
            Err(rustix::io::Errno::EXIST) if attempt < 100 => attempt += 1,
            Err(e) => return Err(io(e.into())),
        }
    };
    let written = (|| {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, &file);
        fill(&mut out)?;
        out.flush()?;
        drop(out);
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
        file.sync_all()?;
        rustix::fs::renameat(&dir.fd, tmp.as_str(), &dir.fd, name)?;
        Ok(())
    })();
    written.map_err(|e: std::io::Error| {
        let _ = rustix::fs::unlinkat(&dir.fd, tmp.as_str(), AtFlags::empty());
        io(e)
    })
}

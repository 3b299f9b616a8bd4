//! The write stage: the receipt, then each attachment, written atomically; the check stage's
//! test that the receipt path will take the write; and the fallback that keeps a receipt whose
//! path failed after the command ran.

use crate::{Attachment, RunError};
use glasshouse_receipt::{HeldDir, Receipt, TEMP_NAME_LEN};
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

/// The receipt path that means "write the receipt to stdout" (after the command's output).
pub const STDOUT: &str = "-";

/// Longest path the kernel takes (`PATH_MAX`, with its terminating NUL).
const PATH_MAX: usize = 4096;

/// Where the receipt went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Written {
    /// At the path asked for (or on stdout for `-`).
    AsAsked(PathBuf),
    /// The path asked for failed; the receipt is in the fallback location instead.
    Fallback {
        /// Where it is.
        path: PathBuf,
        /// Why the path asked for failed.
        error: String,
    },
}

/// Whether `path` means stdout.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == STDOUT
}

/// The directory the fallback receipt goes to: `$TMPDIR`, else `/tmp`.
pub fn fallback_dir() -> PathBuf {
    std::env::var_os("TMPDIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
}

/// The fallback receipt's path for a run: `<fallback dir>/glasshouse-receipt-<execution id>.json`.
pub fn fallback_path(execution_id: &str) -> PathBuf {
    fallback_dir().join(format!("glasshouse-receipt-{execution_id}.json"))
}

/// Refuses a receipt path the write stage could not use, before the command runs: a target
/// that exists and is not a regular file (a device, a directory; the write would replace it),
/// a path that ends in a slash, a name longer than its file system takes, a missing or
/// unwritable directory.
pub(crate) fn check_target(path: &Path) -> Result<(), RunError> {
    if is_stdout(path) {
        return Ok(());
    }
    let refuse = |why: String| {
        RunError::Refused(format!(
            "cannot write receipt to {}: {why}; choose another --receipt path (or --receipt - for stdout)",
            path.display()
        ))
    };
    let bytes = path.as_os_str().as_bytes();
    if bytes.ends_with(b"/") || path.file_name().is_none() {
        return Err(refuse("the path names a directory, not a file".to_owned()));
    }
    if bytes.len() >= PATH_MAX {
        return Err(refuse(format!(
            "the path is {} bytes long; the kernel takes at most {}",
            bytes.len(),
            PATH_MAX - 1
        )));
    }
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() {
            return Err(refuse(format!(
                "it exists and is {}, not a regular file (the receipt would replace it)",
                kind_of(&meta)
            )));
        }
    }
    let name_len = path.file_name().map_or(0, |n| n.len());
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // The temporary file's name is longer than the receipt's: both must fit.
    let longest = name_len.max(TEMP_NAME_LEN);
    if let Ok(stat) = rustix::fs::statvfs(dir) {
        if longest as u64 > stat.f_namemax {
            return Err(refuse(format!(
                "the file name is {name_len} bytes long; {} takes at most {}",
                dir.display(),
                stat.f_namemax
            )));
        }
    }
    glasshouse_receipt::check_writable(path)
        .map_err(|e| RunError::Refused(format!("{e}; choose another --receipt path")))
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// The directories the receipt may go to, opened in the check stage, before the command
/// exists: glasshouse writes through these descriptors, so a command that replaces the
/// receipt's directory with a symlink meanwhile cannot make root write where it points.
pub(crate) struct Dirs {
    /// The receipt's own directory and the receipt's name in it (none for stdout).
    receipt: Option<(HeldDir, std::ffi::OsString)>,
    /// The fallback directory, when it could be opened then (else it is opened when needed).
    fallback: Option<HeldDir>,
}

impl Dirs {
    /// Opens the directory of `path` (checked already) and the fallback directory. For another
    /// user (`owner`, with their groups: under sudo) the receipt's directory, as its path
    /// resolves now, must be one that user may write: a command of an earlier run may have left
    /// a symlink to a directory of root's where the user expects one of theirs.
    pub(crate) fn open(
        path: &Path,
        owner: Option<&glasshouse_backend::Credentials>,
    ) -> Result<Self, RunError> {
        let receipt = if is_stdout(path) {
            None
        } else {
            let (dir, name) = HeldDir::of_file(path)
                .map_err(|e| RunError::Refused(format!("{e}; choose another --receipt path")))?;
            if let Some(user) = owner.filter(|u| u.uid != 0) {
                let uid = user.uid;
                let may_write = |dir_fd, path| {
                    crate::access::allowed(
                        dir_fd,
                        path,
                        uid,
                        user.gid,
                        &user.groups,
                        crate::access::WRITE,
                    )
                };
                // The directory held (whatever its path leads to later), and reached by its path
                // as the user would (every directory on the way must let them through).
                if !may_write(Some(std::os::fd::AsFd::as_fd(&dir)), None)
                    || !may_write(None, Some(dir.path()))
                {
                    return Err(RunError::Refused(format!(
                        "cannot write receipt to {}: its directory {} is not writable by uid {uid}, the user the receipt is written for, and glasshouse (root) does not write where that user could not (the path may lead through a symlink); choose a directory of that user's for --receipt",
                        path.display(),
                        dir.path().display()
                    )));
                }
            }
            Some((dir, name))
        };
        Ok(Self {
            receipt,
            fallback: HeldDir::open(&fallback_dir()).ok(),
        })
    }
}

/// The path of an attachment: the receipt's path with `suffix` appended.
pub fn attachment_path(receipt_path: &Path, suffix: &str) -> PathBuf {
    let mut name = receipt_path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes the receipt at `path` (stdout for `-`), falling back to [`fallback_path`] when that
/// fails, then the attachments next to wherever it went. Only when the fallback fails too is
/// the run's receipt printed on stderr, as the last place it can go, and an error returned.
/// Every file written goes to `owner` (uid, gid: the invoking user) when one is named.
pub(crate) fn write(
    receipt: &Receipt,
    path: &Path,
    dirs: &Dirs,
    attachments: &[Attachment],
    owner: Option<(u32, u32)>,
) -> Result<Written, RunError> {
    let first = match &dirs.receipt {
        None => write_stdout(receipt, attachments),
        Some((dir, name)) => write_file(receipt, dir, name, path, attachments, owner),
    };
    let error = match first {
        Ok(()) => return Ok(Written::AsAsked(path.to_owned())),
        Err(e) => e,
    };
    let fallback = fallback_path(&receipt.execution_id);
    let second = match &dirs.fallback {
        Some(dir) => write_file(
            receipt,
            dir,
            &fallback_name(receipt),
            &fallback,
            attachments,
            owner,
        ),
        None => HeldDir::open(&fallback_dir())
            .map_err(|e| e.to_string())
            .and_then(|dir| {
                write_file(
                    receipt,
                    &dir,
                    &fallback_name(receipt),
                    &fallback,
                    attachments,
                    owner,
                )
            }),
    };
    match second {
        Ok(()) => Ok(Written::Fallback {
            path: fallback,
            error,
        }),
        Err(second) => {
            let mut err = std::io::stderr().lock();
            let _ = serde_json::to_writer_pretty(&mut err, receipt);
            let _ = writeln!(err);
            Err(RunError::ReceiptNotWritten {
                message: format!(
                    "{error}; the fallback failed too ({second}); the receipt was printed on stderr above; the command exited with {}",
                    receipt.exit_code
                ),
                command_status: receipt.exit_code,
            })
        }
    }
}

/// The fallback receipt's file name (see [`fallback_path`]).
fn fallback_name(receipt: &Receipt) -> std::ffi::OsString {
    format!("glasshouse-receipt-{}.json", receipt.execution_id).into()
}

/// The receipt as `name` in `dir` (`path` in messages), then each attachment beside it.
fn write_file(
    receipt: &Receipt,
    dir: &HeldDir,
    name: &std::ffi::OsStr,
    path: &Path,
    attachments: &[Attachment],
    owner: Option<(u32, u32)>,
) -> Result<(), String> {
    receipt
        .write_atomic_in(dir, name, path, owner)
        .map_err(|e| e.to_string())?;
    for a in attachments {
        let mut attachment = name.to_owned();
        attachment.push(&a.suffix);
        glasshouse_receipt::write_atomic_in(
            dir,
            &attachment,
            &attachment_path(path, &a.suffix),
            &a.bytes,
            owner,
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The receipt, then each attachment, on stdout.
fn write_stdout(receipt: &Receipt, attachments: &[Attachment]) -> Result<(), String> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    serde_json::to_writer_pretty(&mut out, receipt)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| attachments.iter().try_for_each(|a| out.write_all(&a.bytes)))
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write receipt to stdout: {e}"))
}

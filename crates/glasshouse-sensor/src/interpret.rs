//! What an operation means for the receipt, judged from its syscall number (or io_uring opcode)
//! and flags: which of its paths it deleted or wrote, whether it reached the network, what an
//! open's flags say about access.

use crate::names::{uring_as_syscall, uring_op_name};
use crate::table;

/// `IORING_OP_CONNECT`.
pub(crate) const URING_OP_CONNECT: u32 = 16;

/// What a successful path operation did to path A (the one it acts on) and path B (the new
/// name): the `effect` column of `bpf/syscalls.h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathEffect {
    /// Nothing the file sets record.
    None,
    /// A was deleted.
    DeleteA,
    /// A was created or changed (its contents or its metadata).
    WriteA,
    /// B was made (a new name for a file).
    WriteB,
    /// A moved to B: A is gone, B was written (`MOVE`; [`PathEffect::WriteBoth`] when the
    /// flags hold RENAME_EXCHANGE).
    MoveAToB,
    /// A and B swapped files: both were written.
    WriteBoth,
}

/// The effect of a successful path operation `nr` (a syscall number, or an io_uring opcode
/// above [`crate::event::URING_NR_BASE`]) called with `flags`.
pub(crate) fn path_effect(nr: u32, flags: u64) -> PathEffect {
    match table::decoded(uring_as_syscall(nr)).map(|d| d.effect) {
        // renameat2 with RENAME_EXCHANGE: the two names swap files, both are written
        Some(PathEffect::MoveAToB) if flags & libc::RENAME_EXCHANGE as u64 != 0 => {
            PathEffect::WriteBoth
        }
        Some(effect) => effect,
        None => PathEffect::None,
    }
}

/// How the completion of an io_uring operation is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UringKind {
    /// A connect or a send with a destination: a network attempt.
    Network,
    /// An open: a successful one is reported by its new descriptor, unless it went into the
    /// ring's fixed-file table.
    Open,
    /// Anything else: a path operation like its system call (or nothing).
    Path,
}

/// How the completion of io_uring opcode `op` is read.
pub(crate) fn uring_kind(op: u32) -> UringKind {
    match uring_op_name(op) {
        "connect" | "sendmsg" | "sendmsg_zc" | "send" | "send_zc" => UringKind::Network,
        "openat" | "openat2" => UringKind::Open,
        _ => UringKind::Path,
    }
}

/// Whether an open with `flags` reads and writes its file, judged from the flags alone (for an
/// open whose `struct file` is not at hand): creating or truncating counts as writing.
pub(crate) fn open_access(flags: u32) -> (bool, bool) {
    let flags = flags as i32;
    if flags & libc::O_PATH != 0 {
        return (false, false);
    }
    let (read, write) = match flags & libc::O_ACCMODE {
        libc::O_RDONLY => (true, false),
        libc::O_WRONLY => (false, true),
        _ => (true, true),
    };
    (read, write || flags & (libc::O_CREAT | libc::O_TRUNC) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_from_open_flags() {
        assert_eq!(open_access(libc::O_RDONLY as u32), (true, false));
        assert_eq!(open_access(libc::O_WRONLY as u32), (false, true));
        assert_eq!(open_access(libc::O_RDWR as u32), (true, true));
        assert_eq!(
            open_access((libc::O_RDONLY | libc::O_CREAT) as u32),
            (true, true)
        );
        assert_eq!(
            open_access((libc::O_RDONLY | libc::O_TRUNC) as u32),
            (true, true)
        );
        assert_eq!(
            open_access((libc::O_PATH | libc::O_RDONLY) as u32),
            (false, false)
        );
    }
}

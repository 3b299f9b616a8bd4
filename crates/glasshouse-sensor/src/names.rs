//! Names the receipt uses for what the kernel reports by number: syscalls, io_uring opcodes,
//! errno values.

use crate::{event, table};

/// The x86-64 name of a syscall number (the table's for the calls the sensor decodes), or `io_uring:OP` for an io_uring operation reported
/// as a syscall number above [`event::URING_NR_BASE`].
pub fn syscall_name(nr: u32) -> String {
    if nr >= event::URING_NR_BASE {
        return format!("io_uring:{}", uring_op_name(nr - event::URING_NR_BASE));
    }
    if let Some(decoded) = table::decoded(nr) {
        return decoded.name.to_owned();
    }
    syscalls::Sysno::new(nr as usize)
        .map_or_else(|| format!("syscall_{nr}"), |s| s.name().to_owned())
}

/// io_uring operations that mean what a syscall of the table means (for path semantics): an
/// io_uring `renameat` takes renameat2's flags.
const URING_AS_SYSCALL: [(&str, &str); 8] = [
    ("unlinkat", "unlinkat"),
    ("renameat", "renameat2"),
    ("mkdirat", "mkdirat"),
    ("linkat", "linkat"),
    ("symlinkat", "symlinkat"),
    ("setxattr", "setxattr"),
    ("openat", "openat"),
    ("openat2", "openat2"),
];

/// The syscall whose meaning an io_uring operation shares (for path semantics), or `nr` itself.
pub(crate) fn uring_as_syscall(nr: u32) -> u32 {
    if nr < event::URING_NR_BASE {
        return nr;
    }
    let op = uring_op_name(nr - event::URING_NR_BASE);
    URING_AS_SYSCALL
        .iter()
        .find(|(uring, _)| *uring == op)
        .and_then(|(_, syscall)| table::by_name(syscall))
        .unwrap_or(nr)
}

/// io_uring opcode names (`IORING_OP_*`, lowercase), in opcode order.
const URING_OP_NAMES: [&str; 63] = [
    "nop",
    "readv",
    "writev",
    "fsync",
    "read_fixed",
    "write_fixed",
    "poll_add",
    "poll_remove",
    "sync_file_range",
    "sendmsg",
    "recvmsg",
    "timeout",
    "timeout_remove",
    "accept",
    "async_cancel",
    "link_timeout",
    "connect",
    "fallocate",
    "openat",
    "close",
    "files_update",
    "statx",
    "read",
    "write",
    "fadvise",
    "madvise",
    "send",
    "recv",
    "openat2",
    "epoll_ctl",
    "splice",
    "provide_buffers",
    "remove_buffers",
    "tee",
    "shutdown",
    "renameat",
    "unlinkat",
    "mkdirat",
    "symlinkat",
    "linkat",
    "msg_ring",
    "fsetxattr",
    "setxattr",
    "fgetxattr",
    "getxattr",
    "socket",
    "uring_cmd",
    "send_zc",
    "sendmsg_zc",
    "read_multishot",
    "waitid",
    "futex_wait",
    "futex_wake",
    "futex_waitv",
    "fixed_fd_install",
    "ftruncate",
    "bind",
    "listen",
    "recv_zc",
    "epoll_wait",
    "readv_fixed",
    "writev_fixed",
    "pipe",
];

/// The name of an io_uring opcode.
pub fn uring_op_name(op: u32) -> &'static str {
    URING_OP_NAMES
        .get(op as usize)
        .copied()
        .unwrap_or("unknown")
}

/// The symbolic name of an errno value (`EACCES`).
pub fn errno_name(errno: i32) -> String {
    format!("{:?}", nix::errno::Errno::from_raw(errno))
}

#[cfg(test)]
mod tests {
    use super::*;
    use syscalls::Sysno;

    #[test]
    fn io_uring_operations_mean_their_syscalls() {
        let op = |name: &str| {
            let code = URING_OP_NAMES
                .iter()
                .position(|n| *n == name)
                .unwrap_or(usize::MAX);
            uring_as_syscall(event::URING_NR_BASE + code as u32)
        };
        assert_eq!(op("unlinkat"), Sysno::unlinkat as u32);
        assert_eq!(op("renameat"), Sysno::renameat2 as u32);
        assert_eq!(op("openat2"), Sysno::openat2 as u32);
        assert_eq!(op("setxattr"), Sysno::setxattr as u32);
        let read = event::URING_NR_BASE + 22;
        assert_eq!(uring_as_syscall(read), read, "read has no path meaning");
        assert_eq!(syscall_name(Sysno::openat as u32), "openat");
        assert_eq!(syscall_name(Sysno::getpid as u32), "getpid");
        assert_eq!(syscall_name(read), "io_uring:read");
    }
}

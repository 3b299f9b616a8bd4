//! Names the receipt uses for what the kernel reports by number: syscalls, io_uring opcodes,
//! errno values.

use crate::event;

/// The x86-64 name of a syscall number, or `io_uring:OP` for an io_uring operation reported
/// as a syscall number above [`event::URING_NR_BASE`].
pub fn syscall_name(nr: u32) -> String {
    if nr >= event::URING_NR_BASE {
        return format!("io_uring:{}", uring_op_name(nr - event::URING_NR_BASE));
    }
    syscalls::Sysno::new(nr as usize)
        .map_or_else(|| format!("syscall_{nr}"), |s| s.name().to_owned())
}

/// The syscall whose meaning an io_uring operation shares (for path semantics), or `nr` itself.
pub(crate) fn uring_as_syscall(nr: u32) -> u32 {
    if nr < event::URING_NR_BASE {
        return nr;
    }
    match uring_op_name(nr - event::URING_NR_BASE) {
        "unlinkat" => 263,
        "renameat" => 316,
        "mkdirat" => 258,
        "linkat" => 265,
        "symlinkat" => 266,
        "setxattr" => 188,
        "openat" => 257,
        "openat2" => 437,
        _ => nr,
    }
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

//! The tracking hook's work, run by the command's process between fork and exec: raw bpf(2)
//! calls that add it to the tree (async-signal-safe: no allocation, no locks).

use std::os::fd::RawFd;

/// Adds the calling process to the `tracked` map and gives its (only) thread an entry in the
/// per-thread task storage, `entry`, through raw bpf(2) calls.
pub(crate) fn track_self(
    tracked_fd: RawFd,
    threads_fd: RawFd,
    entry: &[u8],
) -> std::io::Result<()> {
    // SAFETY: getpid/getppid have no preconditions and are async-signal-safe.
    let (pid, ppid) = unsafe { (libc::getpid(), libc::getppid() as u64) };
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let pidfd = pidfd as i32;
    let result = track_process(tracked_fd, threads_fd, entry, pid as u32, ppid, pidfd);
    // SAFETY: pidfd is a descriptor this function opened and nothing else uses.
    unsafe { libc::close(pidfd) };
    result
}

/// Adds process `pid` (in the sensor's pid namespace; `ppid` recorded as its parent) and its
/// one thread, named by `pidfd`, to the tree. From the parent of a process held before exec
/// (a sandbox's command, whose own getpid() is its namespace's), or from the process itself.
pub(crate) fn track_process(
    tracked_fd: RawFd,
    threads_fd: RawFd,
    entry: &[u8],
    pid: u32,
    ppid: u64,
    pidfd: RawFd,
) -> std::io::Result<()> {
    map_update(tracked_fd, &pid, &ppid)?;
    // Task storage is keyed by a pidfd from user space. Before exec the process has one
    // thread, which the pidfd names.
    map_update(threads_fd, &pidfd, entry)
}

/// One BPF_MAP_UPDATE_ELEM through the raw system call (async-signal-safe).
pub(crate) fn map_update<K, V: ?Sized>(map_fd: RawFd, key: &K, value: &V) -> std::io::Result<()> {
    #[repr(C)]
    struct MapUpdateAttr {
        map_fd: u32,
        pad: u32,
        key: u64,
        value: u64,
        flags: u64,
    }
    const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
    let attr = MapUpdateAttr {
        map_fd: map_fd as u32,
        pad: 0,
        key: key as *const K as u64,
        value: value as *const V as *const u8 as u64,
        flags: 0,
    };
    // SAFETY: bpf(BPF_MAP_UPDATE_ELEM) reads `attr` and the key and value it points to, which
    // the caller's references keep alive for the duration of the call; the callers pass the
    // map's own key and value sizes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_UPDATE_ELEM,
            &attr as *const MapUpdateAttr,
            std::mem::size_of::<MapUpdateAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

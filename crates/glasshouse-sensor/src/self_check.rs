//! The sensor's check of itself at attach: a probe process that the programs follow opens a
//! known file, and the one event it must produce is compared with what it must say.
//!
//! The open goes through everything a file record depends on: the descriptor table, `struct
//! file` (`f_mode`, `f_path`), the dentry walk (`d_name`, `d_parent`) and the mount walk from
//! procfs's mount to the root (`mnt_parent`, `mnt_mountpoint`, `mnt_root`, `mnt_ns`). A member
//! read at a wrong offset for this kernel shows as a wrong path, access or flag, or no event,
//! and the receipt says it cannot be trusted instead of silently missing files.
//!
//! The probe is a forked child, not a thread: the kernel's per-thread storage is keyed from
//! user space by a pidfd, which names a thread of another process only on recent kernels. Its
//! entry is marked as the probe's, so its system calls are not counted as the tree's; it is not
//! in the tree's process table, so it has no fork or exit record; its one event is taken off the
//! ring buffer here, before the drain thread starts. Cost: one fork, a few system calls.

use crate::event;
use aya::maps::{MapData, RingBuf};
use std::os::fd::RawFd;

/// The file the probe opens: on every Linux system, readable by all, on procfs (so the walk
/// crosses a mount), and with a name that does not depend on the probe's pid.
pub(crate) const PROBE_PATH: &str = "/proc/sys/kernel/osrelease";
const PROBE_PATH_C: &[u8] = b"/proc/sys/kernel/osrelease\0";

/// Offset in a thread entry (`struct inflight`) of its `probe` field.
const PROBE_FIELD_AT: usize = 12;

/// Runs the probe. `threads_fd` is the per-thread task storage, `entry` a thread entry of this
/// run (its generation set), `ring` the run's ring buffer, not yet drained by anyone else.
/// Returns a note for the receipt when the probe was not seen exactly.
pub(crate) fn run(threads_fd: RawFd, entry: &[u8], ring: &mut RingBuf<MapData>) -> Option<String> {
    let outcome = probe(threads_fd, entry).and_then(|child| {
        let mut seen = Vec::new();
        while let Some(item) = ring.next() {
            if let Some(ev) = event::decode(&item) {
                if ev.tgid == child {
                    seen.push(describe(&ev));
                }
            }
        }
        judge(&seen)
    });
    outcome.err().map(|why| {
        format!(
            "the sensor's self-check failed ({why}): file paths and accesses in this receipt may be wrong or missing on this kernel"
        )
    })
}

/// What a probe event says, in the terms [`judge`] compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    kind: u32,
    nr: u32,
    access: u64,
    flags: u32,
    path: Vec<u8>,
}

fn describe(ev: &event::Event<'_>) -> Seen {
    Seen {
        kind: ev.kind,
        nr: ev.aux,
        access: ev.extra,
        flags: ev.flags,
        path: ev.strings[0].to_vec(),
    }
}

/// The probe must have produced exactly one event: the open of [`PROBE_PATH`] for reading, by
/// openat, with no flag.
pub(crate) fn judge(seen: &[Seen]) -> Result<(), String> {
    let expected = Seen {
        kind: event::EV_OPEN,
        nr: libc::SYS_openat as u32,
        access: event::ACC_READ,
        flags: 0,
        path: PROBE_PATH.as_bytes().to_vec(),
    };
    match seen {
        [] => Err(format!("a probe's open of {PROBE_PATH} was not seen")),
        [one] if *one == expected => Ok(()),
        [one] => Err(format!(
            "a probe's open of {PROBE_PATH} was seen as an event of kind {} by syscall {} with access {} and flags {:#x} naming {:?}",
            one.kind,
            one.nr,
            one.access,
            one.flags,
            String::from_utf8_lossy(&one.path)
        )),
        more => Err(format!(
            "a probe's one open of {PROBE_PATH} was seen as {} events",
            more.len()
        )),
    }
}

/// Forks the probe, has the programs follow it, lets it open the file and waits for it to end.
/// Returns its pid.
fn probe(threads_fd: RawFd, entry: &[u8]) -> Result<u32, String> {
    let mut entry = entry.to_vec();
    entry
        .get_mut(PROBE_FIELD_AT..PROBE_FIELD_AT + 4)
        .ok_or("the thread entry is too short")?
        .copy_from_slice(&1u32.to_ne_bytes());
    let (go_read, go_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    use std::os::fd::AsRawFd as _;
    let read_fd = go_read.as_raw_fd();
    // SAFETY: the child runs only async-signal-safe raw system calls (read, openat, close,
    // _exit) on memory that exists before the fork, so forking a multi-threaded process is
    // sound here.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if child == 0 {
        // SAFETY: see above; the child never returns from this block.
        unsafe {
            let mut go = 0u8;
            if libc::read(read_fd, (&mut go as *mut u8).cast(), 1) != 1 {
                libc::_exit(1);
            }
            let fd = libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                PROBE_PATH_C.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            );
            if fd >= 0 {
                libc::close(fd as i32);
            }
            libc::_exit(0);
        }
    }
    drop(go_read);
    let registered = register(threads_fd, child, &entry);
    // Telling the child to go, or (when it could not be followed) closing the pipe, ends it.
    if registered.is_ok() {
        let _ = nix::unistd::write(&go_write, &[1]);
    }
    drop(go_write);
    let pid = nix::unistd::Pid::from_raw(child);
    let status =
        nix::sys::wait::waitpid(pid, None).map_err(|e| format!("waiting for the probe: {e}"))?;
    registered.map_err(|e| format!("the probe could not be followed: {e}"))?;
    match status {
        nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(child as u32),
        other => Err(format!("the probe ended unexpectedly: {other:?}")),
    }
}

/// Gives process `pid`'s only thread the per-thread entry `entry`.
fn register(threads_fd: RawFd, pid: libc::pid_t, entry: &[u8]) -> std::io::Result<()> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let pidfd = pidfd as i32;
    let result = crate::track::map_update(threads_fd, &pidfd, entry);
    // SAFETY: pidfd is a descriptor this function opened and nothing else uses.
    unsafe { libc::close(pidfd) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_of(path: &str) -> Seen {
        Seen {
            kind: event::EV_OPEN,
            nr: libc::SYS_openat as u32,
            access: event::ACC_READ,
            flags: 0,
            path: path.as_bytes().to_vec(),
        }
    }

    #[test]
    fn only_the_exact_open_passes() {
        assert_eq!(judge(&[open_of(PROBE_PATH)]), Ok(()));
        let err = judge(&[]).unwrap_err();
        assert!(err.contains("not seen"), "{err}");
        let err = judge(&[open_of("/sys/kernel/osrelease")]).unwrap_err();
        assert!(err.contains("\"/sys/kernel/osrelease\""), "{err}");
        let mut written = open_of(PROBE_PATH);
        written.access |= event::ACC_WRITE;
        assert!(judge(&[written]).is_err());
        let mut detached = open_of(PROBE_PATH);
        detached.flags = 1 << 4;
        assert!(judge(&[detached]).is_err());
        let err = judge(&[open_of(PROBE_PATH), open_of(PROBE_PATH)]).unwrap_err();
        assert!(err.contains("2 events"), "{err}");
    }
}

//! Decoding of the ring-buffer records laid out in `bpf/glasshouse.h`.

/// Event kinds (`GH_EV_*`).
pub const EV_FORK: u32 = 1;
/// A program image was executed.
pub const EV_EXEC: u32 = 2;
/// The last thread of a process exited.
pub const EV_EXIT: u32 = 3;
/// An open succeeded; the path is resolved from the opened file.
pub const EV_OPEN: u32 = 4;
/// A path system call ended (or an open failed).
pub const EV_PATHOP: u32 = 5;

/// A socket call named a destination.
pub const EV_NET: u32 = 6;
/// An in-progress TCP connect finished.
pub const EV_NET_DONE: u32 = 7;
/// An io_uring operation naming a path or address was submitted.
pub const EV_URING_SUBMIT: u32 = 8;
/// That io_uring operation completed.
pub const EV_URING_DONE: u32 = 9;
/// A descriptor the tree did not open (inherited by the command, or received).
pub const EV_FD: u32 = 10;
/// [`EV_FD`]: the command had the descriptor when it started (`GH_FD_INHERITED`).
pub const FD_INHERITED: u32 = 1;
/// [`EV_FD`]: received over a unix socket (`GH_FD_RECEIVED`).
pub const FD_RECEIVED: u32 = 2;
/// io_uring operations appear as syscall numbers from this base (`GH_URING_NR_BASE`).
pub const URING_NR_BASE: u32 = 1000;

/// Access bits of [`EV_OPEN`] (`GH_ACC_*`).
pub const ACC_READ: u64 = 1;
/// Opened for writing.
pub const ACC_WRITE: u64 = 2;

/// Bytes of the fixed header that precedes the strings (`struct gh_event_header`).
pub const HEADER_LEN: usize = 48;

/// One decoded record. Strings borrow from the ring buffer.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// `EV_*`.
    pub kind: u32,
    /// Process (thread-group) id.
    pub tgid: u32,
    /// Thread id.
    pub pid: u32,
    /// Kind-specific: parent tgid (fork), syscall number (open, pathop).
    pub aux: u32,
    /// Return value, or the wait status for exit.
    pub ret: i64,
    /// Kind-specific: access bits (open).
    pub extra: u64,
    /// `GH_FLAG_*` bits.
    pub flags: u32,
    /// Socket identity: family << 16 | type << 8 | protocol (`GH_SOCK`).
    pub sock: u32,
    /// The four strings (empty when absent).
    pub strings: [&'a [u8]; 4],
}

impl Event<'_> {
    /// String `i` was cut short.
    pub fn truncated(&self, i: usize) -> bool {
        self.flags & (1 << i) != 0
    }
    /// String `i` is a path outside any mount namespace (memfd, pipe, ...).
    pub fn detached(&self, i: usize) -> bool {
        self.flags & (1 << (4 + i)) != 0
    }
    /// String `i` names a file that was already unlinked.
    pub fn unlinked(&self, i: usize) -> bool {
        self.flags & (1 << (8 + i)) != 0
    }
    /// An io_uring open into the ring's table of fixed files (`GH_FLAG_URING_DIRECT`): it
    /// makes no descriptor, so what it opened is the submitted path.
    pub fn uring_direct(&self) -> bool {
        self.flags & (1 << 12) != 0
    }
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(a)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(a)
}

/// Decodes one record; `None` for a record too short for what its header claims.
pub fn decode(b: &[u8]) -> Option<Event<'_>> {
    if b.len() < HEADER_LEN {
        return None;
    }
    let mut strings: [&[u8]; 4] = [&[]; 4];
    let mut off = HEADER_LEN;
    for (i, s) in strings.iter_mut().enumerate() {
        let len = u16::from_ne_bytes([b[36 + 2 * i], b[37 + 2 * i]]) as usize;
        *s = b.get(off..off + len)?;
        off += len;
    }
    Some(Event {
        kind: u32_at(b, 0),
        tgid: u32_at(b, 4),
        pid: u32_at(b, 8),
        aux: u32_at(b, 12),
        ret: u64_at(b, 16) as i64,
        extra: u64_at(b, 24),
        flags: u32_at(b, 32),
        sock: u32_at(b, 44),
        strings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_header_and_strings() {
        let mut b = vec![0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&EV_OPEN.to_ne_bytes());
        b[4..8].copy_from_slice(&42u32.to_ne_bytes());
        b[16..24].copy_from_slice(&(-13i64).to_ne_bytes());
        b[32..36].copy_from_slice(&0x11u32.to_ne_bytes());
        b[36..38].copy_from_slice(&4u16.to_ne_bytes());
        b[38..40].copy_from_slice(&2u16.to_ne_bytes());
        b.extend_from_slice(b"/etcab");
        let e = decode(&b).unwrap();
        assert_eq!((e.kind, e.tgid, e.ret), (EV_OPEN, 42, -13));
        assert_eq!(e.strings[0], b"/etc");
        assert_eq!(e.strings[1], b"ab");
        assert!(e.truncated(0) && e.detached(0) && !e.unlinked(0));
    }

    #[test]
    fn short_record_is_refused() {
        let mut b = vec![0u8; HEADER_LEN];
        b[36..38].copy_from_slice(&10u16.to_ne_bytes());
        assert!(decode(&b).is_none());
        assert!(decode(&b[..10]).is_none());
    }
}

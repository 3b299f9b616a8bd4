//! Folds decoded events into receipt parts: the process tree, file sets, failed operations.
//!
//! Runs on the drain thread. Order-tolerant where it can be; where order matters (a pid reused
//! inside one run) it relies on the ring buffer's order, which follows the kernel's: a process's
//! exit is always reserved before a later process can be given its pid.

mod tree;

use crate::event::{self, Event};
use crate::interpret::{self, PathEffect, UringKind};
use crate::net;
use crate::paths::{concat, normalize, DirCache, NamedPath};
use crate::stream::Stream;
use glasshouse_events::FileAction;
use glasshouse_receipt::{FailedOperation, HandedDescriptor, NetworkAttempt, OsText, Truncation};
use std::collections::{btree_map, BTreeMap, BTreeSet, HashMap};
use tree::Proc;

/// (path, how, pid, fd, read, write) of a descriptor the tree did not open.
type DescriptorKey = (Vec<u8>, &'static str, u32, i32, bool, bool);

/// (dst, protocol, result, errno) of a network attempt.
type AttemptKey = (Vec<u8>, String, &'static str, Option<i32>);

/// What an io_uring submission named, kept until its completion says how it went.
#[derive(Debug, Clone)]
struct UringSubmit {
    path_a: Option<NamedPath>,
    path_b: Option<NamedPath>,
    sockaddr: Vec<u8>,
    /// The operation's flags where they matter: an open's flags, a rename's flags.
    flags: u32,
    /// An open into the ring's fixed-file table.
    direct: bool,
}

/// Everything learned from the events so far.
#[derive(Debug, Default)]
pub struct Aggregator {
    root_ppid: u32,
    live: HashMap<u32, Proc>,
    finished: Vec<Proc>,
    reads: Listed<Vec<u8>, ()>,
    writes: Listed<Vec<u8>, ()>,
    deletes: Listed<Vec<u8>, ()>,
    /// Descriptors the tree did not open: (path, how, pid, fd, read, write).
    descriptors: Listed<DescriptorKey, ()>,
    /// (syscall, target, errno) -> how many times.
    failed: Listed<(u32, Vec<u8>, i32), u64>,
    truncated: BTreeSet<Truncation>,
    /// (dst, protocol, result, errno) -> the processes that made the attempt.
    attempts: BTreeMap<AttemptKey, BTreeSet<u32>>,
    /// TCP connects in progress, by kernel socket: (tgid, dst, protocol).
    tcp_pending: HashMap<u64, (u32, Vec<u8>, String)>,
    /// Outcomes of TCP connects that arrived before the connect itself, by (socket, tgid).
    tcp_early: HashMap<(u64, u32), i64>,
    /// io_uring operations submitted and not yet completed, by request.
    uring_pending: HashMap<u64, UringSubmit>,
    dirs: DirCache,
    /// The live event stream: told about every new entry of the lists above.
    pub(crate) stream: Stream,
    /// Records that could not be decoded (a layout mismatch between object and loader).
    pub malformed: u64,
    /// Events folded in.
    pub events: u64,
}

/// How many distinct entries one list of the receipt holds at most. A flood of distinct files or
/// failures beyond this is counted, not listed: glasshouse must finish and write a receipt
/// (that says it is incomplete) rather than grow until the machine runs out of memory.
pub const MAX_LISTED: usize = 2_000_000;

/// The distinct entries of one receipt list, with what each carries (a count for failures),
/// and the number of events whose new entry did not fit under [`MAX_LISTED`].
#[derive(Debug)]
struct Listed<K, V> {
    entries: BTreeMap<K, V>,
    omitted: u64,
    /// [`MAX_LISTED`], smaller in tests.
    limit: usize,
}

impl<K, V> Default for Listed<K, V> {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
            omitted: 0,
            limit: MAX_LISTED,
        }
    }
}

impl<K: Ord, V: Default> Listed<K, V> {
    /// The entry for `key`, or `None` (and one more omitted) when it is new and the list full.
    /// `on_new` sees a key the moment it is listed (the live stream's line for it).
    fn entry(&mut self, key: K, on_new: impl FnOnce(&K)) -> Option<&mut V> {
        let full = self.entries.len() >= self.limit;
        match self.entries.entry(key) {
            btree_map::Entry::Occupied(o) => Some(o.into_mut()),
            btree_map::Entry::Vacant(_) if full => {
                self.omitted += 1;
                None
            }
            btree_map::Entry::Vacant(v) => {
                on_new(v.key());
                Some(v.insert(V::default()))
            }
        }
    }
}

impl<K: Ord> Listed<K, ()> {
    fn add(&mut self, key: K, on_new: impl FnOnce(&K)) {
        self.entry(key, on_new);
    }
}

impl<K: Ord> Listed<K, u64> {
    fn count(&mut self, key: K, on_new: impl FnOnce(&K)) {
        if let Some(n) = self.entry(key, on_new) {
            *n += 1;
        }
    }
}

impl Aggregator {
    /// An empty aggregate; `root_ppid` is the parent recorded for the root process.
    pub fn new(root_ppid: u32, stream: Stream) -> Self {
        Self {
            root_ppid,
            stream,
            ..Self::default()
        }
    }

    /// Lists `path` as read, written or deleted by `pid`.
    fn file(&mut self, pid: u32, path: Vec<u8>, action: FileAction) {
        let list = match action {
            FileAction::Read => &mut self.reads,
            FileAction::Write => &mut self.writes,
            _ => &mut self.deletes,
        };
        let stream = &self.stream;
        list.add(path, |p| stream.file(pid, p, action));
    }

    /// [`Self::file`] for a path that may be absent.
    fn file_some(&mut self, pid: u32, path: Option<Vec<u8>>, action: FileAction) {
        if let Some(path) = path {
            self.file(pid, path, action);
        }
    }

    /// Counts a failure of `nr` on `target` with `errno`, by `pid`.
    fn fail(&mut self, pid: u32, nr: u32, target: Vec<u8>, errno: i32) {
        let stream = &self.stream;
        self.failed
            .count((nr, target, errno), |(nr, target, errno)| {
                stream.failure(pid, *nr, target, *errno)
            });
    }

    /// Records a cut-short string.
    fn truncate(&mut self, t: Truncation) {
        if !self.truncated.contains(&t) {
            self.stream.truncated(&t);
            self.truncated.insert(t);
        }
    }

    /// Ends a batch of events: directories are resolved again from the next one on.
    pub fn end_batch(&mut self) {
        self.dirs.real.clear();
    }

    /// Folds one raw ring-buffer record in.
    pub fn push_raw(&mut self, bytes: &[u8]) {
        match event::decode(bytes) {
            Some(e) => self.push(&e),
            None => self.malformed += 1,
        }
    }

    /// Folds one event in.
    pub fn push(&mut self, e: &Event<'_>) {
        self.events += 1;
        match e.kind {
            event::EV_FORK => self.on_fork(e),
            event::EV_EXEC => self.on_exec(e),
            event::EV_EXIT => {
                if let Some(mut p) = self.live.remove(&e.tgid) {
                    self.stream.exit(e.tgid, e.ret);
                    p.status = Some(e.ret);
                    self.finished.push(p);
                }
            }
            event::EV_OPEN => {
                let path = self.path(e, 0);
                if e.extra & event::ACC_READ != 0 {
                    self.file(e.tgid, path.clone(), FileAction::Read);
                }
                if e.extra & event::ACC_WRITE != 0 {
                    self.file(e.tgid, path, FileAction::Write);
                }
            }
            event::EV_PATHOP => {
                let a = self.joined(e, 0, 1);
                let b = self.joined(e, 2, 3);
                self.path_result(e.tgid, e.aux, e.ret, a, b, e.extra);
            }
            event::EV_NET => self.on_net(e),
            event::EV_NET_DONE => match self.tcp_pending.remove(&e.extra) {
                Some((tgid, dst, protocol)) => self.tcp_outcome(tgid, dst, protocol, e.ret),
                // The kernel may deliver the outcome before the connect that waits for it.
                None => {
                    self.tcp_early.insert((e.extra, e.tgid), e.ret);
                }
            },
            event::EV_URING_SUBMIT => {
                let submit = UringSubmit {
                    path_a: self.joined(e, 0, 1),
                    path_b: self.joined(e, 2, 3),
                    sockaddr: e.strings[0].to_vec(),
                    flags: e.sock,
                    direct: e.uring_direct(),
                };
                self.uring_pending.insert(e.extra, submit);
            }
            event::EV_URING_DONE => self.on_uring_done(e),
            event::EV_FD => {
                let how = match e.sock {
                    event::FD_INHERITED => "inherited",
                    event::FD_RECEIVED => "received",
                    _ => {
                        self.malformed += 1;
                        return;
                    }
                };
                let path = self.path(e, 0);
                let (read, write) = (
                    e.extra & event::ACC_READ != 0,
                    e.extra & event::ACC_WRITE != 0,
                );
                let stream = &self.stream;
                self.descriptors
                    .add((path, how, e.tgid, e.aux as i32, read, write), |k| {
                        stream.descriptor(&k.0, k.1, k.2, k.3, (k.4, k.5))
                    });
            }
            _ => self.malformed += 1,
        }
    }

    /// Applies the outcome of a path operation (a syscall number, or an io_uring opcode above
    /// [`event::URING_NR_BASE`]) by `pid` on path A (the one it acts on) and path B (the new
    /// name).
    fn path_result(
        &mut self,
        pid: u32,
        nr: u32,
        ret: i64,
        a: Option<NamedPath>,
        b: Option<NamedPath>,
        flags: u64,
    ) {
        if ret < 0 {
            let target = a.or(b).map(|p| normalize(&p.text)).unwrap_or_default();
            self.fail(pid, nr, target, (-ret) as i32);
            return;
        }
        let a = a.map(|p| self.dirs.resolve(p));
        let b = b.map(|p| self.dirs.resolve(p));
        let (write, delete) = (FileAction::Write, FileAction::Delete);
        match interpret::path_effect(nr, flags) {
            PathEffect::DeleteA => self.file_some(pid, a, delete),
            PathEffect::WriteA => self.file_some(pid, a, write),
            PathEffect::WriteB => self.file_some(pid, b, write),
            PathEffect::MoveAToB => {
                self.file_some(pid, a, delete);
                self.file_some(pid, b, write);
            }
            PathEffect::WriteBoth => {
                self.file_some(pid, a, write);
                self.file_some(pid, b, write);
            }
            PathEffect::None => {}
        }
    }

    fn attempt(&mut self, tgid: u32, key: AttemptKey) {
        let (dst, protocol, result, errno) = &key;
        match self.attempts.get_mut(&key) {
            Some(tgids) => {
                if tgids.insert(tgid) {
                    self.stream.network(tgid, dst, protocol, result, *errno);
                }
            }
            None => {
                self.stream.network(tgid, dst, protocol, result, *errno);
                self.attempts.insert(key, BTreeSet::from([tgid]));
            }
        }
    }

    fn on_net(&mut self, e: &Event<'_>) {
        let raw = e.strings[0];
        let dst = net::render_sockaddr(raw);
        let protocol = net::protocol_name(e.sock, raw);
        if e.extra != 0 {
            // A TCP connect in progress: its outcome arrives as EV_NET_DONE (or already did).
            if let Some(ret) = self.tcp_early.remove(&(e.extra, e.tgid)) {
                self.tcp_outcome(e.tgid, dst, protocol, ret);
            } else if let Some((tgid, dst, protocol)) =
                self.tcp_pending.insert(e.extra, (e.tgid, dst, protocol))
            {
                // The same kernel socket again: the earlier connect never got an outcome.
                self.attempt(tgid, (dst, protocol, "attempted", None));
            }
            return;
        }
        let is_connect = e.aux == crate::table::CONNECT;
        let (result, errno) = net::result_word(is_connect, e.ret);
        if let Some(errno) = errno {
            self.fail(e.tgid, e.aux, dst.clone(), errno);
        }
        self.attempt(e.tgid, (dst, protocol, result, errno));
    }

    fn tcp_outcome(&mut self, tgid: u32, dst: Vec<u8>, protocol: String, ret: i64) {
        let (result, errno) = net::result_word(true, ret);
        if let Some(errno) = errno {
            self.fail(tgid, crate::table::CONNECT, dst.clone(), errno);
        }
        self.attempt(tgid, (dst, protocol, result, errno));
    }

    fn on_uring_done(&mut self, e: &Event<'_>) {
        let Some(submit) = self.uring_pending.remove(&e.extra) else {
            return;
        };
        let nr = event::URING_NR_BASE + e.aux;
        match interpret::uring_kind(e.aux) {
            UringKind::Network => {
                let dst = net::render_sockaddr(&submit.sockaddr);
                let protocol = net::protocol_name(e.sock, &submit.sockaddr);
                let (result, errno) = net::result_word(e.aux == interpret::URING_OP_CONNECT, e.ret);
                if let Some(errno) = errno {
                    self.fail(e.tgid, nr, dst.clone(), errno);
                }
                self.attempt(e.tgid, (dst, protocol, result, errno));
            }
            // A successful open is reported as EV_OPEN, resolved from the new descriptor; an
            // open into the ring's fixed-file table makes none, so its submitted path stands.
            UringKind::Open if e.ret >= 0 => {
                if let (true, Some(path)) = (submit.direct, submit.path_a) {
                    let path = self.dirs.resolve(path);
                    let (read, write) = interpret::open_access(submit.flags);
                    if read {
                        self.file(e.tgid, path.clone(), FileAction::Read);
                    }
                    if write {
                        self.file(e.tgid, path, FileAction::Write);
                    }
                }
            }
            _ => self.path_result(
                e.tgid,
                nr,
                e.ret,
                submit.path_a,
                submit.path_b,
                submit.flags.into(),
            ),
        }
    }

    /// String `i` as a path, marked like the kernel's d_path when its file is already unlinked.
    fn path(&mut self, e: &Event<'_>, i: usize) -> Vec<u8> {
        let mut p = e.strings[i].to_vec();
        if e.truncated(i) {
            self.truncate(Truncation::new(
                "path",
                e.tgid,
                OsText::from_bytes(p.clone()),
            ));
        }
        if e.unlinked(i) {
            p.extend_from_slice(b" (deleted)");
        }
        p
    }

    /// Raw string `raw` made absolute by base string `base` (the directory it is relative to),
    /// not normalized yet: `..` after a symlink must be resolved on the file system, not in text.
    fn joined(&mut self, e: &Event<'_>, raw: usize, base: usize) -> Option<NamedPath> {
        let name = e.strings[raw];
        if name.is_empty() && e.strings[base].is_empty() {
            return None;
        }
        if e.truncated(raw) {
            self.truncate(Truncation::new(
                "path",
                e.tgid,
                OsText::from_bytes(e.strings[raw].to_vec()),
            ));
        }
        let dir_exact = !e.strings[base].is_empty()
            && !e.truncated(base)
            && !e.truncated(raw)
            && !name.contains(&b'/')
            && !matches!(name, b"" | b"." | b"..");
        let base = self.path(e, base);
        Some(NamedPath {
            text: concat(&base, name),
            dir_exact,
        })
    }

    /// Sorted sets of read, written and deleted paths, moved out (a flood of distinct files
    /// must not be held twice).
    pub fn take_files(&mut self) -> [Vec<OsText>; 3] {
        [&mut self.reads, &mut self.writes, &mut self.deletes].map(|set| {
            std::mem::take(&mut set.entries)
                .into_keys()
                .map(OsText::from_bytes)
                .collect()
        })
    }

    /// Failed operations, sorted by (syscall, target, errno), moved out.
    pub fn take_failed(&mut self) -> Vec<FailedOperation> {
        let mut out: Vec<FailedOperation> = std::mem::take(&mut self.failed.entries)
            .into_iter()
            .map(|((nr, target, errno), count)| {
                let mut f = FailedOperation::new(
                    &crate::names::syscall_name(nr),
                    (!target.is_empty()).then(|| OsText::from_bytes(target)),
                    errno,
                    &crate::names::errno_name(errno),
                );
                f.count = count;
                f
            })
            .collect();
        out.sort();
        out
    }

    /// Descriptors the tree was handed, sorted, moved out.
    pub fn take_descriptors(&mut self) -> Vec<HandedDescriptor> {
        std::mem::take(&mut self.descriptors.entries)
            .into_keys()
            .map(|(path, how, pid, fd, read, write)| {
                HandedDescriptor::new(OsText::from_bytes(path), how, pid, fd, read, write)
            })
            .collect()
    }

    /// Events per list whose distinct entry was not listed because the list was full.
    pub fn omitted(&self) -> Vec<(&'static str, u64)> {
        [
            ("filesystem.reads", self.reads.omitted),
            ("filesystem.writes", self.writes.omitted),
            ("filesystem.deletes", self.deletes.omitted),
            ("filesystem.failed", self.failed.omitted),
            ("filesystem.descriptors", self.descriptors.omitted),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }

    /// Network attempts, sorted, moved out; TCP connects still in progress count as
    /// `attempted` (and are streamed as such now).
    pub fn take_attempts(&mut self) -> Vec<NetworkAttempt> {
        for (_, (tgid, dst, protocol)) in std::mem::take(&mut self.tcp_pending) {
            self.attempt(tgid, (dst, protocol, "attempted", None));
        }
        std::mem::take(&mut self.attempts)
            .into_iter()
            .map(|((dst, protocol, result, errno), tgids)| {
                let count = tgids.len() as u64;
                NetworkAttempt::new(OsText::from_bytes(dst), &protocol, result, errno, count)
            })
            .collect()
    }

    /// Everything that was cut short.
    pub fn truncations(&self) -> Vec<Truncation> {
        self.truncated.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests;

//! Passes the command's stdout/stderr through unchanged while hashing them (SHA-256, or BLAKE3
//! with `--output-hash blake3`).
//!
//! The bytes move in the kernel: `tee(2)` duplicates what waits in the command's pipe into a
//! second pipe, then `splice(2)` moves it on to glasshouse's own stdout/stderr, and a hashing
//! thread reads the duplicate. Where the destination takes no splice (a terminal, an append-only
//! file) the chunk is read and written instead, and where `tee(2)` fails (a source that is not a
//! pipe, a kernel short of memory) the rest of the stream is. When the destination fails (its
//! reader went away), glasshouse stops reading and closes the command's pipe, so the command
//! gets SIGPIPE or EPIPE on its next write, as it would without glasshouse.

use glasshouse_receipt::{OutputHash, OutputHasher};
use rustix::io::Errno;
use rustix::pipe::SpliceFlags;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// tee(2) from the first pipe into the second, at most [`CHUNK`] bytes.
type TeeFn = fn(BorrowedFd<'_>, BorrowedFd<'_>) -> Result<usize, Errno>;

/// Bytes moved per step, and the capacity asked for the pipes on both sides and the hashing one.
const CHUNK: usize = 1 << 20;

struct TeeState {
    hasher: OutputHasher,
    bytes: u64,
}

/// A stream being copied and hashed on its own threads.
pub struct Tee {
    state: Arc<Mutex<TeeState>>,
    done: mpsc::Receiver<()>,
}

/// What passed through a stream.
#[derive(Debug, Clone)]
pub struct TeeResult {
    /// The digest in the receipt's form: SHA-256 as bare lowercase hex, BLAKE3 as `blake3:<hex>`.
    pub hash: String,
    /// Bytes the command wrote.
    pub bytes: u64,
    /// False when the stream was still open at the deadline (a process outside the tree holds it).
    pub complete: bool,
}

impl Tee {
    /// Copies `from` (the command's pipe) into `to` until end of file, hashing everything.
    pub fn start<R, W>(from: R, to: W, algorithm: OutputHash) -> Self
    where
        R: AsFd + Send + 'static,
        W: AsFd + Send + 'static,
    {
        Self::start_with(from, to, algorithm, |from, hash_w| {
            rustix::pipe::tee(from, hash_w, CHUNK, SpliceFlags::empty())
        })
    }

    /// [`Tee::start`] with `tee` for tee(2) (tests make it fail part-way).
    fn start_with<R, W>(from: R, to: W, algorithm: OutputHash, tee: TeeFn) -> Self
    where
        R: AsFd + Send + 'static,
        W: AsFd + Send + 'static,
    {
        Self::spawn(algorithm, move |shared| {
            // Larger pipes mean fewer steps and fewer wake-ups of the reader; the destination's
            // too when it is a pipe (as `pv` does).
            grow_pipe(&from);
            grow_pipe(&to);
            match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
                Ok((hash_r, hash_w)) => {
                    grow_pipe(&hash_w);
                    let hashing = {
                        let shared = Arc::clone(shared);
                        std::thread::spawn(move || hash_all(&hash_r, &shared))
                    };
                    let copy_the_rest = pass_spliced(&from, &to, hash_w, tee);
                    // The hash has every teed byte before the copy adds more.
                    let _ = hashing.join();
                    if copy_the_rest {
                        pass_copied(from, &to, shared);
                    }
                }
                Err(_) => pass_copied(from, &to, shared),
            }
        })
    }

    /// Runs `pass` on a thread of its own with the state it fills; `done` says when it ended.
    fn spawn(
        algorithm: OutputHash,
        pass: impl FnOnce(&Arc<Mutex<TeeState>>) + Send + 'static,
    ) -> Self {
        let state = Arc::new(Mutex::new(TeeState {
            hasher: OutputHasher::new(algorithm),
            bytes: 0,
        }));
        let (tx, done) = mpsc::channel();
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            pass(&shared);
            let _ = tx.send(());
        });
        Self { state, done }
    }

    /// Copies `from` (a pty's master: no splice, and EIO once the last slave closed) into `to`
    /// with read and write, hashing everything.
    pub fn start_copied<R, W>(from: R, to: W, algorithm: OutputHash) -> Self
    where
        R: AsFd + Send + 'static,
        W: AsFd + Send + 'static,
    {
        Self::spawn(algorithm, move |shared| pass_copied(from, &to, shared))
    }

    /// Waits up to `deadline` for end of file and returns the hash of what passed so far.
    pub fn finish(self, deadline: Duration) -> TeeResult {
        let complete = self.done.recv_timeout(deadline).is_ok();
        let (hasher, bytes) = match self.state.lock() {
            Ok(s) => (s.hasher.clone(), s.bytes),
            Err(poisoned) => {
                let s = poisoned.into_inner();
                (s.hasher.clone(), s.bytes)
            }
        };
        TeeResult {
            hash: hasher.finish(),
            bytes,
            complete,
        }
    }
}

/// tee into `hash_w`, then splice (or copy) the same bytes on to `to`. Returns false at end of
/// file or when `to` fails; true when `tee(2)` itself failed (`from` is not a pipe, or the kernel
/// is short of memory), with nothing of `from` consumed that was not passed on: the caller
/// copies the rest. `hash_w` is closed on return, which ends the hashing thread; the caller
/// closing `from` after a failed `to` gives the command its SIGPIPE.
fn pass_spliced(from: &impl AsFd, to: &impl AsFd, hash_w: OwnedFd, tee: TeeFn) -> bool {
    let mut splice_ok = true;
    let mut buf = Vec::new();
    loop {
        let n = match tee(from.as_fd(), hash_w.as_fd()) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(_) => return true,
        };
        let mut left = n;
        while left > 0 && splice_ok {
            match rustix::pipe::splice(from, None, to, None, left, SpliceFlags::MORE) {
                Ok(0) => return false,
                Ok(m) => left -= m,
                Err(Errno::INTR) => {}
                // The destination takes no splice: copy from here on.
                Err(Errno::INVAL) => splice_ok = false,
                Err(_) => return false,
            }
        }
        if left > 0 {
            buf.resize(left, 0);
            if read_exact(from, &mut buf).is_err() || write_all(to, &buf).is_err() {
                return false;
            }
        }
    }
}

/// Without a second pipe: read, write and hash in turn.
fn pass_copied(from: impl AsFd, to: &impl AsFd, state: &Mutex<TeeState>) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match rustix::io::read(&from, &mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(_) => return,
        };
        add(state, &buf[..n]);
        if write_all(to, &buf[..n]).is_err() {
            return;
        }
    }
}

/// Hashes everything that arrives on `hash_r` until end of file.
fn hash_all(hash_r: &OwnedFd, state: &Mutex<TeeState>) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match rustix::io::read(hash_r, &mut buf) {
            Ok(0) => return,
            Ok(n) => add(state, &buf[..n]),
            Err(Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

fn add(state: &Mutex<TeeState>, bytes: &[u8]) {
    let mut s = match state.lock() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    s.hasher.update(bytes);
    s.bytes += bytes.len() as u64;
}

/// Raises a pipe's capacity to [`CHUNK`], never lowering it. Not a pipe, or a refusal (a user's
/// pipe-size limit): nothing changes, which only costs speed.
fn grow_pipe(fd: &impl AsFd) {
    if rustix::pipe::fcntl_getpipe_size(fd).is_ok_and(|size| size < CHUNK) {
        let _ = rustix::pipe::fcntl_setpipe_size(fd, CHUNK);
    }
}

fn read_exact(from: &impl AsFd, mut buf: &mut [u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        match rustix::io::read(from, &mut *buf) {
            Ok(0) => return Err(Errno::PIPE),
            Ok(n) => buf = &mut buf[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub(crate) fn write_all(to: &impl AsFd, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        match rustix::io::write(to, buf) {
            Ok(0) => return Err(Errno::PIPE),
            Ok(n) => buf = &buf[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The digest of nothing: the hash recorded for a stream that was not captured.
pub fn empty_hash(algorithm: OutputHash) -> String {
    OutputHasher::new(algorithm).finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// Everything `from` holds reaches `to` and the hash, read back from a temporary file.
    fn pass_through(from: std::fs::File, algorithm: OutputHash) -> (TeeResult, Vec<u8>) {
        let mut to = tempfile::tempfile().unwrap();
        let result =
            Tee::start(from, to.try_clone().unwrap(), algorithm).finish(Duration::from_secs(30));
        let mut out = Vec::new();
        std::io::Seek::rewind(&mut to).unwrap();
        std::io::Read::read_to_end(&mut to, &mut out).unwrap();
        (result, out)
    }

    #[test]
    fn a_source_that_takes_no_tee_is_copied_whole() {
        // tee(2) refuses a regular file: nothing is lost, the stream is copied instead.
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        for algorithm in [OutputHash::Sha256, OutputHash::Blake3] {
            let mut from = tempfile::tempfile().unwrap();
            from.write_all(&data).unwrap();
            std::io::Seek::rewind(&mut from).unwrap();
            let (result, out) = pass_through(from, algorithm);
            assert_eq!(out, data, "{algorithm:?}");
            assert_eq!(result.bytes, data.len() as u64);
            let mut expected = OutputHasher::new(algorithm);
            expected.update(&data);
            assert_eq!(result.hash, expected.finish());
            assert!(result.complete);
        }
    }

    /// tee(2) that works twice, then fails as a kernel short of memory would.
    fn tee_failing_after_two(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<usize, Errno> {
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        if CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2 {
            return Err(Errno::NOMEM);
        }
        rustix::pipe::tee(from, to, CHUNK, SpliceFlags::empty())
    }

    #[test]
    fn a_tee_that_fails_part_way_loses_and_reorders_nothing() {
        // Bytes teed (and hashed on the hashing thread) come before the bytes copied after.
        let data: Vec<u8> = (0..5 * CHUNK + 3).map(|i| (i * 7 % 253) as u8).collect();
        let (from, mut writer) = std::io::pipe().unwrap();
        let expected = data.clone();
        let feeding = std::thread::spawn(move || writer.write_all(&expected).unwrap());
        let mut to = tempfile::tempfile().unwrap();
        let tee = Tee::start_with(
            from,
            to.try_clone().unwrap(),
            OutputHash::Blake3,
            tee_failing_after_two,
        );
        let result = tee.finish(Duration::from_secs(30));
        feeding.join().unwrap();
        let mut out = Vec::new();
        std::io::Seek::rewind(&mut to).unwrap();
        std::io::Read::read_to_end(&mut to, &mut out).unwrap();
        assert!(
            out == data,
            "the destination got {} of {} bytes, or in another order",
            out.len(),
            data.len()
        );
        let mut digest = OutputHasher::new(OutputHash::Blake3);
        digest.update(&data);
        assert_eq!(result.hash, digest.finish());
        assert_eq!(result.bytes, data.len() as u64);
    }
}

//! Passes the command's stdout/stderr through unchanged while hashing them with SHA-256.

use sha2::{Digest as _, Sha256};
use std::io::{Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct TeeState {
    hasher: Sha256,
    bytes: u64,
}

/// A stream being copied and hashed on its own thread.
pub struct Tee {
    state: Arc<Mutex<TeeState>>,
    done: mpsc::Receiver<()>,
}

/// What passed through a stream.
#[derive(Debug, Clone)]
pub struct TeeResult {
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Bytes copied.
    pub bytes: u64,
    /// False when the stream was still open at the deadline (a process outside the tree holds it).
    pub complete: bool,
}

impl Tee {
    /// Copies `from` into `to` until end of file. Output errors (a closed terminal, a broken
    /// pipe) stop the copying but not the hashing: the command's output is hashed in full.
    pub fn start<R, W>(mut from: R, mut to: W) -> Self
    where
        R: Read + Send + 'static,
        W: Write + Send + 'static,
    {
        let state = Arc::new(Mutex::new(TeeState::default()));
        let (tx, done) = mpsc::channel();
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut output_ok = true;
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                if output_ok {
                    output_ok = to.write_all(&buf[..n]).and_then(|()| to.flush()).is_ok();
                }
                if let Ok(mut s) = shared.lock() {
                    s.hasher.update(&buf[..n]);
                    s.bytes += n as u64;
                }
            }
            let _ = tx.send(());
        });
        Self { state, done }
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
            sha256: hex(&hasher.finalize()),
            bytes,
            complete,
        }
    }
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of nothing: the hash recorded for a stream that was not captured.
pub fn empty_sha256() -> String {
    hex(&Sha256::digest([]))
}

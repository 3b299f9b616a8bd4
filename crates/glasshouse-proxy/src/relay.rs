//! Copies bytes both ways between two sockets until both sides are done, counting each way.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A connected stream socket that can be split into two directions.
pub trait Duplex: Read + Write + Send + Sized + 'static {
    /// A second handle on the same socket.
    fn duplicate(&self) -> std::io::Result<Self>;
    /// Ends one direction (or both).
    fn shut(&self, how: Shutdown);
}

impl Duplex for TcpStream {
    fn duplicate(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
    fn shut(&self, how: Shutdown) {
        let _ = self.shutdown(how);
    }
}

impl Duplex for UnixStream {
    fn duplicate(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
    fn shut(&self, how: Shutdown) {
        let _ = self.shutdown(how);
    }
}

/// Running byte counts of one relayed connection, readable while it runs.
#[derive(Debug, Default)]
pub struct Counters {
    /// From the command towards the destination.
    pub sent: AtomicU64,
    /// From the destination towards the command.
    pub received: AtomicU64,
}

/// Relays until both directions reached end of file (or failed). Each direction's end is passed
/// on as a half close, so request/response protocols that close one side keep working.
pub fn relay<A: Duplex, B: Duplex>(client: A, upstream: B, counters: &Arc<Counters>) {
    let (Ok(client_reader), Ok(upstream_writer)) = (client.duplicate(), upstream.duplicate())
    else {
        client.shut(Shutdown::Both);
        upstream.shut(Shutdown::Both);
        return;
    };
    let up_counters = Arc::clone(counters);
    let upward = std::thread::spawn(move || {
        copy_counting(client_reader, upstream_writer, &up_counters.sent);
    });
    copy_counting(upstream, client, &counters.received);
    let _ = upward.join();
}

fn copy_counting<R: Duplex, W: Duplex>(mut from: R, mut to: W, count: &AtomicU64) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    // The receiving side is gone: stop reading too, so the sender sees it.
                    from.shut(Shutdown::Read);
                    break;
                }
                count.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    to.shut(Shutdown::Write);
}

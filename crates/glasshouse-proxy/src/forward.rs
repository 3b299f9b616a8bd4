//! The loopback forwarder: a TCP listener (created by the caller inside the sandbox's network
//! namespace) whose connections are passed to the proxy's unix socket, for programs that can
//! reach a proxy only at `host:port`.

use crate::relay::{self, Duplex as _};
use std::net::{Shutdown, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A running forwarder.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<UnixStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl Forwarder {
    /// Forwards every connection accepted on `listener` to the unix socket `proxy`.
    pub fn start(listener: TcpListener, proxy: PathBuf) -> std::io::Result<Self> {
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (loop_stop, loop_open) = (Arc::clone(&stop), Arc::clone(&open));
        let thread = std::thread::Builder::new()
            .name("glasshouse-forwarder".into())
            .spawn(move || accept_loop(&listener, &proxy, &loop_stop, &loop_open))?;
        Ok(Self {
            stop,
            open,
            thread: Some(thread),
        })
    }

    /// Stops accepting and closes forwarded connections still open.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for s in crate::lock(&self.open).drain(..) {
            s.shut(Shutdown::Both);
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.halt();
    }
}

fn accept_loop(
    listener: &TcpListener,
    proxy: &std::path::Path,
    stop: &AtomicBool,
    open: &Arc<Mutex<Vec<UnixStream>>>,
) {
    use std::os::fd::AsFd as _;
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let Ok(upstream) = UnixStream::connect(proxy) else {
                    continue;
                };
                if let Ok(u) = upstream.try_clone() {
                    crate::lock(open).push(u);
                }
                let _ = std::thread::Builder::new()
                    .name("glasshouse-forwarder-conn".into())
                    .spawn(move || relay::relay(client, upstream, &Arc::default()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                crate::wait_readable(listener.as_fd());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

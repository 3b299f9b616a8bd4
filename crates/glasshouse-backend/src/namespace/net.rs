//! The sandbox's network: a loopback of its own (brought up by the sandbox's first process),
//! and for proxy mode the forwarder's listener, created by glasshouse inside that namespace.

use std::net::TcpListener;
use std::os::fd::{AsFd as _, BorrowedFd};

/// The port of the proxy forwarder on the sandbox's loopback.
pub(crate) const PROXY_PORT: u16 = 3128;

/// Brings up `lo` in the calling process's network namespace. Raw system calls only (it runs
/// between clone and exec).
pub(crate) fn loopback_up() -> Result<(), i32> {
    // SAFETY: socket/ioctl/close on a descriptor this function owns; `ifr` is a zeroed ifreq
    // with its name set, the layout SIOCGIFFLAGS and SIOCSIFFLAGS expect.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(super::mounts::errno());
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let mut rc = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr);
        if rc == 0 {
            ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            rc = libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr);
        }
        let err = super::mounts::errno();
        libc::close(fd);
        if rc < 0 {
            return Err(err);
        }
    }
    Ok(())
}

/// A TCP listener on 127.0.0.1:[`PROXY_PORT`] in the network namespace of the process `pidfd`
/// names. A socket stays in the namespace it was created in, so a short-lived thread enters
/// the namespace, creates it and ends; glasshouse's own threads keep the host's network.
pub(crate) fn listener_in(pidfd: BorrowedFd<'_>) -> std::io::Result<TcpListener> {
    let fd = pidfd.try_clone_to_owned()?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                rustix::thread::move_into_thread_name_spaces(
                    fd.as_fd(),
                    rustix::thread::ThreadNameSpaceType::NETWORK,
                )?;
                TcpListener::bind(("127.0.0.1", PROXY_PORT))
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the namespace thread panicked")))
    })
}

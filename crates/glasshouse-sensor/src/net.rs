//! Rendering of socket addresses and socket identities as the receipt shows them.

use std::net::{Ipv4Addr, Ipv6Addr};

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// `ip:port`, `[v6]:port`, a unix path, `@name` for an abstract unix socket, or `family N`.
pub fn render_sockaddr(raw: &[u8]) -> Vec<u8> {
    if raw.len() < 2 {
        return b"(no address)".to_vec();
    }
    let family = u16::from_ne_bytes([raw[0], raw[1]]);
    let port = || {
        raw.get(2..4)
            .map_or(0, |p| u16::from_be_bytes([p[0], p[1]]))
    };
    match family {
        AF_INET if raw.len() >= 8 => {
            let ip = Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
            format!("{ip}:{}", port()).into_bytes()
        }
        AF_INET6 if raw.len() >= 24 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&raw[8..24]);
            format!("[{}]:{}", Ipv6Addr::from(octets), port()).into_bytes()
        }
        AF_UNIX => {
            let path = &raw[2..];
            match path.first() {
                None => b"(unnamed unix socket)".to_vec(),
                // Abstract names are the bytes after the leading NUL, up to the given length.
                Some(0) => {
                    let mut name = b"@".to_vec();
                    name.extend_from_slice(&path[1..]);
                    name
                }
                Some(_) => path.split(|b| *b == 0).next().unwrap_or_default().to_vec(),
            }
        }
        other => format!("family {other}").into_bytes(),
    }
}

/// The protocol name of a socket identity (family << 16 | type << 8 | protocol), falling back
/// to the address family of the destination when the socket could not be identified.
pub fn protocol_name(sock: u32, raw_addr: &[u8]) -> String {
    let family = if sock != 0 {
        (sock >> 16) as u16
    } else if raw_addr.len() >= 2 {
        u16::from_ne_bytes([raw_addr[0], raw_addr[1]])
    } else {
        0
    };
    let sock_type = (sock >> 8) & 0xff;
    let protocol = sock & 0xff;
    match (family, sock_type, protocol) {
        (AF_UNIX, _, _) => "unix".into(),
        (AF_INET | AF_INET6, 1, _) | (AF_INET | AF_INET6, _, 6) => "tcp".into(),
        (AF_INET | AF_INET6, 2, 17) | (AF_INET | AF_INET6, _, 17) => "udp".into(),
        (AF_INET | AF_INET6, _, 1 | 58) => "icmp".into(),
        (AF_INET | AF_INET6, 3, _) => "raw".into(),
        (_, 0, _) => "unknown".into(),
        (f, t, p) => format!("family{f}-type{t}-proto{p}"),
    }
}

/// The result word of a connect (`is_connect`) or a send with an address.
pub fn result_word(is_connect: bool, ret: i64) -> (&'static str, Option<i32>) {
    match ret {
        // GH_NET_UNDECIDED: closed while in progress, no outcome.
        r if r > 0 && is_connect => ("attempted", None),
        r if r >= 0 && is_connect => ("connected", None),
        r if r >= 0 => ("sent", None),
        -111 => ("refused", Some(111)),
        r => ("failed", Some((-r) as i32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet(port: u16, ip: [u8; 4]) -> Vec<u8> {
        let mut v = AF_INET.to_ne_bytes().to_vec();
        v.extend_from_slice(&port.to_be_bytes());
        v.extend_from_slice(&ip);
        v.extend_from_slice(&[0; 8]);
        v
    }

    #[test]
    fn renders_addresses() {
        assert_eq!(
            render_sockaddr(&inet(443, [127, 0, 0, 1])),
            b"127.0.0.1:443"
        );
        let mut v6 = AF_INET6.to_ne_bytes().to_vec();
        v6.extend_from_slice(&8080u16.to_be_bytes());
        v6.extend_from_slice(&[0; 4]);
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0; 4]);
        assert_eq!(render_sockaddr(&v6), b"[::1]:8080");
        let mut unix = AF_UNIX.to_ne_bytes().to_vec();
        unix.extend_from_slice(b"/run/x.sock\0\0\0");
        assert_eq!(render_sockaddr(&unix), b"/run/x.sock");
        let mut abs = AF_UNIX.to_ne_bytes().to_vec();
        abs.extend_from_slice(b"\0name");
        assert_eq!(render_sockaddr(&abs), b"@name");
    }

    #[test]
    fn names_protocols_and_results() {
        assert_eq!(protocol_name((2 << 16) | (1 << 8) | 6, &[]), "tcp");
        assert_eq!(protocol_name((10 << 16) | (2 << 8) | 17, &[]), "udp");
        assert_eq!(protocol_name(1 << 16 | 1 << 8, &[]), "unix");
        assert_eq!(result_word(true, -115).0, "failed");
        assert_eq!(result_word(true, -111), ("refused", Some(111)));
        assert_eq!(result_word(false, 5), ("sent", None));
    }
}

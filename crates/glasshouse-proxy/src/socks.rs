//! The SOCKS5 side (RFC 1928): no authentication, CONNECT only, IPv4, IPv6 or a domain name
//! (which the proxy resolves, so `socks5h://` clients need no DNS in the sandbox).

use crate::{Entry, Refusal, Shared};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

/// The protocol version byte every SOCKS5 message starts with.
pub(crate) const VERSION: u8 = 5;

const NO_AUTH: u8 = 0;
const NO_ACCEPTABLE_METHOD: u8 = 0xff;
const CMD_CONNECT: u8 = 1;
const ATYP_V4: u8 = 1;
const ATYP_NAME: u8 = 3;
const ATYP_V6: u8 = 4;

const SUCCEEDED: u8 = 0;
const GENERAL_FAILURE: u8 = 1;
const NOT_ALLOWED: u8 = 2;
const HOST_UNREACHABLE: u8 = 4;
const REFUSED: u8 = 5;
const TTL_EXPIRED: u8 = 6;
const COMMAND_NOT_SUPPORTED: u8 = 7;
const ADDRESS_TYPE_NOT_SUPPORTED: u8 = 8;

/// Runs the SOCKS5 negotiation after the version byte was read.
pub(crate) fn handshake(
    client: &mut UnixStream,
    shared: &Shared,
) -> Option<(Arc<Entry>, TcpStream)> {
    let mut count = [0u8; 1];
    client.read_exact(&mut count).ok()?;
    let mut methods = vec![0u8; usize::from(count[0])];
    client.read_exact(&mut methods).ok()?;
    if !methods.contains(&NO_AUTH) {
        let _ = client.write_all(&[VERSION, NO_ACCEPTABLE_METHOD]);
        shared.bad_request(
            "socks5",
            "the client offered no method without authentication",
        );
        return None;
    }
    client.write_all(&[VERSION, NO_AUTH]).ok()?;

    let mut request = [0u8; 4];
    client.read_exact(&mut request).ok()?;
    let [version, command, _, address_type] = request;
    if version != VERSION {
        shared.bad_request("socks5", "the request is not SOCKS version 5");
        return None;
    }
    let host = match address_type {
        ATYP_V4 => {
            let mut a = [0u8; 4];
            client.read_exact(&mut a).ok()?;
            Ipv4Addr::from(a).to_string()
        }
        ATYP_V6 => {
            let mut a = [0u8; 16];
            client.read_exact(&mut a).ok()?;
            Ipv6Addr::from(a).to_string()
        }
        ATYP_NAME => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len).ok()?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name).ok()?;
            match String::from_utf8(name) {
                Ok(n) if !n.is_empty() => n,
                _ => {
                    answer(client, ADDRESS_TYPE_NOT_SUPPORTED);
                    shared.bad_request("socks5", "the host name is empty or not UTF-8");
                    return None;
                }
            }
        }
        _ => {
            answer(client, ADDRESS_TYPE_NOT_SUPPORTED);
            shared.bad_request("socks5", "unknown address type");
            return None;
        }
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).ok()?;
    let port = u16::from_be_bytes(port);
    if command != CMD_CONNECT {
        answer(client, COMMAND_NOT_SUPPORTED);
        shared.bad_request(
            "socks5",
            "only CONNECT is supported (no BIND, no UDP ASSOCIATE)",
        );
        return None;
    }
    let (entry, result) = shared.open("socks5", &host, port);
    match result {
        Ok(upstream) => {
            answer(client, SUCCEEDED);
            Some((entry, upstream))
        }
        Err(Refusal::Denied(_)) => {
            answer(client, NOT_ALLOWED);
            None
        }
        Err(Refusal::Failed(e)) => {
            answer(
                client,
                match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => REFUSED,
                    std::io::ErrorKind::TimedOut => TTL_EXPIRED,
                    std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable => HOST_UNREACHABLE,
                    _ => GENERAL_FAILURE,
                },
            );
            None
        }
    }
}

/// A reply with an all-zero bound address: clients of CONNECT do not use it.
fn answer(client: &mut UnixStream, status: u8) {
    let _ = client.write_all(&[VERSION, status, 0, ATYP_V4, 0, 0, 0, 0, 0, 0]);
}

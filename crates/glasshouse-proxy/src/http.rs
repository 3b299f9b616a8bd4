//! The HTTP side: `CONNECT host:port` tunnels and plain requests with an absolute `http://` URL.

use crate::{Entry, Refusal, Shared};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Longest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Reads the request head, decides, connects, answers the client; returns the connection to
/// relay, or `None` when the request ends here.
pub(crate) fn handshake(
    client: &mut UnixStream,
    first: u8,
    shared: &Shared,
) -> Option<(Arc<Entry>, TcpStream)> {
    let Some((head, rest)) = read_head(client, first) else {
        shared.bad_request(
            "http",
            "the request head was incomplete or longer than 64 KiB",
        );
        reply(
            client,
            "400 Bad Request",
            "incomplete or oversized request head",
        );
        return None;
    };
    let Some((method, target, version, headers)) = split_request_line(&head) else {
        shared.bad_request("http", "the request line is not METHOD TARGET VERSION");
        reply(client, "400 Bad Request", "malformed request line");
        return None;
    };
    if method.eq_ignore_ascii_case("CONNECT") {
        let Some((host, port)) = split_authority(target, None) else {
            shared.bad_request("connect", "CONNECT needs host:port");
            reply(client, "400 Bad Request", "CONNECT needs host:port");
            return None;
        };
        let (entry, result) = shared.open("connect", &host, port);
        let upstream = answer_refusal(client, &host, port, result)?;
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .ok()?;
        if !rest.is_empty() {
            (&upstream).write_all(&rest).ok()?;
            entry
                .counters
                .sent
                .fetch_add(rest.len() as u64, Ordering::Relaxed);
        }
        return Some((entry, upstream));
    }
    let Some(after_scheme) = target.strip_prefix("http://") else {
        let why = "a plain request needs an absolute http:// URL (use CONNECT for https)";
        shared.bad_request("http", why);
        reply(client, "400 Bad Request", why);
        return None;
    };
    let (authority, path) = match after_scheme.find('/') {
        Some(i) => after_scheme.split_at(i),
        None => (after_scheme, "/"),
    };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let Some((host, port)) = split_authority(authority, Some(80)) else {
        shared.bad_request("http", "the URL's host:port is not valid");
        reply(client, "400 Bad Request", "bad host in URL");
        return None;
    };
    let (entry, result) = shared.open("http", &host, port);
    let upstream = answer_refusal(client, &host, port, result)?;
    // One request per connection: the destination is told to close, so a later request on the
    // same client connection cannot reach another host through this tunnel.
    let mut forwarded = format!("{method} {path} {version}\r\n").into_bytes();
    for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or("").trim();
        if [
            "proxy-connection",
            "proxy-authorization",
            "connection",
            "keep-alive",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
        {
            continue;
        }
        forwarded.extend_from_slice(line.as_bytes());
        forwarded.extend_from_slice(b"\r\n");
    }
    forwarded.extend_from_slice(b"Connection: close\r\n\r\n");
    forwarded.extend_from_slice(&rest);
    (&upstream).write_all(&forwarded).ok()?;
    entry
        .counters
        .sent
        .fetch_add(forwarded.len() as u64, Ordering::Relaxed);
    Some((entry, upstream))
}

/// Sends the client the answer for a refused request; passes an established one through.
fn answer_refusal(
    client: &mut UnixStream,
    host: &str,
    port: u16,
    result: Result<TcpStream, Refusal>,
) -> Option<TcpStream> {
    match result {
        Ok(upstream) => Some(upstream),
        Err(Refusal::Denied(reason)) => {
            reply(
                client,
                "403 Forbidden",
                &format!("glasshouse proxy: {host}:{port} is not allowed: {reason}"),
            );
            None
        }
        Err(Refusal::Failed(e)) => {
            let status = if e.kind() == std::io::ErrorKind::TimedOut {
                "504 Gateway Timeout"
            } else {
                "502 Bad Gateway"
            };
            reply(
                client,
                status,
                &format!("glasshouse proxy: cannot connect to {host}:{port}: {e}"),
            );
            None
        }
    }
}

fn reply(client: &mut UnixStream, status: &str, body: &str) {
    let message = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}\n",
        body.len() + 1
    );
    let _ = client.write_all(message.as_bytes());
}

/// The head (request line and headers, without the blank line) as text, and what followed it.
fn read_head(client: &mut UnixStream, first: u8) -> Option<(String, Vec<u8>)> {
    let mut buf = vec![first];
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            buf.truncate(end);
            return String::from_utf8(buf).ok().map(|h| (h, rest));
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `METHOD TARGET VERSION` and the header lines after it.
fn split_request_line(head: &str) -> Option<(&str, &str, &str, &str)> {
    let (line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || method.is_empty() || !version.starts_with("HTTP/") {
        return None;
    }
    Some((method, target, version, headers))
}

/// `host:port`, `[v6]:port`, or a host alone when `default_port` is given.
fn split_authority(authority: &str, default_port: Option<u16>) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
        None => default_port?,
    };
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return None;
    }
    Some((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_are_split() {
        assert_eq!(split_authority("a.b:443", None), Some(("a.b".into(), 443)));
        assert_eq!(
            split_authority("[::1]:8080", None),
            Some(("::1".into(), 8080))
        );
        assert_eq!(split_authority("a.b", Some(80)), Some(("a.b".into(), 80)));
        assert_eq!(split_authority("a.b", None), None);
        assert_eq!(split_authority("a.b:0", None), None);
        assert_eq!(split_authority(":80", None), None);
    }

    #[test]
    fn request_lines_are_split() {
        let (m, t, v, h) = split_request_line("GET http://x/ HTTP/1.1\r\nHost: x").unwrap();
        assert_eq!((m, t, v, h), ("GET", "http://x/", "HTTP/1.1", "Host: x"));
        assert!(split_request_line("GET http://x/").is_none());
        assert!(split_request_line("GET  http://x/ HTTP/1.1").is_none());
    }
}

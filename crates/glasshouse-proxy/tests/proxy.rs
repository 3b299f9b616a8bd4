//! The proxy against servers on this machine's loopback only: what it lets through, what it
//! refuses, and what it records.

use glasshouse_proxy::{Allowlist, Proxy, ProxyConfig};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener};
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

struct Setup {
    _dir: tempfile::TempDir,
    proxy: Proxy,
}

fn proxy(patterns: &[&str], allow_internal: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProxyConfig::new(Allowlist::parse(patterns).unwrap());
    config.allow_internal = allow_internal;
    let proxy = Proxy::start(&dir.path().join("proxy.sock"), config).unwrap();
    Setup { _dir: dir, proxy }
}

fn client(setup: &Setup) -> UnixStream {
    UnixStream::connect(setup.proxy.socket_path()).unwrap()
}

/// A loopback server that echoes one connection back and counts the connections it took.
fn echo_server() -> (u16, JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => s.write_all(&buf[..n]).unwrap(),
            }
        }
        1
    });
    (port, handle)
}

/// A loopback HTTP server answering one request; returns the request head it received.
fn http_server(body: &'static str) -> (u16, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let mut s = s;
        write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        head
    });
    (port, handle)
}

fn read_to_end(mut s: UnixStream) -> String {
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn read_line(s: &mut UnixStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1);
        line.push(byte[0]);
    }
    String::from_utf8(line).unwrap()
}

#[test]
fn connect_tunnel_to_an_allowed_host_carries_and_counts_bytes() {
    let setup = proxy(&["localhost"], true);
    let (port, server) = echo_server();
    let mut c = client(&setup);
    write!(
        c,
        "CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n"
    )
    .unwrap();
    assert_eq!(
        read_line(&mut c),
        "HTTP/1.1 200 Connection established\r\n\r\n"
    );
    c.write_all(b"twelve bytes").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(c), "twelve bytes");
    assert_eq!(server.join().unwrap(), 1);
    let records = setup.proxy.finish();
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(
        (r.protocol.as_str(), r.host.as_str(), r.port),
        ("connect", "localhost", port)
    );
    assert_eq!(r.decision, "allowed");
    assert_eq!(r.rule.as_deref(), Some("localhost"));
    assert!(
        r.address
            .as_deref()
            .is_some_and(|a| a.ends_with(&format!(":{port}"))),
        "{r:?}"
    );
    assert_eq!((r.bytes_sent, r.bytes_received), (12, 12));
    assert_eq!(r.error, None);
}

#[test]
fn plain_http_is_rewritten_to_origin_form_and_closed_after_one_request() {
    let setup = proxy(&["localhost"], true);
    let (port, server) = http_server("hello");
    let mut c = client(&setup);
    write!(
        c,
        "GET http://localhost:{port}/some/path?q=1 HTTP/1.1\r\nHost: localhost:{port}\r\nProxy-Connection: keep-alive\r\n\r\n"
    )
    .unwrap();
    let response = read_to_end(c);
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nhello"), "{response}");
    let head = server.join().unwrap();
    assert!(
        head.starts_with("GET /some/path?q=1 HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("Connection: close\r\n"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("proxy-connection"),
        "{head}"
    );
    let records = setup.proxy.finish();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (r.protocol.as_str(), r.host.as_str(), r.decision.as_str()),
        ("http", "localhost", "allowed")
    );
    assert_eq!(r.bytes_received, response.len() as u64);
    assert!(r.bytes_sent >= head.len() as u64, "{r:?}");
}

#[test]
fn a_host_no_pattern_matches_is_refused_without_being_resolved() {
    let setup = proxy(&["localhost:1"], true);
    let mut c = client(&setup);
    write!(c, "CONNECT blocked.localhost:443 HTTP/1.1\r\n\r\n").unwrap();
    let answer = read_to_end(c);
    assert!(answer.starts_with("HTTP/1.1 403 Forbidden"), "{answer}");
    assert!(
        answer.contains("blocked.localhost:443 is not allowed"),
        "{answer}"
    );
    // The pattern's port matters too.
    let mut c = client(&setup);
    write!(c, "GET http://localhost:2/ HTTP/1.1\r\n\r\n").unwrap();
    assert!(read_to_end(c).starts_with("HTTP/1.1 403"));
    let records = setup.proxy.finish();
    assert_eq!(records.len(), 2);
    for (r, (protocol, host, port)) in records.iter().zip([
        ("connect", "blocked.localhost", 443),
        ("http", "localhost", 2),
    ]) {
        assert_eq!(
            (r.protocol.as_str(), r.host.as_str(), r.port),
            (protocol, host, port)
        );
        assert_eq!(r.decision, "denied");
        assert_eq!(r.rule, None);
        assert!(
            r.reason
                .as_deref()
                .is_some_and(|x| x.contains("no allowed host pattern matches")),
            "{r:?}"
        );
        assert_eq!(
            (r.address.as_deref(), r.bytes_sent, r.bytes_received),
            (None, 0, 0)
        );
    }
}

#[test]
fn an_allowed_name_that_resolves_to_loopback_is_refused_by_default() {
    let setup = proxy(&["localhost"], false);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut c = client(&setup);
    write!(c, "CONNECT localhost:{port} HTTP/1.1\r\n\r\n").unwrap();
    let answer = read_to_end(c);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        listener.accept().is_err(),
        "the proxy must not have connected"
    );
    let records = setup.proxy.finish();
    let r = &records[0];
    assert_eq!(r.decision, "denied");
    assert!(
        r.reason.as_deref().is_some_and(|x| x.contains("loopback")),
        "{r:?}"
    );
}

#[test]
fn an_allowed_destination_that_refuses_is_recorded_with_the_error() {
    let setup = proxy(&["127.0.0.1"], true);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = client(&setup);
    write!(c, "CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n").unwrap();
    assert!(read_to_end(c).starts_with("HTTP/1.1 502 Bad Gateway"));
    let records = setup.proxy.finish();
    let r = &records[0];
    assert_eq!(
        (r.decision.as_str(), r.rule.as_deref()),
        ("allowed", Some("127.0.0.1"))
    );
    assert!(
        r.error.as_deref().is_some_and(|e| e.contains("refused")),
        "{r:?}"
    );
}

fn socks_connect(c: &mut UnixStream, host: &str, port: u16) -> u8 {
    c.write_all(&[5, 1, 0]).unwrap();
    let mut choice = [0u8; 2];
    c.read_exact(&mut choice).unwrap();
    assert_eq!(choice, [5, 0]);
    let mut request = vec![5, 1, 0, 3, host.len() as u8];
    request.extend_from_slice(host.as_bytes());
    request.extend_from_slice(&port.to_be_bytes());
    c.write_all(&request).unwrap();
    let mut reply = [0u8; 10];
    c.read_exact(&mut reply).unwrap();
    assert_eq!(reply[0], 5);
    reply[1]
}

#[test]
fn socks5_with_a_domain_name_is_allowed_or_refused_by_the_same_list() {
    let setup = proxy(&["localhost"], true);
    let (port, server) = echo_server();
    let mut c = client(&setup);
    assert_eq!(socks_connect(&mut c, "localhost", port), 0);
    c.write_all(b"abc").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(c), "abc");
    server.join().unwrap();
    let mut c = client(&setup);
    assert_eq!(
        socks_connect(&mut c, "other.localhost", port),
        2,
        "not allowed by ruleset"
    );
    let records = setup.proxy.finish();
    assert_eq!(records.len(), 2);
    assert_eq!(
        (records[0].protocol.as_str(), records[0].decision.as_str()),
        ("socks5", "allowed")
    );
    assert_eq!((records[0].bytes_sent, records[0].bytes_received), (3, 3));
    assert_eq!(
        (records[1].host.as_str(), records[1].decision.as_str()),
        ("other.localhost", "denied")
    );
}

#[test]
fn malformed_requests_are_answered_and_recorded() {
    let setup = proxy(&["localhost"], true);
    let mut c = client(&setup);
    c.write_all(b"GET /relative HTTP/1.1\r\n\r\n").unwrap();
    assert!(read_to_end(c).starts_with("HTTP/1.1 400"));
    let records = setup.proxy.finish();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].decision, "denied");
    assert!(records[0]
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("absolute http:// URL")));
}

#[test]
fn finishing_closes_open_tunnels_and_keeps_their_counts() {
    let setup = proxy(&["localhost"], true);
    let (port, server) = echo_server();
    let mut c = client(&setup);
    write!(c, "CONNECT localhost:{port} HTTP/1.1\r\n\r\n").unwrap();
    read_line(&mut c);
    c.write_all(b"four").unwrap();
    let mut back = [0u8; 4];
    c.read_exact(&mut back).unwrap();
    let records = setup.proxy.finish();
    assert_eq!((records[0].bytes_sent, records[0].bytes_received), (4, 4));
    // The tunnel is closed: the client sees end of file.
    assert_eq!(c.read(&mut back).unwrap(), 0);
    server.join().unwrap();
}

#[test]
fn the_loopback_forwarder_passes_connections_to_the_proxy() {
    let setup = proxy(&["localhost"], true);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let forwarder_port = listener.local_addr().unwrap().port();
    let forwarder =
        glasshouse_proxy::Forwarder::start(listener, setup.proxy.socket_path().to_owned()).unwrap();
    let (port, server) = http_server("via forwarder");
    let mut c = std::net::TcpStream::connect(("127.0.0.1", forwarder_port)).unwrap();
    write!(c, "GET http://localhost:{port}/ HTTP/1.1\r\n\r\n").unwrap();
    let mut response = String::new();
    c.read_to_string(&mut response).unwrap();
    assert!(response.ends_with("via forwarder"), "{response}");
    server.join().unwrap();
    forwarder.stop();
    let records = setup.proxy.finish();
    assert_eq!(
        (records[0].protocol.as_str(), records[0].decision.as_str()),
        ("http", "allowed")
    );
}

/// A loopback server that holds every connection it takes open until the client closes it.
fn holding_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { break };
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

fn tunnel(setup: &Setup, port: u16) -> UnixStream {
    let mut c = client(setup);
    write!(c, "CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(
        read_line(&mut c),
        "HTTP/1.1 200 Connection established\r\n\r\n"
    );
    c
}

#[test]
fn connections_past_the_limit_are_refused_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProxyConfig::new(Allowlist::parse(&["127.0.0.1"]).unwrap());
    config.allow_internal = true;
    config.max_connections = 2;
    let setup = Setup {
        proxy: Proxy::start(&dir.path().join("proxy.sock"), config).unwrap(),
        _dir: dir,
    };
    let port = holding_server();
    let first = tunnel(&setup, port);
    let _second = tunnel(&setup, port);
    let third = client(&setup);
    let answer = read_to_end(third);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("at most 2 connections at once"), "{answer}");
    // A connection that ends makes room for the next.
    drop(first);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let c = loop {
        // A refused client may find its connection closed before it writes.
        let mut c = client(&setup);
        let mut head = [0u8; 12];
        if write!(c, "CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n").is_ok()
            && c.read_exact(&mut head).is_ok()
            && &head == b"HTTP/1.1 200"
        {
            break c;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no room after a tunnel closed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    c.shutdown(Shutdown::Both).unwrap();
    let records = setup.proxy.finish();
    let refused: Vec<_> = records.iter().filter(|r| r.decision == "denied").collect();
    assert!(!refused.is_empty(), "{records:?}");
    for r in &refused {
        assert_eq!(
            r.reason.as_deref(),
            Some("the proxy serves at most 2 connections at once"),
            "{r:?}"
        );
    }
    let allowed = records.iter().filter(|r| r.decision == "allowed").count();
    assert_eq!(allowed, 3, "{records:?}");
}

#[test]
fn an_address_policy_judges_every_destination_without_host_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let allowed_port = holding_server();
    let other_port = holding_server();
    let mut config = ProxyConfig::new(Allowlist::default());
    config.allow_internal = true;
    config.address_policy = Some(glasshouse_proxy::AddressPolicy::new(std::sync::Arc::new(
        move |a: std::net::SocketAddr| {
            if a.port() == allowed_port {
                Ok("test-server".to_owned())
            } else {
                Err(("default".to_owned(), "not the test server".to_owned()))
            }
        },
    )));
    let setup = Setup {
        proxy: Proxy::start(&dir.path().join("proxy.sock"), config).unwrap(),
        _dir: dir,
    };
    let ok = tunnel(&setup, allowed_port);
    drop(ok);
    let mut c = client(&setup);
    write!(c, "CONNECT 127.0.0.1:{other_port} HTTP/1.1\r\n\r\n").unwrap();
    let answer = read_to_end(c);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let records = setup.proxy.finish();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0].decision, "allowed");
    assert_eq!(records[0].rule.as_deref(), Some("policy:test-server"));
    assert_eq!(records[1].decision, "denied");
    assert_eq!(records[1].rule.as_deref(), Some("policy:default"));
    assert_eq!(
        records[1].address.as_deref(),
        Some(format!("127.0.0.1:{other_port}").as_str())
    );
    assert_eq!(
        records[1].reason.as_deref(),
        Some(
            format!("policy rule default denies 127.0.0.1:{other_port}: not the test server")
                .as_str()
        )
    );
}
